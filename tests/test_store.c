/*
 * The SQLite store: round trip of a case with samples and metrics (NULL for
 * an unavailable one, never 0), resume bookkeeping, one transaction per case
 * (a failed write leaves nothing half-written), a second writer that waits
 * instead of failing, and databases that must be refused untouched, decided
 * before anything is written: not SQLite, corrupt (also where only
 * integrity_check sees it), another program's, no schema version, a newer
 * schema. Read-only opening (nothing written, a folder the user cannot
 * write), one writer per run (a live owner refused and named, a dead one
 * taken over), and through the CLI: export that cannot destroy a database
 * or lose a write, the readers as a user without write access, and two
 * sweeps on one run.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attnbench/status.h"
#include "attnbench/store.h"

#include "check_main.h"
#include "cli_run.h"
#include "db.h"
#include "internal.h" /* attn__store_handle: white-box reads of the file */
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

static const struct attn_kv info[] = {
    {"git_commit", "abc123"}, {"cpu_model", "Test CPU"}, {"compiler", "gcc"}};

static struct attn_case_record record(const char *key)
{
	static const double ns[3] = {100, 110, 105};
	static const int64_t it[3] = {1, 1, 1};
	static const struct attn_metric m[2] = {{"median_ns", 105, 1, "ns"},
	                                        {"papi_tot_ins", 0, 0, "1"}};
	struct attn_case_record r = {.key = key,
	                             .method = "flash",
	                             .family = "full",
	                             .form = NULL,
	                             .params = "bq=64,bk=64",
	                             .batch = 1,
	                             .heads = 2,
	                             .kv_heads = 1,
	                             .n = 256,
	                             .d = 64,
	                             .causal = 1,
	                             .mode = "prefill",
	                             .dist = "gaussian",
	                             .threads = 1,
	                             .seed = 42,
	                             .status = "ok",
	                             .message = "",
	                             .n_samples = 3,
	                             .sample_ns = ns,
	                             .sample_iters = it,
	                             .n_metrics = 2,
	                             .metrics = m};
	return r;
}

