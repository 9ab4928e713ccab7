/*
 * The sweep driver (driver.h): what `attnbench sweep` does between parsing
 * its options and printing its summary, as one library call.
 *
 * The parent is the only writer. The caller's stop flag ends the sweep
 * between cases (the case in flight is killed and not recorded) and marks
 * the run interrupted; kill -9 leaves it "running". Either way a resume
 * finds the newest unfinished run, re-expands its stored spec, restores its
 * measurement protocol and runs only the cases the database does not hold.
 * Every line a user sees goes out through the progress callbacks.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attnbench/calib.h"
#include "attnbench/counters.h"
#include "attnbench/driver.h"
#include "attnbench/query.h"
#include "attnbench/spec.h"
#include "attnbench/status.h"
#include "attnbench/sysinfo.h"
#include "internal.h"
#include "noise.h"

/* Key/value pairs a run records beside sysinfo's, both texts malloc'd. */
struct kv_list {
	int n, cap;
	struct attn_kv *kv;
};

/* One sweep in progress. */
struct drv {
	const struct attn_sweep_spec *spec;
	const struct attn_sweep_options *opt;
	const struct attn_registry *reg;
	struct attn_store *st;
	const struct attn_sweep_progress *pg;
	struct attn_sweep_outcome *out;
	struct attn_sweep_protocol proto;
	int given[ATTN_PROTO_COUNT];
	char *stored[ATTN_PROTO_COUNT]; /* the texts a restored protocol points into */
	char *spec_options;             /* the spec's settings as options */
	char *run_plugins;              /* ",a,b," the resumed run took from plugins */
	struct attn_case_list cases;
	struct attn_sysinfo si;
	struct attn_roof roofs[ATTN_MAX_ROOFS];
	int n_roofs, cpus, n_over, max_threads, has_protocol;
	struct kv_list record;
	/* The shard in force (given, or the resumed run's) and its sweep's id. */
	int shard_index, shard_count;
	char sweep_id[256];
	int resume;         /* resuming a run (opt->resume, or a shard's own run found) */
	int64_t resume_run; /* that run, when known before resume_find; 0: the newest unfinished */
};

static int stopped(const struct drv *d)
{
	return d->opt->stop && *d->opt->stop;
}

static void say(const struct drv *d, enum attn_sweep_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(const struct drv *d, enum attn_sweep_level level, const char *fmt, ...)
{
	if (!d->pg || !d->pg->message)
		return;
	char text[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	d->pg->message(d->pg->ctx, level, text);
}

/* An error after the run was recorded: said now, the sweep then winds down. */
static int fail(const struct drv *d, int status, const char *text)
{
	if (d->pg && d->pg->error)
		d->pg->error(d->pg->ctx, status, text);
	return status;
}

static int kv_add(struct kv_list *l, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int kv_add(struct kv_list *l, const char *key, const char *fmt, ...)
{
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 32;
		struct attn_kv *kv = realloc(l->kv, (size_t)cap * sizeof(*kv));
		if (!kv)
			return -1;
		l->kv = kv;
		l->cap = cap;
	}
	char *k = attn__strdup(key), *v = NULL;
	va_list ap;
	va_start(ap, fmt);
	int w = vasprintf(&v, fmt, ap);
	va_end(ap);
	if (!k || w < 0) {
		free(k);
		return -1;
	}
	l->kv[l->n].key = k;
	l->kv[l->n++].value = v;
	return 0;
}

static void kv_free(struct kv_list *l)
{
	for (int i = 0; i < l->n; i++) {
		free((char *)l->kv[i].key);
		free((char *)l->kv[i].value);
	}
	free(l->kv);
	memset(l, 0, sizeof(*l));
}

/* --- settings ------------------------------------------------------------- */

int attn_sweep_settings(const struct attn_sweep_spec *spec, const struct attn_sweep_options *opt,
                        struct attn_sweep_protocol *out, int given[ATTN_PROTO_COUNT], char *err,
                        size_t errlen)
{
	*out = opt->proto;
	out->options = NULL;
	for (int f = 0; f < ATTN_PROTO_COUNT; f++)
		given[f] = opt->given[f];
	int counters_from_spec = 0;
	for (int f = 0; f < ATTN_SWEEP_SETTINGS; f++) {
		if (!spec->setting[f])
			continue;
		given[f] = 1;
		if (opt->given[f])
			continue;
		int rc =
		    attn_sweep_setting_parse(out, (enum attn_protocol_field)f, spec->setting[f],
		                             attn_sweep_setting_keys[f], err, errlen);
		if (rc)
			return rc;
		counters_from_spec |= f == ATTN_PROTO_COUNTERS;
	}
	given[ATTN_PROTO_SPEC_OPTIONS] = opt->spec_from_file;
	if (out->ro.max_reps < out->ro.min_reps)
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "--max-reps %d is below --min-reps %d", out->ro.max_reps,
		                 out->ro.min_reps);
	/* A malformed counter list is refused before anything runs. */
	if (!(out->ro.counters && strcmp(out->ro.counters, "none") == 0)) {
		struct attn_counters *probe;
		char why[1024];
		if (attn_counters_open(out->ro.counters, &probe, why, sizeof(why)))
			return attn_errf(err, errlen, ATTN_ERR_INVALID, "%s: %s",
			                 counters_from_spec ? "counters" : "--counters", why);
		attn_counters_close(probe);
	}
	return ATTN_OK;
}

/* --- plugins ------------------------------------------------------------- */

/* m's index in the registry, or -1. */
static int index_of(const struct attn_registry *reg, const struct attn_method *m)
{
	for (int i = 0; i < attn_registry_count(reg); i++)
		if (attn_registry_at(reg, i) == m)
			return i;
	return -1;
}

/* The registry's origin of m: "built-in" or the plugin's path. */
static const char *origin_of(const struct attn_registry *reg, const struct attn_method *m)
{
	int i = index_of(reg, m);
	return i >= 0 ? attn_registry_origin(reg, i) : "built-in";
}

/* ",a,b" of the methods of origin the cases use, from registry index i on, into *names. */
static int plugin_methods(const struct attn_registry *reg, const char *used, int i,
                          const char *origin, char **names)
{
	size_t len = 0;
	*names = NULL;
	FILE *m = open_memstream(names, &len);
	if (!m)
		return -1;
	for (int j = i; j < attn_registry_count(reg); j++)
		if (used[j] && strcmp(attn_registry_origin(reg, j), origin) == 0)
			fprintf(m, "%s%s", ftell(m) ? "," : "", attn_registry_at(reg, j)->name);
	return fclose(m) == 0 && *names ? 0 : -1;
}

/*
 * The plugins the cases' methods come from, for the record: per shared
 * object, "plugin:<absolute path>" = "<fingerprint> methods=a,b" (the
 * methods of it the sweep runs).
 */
static int plugins_record(struct drv *d, char *err, size_t errlen)
{
	const struct attn_registry *reg = d->reg;
	int nr = attn_registry_count(reg), rc = ATTN_OK;
	char *used = calloc(nr > 0 ? (size_t)nr : 1, 1);
	if (!used)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	for (int i = 0; i < d->cases.count; i++) {
		int k = index_of(reg, d->cases.items[i].method);
		if (k >= 0)
			used[k] = 1;
	}
	for (int i = 0; rc == ATTN_OK && i < nr; i++) {
		const char *origin = attn_registry_origin(reg, i);
		int first = used[i] && strcmp(origin, "built-in") != 0;
		for (int j = 0; first && j < i; j++)
			first = !(used[j] && strcmp(attn_registry_origin(reg, j), origin) == 0);
		if (!first)
			continue;
		char id[64], abs[PATH_MAX];
		if ((rc = attn_plugin_fingerprint(origin, id, sizeof(id), err, errlen)))
			break;
		char *names = NULL, *key = NULL;
		if (plugin_methods(reg, used, i, origin, &names) ||
		    asprintf(&key, "plugin:%s", realpath(origin, abs) ? abs : origin) < 0)
			key = NULL;
		if (!names || !key || kv_add(&d->record, key, "%s methods=%s", id, names))
			rc = attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
		free(names);
		free(key);
	}
	free(used);
	return rc;
}

/* One method m of a resumed run's plugin record: loaded now from the same file, or refused. */
static int plugin_check_one(struct drv *d, const char *m, const char *path, const char *value,
                            int idlen, char **all, char *err, size_t errlen)
{
	long long run = (long long)d->out->run_id;
	const struct attn_method *now = attn_registry_find(d->reg, m);
	const char *origin = now ? origin_of(d->reg, now) : NULL;
	char id[64] = "", why[1024], *grown = NULL;
	if (!now)
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "--resume: run %lld measured %s from the plugin %s (%.*s), which "
		                 "is not loaded now; pass --plugin %s",
		                 run, m, path, idlen, value, path);
	if (strcmp(origin, "built-in") == 0)
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "--resume: run %lld measured %s from the plugin %s (%.*s), but %s "
		                 "is built in now: other code; start a new sweep",
		                 run, m, path, idlen, value, m);
	if (attn_plugin_fingerprint(origin, id, sizeof(id), why, sizeof(why)))
		return attn_errf(err, errlen, ATTN_ERR_INVALID, "--resume: %s", why);
	if ((int)strlen(id) != idlen || strncmp(id, value, (size_t)idlen))
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "--resume: run %lld measured %s from %s (%.*s), but the %s loaded "
		                 "now is %s (%s): another build of the plugin; load the one the "
		                 "run was measured with, or start a new sweep",
		                 run, m, path, idlen, value, m, origin, id);
	if (asprintf(&grown, "%s%s,", *all, m) < 0)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	char abs[PATH_MAX];
	if (strcmp(realpath(origin, abs) ? abs : origin, path))
		say(d, ATTN_SWEEP_NOTE,
		    "note: %s comes from %s now, %s when the run started; the same file (%s)", m,
		    origin, path, id);
	free(*all);
	*all = grown;
	return ATTN_OK;
}

