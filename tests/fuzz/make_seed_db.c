/*
 * Writes the seed databases of fuzz_db into a directory: real files, made
 * with the store API and SQLite itself, as small as SQLite allows (512-byte
 * pages), so that the fuzzer starts from inside the format:
 *   attnbench.db      the current schema with one run, one case and a roof
 *   attnbench-wal.db  the same in WAL mode (header bytes 18 and 19 = 2)
 *   v1.db             schema version 1, as the first attnbench wrote it
 *   newer.db          the current schema claiming a newer version
 *   foreign.db        another program's SQLite database
 * tests/fuzz/corpus/fuzz_db/ holds what it wrote once; scripts/fuzz.sh runs
 * it again for every fuzzing run, so the seeds follow the schema.
 *
 * Usage: make_seed_db DIR. Exit 0, or 1 with a message.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/status.h"
#include "attnbench/store.h"

static int fail(const char *what, const char *detail)
{
	fprintf(stderr, "make_seed_db: %s: %s\n", what, detail);
	return 1;
}

/* Run sql on the file at path with SQLite alone. */
static int sql_file(const char *path, const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;
	int rc = sqlite3_open(path, &db);

	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		fprintf(stderr, "make_seed_db: %s: %s\n", path, msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : 1;
}

/* Rewrite the file with 512-byte pages and a rollback journal: VACUUM applies the page size. */
#define SHRINK "PRAGMA journal_mode=DELETE; PRAGMA page_size=512; VACUUM;"

static int make_current(const char *path)
{
	static const double ns[3] = {100, 110, 105};
	static const int64_t iters[3] = {1, 1, 1};
	static const struct attn_metric m[2] = {{"median_ns", 105, 1, "ns"},
	                                        {"papi_tot_ins", 0, 0, "1"}};
	static const struct attn_kv info[] = {{"compiler", "gcc"}, {"build_type", "Release"}};
	struct attn_case_record r = {.key = "flash|b1h1k1n64d8|c0|prefill|gaussian|t1|s42",
	                             .method = "flash",
	                             .family = "full",
	                             .params = "bq=64,bk=64",
	                             .batch = 1,
	                             .heads = 1,
	                             .kv_heads = 1,
	                             .n = 64,
	                             .d = 8,
	                             .mode = "prefill",
	                             .dist = "gaussian",
	                             .threads = 1,
	                             .seed = 42,
	                             .status = "ok",
	                             .message = "",
	                             .n_samples = 3,
	                             .sample_ns = ns,
	                             .sample_iters = iters,
	                             .n_metrics = 2,
	                             .metrics = m};
	struct attn_roof roof = {.threads = 1,
	                         .fma_gflops = 100,
	                         .fma_isa = "avx2",
	                         .sgemm_gflops = 80,
	                         .sgemm_n = 512,
	                         .triad_gbps = 10,
	                         .triad_bytes = 1 << 20};
	struct attn_store *st;
	char err[1024];
	int64_t run;

	remove(path);
	if (attn_store_open(path, ATTN_STORE_CREATE, &st, err, sizeof(err)) ||
	    attn_store_run_begin(st, "attnbench sweep", "n = 64\n", info, 2, &run, err,
	                         sizeof(err)) ||
	    attn_store_run_roof(st, run, &roof, err, sizeof(err)) ||
	    attn_store_case_write(st, run, &r, err, sizeof(err)) ||
	    attn_store_run_set_status(st, run, "complete", err, sizeof(err)))
		return fail(path, err);
	attn_store_close(st);
	return sql_file(path, SHRINK);
}

static int copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
	char buf[65536];
	size_t n;
	int rc = 0;

	if (!in || !out)
		rc = 1;
	while (!rc && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		rc = fwrite(buf, 1, n, out) != n;
	if (in)
		fclose(in);
	if (out && fclose(out))
		rc = 1;
	if (rc)
		fprintf(stderr, "make_seed_db: cannot copy %s to %s\n", from, to);
	return rc;
}

static const char v1_schema[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "INSERT INTO meta VALUES ('app','attnbench'),('schema_version','1');"
    "CREATE TABLE runs(id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT,"
    " status TEXT NOT NULL, command TEXT NOT NULL, spec TEXT NOT NULL, git_commit TEXT,"
    " hostname TEXT, cpu_model TEXT);"
    "CREATE TABLE run_info(run_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT,"
    " PRIMARY KEY (run_id, key));"
    "CREATE TABLE cases(id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, key TEXT NOT NULL,"
    " method TEXT NOT NULL, family TEXT NOT NULL, form TEXT, params TEXT NOT NULL,"
    " batch INTEGER NOT NULL, heads INTEGER NOT NULL, kv_heads INTEGER NOT NULL,"
    " n INTEGER NOT NULL, d INTEGER NOT NULL, causal INTEGER NOT NULL, mode TEXT NOT NULL,"
    " dist TEXT NOT NULL, threads INTEGER NOT NULL, seed INTEGER NOT NULL,"
    " status TEXT NOT NULL, message TEXT, finished_at TEXT NOT NULL, UNIQUE (run_id, key));"
    "CREATE TABLE samples(case_id INTEGER NOT NULL, rep INTEGER NOT NULL, ns REAL NOT NULL,"
    " iters INTEGER NOT NULL, PRIMARY KEY (case_id, rep));"
    "CREATE TABLE metrics(case_id INTEGER NOT NULL, name TEXT NOT NULL, value REAL,"
    " unit TEXT NOT NULL, PRIMARY KEY (case_id, name));"
    "CREATE VIEW results AS SELECT * FROM cases;"
    "INSERT INTO runs VALUES (1,'t',NULL,'running','c','n = 64',NULL,NULL,NULL);"
    "INSERT INTO cases VALUES (1,1,'k','flash','full',NULL,'',1,1,1,64,8,0,'prefill',"
    " 'gaussian',1,42,'ok',NULL,'t');"
    "INSERT INTO samples VALUES (1,0,123.0,1);"
    "INSERT INTO metrics VALUES (1,'median_ns',123.0,'ns');" SHRINK;

int main(int argc, char **argv)
{
	char p[4][1024];
	static const char *const names[4] = {"attnbench.db", "attnbench-wal.db", "newer.db",
	                                     "v1.db"};

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	for (int i = 0; i < 4; i++) {
		snprintf(p[i], sizeof(p[i]), "%s/%s", argv[1], names[i]);
		remove(p[i]);
	}
	char foreign[1024];
	snprintf(foreign, sizeof(foreign), "%s/foreign.db", argv[1]);
	remove(foreign);
	if (make_current(p[0]) || copy_file(p[0], p[1]) ||
	    sql_file(p[1], "PRAGMA journal_mode=WAL;") || copy_file(p[0], p[2]) ||
	    sql_file(p[2], "UPDATE meta SET value='99' WHERE key='schema_version';") ||
	    sql_file(p[3], v1_schema) ||
	    sql_file(foreign, "CREATE TABLE notes(id INTEGER PRIMARY KEY, text TEXT);"
	                      "INSERT INTO notes VALUES (1,'not attnbench');" SHRINK))
		return 1;
	return 0;
}
