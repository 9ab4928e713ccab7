/*
 * Tests of the event counters (harness/src/counters*.c).
 *
 * Real events where this machine has them: perf::TASK-CLOCK over a busy
 * loop, perf::PAGE-FAULTS over fresh memory, TASK-CLOCK summed over two
 * OpenMP threads (the inherit check) and, for contrast, missing a pool that
 * existed before the open; PAPI_TOT_INS, which is unavailable with a reason
 * on a machine without a PMU and must count on one with; the user-mode
 * fallback after dropping root; a child forked by a process holding
 * counters, as the runner forks. A scripted backend covers what no machine
 * shows on demand: exact deltas, a multiplexed reading, a refused event,
 * the order backends are tried in, and a read that fails. Then malformed
 * lists, the default set, and the counters' own overhead.
 *
 * Each test runs in its own forked process (Check's default), which the
 * thread tests rely on: no OpenMP pool exists before they open counters.
 */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attnbench/counters.h"
#include "attnbench/method.h"
#include "check_main.h"

#define BUSY_NS 20e6

static char err[512];

/* CPU time of the calling thread, in ns. */
static double thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/*
 * Spin until this thread has used `ns` of CPU. CPU time, not wall time, so
 * that a loaded machine (ctest -j) stretches the wall clock, not the count.
 */
static double busy(double ns)
{
	volatile double x = 1.0;
	double t0 = thread_cpu_ns();
	while (thread_cpu_ns() - t0 < ns)
		for (int i = 0; i < 1000; i++)
			x = x * 1.0000001 + 1e-9;
	return thread_cpu_ns() - t0;
}

static double wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Open file descriptors of this process. */
static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Fresh memory that faults once per 4 KiB page: no transparent huge pages. */
static char *fresh(size_t bytes)
{
	char *p = aligned_alloc(4096, bytes);
	ck_assert_ptr_nonnull(p);
	madvise(p, bytes, MADV_NOHUGEPAGE);
	return p;
}

/* Index of `name` in c, or -1. */
static int find(const struct attn_counters *c, const char *name)
{
	for (int i = 0; i < attn_counters_count(c); i++)
		if (strcmp(attn_counters_name(c, i), name) == 0)
			return i;
	return -1;
}

/* ---- a scripted backend --------------------------------------------------- */

struct row {
	uint64_t count, enabled, running;
};

/* The readings one event returns, one row per read (the last repeats). */
struct script {
	const char *event;
	const struct row *rows;
	int n_rows;
	int fail_from; /* reads from this one on fail; 0: never */
};

struct fake {
	const char *refuse_why; /* the reason for every event without a script */
	const struct script *scripts;
	int n_scripts;
	int handle_script[ATTN_MAX_COUNTERS];
	int reads[ATTN_MAX_COUNTERS];
	int n_handles;
	int opens; /* calls of open(), accepted or not */
	int closes;
};

static int fake_open(void *state, const char *event, char *why, size_t whylen)
{
	struct fake *f = state;
	f->opens++;
	for (int i = 0; i < f->n_scripts; i++)
		if (strcmp(f->scripts[i].event, event) == 0) {
			f->handle_script[f->n_handles] = i;
			f->reads[f->n_handles] = 0;
			return f->n_handles++;
		}
	snprintf(why, whylen, "%s", f->refuse_why);
	return ATTN_ERR_UNSUPPORTED;
}

static int fake_read(void *state, int handle, uint64_t *count, uint64_t *enabled, uint64_t *running)
{
	struct fake *f = state;
	const struct script *s = &f->scripts[f->handle_script[handle]];
	int k = f->reads[handle]++;
	if (s->fail_from && k >= s->fail_from)
		return ATTN_ERR_IO;
	const struct row *r = &s->rows[k < s->n_rows ? k : s->n_rows - 1];
	*count = r->count;
	*enabled = r->enabled;
	*running = r->running;
	return ATTN_OK;
}

static void fake_close(void *state)
{
	((struct fake *)state)->closes++;
}

static struct attn_counter_backend fake_backend(const char *name, struct fake *f)
{
	struct attn_counter_backend b = {name, fake_open, fake_read, fake_close, f};
	return b;
}

/* ---- scripted readings ---------------------------------------------------- */

