/*
 * The command line, end to end, as a user drives it: --help on every verb,
 * bad specs and options rejected before anything runs (exit 2, the token
 * named), a sweep that survives a crashing plugin, a sweep killed with -9 or
 * interrupted with SIGINT and then resumed without re-running or
 * duplicating a case, a locked and a corrupt database (exit 3, nothing
 * lost), `run` on .npy files checked against the reference, export, and
 * plot (charts from a tiny sweep, its errors, labels that need escaping).
 */
#include <check.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attnbench/method.h"
#include "kernels/kernels.h"
#include "npy.h"

#include "check_main.h"
#include "cli_run.h"
#include "db.h"
#include "slurp.h"
#include "tmpdir.h"

static char dir[TMPDIR_LEN];

/* The environment every run of the CLI here starts from. */
static void cli_env(void)
{
	setenv("ATTNBENCH_DATA_DIR", ATTN_SOURCE_DIR, 1);
	unsetenv("ATTNBENCH_PLUGIN_PATH");
	unsetenv("ATTNBENCH_INJECT_SLOWDOWN");
}

static void setup(void)
{
	tmpdir_make(dir, "cli");
	cli_env();
}

static void teardown(void)
{
	tmpdir_remove(dir);
}

START_TEST(help_everywhere)
{
	const char *verbs[] = {"list", "info", "run", "sweep", "check", "export", "plot"};
	for (int i = 0; i < 7; i++) {
		ck_assert_int_eq(cli("%s --help", verbs[i]), 0);
		ck_assert_msg(strstr(out, "usage: attnbench") != NULL, "%s", out);
		ck_assert_int_eq(cli("%s --no-such-option", verbs[i]), 2);
	}
	ck_assert_int_eq(cli("--help"), 0);
	ck_assert_int_eq(cli("frobnicate"), 2);
	ck_assert(strstr(out, "unknown verb 'frobnicate'"));
	ck_assert_int_eq(cli("list"), 0);
	ck_assert(strstr(out, "flash") && strstr(out, "softmax"));
	ck_assert_int_eq(cli("info"), 0);
	ck_assert(strstr(out, "openblas_core") && strstr(out, "PAPI_TOT_INS"));
}
END_TEST

START_TEST(bad_specs_rejected)
{
	struct {
		const char *args, *needle;
	} bad[] = {
	    {"--n 256..x2", "256..x2"},
	    {"--n 0", "0"},
	    {"--d 64,,128", "64,,128"},
	    {"--methods flsh", "flsh"},
	    {"--methods 'flash[bq=2000]'", "bq"},
	    {"--methods 'flash[nope=1]'", "nope"},
	    {"--causal=maybe", "maybe"},
	    {"--mode sideways", "sideways"},
	    {"--dist uniform", "uniform"},
	    {"--seed -3", "-3"},
	    {"--timeout 0", "timeout"},
	    {"--mem-limit lots", "lots"},
	    {"--preset no_such_preset", "no_such_preset"},
	    {"--counters perf::TASK-CLOCK,,PAPI_TOT_INS", "--counters"},
	    {"--bind diagonal", "diagonal"},
	    {"--roof-budget soon", "soon"},
	    {"--heads 4 --kv-heads 3", "kv_heads 3 with heads 4"},
	    {"--causal=0 --mode decode", "decode cases are always causal"},
	    {"--methods flsh", "did you mean 'flash'"},
	    {"--methods flsh", "--plugin"},
	    {"--preset no_such_preset", "the presets: "},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		ck_assert_msg(cli("sweep --db %s/x.db %s", dir, bad[i].args) == 2, "%s: %s",
		              bad[i].args, out);
		ck_assert_msg(strstr(out, bad[i].needle) != NULL, "'%s' not named in: %s",
		              bad[i].needle, out);
	}
	/* Nothing ran, and no database file was made. */
	char db[512];
	snprintf(db, sizeof(db), "%s/x.db", dir);
	ck_assert_msg(access(db, F_OK) != 0, "a refused sweep left %s behind", db);
	ck_assert_int_eq(cli("sweep --preset no_such_preset"), 2);
	ck_assert_msg(strstr(out, "ci") && strstr(out, "default"), "%s", out);
	ck_assert_int_eq(cli("sweep --dry-run --methods flash,softmax --n 64..256x2 --d 16"), 0);
	ck_assert(strstr(out, "6 cases"));
}
END_TEST

START_TEST(sweep_survives_bad_plugins)
{
	char db[512];
	snprintf(db, sizeof(db), "%s/s.db", dir);
	int rc = cli("sweep --db %s --plugin %s/crash.so --plugin %s/nan.so --methods "
	             "crash_plugin,flash,nan_plugin,softmax --n 32,64 --d 16 --min-time 0.01 "
	             "--warmup 0 --roof-budget 0",
	             db, ATTN_TEST_PLUGIN_DIR, ATTN_TEST_PLUGIN_DIR);
	ck_assert_msg(rc == 1, "exit %d: %s", rc, out);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM cases"), 8);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM cases WHERE status='crashed'"), 2);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM cases WHERE status='failed_check'"),
	                 2);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM cases WHERE status='ok'"), 4);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM runs WHERE status='complete'"), 1);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM samples s JOIN cases c ON "
	                                 "c.id = s.case_id WHERE c.status <> 'ok'"),
	                 0);
}
END_TEST

