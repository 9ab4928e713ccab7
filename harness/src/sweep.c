/*
 * Sweep specs and their expansion into cases (see sweep.h).
 *
 * Cases are ordered with the method innermost, so every method at one shape
 * runs back to back: a drift in machine speed then hits the methods being
 * compared alike, and a killed sweep leaves whole shapes behind it.
 *
 * Also here: the sweep settings a spec file holds (checked as they are
 * read), the measurement protocol's stored text (every option that
 * changes how a case is measured, which --resume restores) and the
 * fingerprint that identifies a plugin's shared object in the record.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/bind.h"
#include "attnbench/spec.h"
#include "attnbench/status.h"
#include "attnbench/sweep.h"
#include "attnbench/workload.h"
#include "internal.h"

enum {
	K_METHODS,
	K_N,
	K_D,
	K_HEADS,
	K_KV_HEADS,
	K_BATCH,
	K_THREADS,
	K_CAUSAL,
	K_MODE,
	K_DIST,
	K_SEED
};

const char *const attn_sweep_keys[ATTN_SWEEP_KEYS] = {
    "methods", "n", "d", "heads", "kv_heads", "batch", "threads", "causal", "mode", "dist", "seed"};

static const char *const defaults[ATTN_SWEEP_KEYS] = {
    "all", "256..4096x2", "64", "1", "heads", "1", "1", "1", "prefill", "gaussian", "42"};

int attn_sweep_spec_init(struct attn_sweep_spec *sp)
{
	memset(sp, 0, sizeof(*sp));
	for (int i = 0; i < ATTN_SWEEP_KEYS; i++)
		if (!(sp->value[i] = attn__strdup(defaults[i]))) {
			attn_sweep_spec_free(sp);
			return ATTN_ERR_NOMEM;
		}
	return ATTN_OK;
}

void attn_sweep_spec_free(struct attn_sweep_spec *sp)
{
	for (int i = 0; i < ATTN_SWEEP_KEYS; i++) {
		free(sp->value[i]);
		sp->value[i] = NULL;
	}
	for (int i = 0; i < ATTN_SWEEP_SETTINGS; i++) {
		free(sp->setting[i]);
		sp->setting[i] = NULL;
	}
	sp->n_settings = 0;
}

const char *const attn_sweep_setting_keys[ATTN_SWEEP_SETTINGS] = {
    [ATTN_PROTO_TIMEOUT] = "timeout",
    [ATTN_PROTO_MAX_CALL] = "max_call_time",
    [ATTN_PROTO_WARMUP] = "warmup",
    [ATTN_PROTO_MIN_TIME] = "min_time",
    [ATTN_PROTO_MIN_REPS] = "min_reps",
    [ATTN_PROTO_MAX_REPS] = "max_reps",
    [ATTN_PROTO_MIN_SAMPLE] = "min_sample",
    [ATTN_PROTO_CHECK_MAX_FLOPS] = "check_max_flops",
    [ATTN_PROTO_MEM_LIMIT] = "mem_limit",
    [ATTN_PROTO_COUNTERS] = "counters",
    [ATTN_PROTO_BIND] = "bind",
    [ATTN_PROTO_COLD_CACHE] = "cold_cache",
    [ATTN_PROTO_DUMP_MASK] = "dump_mask",
    [ATTN_PROTO_INTERLEAVE] = "interleave",
    [ATTN_PROTO_ROOF_PROBE] = "roof_probe",
    [ATTN_PROTO_ROOF_BUDGET] = "roof_budget",
};

/* Set a setting's text (checked first), remembering the order settings were first set in. */
static int set_setting(struct attn_sweep_spec *sp, int f, const char *key, const char *value,
                       char *err, size_t errlen)
{
	struct attn_sweep_protocol scratch = {0};
	attn_run_opts_default(&scratch.ro);
	int rc = attn_sweep_setting_parse(&scratch, (enum attn_protocol_field)f, value, key, err,
	                                  errlen);
	if (rc)
		return rc;
	char *v = attn__strdup(value);
	if (!v)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	if (!sp->setting[f])
		sp->order[sp->n_settings++] = f;
	free(sp->setting[f]);
	sp->setting[f] = v;
	return ATTN_OK;
}

