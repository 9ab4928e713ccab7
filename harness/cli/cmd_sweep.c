/*
 * attnbench sweep: the command line of the sweep driver (driver.h). It
 * parses the options into a spec and the driver's options, installs the
 * SIGINT/SIGTERM handlers once the run is recorded (they set the flag the
 * driver polls between cases), prints the driver's progress and summary,
 * and maps the outcome to the exit code. `figures` runs its sweeps through
 * cli_sweep_run too, so both print alike.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attnbench/calib.h"
#include "attnbench/driver.h"
#include "attnbench/registry.h"
#include "attnbench/runner.h"
#include "attnbench/status.h"
#include "attnbench/store.h"
#include "attnbench/sweep.h"
#include "cli.h"
#include "sweep_cli.h"

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
    "  --batch 1 --threads 1 --causal 1 --mode prefill --dist gaussian --seed 42.\n"
    "  Decode is always causal (its query sees the whole cache): --causal spans\n"
    "  the prefill cases, and --causal=0 --mode decode is refused. --kv-heads must\n"
    "  divide --heads.\n"
    "methods (LIST): name,name[key=v1,v2;key=lo..hi x2],...  or all (the default:\n"
    "  every method but oracles). Example: flash[bq=32,64;bk=64],softmax\n"
    "dist: gaussian, local (peaked near the diagonal), needle (few keys dominate)\n"
    "--preset NAME   load workloads/presets/NAME.spec; --spec FILE loads a spec\n"
    "                file (key = value lines); axes given on the command line\n"
    "                override it. It may hold the tuning and measurement\n"
    "                settings below as keys, '_' for '-' (min_reps = 15,\n"
    "                roof_probe = 1), which the command line's options override\n"
    "--db FILE       the database (default results/attnbench.db; created)\n"
    "--resume        finish the newest unfinished run in --db: its cases already\n"
    "                recorded are not run again; spec options must match it.\n"
    "                The run's measurement options (tuning and measurement\n"
    "                below, and the spec file's settings) are restored from\n"
    "                it: one given again with another value is refused (exit 2).\n"
    "                A method the run took from a plugin must come from the same\n"
    "                .so (its FNV-1a hash, run_info plugin:PATH), else refused.\n"
    "                A run another live sweep is writing is refused (exit 3),\n"
    "                naming it; one whose writer died is taken over\n"
    "--take-over     with --resume: take the run from a writer on another host,\n"
    "                which cannot be checked from here (your word that it is gone)\n"
    "--dry-run       print the cases and exit (with --shard: the shard's, and its\n"
    "                predicted cost beside the sweep's)\n"
    "--shard I/N     run only shard I of N (1 <= I <= N): the cases are split into N\n"
    "                disjoint shards, the same on every machine, balanced by\n"
    "                predicted cost (the methods' stated FLOPs and bytes under the\n"
    "                protocol); shape groups stay whole unless one alone exceeds a\n"
    "                shard's share. Give each shard its own --db and combine them\n"
    "                with `attnbench merge`. --resume restores the run's shard and\n"
    "                exits 0 when that shard is already complete\n"
    "--sweep-id TEXT with --shard: the name the shards of one sweep share\n"
    "                (default <spec hash>/<N>); recorded as run_info sweep_id\n";

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
	O_METHODS = 256,
	O_N,
	O_D,
	O_HEADS,
	O_KVH,
	O_BATCH,
	O_THREADS,
	O_CAUSAL,
	O_MODE,
	O_DIST,
	O_SEED,
	O_PRESET,
	O_SPEC,
	O_DB,
	O_RESUME,
	O_PLUGIN,
	O_TIMEOUT,
	O_WARMUP,
	O_MINTIME,
	O_MINREPS,
	O_MAXREPS,
	O_CHECKF,
	O_MEMLIM,
	O_QUIET,
	O_DRY,
	O_COUNTERS,
	O_BIND,
	O_COLD,
	O_INTERLEAVE,
	O_NO_INTERLEAVE,
	O_ROOF,
	O_MAXCALL,
	O_MASK,
	O_PROBE,
	O_MINSAMPLE,
	O_TAKEOVER,
	O_SHARD,
	O_SWEEP_ID
};

static const struct option opts[] = {{"help", no_argument, 0, 'h'},
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
                                     {"shard", required_argument, 0, O_SHARD},
                                     {"sweep-id", required_argument, 0, O_SWEEP_ID},
                                     {0, 0, 0, 0}};

/* The spec key an axis option sets, the protocol field a setting option sets. */
static const struct {
	int opt;
	const char *key; /* a spec key, or NULL */
	int field;       /* a protocol field, or -1 */
} opt_map[] = {{O_METHODS, "methods", -1},
               {O_N, "n", -1},
               {O_D, "d", -1},
               {O_HEADS, "heads", -1},
               {O_KVH, "kv_heads", -1},
               {O_BATCH, "batch", -1},
               {O_THREADS, "threads", -1},
               {O_CAUSAL, "causal", -1},
               {O_MODE, "mode", -1},
               {O_DIST, "dist", -1},
               {O_SEED, "seed", -1},
               {O_TIMEOUT, NULL, ATTN_PROTO_TIMEOUT},
               {O_MAXCALL, NULL, ATTN_PROTO_MAX_CALL},
               {O_WARMUP, NULL, ATTN_PROTO_WARMUP},
               {O_MINTIME, NULL, ATTN_PROTO_MIN_TIME},
               {O_MINREPS, NULL, ATTN_PROTO_MIN_REPS},
               {O_MAXREPS, NULL, ATTN_PROTO_MAX_REPS},
               {O_MINSAMPLE, NULL, ATTN_PROTO_MIN_SAMPLE},
               {O_CHECKF, NULL, ATTN_PROTO_CHECK_MAX_FLOPS},
               {O_MEMLIM, NULL, ATTN_PROTO_MEM_LIMIT},
               {O_COUNTERS, NULL, ATTN_PROTO_COUNTERS},
               {O_BIND, NULL, ATTN_PROTO_BIND},
               {O_COLD, NULL, ATTN_PROTO_COLD_CACHE},
               {O_MASK, NULL, ATTN_PROTO_DUMP_MASK},
               {O_INTERLEAVE, NULL, ATTN_PROTO_INTERLEAVE},
               {O_NO_INTERLEAVE, NULL, ATTN_PROTO_INTERLEAVE},
               {O_PROBE, NULL, ATTN_PROTO_ROOF_PROBE},
               {O_ROOF, NULL, ATTN_PROTO_ROOF_BUDGET}};

