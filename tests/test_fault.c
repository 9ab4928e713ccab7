/*
 * Fault injection, as SQLite tests itself: the real CLI's sweep, with the
 * store's SQLite on the fault VFS and allocator (ATTNBENCH_FAULT, see
 * harness/src/faultvfs.c), failing the Nth write, full write, sync, open or
 * allocation for N over the run's whole range of fault points, and on a
 * small tmpfs that fills during the sweep. Every time: a clear message and a
 * non-zero exit (never a crash), PRAGMA integrity_check ok, every case
 * committed before the fault intact, and `--resume` without the fault
 * finishing the run with every case exactly once.
 */
#include <check.h>
#include <errno.h>
#include <sched.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "check_main.h"
#include "cli_run.h"
#include "tmpdir.h"

/* A small sweep: 4 cases, each a fraction of a second. */
#define SWEEP_ARGS                                                                                 \
	"--methods flash,window --n 64,128 --d 16 --min-time 0 --min-reps 1 --warmup 0 "           \
	"--roof-budget 0 --counters none --quiet"

static char dir[TMPDIR_LEN];
static char ref_db[TMPDIR_LEN + 32];
static char *ref_keys; /* the fault-free run's keys, sorted, one a line */

/* A read-only connection: the checks must not checkpoint or repair what they check. */
static sqlite3 *ro_open(const char *path)
{
	sqlite3 *db;
	ck_assert_msg(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK, "%s: %s",
	              path, sqlite3_errmsg(db));
	sqlite3_busy_timeout(db, 10000);
	return db;
}

/* The first column of sql's first row as text (malloc'd; "" for NULL or no row). */
static char *db_text(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s;
	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK, "%s: %s", sql,
	              sqlite3_errmsg(db));
	int rc = sqlite3_step(s);
	ck_assert_msg(rc == SQLITE_ROW || rc == SQLITE_DONE, "%s: %s", sql, sqlite3_errmsg(db));
	const char *t = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
	char *r = strdup(t ? t : "");
	sqlite3_finalize(s);
	ck_assert_ptr_nonnull(r);
	return r;
}

static long long db_count(sqlite3 *db, const char *sql)
{
	char *t = db_text(db, sql);
	long long v = atoll(t);
	free(t);
	return v;
}

static const char *keys_sql = "SELECT group_concat(key, char(10)) FROM (SELECT key FROM cases "
                              "ORDER BY key)";

/*
 * Each committed case with its samples and metrics, in id order: what must
 * come through a fault and a resume unchanged.
 */
static const char *cases_sql =
    "SELECT group_concat(line, char(10)) FROM (SELECT c.id || ' ' || c.key || ' ' || c.status "
    "|| ' ' || c.finished_at || ' [' || (SELECT group_concat(ns) FROM samples s WHERE "
    "s.case_id = c.id) || '] [' || (SELECT group_concat(name || '=' || ifnull(value, 'null')) "
    "FROM metrics m WHERE m.case_id = c.id) || ']' AS line FROM cases c ORDER BY c.id)";

static int file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* The counts line ATTNBENCH_FAULT_LOG ends with: how many fault points a run has. */
static void read_counts(const char *log, long long *w, long long *s, long long *o, long long *m)
{
	FILE *f = fopen(log, "r");
	ck_assert_msg(f != NULL, "%s: no fault log", log);
	char line[256];
	int found = 0;
	while (fgets(line, sizeof(line), f))
		found |= sscanf(line, "counts write=%lld sync=%lld open=%lld malloc=%lld", w, s, o,
		                m) == 4;
	fclose(f);
	ck_assert_msg(found, "%s has no counts line", log);
}