/* Start a long sweep in the background; its pid. */
static pid_t start_sweep(const char *db)
{
	pid_t pid = fork();
	if (pid == 0) {
		freopen("/dev/null", "w", stderr);
		execl(ATTN_CLI, ATTN_CLI, "sweep", "--db", db, "--methods", "flash,softmax", "--n",
		      "16..512x2", "--d", "8,16,32", "--min-time", "0.05", "--warmup", "0",
		      "--quiet", "--roof-budget", "0", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void wait_for_cases(const char *db, int k)
{
	for (int i = 0; i < 600; i++) {
		if (access(db, F_OK) == 0 &&
		    db_file_int(db, "SELECT count(*) FROM sqlite_master WHERE name='cases'") == 1 &&
		    db_file_int(db, "SELECT count(*) FROM cases") >= k)
			return;
		struct timespec ts = {0, 50000000};
		nanosleep(&ts, NULL);
	}
	ck_abort_msg("the sweep recorded fewer than %d cases in 30 s", k);
}

static void resume_and_verify(const char *db)
{
	long long before = db_file_int(db, "SELECT count(*) FROM cases");
	int rc = cli("sweep --db %s --resume --quiet", db);
	ck_assert_msg(rc == 0, "resume exit %d: %s", rc, out);
	/* 2 methods x 6 lengths x 3 dims, each exactly once. */
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM cases"), 36);
	ck_assert_int_eq(db_file_int(db, "SELECT count(DISTINCT key) FROM cases"), 36);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM runs"), 1);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM runs WHERE status='complete'"), 1);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM cases WHERE status='ok'"), 36);
	ck_assert_int_ge(before, 3);
}

START_TEST(kill9_then_resume)
{
	char db[512];
	snprintf(db, sizeof(db), "%s/k.db", dir);
	pid_t pid = start_sweep(db);
	wait_for_cases(db, 5);
	kill(pid, SIGKILL);
	int st;
	waitpid(pid, &st, 0);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM runs WHERE status='running'"), 1);
	long long kept = db_file_int(db, "SELECT count(*) FROM cases");
	ck_assert_int_lt(kept, 36);
	resume_and_verify(db);
	/* Nothing left to resume. */
	ck_assert_int_eq(cli("sweep --db %s --resume", db), 2);
	ck_assert(strstr(out, "no unfinished run"));
}
END_TEST

START_TEST(sigint_then_resume)
{
	char db[512];
	snprintf(db, sizeof(db), "%s/i.db", dir);
	pid_t pid = start_sweep(db);
	wait_for_cases(db, 4);
	kill(pid, SIGINT);
	int st;
	waitpid(pid, &st, 0);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 130);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM runs WHERE status='interrupted'"),
	                 1);
	/* Spec options that disagree with the stored run are refused. */
	ck_assert_int_eq(cli("sweep --db %s --resume --n 64", db), 2);
	ck_assert(strstr(out, "was started with n = 16..512x2"));
	resume_and_verify(db);
}
END_TEST