/*
 * --resume: every method the run took from a plugin must come from the same
 * shared object now: loaded (from any path) with the fingerprint recorded.
 * d->run_plugins receives ",a,b," of those methods, for the check after
 * the expansion.
 */
static int plugins_check(struct drv *d, char *err, size_t errlen)
{
	struct attn_query_sweep_plugin *recs;
	int n, rc;
	char why[1024];
	if ((rc = attn_query_sweep_plugins(d->st, d->out->run_id, &recs, &n, why, sizeof(why))))
		return attn_errf(err, errlen, rc == ATTN_ERR_DB ? ATTN_ERR_DB : ATTN_ERR_NOMEM,
		                 "--resume: reading the run's plugins: %s", why);
	char *all = attn__strdup(",");
	if (!all)
		rc = attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	for (int i = 0; rc == ATTN_OK && i < n; i++) {
		const char *path = recs[i].path, *value = recs[i].value;
		const char *list = value ? strstr(value, " methods=") : NULL;
		if (!path || !list) {
			rc = attn_errf(
			    err, errlen, ATTN_ERR_DB,
			    "--resume: run %lld's record of plugin %s is malformed: '%s'",
			    (long long)d->out->run_id, path ? path : "?", value ? value : "");
			break;
		}
		char *names = attn__strdup(list + 9), *save = NULL;
		if (!names)
			rc = attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
		for (char *m = names ? strtok_r(names, ",", &save) : NULL; m && rc == ATTN_OK;
		     m = strtok_r(NULL, ",", &save))
			rc = plugin_check_one(d, m, path, value, (int)(list - value), &all, err,
			                      errlen);
		free(names);
	}
	attn_query_sweep_plugins_free(recs, n);
	if (rc == ATTN_OK)
		d->run_plugins = all;
	else
		free(all);
	return rc;
}

/*
 * --resume: a case whose method comes from a plugin the run did not take it
 * from would measure code the run never saw, e.g. `all` growing by a plugin
 * loaded only now.
 */
static int plugins_new(const struct drv *d, char *err, size_t errlen)
{
	for (int i = 0; i < d->cases.count; i++) {
		const struct attn_method *m = d->cases.items[i].method;
		const char *origin = origin_of(d->reg, m);
		char needle[80];
		snprintf(needle, sizeof(needle), ",%s,", m->name);
		if (strcmp(origin, "built-in") != 0 && !strstr(d->run_plugins, needle))
			return attn_errf(
			    err, errlen, ATTN_ERR_INVALID,
			    "--resume: %s (from the plugin %s) is not a method run %lld "
			    "measured; resume without that plugin, or start a new sweep",
			    m->name, origin, (long long)d->out->run_id);
	}
	return ATTN_OK;
}

/* --- resume -------------------------------------------------------------- */

/*
 * --resume: the run's shard is in force; one given now must be the same.
 * A run recorded unsharded resumes unsharded.
 */