int attn_sweep_spec_set(struct attn_sweep_spec *sp, const char *key, const char *value, char *err,
                        size_t errlen)
{
	char k[32];
	snprintf(k, sizeof(k), "%s", key);
	for (char *c = k; *c; c++)
		if (*c == '-')
			*c = '_';
	for (int i = 0; i < ATTN_SWEEP_KEYS; i++)
		if (strcmp(k, attn_sweep_keys[i]) == 0) {
			char *v = attn__strdup(value);
			if (!v)
				return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
			free(sp->value[i]);
			sp->value[i] = v;
			return ATTN_OK;
		}
	for (int f = 0; f < ATTN_SWEEP_SETTINGS; f++)
		if (strcmp(k, attn_sweep_setting_keys[f]) == 0)
			return set_setting(sp, f, k, value, err, errlen);
	if (strcmp(k, "options") == 0)
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "'options = %s': sweep options are keys of their own now, one "
		                 "a line with the option's name and '_' for '-': write "
		                 "`min_reps = 15` for --min-reps 15 and `roof_probe = 1` for "
		                 "--roof-probe",
		                 value);
	char names[512] = "";
	for (int f = 0; f < ATTN_SWEEP_SETTINGS; f++)
		attn__append(names, sizeof(names), "%s%s", f ? ", " : "",
		             attn_sweep_setting_keys[f]);
	return attn_errf(err, errlen, ATTN_ERR_INVALID,
	                 "unknown sweep key '%s'; known: methods, n, d, heads, kv_heads, batch, "
	                 "threads, causal, mode, dist, seed; and the settings %s",
	                 key, names);
}

int attn_sweep_spec_load_text(struct attn_sweep_spec *sp, const char *text, const char *origin,
                              char *err, size_t errlen)
{
	char *copy = attn__strdup(text);
	if (!copy)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	int rc = ATTN_OK, lineno = 0;
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		char *key, *val;
		int kv = attn__kv_line(line, &key, &val);
		if (kv == 0)
			continue;
		if (kv < 0) {
			rc = attn_errf(err, errlen, ATTN_ERR_FORMAT,
			               "%s:%d: expected 'key = value', got '%s'", origin, lineno,
			               key);
			break;
		}
		char why[1024];
		if ((rc = attn_sweep_spec_set(sp, key, val, why, sizeof(why)))) {
			attn_errf(err, errlen, rc, "%s:%d: %s", origin, lineno, why);
			break;
		}
	}
	free(copy);
	return rc;
}

/* The whole spec file into *text (malloc'd). */
static int read_spec_file(const char *path, char **text, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return attn_errf(err, errlen, ATTN_ERR_IO, "cannot read spec file %s", path);
	size_t len = 0;
	*text = NULL;
	FILE *m = open_memstream(text, &len);
	int c;
	while (m && (c = fgetc(f)) != EOF)
		fputc(c, m);
	fclose(f);
	if (!m)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	fclose(m);
	return ATTN_OK;
}

int attn_sweep_spec_load_file(struct attn_sweep_spec *sp, const char *path, char *err,
                              size_t errlen)
{
	char *text;
	int rc = read_spec_file(path, &text, err, errlen);
	if (rc)
		return rc;
	rc = attn_sweep_spec_load_text(sp, text, path, err, errlen);
	free(text);
	return rc;
}

char *attn_sweep_spec_text(const struct attn_sweep_spec *sp)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	if (!m)
		return NULL;
	for (int i = 0; i < ATTN_SWEEP_KEYS; i++)
		fprintf(m, "%s = %s\n", attn_sweep_keys[i], sp->value[i]);
	fclose(m);
	return text;
}