START_TEST(test_fake_exact_deltas)
{
	static const struct row a[] = {
	    {100, 1000, 1000}, {350, 2000, 2000}, {351, 2500, 2500}, {1351, 9000, 9000}};
	static const struct row b[] = {{0, 0, 0}, {7, 0, 0}};
	static const struct script sc[] = {{"ev.a", a, 4, 0}, {"ev.b", b, 2, 0}};
	struct fake f = {"unknown", sc, 2, {0}, {0}, 0, 0, 0};
	struct attn_counter_backend be = fake_backend("test", &f);
	const struct attn_counter_backend *bes[] = {&be};
	struct attn_counters *c;
	struct attn_counter_reading rd[2];
	const char *why, *src;

	ck_assert_int_eq(attn_counters_open_with("ev.a,ev.b", bes, 1, &c, err, sizeof(err)),
	                 ATTN_OK);
	ck_assert_int_eq(attn_counters_count(c), 2);
	ck_assert_str_eq(attn_counters_name(c, 0), "ev.a");
	ck_assert_int_eq(attn_counters_available(c, 1, &why, &src), 1);
	ck_assert_str_eq(src, "test");
	ck_assert_str_eq(why, "");

	ck_assert_int_eq(attn_counters_start(c), ATTN_OK);
	ck_assert_int_eq(attn_counters_stop(c, rd), ATTN_OK);
	ck_assert_int_eq(rd[0].state, ATTN_COUNTER_OK);
	ck_assert_double_eq(rd[0].value, 250.0);
	ck_assert_int_eq(rd[1].state, ATTN_COUNTER_OK); /* 0 == 0: never multiplexed */
	ck_assert_double_eq(rd[1].value, 7.0);

	/* A second pair: deltas from its own start, not from the first one. */
	ck_assert_int_eq(attn_counters_start(c), ATTN_OK);
	ck_assert_int_eq(attn_counters_stop(c, rd), ATTN_OK);
	ck_assert_int_eq(rd[0].state, ATTN_COUNTER_OK);
	ck_assert_double_eq(rd[0].value, 1000.0);
	ck_assert_double_eq(rd[1].value, 0.0);

	attn_counters_close(c);
	ck_assert_int_eq(f.closes, 1);
}
END_TEST

START_TEST(test_fake_multiplexed)
{
	/* Enabled 1000 ns, ran 400: the kernel multiplexed it. */
	static const struct row mux[] = {{0, 0, 0}, {1000, 1000, 400}};
	/* Ran throughout, but the total went backwards: a broken source. */
	static const struct row back[] = {{500, 0, 0}, {100, 10, 10}};
	static const struct row fine[] = {{0, 0, 0}, {42, 10, 10}};
	static const struct script sc[] = {
	    {"mux", mux, 2, 0}, {"back", back, 2, 0}, {"fine", fine, 2, 0}};
	struct fake f = {"unknown", sc, 3, {0}, {0}, 0, 0, 0};
	struct attn_counter_backend be = fake_backend("test", &f);
	const struct attn_counter_backend *bes[] = {&be};
	struct attn_counters *c;
	struct attn_counter_reading rd[3];

	ck_assert_int_eq(attn_counters_open_with("mux,back,fine", bes, 1, &c, err, sizeof(err)),
	                 ATTN_OK);
	ck_assert_int_eq(attn_counters_available(c, 0, NULL, NULL), 1);
	attn_counters_start(c);
	attn_counters_stop(c, rd);
	ck_assert_int_eq(rd[0].state, ATTN_COUNTER_UNRELIABLE);
	ck_assert(isnan(rd[0].value));
	ck_assert_int_eq(rd[1].state, ATTN_COUNTER_UNRELIABLE);
	ck_assert_int_eq(rd[2].state, ATTN_COUNTER_OK);
	ck_assert_double_eq(rd[2].value, 42.0);
	attn_counters_close(c);
}
END_TEST