static int shard_restore(struct drv *d, char *err, size_t errlen)
{
	long long run = (long long)d->out->run_id;
	char *index = NULL, *count = NULL, *id = NULL, why[1024];
	int rc = ATTN_OK;
	if (attn_query_sweep_info(d->st, d->out->run_id, "shard_index", &index, why, sizeof(why)) ||
	    attn_query_sweep_info(d->st, d->out->run_id, "shard_count", &count, why, sizeof(why)) ||
	    attn_query_sweep_info(d->st, d->out->run_id, "sweep_id", &id, why, sizeof(why))) {
		rc = attn_errf(err, errlen, ATTN_ERR_DB, "--resume: reading run %lld's shard: %s",
		               run, why);
		goto done;
	}
	int si = index ? atoi(index) : 0, sc = count ? atoi(count) : 0;
	if (d->opt->shard_count && (si != d->opt->shard_index || sc != d->opt->shard_count)) {
		if (sc)
			rc = attn_errf(err, errlen, ATTN_ERR_INVALID,
			               "--resume: run %lld is shard %d/%d, not %d/%d; resume it "
			               "without --shard, or give this shard its own --db",
			               run, si, sc, d->opt->shard_index, d->opt->shard_count);
		else
			rc = attn_errf(
			    err, errlen, ATTN_ERR_INVALID,
			    "--resume: run %lld is a whole sweep, not shard %d/%d; resume "
			    "it without --shard, or give this shard its own --db",
			    run, d->opt->shard_index, d->opt->shard_count);
		goto done;
	}
	if (d->opt->sweep_id && id && strcmp(d->opt->sweep_id, id) != 0) {
		rc = attn_errf(err, errlen, ATTN_ERR_INVALID,
		               "--resume: run %lld is a shard of sweep %s, not %s", run, id,
		               d->opt->sweep_id);
		goto done;
	}
	d->shard_index = si;
	d->shard_count = sc;
	snprintf(d->sweep_id, sizeof(d->sweep_id), "%s", id ? id : "");
done:
	free(index);
	free(count);
	free(id);
	return rc;
}

/*
 * A sharded sweep's default id: "<hash>/<N>", the hash over the spec's text
 * and the protocol fields the split's costs depend on, so that shards
 * started with another protocol - which splits otherwise - never pass as
 * shards of the same sweep.
 */
static int default_sweep_id(struct drv *d, const struct attn_sweep_spec *spec, char *err,
                            size_t errlen)
{
	char *text = attn_sweep_spec_text(spec), proto[256];
	if (!text)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	const struct attn_run_opts *ro = &d->proto.ro;
	int n = snprintf(proto, sizeof(proto),
	                 "\nwarmup %.17g min_time %.17g min_reps %d "
	                 "max_reps %d max_call %.17g",
	                 ro->warmup_s, ro->min_time_s, ro->min_reps, ro->max_reps, ro->max_call_s);
	uint64_t h = attn__fnv1a64(ATTN__FNV_BASIS, text, strlen(text));
	h = attn__fnv1a64(h, proto, (size_t)n);
	free(text);
	snprintf(d->sweep_id, sizeof(d->sweep_id), "%016llx/%d", (unsigned long long)h,
	         d->shard_count);
	return ATTN_OK;
}

/*
 * --resume of shard I/N in a database whose runs are all complete: if one
 * of them is that shard, there is nothing to do (a resubmitted task that
 * finished before it was killed), which is not an error.
 */
static int shard_already_complete(struct drv *d)
{
	int64_t run = 0;
	int complete;
	char text[64], why[256];
	if (!d->opt->shard_count)
		return 0;
	snprintf(text, sizeof(text), "%d/%d", d->opt->shard_index, d->opt->shard_count);
	if (attn_query_shard_run(d->st, text, d->opt->sweep_id, 1, &run, &complete, why,
	                         sizeof(why)) ||
	    !run)
		return 0;
	d->out->run_id = run;
	return 1;
}

/*
 * ATTN_RESUME_SHARD: the shard's own run in the store decides - complete:
 * nothing to do; unfinished: resumed; none: a new run. The sweep's id is
 * the one given or the default of the spec given, so a store that holds
 * several sweeps (a figure set's) finds each one's shard.
 */
static int shard_find(struct drv *d, char *err, size_t errlen)
{
	if (!d->shard_count)
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "resuming a shard's own run needs the shard (--shard I/N)");
	if (!d->sweep_id[0] && default_sweep_id(d, d->spec, err, errlen))
		return ATTN_ERR_NOMEM;
	char shard[64], why[1024];
	int64_t run;
	int complete;
	snprintf(shard, sizeof(shard), "%d/%d", d->shard_index, d->shard_count);
	if (attn_query_shard_run(d->st, shard, d->sweep_id, 0, &run, &complete, why, sizeof(why)))
		return attn_errf(err, errlen, ATTN_ERR_DB, "%s", why);
	d->out->run_id = run;
	d->out->already_complete = run && complete;
	d->resume_run = run;
	d->resume = run && !complete;
	return ATTN_OK;
}

/*
 * --resume: find and claim the run, check its plugins, and take its stored
 * spec in place of d->spec (into *spec, which the caller frees); keys given
 * now must agree with it.
 */
static int resume_find(struct drv *d, struct attn_sweep_spec *spec, char *err, size_t errlen)
{
	char *stored_spec = NULL, why[1024];
	int rc;
	if (d->resume_run) {
		struct attn_query_run q;
		d->out->run_id = d->resume_run;
		if ((rc = attn_query_run_info(d->st, d->resume_run, &q, why, sizeof(why))) ==
		    ATTN_OK) {
			stored_spec = q.spec;
			q.spec = NULL;
			attn_query_run_info_free(&q);
			if (!stored_spec)
				rc = attn_errf(why, sizeof(why), ATTN_ERR_DB,
				               "run %lld has no spec", (long long)d->resume_run);
		}
	} else {
		rc = attn_store_run_find_unfinished(d->st, &d->out->run_id, &stored_spec, why,
		                                    sizeof(why));
	}
	if (rc == ATTN_ERR_NOTFOUND && shard_already_complete(d)) {
		d->out->already_complete = 1;
		return ATTN_OK;
	}
	if (rc)
		return attn_errf(err, errlen,
		                 rc == ATTN_ERR_NOTFOUND ? ATTN_ERR_NOTFOUND : ATTN_ERR_DB,
		                 "--resume: %s", why);
	/* One writer per run, refused here before anything of the run is written. */
	if (attn_store_run_claim(d->st, d->out->run_id, d->opt->take_over, why, sizeof(why))) {
		free(stored_spec);
		return attn_errf(err, errlen, ATTN_ERR_DB, "--resume: %s", why);
	}
	/* A run that stored its protocol also named its plugins. */
	char *version = NULL;
	if ((rc = attn_query_sweep_info(d->st, d->out->run_id, ATTN_PROTOCOL_KEY, &version, why,
	                                sizeof(why)))) {
		free(stored_spec);
		return attn_errf(err, errlen, ATTN_ERR_DB, "--resume: %s", why);
	}
	d->has_protocol = version != NULL;
	free(version);
	if (d->has_protocol && (rc = plugins_check(d, err, errlen))) {
		free(stored_spec);
		return rc;
	}
	/* The stored spec wins; keys given must agree with it. */
	attn_sweep_spec_init(spec);
	attn_sweep_spec_load_text(spec, stored_spec, "stored spec", why, sizeof(why));
	free(stored_spec);
	for (int i = 0; i < ATTN_SWEEP_KEYS; i++) {
		int named = d->opt->spec_from_file;
		for (int g = 0; g < d->opt->n_named; g++)
			named |= strcmp(d->opt->named[g], attn_sweep_keys[i]) == 0;
		if (named && strcmp(spec->value[i], d->spec->value[i]) != 0)
			return attn_errf(err, errlen, ATTN_ERR_INVALID,
			                 "--resume: run %lld was started with %s = %s, not %s; "
			                 "resume without spec options, or start a new sweep",
			                 (long long)d->out->run_id, attn_sweep_keys[i],
			                 spec->value[i], d->spec->value[i]);
	}
	return shard_restore(d, err, errlen);
}