START_TEST(round_trip)
{
	char path[512];
	path_in(path, sizeof(path), "r.db");
	struct attn_store *st = db_store_open(path, 1);
	int64_t run;
	ck_assert_int_eq(attn_store_run_begin(st, "attnbench sweep", "n = 256\n", info, 3, &run,
	                                      err, sizeof(err)),
	                 ATTN_OK);
	struct attn_case_record r = record("case-1");
	ck_assert_int_eq(attn_store_case_done(st, run, "case-1"), 0);
	ck_assert_int_eq(attn_store_case_write(st, run, &r, err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(attn_store_case_done(st, run, "case-1"), 1);
	sqlite3 *db = attn__store_handle(st);
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
	st = db_store_open(path, 0);
	ck_assert_int_eq(db_int(attn__store_handle(st), "SELECT count(*) FROM cases"), 1);
	attn_store_close(st);
}
END_TEST

START_TEST(case_is_atomic)
{
	char path[512];
	path_in(path, sizeof(path), "a.db");
	struct attn_store *st = db_store_open(path, 1);
	int64_t run;
	ck_assert_int_eq(attn_store_run_begin(st, "c", "s", info, 3, &run, err, sizeof(err)),
	                 ATTN_OK);
	struct attn_case_record r = record("k");
	ck_assert_int_eq(attn_store_case_write(st, run, &r, err, sizeof(err)), ATTN_OK);
	/* The same key again violates UNIQUE: nothing of it may remain. */
	ck_assert_int_eq(attn_store_case_write(st, run, &r, err, sizeof(err)), ATTN_ERR_DB);
	sqlite3 *db = attn__store_handle(st);
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
	struct attn_store *st = db_store_open(path, 1);
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
	b[*len] = 0;
	fclose(f);
	return b;
}

static int exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static int side_file(const char *path, const char *suffix)
{
	char side[1100];
	snprintf(side, sizeof(side), "%s%s", path, suffix);
	return exists(side);
}

/*
 * Opening path in mode fails with a message naming the file and the reason,
 * and leaves it byte for byte as it was, with no -wal or -shm beside it.
 */
static void refused_untouched(const char *path, int mode, const char *needle)
{
	long l0, l1;
	int had_wal = side_file(path, "-wal");
	char *before = slurp(path, &l0);
	struct attn_store *st = NULL;
	int rc = attn_store_open(path, mode, &st, err, sizeof(err));
	ck_assert_int_ne(rc, ATTN_OK);
	ck_assert(st == NULL);
	ck_assert_msg(strstr(err, needle) != NULL, "message '%s' lacks '%s'", err, needle);
	ck_assert_msg(strstr(err, path) != NULL, "message '%s' does not name the file", err);
	char *after = slurp(path, &l1);
	ck_assert_int_eq(l0, l1);
	ck_assert_msg(memcmp(before, after, l0) == 0, "%s changed (mode %d)", path, mode);
	ck_assert_msg(had_wal || !side_file(path, "-wal"), "%s-wal was created", path);
	ck_assert_msg(had_wal || !side_file(path, "-shm"), "%s-shm was created", path);
	free(before);
	free(after);
}

static void assert_refused_untouched(const char *path, const char *needle)
{
	refused_untouched(path, ATTN_STORE_CREATE, needle);
	refused_untouched(path, ATTN_STORE_EXISTING, needle);
	refused_untouched(path, ATTN_STORE_READONLY, needle);
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
	sqlite3_exec(db,
	             "CREATE TABLE accounts(id INTEGER, balance REAL);"
	             "INSERT INTO accounts VALUES (1, 100.0);",
	             NULL, NULL, NULL);
	sqlite3_close(db);
	assert_refused_untouched(path, "another program");

	path_in(path, sizeof(path), "newer.db");
	struct attn_store *st = db_store_open(path, 1);
	sqlite3_exec(attn__store_handle(st),
	             "UPDATE meta SET value='99' WHERE key='schema_version'", NULL, NULL, NULL);
	sqlite3_exec(attn__store_handle(st), "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	attn_store_close(st);
	assert_refused_untouched(path, "newer");
}
END_TEST

START_TEST(refuses_corrupt)
{
	char path[512];
	path_in(path, sizeof(path), "corrupt.db");
	struct attn_store *st = db_store_open(path, 1);
	int64_t run;
	attn_store_run_begin(st, "c", "s", info, 3, &run, err, sizeof(err));
	char key[32];
	for (int i = 0; i < 300; i++) {
		snprintf(key, sizeof(key), "case-%d", i);
		struct attn_case_record r = record(key);
		ck_assert_int_eq(attn_store_case_write(st, run, &r, err, sizeof(err)), ATTN_OK);
	}
	sqlite3_exec(attn__store_handle(st), "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
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
	    sqlite3_exec(
	        db,
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

	struct attn_store *st = db_store_open(path, 0);
	db = attn__store_handle(st);
	ck_assert_int_eq(db_int(db, "SELECT value FROM meta WHERE key='schema_version'"),
	                 ATTN_SCHEMA_VERSION);
	ck_assert_int_eq(db_int(db, "SELECT median_ns FROM results"), 123);
	ck_assert_int_eq(db_int(db, "SELECT cpus FROM cases"), -999);
	/* The new tables take writes; the old run resumes. */
	int64_t run;
	char *spec;
	ck_assert_int_eq(attn_store_run_find_unfinished(st, &run, &spec, err, sizeof(err)),
	                 ATTN_OK);
	ck_assert_str_eq(spec, "n = 64");
	free(spec);
	struct attn_roof roof = {.threads = 1, .fma_gflops = 2, .sgemm_gflops = 1, .triad_gbps = 3};
	ck_assert_int_eq(attn_store_run_roof(st, run, &roof, err, sizeof(err)), ATTN_OK);
	struct attn_roof back[4];
	int n;
	ck_assert_int_eq(attn_store_run_roofs_load(st, run, back, 4, &n, err, sizeof(err)),
	                 ATTN_OK);
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
	struct attn_store *st = db_store_open(path, 1);
	int64_t run;
	ck_assert_int_eq(attn_store_run_begin(st, "c", "s", info, 3, &run, err, sizeof(err)),
	                 ATTN_OK);
	struct attn_counter_info ci[2] = {{"perf::TASK-CLOCK", 1, "perf_event", NULL},
	                                  {"PAPI_TOT_INS", 0, "none", "no PMU"}};
	ck_assert_int_eq(attn_store_run_counters(st, run, ci, 2, err, sizeof(err)), ATTN_OK);
	const char *names[2] = {"perf::TASK-CLOCK", "PAPI_TOT_INS"};
	struct attn_counter_reading rd[6] = {
	    {100, ATTN_COUNTER_OK},       {0, ATTN_COUNTER_UNAVAILABLE},
	    {110, ATTN_COUNTER_OK},       {0, ATTN_COUNTER_UNAVAILABLE},
	    {0, ATTN_COUNTER_UNRELIABLE}, {0, ATTN_COUNTER_UNAVAILABLE}};
	struct attn_case_record r = record("k");
	r.n_counters = 2;
	r.counter_names = names;
	r.sample_counters = rd;
	r.cpus = "0,1";
	ck_assert_int_eq(attn_store_case_write(st, run, &r, err, sizeof(err)), ATTN_OK);
	sqlite3 *db = attn__store_handle(st);
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

/* A SQLite file of ours in all but its meta table is refused before it is switched to WAL. */
START_TEST(refuses_before_writing)
{
	static const struct {
		const char *name, *sql, *needle;
	} files[] = {
	    {"nover.db",
	     "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
	     "INSERT INTO meta VALUES ('app','attnbench');",
	     "no schema version"},
	    {"owner.db",
	     "CREATE TABLE meta(key TEXT, value TEXT); INSERT INTO meta VALUES ('owner','x');",
	     "another program"},
	    {"cols.db", "CREATE TABLE meta(a, b, c); INSERT INTO meta VALUES (1, 2, 3);",
	     "another program"},
	    {"app.db",
	     "CREATE TABLE meta(key TEXT, value TEXT);"
	     "INSERT INTO meta VALUES ('app','other'),('schema_version','3');",
	     "app is 'other'"},
	    {"word.db",
	     "CREATE TABLE meta(key TEXT, value TEXT);"
	     "INSERT INTO meta VALUES ('app','attnbench'),('schema_version','seven');",
	     "'seven' is not a version number"},
	};
	for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++) {
		char path[512];
		path_in(path, sizeof(path), files[i].name);
		db_file_exec(path, files[i].sql);
		/* a rollback-journal file: a switch to WAL would show in the bytes */
		ck_assert_int_eq(db_file_int(path, "PRAGMA journal_mode='delete'") == -1, 0);
		assert_refused_untouched(path, files[i].needle);
	}
	/* empty files: only `create` takes one */
	char path[512];
	path_in(path, sizeof(path), "empty.db");
	FILE *f = fopen(path, "w");
	fclose(f);
	struct attn_store *st;
	ck_assert_int_ne(attn_store_open(path, ATTN_STORE_EXISTING, &st, err, sizeof(err)),
	                 ATTN_OK);
	ck_assert_msg(strstr(err, "an empty file"), "%s", err);
	ck_assert_int_ne(attn_store_open(path, ATTN_STORE_READONLY, &st, err, sizeof(err)),
	                 ATTN_OK);
	st = db_store_open(path, ATTN_STORE_CREATE);
	attn_store_close(st);
	/* a missing file: only `create` makes one */
	path_in(path, sizeof(path), "missing.db");
	ck_assert_int_eq(attn_store_open(path, ATTN_STORE_EXISTING, &st, err, sizeof(err)),
	                 ATTN_ERR_NOTFOUND);
	ck_assert_int_eq(attn_store_open(path, ATTN_STORE_READONLY, &st, err, sizeof(err)),
	                 ATTN_ERR_NOTFOUND);
	ck_assert_msg(strstr(err, "No such file"), "%s", err);
	ck_assert(!exists(path));
	ck_assert_int_eq(attn_store_open(path, 7, &st, err, sizeof(err)), ATTN_ERR_INVALID);
}
END_TEST

/*
 * One index page whose cells were overwritten: the b-tree is intact, so
 * quick_check passes it, but the index no longer matches cases. Before, a
 * sweep wrote into it (exit 0); integrity_check refuses it, untouched.
 */
START_TEST(refuses_damaged_index)
{
	char path[512];
	path_in(path, sizeof(path), "damaged.db");
	struct attn_store *st = db_store_open(path, ATTN_STORE_CREATE);
	int64_t run;
	ck_assert_int_eq(attn_store_run_begin(st, "c", "s", info, 3, &run, err, sizeof(err)),
	                 ATTN_OK);
	for (int i = 0; i < 10; i++) {
		char key[96];
		snprintf(key, sizeof(key), "flash n=%d d=64 h=1/1 b=1 prefill t=1 gaussian seed=42",
		         64 << i);
		struct attn_case_record r = record(key);
		ck_assert_int_eq(attn_store_case_write(st, run, &r, err, sizeof(err)), ATTN_OK);
	}
	attn_store_close(st);
	ck_assert(!side_file(path, "-wal"));
	long long page = db_file_int(path, "SELECT rootpage FROM sqlite_master WHERE name = "
	                                   "'sqlite_autoindex_cases_1'");
	long long psize = db_file_int(path, "PRAGMA page_size");
	ck_assert_int_gt(page, 1);
	/* the first cell sits at the page's end: its last bytes are a key's text */
	FILE *f = fopen(path, "r+b");
	ck_assert(f != NULL);
	fseek(f, (long)(page * psize - 8), SEEK_SET);
	fputs("ZZZZ", f);
	fclose(f);
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_stmt *q;
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &q, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(q, 0), "ok"); /* what it misses */
	sqlite3_finalize(q);
	sqlite3_close(db);
	assert_refused_untouched(path, "integrity_check");
	ck_assert_msg(strstr(err, "missing from index sqlite_autoindex_cases_1"), "%s", err);
}
END_TEST

/* Read-only: no write at all, an older schema read as it is or refused with a way out. */
START_TEST(read_only_open)
{
	char path[512];
	path_in(path, sizeof(path), "ro.db");
	struct attn_store *st = db_store_open(path, ATTN_STORE_CREATE);
	int64_t run;
	ck_assert_int_eq(attn_store_run_begin(st, "c", "s", info, 3, &run, err, sizeof(err)),
	                 ATTN_OK);
	struct attn_case_record r = record("k");
	ck_assert_int_eq(attn_store_case_write(st, run, &r, err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(attn_store_run_set_status(st, run, "complete", err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(attn_store_run_release(st, run, err, sizeof(err)), ATTN_OK);
	attn_store_close(st);
	/* the schema a build before run_owner wrote: readable as it is */
	db_file_exec(path, "DROP TABLE run_owner; UPDATE meta SET value = '7' WHERE key = "
	                   "'schema_version'; PRAGMA journal_mode = 'delete'");
	long l0, l1;
	char *before = slurp(path, &l0);
	st = db_store_open(path, ATTN_STORE_READONLY);
	sqlite3 *db = attn__store_handle(st);
	ck_assert_int_eq(db_int(db, "SELECT count(*) FROM samples"), 3);
	ck_assert_int_ne(sqlite3_exec(db, "DELETE FROM samples", NULL, NULL, NULL), SQLITE_OK);
	r = record("k2");
	ck_assert_int_eq(attn_store_case_write(st, run, &r, err, sizeof(err)), ATTN_ERR_DB);
	attn_store_close(st);
	char *after = slurp(path, &l1);
	ck_assert(l0 == l1 && memcmp(before, after, l0) == 0);
	ck_assert(!side_file(path, "-wal") && !side_file(path, "-journal"));
	free(before);
	free(after);
	/* older than the readers read: a word on how to migrate, the file as it was */
	db_file_exec(path, "UPDATE meta SET value = '6' WHERE key = 'schema_version'");
	refused_untouched(path, ATTN_STORE_READONLY, "migrate it");
	/* a writer migrates it (the tables are those of version 7) */
	db_file_exec(path, "UPDATE meta SET value = '7' WHERE key = 'schema_version'");
	st = db_store_open(path, ATTN_STORE_EXISTING);
	attn_store_close(st);
	ck_assert_int_eq(db_file_int(path, "SELECT value FROM meta WHERE key = 'schema_version'"),
	                 ATTN_SCHEMA_VERSION);
}
END_TEST

/* --- one writer per run ---------------------------------------------------- */

/* In a child: open path, claim run, tell the parent rc and the message, then hold or go. */
static pid_t child_claim(const char *path, int64_t run, int take_over, int hold, int *fd)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		struct attn_store *st;
		char msg[1024] = "";
		int rc = attn_store_open(path, ATTN_STORE_EXISTING, &st, msg, sizeof(msg));
		if (rc == ATTN_OK)
			rc = attn_store_run_claim(st, run, take_over, msg, sizeof(msg));
		if (write(p[1], &rc, sizeof(rc)) != sizeof(rc) ||
		    write(p[1], msg, sizeof(msg)) != sizeof(msg))
			_exit(2);
		if (hold)
			pause();
		_exit(0); /* the claim stays behind: no close, as after a crash */
	}
	close(p[1]);
	*fd = p[0];
	return pid;
}

static int child_answer(int fd, char *msg, size_t len)
{
	int rc;
	char buf[1024];
	ck_assert_int_eq(read(fd, &rc, sizeof(rc)), sizeof(rc));
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), sizeof(buf));
	close(fd);
	snprintf(msg, len, "%s", buf);
	return rc;
}

/* Field 22 of /proc/PID/stat: the start time the store records. */
static long long start_ticks(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	ck_assert(f != NULL);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	ck_assert(p != NULL);
	long long v = -1;
	int field = 2;
	for (char *save, *t = strtok_r(p + 1, " ", &save); t; t = strtok_r(NULL, " ", &save))
		if (++field == 22)
			v = atoll(t);
	return v;
}

START_TEST(one_writer_per_run)
{
	char path[512], msg[1024], want[128];
	path_in(path, sizeof(path), "own.db");
	struct attn_store *st = db_store_open(path, ATTN_STORE_CREATE);
	sqlite3 *db = attn__store_handle(st);
	int64_t run;
	ck_assert_int_eq(attn_store_run_begin(st, "c", "s", info, 3, &run, err, sizeof(err)),
	                 ATTN_OK);
	/* run_begin made this process the owner, in its transaction */
	ck_assert_int_eq(db_int(db, "SELECT pid FROM run_owner"), getpid());
	ck_assert_int_eq(db_int(db, "SELECT start_ticks FROM run_owner"), start_ticks(getpid()));

	/* a second writer is refused, the owner named */
	int fd, status;
	pid_t c = child_claim(path, run, 0, 0, &fd);
	ck_assert_int_eq(child_answer(fd, msg, sizeof(msg)), ATTN_ERR_DB);
	waitpid(c, &status, 0);
	snprintf(want, sizeof(want), "run %lld is being written by pid %d on host ", (long long)run,
	         (int)getpid());
	ck_assert_msg(strstr(msg, want) && strstr(msg, "wait for it or stop it"), "%s", msg);
	/* claiming again is no error for the owner; released, the next one gets it */
	ck_assert_int_eq(attn_store_run_claim(st, run, 0, err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(attn_store_run_release(st, run, err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(db_int(db, "SELECT count(*) FROM run_owner"), 0);

	/* a live holder: refused; killed with -9: taken over */
	pid_t holder = child_claim(path, run, 0, 1, &fd);
	ck_assert_int_eq(child_answer(fd, msg, sizeof(msg)), ATTN_OK);
	ck_assert_int_eq(attn_store_run_claim(st, run, 0, err, sizeof(err)), ATTN_ERR_DB);
	snprintf(want, sizeof(want), "being written by pid %d", (int)holder);
	ck_assert_msg(strstr(err, want), "%s", err);
	kill(holder, SIGKILL);
	waitpid(holder, &status, 0);
	ck_assert_msg(attn_store_run_claim(st, run, 0, err, sizeof(err)) == ATTN_OK, "%s", err);
	ck_assert_int_eq(db_int(db, "SELECT pid FROM run_owner"), getpid());

	/* a holder that died and is not reaped yet (a zombie) is dead too */
	ck_assert_int_eq(attn_store_run_release(st, run, err, sizeof(err)), ATTN_OK);
	c = child_claim(path, run, 0, 0, &fd);
	ck_assert_int_eq(child_answer(fd, msg, sizeof(msg)), ATTN_OK);
	siginfo_t si;
	ck_assert_int_eq(waitid(P_PID, c, &si, WEXITED | WNOWAIT), 0); /* exited, still unreaped */
	ck_assert_msg(attn_store_run_claim(st, run, 0, err, sizeof(err)) == ATTN_OK, "%s", err);
	waitpid(c, &status, 0);

	/* a pid that lives but was started at another time: reused, so dead */
	char sql[256];
	long long init_start = start_ticks(1);
	snprintf(sql, sizeof(sql), "UPDATE run_owner SET pid = 1, start_ticks = %lld",
	         init_start + 1);
	db_exec(db, sql);
	ck_assert_msg(attn_store_run_claim(st, run, 0, err, sizeof(err)) == ATTN_OK, "%s", err);
	/* the same pid and start time: alive */
	snprintf(sql, sizeof(sql), "UPDATE run_owner SET pid = 1, start_ticks = %lld", init_start);
	db_exec(db, sql);
	ck_assert_int_eq(attn_store_run_claim(st, run, 0, err, sizeof(err)), ATTN_ERR_DB);
	ck_assert_msg(strstr(err, "being written by pid 1 on"), "%s", err);
	/* ... unless recorded in another boot */
	db_exec(db, "UPDATE run_owner SET boot_id = 'another-boot'");
	ck_assert_msg(attn_store_run_claim(st, run, 0, err, sizeof(err)) == ATTN_OK, "%s", err);

	/* another host: its life cannot be checked, so refused unless taken over */
	db_exec(db, "UPDATE run_owner SET hostname = 'elsewhere-7', pid = 4242");
	ck_assert_int_eq(attn_store_run_claim(st, run, 0, err, sizeof(err)), ATTN_ERR_DB);
	ck_assert_msg(strstr(err, "pid 4242 on host elsewhere-7") && strstr(err, "--take-over"),
	              "%s", err);
	ck_assert_msg(attn_store_run_claim(st, run, 1, err, sizeof(err)) == ATTN_OK, "%s", err);
	ck_assert_int_eq(db_int(db, "SELECT pid FROM run_owner"), getpid());

	ck_assert_int_eq(attn_store_run_claim(st, run + 5, 0, err, sizeof(err)), ATTN_ERR_NOTFOUND);
	/* a close gives up what the handle holds */
	attn_store_close(st);
	ck_assert_int_eq(db_file_int(path, "SELECT count(*) FROM run_owner"), 0);
}
END_TEST

/* --- through the CLI --------------------------------------------------------- */

#define SWEEP_ARGS                                                                                 \
	"--methods flash,window --n 64,128 --d 16 --min-time 0 --min-reps 1 --warmup 0 "           \
	"--roof-budget 0 --counters none --quiet"

/* A shell line, stdout and stderr into `out`; its exit code (128 + signal). */
static int shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int shell(const char *fmt, ...)
{
	char cmd[4096], full[4200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "( %s ) 2>&1", cmd);
	FILE *p = popen(full, "r");
	ck_assert(p != NULL);
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = 0;
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

START_TEST(export_output_safety)
{
	char db[512], other[512], csv[512], sym[512], hard[512];
	path_in(db, sizeof(db), "e.db");
	path_in(other, sizeof(other), "other.db");
	path_in(csv, sizeof(csv), "e.csv");
	path_in(sym, sizeof(sym), "link.db");
	path_in(hard, sizeof(hard), "hard.db");
	ck_assert_int_eq(cli("sweep --db %s " SWEEP_ARGS, db), 0);
	ck_assert_int_eq(cli("sweep --db %s " SWEEP_ARGS, other), 0);
	ck_assert_int_eq(symlink(db, sym), 0);
	ck_assert_int_eq(link(db, hard), 0);
	long l0, l1;
	char *before = slurp(db, &l0);
	/* the database itself, by any name, and its side files: refused, --force or not */
	const char *same[] = {db, sym, hard, "%s-wal", "%s-shm", "%s-journal"};
	for (size_t i = 0; i < sizeof(same) / sizeof(*same); i++) {
		char target[600];
		snprintf(target, sizeof(target), same[i], db);
		for (int force = 0; force < 2; force++) {
			int rc =
			    cli("export --db %s --out %s%s", db, target, force ? " --force" : "");
			ck_assert_msg(rc == 2, "--out %s: exit %d: %s", target, rc, out);
			ck_assert_msg(strstr(out, "of the database") ||
			                  strstr(out, "is the database"),
			              "%s", out);
		}
	}
	char *after = slurp(db, &l1);
	ck_assert(l0 == l1 && memcmp(before, after, l0) == 0);
	free(after);
	/* another SQLite file: only with --force */
	ck_assert_int_eq(cli("export --db %s --out %s", db, other), 2);
	ck_assert_msg(strstr(out, "is a SQLite database") && strstr(out, "--force"), "%s", out);
	ck_assert_int_eq(db_file_int(other, "SELECT count(*) FROM cases"), 4);
	ck_assert_int_eq(cli("export --db %s --out %s --force", db, other), 0);
	ck_assert_int_eq(cli("export --db %s", db), 0);
	char *expect = strdup(out);
	long lo;
	char *got = slurp(other, &lo);
	ck_assert_str_eq(got, expect);
	free(got);
	/* a full disk: exit 3 and why, on stdout or into a file (left as it was) */
	ck_assert_int_eq(shell("%s export --db %s 2>&1 > /dev/full", ATTN_CLI, db), 3);
	ck_assert_msg(strstr(out, "write failed: No space left on device"), "%s", out);
	ck_assert_int_eq(shell("%s export --db %s --format json 2>&1 > /dev/full", ATTN_CLI, db),
	                 3);
	ck_assert_msg(strstr(out, "write failed: No space left on device"), "%s", out);
	ck_assert_int_eq(cli("export --db %s --out /dev/full", db), 3);
	ck_assert_msg(strstr(out, "--out /dev/full: write failed: No space left"), "%s", out);
	FILE *f = fopen(csv, "w");
	fputs("OLD\n", f);
	fclose(f);
	/*
	 * A file size limit makes the write fail part-way (EFBIG): 48 KiB, above
	 * the -shm's 32 KiB, below the export of a copy given 4000 more metrics.
	 */
	char big[512];
	path_in(big, sizeof(big), "big.db");
	db_file_copy(db, big);
	db_file_exec(big,
	             "WITH RECURSIVE k(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM k WHERE "
	             "x < 1000) INSERT INTO metrics SELECT c.id, 'extra_' || k.x, k.x, '1' FROM "
	             "cases c, k");
	int rc = shell("trap '' XFSZ; ulimit -f 48; exec %s export --db %s --format json --out %s",
	               ATTN_CLI, big, csv);
	ck_assert_msg(rc == 3 && strstr(out, "File too large") && strstr(out, "left as it was"),
	              "exit %d: %s", rc, out);
	got = slurp(csv, &lo);
	ck_assert_str_eq(got, "OLD\n");
	free(got);
	ck_assert_int_eq(shell("ls -a %s | grep -c '^\\.e\\.csv\\.'", dir),
	                 1); /* no temporary left */
	ck_assert_str_eq(out, "0\n");
	/* and without the limit, the export replaces it, with the old file's mode */
	chmod(csv, 0640);
	ck_assert_int_eq(cli("export --db %s --out %s", db, csv), 0);
	got = slurp(csv, &lo);
	ck_assert_str_eq(got, expect);
	free(got);
	struct stat sb;
	ck_assert_int_eq(stat(csv, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0640);
	free(expect);
	free(before);
}
END_TEST

/* The number of entries in a folder. */
static int entries(const char *path)
{
	DIR *d = opendir(path);
	ck_assert(d != NULL);
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/*
 * A shell line as a user who cannot write the database's folder: nobody when
 * we are root (root ignores permissions), ourselves otherwise.
 */
static int as_reader(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int as_reader(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[0]);
		close(p[1]);
		if (geteuid() == 0 &&
		    (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0))
			_exit(126);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	size_t n = 0;
	ssize_t k;
	while (n < sizeof(out) - 1 && (k = read(p[0], out + n, sizeof(out) - 1 - n)) > 0)
		n += (size_t)k;
	out[n] = 0;
	close(p[0]);
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* export, compare and plot as a reader of a WAL database in a folder it cannot write. */
static void readers_pass(const char *db, const char *folder, const char *plots, int held)
{
	long l0, l1;
	char *before = slurp(db, &l0);
	int n0 = entries(folder);
	int rc = as_reader("%s export --db %s --format json", ATTN_CLI, db);
	ck_assert_msg(rc == 0, "export: exit %d: %s", rc, out);
	ck_assert_msg(!held || strstr(out, "\"held\": \"in the wal\""),
	              "what the -wal holds is not read: %s", out);
	rc = as_reader("%s compare --baseline %s --current %s", ATTN_CLI, db, db);
	ck_assert_msg(rc == 0, "compare: exit %d: %s", rc, out);
	rc = as_reader("%s plot --db %s --out %s", ATTN_CLI, db, plots);
	ck_assert_msg(rc == 0, "plot: exit %d: %s", rc, out);
	char *after = slurp(db, &l1);
	ck_assert(l0 == l1 && memcmp(before, after, l0) == 0);
	ck_assert_int_eq(entries(folder), n0);
	free(before);
	free(after);
}

START_TEST(readers_read_only)
{
	char folder[512], db[600], plots[512];
	path_in(folder, sizeof(folder), "ro");
	path_in(plots, sizeof(plots), "plots");
	snprintf(db, sizeof(db), "%s/w.db", folder);
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(mkdir(folder, 0755), 0);
	ck_assert_int_eq(mkdir(plots, 0777), 0);
	ck_assert_int_eq(chmod(plots, 0777), 0);
	ck_assert_int_eq(cli("sweep --db %s " SWEEP_ARGS, db), 0);
	ck_assert_int_eq(db_file_int(db, "PRAGMA journal_mode") == -1, 0);
	/* WAL mode, no -wal or -shm: nobody has it open */
	ck_assert(!side_file(db, "-wal") && !side_file(db, "-shm"));
	ck_assert_int_eq(chmod(folder, 0555), 0);
	readers_pass(db, folder, plots, 0);
	/* a writer holds it open, with a commit still in its -wal */
	ck_assert_int_eq(chmod(folder, 0755), 0);
	sqlite3 *h;
	ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
	db_exec(h, "PRAGMA wal_autocheckpoint = 0");
	db_exec(h, "INSERT INTO run_info VALUES (1, 'held', 'in the wal')");
	ck_assert(side_file(db, "-wal") && side_file(db, "-shm"));
	ck_assert_int_eq(chmod(folder, 0555), 0);
	readers_pass(db, folder, plots, 1);
	sqlite3_close(h);
	ck_assert_int_eq(chmod(folder, 0755), 0);
}
END_TEST

/* A query that may fail (the table is not there yet): -1 then. */
static long long try_int(const char *path, const char *sql)
{
	sqlite3 *db;
	long long v = -1;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
		sqlite3_busy_timeout(db, 2000);
		sqlite3_stmt *s;
		if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
		    sqlite3_step(s) == SQLITE_ROW)
			v = sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	return v;
}

/* The CLI in the background, its output into log; its pid. */
static pid_t spawn(const char *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static pid_t spawn(const char *log, const char *fmt, ...)
{
	char args[2048], cmd[2600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "exec %s %s > %s 2>&1", ATTN_CLI, args, log);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Wait (up to 60 s) until sql on path gives at least want. */
static void await(const char *path, const char *sql, long long want)
{
	for (int i = 0; i < 6000; i++) {
		if (try_int(path, sql) >= want)
			return;
		usleep(10000);
	}
	ck_abort_msg("%s: %s never reached %lld", path, sql, want);
}

static int exit_of(pid_t pid)
{
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define SLOW_ARGS                                                                                  \
	"--methods flash,window --n 64,128,256,512 --d 16 --min-time 0.15 --min-reps 1 "           \
	"--warmup 0 --roof-budget 0 --counters none --quiet --no-interleave"

/* Every case once, the run complete, nobody holding it. */
static void run_whole(const char *db, long long cases)
{
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM cases"), cases);
	ck_assert_int_eq(db_file_int(db, "SELECT count(DISTINCT key) FROM cases"), cases);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM runs WHERE status = 'complete'"), 1);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM run_owner"), 0);
}

START_TEST(two_writers_refused)
{
	char db[512], log[512], want[128];
	path_in(db, sizeof(db), "two.db");
	path_in(log, sizeof(log), "two.log");
	ck_assert_int_eq(cli("sweep --db %s " SLOW_ARGS " --dry-run", db), 0);
	/* the dry run ends with "N cases" */
	char *tail = strstr(out, " cases\n");
	ck_assert_ptr_nonnull(tail);
	while (tail > out && tail[-1] >= '0' && tail[-1] <= '9')
		tail--;
	long long cases = atoll(tail);
	ck_assert_int_gt(cases, 4);

	/* a resume while the sweep that began the run still runs */
	pid_t first = spawn(log, "sweep --db %s " SLOW_ARGS, db);
	char sql[128];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM run_owner WHERE pid = %d", (int)first);
	await(db, sql, 1);
	ck_assert_int_eq(cli("sweep --db %s --resume --quiet", db), 3);
	snprintf(want, sizeof(want), "run 1 is being written by pid %d on host ", (int)first);
	ck_assert_msg(strstr(out, want), "%s", out);
	ck_assert_int_eq(exit_of(first), 0);
	run_whole(db, cases);

	/* killed with -9, then two resumes at once: the second is refused */
	path_in(db, sizeof(db), "kill.db");
	pid_t killed = spawn(log, "sweep --db %s " SLOW_ARGS, db);
	await(db, "SELECT count(*) FROM cases", 1);
	kill(killed, SIGKILL);
	ck_assert_int_eq(exit_of(killed), 128 + SIGKILL);
	long long kept = db_file_int(db, "SELECT count(*) FROM cases");
	ck_assert_int_lt(kept, cases);
	const char *before_sql = "SELECT group_concat(id || key || finished_at) FROM cases";
	sqlite3 *h = db_file_open(db);
	sqlite3_stmt *s;
	ck_assert_int_eq(sqlite3_prepare_v2(h, before_sql, -1, &s, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	char *before = strdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(h);
	pid_t one = spawn(log, "sweep --db %s --resume --quiet", db);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM run_owner WHERE pid = %d", (int)one);
	await(db, sql, 1);
	ck_assert_int_eq(cli("sweep --db %s --resume --quiet", db), 3);
	snprintf(want, sizeof(want), "is being written by pid %d on host ", (int)one);
	ck_assert_msg(strstr(out, want), "%s", out);
	ck_assert_int_eq(exit_of(one), 0);
	run_whole(db, cases);
	/* what the killed sweep committed is there as it was */
	h = db_file_open(db);
	char cmp[256];
	snprintf(cmp, sizeof(cmp),
	         "SELECT group_concat(id || key || finished_at) FROM cases WHERE id <= %lld", kept);
	ck_assert_int_eq(sqlite3_prepare_v2(h, cmp, -1, &s, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(s, 0), before);
	sqlite3_finalize(s);
	sqlite3_close(h);
	free(before);
}
END_TEST

/* A run whose writer is on another host: refused on resume unless --take-over. */
START_TEST(take_over_from_another_host)
{
	char db[512];
	path_in(db, sizeof(db), "host.db");
	ck_assert_int_eq(cli("sweep --db %s " SWEEP_ARGS, db), 0);
	db_file_exec(db,
	             "UPDATE runs SET status = 'running';"
	             "INSERT INTO run_owner SELECT id, 'elsewhere-9', 4242, 1, 'b', 't' FROM runs");
	ck_assert_int_eq(cli("sweep --db %s --resume --quiet", db), 3);
	ck_assert_msg(strstr(out, "pid 4242 on host elsewhere-9") && strstr(out, "--take-over"),
	              "%s", out);
	ck_assert_int_eq(cli("sweep --db %s --take-over " SWEEP_ARGS, db), 2);
	ck_assert_msg(strstr(out, "--take-over goes with --resume"), "%s", out);
	ck_assert_msg(cli("sweep --db %s --resume --take-over --quiet", db) == 0, "%s", out);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM run_owner"), 0);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM runs WHERE status = 'complete'"), 1);
	ck_assert_int_eq(db_file_int(db, "SELECT count(*) FROM cases"), 4);
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
	tcase_add_test(tc, refuses_before_writing);
	tcase_add_test(tc, refuses_damaged_index);
	tcase_add_test(tc, read_only_open);
	tcase_add_test(tc, one_writer_per_run);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	TCase *tcli = tcase_create("cli");
	tcase_add_checked_fixture(tcli, setup, teardown);
	tcase_add_test(tcli, export_output_safety);
	tcase_add_test(tcli, readers_read_only);
	tcase_add_test(tcli, two_writers_refused);
	tcase_add_test(tcli, take_over_from_another_host);
	tcase_set_timeout(tcli, 120);
	suite_add_tcase(s, tcli);
	int failed = attn_test_run(s, CK_NORMAL);
	return failed != 0;
}
