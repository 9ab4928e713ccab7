/*
 * The hostile-plugin suite: every way a plugin has been seen to misbehave
 * (tests/plugins/hostile_*.c and the older crash, hang, nan, hog and wrong),
 * each run through the real CLI, in `sweep` (into a database, whose status
 * and message are read back) and in `run`, with the status each must get and
 * what its message must say; plugins that misbehave while being loaded
 * (entry point, descriptor strings) with --plugin and on
 * ATTNBENCH_PLUGIN_PATH.
 *
 * After every verb no process may be left: each CLI started here carries
 * ATTN_HOSTILE_MARK=<the test's folder> in its environment, which every
 * process it forks inherits, and the plugins that start processes write
 * their pids to ATTN_HOSTILE_PIDFILE; a survivor of either kind fails the
 * test (and is killed, so that the next test starts clean).
 *
 * The CLI is run with a deadline of its own (not popen, whose read would
 * wait for every process holding the pipe), so a verb that hangs fails its
 * test instead of the suite.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "db.h"
#include "slurp.h"
#include "tmpdir.h"

static char dir[TMPDIR_LEN], mark[TMPDIR_LEN + 32], pidfile[TMPDIR_LEN + 32];
static char db[TMPDIR_LEN + 32], logfile[TMPDIR_LEN + 32];
static char out[65536];

/* Seconds any one verb here may take before the test calls it hung. */
#define VERB_LIMIT_S 60

/* The flags every sweep and run here share: small, fast, and a 2 s timeout. */
#define SWEEP_FLAGS                                                                                \
	"--n 32 --d 16 --min-time 0.01 --warmup 0 --roof-budget 0 --timeout 2 --counters none "    \
	"--quiet"
#define RUN_FLAGS "--n 32 --d 16 --min-time 0.01 --timeout 2"

static void setup(void)
{
	tmpdir_make(dir, "hostile");
	snprintf(mark, sizeof(mark), "ATTN_HOSTILE_MARK=%s", dir);
	snprintf(pidfile, sizeof(pidfile), "%s/pids", dir);
	snprintf(db, sizeof(db), "%s/s.db", dir);
	snprintf(logfile, sizeof(logfile), "%s/log", dir);
	setenv("ATTNBENCH_DATA_DIR", ATTN_SOURCE_DIR, 1);
	unsetenv("ATTNBENCH_PLUGIN_PATH");
	unsetenv("ATTNBENCH_INJECT_SLOWDOWN");
}

