/*
 * attnbench sweep: expand a spec into cases, run each isolated, and commit
 * each to the database as it finishes.
 *
 * The parent is the only writer. SIGINT/SIGTERM stop the sweep between
 * cases (the case in flight is killed and not recorded) and mark the run
 * interrupted; kill -9 leaves it "running". Either way `--resume` finds the
 * newest unfinished run, re-expands its stored spec and runs only the cases
 * the database does not hold yet.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attnbench/bind.h"
#include "attnbench/calib.h"
#include "attnbench/counters.h"
#include "attnbench/forms.h"
#include "attnbench/noise.h"
#include "attnbench/registry.h"
#include "attnbench/runner.h"
#include "attnbench/spec.h"
#include "attnbench/store.h"
#include "attnbench/sweep.h"
#include "attnbench/sysinfo.h"
#include "attnbench/status.h"
#include "cli.h"
#include "internal.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static const char *help_text =
	"usage: attnbench sweep [--methods LIST] [--n SPEC] [--d SPEC] [--heads SPEC]\n"
	"                       [--kv-heads SPEC] [--batch SPEC] [--threads SPEC]\n"
	"                       [--causal[=0|1|both]] [--mode prefill|decode|both]\n"
	"                       [--dist NAME[,NAME]] [--seed N] [--preset NAME | --spec FILE]\n"
	"                       [--db FILE] [--resume] [--plugin FILE.so]... [tuning]\n"
	"\n"
	"Runs every combination of the axes for every method, each case in its own\n"
	"process, and commits each case to the database as it finishes.\n"
	"\n"
	"axes (SPEC): 64,128  |  256..65536x2 (geometric)  |  1..8+1 (linear); k and M\n"
	"  suffixes (64k). Defaults: --n 256..4096x2 --d 64 --heads 1 --kv-heads = heads\n"
	"  --batch 1 --threads 1 --causal 0 --mode prefill --dist gaussian --seed 42.\n"
	"methods (LIST): name,name[key=v1,v2;key=lo..hi x2],...  or all (the default:\n"
	"  every method but oracles). Example: flash[bq=32,64;bk=64],softmax\n"
	"dist: gaussian, local (peaked near the diagonal), needle (few keys dominate)\n"
	"--preset NAME   load workloads/presets/NAME.spec; --spec FILE loads a spec\n"
	"                file (key = value lines); axes given on the command line\n"
	"                override it. Its `options = --min-reps 15 ...` line holds\n"
	"                sweep options, applied as if given before the command\n"
	"                line's own (which override them)\n"
	"--db FILE       the database (default results/attnbench.db; created)\n"
	"--resume        finish the newest unfinished run in --db: its cases already\n"
	"                recorded are not run again; spec options must match it.\n"
	"                The run's measurement options (tuning and measurement\n"
	"                below, and the spec file's options line) are restored from\n"
	"                it: one given again with another value is refused (exit 2).\n"
	"                A method the run took from a plugin must come from the same\n"
	"                .so (its FNV-1a hash, run_info plugin:PATH), else refused.\n"
	"                A run another live sweep is writing is refused (exit 3),\n"
	"                naming it; one whose writer died is taken over\n"
	"--take-over     with --resume: take the run from a writer on another host,\n"
	"                which cannot be checked from here (your word that it is gone)\n"
	"--dry-run       print the cases and exit\n";

static const char *help_tuning =

	"tuning: --timeout S (120) --warmup S (0.05) --min-time S (0.2)\n"
	"        --max-call-time S (60: skip, as skipped_time, a case whose one call\n"
	"        needs longer even at the measured FMA roof; 0 never skips)\n"
	"        --min-reps N (5) --max-reps N (1000) --min-sample S (0.0005: a sample\n"
	"        averages calls until it lasts this long) --check-max-flops F (2e9: check\n"
	"        against the float64 oracle when 4*B*H*NQ*N*D is below)\n"
	"        --mem-limit BYTES (default 90% of MemAvailable; 8G, 512M)  --quiet\n"
	"measurement:\n"
	"  --counters LIST  events per sample: PAPI presets or native names, e.g.\n"
	"                   PAPI_TOT_INS,perf::TASK-CLOCK (default: a hardware and\n"
	"                   software set; 'none' for none). Events this machine lacks\n"
	"                   are reported once and stored as NULL, never 0.\n"
	"  --bind compact|scatter|none   thread placement (default compact)\n"
	"  --interleave     run the repetitions of the methods at one shape\n"
	"                   round-robin, so drifts in machine speed hit all alike\n"
	"                   (default; --no-interleave runs each case to the end)\n"
	"  --cold-cache     evict the caches before every repetition (default warm)\n"
	"  --dump-mask      store the kept-block mask of head 0 of every sparse case\n"
	"                   (table masks), from one extra untimed call\n"
	"  --roof-budget S  seconds per thread count for the FMA, sgemm and triad\n"
	"                   roofs measured before the sweep (default 3; 0 skips them\n"
	"                   and leaves the fractions of roof NULL)\n"
	"  --roof-probe     after every timed sample, outside it, time a fixed\n"
	"                   OpenBLAS sgemm (256^3, single precision, the case's\n"
	"                   thread count, ~0.5 ms): stored per sample as roof_ns, the\n"
	"                   ns of one call, so `compare` can divide out the\n"
	"                   machine's speed at that moment\n"
	"\n"
	"environment: ATTNBENCH_INJECT_SLOWDOWN=method:factor (factor in (1, 10])\n"
	"  makes that method's timed samples factor times longer with busy work, for\n"
	"  testing the regression gate only; recorded as run_info inject_slowdown.\n";

/* The rest of the help, apart: one string literal may not be longer than 4095 bytes in C11. */
static const char *help_tail =
	"\n"
	"More threads than the CPUs this process may use are warned about and\n"
	"recorded (run_info oversubscribed, metric oversubscribed per case).\n"
	"\n"
	"exit: 0 every case ok, unsupported or skipped (memory, time); 1 some case\n"
	"crashed, timed out, failed or failed its check; 2 bad spec or option;\n"
	"3 database error (\"stopped on a database error\"; the cases recorded are\n"
	"kept: resume with --resume); 130 interrupted (resume with --resume).\n";

enum {
	O_METHODS = 256, O_N, O_D, O_HEADS, O_KVH, O_BATCH, O_THREADS, O_CAUSAL, O_MODE, O_DIST,
	O_SEED, O_PRESET, O_SPEC, O_DB, O_RESUME, O_PLUGIN, O_TIMEOUT, O_WARMUP, O_MINTIME,
	O_MINREPS, O_MAXREPS, O_CHECKF, O_MEMLIM, O_QUIET, O_DRY, O_COUNTERS, O_BIND, O_COLD,
	O_INTERLEAVE, O_NO_INTERLEAVE, O_ROOF, O_MAXCALL, O_MASK, O_PROBE, O_MINSAMPLE, O_TAKEOVER
};

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