/* One stored protocol field: it must agree with one given now, and then it is in force. */
static int protocol_field_restore(struct drv *d, int f, char *err, size_t errlen)
{
	long long run = (long long)d->out->run_id;
	const char *key = attn_protocol_keys[f];
	char why[1024];
	if (attn_query_sweep_info(d->st, d->out->run_id, key, &d->stored[f], why, sizeof(why)))
		return attn_errf(err, errlen, ATTN_ERR_DB, "--resume: reading run %lld's %s: %s",
		                 run, key, why);
	if (!d->stored[f])
		return attn_errf(err, errlen, ATTN_ERR_DB,
		                 "--resume: run %lld's measurement options lack %s", run, key);
	int need = attn_protocol_format(&d->proto, (enum attn_protocol_field)f, NULL, 0);
	char *now = malloc(need > 0 ? (size_t)need + 1 : 1);
	if (!now)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	attn_protocol_format(&d->proto, (enum attn_protocol_field)f, now,
	                     need > 0 ? (size_t)need + 1 : 1);
	int rc = ATTN_OK;
	if (d->given[f] && strcmp(now, d->stored[f]) != 0)
		rc = attn_errf(err, errlen, ATTN_ERR_INVALID,
		               "--resume: run %lld was measured with %s = %s, not %s (%s given "
		               "now); resume without it, or start a new sweep",
		               run, key, d->stored[f][0] ? d->stored[f] : "(none)",
		               now[0] ? now : "(none)", attn_protocol_options[f]);
	else if (attn_protocol_parse(&d->proto, (enum attn_protocol_field)f, d->stored[f], why,
	                             sizeof(why)))
		rc = attn_errf(err, errlen, ATTN_ERR_DB, "--resume: run %lld: %s", run, why);
	free(now);
	return rc;
}

/*
 * --resume: put the run's stored protocol in force. A field given now with
 * another value is refused, naming both; every other field is taken from
 * the run. A run recorded before protocols were stored resumes with the
 * settings given now, after a warning.
 */
static int protocol_restore(struct drv *d, char *err, size_t errlen)
{
	char *version = NULL, why[1024];
	long long run = (long long)d->out->run_id;
	if (attn_query_sweep_info(d->st, d->out->run_id, ATTN_PROTOCOL_KEY, &version, why,
	                          sizeof(why)))
		return attn_errf(err, errlen, ATTN_ERR_DB,
		                 "--resume: reading run %lld's measurement options: %s", run, why);
	if (!version) {
		say(d, ATTN_SWEEP_WARNING,
		    "run %lld was recorded before sweeps stored their measurement options and "
		    "plugin fingerprints: resuming with the ones given now, which may differ from "
		    "those of its first part",
		    run);
		return ATTN_OK;
	}
	int rc = ATTN_OK;
	if (strcmp(version, ATTN_PROTOCOL_VERSION) != 0)
		rc = attn_errf(err, errlen, ATTN_ERR_INVALID,
		               "--resume: run %lld stored its measurement options as version %s; "
		               "this attnbench knows version %s",
		               run, version, ATTN_PROTOCOL_VERSION);
	free(version);
	for (int f = 0; rc == ATTN_OK && f < ATTN_PROTO_COUNT; f++)
		rc = protocol_field_restore(d, f, err, errlen);
	return rc;
}

/* --- the record of a new run --------------------------------------------- */

