/*
 * The sweep driver's record of how a run was measured, and the processes it
 * leaves behind, end to end through the CLI (issue 13, items 7 and the roof
 * child of 5).
 *
 * A run killed with -9 and resumed must be measured the same way in both
 * parts: its measurement options (min-reps, roof-probe, interleave, ...)
 * are stored with it and restored by --resume, an option given again with
 * another value is refused naming both, and a method that came from a
 * plugin must come from the same shared object (its fingerprint) or the
 * resume is refused. A run recorded before any of this resumes as it
 * always did, with a warning. The roof child measures for seconds before
 * the first case: killing the sweep must not leave it running, and neither
 * may a finished sweep. The suite makes itself a subreaper, so an orphan
 * of the sweep becomes its child and is counted here rather than lost to
 * init.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "cli_run.h"
#include "db.h"
#include "tmpdir.h"

static char dir[TMPDIR_LEN];

static void setup(void)
{
	tmpdir_make(dir, "resume");
	setenv("ATTNBENCH_DATA_DIR", ATTN_SOURCE_DIR, 1);
	unsetenv("ATTNBENCH_PLUGIN_PATH");
	unsetenv("ATTNBENCH_INJECT_SLOWDOWN");
}

static void teardown(void)
{
	tmpdir_remove(dir);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Run the CLI with argv (NULL-terminated) in the background, stderr to errpath; its pid. */
static pid_t start(char *const *argv, const char *errpath)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (!freopen(errpath ? errpath : "/dev/null", "w", stderr))
			_exit(126);
		execv(ATTN_CLI, argv);
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
		sleep_ms(50);
	}
	ck_abort_msg("the sweep recorded fewer than %d cases in 30 s", k);
}

static void kill9(pid_t pid)
{
	int st;
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
}

/* run_info's value of key for run 1 into buf ("" when absent). */
static void info(const char *db, const char *key, char *buf, size_t len)
{
	sqlite3 *h = db_file_open(db);
	sqlite3_stmt *s;
	buf[0] = 0;
	ck_assert_int_eq(sqlite3_prepare_v2(h,
	                                    "SELECT value FROM run_info WHERE run_id = 1 AND "
	                                    "key = ?",
	                                    -1, &s, NULL),
	                 SQLITE_OK);
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		snprintf(buf, len, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(h);
}

static void copy_file(const char *from, const char *to)
{
	FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
	ck_assert(a && b);
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), a)) > 0)
		ck_assert_uint_eq(fwrite(buf, 1, n, b), n);
	fclose(a);
	ck_assert_int_eq(fclose(b), 0);
}

/*
 * A run started with --min-reps 3 --max-reps 3 --roof-probe --no-interleave
 * --timeout 3, killed after its first case: before, --resume measured the
 * rest with 5..1000 reps, no probe and interleaved (421 samples and no
 * roof_ns in the second half), and took a rebuilt plugin of the same name.
 */