char *attn_sweep_spec_options(const struct attn_sweep_spec *sp, int *nomem)
{
	*nomem = 0;
	if (!sp->n_settings)
		return NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	if (!m) {
		*nomem = 1;
		return NULL;
	}
	for (int i = 0; i < sp->n_settings; i++) {
		int f = sp->order[i];
		const char *v = sp->setting[f], *sep = ftell(m) ? " " : "";
		int flag = f == ATTN_PROTO_COLD_CACHE || f == ATTN_PROTO_DUMP_MASK ||
		           f == ATTN_PROTO_INTERLEAVE || f == ATTN_PROTO_ROOF_PROBE;
		if (f == ATTN_PROTO_INTERLEAVE)
			fprintf(m, "%s%s", sep,
			        strcmp(v, "0") ? "--interleave" : "--no-interleave");
		else if (flag && strcmp(v, "0") != 0)
			fprintf(m, "%s%s", sep, attn_protocol_options[f]);
		else if (!flag)
			fprintf(m, "%s%s %s", sep, attn_protocol_options[f], v);
	}
	if (fclose(m) != 0 || !text) {
		free(text);
		*nomem = 1;
		return NULL;
	}
	return text;
}

void attn_case_describe(const struct attn_case *c, char *buf, size_t len)
{
	char params[256];
	attn_params_format(c->method, &c->params, params, sizeof(params));
	const struct attn_shape *s = &c->shape;
	snprintf(buf, len, "%s%s%s%s n=%lld d=%lld h=%lld/%lld b=%lld %s%s t=%d %s",
	         c->method->name, params[0] ? "[" : "", params, params[0] ? "]" : "",
	         (long long)s->n, (long long)s->d, (long long)s->heads, (long long)s->kv_heads,
	         (long long)s->batch, s->causal ? "causal " : "", attn_mode_name(s->mode),
	         c->threads, attn_dist_name(c->dist));
}

/* "0", "1" or "both" (and for mode "prefill", "decode", "both") into a list. */
static int parse_pair(const char *key, const char *v, const char *a, const char *b, int *vals,
                      int *count, char *err, size_t errlen)
{
	if (strcmp(v, a) == 0) {
		vals[0] = 0;
		*count = 1;
	} else if (strcmp(v, b) == 0) {
		vals[0] = 1;
		*count = 1;
	} else if (strcmp(v, "both") == 0) {
		vals[0] = 0;
		vals[1] = 1;
		*count = 2;
	} else {
		return attn_errf(err, errlen, ATTN_ERR_INVALID, "%s '%s': expected %s, %s or both",
		                 key, v, a, b);
	}
	return ATTN_OK;
}

/*
 * "gaussian,local": every element must name a distribution. An empty one
 * ("gaussian,,", a trailing ',') is an error, not skipped: it is a typo
 * whose intent cannot be guessed.
 */
static int parse_dists(const char *v, enum attn_dist *dists, int *count, char *err, size_t errlen)
{
	char *copy = attn__strdup(v);
	if (!copy)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	int rc = ATTN_OK;
	*count = 0;
	for (char *t = copy, *next; t && rc == ATTN_OK; t = next) {
		size_t off = (size_t)(t - copy);
		next = strchr(t, ',');
		if (next)
			*next++ = 0;
		enum attn_dist d;
		char why[256];
		if (!*attn__trim(t)) {
			char names[128] = "";
			for (int i = 0; i < ATTN_DIST_COUNT; i++)
				attn__append(names, sizeof(names), "%s%s", i ? ", " : "",
				             attn_dist_name((enum attn_dist)i));
			rc = attn_errf(err, errlen, ATTN_ERR_INVALID,
			               "dist '%s': empty element at offset %zu; expected a "
			               "distribution name (%s) between commas",
			               v, off, names);
			break;
		}
		if ((rc = attn_dist_parse(attn__trim(t), &d, why, sizeof(why)))) {
			attn_errf(err, errlen, rc, "dist: %s", why);
			break;
		}
		int seen = 0;
		for (int i = 0; i < *count; i++)
			seen |= dists[i] == d;
		if (!seen)
			dists[(*count)++] = d;
	}
	if (rc == ATTN_OK && *count == 0)
		rc =
		    attn_errf(err, errlen, ATTN_ERR_INVALID, "dist '%s': no distribution named", v);
	free(copy);
	return rc;
}

