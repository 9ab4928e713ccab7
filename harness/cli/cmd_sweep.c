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
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	"                recorded are not run again; spec options must match it\n"
	"--dry-run       print the cases and exit\n"
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
	"  testing the regression gate only; recorded as run_info inject_slowdown.\n"
	"\n"
	"exit: 0 every case ok, unsupported or skipped (memory, time); 1 some case\n"
	"crashed, timed out, failed or failed its check; 2 bad spec or option;\n"
	"3 database error; 130 interrupted (resume with --resume).\n";

enum {
	O_METHODS = 256, O_N, O_D, O_HEADS, O_KVH, O_BATCH, O_THREADS, O_CAUSAL, O_MODE, O_DIST,
	O_SEED, O_PRESET, O_SPEC, O_DB, O_RESUME, O_PLUGIN, O_TIMEOUT, O_WARMUP, O_MINTIME,
	O_MINREPS, O_MAXREPS, O_CHECKF, O_MEMLIM, O_QUIET, O_DRY, O_COUNTERS, O_BIND, O_COLD,
	O_INTERLEAVE, O_NO_INTERLEAVE, O_ROOF, O_MAXCALL, O_MASK, O_PROBE, O_MINSAMPLE
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

static int store_result(struct attn_store *st, int64_t run_id, const struct attn_case *c,
			const char *key, const struct attn_case_result *r, char *err,
			size_t errlen)
{
	char params[1024], form[64];
	const char *names[ATTN_MAX_COUNTERS];
	for (int e = 0; e < r->n_counters; e++)
		names[e] = r->counter_names[e];
	attn_params_format(c->method, &c->params, params, sizeof(params));
	struct attn_case_record rec = {
		.key = key,
		.method = c->method->name,
		.family = attn_family_name(c->method->family),
		.form = form_of(c, form, sizeof(form)),
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
		.n_metrics = r->n_metrics,
		.metrics = r->metrics,
		.cpus = r->cpus,
		.n_counters = r->n_samples ? r->n_counters : 0,
		.counter_names = names,
		.sample_counters = r->sample_counters,
		.mask = r->mask,
		.mask_nqb = r->mask_nqb,
		.mask_nkb = r->mask_nkb,
	};
	return attn_store_case_write(st, run_id, &rec, err, errlen);
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

/* Measure the roofs at `threads` in a child (fork-safe for OpenBLAS). */
static int measure_roof(int threads, double budget, size_t llc, struct attn_roof *roof,
			char *err, size_t errlen)
{
	int fds[2];
	if (pipe(fds) != 0)
		return attn_errf(err, errlen, ATTN_ERR_IO, "pipe failed");
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return attn_errf(err, errlen, ATTN_ERR_IO, "fork failed");
	}
	if (pid == 0) {
		close(fds[0]);
		struct attn_roof r;
		char why[256];
		int rc = attn_roof_measure(threads, budget, llc, &r, why, sizeof(why));
		if (rc == 0 && write(fds[1], &r, sizeof(r)) == (ssize_t)sizeof(r))
			_exit(0);
		_exit(1);
	}
	close(fds[1]);
	ssize_t got = read(fds[0], roof, sizeof(*roof));
	close(fds[0]);
	int st;
	waitpid(pid, &st, 0);
	if (got != (ssize_t)sizeof(*roof))
		return attn_errf(err, errlen, ATTN_ERR_INTERNAL,
				 "measuring the roofs at %d threads failed", threads);
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
	for (int i = 0; budget > 0 && i < cases->count; i++) {
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
	int np = 0, resume = 0, quiet = 0, dry = 0, c, n_given = 0, interleave = 1, cold = 0;
	double roof_budget = 3.0;
	struct attn_roof roofs[ATTN_MAX_ROOFS];
	int n_roofs = 0;
	const char *set_key[64], *set_val[64];
	char err[2048];
	long lv;
	double dv;

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
				printf("%s", help_text);
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
	char warnings[16][256];
	int n_warn = 0;
	attn_noise_collect(&si, warnings, 16, &n_warn);
	for (int i = 0; i < n_warn; i++)
		if (!quiet || strncmp(warnings[i], "note:", 5) != 0)
			fprintf(stderr, "attnbench sweep: %s\n", warnings[i]);
	if (cold) {
		/* Twice the last-level cache evicts it, whatever its policy. */
		size_t llc = si.l3_bytes ? si.l3_bytes : si.l2_bytes;
		ro.flush_bytes = 2 * (llc ? llc : (size_t)64 << 20);
	}
	attn_sysinfo_put(&si, "bind", "%s", attn_bind_name(ro.bind));
	attn_sysinfo_put(&si, "interleave", "%d", interleave);
	attn_sysinfo_put(&si, "cold_cache_bytes", "%zu", ro.flush_bytes);
	attn_sysinfo_put(&si, "roof_probe", "%d", ro.roof_probe);
	attn_sysinfo_put(&si, "min_sample_s", "%g", ro.min_sample_s);
	if (!resume) {
		char *cmd = NULL;
		size_t cl = 0;
		FILE *m = open_memstream(&cmd, &cl);
		fprintf(m, "attnbench");
		for (int i = 0; i < argc; i++)
			fprintf(m, " %s", argv[i]);
		fclose(m);
		int brc = attn_store_run_begin(st, cmd, spec_text, si.kv, si.n, &run_id, err,
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
			if (store_result(st, run_id, cs, key, r, err, sizeof(err))) {
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
	if (!quiet || interrupted) {
		char el[32];
		fmt_clock((double)(attn__now_ns() - t_start) / 1e9, el, sizeof(el));
		fprintf(stderr, "sweep: run %lld %s in %s:", (long long)run_id,
			interrupted ? "interrupted" : "finished", el);
		for (int s = 0; s < ATTN_CASE_INTERRUPTED; s++)
			if (counts[s])
				fprintf(stderr, " %d %s", counts[s],
					attn_case_status_name((enum attn_case_status)s));
		if (skipped)
			fprintf(stderr, " (%d already recorded)", skipped);
		fprintf(stderr, "; results in %s\n", db_path);
		if (interrupted)
			fprintf(stderr, "sweep: continue with: attnbench sweep --db %s --resume\n",
				db_path);
	}
	if (interrupted && rc != EXIT_DB)
		rc = EXIT_INTERRUPTED;
out:
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
