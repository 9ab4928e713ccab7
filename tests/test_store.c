/*
 * The SQLite store: round trip of a case with samples and metrics (NULL for
 * an unavailable one, never 0), resume bookkeeping, one transaction per case
 * (a failed write leaves nothing half-written), a second writer that waits
 * instead of failing, and databases that must be refused untouched: not
 * SQLite, corrupt, another program's, a newer schema.
 */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attnbench/status.h"
#include "attnbench/store.h"

#include "check_main.h"
#include "db.h"
#include "tmpdir.h"

static char err[1024];
static char dir[TMPDIR_LEN];

static void setup(void)
{
	tmpdir_make(dir, "store");
}

static void teardown(void)
{
	tmpdir_remove(dir);
}

static void path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static const struct attn_kv info[] = {{"git_commit", "abc123"}, {"cpu_model", "Test CPU"},
				      {"compiler", "gcc"}};

static struct attn_case_record record(const char *key)
{
	static const double ns[3] = {100, 110, 105};
	static const int64_t it[3] = {1, 1, 1};
	static const struct attn_metric m[2] = {{"median_ns", 105, 1, "ns"},
						{"papi_tot_ins", 0, 0, "1"}};
	struct attn_case_record r = {.key = key, .method = "flash", .family = "full",
				     .form = NULL, .params = "bq=64,bk=64", .batch = 1,
				     .heads = 2, .kv_heads = 1, .n = 256, .d = 64, .causal = 1,
				     .mode = "prefill", .dist = "gaussian", .threads = 1,
				     .seed = 42, .status = "ok", .message = "",
				     .n_samples = 3, .sample_ns = ns, .sample_iters = it,
				     .n_metrics = 2, .metrics = m};
	return r;
}