static int parse_seed(const char *v, uint64_t *seed, char *err, size_t errlen)
{
	char *end;
	if (!*v || *v == '-')
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "seed '%s': expected a non-negative integer", v);
	errno = 0;
	*seed = strtoull(v, &end, 10);
	if (*end)
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "seed '%s': expected a non-negative integer, '%s' is not a digit",
		                 v, end);
	/* strtoull saturates at 2^64-1: a different seed than the one written. */
	if (errno == ERANGE)
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "seed '%s' is above the largest seed, 18446744073709551615 "
		                 "(2^64-1)",
		                 v);
	return ATTN_OK;
}

int attn_sweep_expand(const struct attn_sweep_spec *sp, const struct attn_registry *reg,
                      struct attn_case_list *out, char *err, size_t errlen)
{
	static const struct {
		int key;
		int64_t min, max;
	} axes[] = {{K_N, 1, INT64_C(1) << 40}, {K_D, 1, 65536},     {K_HEADS, 1, 65536},
	            {K_KV_HEADS, 1, 65536},     {K_BATCH, 1, 65536}, {K_THREADS, 1, 4096}};
	struct attn_axis ax[6] = {{0}};
	struct attn_method_list ml = {0};
	int causal[2] = {0}, ncausal = 0, mode[2] = {0}, nmode = 0, ndist = 0;
	enum attn_dist dists[ATTN_DIST_COUNT];
	uint64_t seed = 0;
	char why[512];
	int rc = ATTN_OK;
	memset(out, 0, sizeof(*out));

	for (int i = 0; i < 6; i++) {
		const char *v = sp->value[axes[i].key];
		if (axes[i].key == K_KV_HEADS && strcmp(v, "heads") == 0)
			continue; /* same as heads, per case */
		if ((rc = attn_axis_parse(v, axes[i].min, axes[i].max, &ax[i], why, sizeof(why)))) {
			attn_errf(err, errlen, rc, "%s: %s", attn_sweep_keys[axes[i].key], why);
			goto done;
		}
	}
	if ((rc = parse_pair("causal", sp->value[K_CAUSAL], "0", "1", causal, &ncausal, err,
	                     errlen)) ||
	    (rc = parse_pair("mode", sp->value[K_MODE], "prefill", "decode", mode, &nmode, err,
	                     errlen)) ||
	    (rc = parse_dists(sp->value[K_DIST], dists, &ndist, err, errlen)) ||
	    (rc = parse_seed(sp->value[K_SEED], &seed, err, errlen)))
		goto done;
	if ((rc = attn_methods_parse(sp->value[K_METHODS], reg, &ml, why, sizeof(why)))) {
		attn_errf(err, errlen, rc, "methods: %s", why);
		goto done;
	}
	if (ml.count == 0) {
		rc = attn_errf(err, errlen, ATTN_ERR_INVALID, "methods '%s': no method selected",
		               sp->value[K_METHODS]);
		goto done;
	}