START_TEST(locked_and_corrupt_db)
{
	char db[512];
	snprintf(db, sizeof(db), "%s/l.db", dir);
	ck_assert_int_eq(
	    cli("sweep --db %s --methods flash --n 16 --d 8 --quiet --roof-budget 0", db), 0);
	long long kept = db_file_int(db, "SELECT count(*) FROM cases");
	ck_assert_int_eq(kept, 1);

	/* Another process holds the write lock: a clear error, exit 3. */
	sqlite3 *h;
	sqlite3_open(db, &h);
	ck_assert_int_eq(sqlite3_exec(h, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	setenv("ATTNBENCH_BUSY_TIMEOUT_MS", "300", 1);
	int rc = cli("sweep --db %s --methods flash --n 16 --d 8 --quiet", db);
	unsetenv("ATTNBENCH_BUSY_TIMEOUT_MS");
	ck_assert_msg(rc == 3, "exit %d: %s", rc, out);
	ck_assert_msg(strstr(out, "locked") || strstr(out, "another process"), "%s", out);
	sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(h);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM cases"), kept);

	/* Garbage where a database should be: refused, left as it is. */
	snprintf(db, sizeof(db), "%s/garbage.db", dir);
	FILE *f = fopen(db, "w");
	for (int i = 0; i < 100; i++)
		fputs("not sqlite at all\n", f);
	fclose(f);
	ck_assert_int_eq(cli("sweep --db %s --methods flash --n 16 --d 8", db), 3);
	ck_assert(strstr(out, "not a database"));
	ck_assert_int_eq(cli("export --db %s", db), 3);
	f = fopen(db, "r");
	char line[64];
	ck_assert(fgets(line, sizeof(line), f) && strcmp(line, "not sqlite at all\n") == 0);
	fclose(f);
}
END_TEST

static void write_tensor(const char *path, int64_t b, int64_t h, int64_t n, int64_t d,
                         unsigned seed, float **data)
{
	int64_t shape[4] = {b, h, n, d};
	size_t count = (size_t)(b * h * n * d);
	*data = malloc(count * sizeof(float));
	for (size_t i = 0; i < count; i++) {
		seed = seed * 1664525u + 1013904223u;
		(*data)[i] = (float)((seed >> 8) / 16777216.0 * 2 - 1);
	}
	char err[512];
	ck_assert_msg(attn_npy_write(path, 4, shape, *data, err, sizeof(err)) == 0, "%s", err);
}

START_TEST(run_npy_round_trip)
{
	char q[512], k[512], v[512], o[512];
	snprintf(q, sizeof(q), "%s/q.npy", dir);
	snprintf(k, sizeof(k), "%s/k.npy", dir);
	snprintf(v, sizeof(v), "%s/v.npy", dir);
	snprintf(o, sizeof(o), "%s/o.npy", dir);
	float *qd, *kd, *vd;
	write_tensor(q, 1, 4, 50, 16, 1, &qd);
	write_tensor(k, 1, 2, 50, 16, 2, &kd);
	write_tensor(v, 1, 2, 50, 16, 3, &vd);
	int rc = cli("run --method flash --causal --q %s --k %s --v %s --out %s --min-time 0", q, k,
	             v, o);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	ck_assert(strstr(out, "rel_err"));
	struct attn_npy res;
	char err[512];
	ck_assert_int_eq(attn_npy_read(o, &res, err, sizeof(err)), 0);
	ck_assert_int_eq(res.ndim, 4);
	ck_assert_int_eq(res.shape[1], 4);
	ck_assert_int_eq(res.shape[2], 50);
	struct attn_shape s = {
	    .batch = 1, .heads = 4, .kv_heads = 2, .n = 50, .d = 16, .causal = 1};
	struct attn_inputs in = {.q = qd, .k = kd, .v = vd};
	double *ref = malloc(4 * 50 * 16 * sizeof(double));
	ck_assert_int_eq(attn_reference_softmax(&s, &in, ref), 0);
	for (int i = 0; i < 4 * 50 * 16; i++)
		ck_assert_double_eq_tol(res.data[i], ref[i], 1e-5);
	free(ref);
	attn_npy_free(&res);

	/* Shapes that do not fit together are named. */
	ck_assert_int_eq(cli("run --method flash --q %s --k %s --v %s", q, q, v), 2);
	ck_assert_msg(strstr(out, "differ") != NULL, "%s", out);
	ck_assert_int_eq(cli("run --method flash --q %s --k %s --v %s", k, q, q), 2);
	ck_assert_msg(strstr(out, "do not divide") != NULL, "%s", out);
	/* A file that is not .npy is named. */
	FILE *f = fopen(o, "w");
	fputs("hello", f);
	fclose(f);
	ck_assert_int_eq(cli("run --method flash --q %s --k %s --v %s", o, k, v), 2);
	ck_assert_msg(strstr(out, o) != NULL, "%s", out);
	ck_assert_int_eq(cli("run --method nosuch --n 8"), 2);
	ck_assert_int_eq(cli("run --method flash --q %s", q), 2);
	ck_assert_int_eq(cli("run --method flash --param bq=5 --n 8"), 2);
	ck_assert(strstr(out, "bq"));
	/* Decode: Q with one row over K and V of 50. */
	free(qd);
	write_tensor(q, 1, 4, 1, 16, 4, &qd);
	ck_assert_int_eq(cli("run --method softmax --q %s --k %s --v %s --min-time 0", q, k, v), 0);
	ck_assert(strstr(out, "mode=decode"));
	free(qd);
	free(kd);
	free(vd);
}
END_TEST

START_TEST(export_formats)
{
	char db[512], path[600];
	snprintf(db, sizeof(db), "%s/e.db", dir);
	ck_assert_int_eq(
	    cli("sweep --db %s --methods flash,softmax --n 32 --d 8 --quiet --roof-budget 0", db),
	    0);
	ck_assert_int_eq(cli("export --db %s --format csv", db), 0);
	ck_assert(strncmp(out, "id,run_id,method", 16) == 0);
	ck_assert(strstr(out, "median_ns") && strstr(out, "softmax"));
	snprintf(path, sizeof(path), "%s/e.json", dir);
	ck_assert_int_eq(cli("export --db %s --format json --out %s", db, path), 0);
	FILE *f = fopen(path, "r");
	ck_assert(f != NULL);
	size_t n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = 0;
	fclose(f);
	ck_assert(strstr(out, "\"runs\"") && strstr(out, "\"openblas_core\"") &&
	          strstr(out, "\"metrics\""));
	ck_assert_int_eq(cli("export --db %s --format xml", db), 2);
	ck_assert_int_eq(cli("export --db %s/none.db", dir), 3);
}
END_TEST

/* What the measurement layer records: roofs, counters, placement, fractions. */
START_TEST(measurement_recorded)
{
	char db[512];
	snprintf(db, sizeof(db), "%s/m.db", dir);
	int rc = cli("sweep --db %s --methods flash,softmax --n 128,256 --d 32 --threads 1,2 "
	             "--roof-budget 0.3 --counters perf::TASK-CLOCK,perf::PAGE-FAULTS,PAPI_TOT_INS",
	             db);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	ck_assert_msg(strstr(out, "roofs at 1 thread") && strstr(out, "roofs at 2 threads"), "%s",
	              out);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM run_roofs WHERE sgemm_gflops > 0 "
	                                 "AND fma_gflops > 0 AND triad_gbps > 0"),
	                 2);
	ck_assert_int_eq(db_file_int(db, "SELECT available FROM run_counters WHERE "
	                                 "event = 'perf::TASK-CLOCK'"),
	                 1);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM run_info WHERE "
	                                 "key = 'counters_overhead_ns'"),
	                 1);
	/* Every sample of every case has a task-clock reading. */
	ck_assert_int_eq(db_file_int(db,
	                             "SELECT count(*) FROM samples s WHERE NOT EXISTS (SELECT 1 "
	                             "FROM sample_counters c WHERE c.case_id = s.case_id AND "
	                             "c.rep = s.rep AND c.event = 'perf::TASK-CLOCK' AND "
	                             "c.value > 0)"),
	                 0);
	/* Hardware counts this machine lacks are NULL, never 0. */
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM sample_counters WHERE "
	                                 "event = 'PAPI_TOT_INS' AND value = 0"),
	                 0);
	if (db_file_int(db, "SELECT available FROM run_counters WHERE event = 'PAPI_TOT_INS'") == 0)
		ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM sample_counters WHERE "
		                                 "event = 'PAPI_TOT_INS' AND (value IS NOT NULL OR "
		                                 "state <> 'unavailable')"),
		                 0);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM results WHERE frac_sgemm > 0 AND "
	                                 "frac_fma > 0 AND cache_level BETWEEN 1 AND 4 AND "
	                                 "tracked_peak_bytes > 0 AND cpus IS NOT NULL"),
	                 8);
}
END_TEST