/* The fault-free run every faulted one is held against. */
static void reference(void)
{
	char log[TMPDIR_LEN + 32];
	snprintf(ref_db, sizeof(ref_db), "%s/ref.db", dir);
	snprintf(log, sizeof(log), "%s/ref.log", dir);
	ck_assert_int_eq(cli("sweep --db %s " SWEEP_ARGS, ref_db), 0);
	sqlite3 *db = ro_open(ref_db);
	ref_keys = db_text(db, keys_sql);
	ck_assert_int_eq(db_count(db, "SELECT count(*) FROM cases WHERE status = 'ok'"), 4);
	sqlite3_close(db);
}

/*
 * After a sweep that failed (or, for a fault SQLite absorbed, did not):
 * integrity_check ok, no case that is not one of the reference's, each case
 * whole; then the run finished without the fault (--resume, or a new sweep
 * when the fault came before the run was recorded), its earlier cases
 * unchanged and every case exactly once.
 */
static void check_after(const char *path, const char *what, int rc)
{
	char *before = NULL;
	long long runs = 0, complete = 0;
	if (file_exists(path)) {
		sqlite3 *db = ro_open(path);
		char *ic = db_text(db, "PRAGMA integrity_check");
		ck_assert_msg(strcmp(ic, "ok") == 0, "%s: integrity_check: %s", what, ic);
		free(ic);
		int has_cases = db_count(db, "SELECT count(*) FROM sqlite_master WHERE name = "
		                             "'cases'") == 1;
		if (has_cases) {
			char sql[512];
			snprintf(sql, sizeof(sql), "ATTACH '%s' AS ref", ref_db);
			ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
			ck_assert_msg(db_count(db, "SELECT count(*) FROM cases WHERE key NOT IN "
			                           "(SELECT key FROM ref.cases)") == 0,
			              "%s: a case the fault-free run does not have", what);
			ck_assert_msg(db_count(db,
			                       "SELECT count(*) FROM cases c WHERE status = "
			                       "'ok' AND ((SELECT count(*) FROM samples s WHERE "
			                       "s.case_id = c.id) = 0 OR (SELECT count(*) FROM "
			                       "metrics m WHERE m.case_id = c.id AND m.name = "
			                       "'median_ns') = 0)") == 0,
			              "%s: a committed case lacks its samples or metrics", what);
			before = db_text(db, cases_sql);
			runs = db_count(db, "SELECT count(*) FROM runs");
			complete = db_count(db, "SELECT count(*) FROM runs WHERE status = "
			                        "'complete'");
		}
		sqlite3_close(db);
	}
	if (rc == 0 || complete == 1) {
		/* absorbed, or hit in the end's checkpoint: the run is whole already */
		ck_assert_msg(complete == 1, "%s: exit %d but the run is not complete", what, rc);
	} else if (runs == 1) {
		int r = cli("sweep --db %s --resume --quiet", path);
		ck_assert_msg(r == 0, "%s: --resume without the fault: exit %d: %s", what, r, out);
	} else {
		ck_assert_msg(runs == 0, "%s: %lld runs", what, runs);
		int r = cli("sweep --db %s " SWEEP_ARGS, path);
		ck_assert_msg(r == 0, "%s: a sweep without the fault: exit %d: %s", what, r, out);
	}
	sqlite3 *db = ro_open(path);
	char *keys = db_text(db, keys_sql);
	ck_assert_msg(strcmp(keys, ref_keys) == 0, "%s: cases after finishing:\n%s\nnot\n%s", what,
	              keys, ref_keys);
	free(keys);
	ck_assert_int_eq(db_count(db, "SELECT count(*) FROM runs WHERE status = 'complete'"), 1);
	ck_assert_int_eq(db_count(db, "SELECT count(*) FROM cases WHERE status = 'ok'"), 4);
	if (before && *before) {
		/* what was committed before the fault, unchanged by the resume */
		char *after = db_text(db, cases_sql);
		ck_assert_msg(strncmp(after, before, strlen(before)) == 0,
		              "%s: committed cases changed:\n%s\nbecame\n%s", what, before, after);
		free(after);
	}
	sqlite3_close(db);
	free(before);
}