/* The CPUs this process may run on (its affinity mask), at least 1. */
static int usable_cpus(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

/* The protocol's fields, the oversubscription and the plugins, for a new run's record. */
static int record_protocol(struct drv *d, char *err, size_t errlen)
{
	if (kv_add(&d->record, ATTN_PROTOCOL_KEY, "%s", ATTN_PROTOCOL_VERSION))
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	for (int f = 0; f < ATTN_PROTO_COUNT; f++) {
		enum attn_protocol_field pf = (enum attn_protocol_field)f;
		int need = attn_protocol_format(&d->proto, pf, NULL, 0);
		char *text = malloc(need > 0 ? (size_t)need + 1 : 1);
		if (text)
			attn_protocol_format(&d->proto, pf, text, need > 0 ? (size_t)need + 1 : 1);
		int bad = !text || kv_add(&d->record, attn_protocol_keys[f], "%s", text);
		free(text);
		if (bad)
			return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	}
	return plugins_record(d, err, errlen);
}

/* Record the run: a new one with its provenance, or the resumed one running again. */
static int record_run(struct drv *d, const char *spec_text, char *err, size_t errlen)
{
	if (d->n_over &&
	    kv_add(&d->record, "oversubscribed", "%d of %d cases: up to %d threads on %d CPUs",
	           d->n_over, d->cases.count, d->max_threads, d->cpus))
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	if (d->resume) {
		char why[1024];
		if (attn_store_run_set_status(d->st, d->out->run_id, "running", why, sizeof(why)))
			return attn_errf(err, errlen, ATTN_ERR_DB, "%s", why);
		return ATTN_OK;
	}
	int rc = record_protocol(d, err, errlen);
	if (rc)
		return rc;
	/* sysinfo's provenance and the protocol, in the run's one transaction */
	int n = d->si.n + d->record.n;
	struct attn_kv *kv = malloc((size_t)n * sizeof(*kv));
	if (!kv)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	memcpy(kv, d->si.kv, (size_t)d->si.n * sizeof(*kv));
	memcpy(kv + d->si.n, d->record.kv, (size_t)d->record.n * sizeof(*kv));
	char why[1024];
	rc = attn_store_run_begin(d->st, d->opt->command ? d->opt->command : "attnbench sweep",
	                          spec_text, kv, n, &d->out->run_id, why, sizeof(why));
	free(kv);
	return rc ? attn_errf(err, errlen, ATTN_ERR_DB, "%s", why) : ATTN_OK;
}

/* After the run is recorded: what a resumed run adds, and an injected slowdown. */
static int record_extra(struct drv *d)
{
	char why[1024];
	/* A resumed run that is oversubscribed now says so too. */
	if (d->resume && d->record.n &&
	    attn_store_run_info(d->st, d->out->run_id, d->record.kv, d->record.n, why, sizeof(why)))
		return fail(d, ATTN_ERR_DB, why);
	/* A run with a slowdown injected says so, resumed or not. */
	struct attn_kv inject_kv = {"inject_slowdown", d->opt->inject};
	if (d->opt->inject &&
	    attn_store_run_info(d->st, d->out->run_id, &inject_kv, 1, why, sizeof(why)))
		return fail(d, ATTN_ERR_DB, why);
	return ATTN_OK;
}

/* --- roofs and counters --------------------------------------------------- */

/*
 * Measure the roofs at `threads` in a child (fork-safe for OpenBLAS). The
 * child takes seconds, so it must not outlive the sweep: it dies with its
 * parent (PR_SET_PDEATHSIG, checked against a parent that died before the
 * prctl), and it leads a process group of its own, which the parent kills
 * whole once it has the answer or gives up (a stop, a short read), so
 * nothing it started is left either. Its own group also keeps a terminal's
 * Ctrl-C for the parent, which decides.
 */
static int measure_roof(const struct drv *d, int threads, double budget, size_t llc,
                        struct attn_roof *roof, char *err, size_t errlen)
{
	int fds[2];
	if (pipe(fds) != 0)
		return attn_errf(err, errlen, ATTN_ERR_IO, "pipe failed");
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return attn_errf(err, errlen, ATTN_ERR_IO, "fork failed");
	}
	if (pid == 0) {
		close(fds[0]);
		setpgid(0, 0);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
			_exit(1);
		struct attn_roof r;
		char why[256];
		int rc = attn_roof_measure(threads, budget, llc, &r, why, sizeof(why));
		if (rc == 0 && write(fds[1], &r, sizeof(r)) == (ssize_t)sizeof(r))
			_exit(0);
		_exit(1);
	}
	/* Both sides set the group, so it exists whichever runs first. */
	setpgid(pid, pid);
	close(fds[1]);
	/*
	 * Poll, not a bare read: a SIGINT that lands between the fork and the
	 * read would otherwise leave the read waiting out the whole budget.
	 */
	ssize_t got = 0;
	while (got < (ssize_t)sizeof(*roof) && !stopped(d)) {
		struct pollfd pfd = {fds[0], POLLIN, 0};
		int ready = poll(&pfd, 1, 100);
		if (ready < 0 && errno != EINTR)
			break;
		if (ready <= 0)
			continue;
		ssize_t k = read(fds[0], (char *)roof + got, sizeof(*roof) - (size_t)got);
		if (k > 0)
			got += k;
		else if (k == 0 || errno != EINTR)
			break;
	}
	close(fds[0]);
	/* Before the wait: while the child is unreaped its group id cannot be reused. */
	kill(-pid, SIGKILL);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (got != (ssize_t)sizeof(*roof))
		return attn_errf(err, errlen, ATTN_ERR_INTERNAL,
		                 "measuring the roofs at %d threads %s", threads,
		                 stopped(d) ? "was interrupted" : "failed");
	return ATTN_OK;
}

/* Which counters this machine has, recorded with their overhead (a new run only). */
static int record_counters(struct drv *d, char *err, size_t errlen)
{
	struct attn_counters *ctr;
	if (attn_counters_open(d->proto.ro.counters, &ctr, err, errlen))
		return ATTN_ERR_INVALID;
	struct attn_counter_info info[ATTN_MAX_COUNTERS];
	int n = attn_counters_count(ctr), missing = 0;
	char names[512] = "";
	for (int e = 0; e < n; e++) {
		const char *why = NULL, *src = NULL;
		info[e].event = attn_counters_name(ctr, e);
		info[e].available = attn_counters_available(ctr, e, &why, &src);
		info[e].source = src;
		info[e].reason = info[e].available ? NULL : why;
		if (!info[e].available)
			attn__append(names, sizeof(names), "%s%s", missing++ ? ", " : "",
			             info[e].event);
	}
	/* One line: the reasons are long, and `attnbench info` (and run_counters) keep them. */
	if (missing)
		say(d, ATTN_SWEEP_NOTE,
		    "%d counter%s unavailable here, stored as NULL: %s (attnbench info says why)",
		    missing, missing > 1 ? "s" : "", names);
	char ov[64];
	snprintf(ov, sizeof(ov), "%.0f", attn_counters_overhead_ns(ctr, 101));
	struct attn_kv kv = {"counters_overhead_ns", ov};
	int rc = attn_store_run_counters(d->st, d->out->run_id, info, n, err, errlen);
	if (!rc)
		rc = attn_store_run_info(d->st, d->out->run_id, &kv, 1, err, errlen);
	attn_counters_close(ctr);
	return rc;
}

/*
 * Everything the measurement layer needs before the first case: which
 * counters this machine has, the cache sizes, and the roofs at every thread
 * count the sweep uses - measured now, or on resume read back from the run.
 */
static int measure_setup(struct drv *d, char *err, size_t errlen)
{
	struct attn_run_opts *ro = &d->proto.ro;
	ro->cache_bytes[0] = d->si.l1d_bytes;
	ro->cache_bytes[1] = d->si.l2_bytes;
	ro->cache_bytes[2] = d->si.l3_bytes;
	int rc;
	if (!d->resume && !(ro->counters && strcmp(ro->counters, "none") == 0) &&
	    (rc = record_counters(d, err, errlen)))
		return rc;
	d->n_roofs = 0;
	if (d->resume && attn_store_run_roofs_load(d->st, d->out->run_id, d->roofs, ATTN_MAX_ROOFS,
	                                           &d->n_roofs, err, errlen))
		return ATTN_ERR_DB;
	for (int i = 0; d->proto.roof_budget > 0 && !stopped(d) && i < d->cases.count; i++) {
		int t = d->cases.items[i].threads, have = 0;
		for (int k = 0; k < d->n_roofs; k++)
			have |= d->roofs[k].threads == t;
		if (have || d->n_roofs == ATTN_MAX_ROOFS)
			continue;
		if (d->pg && d->pg->roof)
			d->pg->roof(d->pg->ctx, t, NULL);
		char why[256];
		size_t llc = d->si.l3_bytes ? d->si.l3_bytes : d->si.l2_bytes;
		if (measure_roof(d, t, d->proto.roof_budget, llc, &d->roofs[d->n_roofs], why,
		                 sizeof(why))) {
			say(d, ATTN_SWEEP_WARNING,
			    "%s; fractions of roof at %d threads will be NULL", why, t);
			continue;
		}
		struct attn_roof *r = &d->roofs[d->n_roofs++];
		if (d->pg && d->pg->roof)
			d->pg->roof(d->pg->ctx, t, r);
		if (attn_store_run_roof(d->st, d->out->run_id, r, err, errlen))
			return ATTN_ERR_DB;
	}
	ro->roofs = d->roofs;
	ro->n_roofs = d->n_roofs;
	return ATTN_OK;
}