/* A figure over the samples of one run: count(*), count(roof_ns), ... */
static long long run_samples(const char *db, int run, const char *what)
{
	char sql[256];
	snprintf(sql, sizeof(sql),
	         "SELECT %s FROM samples s JOIN cases c ON c.id = s.case_id WHERE c.run_id = %d",
	         what, run);
	return db_file_int(db, sql);
}

/* --roof-probe: a roof_ns beside every sample of the run; NULL everywhere without. */
START_TEST(roof_probe_stored)
{
	char db[512];
	snprintf(db, sizeof(db), "%s/probe.db", dir);
	const char *tiny = "--methods flash,window --n 64,128 --d 16 --min-time 0.01 --warmup 0 "
	                   "--roof-budget 0 --counters none --quiet";
	int rc = cli("sweep --db %s %s --roof-probe", db, tiny);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	ck_assert_int_gt(db_file_int(db, "SELECT count(*) FROM samples"), 0);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM samples WHERE NOT roof_ns > 0"), 0);
	ck_assert_int_eq(db_file_int(db, "SELECT value FROM run_info WHERE key = 'roof_probe'"), 1);
	/* and again without --roof-probe, into the same file: run 2 has none */
	rc = cli("sweep --db %s %s", db, tiny);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	ck_assert_int_gt(run_samples(db, 2, "count(*)"), 0);
	ck_assert_int_eq(run_samples(db, 2, "count(roof_ns)"), 0);
}
END_TEST

/* ATTNBENCH_INJECT_SLOWDOWN: validated, announced, and recorded on the run. */
START_TEST(inject_slowdown_env)
{
	char db[512];
	snprintf(db, sizeof(db), "%s/inj.db", dir);
	static const char *bad[][2] = {{"window", "method:factor"},
	                               {"window:", "factor ''"},
	                               {"nosuch:1.5", "no method named 'nosuch'"},
	                               {"window:1", "factor '1'"},
	                               {"window:10.5", "factor '10.5'"},
	                               {"window:1.1x", "factor '1.1x'"}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		setenv("ATTNBENCH_INJECT_SLOWDOWN", bad[i][0], 1);
		int rc = cli("sweep --db %s --methods window --n 64 --dry-run", db);
		ck_assert_msg(rc == 2 && strstr(out, bad[i][1]), "%s: exit %d: %s", bad[i][0], rc,
		              out);
	}
	setenv("ATTNBENCH_INJECT_SLOWDOWN", "window:1.10", 1);
	int rc = cli("sweep --db %s --methods window,flash --n 64 --d 16 --min-time 0.01 "
	             "--warmup 0 --roof-budget 0 --counters none",
	             db);
	unsetenv("ATTNBENCH_INJECT_SLOWDOWN");
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	ck_assert_msg(strstr(out, "sweep: ATTNBENCH_INJECT_SLOWDOWN=window:1.10: window's forward "
	                          "is made 10% slower (for testing the gate only)"),
	              "%s", out);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM run_info WHERE "
	                                 "key = 'inject_slowdown' AND value = 'window:1.10'"),
	                 1);
}
END_TEST

/* A spec file's settings: applied, overridden by the command line, errors named. */
START_TEST(preset_options)
{
	char db[512], spec[512];
	snprintf(db, sizeof(db), "%s/opt.db", dir);
	snprintf(spec, sizeof(spec), "%s/tiny.spec", dir);
	FILE *f = fopen(spec, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "methods = flash\nn = 64\nd = 16\n# sweep settings, then a comment\n"
	           "min_reps = 7\nmax_reps = 7\nmin_time = 0\nwarmup = 0 # fixed count\n"
	           "roof_budget = 0\ncounters = none\nroof_probe = 1\n");
	fclose(f);
	int rc = cli("sweep --db %s --spec %s --quiet", db, spec);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM samples WHERE roof_ns > 0"), 7);
	/* the command line wins; the stored spec has no settings */
	rc = cli("sweep --db %s --min-reps 4 --spec %s --max-reps 4 --quiet", db, spec);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	ck_assert_int_eq(run_samples(db, 2, "count(*)"), 4);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM runs WHERE spec LIKE '%options%'"),
	                 0);

	/* A bad setting (or the old options line) names the file. */
	static const char *bad[] = {"min_reps = zz", "bogus = 1", "stray", "options = --preset ci"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		f = fopen(spec, "w");
		ck_assert_ptr_nonnull(f);
		fprintf(f, "n = 64\n%s\n", bad[i]);
		fclose(f);
		rc = cli("sweep --db %s --spec %s --dry-run", db, spec);
		ck_assert_msg(rc == 2 && strstr(out, spec), "%s: exit %d: %s", bad[i], rc, out);
	}
}
END_TEST