static void teardown(void)
{
	tmpdir_remove(dir);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/*
 * ATTN_CLI with the arguments (shell words), ATTNBENCH_PLUGIN_PATH set to
 * plugin_path (unset for NULL); stdout and stderr folded into `out`. The exit
 * code, 128 + the signal when killed, or -1 when it had not ended within
 * VERB_LIMIT_S (its process group is then killed).
 */
static int cli_with(const char *plugin_path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int cli_with(const char *plugin_path, const char *fmt, ...)
{
	char args[4096], cmd[4300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "exec %s %s", ATTN_CLI, args);
	pid_t pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		setpgid(0, 0);
		int fd = open(logfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			_exit(126);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
		putenv(mark);
		setenv("ATTN_HOSTILE_PIDFILE", pidfile, 1);
		if (plugin_path)
			setenv("ATTNBENCH_PLUGIN_PATH", plugin_path, 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	int st = 0, rc = -1;
	double until = now_s() + VERB_LIMIT_S;
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid) {
			rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			break;
		}
		if (now_s() > until) {
			kill(-pid, SIGKILL);
			waitpid(pid, &st, 0);
			break;
		}
		nap_ms(10);
	}
	char *text = slurp(logfile);
	snprintf(out, sizeof(out), "%s", text);
	free(text);
	return rc;
}

#define cli(...) cli_with(NULL, __VA_ARGS__)

/* Process pid is running (a zombie is not: it has ended and waits to be reaped). */
static int alive(long pid)
{
	char path[64], buf[512];
	if (kill((pid_t)pid, 0) != 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

/* Process pid carries this test's mark in its environment. */
static int marked(long pid)
{
	char path[64];
	static char env[1 << 16];
	snprintf(path, sizeof(path), "/proc/%ld/environ", pid);
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	size_t n = fread(env, 1, sizeof(env) - 1, f);
	fclose(f);
	env[n] = 0;
	for (size_t i = 0; i < n; i += strlen(env + i) + 1)
		if (strcmp(env + i, mark) == 0)
			return 1;
	return 0;
}

/*
 * The processes of this test still running - marked ones, and those named
 * in the pid file - listed into who and killed; how many. Processes just
 * killed get a moment (up to 2 s) to be gone.
 */
static int survivors(char *who, size_t len)
{
	int n = 0;
	who[0] = 0;
	for (int round = 0; round < 200; round++) {
		n = 0;
		who[0] = 0;
		DIR *d = opendir("/proc");
		struct dirent *e;
		while (d && (e = readdir(d))) {
			char *end;
			long pid = strtol(e->d_name, &end, 10);
			if (*end || pid <= 0 || pid == getpid())
				continue;
			if (alive(pid) && marked(pid)) {
				n++;
				size_t l = strlen(who);
				snprintf(who + l, len - l, " %ld", pid);
			}
		}
		if (d)
			closedir(d);
		FILE *f = fopen(pidfile, "r");
		long pid;
		while (f && fscanf(f, "%ld", &pid) == 1)
			if (alive(pid)) {
				char me[32];
				snprintf(me, sizeof(me), " %ld", pid);
				if (!strstr(who, me)) {
					n++;
					size_t l = strlen(who);
					snprintf(who + l, len - l, "%s", me);
				}
			}
		if (f)
			fclose(f);
		if (n == 0)
			return 0;
		nap_ms(10);
	}
	/* Still there: kill them, so the next test starts clean. */
	for (char *p = who; *p;) {
		char *end;
		long pid = strtol(p, &end, 10);
		if (end == p)
			break;
		kill((pid_t)pid, SIGKILL);
		p = end;
	}
	return n;
}

static void assert_nothing_left(const char *after)
{
	char who[1024];
	int n = survivors(who, sizeof(who));
	ck_assert_msg(n == 0, "%d process(es) left running after %s:%s", n, after, who);
}

/* The text the query gives on the database, "" for NULL or no row. */
static void db_text(const char *sql, char *buf, size_t len)
{
	sqlite3 *h = db_file_open(db);
	sqlite3_stmt *s;
	ck_assert_msg(sqlite3_prepare_v2(h, sql, -1, &s, NULL) == SQLITE_OK, "%s: %s", sql,
	              sqlite3_errmsg(h));
	buf[0] = 0;
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
		snprintf(buf, len, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(h);
}

/* One of the '|'-separated statuses in `any`. */
static int status_in(const char *status, const char *any)
{
	size_t n = strlen(status);
	for (const char *p = any; p; p = strchr(p, '|') ? strchr(p, '|') + 1 : NULL)
		if (strncmp(p, status, n) == 0 && (p[n] == '|' || p[n] == 0))
			return 1;
	return 0;
}

/* A declined case (unsupported, skipped) is no failure: sweep exits 0 and run 2 for it. */
static int declined(const char *status)
{
	return strcmp(status, "unsupported") == 0 || strncmp(status, "skipped", 7) == 0;
}

/* What one hostile method must get. */
struct hostile {
	const char *so;      /* the plugin's file in ATTN_TEST_PLUGIN_DIR, without .so */
	const char *method;  /* its method */
	const char *status;  /* the status it must get ('|' between those allowed) */
	const char *says[3]; /* what its message must contain; "~x": x in any case */
};

static int says(const char *msg, const char *what)
{
	return what[0] == '~' ? strcasestr(msg, what + 1) != NULL : strstr(msg, what) != NULL;
}

/* The case of method m in the sweep's database has the status and message h wants. */
static void check_case(const struct hostile *h, const char *m, const char *verb)
{
	char sql[512], status[64], msg[4096];
	snprintf(sql, sizeof(sql), "SELECT status FROM cases WHERE method = '%s'", m);
	db_text(sql, status, sizeof(status));
	snprintf(sql, sizeof(sql), "SELECT message FROM cases WHERE method = '%s'", m);
	db_text(sql, msg, sizeof(msg));
	ck_assert_msg(status_in(status, h->status), "%s %s: status '%s' (message '%s'), want %s",
	              verb, m, status, msg, h->status);
	for (int i = 0; i < 3 && h->says[i]; i++)
		ck_assert_msg(says(msg, h->says[i]), "%s %s: message '%s' does not say '%s'", verb,
		              m, msg, h->says[i]);
	ck_assert_msg(strlen(msg) < 1024 && !strchr(msg, '\n'),
	              "%s %s: the message is not one bounded line: %zu bytes", verb, m,
	              strlen(msg));
}

/* h through `sweep`, then through `run`, and nothing left after either. */
static void check_hostile(const struct hostile *h)
{
	double t0 = now_s();
	int rc = cli("sweep --db %s --plugin %s/%s.so --methods %s " SWEEP_FLAGS, db,
	             ATTN_TEST_PLUGIN_DIR, h->so, h->method);
	double took = now_s() - t0;
	assert_nothing_left("sweep");
	ck_assert_msg(rc >= 0, "sweep of %s did not end within %d s: %s", h->method, VERB_LIMIT_S,
	              out);
	ck_assert_msg(rc < 128, "sweep of %s was killed by signal %d: %s", h->method, rc - 128,
	              out);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM cases"), 1);
	ck_assert_msg(db_file_int(db, "SELECT count(*) FROM runs WHERE status = 'complete'") == 1,
	              "the run of %s is not complete: %s", h->method, out);
	check_case(h, h->method, "sweep");
	char status[64];
	db_text("SELECT status FROM cases", status, sizeof(status));
	ck_assert_msg(rc == (declined(status) ? 0 : 1), "sweep of %s (%s) exited %d: %s", h->method,
	              status, rc, out);
	/* Nothing a failed case measured is kept as a figure. */
	if (strcmp(status, "ok") != 0)
		ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM samples"), 0);
	ck_assert_msg(took < 30, "sweep of %s took %.1f s", h->method, took);

	rc = cli("run --plugin %s/%s.so --method %s " RUN_FLAGS, ATTN_TEST_PLUGIN_DIR, h->so,
	         h->method);
	assert_nothing_left("run");
	ck_assert_msg(rc >= 0 && rc < 128, "run of %s ended with %d: %s", h->method, rc, out);
	const char *line = strstr(out, "\nstatus ");
	line = line ? line + 1 : strncmp(out, "status ", 7) == 0 ? out : NULL;
	ck_assert_msg(line != NULL, "run of %s printed no status (exit %d): %s", h->method, rc,
	              out);
	char got[64] = "", msg[4096] = "";
	sscanf(line, "status %63[a-z_]", got);
	const char *colon = strchr(line, ':'), *eol = strchr(line, '\n');
	if (colon && (!eol || colon < eol))
		snprintf(msg, sizeof(msg), "%.*s",
		         (int)((eol ? eol : colon + strlen(colon)) - colon), colon);
	ck_assert_msg(status_in(got, h->status), "run of %s: status '%s', want %s: %s", h->method,
	              got, h->status, out);
	for (int i = 0; i < 3 && h->says[i]; i++)
		ck_assert_msg(says(msg, h->says[i]), "run of %s: message '%s' does not say '%s'",
		              h->method, msg, h->says[i]);
	ck_assert_msg(rc == (declined(got) ? 2 : 1), "run of %s (%s) exited %d: %s", h->method, got,
	              rc, out);
}

/* --- forward() misbehaving ---------------------------------------------- */

#define HOSTILE_TEST(tname, ...)                                                                   \
	START_TEST(tname)                                                                          \
	{                                                                                          \
		static const struct hostile h = __VA_ARGS__;                                       \
		check_hostile(&h);                                                                 \
	}                                                                                          \
	END_TEST

HOSTILE_TEST(writes_k,
             {"hostile_write_k", "hostile_write_k", "failed_check", {"wrote into its input"}})
HOSTILE_TEST(writes_v,
             {"hostile_write_v", "hostile_write_v", "failed_check", {"wrote into its input"}})
HOSTILE_TEST(output_overrun_17,
             {"hostile_out17", "hostile_out17", "failed_check", {"past the end of its output"}})
HOSTILE_TEST(output_overrun_4096,
             {"hostile_out4096", "hostile_out4096", "failed_check", {"past the end of its output"}})
HOSTILE_TEST(workspace_overrun, {"hostile_ws_overrun",
                                 "hostile_ws_overrun",
                                 "failed_check",
                                 {"past the end of its workspace"}})
HOSTILE_TEST(exits_inside_forward, {"hostile_exit", "hostile_exit", "failed", {"exited"}})
HOSTILE_TEST(forks_grandchild, {"hostile_fork", "hostile_fork", "failed", {"left", "process"}})
HOSTILE_TEST(starts_daemon, {"hostile_daemon", "hostile_daemon", "failed", {"left", "process"}})

/* --- the questions asked before a case runs ------------------------------ */

HOSTILE_TEST(supports_crashes,
             {"hostile_supports_crash", "hostile_supports_crash", "crashed", {"supports()"}})
HOSTILE_TEST(supports_hangs,
             {"hostile_supports_hang", "hostile_supports_hang", "timeout", {"supports()"}})
HOSTILE_TEST(supports_reason_unterminated,
             {"hostile_supports_nonul", "hostile_supports_nonul", "unsupported", {"xxxx"}})
HOSTILE_TEST(workspace_bytes_crashes,
             {"hostile_ws_crash", "hostile_ws_crash", "crashed", {"workspace_bytes()"}})
HOSTILE_TEST(flops_nan, {"hostile_figures", "hostile_flops_nan", "failed", {"flops()", "~nan"}})
HOSTILE_TEST(flops_inf, {"hostile_figures", "hostile_flops_inf", "failed", {"flops()", "~inf"}})
HOSTILE_TEST(flops_negative, {"hostile_figures", "hostile_flops_neg", "failed", {"flops()", "-1"}})
HOSTILE_TEST(bytes_negative, {"hostile_figures", "hostile_bytes_neg", "failed", {"bytes()", "-1"}})

/* --- the older misbehaving plugins --------------------------------------- */

HOSTILE_TEST(forward_crashes, {"crash", "crash_plugin", "crashed", {"signal"}})
HOSTILE_TEST(forward_hangs, {"hang", "hang_plugin", "timeout", {NULL}})
HOSTILE_TEST(forward_writes_nan, {"nan", "nan_plugin", "failed_check", {"~nan"}})
HOSTILE_TEST(workspace_too_big, {"hog", "hog_plugin", "skipped_memory|crashed", {NULL}})
HOSTILE_TEST(forward_wrong, {"wrong", "wrong_plugin", "failed_check", {NULL}})

/*
 * The questions' misbehaviours in one sweep with a sound method: the sweep
 * ends normally, the run is complete, flash is measured; and a run left
 * `running` with those cases still to do resumes to the same verdicts.
 */
START_TEST(sweep_survives_and_resumes)
{
	static const struct hostile want[] = {
	    {"hostile_supports_crash", "hostile_supports_crash", "crashed", {"supports()"}},
	    {"hostile_supports_hang", "hostile_supports_hang", "timeout", {"supports()"}},
	    {"hostile_supports_nonul", "hostile_supports_nonul", "unsupported", {"xxxx"}},
	    {"hostile_ws_crash", "hostile_ws_crash", "crashed", {"workspace_bytes()"}},
	    {NULL, "flash", "ok", {NULL}},
	};
	char plugins[2048] = "";
	for (int i = 0; want[i].so; i++) {
		size_t l = strlen(plugins);
		snprintf(plugins + l, sizeof(plugins) - l, " --plugin %s/%s.so",
		         ATTN_TEST_PLUGIN_DIR, want[i].so);
	}
	const char *methods = "hostile_supports_crash,hostile_supports_hang,hostile_supports_nonul,"
	                      "hostile_ws_crash,flash";
	int rc = cli("sweep --db %s%s --methods %s " SWEEP_FLAGS, db, plugins, methods);
	assert_nothing_left("sweep");
	ck_assert_msg(rc == 1, "sweep exited %d: %s", rc, out);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM cases"), 5);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM runs WHERE status = 'complete'"), 1);
	for (int i = 0; i < 5; i++)
		check_case(&want[i], want[i].method, "sweep");

	/* As if the sweep had been killed before the hostile cases: resume them. */
	db_file_exec(db, "PRAGMA foreign_keys = ON; DELETE FROM cases WHERE method LIKE "
	                 "'hostile%'; UPDATE runs SET status = 'running', finished_at = NULL");
	rc = cli("sweep --db %s%s --resume --quiet", db, plugins);
	assert_nothing_left("sweep --resume");
	ck_assert_msg(rc == 1, "sweep --resume exited %d: %s", rc, out);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM cases"), 5);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM runs WHERE status = 'complete'"), 1);
	for (int i = 0; i < 5; i++)
		check_case(&want[i], want[i].method, "resume");
	/* A resume of a complete run has nothing to do, and must still not crash. */
	rc = cli("sweep --db %s%s --resume --quiet", db, plugins);
	ck_assert_msg(rc >= 0 && rc < 128, "a second --resume ended with %d: %s", rc, out);
	assert_nothing_left("the second sweep --resume");
}
END_TEST

/* --- plugins that misbehave while being loaded --------------------------- */

/* Lines of `out` that begin with s (text after a raw newline in a message). */
static int lines_starting(const char *s)
{
	int n = 0;
	for (const char *p = out; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		n += strncmp(p, s, strlen(s)) == 0;
	return n;
}

/* What loading one of these plugins must say. */
struct bad_load {
	const char *so;
	const char *says[3];
};

static const struct bad_load bad_loads[] = {
    {"hostile_entry_crash", {"entry point crashed", "signal 11", "not loaded"}},
    {"hostile_entry_exit", {"entry point exited", "not loaded"}},
    {"hostile_entry_fork", {"started a process", "not loaded"}},
    {"hostile_newline_summary", {"summary", "control character (0x0a)"}},
    {"hostile_newline_name", {"method name", "hostile\\nFORGED"}},
    {"hostile_unterminated", {"summary", "longer than 256 bytes"}},
    {"hostile_badptr", {"reading its method descriptors crashed", "signal 11"}},
    {"hostile_long_choice", {"choice 2", "is not 1-48 characters"}},
    {NULL, {NULL}},
};

static void check_says(const struct bad_load *b, const char *verb)
{
	ck_assert_msg(strstr(out, b->so) != NULL,
	              "%s of %s: the message does not name the file: %s", verb, b->so, out);
	for (int i = 0; i < 3 && b->says[i]; i++)
		ck_assert_msg(strstr(out, b->says[i]) != NULL, "%s of %s: no '%s' in: %s", verb,
		              b->so, b->says[i], out);
	ck_assert_msg(lines_starting("FORGED LOG LINE") == 0, "%s of %s: a raw newline: %s", verb,
	              b->so, out);
}

/* --plugin X.so refuses each, exit 2, in `list` and in `sweep`. */
START_TEST(bad_plugins_refused)
{
	for (const struct bad_load *b = bad_loads; b->so; b++) {
		int rc = cli("list --plugin %s/%s.so", ATTN_TEST_PLUGIN_DIR, b->so);
		assert_nothing_left(b->so);
		ck_assert_msg(rc == 2, "list --plugin %s.so exited %d: %s", b->so, rc, out);
		check_says(b, "list");
		ck_assert_msg(strchr(out, '\n') == out + strlen(out) - 1,
		              "list --plugin %s.so: more than one line: %s", b->so, out);
	}
	int rc =
	    cli("sweep --db %s --plugin %s/hostile_entry_crash.so --methods flash " SWEEP_FLAGS, db,
	        ATTN_TEST_PLUGIN_DIR);
	assert_nothing_left("sweep");
	ck_assert_msg(rc == 2, "sweep exited %d: %s", rc, out);
	check_says(&bad_loads[0], "sweep");
}
END_TEST

/* On ATTNBENCH_PLUGIN_PATH each is skipped with one warning line; verbs work without them. */
START_TEST(bad_plugins_on_path_skipped)
{
	char path[8192] = "";
	int n = 0;
	for (const struct bad_load *b = bad_loads; b->so; b++, n++) {
		size_t l = strlen(path);
		snprintf(path + l, sizeof(path) - l, "%s%s/%s.so", n ? ":" : "",
		         ATTN_TEST_PLUGIN_DIR, b->so);
	}
	size_t l = strlen(path);
	snprintf(path + l, sizeof(path) - l, ":%s", ATTN_EXAMPLE_PLUGIN);
	int rc = cli_with(path, "list");
	assert_nothing_left("list");
	ck_assert_msg(rc == 0, "list exited %d: %s", rc, out);
	for (const struct bad_load *b = bad_loads; b->so; b++)
		check_says(b, "list");
	ck_assert_int_eq(lines_starting("attnbench list: warning: "), n);
	ck_assert_msg(strstr(out, "flash") != NULL, "list shows no built-ins: %s", out);
	/* The example plugin on the same path is loaded. */
	ck_assert_msg(strstr(out, "naive_ext"), "list shows no example plugin: %s", out);

	rc = cli_with(path, "run --method flash --n 32 --d 16 --min-time 0.01");
	assert_nothing_left("run");
	ck_assert_msg(rc == 0, "run exited %d: %s", rc, out);
	ck_assert_msg(strstr(out, "status   ok") != NULL, "%s", out);
	ck_assert_int_eq(lines_starting("attnbench run: warning: "), n);

	rc = cli_with(path, "sweep --db %s --methods flash " SWEEP_FLAGS, db);
	assert_nothing_left("sweep");
	ck_assert_msg(rc == 0, "sweep exited %d: %s", rc, out);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM cases WHERE status = 'ok'"), 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc = tcase_create("forward");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 3 * VERB_LIMIT_S + 30);
	tcase_add_test(tc, writes_k);
	tcase_add_test(tc, writes_v);
	tcase_add_test(tc, output_overrun_17);
	tcase_add_test(tc, output_overrun_4096);
	tcase_add_test(tc, workspace_overrun);
	tcase_add_test(tc, exits_inside_forward);
	tcase_add_test(tc, forks_grandchild);
	tcase_add_test(tc, starts_daemon);
	tcase_add_test(tc, forward_crashes);
	tcase_add_test(tc, forward_hangs);
	tcase_add_test(tc, forward_writes_nan);
	tcase_add_test(tc, workspace_too_big);
	tcase_add_test(tc, forward_wrong);
	suite_add_tcase(s, tc);

	tc = tcase_create("questions");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 3 * VERB_LIMIT_S + 30);
	tcase_add_test(tc, supports_crashes);
	tcase_add_test(tc, supports_hangs);
	tcase_add_test(tc, supports_reason_unterminated);
	tcase_add_test(tc, workspace_bytes_crashes);
	tcase_add_test(tc, flops_nan);
	tcase_add_test(tc, flops_inf);
	tcase_add_test(tc, flops_negative);
	tcase_add_test(tc, bytes_negative);
	tcase_add_test(tc, sweep_survives_and_resumes);
	suite_add_tcase(s, tc);

	tc = tcase_create("loading");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 3 * VERB_LIMIT_S + 30);
	tcase_add_test(tc, bad_plugins_refused);
	tcase_add_test(tc, bad_plugins_on_path_skipped);
	suite_add_tcase(s, tc);
	return attn_test_run(s, CK_NORMAL);
}