/* --- the cases ------------------------------------------------------------ */

/* The work of a case for the ETA: the attention's B*H*NQ*N*D. */
static double case_work(const struct attn_case *c)
{
	const struct attn_shape *s = &c->shape;
	return (double)s->batch * s->heads * attn_shape_nq(s) * s->n * s->d;
}

/*
 * Seconds left, from a two-term model of a case's time: a floor every case
 * pays (warm-up plus the minimum timed span, and the fork) and a part
 * proportional to its work at a rate learned from the cases done so far.
 */
static double eta_seconds(double elapsed, int n_done, double work_done, int n_left,
                          double work_left, const struct attn_run_opts *o)
{
	double floor_s = o->warmup_s + o->min_time_s + 0.01;
	double work_s = elapsed - n_done * floor_s;
	if (work_s < 0.05 * elapsed)
		work_s = 0.05 * elapsed;
	double rate = work_done > 0 ? work_done / work_s : 0;
	return n_left * floor_s + (rate > 0 ? work_left / rate : 0);
}

/* The text of the case's form parameter into buf, or NULL when it has none. */
static const char *form_of(const struct attn_case *c, char *buf, size_t len)
{
	int i = attn_method_form_param(c->method);
	if (i < 0)
		return NULL;
	attn_param_choice_name(&c->method->params[i], (int)c->params.v[i], buf, len);
	return buf;
}

/*
 * Write one finished case. A case with more threads than the `cpus` the
 * sweep may use gets the metric `oversubscribed`, its threads per CPU, so
 * its time is never read as that of a normal case.
 */
static int store_result(struct drv *d, const struct attn_case *c, const char *key,
                        const struct attn_case_result *r, char *err, size_t errlen)
{
	/* Sized from the descriptor: an enum choice may be longer than any fixed buffer. */
	int fi = attn_method_form_param(c->method);
	size_t flen = fi >= 0 && c->method->params[fi].choices
	                  ? strlen(c->method->params[fi].choices) + 1
	                  : 1;
	int plen = attn_params_format(c->method, &c->params, NULL, 0);
	char *params = malloc(plen > 0 ? (size_t)plen + 1 : 1), *form = malloc(flen);
	struct attn_metric *metrics = malloc((size_t)(r->n_metrics + 1) * sizeof(*metrics));
	if (!params || !form || !metrics) {
		free(params);
		free(form);
		free(metrics);
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	}
	attn_params_format(c->method, &c->params, params, plen > 0 ? (size_t)plen + 1 : 1);
	memcpy(metrics, r->metrics, (size_t)r->n_metrics * sizeof(*metrics));
	int n_metrics = r->n_metrics;
	if (c->threads > d->cpus)
		metrics[n_metrics++] = (struct attn_metric){.name = "oversubscribed",
		                                            .value = (double)c->threads / d->cpus,
		                                            .has_value = 1,
		                                            .unit = "threads/cpu"};
	const char *names[ATTN_MAX_COUNTERS];
	for (int e = 0; e < r->n_counters; e++)
		names[e] = r->counter_names[e];
	struct attn_case_record rec = {
	    .key = key,
	    .method = c->method->name,
	    .family = attn_family_name(c->method->family),
	    .form = form_of(c, form, flen),
	    .params = params,
	    .batch = c->shape.batch,
	    .heads = c->shape.heads,
	    .kv_heads = c->shape.kv_heads,
	    .n = c->shape.n,
	    .d = c->shape.d,
	    .causal = c->shape.causal,
	    .mode = attn_mode_name(c->shape.mode),
	    .dist = attn_dist_name(c->dist),
	    .threads = c->threads,
	    .seed = c->seed,
	    .status = attn_case_status_name(r->status),
	    .message = r->message,
	    .n_samples = r->n_samples,
	    .sample_ns = r->sample_ns,
	    .sample_iters = r->sample_iters,
	    .sample_roof_ns = r->sample_roof_ns,
	    .n_metrics = n_metrics,
	    .metrics = metrics,
	    .cpus = r->cpus,
	    .info = r->info,
	    .n_counters = r->n_samples ? r->n_counters : 0,
	    .counter_names = names,
	    .sample_counters = r->sample_counters,
	    .mask = r->mask,
	    .mask_nqb = r->mask_nqb,
	    .mask_nkb = r->mask_nkb,
	};
	int rc = attn_store_case_write(d->st, d->out->run_id, &rec, err, errlen);
	free(params);
	free(form);
	free(metrics);
	return rc;
}

/* The loop's state: cases still to run, the work done for the ETA, and the buffers. */
struct loop {
	struct attn_case *todo;
	struct attn_case_result *res;
	int *index;
	double work_left, work_done;
	int n_done, n_left;
	uint64_t t_start;
};

/* Run todo[0..n) (one shape); results into res. */
static int run_group(struct drv *d, struct loop *l, int n)
{
	const struct attn_run_opts *ro = &d->proto.ro;
	if (d->proto.interleave && n > 1) {
		if (attn_cases_run_interleaved(l->todo, n, ro, l->res)) {
			char desc[512], text[600];
			attn_case_describe(&l->todo[0], desc, sizeof(desc));
			snprintf(text, sizeof(text), "the runner failed on %s", desc);
			d->out->runner_failed = 1;
			return fail(d, ATTN_ERR_INTERNAL, text);
		}
		return ATTN_OK;
	}
	for (int k = 0; k < n && !stopped(d); k++)
		attn_case_run(&l->todo[k], ro, NULL, NULL, &l->res[k]);
	for (int k = 0; k < n; k++)
		if (stopped(d) && !l->res[k].status && !l->res[k].n_samples && !l->res[k].n_metrics)
			l->res[k].status = ATTN_CASE_INTERRUPTED;
	return ATTN_OK;
}

/* Record the group's results, in order; the first write that fails stops the recording. */
static int record_group(struct drv *d, struct loop *l, int n)
{
	int rc = ATTN_OK;
	for (int k = 0; k < n; k++) {
		struct attn_case_result *r = &l->res[k];
		const struct attn_case *cs = &l->todo[k];
		char key[1024], why[2048];
		if (r->status == ATTN_CASE_INTERRUPTED || rc) {
			attn_case_result_free(r);
			continue;
		}
		attn_case_key(cs, key, sizeof(key));
		if (store_result(d, cs, key, r, why, sizeof(why))) {
			rc = fail(d, ATTN_ERR_DB, why);
			d->out->db_error = 1;
			attn_case_result_free(r);
			continue;
		}
		d->out->counts[r->status]++;
		l->work_done += case_work(cs);
		l->work_left -= case_work(cs);
		l->n_done++;
		l->n_left--;
		d->out->bad_cases |=
		    r->status == ATTN_CASE_TIMEOUT || r->status == ATTN_CASE_CRASHED ||
		    r->status == ATTN_CASE_FAILED || r->status == ATTN_CASE_FAILED_CHECK;
		if (d->pg && d->pg->case_done)
			d->pg->case_done(d->pg->ctx, l->index[k], d->cases.count, cs, r);
		attn_case_result_free(r);
	}
	return rc;
}