START_TEST(test_fake_refused)
{
	static const struct row a[] = {{0, 0, 0}, {5, 1, 1}};
	static const struct script sc[] = {{"ev.a", a, 2, 0}};
	struct fake f = {"no such event in the script", sc, 1, {0}, {0}, 0, 0, 0};
	struct attn_counter_backend be = fake_backend("test", &f);
	const struct attn_counter_backend *bes[] = {&be};
	struct attn_counters *c;
	struct attn_counter_reading rd[2];
	const char *why, *src;

	ck_assert_int_eq(attn_counters_open_with("ev.x,ev.a", bes, 1, &c, err, sizeof(err)),
	                 ATTN_OK);
	ck_assert_int_eq(attn_counters_available(c, 0, &why, &src), 0);
	ck_assert_str_eq(why, "test: no such event in the script");
	ck_assert_str_eq(src, "none");
	attn_counters_start(c);
	attn_counters_stop(c, rd);
	ck_assert_int_eq(rd[0].state, ATTN_COUNTER_UNAVAILABLE);
	ck_assert(isnan(rd[0].value));
	/* The refused event costs only itself. */
	ck_assert_int_eq(rd[1].state, ATTN_COUNTER_OK);
	ck_assert_double_eq(rd[1].value, 5.0);
	attn_counters_close(c);
}
END_TEST

START_TEST(test_fake_fallback_order)
{
	static const struct row z[] = {{0, 0, 0}, {1, 1, 1}};
	static const struct row y[] = {{0, 0, 0}, {2, 1, 1}};
	/* First knows only "both"; second knows "both" and "second". */
	static const struct script first_sc[] = {{"both", z, 2, 0}};
	static const struct script second_sc[] = {{"both", y, 2, 0}, {"second", y, 2, 0}};
	struct fake f1 = {"first refuses", first_sc, 1, {0}, {0}, 0, 0, 0};
	struct fake f2 = {"second refuses", second_sc, 2, {0}, {0}, 0, 0, 0};
	struct attn_counter_backend b1 = fake_backend("first", &f1);
	struct attn_counter_backend b2 = fake_backend("second", &f2);
	const struct attn_counter_backend *bes[] = {&b1, &b2};
	struct attn_counters *c;
	struct attn_counter_reading rd[3];
	const char *why, *src;

	ck_assert_int_eq(
	    attn_counters_open_with("second,both,neither", bes, 2, &c, err, sizeof(err)), ATTN_OK);
	/* The first refuses, the second accepts. */
	ck_assert_int_eq(attn_counters_available(c, 0, &why, &src), 1);
	ck_assert_str_eq(src, "second");
	/* Both accept: the first wins and the second is never asked. */
	ck_assert_int_eq(attn_counters_available(c, 1, &why, &src), 1);
	ck_assert_str_eq(src, "first");
	/* Neither: every reason, in the order tried. */
	ck_assert_int_eq(attn_counters_available(c, 2, &why, &src), 0);
	ck_assert_str_eq(why, "first: first refuses; second: second refuses");
	ck_assert_int_eq(f1.opens, 3);
	ck_assert_int_eq(f2.opens, 2);

	attn_counters_start(c);
	attn_counters_stop(c, rd);
	ck_assert_double_eq(rd[0].value, 2.0);
	ck_assert_double_eq(rd[1].value, 1.0);
	ck_assert_int_eq(rd[2].state, ATTN_COUNTER_UNAVAILABLE);
	attn_counters_close(c);
	ck_assert_int_eq(f1.closes, 1);
	ck_assert_int_eq(f2.closes, 1);
}
END_TEST

START_TEST(test_fake_read_fails)
{
	static const struct row a[] = {{0, 0, 0}, {5, 1, 1}};
	/* Reads 0 (start) and 1 (stop) succeed, the third fails. */
	static const struct script sc[] = {{"flaky", a, 2, 2}, {"steady", a, 2, 0}};
	struct fake f = {"unknown", sc, 2, {0}, {0}, 0, 0, 0};
	struct attn_counter_backend be = fake_backend("test", &f);
	const struct attn_counter_backend *bes[] = {&be};
	struct attn_counters *c;
	struct attn_counter_reading rd[2];
	const char *why, *src;

	ck_assert_int_eq(attn_counters_open_with("flaky,steady", bes, 1, &c, err, sizeof(err)),
	                 ATTN_OK);
	attn_counters_start(c);
	ck_assert_int_eq(attn_counters_stop(c, rd), ATTN_OK);
	ck_assert_int_eq(rd[0].state, ATTN_COUNTER_OK);
	ck_assert_int_eq(attn_counters_start(c), ATTN_OK);
	ck_assert_int_eq(attn_counters_stop(c, rd), ATTN_OK);
	ck_assert_int_eq(rd[0].state, ATTN_COUNTER_UNAVAILABLE);
	ck_assert_int_eq(rd[1].state, ATTN_COUNTER_OK);
	ck_assert_int_eq(attn_counters_available(c, 0, &why, &src), 0);
	ck_assert_msg(strstr(why, "test: read failed") != NULL, "%s", why);
	ck_assert_str_eq(src, "none");
	attn_counters_close(c);
}
END_TEST