	/*
	 * Decode is causal: its one query, at the end of the cache, sees every
	 * key either way, and the methods that need causal order (gated,
	 * decayed, routed-causal) support decode only so. The causal axis
	 * spans the prefill cases; --causal 0 with decode alone asks for no case.
	 */
	if (nmode == 1 && mode[0] && ncausal == 1 && !causal[0]) {
		rc = attn_errf(err, errlen, ATTN_ERR_INVALID,
		               "causal 0 with mode decode: decode cases are always causal (the one "
		               "query sees the whole cache); drop causal or use mode both for "
		               "non-causal prefill beside decode");
		goto done;
	}
	struct attn_axis *n = &ax[0], *d = &ax[1], *h = &ax[2], *kvh = &ax[3], *b = &ax[4],
	                 *th = &ax[5];
	int nkv = kvh->count ? kvh->count : 1;
	double total = (double)ndist * b->count * h->count * nkv * d->count * n->count * ncausal *
	               nmode * th->count * ml.count;
	if (total > 1e6) {
		rc = attn_errf(err, errlen, ATTN_ERR_INVALID,
		               "the spec expands to %.0f cases; more than 1000000 is surely a "
		               "mistake",
		               total);
		goto done;
	}
	/* After the bound on the cases, which bounds this loop too. */
	for (int i = 0; i < h->count; i++)
		for (int j = 0; j < kvh->count; j++)
			if (kvh->values[j] > h->values[i] || h->values[i] % kvh->values[j]) {
				rc = attn_errf(
				    err, errlen, ATTN_ERR_INVALID,
				    "kv_heads %lld with heads %lld: the query heads must be a "
				    "multiple of the K/V heads (each K/V head serves "
				    "heads/kv_heads query heads)",
				    (long long)kvh->values[j], (long long)h->values[i]);
				goto done;
			}
	out->items = calloc(total > 0 ? (size_t)total : 1, sizeof(*out->items));
	if (!out->items) {
		rc = attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
		goto done;
	}
	for (int i0 = 0; i0 < ndist; i0++)
		for (int i1 = 0; i1 < b->count; i1++)
			for (int i2 = 0; i2 < h->count; i2++)
				for (int i3 = 0; i3 < nkv; i3++)
					for (int i4 = 0; i4 < nmode; i4++)
						for (int i5 = 0; i5 < ncausal; i5++)
							for (int i6 = 0; i6 < d->count; i6++)
								for (int i7 = 0; i7 < n->count;
								     i7++)
									for (int i8 = 0;
									     i8 < th->count; i8++)
										for (int i9 = 0;
										     i9 < ml.count;
										     i9++) {
											if (mode[i4] &&
											    !causal
											        [i5] &&
											    ncausal >
											        1)
												continue;
											struct attn_case *c =
											    &out->items
											         [out->count++];
											c->method =
											    ml.items[i9]
											        .method;
											c->params =
											    ml.items[i9]
											        .params;
											c->shape
											    .batch =
											    b->values
											        [i1];
											c->shape
											    .heads =
											    h->values
											        [i2];
											c->shape
											    .kv_heads =
											    kvh->count
											        ? kvh->values
											              [i3]
											        : h->values
											              [i2];
											c->shape.n =
											    n->values
											        [i7];
											c->shape.d =
											    d->values
											        [i6];
											c->shape
											    .causal =
											    mode[i4] ||
											    causal
											        [i5];
											c->shape
											    .mode =
											    mode[i4]
											        ? ATTN_MODE_DECODE
											        : ATTN_MODE_PREFILL;
											c->dist =
											    dists
											        [i0];
											c->threads =
											    (int)th->values
											        [i8];
											c->seed =
											    seed;
										}
done:
	for (int i = 0; i < 6; i++)
		attn_axis_free(&ax[i]);
	attn_method_list_free(&ml);
	if (rc)
		attn_case_list_free(out);
	return rc;
}