/* The cases of [i, j) that the run does not hold yet into l->todo; their count, or -1. */
static int group_todo(struct drv *d, struct loop *l, int i, int j)
{
	int n = 0;
	for (int k = i; k < j; k++) {
		char key[1024];
		attn_case_key(&d->cases.items[k], key, sizeof(key));
		int done = attn_store_case_done(d->st, d->out->run_id, key);
		if (done < 0) {
			char text[1200];
			snprintf(text, sizeof(text), "%s: cannot read the recorded cases",
			         d->opt->db_label ? d->opt->db_label : "the database");
			d->out->db_error = 1;
			fail(d, ATTN_ERR_DB, text);
			return -1;
		}
		if (done) {
			d->out->skipped++;
			l->work_left -= case_work(&d->cases.items[k]);
			l->n_left--;
			continue;
		}
		l->index[n] = k;
		l->todo[n++] = d->cases.items[k];
	}
	return n;
}

/*
 * Cases come in groups of one shape (the method varies fastest); with
 * interleave a group's repetitions are run round-robin.
 */
static int run_cases(struct drv *d)
{
	int count = d->cases.count ? d->cases.count : 1, rc = ATTN_OK;
	struct loop l = {.todo = calloc((size_t)count, sizeof(*l.todo)),
	                 .res = calloc((size_t)count, sizeof(*l.res)),
	                 .index = calloc((size_t)count, sizeof(*l.index)),
	                 .n_left = d->cases.count,
	                 .t_start = attn__now_ns()};
	for (int i = 0; i < d->cases.count; i++)
		l.work_left += case_work(&d->cases.items[i]);
	if (d->pg && d->pg->ready)
		d->pg->ready(d->pg->ctx, d->out->run_id, d->cases.count);
	if (!l.todo || !l.res || !l.index)
		rc = fail(d, ATTN_ERR_NOMEM, "out of memory");
	for (int i = 0, j; rc == ATTN_OK && i < d->cases.count && !stopped(d); i = j) {
		for (j = i + 1; j < d->cases.count &&
		                attn_case_same_group(&d->cases.items[i], &d->cases.items[j]);
		     j++)
			;
		int n = group_todo(d, &l, i, j);
		if (n < 0) {
			rc = ATTN_ERR_DB;
			break;
		}
		if (n == 0)
			continue;
		double elapsed = (double)(attn__now_ns() - l.t_start) / 1e9;
		struct attn_sweep_group g = {
		    .first = &l.todo[0],
		    .index = l.index[0],
		    .n = n,
		    .total = d->cases.count,
		    .elapsed_s = elapsed,
		    .eta_s = l.n_done > 0 ? eta_seconds(elapsed, l.n_done, l.work_done, l.n_left,
		                                        l.work_left, &d->proto.ro)
		                          : -1};
		if (d->pg && d->pg->group)
			d->pg->group(d->pg->ctx, &g);
		if ((rc = run_group(d, &l, n)))
			break;
		rc = record_group(d, &l, n);
	}
	free(l.todo);
	free(l.res);
	free(l.index);
	d->out->elapsed_s = (double)(attn__now_ns() - l.t_start) / 1e9;
	return rc;
}

/* Mark the run complete or interrupted and let the next writer in. */
static int finish_run(struct drv *d)
{
	char why[1024];
	d->out->interrupted = stopped(d);
	const char *final = d->out->interrupted ? "interrupted" : "complete";
	if (attn_store_run_set_status(d->st, d->out->run_id, final, why, sizeof(why)) ||
	    attn_store_run_release(d->st, d->out->run_id, why, sizeof(why))) {
		d->out->db_error = 1;
		return fail(d, ATTN_ERR_DB, why);
	}
	return ATTN_OK;
}

/* --- the call ------------------------------------------------------------- */

/*
 * Keep only this shard's cases (in the sweep's order) and put what the run
 * records about its shard and its spec into d->record.
 */
static int shard_select(struct drv *d, const struct attn_sweep_spec *spec, char *err, size_t errlen)
{
	char *text = attn_sweep_spec_text(spec);
	if (!text)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	char hash[17];
	snprintf(hash, sizeof(hash), "%016llx",
	         (unsigned long long)attn__fnv1a64(ATTN__FNV_BASIS, text, strlen(text)));
	free(text);
	if (kv_add(&d->record, "spec_hash", "%s", hash))
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	if (!d->shard_count)
		return ATTN_OK;
	if (!d->sweep_id[0] && default_sweep_id(d, spec, err, errlen))
		return ATTN_ERR_NOMEM;
	struct attn_shard_plan sp;
	int rc = attn_sweep_shard_plan(&d->cases, d->reg, &d->proto.ro, d->shard_count, &sp, err,
	                               errlen);
	if (rc)
		return rc;
	int I = d->shard_index, kept = 0, total = d->cases.count;
	for (int i = 0; i < total; i++)
		if (sp.shard_of[i] == I)
			d->cases.items[kept++] = d->cases.items[i];
	d->cases.count = kept;
	struct attn_sweep_outcome *o = d->out;
	o->shard_index = I;
	o->shard_count = d->shard_count;
	o->shard_cases = kept;
	o->sweep_cases = total;
	o->shard_cost = sp.cost[I - 1];
	o->sweep_cost = sp.total_cost;
	attn_shard_plan_free(&sp);
	if (kv_add(&d->record, "shard", "%d/%d", I, d->shard_count) ||
	    kv_add(&d->record, "shard_index", "%d", I) ||
	    kv_add(&d->record, "shard_count", "%d", d->shard_count) ||
	    kv_add(&d->record, "sweep_id", "%s", d->sweep_id) ||
	    kv_add(&d->record, "shard_cases", "%d", kept) ||
	    kv_add(&d->record, "sweep_cases", "%d", total) ||
	    kv_add(&d->record, "shard_cost", "%.6g", o->shard_cost) ||
	    kv_add(&d->record, "sweep_cost", "%.6g", o->sweep_cost))
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	return ATTN_OK;
}

/* Expand and check a resumed run's plugins. */
static int plan(struct drv *d, const struct attn_sweep_spec *spec, char *err, size_t errlen)
{
	int rc = attn_sweep_expand(spec, d->reg, &d->cases, err, errlen);
	if (rc)
		return rc;
	if (d->run_plugins && (rc = plugins_new(d, err, errlen)))
		return rc;
	return ATTN_OK;
}

/*
 * Take the shard (its split depends on the protocol in force, so a resumed
 * run's is restored first) and say about oversubscription.
 */