START_TEST(test_no_backends)
{
	struct attn_counters *c;
	struct attn_counter_reading rd[1];
	const char *why;

	ck_assert_int_eq(attn_counters_open_with("x", NULL, 0, &c, err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(attn_counters_available(c, 0, &why, NULL), 0);
	ck_assert_str_eq(why, "no counter backend");
	ck_assert_int_eq(attn_counters_stop(c, rd), ATTN_ERR_INVALID); /* before any start */
	attn_counters_start(c);
	ck_assert_int_eq(attn_counters_stop(c, rd), ATTN_OK);
	ck_assert_int_eq(rd[0].state, ATTN_COUNTER_UNAVAILABLE);
	/* Out of range: no name, not available. */
	ck_assert_ptr_null(attn_counters_name(c, 1));
	ck_assert_int_eq(attn_counters_available(c, -1, NULL, NULL), 0);
	attn_counters_close(c);
	attn_counters_close(NULL);
}
END_TEST

/* ---- malformed lists ------------------------------------------------------ */

/* Expect `list` refused as invalid, with `needle` in the message. */
static void expect_invalid(const char *list, const char *needle)
{
	struct fake f = {"refused", NULL, 0, {0}, {0}, 0, 0, 0};
	struct attn_counter_backend be = fake_backend("test", &f);
	const struct attn_counter_backend *bes[] = {&be};
	static char sentinel;
	struct attn_counters *c = (struct attn_counters *)&sentinel; /* must come back NULL */

	err[0] = '\0';
	ck_assert_int_eq(attn_counters_open_with(list, bes, 1, &c, err, sizeof(err)),
	                 ATTN_ERR_INVALID);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, needle) != NULL, "list \"%.60s\": \"%s\" lacks \"%s\"", list, err,
	              needle);
	/* Refused before any backend was asked, and not closed: still the caller's. */
	ck_assert_int_eq(f.opens, 0);
	ck_assert_int_eq(f.closes, 0);
}

START_TEST(test_malformed)
{
	char list[1024], name[200];

	expect_invalid("", "item 1 of \"\" is empty");
	expect_invalid("a,,b", "item 2 of \"a,,b\" is empty");
	expect_invalid("a,b,", "item 3 of \"a,b,\" is empty");
	expect_invalid(",a", "item 1");
	expect_invalid("a, ,b", "item 2");
	expect_invalid("a,perf::TASK CLOCK", "\"perf::TASK CLOCK\" contains a blank");
	expect_invalid("x,y,x", "event \"x\" is listed twice");
	expect_invalid("PAPI_TOT_INS,papi_tot_ins", "listed twice");

	memset(name, 'n', 128);
	name[128] = '\0';
	snprintf(list, sizeof(list), "a,%s", name);
	expect_invalid(list, "is longer than 127 characters");

	list[0] = '\0';
	for (int i = 0; i <= ATTN_MAX_COUNTERS; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%se%d", i ? "," : "",
		         i);
	expect_invalid(list, "\"e16\" is event 17, more than the 16 allowed");
}
END_TEST