/* What the command line asked for. */
struct sweep_args {
	struct attn_sweep_options opt;
	const char *file, *db_path;
	char preset_path[1024];
	char *plugins[64];
	int np, quiet, n_given;
	const char *set_key[64], *set_val[64];
};

static void fmt_clock(double s, char *buf, size_t len)
{
	long t = (long)(s + 0.5);
	if (t >= 3600)
		snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
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

/* --- printing the driver's progress --------------------------------------- */

struct printer {
	const char *db_path;
	int quiet, tty;
	/* Cases that ran but lack their error figure, and the first one's reason. */
	const struct attn_run_opts *ro;
	int no_error;
	char no_error_case[512], no_error_why[320];
};

static void on_message(void *ctx, enum attn_sweep_level level, const char *text)
{
	const struct printer *p = ctx;
	if (level == ATTN_SWEEP_WARNING)
		fprintf(stderr, "sweep: warning: %s\n", text);
	else if (level == ATTN_SWEEP_NOTE && !p->quiet)
		fprintf(stderr, "sweep: %s\n", text);
	else if (level == ATTN_SWEEP_MACHINE && (!p->quiet || strncmp(text, "note:", 5) != 0))
		fprintf(stderr, "attnbench sweep: %s\n", text);
}

/* The run is recorded: from now on a signal stops the sweep between cases. */
static void on_started(void *ctx, int64_t run_id, int n_cases)
{
	(void)ctx;
	(void)run_id;
	(void)n_cases;
	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void on_roof(void *ctx, int t, const struct attn_roof *r)
{
	const struct printer *p = ctx;
	if (p->quiet)
		return;
	if (!r)
		fprintf(stderr, "sweep: measuring the roofs at %d thread%s ...\n", t,
		        t > 1 ? "s" : "");
	else
		fprintf(stderr,
		        "sweep: roofs at %d thread%s: FMA peak %.1f GFLOP/s (%s), sgemm "
		        "%.1f GFLOP/s (n=%lld), triad %.1f GB/s\n",
		        t, t > 1 ? "s" : "", r->fma_gflops, r->fma_isa, r->sgemm_gflops,
		        (long long)r->sgemm_n, r->triad_gbps);
}

static void on_ready(void *ctx, int64_t run_id, int n_cases)
{
	const struct printer *p = ctx;
	if (!p->quiet)
		fprintf(stderr, "sweep: run %lld, %d cases into %s\n", (long long)run_id, n_cases,
		        p->db_path);
}

/* "shard 2/8: 40 of 312 cases, predicted 61 s of 488 s" */
static void shard_line(FILE *f, const struct attn_sweep_outcome *o)
{
	fprintf(f, "shard %d/%d: %d of %d cases, predicted %.1f s of %.1f s (%.1f%%)\n",
	        o->shard_index, o->shard_count, o->shard_cases, o->sweep_cases, o->shard_cost,
	        o->sweep_cost, o->sweep_cost > 0 ? 100 * o->shard_cost / o->sweep_cost : 0.0);
}

static void on_group(void *ctx, const struct attn_sweep_group *g)
{
	const struct printer *p = ctx;
	if (!p->tty || p->quiet)
		return;
	char d[512], el[32], eta[32];
	attn_case_describe(g->first, d, sizeof(d));
	fmt_clock(g->elapsed_s, el, sizeof(el));
	if (g->eta_s >= 0)
		fmt_clock(g->eta_s, eta, sizeof(eta));
	else
		snprintf(eta, sizeof(eta), "?");
	fprintf(stderr, "\r\033[K[%d/%d %s ETA %s] %s%s", g->index + 1, g->total, el, eta, d,
	        g->n > 1 ? " ..." : "");
	fflush(stderr);
}

static void on_case(void *ctx, int index, int total, const struct attn_case *c,
                    const struct attn_case_result *r)
{
	struct printer *p = ctx;
	/* An exact method's error is rel_err, another's rel_err_softmax. */
	const char *err_name = c->method->flags & ATTN_METHOD_EXACT ? "rel_err" : "rel_err_softmax";
	char why[256];
	if (p->ro && attn_result_missing_why(c, r, p->ro, err_name, why, sizeof(why)) &&
	    p->no_error++ == 0) {
		attn_case_describe(c, p->no_error_case, sizeof(p->no_error_case));
		snprintf(p->no_error_why, sizeof(p->no_error_why), "%s: %s", err_name, why);
	}
	int bad = r->status == ATTN_CASE_TIMEOUT || r->status == ATTN_CASE_CRASHED ||
	          r->status == ATTN_CASE_FAILED || r->status == ATTN_CASE_FAILED_CHECK;
	if (p->quiet || (p->tty && !bad && r->status == ATTN_CASE_OK))
		return;
	char d[512], t[32];
	attn_case_describe(c, d, sizeof(d));
	const struct attn_metric *med = attn_result_metric(r, "median_ns");
	if (p->tty)
		fprintf(stderr, "\r\033[K");
	fprintf(stderr, "[%d/%d] %s: %s%s%s\n", index + 1, total, d,
	        attn_case_status_name(r->status), med ? " " : (r->message[0] ? " - " : ""),
	        med ? cli_fmt_ns(med->value, t, sizeof(t)) : r->message);
}

static void on_error(void *ctx, int status, const char *text)
{
	const struct printer *p = ctx;
	if (p->tty && status == ATTN_ERR_DB)
		fputc('\n', stderr);
	cli_error("sweep", "%s", text);
}

/* The last lines of a sweep that ran, and its exit code. */
static int summary(const struct printer *p, const struct attn_sweep_outcome *o)
{
	if (p->tty && !p->quiet)
		fprintf(stderr, "\r\033[K");
	if (!p->quiet || o->interrupted || o->db_error) {
		char el[32];
		fmt_clock(o->elapsed_s, el, sizeof(el));
		fprintf(stderr, "sweep: run %lld %s in %s:", (long long)o->run_id,
		        o->db_error      ? "stopped on a database error"
		        : o->interrupted ? "interrupted"
		                         : "finished",
		        el);
		for (int s = 0; s < ATTN_CASE_INTERRUPTED; s++)
			if (o->counts[s])
				fprintf(stderr, " %d %s", o->counts[s],
				        attn_case_status_name((enum attn_case_status)s));
		if (o->skipped)
			fprintf(stderr, " (%d already recorded)", o->skipped);
		fprintf(stderr, "; results in %s\n", p->db_path);
		if (p->no_error)
			fprintf(stderr, "sweep: %d case%s without an error figure, first %s: %s\n",
			        p->no_error, p->no_error > 1 ? "s" : "", p->no_error_case,
			        p->no_error_why);
		if (o->db_error)
			fprintf(stderr,
			        "sweep: the cases recorded before the error are kept; once the "
			        "database is writable, continue with: attnbench sweep --db %s "
			        "--resume\n",
			        p->db_path);
		else if (o->interrupted)
			fprintf(stderr, "sweep: continue with: attnbench sweep --db %s --resume\n",
			        p->db_path);
	}
	if (o->db_error)
		return EXIT_DB;
	if (o->interrupted)
		return EXIT_INTERRUPTED;
	return o->runner_failed || o->bad_cases ? EXIT_CASES : EXIT_OK;
}

int cli_shard_arg(const char *verb, const char *text, struct attn_sweep_options *opt)
{
	char *end;
	errno = 0;
	long i = strtol(text, &end, 10), n = 0;
	int ok = end != text && *end == '/' && text[0] != '-' && text[0] != '+' && !errno;
	if (ok) {
		const char *t = end + 1;
		n = strtol(t, &end, 10);
		ok = end != t && !*end && t[0] != '-' && t[0] != '+' && !errno;
	}
	if (!ok || n < 1 || n > ATTN_MAX_SHARDS || i < 1 || i > n) {
		cli_error(verb, "--shard '%s': expected I/N, whole numbers with 1 <= I <= N <= %d",
		          text, ATTN_MAX_SHARDS);
		return -1;
	}
	opt->shard_index = (int)i;
	opt->shard_count = (int)n;
	return 0;
}

int cli_sweep_run(const struct attn_sweep_spec *spec, struct attn_sweep_options *opt,
                  const struct attn_registry *reg, const char *db_path, int quiet, int64_t *run_id)
{
	struct printer p = {.db_path = db_path, .quiet = quiet, .tty = isatty(2)};
	struct attn_sweep_progress pg = {.ctx = &p,
	                                 .message = on_message,
	                                 .started = on_started,
	                                 .roof = on_roof,
	                                 .ready = on_ready,
	                                 .group = on_group,
	                                 .case_done = on_case,
	                                 .error = on_error};
	struct attn_sweep_protocol proto;
	int given[ATTN_PROTO_COUNT];
	struct attn_store *st = NULL;
	struct attn_sweep_outcome out;
	char err[2048];
	opt->db_label = db_path;
	opt->stop = &stop_flag;
	/* Bad settings are refused before the database is touched. */
	if (attn_sweep_settings(spec, opt, &proto, given, err, sizeof(err))) {
		cli_error("sweep", "%s", err);
		return EXIT_USAGE;
	}
	/* A resumed run's protocol is the stored one, which the reasons would misquote. */
	if (!opt->resume)
		p.ro = &proto.ro;
	/* So is a bad spec (a --resume takes its spec from the database). */
	if (!opt->resume) {
		struct attn_case_list cases;
		int bad = attn_sweep_expand(spec, reg, &cases, err, sizeof(err));
		attn_case_list_free(&cases);
		if (bad) {
			cli_error("sweep", "%s", err);
			return EXIT_USAGE;
		}
	}
	if (!opt->dry_run) {
		ensure_parent_dir(db_path);
		if (attn_store_open(db_path, ATTN_STORE_CREATE, &st, err, sizeof(err))) {
			cli_error("sweep", "%s", err);
			return EXIT_DB;
		}
	}
	int rc = attn_sweep_run(spec, opt, reg, st, &pg, &out, err, sizeof(err));
	if (rc && !out.begun)
		cli_error("sweep", "%s", err);
	if (!rc && opt->dry_run) {
		char d[512];
		for (int i = 0; i < out.cases.count; i++) {
			attn_case_describe(&out.cases.items[i], d, sizeof(d));
			printf("%s\n", d);
		}
		printf("%d cases\n", out.cases.count);
		if (out.shard_count)
			shard_line(stdout, &out);
	}
	if (!rc && out.already_complete && !quiet)
		fprintf(stderr,
		        "sweep: shard %d/%d is complete already (run %lld in %s): nothing to "
		        "resume\n",
		        out.shard_index, out.shard_count, (long long)out.run_id, db_path);
	if (!rc && out.begun && out.shard_count && !quiet) {
		fprintf(stderr, "sweep: ");
		shard_line(stderr, &out);
	}
	if (run_id)
		*run_id = out.run_id;
	int code = out.finished        ? summary(&p, &out)
	           : rc == ATTN_ERR_DB ? EXIT_DB
	           : rc                ? EXIT_USAGE
	                               : EXIT_OK;
	attn_sweep_outcome_free(&out);
	attn_store_close(st);
	return code;
}

/* --- the command line ----------------------------------------------------- */

/* A --preset that names no file: say which presets there are; 0 or -1 (said). */
static int check_preset(const char *name, const char *path)
{
	if (access(path, F_OK) == 0)
		return 0;
	char dir[1024], names[1024] = "";
	snprintf(dir, sizeof(dir), "%s/workloads/presets", cli_data_dir());
	DIR *dp = opendir(dir);
	struct dirent *e;
	size_t used = 0;
	while (dp && (e = readdir(dp))) {
		size_t n = strlen(e->d_name);
		if (n > 5 && strcmp(e->d_name + n - 5, ".spec") == 0 && used + n < sizeof(names))
			used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%.*s",
			                         used ? ", " : "", (int)(n - 5), e->d_name);
	}
	if (dp)
		closedir(dp);
	cli_error("sweep", "unknown preset '%s' (no %s); the presets: %s", name, path,
	          names[0] ? names : "none found");
	return -1;
}

/* One option of the command line into a; 1 when it was --help, -1 after an error. */
static int take_option(struct sweep_args *a, int c)
{
	char err[1024];
	for (size_t i = 0; i < sizeof(opt_map) / sizeof(*opt_map); i++) {
		if (opt_map[i].opt != c)
			continue;
		if (opt_map[i].key) {
			if (a->n_given < 64) {
				a->set_key[a->n_given] = opt_map[i].key;
				a->set_val[a->n_given++] = optarg ? optarg : "1";
			}
			return 0;
		}
		int f = opt_map[i].field;
		char name[64] = "";
		for (const struct option *o = opts; o->name; o++)
			if (o->val == c)
				snprintf(name, sizeof(name), "--%s", o->name);
		const char *v = optarg ? optarg : c == O_NO_INTERLEAVE ? "0" : "1";
		if (attn_sweep_setting_parse(&a->opt.proto, (enum attn_protocol_field)f, v, name,
		                             err, sizeof(err))) {
			cli_error("sweep", "%s", err);
			return -1;
		}
		a->opt.given[f] = 1;
		return 0;
	}
	switch (c) {
	case 'h': printf("%s%s%s", help_text, help_tuning, help_tail); return 1;
	case O_PRESET:
		snprintf(a->preset_path, sizeof(a->preset_path), "%s/workloads/presets/%s.spec",
		         cli_data_dir(), optarg);
		a->file = a->preset_path;
		return check_preset(optarg, a->preset_path);
	case O_SPEC: a->file = optarg; return 0;
	case O_DB: a->db_path = optarg; return 0;
	case O_RESUME: a->opt.resume = 1; return 0;
	case O_TAKEOVER: a->opt.take_over = 1; return 0;
	case O_SHARD: return cli_shard_arg("sweep", optarg, &a->opt);
	case O_SWEEP_ID: a->opt.sweep_id = optarg; return 0;
	case O_PLUGIN:
		if (a->np < 64)
			a->plugins[a->np++] = optarg;
		return 0;
	case O_QUIET: a->quiet = 1; return 0;
	case O_DRY: a->opt.dry_run = 1; return 0;
	default: return -1;
	}
}

/* argv into a; 1 when it was --help, -1 after an error. */
static int parse_args(int argc, char **argv, struct sweep_args *a)
{
	int c, rc;
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1)
		if ((rc = take_option(a, c)))
			return rc;
	if (optind < argc) {
		cli_error("sweep", "unexpected argument '%s' (options start with --)",
		          argv[optind]);
		return -1;
	}
	if (a->opt.sweep_id && !a->opt.shard_count) {
		cli_error("sweep", "--sweep-id '%s' goes with --shard I/N", a->opt.sweep_id);
		return -1;
	}
	if (a->opt.take_over && !a->opt.resume) {
		cli_error(
		    "sweep",
		    "--take-over goes with --resume (a new run has no writer to take over from)");
		return -1;
	}
	return 0;
}