START_TEST(round_trip)
{
	char path[512];
	path_in(path, sizeof(path), "r.db");
	struct attn_store *st;
	ck_assert_msg(attn_store_open(path, 1, &st, err, sizeof(err)) == ATTN_OK, "%s", err);
	int64_t run;
	ck_assert_int_eq(attn_store_run_begin(st, "attnbench sweep", "n = 256\n", info, 3, &run, err,
					      sizeof(err)),
			 ATTN_OK);
	struct attn_case_record r = record("case-1");
	ck_assert_int_eq(attn_store_case_done(st, run, "case-1"), 0);
	ck_assert_int_eq(attn_store_case_write(st, run, &r, err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(attn_store_case_done(st, run, "case-1"), 1);
	sqlite3 *db = attn_store_db(st);
	ck_assert_int_eq(db_int(db, "SELECT count(*) FROM samples"), 3);
	ck_assert_int_eq(db_int(db, "SELECT value FROM metrics WHERE name='median_ns'"), 105);
	/* Unavailable is NULL, not 0. */
	ck_assert_int_eq(db_int(db, "SELECT value FROM metrics WHERE name='papi_tot_ins'"), -999);
	ck_assert_int_eq(db_int(db, "SELECT count(*) FROM run_info"), 3);
	ck_assert_int_eq(db_int(db, "SELECT median_ns FROM results"), 105);
	ck_assert_int_eq(db_int(db, "SELECT kv_heads FROM cases"), 1);

	/* Resume bookkeeping: the newest unfinished run and its spec. */
	int64_t found;
	char *spec;
	ck_assert_int_eq(attn_store_run_find_unfinished(st, &found, &spec, err, sizeof(err)),
			 ATTN_OK);
	ck_assert_int_eq(found, run);
	ck_assert_str_eq(spec, "n = 256\n");
	free(spec);
	ck_assert_int_eq(attn_store_run_set_status(st, run, "complete", err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(attn_store_run_find_unfinished(st, &found, &spec, err, sizeof(err)),
			 ATTN_ERR_NOTFOUND);
	attn_store_close(st);

	/* Reopening finds everything, read-only open works too. */
	ck_assert_int_eq(attn_store_open(path, 0, &st, err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(db_int(attn_store_db(st), "SELECT count(*) FROM cases"), 1);
	attn_store_close(st);
}
END_TEST

START_TEST(case_is_atomic)
{
	char path[512];
	path_in(path, sizeof(path), "a.db");
	struct attn_store *st;
	ck_assert_int_eq(attn_store_open(path, 1, &st, err, sizeof(err)), ATTN_OK);
	int64_t run;
	ck_assert_int_eq(attn_store_run_begin(st, "c", "s", info, 3, &run, err, sizeof(err)),
			 ATTN_OK);
	struct attn_case_record r = record("k");
	ck_assert_int_eq(attn_store_case_write(st, run, &r, err, sizeof(err)), ATTN_OK);
	/* The same key again violates UNIQUE: nothing of it may remain. */
	ck_assert_int_eq(attn_store_case_write(st, run, &r, err, sizeof(err)), ATTN_ERR_DB);
	sqlite3 *db = attn_store_db(st);
	ck_assert_int_eq(db_int(db, "SELECT count(*) FROM cases"), 1);
	ck_assert_int_eq(db_int(db, "SELECT count(*) FROM samples"), 3);
	/* A bad status is refused by the schema, again leaving nothing. */
	r = record("k2");
	r.status = "fine";
	ck_assert_int_eq(attn_store_case_write(st, run, &r, err, sizeof(err)), ATTN_ERR_DB);
	ck_assert_int_eq(db_int(db, "SELECT count(*) FROM cases"), 1);
	/* And the store still works afterwards. */
	r = record("k3");
	ck_assert_int_eq(attn_store_case_write(st, run, &r, err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(db_int(db, "SELECT count(*) FROM samples"), 6);
	attn_store_close(st);
}
END_TEST

START_TEST(second_writer_waits)
{
	char path[512];
	path_in(path, sizeof(path), "w.db");
	struct attn_store *st;
	ck_assert_int_eq(attn_store_open(path, 1, &st, err, sizeof(err)), ATTN_OK);
	int64_t run;
	ck_assert_int_eq(attn_store_run_begin(st, "c", "s", info, 3, &run, err, sizeof(err)),
			 ATTN_OK);
	int go[2];
	ck_assert_int_eq(pipe(go), 0);
	pid_t pid = fork();
	if (pid == 0) {
		/* Hold the write lock for a second. */
		sqlite3 *db;
		sqlite3_open(path, &db);
		sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		ck_assert_int_eq(write(go[1], "x", 1), 1);
		sleep(1);
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		sqlite3_close(db);
		_exit(0);
	}
	char c;
	ck_assert_int_eq(read(go[0], &c, 1), 1);
	struct attn_case_record r = record("waited");
	ck_assert_msg(attn_store_case_write(st, run, &r, err, sizeof(err)) == ATTN_OK, "%s", err);
	int status;
	waitpid(pid, &status, 0);
	ck_assert_int_eq(attn_store_case_done(st, run, "waited"), 1);
	attn_store_close(st);
}
END_TEST

static char *slurp(const char *path, long *len)
{
	FILE *f = fopen(path, "rb");
	ck_assert(f != NULL);
	fseek(f, 0, SEEK_END);
	*len = ftell(f);
	rewind(f);
	char *b = malloc(*len + 1);
	ck_assert_int_eq(fread(b, 1, *len, f), (size_t)*len);
	fclose(f);
	return b;
}

static void assert_refused_untouched(const char *path, const char *needle)
{
	long l0, l1;
	char *before = slurp(path, &l0);
	struct attn_store *st = NULL;
	int rc = attn_store_open(path, 1, &st, err, sizeof(err));
	ck_assert_int_ne(rc, ATTN_OK);
	ck_assert(st == NULL);
	ck_assert_msg(strstr(err, needle) != NULL, "message '%s' lacks '%s'", err, needle);
	ck_assert_msg(strstr(err, path) != NULL, "message '%s' does not name the file", err);
	char *after = slurp(path, &l1);
	ck_assert_int_eq(l0, l1);
	ck_assert(memcmp(before, after, l0) == 0);
	free(before);
	free(after);
}

START_TEST(refuses_bad_files)
{
	char path[512];
	path_in(path, sizeof(path), "text.db");
	FILE *f = fopen(path, "w");
	for (int i = 0; i < 200; i++)
		fprintf(f, "this is not a database, line %d\n", i);
	fclose(f);
	assert_refused_untouched(path, "not a database");

	path_in(path, sizeof(path), "foreign.db");
	sqlite3 *db;
	sqlite3_open(path, &db);
	sqlite3_exec(db, "CREATE TABLE accounts(id INTEGER, balance REAL);"
			 "INSERT INTO accounts VALUES (1, 100.0);",
		     NULL, NULL, NULL);
	sqlite3_close(db);
	assert_refused_untouched(path, "another program");

	path_in(path, sizeof(path), "newer.db");
	struct attn_store *st;
	ck_assert_int_eq(attn_store_open(path, 1, &st, err, sizeof(err)), ATTN_OK);
	sqlite3_exec(attn_store_db(st), "UPDATE meta SET value='99' WHERE key='schema_version'",
		     NULL, NULL, NULL);
	sqlite3_exec(attn_store_db(st), "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	attn_store_close(st);
	assert_refused_untouched(path, "newer");
}
END_TEST

START_TEST(refuses_corrupt)
{
	char path[512];
	path_in(path, sizeof(path), "corrupt.db");
	struct attn_store *st;
	ck_assert_int_eq(attn_store_open(path, 1, &st, err, sizeof(err)), ATTN_OK);
	int64_t run;
	attn_store_run_begin(st, "c", "s", info, 3, &run, err, sizeof(err));
	char key[32];
	for (int i = 0; i < 300; i++) {
		snprintf(key, sizeof(key), "case-%d", i);
		struct attn_case_record r = record(key);
		ck_assert_int_eq(attn_store_case_write(st, run, &r, err, sizeof(err)), ATTN_OK);
	}
	sqlite3_exec(attn_store_db(st), "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	attn_store_close(st);
	/* Scribble over pages past the schema page: the b-trees break. */
	FILE *f = fopen(path, "r+b");
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	ck_assert_int_gt(len, 8 * 4096);
	for (long off = 2 * 4096; off < len; off += 4096) {
		fseek(f, off + 8, SEEK_SET);
		for (int i = 0; i < 64; i++)
			fputc(0xEE, f);
	}
	fclose(f);
	assert_refused_untouched(path, "corrupt");
}
END_TEST


/* A version-1 database, as the first attnbench wrote it, is carried forward intact. */
START_TEST(migrates_v1)
{
	char path[512];
	path_in(path, sizeof(path), "v1.db");
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(
		sqlite3_exec(db,
			     "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
			     "INSERT INTO meta VALUES ('app','attnbench'),('schema_version','1');"
			     "CREATE TABLE runs(id INTEGER PRIMARY KEY, started_at TEXT NOT NULL,"
			     " finished_at TEXT, status TEXT NOT NULL, command TEXT NOT NULL,"
			     " spec TEXT NOT NULL, git_commit TEXT, hostname TEXT, cpu_model TEXT);"
			     "CREATE TABLE run_info(run_id INTEGER NOT NULL, key TEXT NOT NULL,"
			     " value TEXT, PRIMARY KEY (run_id, key));"
			     "CREATE TABLE cases(id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL,"
			     " key TEXT NOT NULL, method TEXT NOT NULL, family TEXT NOT NULL, form TEXT,"
			     " params TEXT NOT NULL, batch INTEGER NOT NULL, heads INTEGER NOT NULL,"
			     " kv_heads INTEGER NOT NULL, n INTEGER NOT NULL, d INTEGER NOT NULL,"
			     " causal INTEGER NOT NULL, mode TEXT NOT NULL, dist TEXT NOT NULL,"
			     " threads INTEGER NOT NULL, seed INTEGER NOT NULL, status TEXT NOT NULL,"
			     " message TEXT, finished_at TEXT NOT NULL, UNIQUE (run_id, key));"
			     "CREATE TABLE samples(case_id INTEGER NOT NULL, rep INTEGER NOT NULL,"
			     " ns REAL NOT NULL, iters INTEGER NOT NULL, PRIMARY KEY (case_id, rep));"
			     "CREATE TABLE metrics(case_id INTEGER NOT NULL, name TEXT NOT NULL,"
			     " value REAL, unit TEXT NOT NULL, PRIMARY KEY (case_id, name));"
			     "CREATE VIEW results AS SELECT * FROM cases;"
			     "INSERT INTO runs VALUES (1,'t',NULL,'running','c','n = 64',NULL,NULL,NULL);"
			     "INSERT INTO cases VALUES (1,1,'k','flash','full',NULL,'',1,1,1,64,8,0,"
			     " 'prefill','gaussian',1,42,'ok',NULL,'t');"
			     "INSERT INTO samples VALUES (1,0,123.0,1);"
			     "INSERT INTO metrics VALUES (1,'median_ns',123.0,'ns');",
			     NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);

	struct attn_store *st;
	ck_assert_msg(attn_store_open(path, 0, &st, err, sizeof(err)) == ATTN_OK, "%s", err);
	db = attn_store_db(st);
	ck_assert_int_eq(db_int(db, "SELECT value FROM meta WHERE key='schema_version'"),
			 ATTN_SCHEMA_VERSION);
	ck_assert_int_eq(db_int(db, "SELECT median_ns FROM results"), 123);
	ck_assert_int_eq(db_int(db, "SELECT cpus FROM cases"), -999);
	/* The new tables take writes; the old run resumes. */
	int64_t run;
	char *spec;
	ck_assert_int_eq(attn_store_run_find_unfinished(st, &run, &spec, err, sizeof(err)), ATTN_OK);
	ck_assert_str_eq(spec, "n = 64");
	free(spec);
	struct attn_roof roof = {.threads = 1, .fma_gflops = 2, .sgemm_gflops = 1, .triad_gbps = 3};
	ck_assert_int_eq(attn_store_run_roof(st, run, &roof, err, sizeof(err)), ATTN_OK);
	struct attn_roof back[4];
	int n;
	ck_assert_int_eq(attn_store_run_roofs_load(st, run, back, 4, &n, err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(n, 1);
	ck_assert_double_eq(back[0].triad_gbps, 3);
	/*
	 * v3 rebuilt `cases`: its samples and metrics survived the rebuild, the
	 * new status is accepted, and deleting a run cascades to its cases.
	 */
	ck_assert_int_eq(db_int(db, "SELECT count(*) FROM samples"), 1);
	ck_assert_int_eq(db_int(db, "SELECT count(*) FROM metrics"), 1);
	ck_assert_int_eq(db_int(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
	db_exec(db, "UPDATE cases SET status='skipped_time'");
	ck_assert_int_ne(sqlite3_exec(db, "UPDATE cases SET status='bogus'", NULL, NULL, NULL),
			 SQLITE_OK);
	db_exec(db, "DELETE FROM runs");
	ck_assert_int_eq(db_int(db, "SELECT count(*) FROM cases"), 0);
	attn_store_close(st);
}
END_TEST

/* Counter readings per sample: values where counted, NULL with the state otherwise. */
START_TEST(sample_counters_stored)
{
	char path[512];
	path_in(path, sizeof(path), "c.db");
	struct attn_store *st;
	ck_assert_int_eq(attn_store_open(path, 1, &st, err, sizeof(err)), ATTN_OK);
	int64_t run;
	ck_assert_int_eq(attn_store_run_begin(st, "c", "s", info, 3, &run, err, sizeof(err)),
			 ATTN_OK);
	struct attn_counter_info ci[2] = {{"perf::TASK-CLOCK", 1, "perf_event", NULL},
					  {"PAPI_TOT_INS", 0, "none", "no PMU"}};
	ck_assert_int_eq(attn_store_run_counters(st, run, ci, 2, err, sizeof(err)), ATTN_OK);
	const char *names[2] = {"perf::TASK-CLOCK", "PAPI_TOT_INS"};
	struct attn_counter_reading rd[6] = {{100, ATTN_COUNTER_OK}, {0, ATTN_COUNTER_UNAVAILABLE},
					     {110, ATTN_COUNTER_OK}, {0, ATTN_COUNTER_UNAVAILABLE},
					     {0, ATTN_COUNTER_UNRELIABLE},
					     {0, ATTN_COUNTER_UNAVAILABLE}};
	struct attn_case_record r = record("k");
	r.n_counters = 2;
	r.counter_names = names;
	r.sample_counters = rd;
	r.cpus = "0,1";
	ck_assert_int_eq(attn_store_case_write(st, run, &r, err, sizeof(err)), ATTN_OK);
	sqlite3 *db = attn_store_db(st);
	ck_assert_int_eq(db_int(db, "SELECT count(*) FROM sample_counters"), 6);
	ck_assert_int_eq(db_int(db, "SELECT sum(value) FROM sample_counters"), 210);
	ck_assert_int_eq(db_int(db, "SELECT count(*) FROM sample_counters WHERE value IS NULL "
				    "AND state = 'unavailable'"),
			 3);
	ck_assert_int_eq(db_int(db, "SELECT count(*) FROM sample_counters WHERE value IS NULL "
				    "AND state = 'unreliable'"),
			 1);
	ck_assert_int_eq(db_int(db, "SELECT available FROM run_counters WHERE "
				    "event = 'PAPI_TOT_INS'"),
			 0);
	/* A mask round-trips (schema v4), and goes with its case. */
	static const uint8_t mask[6] = {1, 0, 1, 1, 0, 1};
	struct attn_case_record rm = record("m");
	rm.mask = mask;
	rm.mask_nqb = 2;
	rm.mask_nkb = 3;
	ck_assert_int_eq(attn_store_case_write(st, run, &rm, err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(db_int(db, "SELECT nqb * 10 + nkb FROM masks"), 23);
	ck_assert_int_eq(db_int(db, "SELECT length(mask) FROM masks"), 6);
	ck_assert_int_eq(db_int(db, "SELECT unicode(substr(mask, 3, 1)) FROM masks"), 1);
	/* The rebuilt `cases` (schema v3) is what samples and counters reference. */
	ck_assert_int_eq(db_int(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
	db_exec(db, "DELETE FROM cases");
	ck_assert_int_eq(db_int(db, "SELECT count(*) FROM sample_counters"), 0);
	ck_assert_int_eq(db_int(db, "SELECT count(*) FROM samples"), 0);
	ck_assert_int_eq(db_int(db, "SELECT count(*) FROM masks"), 0);
	attn_store_close(st);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, case_is_atomic);
	tcase_add_test(tc, second_writer_waits);
	tcase_add_test(tc, refuses_bad_files);
	tcase_add_test(tc, refuses_corrupt);
	tcase_add_test(tc, migrates_v1);
	tcase_add_test(tc, sample_counters_stored);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	int failed = attn_test_run(s, CK_NORMAL);
	return failed != 0;
}