START_TEST(test_limits)
{
	struct fake f = {"refused", NULL, 0, {0}, {0}, 0, 0, 0};
	struct attn_counter_backend be = fake_backend("test", &f);
	const struct attn_counter_backend *bes[] = {&be};
	struct attn_counters *c;
	char list[1024], name[128];

	/* Exactly at the limits: 16 events, a 127-character name, blanks trimmed. */
	memset(name, 'n', 127);
	name[127] = '\0';
	snprintf(list, sizeof(list), " %s ", name);
	for (int i = 1; i < ATTN_MAX_COUNTERS; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), ",\te%d", i);
	ck_assert_int_eq(attn_counters_open_with(list, bes, 1, &c, err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(attn_counters_count(c), ATTN_MAX_COUNTERS);
	ck_assert_str_eq(attn_counters_name(c, 0), name);
	ck_assert_str_eq(attn_counters_name(c, 1), "e1");
	ck_assert_int_eq(f.opens, ATTN_MAX_COUNTERS);
	attn_counters_close(c);

	/* Bad arguments. */
	ck_assert_int_eq(attn_counters_open_with("a", bes, -1, &c, err, sizeof(err)),
	                 ATTN_ERR_INVALID);
	ck_assert_int_eq(attn_counters_open_with("a", NULL, 1, &c, err, sizeof(err)),
	                 ATTN_ERR_INVALID);
	ck_assert_int_eq(attn_counters_open_with("a", bes, 1, NULL, err, sizeof(err)),
	                 ATTN_ERR_INVALID);
	ck_assert_int_eq(attn_counters_start(NULL), ATTN_ERR_INVALID);
	ck_assert(isnan(attn_counters_overhead_ns(NULL, 10)));
}
END_TEST

/* ---- the real backends ---------------------------------------------------- */

START_TEST(test_default_set)
{
	struct attn_counters *c;
	char expect[512];
	const char *why, *src;

	ck_assert_int_eq(attn_counters_open(NULL, &c, err, sizeof(err)), ATTN_OK);
	/* Every event of the default list, in its order, each counted or explained. */
	snprintf(expect, sizeof(expect), "%s", ATTN_COUNTERS_DEFAULT);
	int i = 0;
	for (char *tok = strtok(expect, ","); tok; tok = strtok(NULL, ","), i++) {
		ck_assert_str_eq(attn_counters_name(c, i), tok);
		if (!attn_counters_available(c, i, &why, &src))
			ck_assert_msg(why[0] != '\0', "%s unavailable without a reason", tok);
		printf("  %-24s %s\n", tok, why[0] ? why : src);
	}
	ck_assert_int_eq(attn_counters_count(c), i);
	/* The kernel's software events work on every Linux machine we run on. */
	ck_assert_int_eq(attn_counters_available(c, find(c, "perf::TASK-CLOCK"), NULL, &src), 1);
	ck_assert_str_eq(src, "perf_event");
	attn_counters_close(c);

	/* Close gives back every descriptor (PAPI, initialised above, may keep its own). */
	int fds = count_fds();
	ck_assert_int_eq(attn_counters_open(NULL, &c, err, sizeof(err)), ATTN_OK);
	ck_assert_int_gt(count_fds(), fds);
	attn_counters_close(c);
	ck_assert_int_eq(count_fds(), fds);
}
END_TEST

START_TEST(test_task_clock)
{
	struct attn_counters *c;
	struct attn_counter_reading rd[3];
	const char *src;

	/* Three spellings of two events: the perf:: name, PERF_COUNT_*, any case. */
	ck_assert_int_eq(attn_counters_open("perf::TASK-CLOCK,perf::PERF_COUNT_SW_CPU_CLOCK,"
	                                    "perf::context-switches",
	                                    &c, err, sizeof(err)),
	                 ATTN_OK);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(attn_counters_available(c, i, NULL, &src), 1);
		ck_assert_str_eq(src, "perf_event");
	}
	double w0 = wall_ns();
	attn_counters_start(c);
	double used = busy(BUSY_NS);
	attn_counters_stop(c, rd);
	double wall = wall_ns() - w0;
	ck_assert_int_eq(rd[0].state, ATTN_COUNTER_OK);
	ck_assert_int_eq(rd[1].state, ATTN_COUNTER_OK);
	ck_assert_int_eq(rd[2].state, ATTN_COUNTER_OK);
	/* Task clock is this thread's CPU time: at least what the loop used, at most the wall
	 * time around it (a loaded guest charges start/stop and steal to it, so the loop's own
	 * CPU time is no upper bound). */
	ck_assert_msg(rd[0].value > 0.8 * used && rd[0].value < 1.05 * wall + 2e6,
	              "task-clock %.0f ns, the loop used %.0f ns of %.0f ns wall", rd[0].value,
	              used, wall);
	ck_assert_msg(rd[1].value > 0.5 * used && rd[1].value < 1.05 * wall + 2e6,
	              "cpu-clock %.0f ns, the loop used %.0f ns of %.0f ns wall", rd[1].value, used,
	              wall);
	ck_assert(rd[2].value >= 0);
	attn_counters_close(c);
}
END_TEST