static void fmt_clock(double s, char *buf, size_t len)
{
	long t = (long)(s + 0.5);
	if (t >= 3600)
		snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

static void describe(const struct attn_case *c, char *buf, size_t len)
{
	char params[256];
	attn_params_format(c->method, &c->params, params, sizeof(params));
	const struct attn_shape *s = &c->shape;
	snprintf(buf, len, "%s%s%s%s n=%lld d=%lld h=%lld/%lld b=%lld %s%s t=%d %s", c->method->name,
		 params[0] ? "[" : "", params, params[0] ? "]" : "", (long long)s->n,
		 (long long)s->d, (long long)s->heads, (long long)s->kv_heads, (long long)s->batch,
		 s->causal ? "causal " : "", attn_mode_name(s->mode), c->threads,
		 attn_dist_name(c->dist));
}

static const char *form_of(const struct attn_case *c, char *buf, size_t len)
{
	int i = attn_method_form_param(c->method);
	if (i < 0)
		return NULL;
	attn_param_choice_name(&c->method->params[i], (int)c->params.v[i], buf, len);
	return buf;
}

/*
 * Write one finished case. `cpus` is how many CPUs the sweep may use: a case
 * with more threads gets the metric `oversubscribed`, its threads per CPU,
 * so its time is never read as that of a normal case.
 */
static int store_result(struct attn_store *st, int64_t run_id, const struct attn_case *c,
			const char *key, const struct attn_case_result *r, int cpus, char *err,
			size_t errlen)
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
	if (c->threads > cpus)
		metrics[n_metrics++] = (struct attn_metric){.name = "oversubscribed",
							    .value = (double)c->threads / cpus,
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
		.n_counters = r->n_samples ? r->n_counters : 0,
		.counter_names = names,
		.sample_counters = r->sample_counters,
		.mask = r->mask,
		.mask_nqb = r->mask_nqb,
		.mask_nkb = r->mask_nkb,
	};
	int rc = attn_store_case_write(st, run_id, &rec, err, errlen);
	free(params);
	free(form);
	free(metrics);
	return rc;
}

/* Create the database's folder if it is missing (results/ on a fresh clone). */
static void ensure_parent_dir(const char *path)
{
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = 0;
	mkdir(dir, 0777);
}

/* Cases that differ only in method and parameters: one interleaving group. */
static int same_shape(const struct attn_case *a, const struct attn_case *b)
{
	return memcmp(&a->shape, &b->shape, sizeof(a->shape)) == 0 && a->dist == b->dist &&
	       a->threads == b->threads && a->seed == b->seed;
}

/*
 * Measure the roofs at `threads` in a child (fork-safe for OpenBLAS). The
 * child takes seconds, so it must not outlive the sweep: it dies with its
 * parent (PR_SET_PDEATHSIG, checked against a parent that died before the
 * prctl), and it leads a process group of its own, which the parent kills
 * whole once it has the answer or gives up (a stop signal, a short read),
 * so nothing it started is left either. Its own group also keeps a
 * terminal's Ctrl-C for the parent, which decides.
 */
static int measure_roof(int threads, double budget, size_t llc, struct attn_roof *roof,
			char *err, size_t errlen)
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
	while (got < (ssize_t)sizeof(*roof) && !stop_flag) {
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
				 stop_flag ? "was interrupted" : "failed");
	return ATTN_OK;
}

/*
 * Everything the measurement layer needs before the first case: the noise
 * factors (warned about), which counters this machine has (recorded, with
 * their overhead), the cache sizes, and the roofs at every thread count the
 * sweep uses - measured now, or on --resume read back from the run.
 */
static int measure_setup(struct attn_store *st, int64_t run_id, int resume,
			 const struct attn_case_list *cases, struct attn_sysinfo *si,
			 struct attn_run_opts *ro, struct attn_roof *roofs, int *n_roofs,
			 double budget, int quiet, char *err, size_t errlen)
{
	ro->cache_bytes[0] = si->l1d_bytes;
	ro->cache_bytes[1] = si->l2_bytes;
	ro->cache_bytes[2] = si->l3_bytes;

	if (!resume && !(ro->counters && strcmp(ro->counters, "none") == 0)) {
		struct attn_counters *ctr;
		if (attn_counters_open(ro->counters, &ctr, err, errlen))
			return ATTN_ERR_INVALID;
		struct attn_counter_info info[ATTN_MAX_COUNTERS];
		int n = attn_counters_count(ctr);
		for (int e = 0; e < n; e++) {
			const char *why = NULL, *src = NULL;
			info[e].event = attn_counters_name(ctr, e);
			info[e].available = attn_counters_available(ctr, e, &why, &src);
			info[e].source = src;
			info[e].reason = info[e].available ? NULL : why;
			if (!info[e].available && !quiet)
				fprintf(stderr, "sweep: counter %s unavailable here (%s); stored as "
						"NULL\n",
					info[e].event, why ? why : "?");
		}
		char ov[64];
		snprintf(ov, sizeof(ov), "%.0f", attn_counters_overhead_ns(ctr, 101));
		struct attn_kv kv = {"counters_overhead_ns", ov};
		int rc = attn_store_run_counters(st, run_id, info, n, err, errlen);
		if (!rc)
			rc = attn_store_run_info(st, run_id, &kv, 1, err, errlen);
		attn_counters_close(ctr);
		if (rc)
			return rc;
	}

	*n_roofs = 0;
	if (resume && attn_store_run_roofs_load(st, run_id, roofs, ATTN_MAX_ROOFS, n_roofs, err,
						errlen))
		return ATTN_ERR_DB;
	for (int i = 0; budget > 0 && !stop_flag && i < cases->count; i++) {
		int t = cases->items[i].threads, have = 0;
		for (int k = 0; k < *n_roofs; k++)
			have |= roofs[k].threads == t;
		if (have || *n_roofs == ATTN_MAX_ROOFS)
			continue;
		if (!quiet)
			fprintf(stderr, "sweep: measuring the roofs at %d thread%s ...\n", t,
				t > 1 ? "s" : "");
		char why[256];
		if (measure_roof(t, budget, si->l3_bytes ? si->l3_bytes : si->l2_bytes,
				 &roofs[*n_roofs], why, sizeof(why))) {
			fprintf(stderr, "sweep: warning: %s; fractions of roof at %d threads "
					"will be NULL\n",
				why, t);
			continue;
		}
		struct attn_roof *r = &roofs[(*n_roofs)++];
		if (!quiet)
			fprintf(stderr,
				"sweep: roofs at %d thread%s: FMA peak %.1f GFLOP/s (%s), sgemm "
				"%.1f GFLOP/s (n=%lld), triad %.1f GB/s\n",
				t, t > 1 ? "s" : "", r->fma_gflops, r->fma_isa, r->sgemm_gflops,
				(long long)r->sgemm_n, r->triad_gbps);
		if (attn_store_run_roof(st, run_id, r, err, errlen))
			return ATTN_ERR_DB;
	}
	ro->roofs = roofs;
	ro->n_roofs = *n_roofs;
	return ATTN_OK;
}