/* The CI gate's preset covers every family. */
START_TEST(ci_preset_families)
{
	int rc = cli("sweep --preset ci --dry-run");
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	static const char *methods[] = {"flash[",    "softmax[",    "retnet[", "gla[",
	                                "deltanet[", "performer[",  "rwkv[",   "window[",
	                                "moba[",     "block_topk[", "nsa[",    "hybrid["};
	for (size_t i = 0; i < sizeof(methods) / sizeof(*methods); i++)
		ck_assert_msg(strstr(out, methods[i]), "no %s case: %s", methods[i], out);
}
END_TEST

/* Causal by default, and the README's Fig. 4 command (decode, no --causal) runs every stack. */
START_TEST(sweep_causal_default_and_fig4)
{
	ck_assert_int_eq(cli("sweep --dry-run --methods flash --n 64"), 0);
	ck_assert_msg(strstr(out, " causal prefill"), "%s", out);
	ck_assert_int_eq(cli("sweep --dry-run --methods flash --n 64 --causal=both --mode both"),
	                 0);
	ck_assert_msg(strstr(out, "3 cases"), "%s", out);
	ck_assert_msg(!strstr(out, " h=1/1 b=1 decode"), "a non-causal decode case: %s", out);
	/* As printed, then at a size the suite affords. */
	const char *fig4 =
	    "--methods \"hybrid[stack=minimax,jamba,gemma3;full=0,1]\" --mode decode";
	ck_assert_int_eq(cli("sweep --dry-run %s --n 1024..65536x4", fig4), 0);
	ck_assert_msg(strstr(out, "24 cases"), "%s", out);
	char db[512];
	snprintf(db, sizeof(db), "%s/fig4.db", dir);
	int rc = cli("sweep --db %s %s --n 256 --d 16 --min-time 0 --min-reps 2 --max-reps 2 "
	             "--warmup 0 --roof-budget 0 --counters none --quiet",
	             db, fig4);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM cases WHERE status = 'ok'"), 6);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM cases WHERE causal = 0"), 0);
}
END_TEST

/* A sweep says which cases lack their error figure, and why. */
START_TEST(sweep_says_why_error_missing)
{
	char db[512];
	snprintf(db, sizeof(db), "%s/noerr.db", dir);
	int rc = cli("sweep --db %s --methods flash,linear_elu --n 64 --d 16 --heads 1 "
	             "--check-max-flops 0 --min-time 0 --min-reps 1 --max-reps 1 --warmup 0 "
	             "--roof-budget 0 --counters none",
	             db);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	ck_assert_msg(strstr(out, "2 cases without an error figure"), "%s", out);
	ck_assert_msg(strstr(out, "no oracle: --check-max-flops 0"), "%s", out);
	/* With an oracle, the line is not there. */
	snprintf(db, sizeof(db), "%s/err.db", dir);
	rc = cli("sweep --db %s --methods flash,linear_elu --n 64 --d 16 --heads 1 --min-time 0 "
	         "--min-reps 1 --max-reps 1 --warmup 0 --roof-budget 0 --counters none",
	         db);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	ck_assert_msg(!strstr(out, "without an error figure"), "%s", out);
}
END_TEST

/* `run` says each figure under a name its unit agrees with, and as JSON. */
START_TEST(run_output_names_units_json)
{
	int rc = cli("run --method flash --n 128 --d 16 --min-time 0 --min-reps 2");
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	ck_assert_msg(strstr(out, "\nmedian ") && !strstr(out, "median_ns"), "%s", out);
	ck_assert_msg(strstr(out, "\nworkspace ") && strstr(out, "iB\n"), "%s", out);
	ck_assert_msg(!strstr(out, " 1\n"), "a unit of 1 printed: %s", out);
	ck_assert_msg(strstr(out, "dist=gaussian seed=42"), "%s", out);
	ck_assert_int_eq(cli("run --method flash --n 128 --d 16 --mode decode --min-time 0"), 0);
	ck_assert_msg(strstr(out, "causal=1 mode=decode"), "%s", out);
	rc = cli("run --method flash --n 128 --d 16 --min-time 0 --min-reps 2 --format json");
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	static const char *keys[] = {"{\"method\": \"flash\"",    "\"kv_heads\": 1",
	                             "\"inputs\": \"generated\"", "\"seed\": 42",
	                             "\"status\": \"ok\"",        "\"median_ns\": {\"value\": ",
	                             "\"unit\": \"ns\""};
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
		ck_assert_msg(strstr(out, keys[i]), "no %s in %s", keys[i], out);
	ck_assert_int_eq(cli("run --method flash --n 128 --format yaml"), 2);
	ck_assert_msg(strstr(out, "yaml"), "%s", out);
	ck_assert_int_eq(cli("run --method flash --heads 4 --kv-heads 3"), 2);
	ck_assert_msg(strstr(out, "--kv-heads 3"), "%s", out);
	ck_assert_int_eq(cli("run --method flahs"), 2);
	ck_assert_msg(strstr(out, "did you mean 'flash'") && strstr(out, "--plugin"), "%s", out);

	/* Inputs from files: no generated dist or seed is claimed. */
	char q[512], k[512], v[512];
	snprintf(q, sizeof(q), "%s/q.npy", dir);
	snprintf(k, sizeof(k), "%s/k.npy", dir);
	snprintf(v, sizeof(v), "%s/v.npy", dir);
	float *qd, *kd, *vd;
	write_tensor(q, 1, 2, 32, 16, 1, &qd);
	write_tensor(k, 1, 2, 32, 16, 2, &kd);
	write_tensor(v, 1, 2, 32, 16, 3, &vd);
	rc = cli("run --method flash --q %s --k %s --v %s --min-time 0", q, k, v);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	ck_assert_msg(!strstr(out, "dist=") && !strstr(out, "seed=") && strstr(out, "inputs "),
	              "%s", out);
	rc = cli("run --method flash --q %s --k %s --v %s --min-time 0 --format json", q, k, v);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	ck_assert_msg(strstr(out, "\"inputs\": \"files\", \"dist\": null, \"seed\": null"), "%s",
	              out);
	free(qd);
	free(kd);
	free(vd);
}
END_TEST