/* One faulted sweep and its checks; `absorbable`: SQLite may recover (a one-off malloc). */
static void trial(const char *fault, int absorbable)
{
	char path[TMPDIR_LEN + 64];
	snprintf(path, sizeof(path), "%s/f.db", dir);
	char side[TMPDIR_LEN + 80];
	remove(path);
	snprintf(side, sizeof(side), "%s-wal", path);
	remove(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	remove(side);
	setenv("ATTNBENCH_FAULT", fault, 1);
	int rc = cli("sweep --db %s " SWEEP_ARGS, path);
	unsetenv("ATTNBENCH_FAULT");
	ck_assert_msg(rc < 128, "%s: killed by signal %d: %s", fault, rc - 128, out);
	if (rc != 0 || !absorbable) {
		ck_assert_msg(rc == 3, "%s: exit %d, not 3: %s", fault, rc, out);
		ck_assert_msg(strstr(out, " injected]") != NULL,
		              "%s: the message does not say what failed: %s", fault, out);
		ck_assert_msg(strstr(out, "attnbench sweep: ") != NULL, "%s: %s", fault, out);
	}
	check_after(path, fault, rc);
}

static void setup(void)
{
	tmpdir_make(dir, "fault");
	reference();
}

static void teardown(void)
{
	free(ref_keys);
	ref_keys = NULL;
	tmpdir_remove(dir);
}

/* Fault points: the first few, then `spread` spaced over [1, total]. */
static int points(long long total, int first, int spread, long long *pt, int max)
{
	int n = 0;
	for (long long i = 1; i <= first && i <= total && n < max; i++)
		pt[n++] = i;
	for (int k = 1; k <= spread && n < max; k++) {
		long long p = total * k / spread;
		if (p > pt[n - 1])
			pt[n++] = p;
	}
	return n;
}

static long long counts_of(const char *kind)
{
	char log[TMPDIR_LEN + 32], path[TMPDIR_LEN + 32];
	snprintf(log, sizeof(log), "%s/counts.log", dir);
	snprintf(path, sizeof(path), "%s/count.db", dir);
	remove(log);
	remove(path); /* a fresh database: creating one is part of every trial */
	setenv("ATTNBENCH_FAULT_LOG", log, 1);
	int rc = cli("sweep --db %s " SWEEP_ARGS, path);
	unsetenv("ATTNBENCH_FAULT_LOG");
	ck_assert_msg(rc == 0, "counting run: exit %d: %s", rc, out);
	long long w, s, o, m;
	read_counts(log, &w, &s, &o, &m);
	ck_assert_msg(w > 10 && s >= 1 && o >= 1 && m > 100, "counts %lld %lld %lld %lld", w, s, o,
	              m);
	return strcmp(kind, "sync") == 0     ? s
	       : strcmp(kind, "open") == 0   ? o
	       : strcmp(kind, "malloc") == 0 ? m
	                                     : w;
}

static void sweep_kind(const char *kind, int first, int spread, int once)
{
	long long total = counts_of(kind), pt[64];
	/* allocations vary a little from run to run: stay clear of the end */
	if (strcmp(kind, "malloc") == 0)
		total = total * 95 / 100;
	int n = points(total, first, spread, pt, 64);
	for (int i = 0; i < n; i++) {
		char fault[64];
		snprintf(fault, sizeof(fault), once ? "%s:%lld:1" : "%s:%lld", kind, pt[i]);
		trial(fault, once);
	}
}

START_TEST(write_faults)
{
	sweep_kind("write", 6, 14, 0);
}
END_TEST

START_TEST(full_faults)
{
	sweep_kind("full", 2, 8, 0);
}
END_TEST

START_TEST(sync_and_open_faults)
{
	sweep_kind("sync", 1000, 0, 0);
	sweep_kind("open", 1000, 0, 0);
}
END_TEST

START_TEST(malloc_faults)
{
	sweep_kind("malloc", 3, 16, 0);
	/* one failed allocation: SQLite may recover, or fail cleanly */
	sweep_kind("malloc", 1, 6, 1);
}
END_TEST

/* A bad ATTNBENCH_FAULT is named, and nothing is opened. */
START_TEST(bad_fault_spec)
{
	const char *bad[] = {"write", "write:0", "write:x", "disk:3", "write:3:0", "write:3:1:2"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		setenv("ATTNBENCH_FAULT", bad[i], 1);
		int rc = cli("sweep --db %s/bad.db " SWEEP_ARGS, dir);
		unsetenv("ATTNBENCH_FAULT");
		ck_assert_msg(rc == 3, "%s: exit %d: %s", bad[i], rc, out);
		ck_assert_msg(strstr(out, "ATTNBENCH_FAULT='") && strstr(out, bad[i]), "%s: %s",
		              bad[i], out);
	}
	char path[TMPDIR_LEN + 16];
	snprintf(path, sizeof(path), "%s/bad.db", dir);
	ck_assert(!file_exists(path));
}
END_TEST

/*
 * A real full disk: a tmpfs of growing size in a mount namespace of this
 * test's own (gone with the test, whatever happens to it). At each size the
 * sweep either fits or stops on "disk is full"; then the tmpfs grows and the
 * run finishes. Until some size lets the first cases in and stops a later one.
 */
START_TEST(tmpfs_fills)
{
	char mnt[TMPDIR_LEN + 16], path[TMPDIR_LEN + 32];
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
	ck_assert_int_eq(mkdir(mnt, 0755), 0);
	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") != 0) {
		ck_assert_msg(errno == EPERM, "mount tmpfs on %s: %s", mnt, strerror(errno));
		fprintf(stderr,
		        "test_fault: tmpfs_fills: the full-disk check needs mount "
		        "(CAP_SYS_ADMIN): %s; this one check did not run\n",
		        strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "%s/t.db", mnt);
	int stopped_midway = 0, fitted = 0;
	for (int kib = 64; kib <= 4096 && !fitted; kib += 32) {
		char opts[32];
		snprintf(opts, sizeof(opts), "size=%dk", kib);
		ck_assert_int_eq(umount2(mnt, MNT_DETACH), 0);
		ck_assert_int_eq(mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, opts), 0);
		int rc = cli("sweep --db %s " SWEEP_ARGS, path);
		ck_assert_msg(rc == 0 || rc == 3, "%s: exit %d: %s", opts, rc, out);
		if (rc == 3)
			ck_assert_msg(strstr(out, "full") || strstr(out, "No space"),
			              "%s: exit 3 without saying the disk is full: %s", opts, out);
		fitted = rc == 0;
		if (rc == 3 && file_exists(path)) {
			sqlite3 *db = ro_open(path);
			stopped_midway |= db_count(db, "SELECT count(*) FROM sqlite_master WHERE "
			                               "name = 'cases'") == 1 &&
			                  db_count(db, "SELECT count(*) FROM cases") > 0;
			sqlite3_close(db);
		}
		/* the disk grows: the fault is gone */
		ck_assert_int_eq(
		    mount(NULL, mnt, NULL, MS_REMOUNT | MS_NOSUID | MS_NODEV, "size=16m"), 0);
		check_after(path, opts, rc);
	}
	ck_assert_msg(fitted, "the sweep never fitted");
	ck_assert_msg(stopped_midway, "no size stopped the sweep after its first cases");
	umount2(mnt, MNT_DETACH);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fault");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, write_faults);
	tcase_add_test(tc, full_faults);
	tcase_add_test(tc, sync_and_open_faults);
	tcase_add_test(tc, malloc_faults);
	tcase_add_test(tc, bad_fault_spec);
	tcase_add_test(tc, tmpfs_fills);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return attn_test_run(s, CK_NORMAL);
}