/* "attnbench sweep ...": the command line as the run records it (malloc'd). */
static char *command_text(int argc, char **argv)
{
	char *cmd = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&cmd, &len);
	if (!m)
		return NULL;
	fprintf(m, "attnbench");
	for (int i = 0; i < argc; i++)
		fprintf(m, " %s", argv[i]);
	fclose(m);
	return cmd;
}

int cmd_sweep(int argc, char **argv)
{
	struct sweep_args a = {.db_path = "results/attnbench.db"};
	struct attn_sweep_spec spec;
	struct attn_registry *reg = NULL;
	char err[2048], *cmd = NULL;
	attn_run_opts_default(&a.opt.proto.ro);
	a.opt.proto.interleave = 1;
	a.opt.proto.roof_budget = 3.0;
	if (attn_sweep_spec_init(&spec)) {
		cli_error("sweep", "out of memory");
		return EXIT_USAGE;
	}
	int rc = parse_args(argc, argv, &a);
	if (rc) {
		attn_sweep_spec_free(&spec);
		return rc > 0 ? EXIT_OK : EXIT_USAGE;
	}
	rc = EXIT_USAGE;
	/* Axes are applied in order, after the file a --preset/--spec names. */
	if (a.file && attn_sweep_spec_load_file(&spec, a.file, err, sizeof(err))) {
		cli_error("sweep", "%s", err);
		goto out;
	}
	for (int i = 0; i < a.n_given; i++)
		if (attn_sweep_spec_set(&spec, a.set_key[i], a.set_val[i], err, sizeof(err))) {
			cli_error("sweep", "%s", err);
			goto out;
		}
	a.opt.spec_from_file = a.file != NULL;
	a.opt.named = a.set_key;
	a.opt.n_named = a.n_given;
	if (!(reg = cli_registry("sweep", a.plugins, a.np)) ||
	    cli_inject_slowdown("sweep", reg, &a.opt.proto.ro, &a.opt.inject))
		goto out;
	if (!(cmd = command_text(argc, argv))) {
		cli_error("sweep", "out of memory");
		goto out;
	}
	a.opt.command = cmd;
	rc = cli_sweep_run(&spec, &a.opt, reg, a.db_path, a.quiet, NULL);
out:
	free(cmd);
	attn_registry_free(reg);
	attn_sweep_spec_free(&spec);
	return rc;
}