/*
 * The file --preset NAME or --spec FILE names (the last one given), or NULL:
 * a quiet first look at argv, so that the file's options line can be parsed
 * before the command line's options.
 */
static char *spec_file_of(int argc, char **argv, const struct option *opts, char *buf,
			  size_t len)
{
	char *file = NULL;
	int c, quiet = opterr;
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == O_PRESET) {
			snprintf(buf, len, "%s/workloads/presets/%s.spec", cli_data_dir(), optarg);
			file = buf;
		} else if (c == O_SPEC) {
			file = optarg;
		}
	}
	opterr = quiet;
	optind = 0;
	return file;
}

/*
 * A spec file's options (sp->options) split into an argv (malloc'd, words
 * point into *text, a malloc'd copy), with `name` as its argv[0]; *argc 0
 * when there are none. NULL when out of memory.
 */
static char **file_argv(const char *options, const char *name, char **text, int *argc)
{
	*argc = 0;
	*text = options ? strdup(options) : NULL;
	char **av = calloc((*text ? strlen(*text) / 2 : 0) + 3, sizeof(*av));
	if (!av || (options && !*text)) {
		free(av);
		return NULL;
	}
	av[(*argc)++] = (char *)name;
	for (char *save = NULL, *w = *text ? strtok_r(*text, " \t", &save) : NULL; w;
	     w = strtok_r(NULL, " \t", &save))
		av[(*argc)++] = w;
	if (*argc == 1)
		*argc = 0;
	return av;
}

/* The CPUs this process may run on (its affinity mask), at least 1. */
static int usable_cpus(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

/* The protocol field an option sets, or -1 for an option outside it. */
static int proto_field_of(int c)
{
	switch (c) {
	case O_TIMEOUT: return ATTN_PROTO_TIMEOUT;
	case O_MAXCALL: return ATTN_PROTO_MAX_CALL;
	case O_WARMUP: return ATTN_PROTO_WARMUP;
	case O_MINTIME: return ATTN_PROTO_MIN_TIME;
	case O_MINREPS: return ATTN_PROTO_MIN_REPS;
	case O_MAXREPS: return ATTN_PROTO_MAX_REPS;
	case O_MINSAMPLE: return ATTN_PROTO_MIN_SAMPLE;
	case O_CHECKF: return ATTN_PROTO_CHECK_MAX_FLOPS;
	case O_MEMLIM: return ATTN_PROTO_MEM_LIMIT;
	case O_COUNTERS: return ATTN_PROTO_COUNTERS;
	case O_BIND: return ATTN_PROTO_BIND;
	case O_COLD: return ATTN_PROTO_COLD_CACHE;
	case O_MASK: return ATTN_PROTO_DUMP_MASK;
	case O_INTERLEAVE:
	case O_NO_INTERLEAVE: return ATTN_PROTO_INTERLEAVE;
	case O_PROBE: return ATTN_PROTO_ROOF_PROBE;
	case O_ROOF: return ATTN_PROTO_ROOF_BUDGET;
	default: return -1;
	}
}

/* Key/value pairs a run records beside sysinfo's, both texts malloc'd. */
struct kv_list {
	int n, cap;
	struct attn_kv *kv;
};

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

/*
 * The plugins the cases' methods come from, for the record: per shared
 * object, "plugin:<absolute path>" = "<fingerprint> methods=a,b" (the
 * methods of it the sweep runs). -1 after the message when a plugin cannot
 * be read or memory runs out.
 */
static int plugins_record(const struct attn_case_list *cases, const struct attn_registry *reg,
			  struct kv_list *out)
{
	int nr = attn_registry_count(reg), rc = 0;
	char *used = calloc(nr > 0 ? (size_t)nr : 1, 1);
	if (!used) {
		cli_error("sweep", "out of memory");
		return -1;
	}
	for (int i = 0; i < cases->count; i++) {
		int k = index_of(reg, cases->items[i].method);
		if (k >= 0)
			used[k] = 1;
	}
	for (int i = 0; rc == 0 && i < nr; i++) {
		const char *origin = attn_registry_origin(reg, i);
		int first = used[i] && strcmp(origin, "built-in") != 0;
		for (int j = 0; first && j < i; j++)
			first = !(used[j] && strcmp(attn_registry_origin(reg, j), origin) == 0);
		if (!first)
			continue;
		char id[64], err[1024], abs[PATH_MAX];
		if (attn_plugin_fingerprint(origin, id, sizeof(id), err, sizeof(err))) {
			cli_error("sweep", "%s", err);
			rc = -1;
			break;
		}
		char *names = NULL, *key = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&names, &len);
		for (int j = i; m && j < nr; j++)
			if (used[j] && strcmp(attn_registry_origin(reg, j), origin) == 0)
				fprintf(m, "%s%s", ftell(m) ? "," : "",
					attn_registry_at(reg, j)->name);
		if (m && fclose(m) == 0 &&
		    asprintf(&key, "plugin:%s", realpath(origin, abs) ? abs : origin) < 0)
			key = NULL;
		if (!m || !names || !key || kv_add(out, key, "%s methods=%s", id, names)) {
			cli_error("sweep", "out of memory");
			rc = -1;
		}
		free(names);
		free(key);
	}
	free(used);
	return rc;
}

/*
 * What run_info holds for key of run_id, malloc'd, into *value (NULL when
 * absent); -1 when it cannot be read.
 */