/* ---- plot ---------------------------------------------------------------- */

/*
 * The plot tests read one tiny sweep of flash and performer with a 0.3 s roof
 * budget, made once before they fork (an unchecked fixture runs in the
 * runner's process). Each still writes its charts to its own DIR, and a test
 * that changes the database changes a copy.
 */
static char swept_dir[TMPDIR_LEN], swept_db[TMPDIR_LEN + 8];
static int swept = -1;
static char swept_out[sizeof(out)];

static void sweep_for_plot(void)
{
	cli_env();
	tmpdir_make(swept_dir, "cli_plot");
	snprintf(swept_db, sizeof(swept_db), "%s/p.db", swept_dir);
	swept = cli("sweep --methods flash,performer --n 64,128 --d 16 --min-time 0.01 "
	            "--warmup 0 --quiet --roof-budget 0.3 --db %s",
	            swept_db);
	memcpy(swept_out, out, sizeof(out));
}

static void swept_remove(void)
{
	tmpdir_remove(swept_dir);
}

/* The shared sweep's database, not to be written to. */
static const char *plot_db(void)
{
	ck_assert_msg(swept == 0, "the sweep exited %d:\n%s", swept, swept_out);
	return swept_db;
}

/* What plot wrote to DIR/out/name; the caller frees it. */
static char *plot_text(const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/out/%s", dir, name);
	return slurp(path);
}

START_TEST(plot_png_svg_from_db)
{
	const char *db = plot_db();
	char path[512];
	const char *metrics[] = {"time", "memory", "gflops", "roof", "error"};
	for (int i = 0; i < 5; i++) {
		ck_assert_msg(cli("plot --db %s --metric %s --out %s/out", db, metrics[i], dir) ==
		                  0,
		              "%s", out);
		snprintf(path, sizeof(path), "%s/out/%s.png", dir, metrics[i]);
		ck_assert_msg(file_size(path) > 1000, "%s: %s", path, out);
	}
	ck_assert_msg(cli("plot --db %s --format svg --out %s/out", db, dir) == 0, "%s", out);
	char *text = plot_text("time.svg");
	ck_assert(strstr(text, "<svg") != NULL);
	free(text);

	/* The time data holds the stored medians, and the legend the fitted slope. */
	char want[64];
	snprintf(want, sizeof(want), "\n128 %lld",
	         db_file_int(db,
	                     "SELECT CAST(m.value AS INTEGER) FROM cases c JOIN metrics m ON "
	                     "m.case_id = c.id AND m.name = 'median_ns' WHERE c.method = 'flash' "
	                     "AND c.n = 128"));
	text = plot_text("time_00.dat");
	ck_assert_msg(strstr(text, want) != NULL, "%s not in %s", want, text);
	free(text);
	text = plot_text("time.gp");
	ck_assert(strstr(text, "(theory 2)") && strstr(text, "title 'flash  N^"));
	free(text);
	/* The roofline carries the run's measured roofs; error leaves exact flash out. */
	text = plot_text("roof.gp");
	ck_assert(strstr(text, "sgemm roof") && strstr(text, "triad bandwidth"));
	free(text);
	text = plot_text("error.gp");
	ck_assert(strstr(text, "performer") && !strstr(text, "flash"));
	free(text);

	/* Shape filters: the sweep is causal (the default) prefill on 1 thread at d = 16. */
	ck_assert_msg(cli("plot --db %s --causal 1 --mode prefill --threads 1 --d 16 --out %s/out",
	                  db, dir) == 0,
	              "%s", out);
	ck_assert_msg(strstr(out, "2 series") != NULL, "%s", out);
	ck_assert_int_eq(cli("plot --db %s --causal 0 --out %s/out", db, dir), 2);
	ck_assert_msg(strstr(out, "nothing to plot: ") && strstr(out, "of that shape"), "%s", out);
	ck_assert_int_eq(cli("plot --db %s --mode sideways --out %s/out", db, dir), 2);
	ck_assert_msg(strstr(out, "--mode 'sideways'") != NULL, "%s", out);
	ck_assert_int_eq(cli("plot --db %s --threads 0 --out %s/out", db, dir), 2);
}
END_TEST