void attn_case_list_free(struct attn_case_list *list)
{
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

/* --- the measurement protocol ---------------------------------------------- */

/*
 * The keys bind, interleave, cold_cache_bytes, roof_probe and min_sample_s
 * are the ones runs recorded before the protocol was complete, so readers
 * of run_info find them where they were.
 */
const char *const attn_protocol_keys[ATTN_PROTO_COUNT] = {
    [ATTN_PROTO_TIMEOUT] = "timeout_s",
    [ATTN_PROTO_MAX_CALL] = "max_call_s",
    [ATTN_PROTO_WARMUP] = "warmup_s",
    [ATTN_PROTO_MIN_TIME] = "min_time_s",
    [ATTN_PROTO_MIN_REPS] = "min_reps",
    [ATTN_PROTO_MAX_REPS] = "max_reps",
    [ATTN_PROTO_MIN_SAMPLE] = "min_sample_s",
    [ATTN_PROTO_CHECK_MAX_FLOPS] = "check_max_flops",
    [ATTN_PROTO_MEM_LIMIT] = "mem_limit",
    [ATTN_PROTO_COUNTERS] = "counters",
    [ATTN_PROTO_BIND] = "bind",
    [ATTN_PROTO_COLD_CACHE] = "cold_cache_bytes",
    [ATTN_PROTO_DUMP_MASK] = "dump_mask",
    [ATTN_PROTO_INTERLEAVE] = "interleave",
    [ATTN_PROTO_ROOF_PROBE] = "roof_probe",
    [ATTN_PROTO_ROOF_BUDGET] = "roof_budget_s",
    [ATTN_PROTO_SPEC_OPTIONS] = "spec_options",
};

const char *const attn_protocol_options[ATTN_PROTO_COUNT] = {
    [ATTN_PROTO_TIMEOUT] = "--timeout",
    [ATTN_PROTO_MAX_CALL] = "--max-call-time",
    [ATTN_PROTO_WARMUP] = "--warmup",
    [ATTN_PROTO_MIN_TIME] = "--min-time",
    [ATTN_PROTO_MIN_REPS] = "--min-reps",
    [ATTN_PROTO_MAX_REPS] = "--max-reps",
    [ATTN_PROTO_MIN_SAMPLE] = "--min-sample",
    [ATTN_PROTO_CHECK_MAX_FLOPS] = "--check-max-flops",
    [ATTN_PROTO_MEM_LIMIT] = "--mem-limit",
    [ATTN_PROTO_COUNTERS] = "--counters",
    [ATTN_PROTO_BIND] = "--bind",
    [ATTN_PROTO_COLD_CACHE] = "--cold-cache",
    [ATTN_PROTO_DUMP_MASK] = "--dump-mask",
    [ATTN_PROTO_INTERLEAVE] = "--interleave/--no-interleave",
    [ATTN_PROTO_ROOF_PROBE] = "--roof-probe",
    [ATTN_PROTO_ROOF_BUDGET] = "--roof-budget",
    [ATTN_PROTO_SPEC_OPTIONS] = "the spec file's settings",
};

/* The shortest %g text that reads back as the same double (at most 17 digits). */
static int format_real(double v, char *buf, size_t len)
{
	char tmp[64];
	for (int digits = 15; digits < 17; digits++) {
		snprintf(tmp, sizeof(tmp), "%.*g", digits, v);
		if (strtod(tmp, NULL) == v)
			return snprintf(buf, len, "%s", tmp);
	}
	return snprintf(buf, len, "%.17g", v);
}

/* Where a real field lives, or NULL for a field that is not a real. */
static double *real_field(struct attn_sweep_protocol *p, enum attn_protocol_field f)
{
	switch (f) {
	case ATTN_PROTO_TIMEOUT: return &p->ro.timeout_s;
	case ATTN_PROTO_MAX_CALL: return &p->ro.max_call_s;
	case ATTN_PROTO_WARMUP: return &p->ro.warmup_s;
	case ATTN_PROTO_MIN_TIME: return &p->ro.min_time_s;
	case ATTN_PROTO_MIN_SAMPLE: return &p->ro.min_sample_s;
	case ATTN_PROTO_CHECK_MAX_FLOPS: return &p->ro.check_max_flops;
	case ATTN_PROTO_ROOF_BUDGET: return &p->roof_budget;
	default: return NULL;
	}
}

/* Where an int field lives, or NULL. */
static int *int_field(struct attn_sweep_protocol *p, enum attn_protocol_field f)
{
	switch (f) {
	case ATTN_PROTO_MIN_REPS: return &p->ro.min_reps;
	case ATTN_PROTO_MAX_REPS: return &p->ro.max_reps;
	case ATTN_PROTO_DUMP_MASK: return &p->ro.dump_mask;
	case ATTN_PROTO_INTERLEAVE: return &p->interleave;
	case ATTN_PROTO_ROOF_PROBE: return &p->ro.roof_probe;
	default: return NULL;
	}
}

/* Where a size field lives, or NULL. */
static size_t *size_field(struct attn_sweep_protocol *p, enum attn_protocol_field f)
{
	switch (f) {
	case ATTN_PROTO_MEM_LIMIT: return &p->ro.mem_limit;
	case ATTN_PROTO_COLD_CACHE: return &p->ro.flush_bytes;
	default: return NULL;
	}
}

int attn_protocol_format(const struct attn_sweep_protocol *p, enum attn_protocol_field f, char *buf,
                         size_t len)
{
	/* The accessors do not write; they only need one signature for both ways. */
	struct attn_sweep_protocol *q = (struct attn_sweep_protocol *)p;
	const double *r = real_field(q, f);
	const int *i = int_field(q, f);
	const size_t *z = size_field(q, f);
	if (r)
		return format_real(*r, buf, len);
	if (i)
		return snprintf(buf, len, "%d", *i);
	if (z)
		return snprintf(buf, len, "%zu", *z);
	switch (f) {
	case ATTN_PROTO_COUNTERS:
		return snprintf(buf, len, "%s", p->ro.counters ? p->ro.counters : "default");
	case ATTN_PROTO_BIND: return snprintf(buf, len, "%s", attn_bind_name(p->ro.bind));
	case ATTN_PROTO_SPEC_OPTIONS: return snprintf(buf, len, "%s", p->options ? p->options : "");
	default: return snprintf(buf, len, "?");
	}
}

/* Numbers as a user writes them, the same on the command line and in a spec file. */
int attn_parse_real(const char *text, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (end == text || *end || errno || !isfinite(v) || v < 0)
		return -1;
	*out = v;
	return 0;
}

int attn_parse_size(const char *text, size_t *out)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (end == text || errno || v < 0)
		return -1;
	double mult = 1;
	switch (*end) {
	case 'k':
	case 'K':
		mult = 1024.0;
		end++;
		break;
	case 'm':
	case 'M':
		mult = 1024.0 * 1024;
		end++;
		break;
	case 'g':
	case 'G':
		mult = 1024.0 * 1024 * 1024;
		end++;
		break;
	case 't':
	case 'T':
		mult = 1024.0 * 1024 * 1024 * 1024;
		end++;
		break;
	}
	if (*end == 'i' || *end == 'B')
		end += *end == 'i' ? 1 : 0;
	if (*end == 'B')
		end++;
	if (*end || v * mult > 1.8e19)
		return -1;
	*out = (size_t)(v * mult);
	return 0;
}