START_TEST(test_page_faults)
{
	size_t bytes = (size_t)4 << 20;
	struct attn_counters *c;
	struct attn_counter_reading rd[3];

	/* Fresh memory faults once per 4 KiB page when first touched: 1024 here. */
	char *p = fresh(bytes);
	ck_assert_int_eq(attn_counters_open("perf::PAGE-FAULTS,perf::MINOR-FAULTS,"
	                                    "perf::MAJOR-FAULTS",
	                                    &c, err, sizeof(err)),
	                 ATTN_OK);
	attn_counters_start(c);
	for (size_t i = 0; i < bytes; i += 4096)
		p[i] = (char)i;
	attn_counters_stop(c, rd);
	ck_assert_int_eq(rd[0].state, ATTN_COUNTER_OK);
	ck_assert_msg(rd[0].value >= 500, "%.0f page faults", rd[0].value);
	ck_assert_int_eq(rd[1].state, ATTN_COUNTER_OK);
	ck_assert_msg(rd[1].value >= 500, "%.0f minor faults", rd[1].value);
	ck_assert_int_eq(rd[2].state, ATTN_COUNTER_OK);
	ck_assert(rd[0].value >= rd[1].value);
	attn_counters_close(c);
	free(p);
}
END_TEST

/* What one parallel region of two threads did, as counted and as seen. */
struct region {
	double task_clock; /* perf::TASK-CLOCK, ns */
	double faults;     /* perf::PAGE-FAULTS */
	double cpu;        /* the CPU the two busy loops used, ns */
	double wall;       /* the region's wall time, ns */
	int threads;
};

/*
 * Two OpenMP threads each spin BUSY_NS of CPU; then the worker alone (thread
 * 1, never the opening thread) touches 4 MiB of fresh memory, 1024 faults
 * that only an inherited event sees. Page faults make the exact check:
 * task-clock also counts the threads spinning at the region's barrier,
 * which depends on how busy the machine is.
 */
static struct region two_threads(struct attn_counters *c)
{
	size_t bytes = (size_t)4 << 20;
	struct attn_counter_reading rd[2];
	struct region r = {0, 0, 0, 0, 0};
	double cpu[2] = {0, 0};
	char *mem = fresh(bytes);

	attn_counters_start(c);
	double t0 = wall_ns();
#pragma omp parallel num_threads(2)
	{
		int t = omp_get_thread_num();
		cpu[t & 1] = busy(BUSY_NS);
		if (t == 1)
			for (size_t i = 0; i < bytes; i += 4096)
				mem[i] = (char)i;
#pragma omp single
		r.threads = omp_get_num_threads();
	}
	r.wall = wall_ns() - t0;
	attn_counters_stop(c, rd);
	free(mem);
	ck_assert_int_eq(rd[0].state, ATTN_COUNTER_OK);
	ck_assert_int_eq(rd[1].state, ATTN_COUNTER_OK);
	r.task_clock = rd[0].value;
	r.faults = rd[1].value;
	r.cpu = cpu[0] + cpu[1];
	printf("  2 threads: task-clock %.1f ms = %.2f x wall, %.2f x the loops' CPU; "
	       "%.0f faults\n",
	       r.task_clock / 1e6, r.task_clock / r.wall, r.task_clock / r.cpu, r.faults);
	return r;
}

START_TEST(test_inherit_threads)
{
	struct attn_counters *c;

	omp_set_dynamic(0);
	/* Opened before the first parallel region: the workers inherit the events. */
	ck_assert_int_eq(
	    attn_counters_open("perf::TASK-CLOCK,perf::PAGE-FAULTS", &c, err, sizeof(err)),
	    ATTN_OK);
	for (int k = 0; k < 2; k++) {
		/* The second region reuses the pool: its workers still carry the events. */
		struct region r = two_threads(c);
		ck_assert_int_eq(r.threads, 2);
		ck_assert_msg(r.faults >= 500, "region %d: the worker's faults were missed", k);
		/*
		 * Both threads' CPU: twice one thread's, so 2x the wall time on an
		 * idle machine; never more than two threads can use in that time.
		 */
		ck_assert_msg(r.task_clock > 0.8 * r.cpu && r.task_clock > 1.6 * BUSY_NS,
		              "region %d: task-clock %.0f ns, the loops used %.0f ns", k,
		              r.task_clock, r.cpu);
		ck_assert_msg(r.task_clock < 2.0 * r.wall + 2e6,
		              "region %d: task-clock %.0f ns in %.0f ns of wall time", k,
		              r.task_clock, r.wall);
	}
	attn_counters_close(c);
}
END_TEST