START_TEST(plot_errors)
{
	const char *db = plot_db();
	char empty[256];
	snprintf(empty, sizeof(empty), "%s/empty.db", dir);
	ck_assert_int_eq(cli("sweep --methods flash --n 64 --d 16 --min-time 0.01 --warmup 0 "
	                     "--quiet --roof-budget 0 --db %s",
	                     empty),
	                 0);
	db_file_exec(empty, "DELETE FROM cases");
	ck_assert_int_eq(cli("plot --db %s --out %s/out", empty, dir), 2);
	ck_assert_msg(strstr(out, "nothing to plot: ") != NULL, "%s", out);
	ck_assert_int_eq(cli("plot --db %s --run 9 --out %s/out", db, dir), 2);
	ck_assert_msg(strstr(out, "nothing to plot: run 9") != NULL, "%s", out);
	ck_assert_int_eq(cli("plot --db %s --metric speed --out %s/out", db, dir), 2);
	ck_assert_msg(strstr(out, "--metric 'speed'") != NULL, "%s", out);
	ck_assert_int_eq(cli("plot --db %s --methods flash,nosuch --out %s/out", db, dir), 2);
	ck_assert_msg(strstr(out, "unknown method 'nosuch'") != NULL, "%s", out);
	ck_assert_int_eq(cli("plot --db %s --metric counter:NO_SUCH --out %s/out", db, dir), 2);
	ck_assert_msg(strstr(out, "nothing to plot: ") != NULL, "%s", out);
	/* A foreign file is the store's refusal, a database error. */
	char bad[256];
	snprintf(bad, sizeof(bad), "%s/bad.db", dir);
	FILE *f = fopen(bad, "w");
	ck_assert(f != NULL);
	fputs("not a database at all, just text that is long enough to be a header\n", f);
	fclose(f);
	ck_assert_int_eq(cli("plot --db %s --out %s/out", bad, dir), 3);
	/* PATH without gnuplot (this test's own process; popen's sh has a full path). */
	char *path = strdup(getenv("PATH"));
	setenv("PATH", dir, 1);
	int rc = cli("plot --db %s --out %s/out", db, dir);
	setenv("PATH", path, 1); /* under CK_FORK=no the later tests share it */
	free(path);
	ck_assert_int_eq(rc, 2);
	ck_assert_msg(strstr(out, "gnuplot not found: apt-get install gnuplot-nox") != NULL, "%s",
	              out);
}
END_TEST

/* Database text with quotes, backslashes and ^ _ @ reaches the legend intact. */
START_TEST(plot_escapes_labels)
{
	char db[256], path[512];
	snprintf(db, sizeof(db), "%s/p.db", dir);
	db_file_copy(plot_db(), db);
	db_file_exec(db, "UPDATE cases SET method = 'my_fl''ash\\@^x', params = 'a=\"1\",b=''2''' "
	                 "WHERE method = 'flash'");
	ck_assert_msg(cli("plot --db %s --out %s/out", db, dir) == 0, "%s", out);
	snprintf(path, sizeof(path), "%s/out/time.png", dir);
	ck_assert(file_size(path) > 1000);
	char *gp = plot_text("time.gp");
	ck_assert_msg(strstr(gp, "title 'my_fl''ash\\@^x") != NULL, "%s", gp);
	ck_assert_msg(strstr(gp, "noenhanced") != NULL, "%s", gp);
	free(gp);
}
END_TEST

/* ---- issue 13, sweep driver (helper "sweep"): small holes, recorded ----------------------- */

/* Values the sweep used to change or drop without a word: refused, the value named. */
START_TEST(sweep_values_not_changed_silently)
{
	static const struct {
		const char *args, *needle;
	} bad[] = {
	    {"--dist gaussian,,", "empty element at offset 9"},
	    {"--dist local,", "empty element"},
	    {"--seed 18446744073709551616", "18446744073709551616"},
	    {"--seed 99999999999999999999999", "above the largest seed"},
	    {"--methods 'retnet[gamma=1e-400]'", "'1e-400' at offset 13 is too small for a double"},
	};
	char db[512];
	snprintf(db, sizeof(db), "%s/v.db", dir);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		ck_assert_msg(cli("sweep --db %s --n 64 --d 16 %s", db, bad[i].args) == 2, "%s: %s",
		              bad[i].args, out);
		ck_assert_msg(strstr(out, bad[i].needle), "'%s' not named in: %s", bad[i].needle,
		              out);
	}
	if (access(db, F_OK) == 0)
		ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM runs"), 0);
	ck_assert_int_eq(cli("sweep --dry-run --methods flash --n 64 --seed 18446744073709551615 "
	                     "--dist 'gaussian, local'"),
	                 0);
	ck_assert_msg(strstr(out, "2 cases"), "%s", out);
}
END_TEST

/* The CPUs this process may use, as the sweep counts them. */
static int test_cpus(void)
{
	cpu_set_t set;
	ck_assert_int_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	return CPU_COUNT(&set);
}

/* More threads than CPUs: one warning, and the run and each such case say so. */
START_TEST(sweep_oversubscription_recorded)
{
	char db[512];
	snprintf(db, sizeof(db), "%s/over.db", dir);
	int cpus = test_cpus();
	int rc = cli("sweep --db %s --methods flash,softmax --n 32 --d 8 --threads 1,%d "
	             "--min-time 0 --warmup 0 --roof-budget 0 --counters none --quiet",
	             db, 4 * cpus);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	const char *w = strstr(out, "are oversubscribed");
	ck_assert_msg(w && !strstr(w + 1, "are oversubscribed"), "not warned once: %s", out);
	char want[128];
	snprintf(want, sizeof(want), "2 of 4 cases ask for more threads (up to %d) than the %d CPU",
	         4 * cpus, cpus);
	ck_assert_msg(strstr(out, want), "%s lacks %s", out, want);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM run_info WHERE "
	                                 "key = 'oversubscribed' AND value LIKE '2 of 4 cases%'"),
	                 1);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM metrics m JOIN cases c ON "
	                                 "c.id = m.case_id WHERE m.name = 'oversubscribed' AND "
	                                 "m.value = 4 AND c.threads > 1"),
	                 2);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM metrics m JOIN cases c ON "
	                                 "c.id = m.case_id WHERE m.name = 'oversubscribed' AND "
	                                 "c.threads = 1"),
	                 0);
	/* a sweep that fits says nothing and records nothing */
	rc = cli("sweep --db %s --methods flash --n 32 --d 8 --min-time 0 --warmup 0 "
	         "--roof-budget 0 --counters none --quiet",
	         db);
	ck_assert_msg(rc == 0 && !strstr(out, "oversubscribed"), "exit %d: %s", rc, out);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM run_info WHERE run_id = 2 AND "
	                                 "key = 'oversubscribed'"),
	                 0);
}
END_TEST