int attn_sweep_setting_parse(struct attn_sweep_protocol *p, enum attn_protocol_field f,
                             const char *text, const char *name, char *err, size_t errlen)
{
	double *r = real_field(p, f);
	int *i = int_field(p, f);
	double dv;
	switch (f) {
	case ATTN_PROTO_TIMEOUT:
	case ATTN_PROTO_MAX_CALL:
	case ATTN_PROTO_WARMUP:
	case ATTN_PROTO_MIN_TIME:
	case ATTN_PROTO_MIN_SAMPLE:
		if (attn_parse_real(text, &dv) || (f == ATTN_PROTO_TIMEOUT && dv <= 0))
			return attn_errf(err, errlen, ATTN_ERR_INVALID,
			                 "%s '%s': expected a %snumber of seconds", name, text,
			                 f == ATTN_PROTO_TIMEOUT ? "positive " : "non-negative ");
		*r = dv;
		return ATTN_OK;
	case ATTN_PROTO_MIN_REPS:
	case ATTN_PROTO_MAX_REPS: {
		char *end;
		errno = 0;
		long v = strtol(text, &end, 10);
		if (end == text || *end || errno || v < 1 || v > 1000000)
			return attn_errf(err, errlen, ATTN_ERR_INVALID,
			                 "%s '%s': expected a whole number in 1..1000000", name,
			                 text);
		*i = (int)v;
		return ATTN_OK;
	}
	case ATTN_PROTO_CHECK_MAX_FLOPS:
		if (attn_parse_real(text, r))
			return attn_errf(err, errlen, ATTN_ERR_INVALID,
			                 "%s '%s': expected a number >= 0", name, text);
		return ATTN_OK;
	case ATTN_PROTO_ROOF_BUDGET:
		if (attn_parse_real(text, r))
			return attn_errf(err, errlen, ATTN_ERR_INVALID,
			                 "%s '%s': expected seconds >= 0 (0 skips the roofs)", name,
			                 text);
		return ATTN_OK;
	case ATTN_PROTO_MEM_LIMIT:
		if (attn_parse_size(text, &p->ro.mem_limit) || p->ro.mem_limit == 0)
			return attn_errf(err, errlen, ATTN_ERR_INVALID,
			                 "%s '%s': expected a size like 8G or 512M", name, text);
		return ATTN_OK;
	case ATTN_PROTO_COUNTERS: p->ro.counters = text; return ATTN_OK;
	case ATTN_PROTO_BIND:
		if (attn_bind_parse(text, &p->ro.bind, NULL, 0))
			return attn_errf(err, errlen, ATTN_ERR_INVALID,
			                 "%s '%s': expected compact, scatter or none", name, text);
		return ATTN_OK;
	case ATTN_PROTO_COLD_CACHE:
	case ATTN_PROTO_DUMP_MASK:
	case ATTN_PROTO_INTERLEAVE:
	case ATTN_PROTO_ROOF_PROBE:
		if (strcmp(text, "0") != 0 && strcmp(text, "1") != 0)
			return attn_errf(err, errlen, ATTN_ERR_INVALID, "%s '%s': expected 0 or 1",
			                 name, text);
		*(f == ATTN_PROTO_COLD_CACHE ? &p->cold_cache : i) = text[0] == '1';
		return ATTN_OK;
	default: return attn_errf(err, errlen, ATTN_ERR_INVALID, "%s: not a sweep setting", name);
	}
}