static int stored_info(struct attn_store *st, int64_t run_id, const char *key, char **value)
{
	sqlite3 *db = attn_store_db(st);
	sqlite3_stmt *s;
	*value = NULL;
	if (sqlite3_prepare_v2(db, "SELECT value FROM run_info WHERE run_id = ? AND key = ?", -1,
			       &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, run_id);
	sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(s, 0);
		rc = (*value = attn__strdup(t ? (const char *)t : "")) ? SQLITE_DONE : SQLITE_NOMEM;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * --resume: every method the run took from a plugin must come from the same
 * shared object now: loaded (from any path) with the fingerprint recorded.
 * `*methods` receives ",a,b," of those methods (malloc'd), for the check
 * after the expansion. EXIT_OK, or the exit code after the message.
 */
static int plugins_check(struct attn_store *st, int64_t run_id, const struct attn_registry *reg,
			 int quiet, char **methods)
{
	sqlite3 *db = attn_store_db(st);
	sqlite3_stmt *s;
	char *all = attn__strdup(",");
	*methods = NULL;
	if (!all || sqlite3_prepare_v2(db,
				       "SELECT substr(key, 8), value FROM run_info WHERE run_id = ? "
				       "AND substr(key, 1, 7) = 'plugin:' ORDER BY key",
				       -1, &s, NULL) != SQLITE_OK) {
		cli_error("sweep", "--resume: reading the run's plugins: %s",
			  all ? sqlite3_errmsg(db) : "out of memory");
		free(all);
		return all ? EXIT_DB : EXIT_USAGE;
	}
	sqlite3_bind_int64(s, 1, run_id);
	int rc = EXIT_OK, step = SQLITE_DONE;
	while (rc == EXIT_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *path = (const char *)sqlite3_column_text(s, 0);
		const char *value = (const char *)sqlite3_column_text(s, 1);
		const char *list = value ? strstr(value, " methods=") : NULL;
		if (!path || !list) {
			cli_error("sweep",
				  "--resume: run %lld's record of plugin %s is malformed: '%s'",
				  (long long)run_id, path ? path : "?", value ? value : "");
			rc = EXIT_DB;
			break;
		}
		int idlen = (int)(list - value);
		char *names = attn__strdup(list + 9), *save = NULL;
		for (char *m = names ? strtok_r(names, ",", &save) : NULL; m && rc == EXIT_OK;
		     m = strtok_r(NULL, ",", &save)) {
			const struct attn_method *now = attn_registry_find(reg, m);
			const char *origin = now ? origin_of(reg, now) : NULL;
			char id[64] = "", why[1024], *grown = NULL;
			if (!now) {
				cli_error("sweep",
					  "--resume: run %lld measured %s from the plugin %s (%.*s), "
					  "which is not loaded now; pass --plugin %s",
					  (long long)run_id, m, path, idlen, value, path);
				rc = EXIT_USAGE;
			} else if (strcmp(origin, "built-in") == 0) {
				cli_error("sweep",
					  "--resume: run %lld measured %s from the plugin %s (%.*s), "
					  "but %s is built in now: other code; start a new sweep",
					  (long long)run_id, m, path, idlen, value, m);
				rc = EXIT_USAGE;
			} else if (attn_plugin_fingerprint(origin, id, sizeof(id), why,
							   sizeof(why))) {
				cli_error("sweep", "--resume: %s", why);
				rc = EXIT_USAGE;
			} else if ((int)strlen(id) != idlen || strncmp(id, value, (size_t)idlen)) {
				cli_error("sweep",
					  "--resume: run %lld measured %s from %s (%.*s), but the %s "
					  "loaded now is %s (%s): another build of the plugin; load "
					  "the one the run was measured with, or start a new sweep",
					  (long long)run_id, m, path, idlen, value, m, origin, id);
				rc = EXIT_USAGE;
			} else if (asprintf(&grown, "%s%s,", all, m) < 0) {
				cli_error("sweep", "out of memory");
				rc = EXIT_USAGE;
			} else {
				char abs[PATH_MAX];
				if (!quiet && strcmp(realpath(origin, abs) ? abs : origin, path))
					fprintf(stderr,
						"sweep: note: %s comes from %s now, %s when the run "
						"started; the same file (%s)\n",
						m, origin, path, id);
				free(all);
				all = grown;
			}
		}
		if (!names) {
			cli_error("sweep", "out of memory");
			rc = EXIT_USAGE;
		}
		free(names);
	}
	if (rc == EXIT_OK && step != SQLITE_DONE) {
		cli_error("sweep", "--resume: reading the run's plugins: %s", sqlite3_errmsg(db));
		rc = EXIT_DB;
	}
	sqlite3_finalize(s);
	if (rc == EXIT_OK)
		*methods = all;
	else
		free(all);
	return rc;
}

/*
 * --resume: a case whose method comes from a plugin the run did not take it
 * from (`methods` from plugins_check) would measure code the run never saw,
 * e.g. `all` growing by a plugin loaded only now. EXIT_OK or EXIT_USAGE.
 */
static int plugins_new(int64_t run_id, const struct attn_case_list *cases,
		       const struct attn_registry *reg, const char *methods)
{
	for (int i = 0; i < cases->count; i++) {
		const struct attn_method *m = cases->items[i].method;
		const char *origin = origin_of(reg, m);
		char needle[80];
		snprintf(needle, sizeof(needle), ",%s,", m->name);
		if (strcmp(origin, "built-in") != 0 && !strstr(methods, needle)) {
			cli_error("sweep",
				  "--resume: %s (from the plugin %s) is not a method run %lld "
				  "measured; resume without that plugin, or start a new sweep",
				  m->name, origin, (long long)run_id);
			return EXIT_USAGE;
		}
	}
	return EXIT_OK;
}

/*
 * --resume: put the run's stored protocol in force. A field the command
 * line (or the spec file it names) gave with another value is refused,
 * naming both; every other field is taken from the run. `stored` receives
 * the texts the protocol now points into (ATTN_PROTO_COUNT, malloc'd). A
 * run recorded before protocols were stored resumes with the options given
 * now, after a warning. EXIT_OK, or the exit code after the message.
 */
static int protocol_restore(struct attn_store *st, int64_t run_id, struct attn_sweep_protocol *p,
			    const int *given, char **stored)
{
	char *version = NULL, err[1024];
	if (stored_info(st, run_id, ATTN_PROTOCOL_KEY, &version)) {
		cli_error("sweep", "--resume: reading run %lld's measurement options: %s",
			  (long long)run_id, sqlite3_errmsg(attn_store_db(st)));
		return EXIT_DB;
	}
	if (!version) {
		fprintf(stderr,
			"sweep: warning: run %lld was recorded before sweeps stored their "
			"measurement options and plugin fingerprints: resuming with the ones "
			"given now, which may differ from those of its first part\n",
			(long long)run_id);
		return EXIT_OK;
	}
	int rc = EXIT_OK;
	if (strcmp(version, ATTN_PROTOCOL_VERSION) != 0) {
		cli_error("sweep",
			  "--resume: run %lld stored its measurement options as version %s; this "
			  "attnbench knows version %s",
			  (long long)run_id, version, ATTN_PROTOCOL_VERSION);
		rc = EXIT_USAGE;
	}
	free(version);
	for (int f = 0; rc == EXIT_OK && f < ATTN_PROTO_COUNT; f++) {
		const char *key = attn_protocol_keys[f];
		if (stored_info(st, run_id, key, &stored[f])) {
			cli_error("sweep", "--resume: reading run %lld's %s: %s", (long long)run_id,
				  key, sqlite3_errmsg(attn_store_db(st)));
			return EXIT_DB;
		}
		if (!stored[f]) {
			cli_error("sweep", "--resume: run %lld's measurement options lack %s",
				  (long long)run_id, key);
			return EXIT_DB;
		}
		int need = attn_protocol_format(p, (enum attn_protocol_field)f, NULL, 0);
		char *now = malloc(need > 0 ? (size_t)need + 1 : 1);
		if (!now) {
			cli_error("sweep", "out of memory");
			return EXIT_USAGE;
		}
		attn_protocol_format(p, (enum attn_protocol_field)f, now,
				     need > 0 ? (size_t)need + 1 : 1);
		if (given[f] && strcmp(now, stored[f]) != 0) {
			cli_error("sweep",
				  "--resume: run %lld was measured with %s = %s, not %s (%s given "
				  "now); resume without it, or start a new sweep",
				  (long long)run_id, key, stored[f][0] ? stored[f] : "(none)",
				  now[0] ? now : "(none)", attn_protocol_options[f]);
			rc = EXIT_USAGE;
		} else if (attn_protocol_parse(p, (enum attn_protocol_field)f, stored[f], err,
					       sizeof(err))) {
			cli_error("sweep", "--resume: run %lld: %s", (long long)run_id, err);
			rc = EXIT_DB;
		}
		free(now);
	}
	return rc;
}

int cmd_sweep(int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, 0, 'h'},
		{"methods", required_argument, 0, O_METHODS},
		{"n", required_argument, 0, O_N},
		{"d", required_argument, 0, O_D},
		{"heads", required_argument, 0, O_HEADS},
		{"kv-heads", required_argument, 0, O_KVH},
		{"batch", required_argument, 0, O_BATCH},
		{"threads", required_argument, 0, O_THREADS},
		{"causal", optional_argument, 0, O_CAUSAL},
		{"mode", required_argument, 0, O_MODE},
		{"dist", required_argument, 0, O_DIST},
		{"seed", required_argument, 0, O_SEED},
		{"preset", required_argument, 0, O_PRESET},
		{"spec", required_argument, 0, O_SPEC},
		{"db", required_argument, 0, O_DB},
		{"resume", no_argument, 0, O_RESUME},
		{"take-over", no_argument, 0, O_TAKEOVER},
		{"plugin", required_argument, 0, O_PLUGIN},
		{"timeout", required_argument, 0, O_TIMEOUT},
		{"max-call-time", required_argument, 0, O_MAXCALL},
		{"dump-mask", no_argument, 0, O_MASK},
		{"warmup", required_argument, 0, O_WARMUP},
		{"min-time", required_argument, 0, O_MINTIME},
		{"min-reps", required_argument, 0, O_MINREPS},
		{"max-reps", required_argument, 0, O_MAXREPS},
		{"check-max-flops", required_argument, 0, O_CHECKF},
		{"mem-limit", required_argument, 0, O_MEMLIM},
		{"quiet", no_argument, 0, O_QUIET},
		{"dry-run", no_argument, 0, O_DRY},
		{"counters", required_argument, 0, O_COUNTERS},
		{"bind", required_argument, 0, O_BIND},
		{"cold-cache", no_argument, 0, O_COLD},
		{"interleave", no_argument, 0, O_INTERLEAVE},
		{"no-interleave", no_argument, 0, O_NO_INTERLEAVE},
		{"roof-budget", required_argument, 0, O_ROOF},
		{"roof-probe", no_argument, 0, O_PROBE},
		{"min-sample", required_argument, 0, O_MINSAMPLE},
		{0, 0, 0, 0}};
	struct attn_sweep_spec spec;
	struct attn_run_opts ro;
	attn_run_opts_default(&ro);
	/* Axes are applied in order, after the file a --preset/--spec names. */
	char *file = NULL, *plugins[64], *file_opts = NULL, **fargv = NULL;
	const char *db_path = "results/attnbench.db";
	int take_over = 0;
	int np = 0, resume = 0, quiet = 0, dry = 0, c, n_given = 0, interleave = 1, cold = 0;
	double roof_budget = 3.0;
	struct attn_roof roofs[ATTN_MAX_ROOFS];
	int n_roofs = 0;
	const char *set_key[64], *set_val[64];
	char err[2048];
	long lv;
	double dv;
	/* Which protocol fields the command line or its spec file set (--resume checks them). */
	int given[ATTN_PROTO_COUNT] = {0};
	char *proto_stored[ATTN_PROTO_COUNT] = {0}, *run_plugins = NULL;
	struct kv_list record = {0};
	struct attn_kv *begin_kv = NULL;
	int has_protocol = 0;

	if (attn_sweep_spec_init(&spec)) {
		cli_error("sweep", "out of memory");
		return EXIT_USAGE;
	}
	int rc = EXIT_USAGE;
	struct attn_registry *reg = NULL;
	struct attn_store *st = NULL;
	struct attn_case_list cases = {0};
	char *spec_text = NULL, *stored_spec = NULL;
	char preset_path[1024];
	const char *inject = NULL, *counters_who = "sweep";

	/*
	 * Two passes with one parser: the options line of the spec file, then
	 * the command line, whose options override the file's. Errors in the
	 * file's line name it (getopt's own ones through argv[0]).
	 */
	int fargc = 0;
	file = spec_file_of(argc, argv, opts, preset_path, sizeof(preset_path));
	char file_who[1200];
	snprintf(file_who, sizeof(file_who), "sweep: %s: options", file ? file : "");
	if (file && attn_sweep_spec_load_file(&spec, file, err, sizeof(err))) {
		cli_error("sweep", "%s", err);
		goto out;
	}
	if (!(fargv = file_argv(spec.options, file_who, &file_opts, &fargc))) {
		cli_error("sweep", "out of memory");
		goto out;
	}
	for (int pass = fargc ? 0 : 1; pass < 2; pass++) {
		int ac = pass ? argc : fargc;
		char **av = pass ? argv : fargv;
		const char *who = pass ? "sweep" : file_who;
		optind = 0;
		while ((c = getopt_long(ac, av, "h", opts, NULL)) != -1) {
			const char *key = NULL;
			switch (c) {
			case 'h':
				printf("%s%s%s", help_text, help_tuning, help_tail);
				rc = EXIT_OK;
				goto out;
			case O_METHODS: key = "methods"; break;
			case O_N: key = "n"; break;
			case O_D: key = "d"; break;
			case O_HEADS: key = "heads"; break;
			case O_KVH: key = "kv_heads"; break;
			case O_BATCH: key = "batch"; break;
			case O_THREADS: key = "threads"; break;
			case O_CAUSAL: key = "causal"; break;
			case O_MODE: key = "mode"; break;
			case O_DIST: key = "dist"; break;
			case O_SEED: key = "seed"; break;
			case O_PRESET:
			case O_SPEC:
				/* found by spec_file_of; a file cannot name another */
				if (!pass) {
					cli_error(who,
					          "--preset and --spec belong on the command line");
					goto out;
				}
				break;
			case O_DB: db_path = optarg; break;
			case O_RESUME: resume = 1; break;
			case O_TAKEOVER: take_over = 1; break;
			case O_PLUGIN:
				if (np < 64)
					plugins[np++] = optarg;
				break;
			case O_QUIET: quiet = 1; break;
			case O_DRY: dry = 1; break;
			case O_COUNTERS:
				ro.counters = optarg;
				counters_who = pass ? "sweep" : file_who;
				break;
			case O_COLD: cold = 1; break;
			case O_PROBE: ro.roof_probe = 1; break;
			case O_INTERLEAVE: interleave = 1; break;
			case O_NO_INTERLEAVE: interleave = 0; break;
			case O_BIND:
				if (attn_bind_parse(optarg, &ro.bind, err, sizeof(err))) {
					cli_error(who, "--%s", err);
					goto out;
				}
				break;
			case O_ROOF:
				if (cli_parse_real(optarg, &roof_budget)) {
					cli_error(
					    who,
					    "--roof-budget '%s': expected seconds >= 0 (0 skips "
					    "the roofs)",
					    optarg);
					goto out;
				}
				break;
			case O_MASK: ro.dump_mask = 1; break;
			case O_TIMEOUT:
			case O_MAXCALL:
			case O_WARMUP:
			case O_MINTIME:
			case O_MINSAMPLE:
				if (cli_parse_real(optarg, &dv) || (c == O_TIMEOUT && dv <= 0)) {
					cli_error(who, "--%s '%s': expected a %snumber of seconds",
					          c == O_TIMEOUT   ? "timeout"
					          : c == O_MAXCALL ? "max-call-time"
					          : c == O_WARMUP  ? "warmup"
					          : c == O_MINTIME ? "min-time"
					                           : "min-sample",
					          optarg,
					          c == O_TIMEOUT ? "positive " : "non-negative ");
					goto out;
				}
				*(c == O_TIMEOUT   ? &ro.timeout_s
				  : c == O_MAXCALL ? &ro.max_call_s
				  : c == O_WARMUP  ? &ro.warmup_s
				  : c == O_MINTIME ? &ro.min_time_s
				                   : &ro.min_sample_s) = dv;
				break;
			case O_MINREPS:
			case O_MAXREPS:
				if (cli_parse_int(optarg, 1, 1000000, &lv)) {
					cli_error(
					    who, "--%s '%s': expected a whole number in 1..1000000",
					    c == O_MINREPS ? "min-reps" : "max-reps", optarg);
					goto out;
				}
				*(c == O_MINREPS ? &ro.min_reps : &ro.max_reps) = (int)lv;
				break;
			case O_CHECKF:
				if (cli_parse_real(optarg, &ro.check_max_flops)) {
					cli_error(who,
					          "--check-max-flops '%s': expected a number >= 0",
					          optarg);
					goto out;
				}
				break;
			case O_MEMLIM:
				if (cli_parse_size(optarg, &ro.mem_limit) || ro.mem_limit == 0) {
					cli_error(
					    who,
					    "--mem-limit '%s': expected a size like 8G or 512M",
					    optarg);
					goto out;
				}
				break;
			default: goto out;
			}
			if (proto_field_of(c) >= 0)
				given[proto_field_of(c)] = 1;
			if (key) {
				const char *v = optarg ? optarg : "1";
				if (n_given < 64) {
					set_key[n_given] = key;
					set_val[n_given++] = v;
				}
			}
		}
		if (optind < ac) {
			cli_error(who, "unexpected argument '%s' (options start with --)",
			          av[optind]);
			goto out;
		}
	}
	if (take_over && !resume) {
		cli_error("sweep", "--take-over goes with --resume (a new run has no writer to take over from)");
		goto out;
	}
	if (ro.max_reps < ro.min_reps) {
		cli_error("sweep", "--max-reps %d is below --min-reps %d", ro.max_reps, ro.min_reps);
		goto out;
	}
	for (int i = 0; i < n_given; i++)
		if (attn_sweep_spec_set(&spec, set_key[i], set_val[i], err, sizeof(err))) {
			cli_error("sweep", "%s", err);
			goto out;
		}

	if (!(reg = cli_registry("sweep", plugins, np)) ||
	    cli_inject_slowdown("sweep", reg, &ro, &inject))
		goto out;
	/* A malformed counter list is a usage error, found before anything runs. */
	if (!(ro.counters && strcmp(ro.counters, "none") == 0)) {
		struct attn_counters *probe;
		if (attn_counters_open(ro.counters, &probe, err, sizeof(err))) {
			cli_error(counters_who, "--counters: %s", err);
			goto out;
		}
		attn_counters_close(probe);
	}

	/* Open the database before expanding, so --resume can read its spec. */
	if (!dry) {
		ensure_parent_dir(db_path);
		if (attn_store_open(db_path, 1, &st, err, sizeof(err))) {
			cli_error("sweep", "%s", err);
			rc = EXIT_DB;
			goto out;
		}
	}
	int64_t run_id = 0;
	if (resume && st) {
		int frc = attn_store_run_find_unfinished(st, &run_id, &stored_spec, err, sizeof(err));
		if (frc) {
			cli_error("sweep", "--resume: %s", err);
			rc = frc == ATTN_ERR_NOTFOUND ? EXIT_USAGE : EXIT_DB;
			goto out;
		}
		/* One writer per run, refused here before anything of the run is written. */
		if (attn_store_run_claim(st, run_id, take_over, err, sizeof(err))) {
			cli_error("sweep", "--resume: %s", err);
			rc = EXIT_DB;
			goto out;
		}
		/*
		 * A run that stored its protocol also named its plugins: the methods
		 * it took from them must come from the same files now.
		 */
		char *version = NULL;
		if (stored_info(st, run_id, ATTN_PROTOCOL_KEY, &version)) {
			cli_error("sweep", "--resume: %s", sqlite3_errmsg(attn_store_db(st)));
			rc = EXIT_DB;
			goto out;
		}
		has_protocol = version != NULL;
		free(version);
		if (has_protocol && (rc = plugins_check(st, run_id, reg, quiet, &run_plugins)))
			goto out;
		rc = EXIT_USAGE;
		/* The stored spec wins; options given must agree with it. */
		struct attn_sweep_spec old;
		attn_sweep_spec_init(&old);
		attn_sweep_spec_load_text(&old, stored_spec, "stored spec", err, sizeof(err));
		for (int i = 0; i < ATTN_SWEEP_KEYS; i++) {
			int named = file != NULL;
			for (int g = 0; g < n_given; g++)
				named |= strcmp(set_key[g], attn_sweep_keys[i]) == 0;
			if (named && strcmp(old.value[i], spec.value[i]) != 0) {
				cli_error("sweep",
					  "--resume: run %lld was started with %s = %s, not %s; "
					  "resume without spec options, or start a new sweep",
					  (long long)run_id, attn_sweep_keys[i], old.value[i],
					  spec.value[i]);
				attn_sweep_spec_free(&old);
				goto out;
			}
		}
		attn_sweep_spec_free(&spec);
		spec = old;
	}
	if (attn_sweep_expand(&spec, reg, &cases, err, sizeof(err))) {
		cli_error("sweep", "%s", err);
		goto out;
	}
	if (run_plugins && plugins_new(run_id, &cases, reg, run_plugins))
		goto out;
	/*
	 * More threads than CPUs time the scheduler as much as the method: said
	 * once here, and recorded on the run and on every such case.
	 */
	int cpus = usable_cpus(), max_threads = 0, n_over = 0;
	for (int i = 0; i < cases.count; i++) {
		n_over += cases.items[i].threads > cpus;
		if (cases.items[i].threads > max_threads)
			max_threads = cases.items[i].threads;
	}
	if (n_over)
		fprintf(stderr,
			"sweep: warning: %d of %d cases ask for more threads (up to %d) than the "
			"%d CPU%s this process may use: they are oversubscribed, and their times "
			"include waiting for a CPU; recorded as run_info oversubscribed and the "
			"metric oversubscribed (threads per CPU) of each such case\n",
			n_over, cases.count, max_threads, cpus, cpus > 1 ? "s" : "");
	spec_text = attn_sweep_spec_text(&spec);
	if (dry) {
		char d[512];
		for (int i = 0; i < cases.count; i++) {
			describe(&cases.items[i], d, sizeof(d));
			printf("%s\n", d);
		}
		printf("%d cases\n", cases.count);
		rc = EXIT_OK;
		goto out;
	}

	struct attn_sysinfo si;
	attn_sysinfo_collect(&si);
	if (cold) {
		/* Twice the last-level cache evicts it, whatever its policy. */
		size_t llc = si.l3_bytes ? si.l3_bytes : si.l2_bytes;
		ro.flush_bytes = 2 * (llc ? llc : (size_t)64 << 20);
	}

	/*
	 * The measurement protocol: restored from the run on --resume (options
	 * given now must agree with it), recorded with a new run.
	 */
	given[ATTN_PROTO_SPEC_OPTIONS] = file != NULL;
	struct attn_sweep_protocol proto = {.ro = ro,
					    .interleave = interleave,
					    .roof_budget = roof_budget,
					    .options = spec.options};
	if (resume && (rc = protocol_restore(st, run_id, &proto, given, proto_stored)))
		goto out;
	rc = EXIT_USAGE;
	ro = proto.ro;
	interleave = proto.interleave;
	roof_budget = proto.roof_budget;
	/* The machine's noise, said once the options are known to be accepted. */
	char warnings[16][256];
	int n_warn = 0;
	attn_noise_collect(&si, warnings, 16, &n_warn);
	for (int i = 0; i < n_warn; i++)
		if (!quiet || strncmp(warnings[i], "note:", 5) != 0)
			fprintf(stderr, "attnbench sweep: %s\n", warnings[i]);
	if (n_over && kv_add(&record, "oversubscribed",
			     "%d of %d cases: up to %d threads on %d CPUs", n_over, cases.count,
			     max_threads, cpus)) {
		cli_error("sweep", "out of memory");
		goto out;
	}
	if (!resume) {
		if (kv_add(&record, ATTN_PROTOCOL_KEY, "%s", ATTN_PROTOCOL_VERSION)) {
			cli_error("sweep", "out of memory");
			goto out;
		}
		for (int f = 0; f < ATTN_PROTO_COUNT; f++) {
			enum attn_protocol_field pf = (enum attn_protocol_field)f;
			int need = attn_protocol_format(&proto, pf, NULL, 0);
			char *text = malloc(need > 0 ? (size_t)need + 1 : 1);
			if (text)
				attn_protocol_format(&proto, pf, text,
						     need > 0 ? (size_t)need + 1 : 1);
			if (!text || kv_add(&record, attn_protocol_keys[f], "%s", text)) {
				free(text);
				cli_error("sweep", "out of memory");
				goto out;
			}
			free(text);
		}
		if (plugins_record(&cases, reg, &record))
			goto out;
	}
	if (!resume) {
		char *cmd = NULL;
		size_t cl = 0;
		FILE *m = open_memstream(&cmd, &cl);
		fprintf(m, "attnbench");
		for (int i = 0; i < argc; i++)
			fprintf(m, " %s", argv[i]);
		fclose(m);
		/* sysinfo's provenance and the protocol, in the run's one transaction */
		begin_kv = malloc((size_t)(si.n + record.n) * sizeof(*begin_kv));
		if (begin_kv) {
			memcpy(begin_kv, si.kv, (size_t)si.n * sizeof(*begin_kv));
			memcpy(begin_kv + si.n, record.kv, (size_t)record.n * sizeof(*begin_kv));
		}
		int brc = !begin_kv ? attn_errf(err, sizeof(err), ATTN_ERR_NOMEM, "out of memory")
				    : attn_store_run_begin(st, cmd, spec_text, begin_kv,
							   si.n + record.n, &run_id, err,
							   sizeof(err));
		free(cmd);
		if (brc) {
			cli_error("sweep", "%s", err);
			rc = EXIT_DB;
			goto out;
		}
	} else if (attn_store_run_set_status(st, run_id, "running", err, sizeof(err))) {
		cli_error("sweep", "%s", err);
		rc = EXIT_DB;
		goto out;
	}

	/* A resumed run that is oversubscribed now says so too. */
	if (resume && record.n &&
	    attn_store_run_info(st, run_id, record.kv, record.n, err, sizeof(err))) {
		cli_error("sweep", "%s", err);
		rc = EXIT_DB;
		goto out;
	}

	/* A run with a slowdown injected says so, resumed or not. */
	struct attn_kv inject_kv = {"inject_slowdown", inject};
	if (inject && attn_store_run_info(st, run_id, &inject_kv, 1, err, sizeof(err))) {
		cli_error("sweep", "%s", err);
		rc = EXIT_DB;
		goto out;
	}

	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	ro.stop = &stop_flag;

	if (measure_setup(st, run_id, resume, &cases, &si, &ro, roofs, &n_roofs, roof_budget, quiet,
			  err, sizeof(err))) {
		cli_error("sweep", "%s", err);
		rc = EXIT_DB;
		goto out;
	}

	int tty = isatty(2), counts[ATTN_CASE_INTERRUPTED + 1] = {0}, skipped = 0;
	double work_left = 0, work_done = 0;
	int n_done = 0, n_left = cases.count;
	for (int i = 0; i < cases.count; i++)
		work_left += case_work(&cases.items[i]);
	uint64_t t_start = attn__now_ns();
	rc = EXIT_OK;
	if (!quiet)
		fprintf(stderr, "sweep: run %lld, %d cases into %s\n", (long long)run_id,
			cases.count, db_path);
	struct attn_case *todo = calloc(cases.count ? cases.count : 1, sizeof(*todo));
	struct attn_case_result *res = calloc(cases.count ? cases.count : 1, sizeof(*res));
	int *index = calloc(cases.count ? cases.count : 1, sizeof(*index));
	if (!todo || !res || !index) {
		cli_error("sweep", "out of memory");
		rc = EXIT_USAGE;
	}
	/*
	 * Cases come in groups of one shape (the method varies fastest); with
	 * --interleave a group's repetitions are run round-robin.
	 */
	for (int i = 0, j; todo && res && index && i < cases.count && !stop_flag; i = j) {
		for (j = i + 1; j < cases.count && same_shape(&cases.items[i], &cases.items[j]); j++)
			;
		int n = 0;
		for (int k = i; k < j; k++) {
			char key[1024];
			attn_case_key(&cases.items[k], key, sizeof(key));
			int done = attn_store_case_done(st, run_id, key);
			if (done < 0) {
				cli_error("sweep", "%s: cannot read the recorded cases", db_path);
				rc = EXIT_DB;
				break;
			}
			if (done) {
				skipped++;
				work_left -= case_work(&cases.items[k]);
				n_left--;
				continue;
			}
			index[n] = k;
			todo[n++] = cases.items[k];
		}
		if (rc == EXIT_DB)
			break;
		if (n == 0)
			continue;
		char d[512], t[32], el[32], eta[32];
		describe(&todo[0], d, sizeof(d));
		if (tty && !quiet) {
			double elapsed = (double)(attn__now_ns() - t_start) / 1e9;
			fmt_clock(elapsed, el, sizeof(el));
			if (n_done > 0)
				fmt_clock(eta_seconds(elapsed, n_done, work_done, n_left, work_left,
						      &ro),
					  eta, sizeof(eta));
			else
				snprintf(eta, sizeof(eta), "?");
			fprintf(stderr, "\r\033[K[%d/%d %s ETA %s] %s%s", index[0] + 1, cases.count,
				el, eta, d, n > 1 ? " ..." : "");
			fflush(stderr);
		}
		if (interleave && n > 1) {
			if (attn_cases_run_interleaved(todo, n, &ro, res)) {
				cli_error("sweep", "the runner failed on %s", d);
				rc = EXIT_CASES;
				break;
			}
		} else {
			for (int k = 0; k < n && !stop_flag; k++)
				attn_case_run(&todo[k], &ro, NULL, NULL, &res[k]);
			for (int k = 0; k < n; k++)
				if (stop_flag && !res[k].status && !res[k].n_samples &&
				    !res[k].n_metrics)
					res[k].status = ATTN_CASE_INTERRUPTED;
		}
		for (int k = 0; k < n; k++) {
			struct attn_case_result *r = &res[k];
			const struct attn_case *cs = &todo[k];
			if (r->status == ATTN_CASE_INTERRUPTED || rc == EXIT_DB) {
				attn_case_result_free(r);
				continue;
			}
			char key[1024];
			attn_case_key(cs, key, sizeof(key));
			describe(cs, d, sizeof(d));
			if (store_result(st, run_id, cs, key, r, cpus, err, sizeof(err))) {
				if (tty)
					fputc('\n', stderr);
				cli_error("sweep", "%s", err);
				rc = EXIT_DB;
				attn_case_result_free(r);
				continue;
			}
			counts[r->status]++;
			work_done += case_work(cs);
			work_left -= case_work(cs);
			n_done++;
			n_left--;
			const struct attn_metric *med = attn_result_metric(r, "median_ns");
			int bad = r->status == ATTN_CASE_TIMEOUT || r->status == ATTN_CASE_CRASHED ||
				  r->status == ATTN_CASE_FAILED || r->status == ATTN_CASE_FAILED_CHECK;
			if (bad && rc == EXIT_OK)
				rc = EXIT_CASES;
			if (!quiet && (!tty || bad || r->status != ATTN_CASE_OK)) {
				if (tty)
					fprintf(stderr, "\r\033[K");
				fprintf(stderr, "[%d/%d] %s: %s%s%s\n", index[k] + 1, cases.count, d,
					attn_case_status_name(r->status),
					med ? " " : (r->message[0] ? " - " : ""),
					med ? cli_fmt_ns(med->value, t, sizeof(t)) : r->message);
			}
			attn_case_result_free(r);
		}
		if (rc == EXIT_DB)
			break;
	}
	free(todo);
	free(res);
	free(index);
	if (tty && !quiet)
		fprintf(stderr, "\r\033[K");
	int interrupted = stop_flag != 0;
	if (rc != EXIT_DB) {
		const char *final = interrupted ? "interrupted" : "complete";
		if (attn_store_run_set_status(st, run_id, final, err, sizeof(err))) {
			cli_error("sweep", "%s", err);
			rc = EXIT_DB;
		}
	}
	/* The run's writer is done: let the next one in, and the WAL back into the file. */
	if (rc != EXIT_DB && attn_store_run_release(st, run_id, err, sizeof(err))) {
		cli_error("sweep", "%s", err);
		rc = EXIT_DB;
	}
	if (!quiet || interrupted || rc == EXIT_DB) {
		char el[32];
		fmt_clock((double)(attn__now_ns() - t_start) / 1e9, el, sizeof(el));
		fprintf(stderr, "sweep: run %lld %s in %s:", (long long)run_id,
			rc == EXIT_DB ? "stopped on a database error"
			: interrupted ? "interrupted"
				      : "finished",
			el);
		for (int s = 0; s < ATTN_CASE_INTERRUPTED; s++)
			if (counts[s])
				fprintf(stderr, " %d %s", counts[s],
					attn_case_status_name((enum attn_case_status)s));
		if (skipped)
			fprintf(stderr, " (%d already recorded)", skipped);
		fprintf(stderr, "; results in %s\n", db_path);
		if (rc == EXIT_DB)
			fprintf(stderr,
				"sweep: the cases recorded before the error are kept; once the "
				"database is writable, continue with: attnbench sweep --db %s "
				"--resume\n",
				db_path);
		else if (interrupted)
			fprintf(stderr, "sweep: continue with: attnbench sweep --db %s --resume\n",
				db_path);
	}
	if (interrupted && rc != EXIT_DB)
		rc = EXIT_INTERRUPTED;
out:
	for (int f = 0; f < ATTN_PROTO_COUNT; f++)
		free(proto_stored[f]);
	free(run_plugins);
	free(begin_kv);
	kv_free(&record);
	free(fargv);
	free(file_opts);
	free(spec_text);
	free(stored_spec);
	attn_case_list_free(&cases);
	attn_store_close(st);
	attn_registry_free(reg);
	attn_sweep_spec_free(&spec);
	return rc;
}