/* A spec file's settings are stored with the run (run_info spec_options), as options. */
START_TEST(sweep_spec_options_stored)
{
	char db[512], spec[512];
	snprintf(db, sizeof(db), "%s/so.db", dir);
	snprintf(spec, sizeof(spec), "%s/p.spec", dir);
	FILE *f = fopen(spec, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "methods = flash\nn = 32\nd = 8\n"
	           "min_reps = 4\nmax_reps = 4\nmin_time = 0\nwarmup = 0\n"
	           "roof_budget = 0\ncounters = none\n");
	fclose(f);
	int rc = cli("sweep --db %s --spec %s --quiet", db, spec);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	ck_assert_int_eq(db_file_int(db,
	                             "SELECT count(*) FROM run_info WHERE key = "
	                             "'spec_options' AND value = '--min-reps 4 --max-reps 4 "
	                             "--min-time 0 --warmup 0 --roof-budget 0 --counters none'"),
	                 1);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM run_info WHERE key = 'min_reps' "
	                                 "AND value = '4'"),
	                 1);
}
END_TEST

/*
 * A database error that stops the sweep (exit 3) is said as such: the last
 * line used to read "run 1 finished ...: 6 ok". Another connection holds
 * the database locked past the sweep's busy timeout; the cases committed
 * before stay, and --resume finishes once the lock is gone.
 */
START_TEST(sweep_db_error_is_not_finished)
{
	char db[512], errpath[512];
	snprintf(db, sizeof(db), "%s/lock.db", dir);
	snprintf(errpath, sizeof(errpath), "%s/lock.err", dir);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		setenv("ATTNBENCH_BUSY_TIMEOUT_MS", "300", 1);
		if (!freopen(errpath, "w", stderr))
			_exit(126);
		execl(ATTN_CLI, ATTN_CLI, "sweep", "--db", db, "--methods", "flash,softmax", "--n",
		      "16..512x2", "--d", "8", "--no-interleave", "--min-time", "0.3", "--warmup",
		      "0", "--roof-budget", "0", "--counters", "none", (char *)NULL);
		_exit(127);
	}
	wait_for_cases(db, 2);
	sqlite3 *h = db_file_open(db);
	db_exec(h, "BEGIN EXCLUSIVE");
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	long long kept = db_int(h, "SELECT count(*) FROM cases");
	db_exec(h, "ROLLBACK");
	sqlite3_close(h);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 3);
	char *err = slurp(errpath);
	ck_assert_msg(strstr(err, "database is locked"), "%s", err);
	ck_assert_msg(strstr(err, "stopped on a database error") && !strstr(err, "finished in"),
	              "%s", err);
	ck_assert_msg(strstr(err, "--resume"), "%s", err);
	free(err);
	ck_assert_int_ge(kept, 2);
	ck_assert_int_lt(kept, 12);
	ck_assert_int_eq(cli("sweep --db %s --resume --quiet", db), 0);
	ck_assert_int_eq(db_file_int(db, "SELECT count(DISTINCT key) FROM cases"), 12);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM cases"), 12);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM runs WHERE status = 'complete'"), 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("end-to-end");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, help_everywhere);
	tcase_add_test(tc, bad_specs_rejected);
	tcase_add_test(tc, sweep_survives_bad_plugins);
	tcase_add_test(tc, kill9_then_resume);
	tcase_add_test(tc, sigint_then_resume);
	tcase_add_test(tc, locked_and_corrupt_db);
	tcase_add_test(tc, run_npy_round_trip);
	tcase_add_test(tc, export_formats);
	tcase_add_test(tc, measurement_recorded);
	tcase_add_test(tc, roof_probe_stored);
	tcase_add_test(tc, inject_slowdown_env);
	tcase_add_test(tc, preset_options);
	tcase_add_test(tc, ci_preset_families);
	tcase_add_test(tc, sweep_causal_default_and_fig4);
	tcase_add_test(tc, sweep_says_why_error_missing);
	tcase_add_test(tc, run_output_names_units_json);
	tcase_set_timeout(tc, 240);
	suite_add_tcase(s, tc);
	tc = tcase_create("sweep driver");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, sweep_values_not_changed_silently);
	tcase_add_test(tc, sweep_oversubscription_recorded);
	tcase_add_test(tc, sweep_spec_options_stored);
	tcase_add_test(tc, sweep_db_error_is_not_finished);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	tc = tcase_create("plot");
	tcase_add_unchecked_fixture(tc, sweep_for_plot, swept_remove);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, plot_png_svg_from_db);
	tcase_add_test(tc, plot_errors);
	tcase_add_test(tc, plot_escapes_labels);
	tcase_set_timeout(tc, 240);
	suite_add_tcase(s, tc);
	int failed = attn_test_run(s, CK_NORMAL);
	return failed != 0;
}