int attn_protocol_parse(struct attn_sweep_protocol *p, enum attn_protocol_field f, const char *text,
                        char *err, size_t errlen)
{
	if ((int)f < 0 || f >= ATTN_PROTO_COUNT || !text)
		return attn_errf(err, errlen, ATTN_ERR_INVALID, "no such protocol field");
	const char *key = attn_protocol_keys[f];
	double *r = real_field(p, f);
	int *i = int_field(p, f);
	size_t *z = size_field(p, f);
	char *end;
	errno = 0;
	if (r) {
		double v = strtod(text, &end);
		if (!*text || *end || errno || !isfinite(v) || v < 0)
			return attn_errf(err, errlen, ATTN_ERR_FORMAT,
			                 "stored %s '%s': expected a number >= 0", key, text);
		*r = v;
	} else if (i) {
		long v = strtol(text, &end, 10);
		if (!*text || *end || errno || v < 0 || v > 1000000)
			return attn_errf(err, errlen, ATTN_ERR_FORMAT,
			                 "stored %s '%s': expected a whole number in 0..1000000",
			                 key, text);
		*i = (int)v;
	} else if (z) {
		unsigned long long v = strtoull(text, &end, 10);
		if (!*text || *end || errno || *text == '-' || v > SIZE_MAX)
			return attn_errf(err, errlen, ATTN_ERR_FORMAT,
			                 "stored %s '%s': expected a number of bytes", key, text);
		*z = (size_t)v;
	} else if (f == ATTN_PROTO_COUNTERS) {
		p->ro.counters = strcmp(text, "default") == 0 ? NULL : text;
	} else if (f == ATTN_PROTO_BIND) {
		char why[256];
		if (attn_bind_parse(text, &p->ro.bind, why, sizeof(why)))
			return attn_errf(err, errlen, ATTN_ERR_FORMAT, "stored %s: %s", key, why);
	} else {
		p->options = *text ? text : NULL;
	}
	return ATTN_OK;
}

/* --- plugin identity -------------------------------------------------------- */

int attn_plugin_fingerprint(const char *path, char *buf, size_t len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return attn_errf(err, errlen, ATTN_ERR_IO, "cannot read plugin %s: %s", path,
		                 strerror(errno));
	uint64_t h = ATTN__FNV_BASIS;
	unsigned char chunk[65536];
	size_t got;
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		h = attn__fnv1a64(h, chunk, got);
	int bad = ferror(f);
	fclose(f);
	if (bad)
		return attn_errf(err, errlen, ATTN_ERR_IO, "cannot read plugin %s", path);
	snprintf(buf, len, "fnv1a64:%016llx", (unsigned long long)h);
	return ATTN_OK;
}