START_TEST(resume_restores_protocol_and_plugin)
{
	char db[512], so[512], abs[4096], key[4200], v[512];
	snprintf(db, sizeof(db), "%s/r.db", dir);
	snprintf(so, sizeof(so), "%s/hang.so", dir);
	copy_file(ATTN_TEST_PLUGIN_DIR "/hang.so", so);
	char *argv[] = {"attnbench",
	                "sweep",
	                "--db",
	                db,
	                "--plugin",
	                so,
	                "--methods",
	                "softmax,hang_plugin",
	                "--n",
	                "16,32",
	                "--d",
	                "8",
	                "--no-interleave",
	                "--min-reps",
	                "3",
	                "--max-reps",
	                "3",
	                "--min-time",
	                "0",
	                "--warmup",
	                "0",
	                "--roof-probe",
	                "--timeout",
	                "3",
	                "--roof-budget",
	                "0",
	                "--quiet",
	                NULL};
	pid_t pid = start(argv, NULL);
	wait_for_cases(db, 1);
	kill9(pid);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM runs WHERE status='running'"), 1);
	ck_assert_int_lt(db_file_int(db, "SELECT count(*) FROM cases"), 4);

	/* the protocol and the plugin are in the record */
	static const char *const want[][2] = {
	    {"protocol_version", "1"}, {"min_reps", "3"},   {"max_reps", "3"},
	    {"min_time_s", "0"},       {"warmup_s", "0"},   {"roof_probe", "1"},
	    {"interleave", "0"},       {"timeout_s", "3"},  {"roof_budget_s", "0"},
	    {"counters", "default"},   {"bind", "compact"}, {"spec_options", ""}};
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
		info(db, want[i][0], v, sizeof(v));
		ck_assert_msg(strcmp(v, want[i][1]) == 0, "run_info %s = '%s', want '%s'",
		              want[i][0], v, want[i][1]);
	}
	ck_assert_ptr_nonnull(realpath(so, abs));
	snprintf(key, sizeof(key), "plugin:%s", abs);
	info(db, key, v, sizeof(v));
	ck_assert_msg(strncmp(v, "fnv1a64:", 8) == 0 && strstr(v, " methods=hang_plugin"),
	              "%s: '%s'", key, v);

	/* an option given again with another value: refused, both named */
	ck_assert_int_eq(cli("sweep --db %s --resume --plugin %s --min-reps 5 --quiet", db, so), 2);
	ck_assert_msg(strstr(out, "min_reps = 3, not 5") && strstr(out, "--min-reps"), "%s", out);
	ck_assert_int_eq(cli("sweep --db %s --resume --plugin %s --interleave --quiet", db, so), 2);
	ck_assert_msg(strstr(out, "interleave = 0, not 1"), "%s", out);
	/* the plugin missing, or another build of it: refused, nothing run */
	long long cases = db_file_int(db, "SELECT count(*) FROM cases");
	ck_assert_int_eq(cli("sweep --db %s --resume --quiet", db), 2);
	ck_assert_msg(strstr(out, "hang_plugin") && strstr(out, "not loaded now") &&
	                  strstr(out, abs),
	              "%s", out);
	FILE *f = fopen(so, "ab");
	ck_assert_ptr_nonnull(f);
	fputs("rebuilt", f);
	fclose(f);
	ck_assert_int_eq(cli("sweep --db %s --resume --plugin %s --quiet", db, so), 2);
	*strchr(v, ' ') = 0; /* the recorded fingerprint, named with the new one */
	const char *first = strstr(out, "fnv1a64:");
	ck_assert_msg(strstr(out, "another build of the plugin") && strstr(out, v) && first &&
	                  strstr(first + 1, "fnv1a64:"),
	              "%s (recorded %s)", out, v);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM cases"), cases);

	/* the original again: resumes with the stored options in force */
	copy_file(ATTN_TEST_PLUGIN_DIR "/hang.so", so);
	ck_assert_int_eq(cli("sweep --db %s --resume --plugin %s --min-reps 3 --quiet", db, so), 1);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM runs WHERE status='complete'"), 1);
	ck_assert_int_eq(db_file_int(db, "SELECT count(DISTINCT key) FROM cases"), 4);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM cases"), 4);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM cases WHERE status='timeout'"), 2);
	/* both softmax cases, before and after the kill, 3 samples each, every one probed */
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM cases WHERE status='ok'"), 2);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM cases c WHERE status='ok' AND "
	                                 "(SELECT count(*) FROM samples s WHERE s.case_id = c.id) "
	                                 "= 3 AND (SELECT count(roof_ns) FROM samples s WHERE "
	                                 "s.case_id = c.id) = 3"),
	                 2);
}
END_TEST

/* A run from before protocols were stored resumes as it did, after one warning. */
START_TEST(old_run_resumes_with_warning)
{
	char db[512];
	snprintf(db, sizeof(db), "%s/o.db", dir);
	char *argv[] = {"attnbench",     "sweep", "--db",      db,    "--methods",
	                "flash,softmax", "--n",   "16..256x2", "--d", "8",
	                "--min-time",    "0.05",  "--warmup",  "0",   "--quiet",
	                "--roof-budget", "0",     NULL};
	pid_t pid = start(argv, NULL);
	wait_for_cases(db, 2);
	kill9(pid);
	db_file_exec(db, "DELETE FROM run_info WHERE key = 'protocol_version'");
	ck_assert_int_eq(cli("sweep --db %s --resume --quiet", db), 0);
	ck_assert_msg(strstr(out, "was recorded before sweeps stored their measurement options"),
	              "%s", out);
	ck_assert_int_eq(db_file_int(db, "SELECT count(DISTINCT key) FROM cases"), 10);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM cases WHERE status='ok'"), 10);
}
END_TEST