static int plan_shard(struct drv *d, const struct attn_sweep_spec *spec, char *err, size_t errlen)
{
	int rc = shard_select(d, spec, err, errlen);
	if (rc)
		return rc;
	/*
	 * More threads than CPUs time the scheduler as much as the method: said
	 * once here, and recorded on the run and on every such case.
	 */
	d->cpus = usable_cpus();
	for (int i = 0; i < d->cases.count; i++) {
		d->n_over += d->cases.items[i].threads > d->cpus;
		if (d->cases.items[i].threads > d->max_threads)
			d->max_threads = d->cases.items[i].threads;
	}
	if (d->n_over)
		say(d, ATTN_SWEEP_WARNING,
		    "%d of %d cases ask for more threads (up to %d) than the %d CPU%s this process "
		    "may use: they are oversubscribed, and their times include waiting for a CPU; "
		    "recorded as run_info oversubscribed and the metric oversubscribed (threads "
		    "per "
		    "CPU) of each such case",
		    d->n_over, d->cases.count, d->max_threads, d->cpus, d->cpus > 1 ? "s" : "");
	return ATTN_OK;
}

/* The protocol in force: restored on resume, the machine's noise said, --cold-cache sized. */
static int protocol_setup(struct drv *d, char *err, size_t errlen)
{
	attn_sysinfo_collect(&d->si);
	if (d->proto.cold_cache) {
		/* Twice the last-level cache evicts it, whatever its policy. */
		size_t llc = d->si.l3_bytes ? d->si.l3_bytes : d->si.l2_bytes;
		d->proto.ro.flush_bytes = 2 * (llc ? llc : (size_t)64 << 20);
	}
	int rc;
	if (d->resume && (rc = protocol_restore(d, err, errlen)))
		return rc;
	/* The machine's noise, said once the settings are known to be accepted. */
	char warnings[16][ATTN_NOISE_WARNING_LEN];
	int n_warn = 0;
	attn_noise_collect(&d->si, warnings, 16, &n_warn);
	for (int i = 0; i < n_warn; i++)
		say(d, ATTN_SWEEP_MACHINE, "%s", warnings[i]);
	return ATTN_OK;
}

static void drv_free(struct drv *d)
{
	for (int f = 0; f < ATTN_PROTO_COUNT; f++)
		free(d->stored[f]);
	free(d->spec_options);
	free(d->run_plugins);
	kv_free(&d->record);
	attn_case_list_free(&d->cases);
}

int attn_sweep_run(const struct attn_sweep_spec *spec, const struct attn_sweep_options *opt,
                   const struct attn_registry *reg, struct attn_store *st,
                   const struct attn_sweep_progress *progress, struct attn_sweep_outcome *out,
                   char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	struct drv d = {.spec = spec, .opt = opt, .reg = reg, .st = st, .pg = progress, .out = out};
	struct attn_sweep_spec resumed = {0};
	const struct attn_sweep_spec *use = spec;
	char *spec_text = NULL;
	int nomem, rc = attn_sweep_settings(spec, opt, &d.proto, d.given, err, errlen);
	if (rc)
		goto done;
	d.proto.options = d.spec_options = attn_sweep_spec_options(spec, &nomem);
	if (nomem) {
		rc = attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
		goto done;
	}
	if (!opt->dry_run && !st) {
		rc = attn_errf(err, errlen, ATTN_ERR_INVALID, "a sweep needs a store");
		goto done;
	}
	if (opt->shard_count || opt->shard_index) {
		if (opt->shard_count < 1 || opt->shard_count > ATTN_MAX_SHARDS ||
		    opt->shard_index < 1 || opt->shard_index > opt->shard_count) {
			rc = attn_errf(err, errlen, ATTN_ERR_INVALID,
			               "shard %d/%d: expected I/N with 1 <= I <= N <= %d",
			               opt->shard_index, opt->shard_count, ATTN_MAX_SHARDS);
			goto done;
		}
		d.shard_index = opt->shard_index;
		d.shard_count = opt->shard_count;
	}
	if (opt->sweep_id && (!opt->sweep_id[0] || strlen(opt->sweep_id) >= sizeof(d.sweep_id) ||
	                      !opt->shard_count)) {
		rc = attn_errf(err, errlen, ATTN_ERR_INVALID,
		               !opt->shard_count ? "a sweep id names the shards of one sweep: it "
		                                   "goes with --shard"
		                                 : "sweep id '%.40s': expected 1 to %zu characters",
		               opt->sweep_id, sizeof(d.sweep_id) - 1);
		goto done;
	}
	if (opt->sweep_id)
		snprintf(d.sweep_id, sizeof(d.sweep_id), "%s", opt->sweep_id);
	d.resume = opt->resume == 1;
	if (opt->resume == ATTN_RESUME_SHARD && st && (rc = shard_find(&d, err, errlen)))
		goto done;
	if (d.resume && st) {
		if ((rc = resume_find(&d, &resumed, err, errlen)))
			goto done;
		use = &resumed;
	}
	if (out->already_complete) {
		out->shard_index = opt->shard_index;
		out->shard_count = opt->shard_count;
		goto done;
	}
	if ((rc = plan(&d, use, err, errlen)))
		goto done;
	if (opt->dry_run) {
		if ((rc = plan_shard(&d, use, err, errlen)))
			goto done;
		out->cases = d.cases;
		d.cases = (struct attn_case_list){0};
		goto done;
	}
	if ((rc = protocol_setup(&d, err, errlen)) || (rc = plan_shard(&d, use, err, errlen)))
		goto done;
	if (!(spec_text = attn_sweep_spec_text(use))) {
		rc = attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
		goto done;
	}
	if ((rc = record_run(&d, spec_text, err, errlen)))
		goto done;
	out->begun = 1;
	if ((rc = record_extra(&d)))
		goto done;
	if (progress && progress->started)
		progress->started(progress->ctx, out->run_id, d.cases.count);
	d.proto.ro.stop = opt->stop;
	char why[2048];
	if (measure_setup(&d, why, sizeof(why))) {
		rc = fail(&d, ATTN_ERR_DB, why);
		goto done;
	}
	rc = run_cases(&d);
	out->finished = 1;
	if (!out->db_error) {
		int frc = finish_run(&d);
		rc = frc ? frc : rc;
	} else {
		rc = ATTN_ERR_DB;
	}
	out->interrupted = stopped(&d);
	if (rc && rc != ATTN_ERR_DB)
		rc = ATTN_OK; /* said through progress->error; out->runner_failed tells */
done:
	free(spec_text);
	attn_sweep_spec_free(&resumed);
	drv_free(&d);
	return rc;
}

void attn_sweep_outcome_free(struct attn_sweep_outcome *out)
{
	attn_case_list_free(&out->cases);
}