START_TEST(test_pool_before_open)
{
	struct attn_counters *c;

	/*
	 * The documented limitation: a pool created before the open is not
	 * counted, which is why the runner opens before the warm-up.
	 */
	omp_set_dynamic(0);
#pragma omp parallel num_threads(2)
	{
		(void)omp_get_thread_num();
	}
	ck_assert_int_eq(
	    attn_counters_open("perf::TASK-CLOCK,perf::PAGE-FAULTS", &c, err, sizeof(err)),
	    ATTN_OK);
	struct region r = two_threads(c);
	ck_assert_int_eq(r.threads, 2);
	ck_assert_msg(r.faults < 100, "%.0f faults: the old pool's worker was counted", r.faults);
	attn_counters_close(c);
}
END_TEST

START_TEST(test_papi_tot_ins)
{
	struct attn_counters *c;
	struct attn_counter_reading rd[1];
	const char *why, *src;

	ck_assert_int_eq(attn_counters_open("PAPI_TOT_INS", &c, err, sizeof(err)), ATTN_OK);
	attn_counters_start(c);
	busy(1e6);
	attn_counters_stop(c, rd);
	if (attn_counters_available(c, 0, &why, &src)) {
		/* A machine with a PMU: a real count, from either backend. */
		ck_assert_int_eq(rd[0].state, ATTN_COUNTER_OK);
		ck_assert_msg(rd[0].value > 1e5, "%.0f instructions in 1 ms", rd[0].value);
		ck_assert(strcmp(src, "papi") == 0 || strcmp(src, "perf_event") == 0);
	} else {
		/* No PMU (this KVM guest): unavailable, never a 0, with both reasons. */
		printf("  PAPI_TOT_INS: %s\n", why);
		ck_assert_int_eq(rd[0].state, ATTN_COUNTER_UNAVAILABLE);
		ck_assert(isnan(rd[0].value));
		ck_assert_str_eq(src, "none");
		ck_assert_msg(strncmp(why, "papi: ", 6) == 0 && strstr(why, "; perf_event: "), "%s",
		              why);
#ifndef ATTN_HAVE_PAPI
		ck_assert_msg(strstr(why, "built without PAPI") != NULL, "%s", why);
#endif
	}
	attn_counters_close(c);
}
END_TEST

/* The preset with no exact kernel equivalent is unavailable through perf_event. */
START_TEST(test_papi_cache_preset)
{
	struct attn_counters *c;
	const char *why, *src;

	ck_assert_int_eq(attn_counters_open("PAPI_L2_TCM,NO_SUCH_EVENT", &c, err, sizeof(err)),
	                 ATTN_OK);
	if (!attn_counters_available(c, 0, &why, &src))
		ck_assert_msg(strstr(why, "perf_event: no kernel generic event means exactly"),
		              "%s", why);
	ck_assert_int_eq(attn_counters_available(c, 1, &why, &src), 0);
	printf("  NO_SUCH_EVENT: %s\n", why);
	ck_assert(strstr(why, "papi: ") == why && strstr(why, "perf_event: not a software"));
	attn_counters_close(c);
}
END_TEST

/*
 * Without root, kernel.perf_event_paranoid >= 2 forbids counting kernel
 * activity: the task clock falls back to user mode (same meaning), the
 * context switches, which would read 0 there, become unavailable.
 */
START_TEST(test_unprivileged)
{
	struct attn_counters *c;
	struct attn_counter_reading rd[2];
	const char *why, *src;
	const char *fork_env = getenv("CK_FORK");
	int level = 2;
	FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");

	if (f) {
		if (fscanf(f, "%d", &level) != 1)
			level = 2;
		fclose(f);
	}
	/* Dropping root is for good: only in a forked test process. */
	if (fork_env && strcmp(fork_env, "no") == 0)
		return;
	if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
		return;

	ck_assert_int_eq(
	    attn_counters_open("perf::TASK-CLOCK,perf::CONTEXT-SWITCHES", &c, err, sizeof(err)),
	    ATTN_OK);
	ck_assert_int_eq(attn_counters_available(c, 0, NULL, &src), 1);
	attn_counters_start(c);
	double used = busy(BUSY_NS);
	attn_counters_stop(c, rd);
	ck_assert_int_eq(rd[0].state, ATTN_COUNTER_OK);
	ck_assert_msg(rd[0].value > 0.8 * used, "%.0f of %.0f ns", rd[0].value, used);
	if (level >= 2) {
		ck_assert_int_eq(attn_counters_available(c, 1, &why, &src), 0);
		printf("  unprivileged perf::CONTEXT-SWITCHES: %s\n", why);
		ck_assert_msg(strstr(why, "perf_event: Permission denied") &&
		                  strstr(why, "perf_event_paranoid"),
		              "%s", why);
		ck_assert_int_eq(rd[1].state, ATTN_COUNTER_UNAVAILABLE);
	} else {
		ck_assert_int_eq(attn_counters_available(c, 1, NULL, NULL), 1);
	}
	attn_counters_close(c);
}
END_TEST