/* The first child of pid (from /proc), 0 when it has none. */
static pid_t child_of(pid_t pid)
{
	char path[64], buf[256] = "";
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return (pid_t)atoi(buf);
}

/*
 * Reap every child of this (subreaper) process for up to `seconds`; the
 * time it took until none was left, or -1 (after killing them) if some
 * still lived.
 */
static double reap_all(double seconds)
{
	double t0 = now_s();
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p < 0 && errno == ECHILD)
			return now_s() - t0;
		if (p > 0)
			continue;
		if (now_s() - t0 > seconds)
			break;
		sleep_ms(10);
	}
	for (pid_t c; (c = child_of(getpid())) > 0;) {
		kill(c, SIGKILL);
		waitpid(c, NULL, 0);
	}
	return -1;
}

/* A sweep measuring its roofs for 5 s; its pid and its roof child's once that runs. */
static pid_t start_roofs(const char *db, pid_t *roof)
{
	char *argv[] = {"attnbench", "sweep", "--db",          (char *)db, "--methods",  "softmax",
	                "--n",       "16",    "--d",           "8",        "--min-time", "0",
	                "--warmup",  "0",     "--roof-budget", "5",        "--quiet",    NULL};
	pid_t pid = start(argv, NULL);
	*roof = 0;
	for (int i = 0; i < 400 && !(*roof = child_of(pid)); i++)
		sleep_ms(25);
	ck_assert_msg(*roof > 0, "the sweep started no roof child in 10 s");
	/*
	 * Seen between its fork and the setpgid both sides make at once, the
	 * child is still in the sweep's group (an ASan build widens that
	 * window): give it a second to be in its own.
	 */
	for (int i = 0; i < 100 && getpgid(*roof) != *roof; i++)
		sleep_ms(10);
	return pid;
}

/*
 * kill -9 of the sweep while its roof child measures: the child used to
 * run on for the rest of its budget (up to 19 s over three thread counts),
 * reparented to init. It must be gone within a second.
 */
START_TEST(roof_child_dies_with_the_sweep)
{
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	char db[512];
	snprintf(db, sizeof(db), "%s/k.db", dir);
	pid_t roof, pid = start_roofs(db, &roof);
	/* in a process group of its own, so the sweep can kill all of it */
	ck_assert_int_eq(getpgid(roof), roof);
	kill9(pid);
	double t = reap_all(1.0);
	ck_assert_msg(t >= 0, "the roof child %d outlived the sweep by more than 1 s", (int)roof);
}
END_TEST

/*
 * SIGINT while the roofs are measured: the sweep stops at once (130) and
 * kills the roof child instead of waiting out its budget.
 */
START_TEST(roof_child_killed_on_interrupt)
{
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	char db[512];
	snprintf(db, sizeof(db), "%s/i.db", dir);
	pid_t roof, pid = start_roofs(db, &roof);
	double t0 = now_s();
	kill(pid, SIGINT);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(now_s() - t0 < 2.0, "the sweep took %.1f s to stop", now_s() - t0);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 130);
	ck_assert_msg(reap_all(1.0) >= 0, "the roof child %d outlived the sweep", (int)roof);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM runs WHERE status='interrupted'"),
	                 1);
}
END_TEST

/* A sweep that measures its roofs and finishes leaves no process behind. */
START_TEST(finished_sweep_leaves_nothing)
{
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	char db[512];
	snprintf(db, sizeof(db), "%s/f.db", dir);
	char *argv[] = {"attnbench", "sweep", "--db",          db,    "--methods",  "softmax",
	                "--n",       "16",    "--d",           "8",   "--min-time", "0",
	                "--warmup",  "0",     "--roof-budget", "0.2", "--quiet",    NULL};
	pid_t pid = start(argv, NULL);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM run_roofs"), 1);
	ck_assert_msg(reap_all(0.2) >= 0, "a process of the sweep outlived it");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("resume");
	TCase *tc = tcase_create("protocol");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, resume_restores_protocol_and_plugin);
	tcase_add_test(tc, old_run_resumes_with_warning);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	tc = tcase_create("roof child");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, roof_child_dies_with_the_sweep);
	tcase_add_test(tc, roof_child_killed_on_interrupt);
	tcase_add_test(tc, finished_sweep_leaves_nothing);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return attn_test_run(s, CK_NORMAL);
}