/*
 * The runner's pattern: a parent that has used the counters (PAPI is then
 * initialised in it, and it still holds open events) forks a child that
 * opens its own. The child must count itself and explain the same missing
 * events the same way; the parent's counters must not notice.
 */
static int child_counts(const char *expect_why)
{
	struct attn_counters *c;
	struct attn_counter_reading rd[ATTN_MAX_COUNTERS];
	const char *why;
	char e[256];

	if (attn_counters_open(NULL, &c, e, sizeof(e)) != ATTN_OK)
		return 10;
	int tc = find(c, "perf::TASK-CLOCK");
	attn_counters_start(c);
	double used = busy(BUSY_NS);
	attn_counters_stop(c, rd);
	int rc = 0;
	if (rd[tc].state != ATTN_COUNTER_OK || rd[tc].value < 0.8 * used)
		rc = 11;
	attn_counters_available(c, find(c, "PAPI_TOT_INS"), &why, NULL);
	if (strcmp(why, expect_why) != 0)
		rc = 12;
	attn_counters_close(c);
	return rc;
}

START_TEST(test_fork_after_open)
{
	struct attn_counters *c;
	struct attn_counter_reading rd[ATTN_MAX_COUNTERS];
	const char *why;
	char expect_why[512];
	int status;

	ck_assert_int_eq(attn_counters_open(NULL, &c, err, sizeof(err)), ATTN_OK);
	attn_counters_available(c, find(c, "PAPI_TOT_INS"), &why, NULL);
	snprintf(expect_why, sizeof(expect_why), "%s", why);
	attn_counters_start(c);
	fflush(stdout);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(child_counts(expect_why));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
	ck_assert_int_eq(attn_counters_stop(c, rd), ATTN_OK);
	ck_assert_int_eq(rd[find(c, "perf::TASK-CLOCK")].state, ATTN_COUNTER_OK);
	attn_counters_close(c);
}
END_TEST

START_TEST(test_overhead)
{
	struct attn_counters *c;

	ck_assert_int_eq(attn_counters_open(NULL, &c, err, sizeof(err)), ATTN_OK);
	double ns = attn_counters_overhead_ns(c, 201);
	printf("  start+stop of the default set: %.0f ns\n", ns);
	ck_assert_msg(ns > 0 && ns < 1e6, "%.0f ns", ns);
	ck_assert(isnan(attn_counters_overhead_ns(c, 0)));
	attn_counters_close(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("counters");
	TCase *fake = tcase_create("scripted");
	tcase_add_test(fake, test_fake_exact_deltas);
	tcase_add_test(fake, test_fake_multiplexed);
	tcase_add_test(fake, test_fake_refused);
	tcase_add_test(fake, test_fake_fallback_order);
	tcase_add_test(fake, test_fake_read_fails);
	tcase_add_test(fake, test_no_backends);
	tcase_add_test(fake, test_malformed);
	tcase_add_test(fake, test_limits);
	suite_add_tcase(s, fake);

	TCase *real = tcase_create("real");
	tcase_add_test(real, test_default_set);
	tcase_add_test(real, test_task_clock);
	tcase_add_test(real, test_page_faults);
	tcase_add_test(real, test_inherit_threads);
	tcase_add_test(real, test_pool_before_open);
	tcase_add_test(real, test_papi_tot_ins);
	tcase_add_test(real, test_papi_cache_preset);
	tcase_add_test(real, test_unprivileged);
	tcase_add_test(real, test_fork_after_open);
	tcase_add_test(real, test_overhead);
	suite_add_tcase(s, real);
	return s;
}

int main(void)
{
	return attn_test_run(suite(), CK_NORMAL);
}
