/*
 * The SQLite results store (see store.h for the tables).
 *
 * Durability rules: WAL journal, synchronous=NORMAL (a committed case
 * survives a killed process; only a power cut may lose the last few), one
 * transaction per case, prepared statements only, and a busy timeout so a
 * second writer waits for the first instead of failing. A database we did
 * not create is never modified: opening checks the file is SQLite, passes
 * quick_check, and carries our `meta` table before anything is written.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attnbench/fit.h"
#include "attnbench/status.h"
#include "attnbench/store.h"
#include "internal.h"

#define BUSY_TIMEOUT_MS 60000

struct attn_store {
	sqlite3 *db;
	char path[1024];
};

static const char *schema_v1 =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE runs("
	" id INTEGER PRIMARY KEY,"
	" started_at TEXT NOT NULL,"
	" finished_at TEXT,"
	" status TEXT NOT NULL CHECK (status IN ('running','complete','interrupted','failed')),"
	" command TEXT NOT NULL,"
	" spec TEXT NOT NULL,"
	" git_commit TEXT,"
	" hostname TEXT,"
	" cpu_model TEXT);"
	"CREATE TABLE run_info("
	" run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
	" key TEXT NOT NULL,"
	" value TEXT,"
	" PRIMARY KEY (run_id, key));"
	"CREATE TABLE cases("
	" id INTEGER PRIMARY KEY,"
	" run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
	" key TEXT NOT NULL,"
	" method TEXT NOT NULL,"
	" family TEXT NOT NULL,"
	" form TEXT,"
	" params TEXT NOT NULL,"
	" batch INTEGER NOT NULL, heads INTEGER NOT NULL, kv_heads INTEGER NOT NULL,"
	" n INTEGER NOT NULL, d INTEGER NOT NULL, causal INTEGER NOT NULL,"
	" mode TEXT NOT NULL, dist TEXT NOT NULL, threads INTEGER NOT NULL,"
	" seed INTEGER NOT NULL,"
	" status TEXT NOT NULL CHECK (status IN ('ok','unsupported','skipped_memory',"
	"  'timeout','crashed','failed','failed_check')),"
	" message TEXT,"
	" finished_at TEXT NOT NULL,"
	" UNIQUE (run_id, key));"
	"CREATE TABLE samples("
	" case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,"
	" rep INTEGER NOT NULL,"
	" ns REAL NOT NULL,"
	" iters INTEGER NOT NULL,"
	" PRIMARY KEY (case_id, rep));"
	"CREATE TABLE metrics("
	" case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,"
	" name TEXT NOT NULL,"
	" value REAL,"
	" unit TEXT NOT NULL,"
	" PRIMARY KEY (case_id, name));"
	"CREATE INDEX cases_method ON cases(method, n);"
	"CREATE VIEW results AS SELECT * FROM cases;";

/*
 * Version 2: what the measurement layer records. The CPUs a case ran on;
 * which counters a run could count (and why not); the roofs the run measured
 * for each thread count; every sample's counter readings, NULL when
 * unavailable or unreliable (multiplexed), with the state saying which.
 */
static const char migrate_v2[] =
	"ALTER TABLE cases ADD COLUMN cpus TEXT;"
	"CREATE TABLE run_counters("
	" run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
	" event TEXT NOT NULL,"
	" available INTEGER NOT NULL,"
	" source TEXT,"
	" reason TEXT,"
	" PRIMARY KEY (run_id, event));"
	"CREATE TABLE run_roofs("
	" run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
	" threads INTEGER NOT NULL,"
	" fma_gflops REAL, fma_isa TEXT,"
	" sgemm_gflops REAL, sgemm_n INTEGER,"
	" triad_gbps REAL, triad_bytes INTEGER,"
	" PRIMARY KEY (run_id, threads));"
	"CREATE TABLE sample_counters("
	" case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,"
	" rep INTEGER NOT NULL,"
	" event TEXT NOT NULL,"
	" value REAL,"
	" state TEXT NOT NULL CHECK (state IN ('ok','unavailable','unreliable')),"
	" PRIMARY KEY (case_id, rep, event));"
	"DROP VIEW results;"
	"CREATE VIEW results AS SELECT c.id AS case_id, c.run_id, c.method, c.family, c.form,"
	" c.params, c.batch, c.heads, c.kv_heads, c.n, c.d, c.causal, c.mode, c.dist, c.threads,"
	" c.cpus, c.status, c.message,"
	" (SELECT value FROM metrics m WHERE m.case_id = c.id AND m.name = 'median_ns')"
	"  AS median_ns,"
	" (SELECT value FROM metrics m WHERE m.case_id = c.id AND m.name = 'gflops') AS gflops,"
	" (SELECT value FROM metrics m WHERE m.case_id = c.id AND m.name = 'frac_sgemm')"
	"  AS frac_sgemm,"
	" (SELECT value FROM metrics m WHERE m.case_id = c.id AND m.name = 'frac_fma')"
	"  AS frac_fma,"
	" (SELECT value FROM metrics m WHERE m.case_id = c.id AND m.name = 'rel_err') AS rel_err,"
	" (SELECT value FROM metrics m WHERE m.case_id = c.id AND m.name = 'workspace_bytes')"
	"  AS workspace_bytes,"
	" (SELECT value FROM metrics m WHERE m.case_id = c.id AND m.name = 'tracked_peak_bytes')"
	"  AS tracked_peak_bytes,"
	" (SELECT value FROM metrics m WHERE m.case_id = c.id AND m.name = 'peak_rss_delta_bytes')"
	"  AS peak_rss_delta_bytes,"
	" (SELECT value FROM metrics m WHERE m.case_id = c.id AND m.name = 'cache_level')"
	"  AS cache_level"
	" FROM cases c;";

/*
 * Version 3: the status `skipped_time` (a case whose calls could not finish
 * within the per-call budget even at the machine's FMA roof), and the
 * results view gains the error against exact softmax. A CHECK constraint
 * cannot be altered, so `cases` is rebuilt: copied into a new table, the old
 * one dropped, the new one renamed. migrate() runs with foreign keys off, so
 * the drop does not cascade into samples and metrics, whose REFERENCES
 * cases(id) then name the new table.
 */
static const char migrate_v3[] =
	"CREATE TABLE cases_v3("
	" id INTEGER PRIMARY KEY,"
	" run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
	" key TEXT NOT NULL,"
	" method TEXT NOT NULL,"
	" family TEXT NOT NULL,"
	" form TEXT,"
	" params TEXT NOT NULL,"
	" batch INTEGER NOT NULL, heads INTEGER NOT NULL, kv_heads INTEGER NOT NULL,"
	" n INTEGER NOT NULL, d INTEGER NOT NULL, causal INTEGER NOT NULL,"
	" mode TEXT NOT NULL, dist TEXT NOT NULL, threads INTEGER NOT NULL,"
	" seed INTEGER NOT NULL,"
	" status TEXT NOT NULL CHECK (status IN ('ok','unsupported','skipped_memory',"
	"  'skipped_time','timeout','crashed','failed','failed_check')),"
	" message TEXT,"
	" finished_at TEXT NOT NULL,"
	" cpus TEXT,"
	" UNIQUE (run_id, key));"
	"INSERT INTO cases_v3(id, run_id, key, method, family, form, params, batch, heads,"
	" kv_heads, n, d, causal, mode, dist, threads, seed, status, message, finished_at, cpus)"
	" SELECT id, run_id, key, method, family, form, params, batch, heads, kv_heads, n, d,"
	" causal, mode, dist, threads, seed, status, message, finished_at, cpus FROM cases;"
	"DROP VIEW results;"
	"DROP TABLE cases;"
	"ALTER TABLE cases_v3 RENAME TO cases;"
	"CREATE INDEX cases_method ON cases(method, n);"
	"CREATE VIEW results AS SELECT c.id AS case_id, c.run_id, c.method, c.family, c.form,"
	" c.params, c.batch, c.heads, c.kv_heads, c.n, c.d, c.causal, c.mode, c.dist, c.threads,"
	" c.cpus, c.status, c.message,"
	" (SELECT value FROM metrics m WHERE m.case_id = c.id AND m.name = 'median_ns')"
	"  AS median_ns,"
	" (SELECT value FROM metrics m WHERE m.case_id = c.id AND m.name = 'gflops') AS gflops,"
	" (SELECT value FROM metrics m WHERE m.case_id = c.id AND m.name = 'frac_sgemm')"
	"  AS frac_sgemm,"
	" (SELECT value FROM metrics m WHERE m.case_id = c.id AND m.name = 'frac_fma')"
	"  AS frac_fma,"
	" (SELECT value FROM metrics m WHERE m.case_id = c.id AND m.name = 'rel_err') AS rel_err,"
	" (SELECT value FROM metrics m WHERE m.case_id = c.id AND m.name = 'rel_err_softmax')"
	"  AS rel_err_softmax,"
	" (SELECT value FROM metrics m WHERE m.case_id = c.id AND m.name = 'workspace_bytes')"
	"  AS workspace_bytes,"
	" (SELECT value FROM metrics m WHERE m.case_id = c.id AND m.name = 'tracked_peak_bytes')"
	"  AS tracked_peak_bytes,"
	" (SELECT value FROM metrics m WHERE m.case_id = c.id AND m.name = 'peak_rss_delta_bytes')"
	"  AS peak_rss_delta_bytes,"
	" (SELECT value FROM metrics m WHERE m.case_id = c.id AND m.name = 'cache_level')"
	"  AS cache_level"
	" FROM cases c;";

/*
 * Version 4: the kept-block masks sparse methods hand the harness on a
 * --dump-mask sweep, one per case: head `head`'s (nqb, nkb) bytes, row-major,
 * 1 = the (query block, key block) pair was computed.
 */
static const char migrate_v4[] =
	"CREATE TABLE masks("
	" case_id INTEGER PRIMARY KEY REFERENCES cases(id) ON DELETE CASCADE,"
	" head INTEGER NOT NULL,"
	" nqb INTEGER NOT NULL,"
	" nkb INTEGER NOT NULL,"
	" mask BLOB NOT NULL);";

/*
 * Version 5: what `attnbench fit` concluded from a run (see fit.h): per
 * method, parameters and shape family, the time exponent and its bootstrap
 * CI, the non-negative model a·N² + b·N·ln N + c·N + d, and the crossover
 * N* against flash with its CI; NULL where a figure could not be computed,
 * and the note saying why.
 */
static const char migrate_v5[] =
	"CREATE TABLE fits("
	" run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
	" method TEXT NOT NULL,"
	" params TEXT NOT NULL,"
	" family TEXT NOT NULL,"
	" exponent REAL, ci_lo REAL, ci_hi REAL,"
	" a REAL, b REAL, c REAL, d REAL,"
	" crossover REAL, cx_lo REAL, cx_hi REAL,"
	" note TEXT,"
	" PRIMARY KEY (run_id, method, params, family));";

/*
 * Version 6: the survey's Table 1 verified (see forms.h): per method and
 * shape of a run, the forms that ran on the same inputs, the pair that
 * differed most and by how much; max_rel NULL, and the note saying why,
 * when fewer than two forms could run.
 */
static const char migrate_v6[] =
	"CREATE TABLE form_diffs("
	" run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
	" method TEXT NOT NULL,"
	" n INTEGER NOT NULL,"
	" d INTEGER NOT NULL,"
	" causal INTEGER NOT NULL,"
	" forms TEXT NOT NULL,"
	" worst TEXT,"
	" max_rel REAL,"
	" note TEXT,"
	" PRIMARY KEY (run_id, method, n, d, causal));";

/*
 * Version 7: a clock beside every sample for the regression gate. With
 * `sweep --roof-probe` each timed repetition is followed by a fixed OpenBLAS
 * sgemm in the same process, and its time is the sample's roof_ns: the
 * machine's speed at that moment, so `compare` can divide slow phases out.
 * NULL when not probed.
 */
static const char migrate_v7[] = "ALTER TABLE samples ADD COLUMN roof_ns REAL;";

/* The steps from version i to i + 1, at index i - 1. */
static const char *const migrations[] = {migrate_v2, migrate_v3, migrate_v4, migrate_v5,
					 migrate_v6, migrate_v7};
_Static_assert(sizeof(migrations) / sizeof(*migrations) == ATTN_SCHEMA_VERSION - 1,
	       "one migration step per schema version after the first");

static int db_err(struct attn_store *st, char *err, size_t errlen, const char *what)
{
	int code = sqlite3_extended_errcode(st->db);
	const char *hint = "";
	if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED)
		hint = " (another process holds the database and did not let go in time)";
	else if ((code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB)
		hint = " (the file is corrupt or not a database; it was left as it is)";
	else if ((code & 0xff) == SQLITE_FULL)
		hint = " (the disk is full)";
	else if ((code & 0xff) == SQLITE_READONLY)
		hint = " (the file or its folder is read-only)";
	return attn_errf(err, errlen, ATTN_ERR_DB, "%s: %s: %s%s", st->path, what,
			 sqlite3_errmsg(st->db), hint);
}

static int exec(struct attn_store *st, const char *sql, char *err, size_t errlen)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_err(st, err, errlen, sql);
	return ATTN_OK;
}

/* Give up a write transaction: finalize, roll back, report. */
static int abort_tx(struct attn_store *st, sqlite3_stmt *s, char *err, size_t errlen,
		    const char *what)
{
	int rc = db_err(st, err, errlen, what);
	sqlite3_finalize(s);
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static int put_info(struct attn_store *st, int64_t run_id, const struct attn_kv *info, int n);

static void now_iso(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Is there a table of this name? 1 yes, 0 no, < 0 error. */
static int has_table(struct attn_store *st, const char *name)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
			       -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : -1;
}

static int count_tables(struct attn_store *st)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM sqlite_master", -1, &s, NULL) !=
	    SQLITE_OK)
		return -1;
	int n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
	sqlite3_finalize(s);
	return n;
}

static int read_version(struct attn_store *st, int *version, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	*version = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key='schema_version'", -1,
			       &s, NULL) != SQLITE_OK)
		return db_err(st, err, errlen, "reading the schema version");
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*version = atoi((const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW)
		return attn_errf(err, errlen, ATTN_ERR_FORMAT,
				 "%s: not an attnbench database (no schema version)", st->path);
	return ATTN_OK;
}

static int create_schema(struct attn_store *st, char *err, size_t errlen)
{
	int rc = exec(st, "BEGIN IMMEDIATE", err, errlen);
	if (rc)
		return rc;
	/* Another process may have created it while we waited for the lock. */
	int have = has_table(st, "meta");
	if (have == 0) {
		char sql[128];
		snprintf(sql, sizeof(sql),
			 "INSERT INTO meta VALUES ('app','attnbench'),('schema_version','1');");
		if ((rc = exec(st, schema_v1, err, errlen)) || (rc = exec(st, sql, err, errlen))) {
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
			return rc;
		}
	}
	return exec(st, "COMMIT", err, errlen);
}

/*
 * Bring an older schema forward, one version at a time, each step in its own
 * transaction with the version bump, so a failed step leaves the database at
 * the version before it. New databases are created at version 1 and take the
 * same steps, so there is one schema however a database came to be.
 */
static int migrate(struct attn_store *st, int from, char *err, size_t errlen)
{
	if (from < 1)
		return attn_errf(err, errlen, ATTN_ERR_FORMAT, "%s: unknown schema version %d",
				 st->path, from);
	for (int v = from; v < ATTN_SCHEMA_VERSION; v++) {
		char bump[96];
		snprintf(bump, sizeof(bump),
			 "UPDATE meta SET value='%d' WHERE key='schema_version'", v + 1);
		int rc = exec(st, "BEGIN IMMEDIATE", err, errlen);
		if (rc)
			return rc;
		/* Another process may have migrated while we waited for the lock. */
		int now;
		if ((rc = read_version(st, &now, err, errlen))) {
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
			return rc;
		}
		if (now == v && ((rc = exec(st, migrations[v - 1], err, errlen)) ||
				 (rc = exec(st, bump, err, errlen)))) {
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
			return rc;
		}
		if ((rc = exec(st, "COMMIT", err, errlen)))
			return rc;
	}
	return ATTN_OK;
}

int attn_store_open(const char *path, int create, struct attn_store **out, char *err,
		    size_t errlen)
{
	*out = NULL;
	struct attn_store *st = calloc(1, sizeof(*st));
	if (!st)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	snprintf(st->path, sizeof(st->path), "%s", path);
	int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
	int rc = ATTN_OK;
	if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
		rc = st->db ? db_err(st, err, errlen, "cannot open")
			    : attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
		goto fail;
	}
	/* ATTNBENCH_BUSY_TIMEOUT_MS shortens the wait, for tests and impatient users. */
	const char *bt = getenv("ATTNBENCH_BUSY_TIMEOUT_MS");
	sqlite3_busy_timeout(st->db, bt && atoi(bt) > 0 ? atoi(bt) : BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(st->db, 1);

	/* Reading the schema is the first touch: a non-database fails here. */
	int ntab = count_tables(st);
	if (ntab < 0) {
		rc = db_err(st, err, errlen, "cannot read");
		goto fail;
	}
	int have_meta = has_table(st, "meta");
	if (ntab > 0 && have_meta != 1) {
		rc = attn_errf(err, errlen, ATTN_ERR_FORMAT,
			       "%s: a SQLite database of another program (no attnbench meta "
			       "table); refusing to touch it",
			       path);
		goto fail;
	}
	if (ntab > 0) {
		sqlite3_stmt *s;
		int ok = 0;
		if (sqlite3_prepare_v2(st->db, "PRAGMA quick_check", -1, &s, NULL) == SQLITE_OK) {
			if (sqlite3_step(s) == SQLITE_ROW)
				ok = strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0;
			sqlite3_finalize(s);
		}
		if (!ok) {
			rc = attn_errf(err, errlen, ATTN_ERR_DB,
				       "%s: the database is corrupt (PRAGMA quick_check failed); "
				       "it was left as it is",
				       path);
			goto fail;
		}
	}
	if (create) {
		if ((rc = exec(st, "PRAGMA journal_mode=WAL", err, errlen)) ||
		    (rc = exec(st, "PRAGMA synchronous=NORMAL", err, errlen)))
			goto fail;
		if (ntab == 0 && (rc = create_schema(st, err, errlen)))
			goto fail;
	} else if (ntab == 0) {
		rc = attn_errf(err, errlen, ATTN_ERR_FORMAT, "%s: an empty database, not attnbench's",
			       path);
		goto fail;
	}
	int version;
	if ((rc = read_version(st, &version, err, errlen)))
		goto fail;
	if (version > ATTN_SCHEMA_VERSION) {
		rc = attn_errf(err, errlen, ATTN_ERR_FORMAT,
			       "%s: schema version %d is newer than this attnbench's (%d); "
			       "use a newer attnbench",
			       path, version, ATTN_SCHEMA_VERSION);
		goto fail;
	}
	/* Foreign keys stay off until the schema is current: see migrate_v3. */
	if (version < ATTN_SCHEMA_VERSION && (rc = migrate(st, version, err, errlen)))
		goto fail;
	if ((rc = exec(st, "PRAGMA foreign_keys=ON", err, errlen)))
		goto fail;
	*out = st;
	return ATTN_OK;
fail:
	attn_store_close(st);
	return rc;
}

void attn_store_close(struct attn_store *st)
{
	if (!st)
		return;
	sqlite3_close(st->db);
	free(st);
}

struct sqlite3 *attn_store_db(struct attn_store *st)
{
	return st->db;
}

static const char *kv_find(const struct attn_kv *info, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (strcmp(info[i].key, key) == 0)
			return info[i].value;
	return NULL;
}

int attn_store_run_begin(struct attn_store *st, const char *command, const char *spec,
			 const struct attn_kv *info, int n_info, int64_t *run_id, char *err,
			 size_t errlen)
{
	char now[32];
	now_iso(now, sizeof(now));
	int rc = exec(st, "BEGIN IMMEDIATE", err, errlen);
	if (rc)
		return rc;
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO runs(started_at,status,command,spec,git_commit,hostname,"
			       "cpu_model) VALUES (?,'running',?,?,?,?,?)",
			       -1, &s, NULL) != SQLITE_OK)
		goto dberr;
	sqlite3_bind_text(s, 1, now, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, command, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 3, spec, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 4, kv_find(info, n_info, "git_commit"), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 5, kv_find(info, n_info, "hostname"), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 6, kv_find(info, n_info, "cpu_model"), -1, SQLITE_TRANSIENT);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto dberr;
	sqlite3_finalize(s);
	*run_id = sqlite3_last_insert_rowid(st->db);
	s = NULL;
	if (put_info(st, *run_id, info, n_info))
		goto dberr;
	return exec(st, "COMMIT", err, errlen);
dberr:
	return abort_tx(st, s, err, errlen, "recording the run");
}

int attn_store_run_set_status(struct attn_store *st, int64_t run_id, const char *status,
			      char *err, size_t errlen)
{
	char now[32];
	now_iso(now, sizeof(now));
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(st->db, "UPDATE runs SET status=?, finished_at=? WHERE id=?", -1,
			       &s, NULL) != SQLITE_OK)
		return db_err(st, err, errlen, "updating the run");
	sqlite3_bind_text(s, 1, status, -1, SQLITE_STATIC);
	if (strcmp(status, "running") == 0)
		sqlite3_bind_null(s, 2);
	else
		sqlite3_bind_text(s, 2, now, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 3, run_id);
	int rc = sqlite3_step(s) == SQLITE_DONE ? ATTN_OK : db_err(st, err, errlen, "updating the run");
	sqlite3_finalize(s);
	return rc;
}

int attn_store_run_find_unfinished(struct attn_store *st, int64_t *run_id, char **spec, char *err,
				   size_t errlen)
{
	sqlite3_stmt *s;
	*spec = NULL;
	if (sqlite3_prepare_v2(st->db,
			       "SELECT id, spec FROM runs WHERE status <> 'complete' "
			       "ORDER BY id DESC LIMIT 1",
			       -1, &s, NULL) != SQLITE_OK)
		return db_err(st, err, errlen, "looking for an unfinished run");
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*run_id = sqlite3_column_int64(s, 0);
		*spec = attn__strdup((const char *)sqlite3_column_text(s, 1));
		rc = *spec ? ATTN_OK : attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	} else if (rc == SQLITE_DONE) {
		rc = attn_errf(err, errlen, ATTN_ERR_NOTFOUND,
			       "%s: no unfinished run to resume (every run completed)", st->path);
	} else {
		rc = db_err(st, err, errlen, "looking for an unfinished run");
	}
	sqlite3_finalize(s);
	return rc;
}

int attn_store_case_done(struct attn_store *st, int64_t run_id, const char *key)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM cases WHERE run_id=? AND key=?", -1, &s,
			       NULL) != SQLITE_OK)
		return ATTN_ERR_DB;
	sqlite3_bind_int64(s, 1, run_id);
	sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : ATTN_ERR_DB;
}

int attn_store_case_write(struct attn_store *st, int64_t run_id,
			  const struct attn_case_record *r, char *err, size_t errlen)
{
	char now[32];
	now_iso(now, sizeof(now));
	int rc = exec(st, "BEGIN IMMEDIATE", err, errlen);
	if (rc)
		return rc;
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO cases(run_id,key,method,family,form,params,batch,heads,"
			       "kv_heads,n,d,causal,mode,dist,threads,seed,status,message,"
			       "finished_at,cpus) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
			       -1, &s, NULL) != SQLITE_OK)
		goto dberr;
	int i = 1;
	sqlite3_bind_int64(s, i++, run_id);
	sqlite3_bind_text(s, i++, r->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, i++, r->method, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, i++, r->family, -1, SQLITE_STATIC);
	if (r->form)
		sqlite3_bind_text(s, i++, r->form, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i++);
	sqlite3_bind_text(s, i++, r->params, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, i++, r->batch);
	sqlite3_bind_int64(s, i++, r->heads);
	sqlite3_bind_int64(s, i++, r->kv_heads);
	sqlite3_bind_int64(s, i++, r->n);
	sqlite3_bind_int64(s, i++, r->d);
	sqlite3_bind_int(s, i++, r->causal);
	sqlite3_bind_text(s, i++, r->mode, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, i++, r->dist, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, i++, r->threads);
	sqlite3_bind_int64(s, i++, (int64_t)r->seed);
	sqlite3_bind_text(s, i++, r->status, -1, SQLITE_STATIC);
	if (r->message && *r->message)
		sqlite3_bind_text(s, i++, r->message, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i++);
	sqlite3_bind_text(s, i++, now, -1, SQLITE_TRANSIENT);
	if (r->cpus && *r->cpus)
		sqlite3_bind_text(s, i++, r->cpus, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i++);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto dberr;
	sqlite3_finalize(s);
	s = NULL;
	int64_t case_id = sqlite3_last_insert_rowid(st->db);

	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO samples(case_id, rep, ns, iters, roof_ns) VALUES "
			       "(?,?,?,?,?)",
			       -1, &s, NULL) != SQLITE_OK)
		goto dberr;
	for (int k = 0; k < r->n_samples; k++) {
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, case_id);
		sqlite3_bind_int(s, 2, k);
		sqlite3_bind_double(s, 3, r->sample_ns[k]);
		sqlite3_bind_int64(s, 4, r->sample_iters ? r->sample_iters[k] : 1);
		if (r->sample_roof_ns && r->sample_roof_ns[k] > 0)
			sqlite3_bind_double(s, 5, r->sample_roof_ns[k]);
		else
			sqlite3_bind_null(s, 5);
		if (sqlite3_step(s) != SQLITE_DONE)
			goto dberr;
	}
	sqlite3_finalize(s);
	s = NULL;

	if (r->mask && r->mask_nqb > 0 && r->mask_nkb > 0) {
		if (sqlite3_prepare_v2(st->db, "INSERT INTO masks VALUES (?,0,?,?,?)", -1, &s,
				       NULL) != SQLITE_OK)
			goto dberr;
		sqlite3_bind_int64(s, 1, case_id);
		sqlite3_bind_int64(s, 2, r->mask_nqb);
		sqlite3_bind_int64(s, 3, r->mask_nkb);
		sqlite3_bind_blob64(s, 4, r->mask, (sqlite3_uint64)(r->mask_nqb * r->mask_nkb),
				    SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			goto dberr;
		sqlite3_finalize(s);
		s = NULL;
	}

	if (r->n_counters > 0) {
		static const char *states[] = {"ok", "unavailable", "unreliable"};
		if (sqlite3_prepare_v2(st->db, "INSERT INTO sample_counters VALUES (?,?,?,?,?)", -1,
				       &s, NULL) != SQLITE_OK)
			goto dberr;
		for (int k = 0; k < r->n_samples; k++)
			for (int e = 0; e < r->n_counters; e++) {
				const struct attn_counter_reading *cr =
					&r->sample_counters[(size_t)k * r->n_counters + e];
				int state = (unsigned)cr->state < 3 ? (int)cr->state : 1;
				sqlite3_reset(s);
				sqlite3_bind_int64(s, 1, case_id);
				sqlite3_bind_int(s, 2, k);
				sqlite3_bind_text(s, 3, r->counter_names[e], -1, SQLITE_STATIC);
				if (state == ATTN_COUNTER_OK)
					sqlite3_bind_double(s, 4, cr->value);
				else
					sqlite3_bind_null(s, 4);
				sqlite3_bind_text(s, 5, states[state], -1, SQLITE_STATIC);
				if (sqlite3_step(s) != SQLITE_DONE)
					goto dberr;
			}
		sqlite3_finalize(s);
		s = NULL;
	}

	if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO metrics VALUES (?,?,?,?)", -1, &s,
			       NULL) != SQLITE_OK)
		goto dberr;
	for (int k = 0; k < r->n_metrics; k++) {
		const struct attn_metric *m = &r->metrics[k];
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, case_id);
		sqlite3_bind_text(s, 2, m->name, -1, SQLITE_STATIC);
		if (m->has_value)
			sqlite3_bind_double(s, 3, m->value);
		else
			sqlite3_bind_null(s, 3);
		sqlite3_bind_text(s, 4, m->unit, -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			goto dberr;
	}
	sqlite3_finalize(s);
	return exec(st, "COMMIT", err, errlen);
dberr:
	return abort_tx(st, s, err, errlen, "recording a case");
}

int attn_store_run_counters(struct attn_store *st, int64_t run_id,
			    const struct attn_counter_info *info, int n, char *err, size_t errlen)
{
	int rc = exec(st, "BEGIN IMMEDIATE", err, errlen);
	if (rc)
		return rc;
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO run_counters VALUES (?,?,?,?,?)",
			       -1, &s, NULL) != SQLITE_OK)
		goto dberr;
	for (int i = 0; i < n; i++) {
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, run_id);
		sqlite3_bind_text(s, 2, info[i].event, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(s, 3, info[i].available);
		sqlite3_bind_text(s, 4, info[i].source, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 5, info[i].reason, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(s) != SQLITE_DONE)
			goto dberr;
	}
	sqlite3_finalize(s);
	return exec(st, "COMMIT", err, errlen);
dberr:
	return abort_tx(st, s, err, errlen, "recording the counters");
}

int attn_store_run_roof(struct attn_store *st, int64_t run_id, const struct attn_roof *roof,
			char *err, size_t errlen)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(st->db,
			       "INSERT OR REPLACE INTO run_roofs VALUES (?,?,?,?,?,?,?,?)", -1, &s,
			       NULL) != SQLITE_OK)
		return db_err(st, err, errlen, "recording a roof");
	sqlite3_bind_int64(s, 1, run_id);
	sqlite3_bind_int(s, 2, roof->threads);
	sqlite3_bind_double(s, 3, roof->fma_gflops);
	sqlite3_bind_text(s, 4, roof->fma_isa, -1, SQLITE_TRANSIENT);
	sqlite3_bind_double(s, 5, roof->sgemm_gflops);
	sqlite3_bind_int64(s, 6, roof->sgemm_n);
	sqlite3_bind_double(s, 7, roof->triad_gbps);
	sqlite3_bind_int64(s, 8, (int64_t)roof->triad_bytes);
	int rc = sqlite3_step(s) == SQLITE_DONE ? ATTN_OK : db_err(st, err, errlen, "recording a roof");
	sqlite3_finalize(s);
	return rc;
}

int attn_store_run_roofs_load(struct attn_store *st, int64_t run_id, struct attn_roof *roofs,
			      int max, int *n, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	*n = 0;
	if (sqlite3_prepare_v2(st->db,
			       "SELECT threads, fma_gflops, fma_isa, sgemm_gflops, sgemm_n, "
			       "triad_gbps, triad_bytes FROM run_roofs WHERE run_id = ? "
			       "ORDER BY threads",
			       -1, &s, NULL) != SQLITE_OK)
		return db_err(st, err, errlen, "reading the roofs");
	sqlite3_bind_int64(s, 1, run_id);
	while (*n < max && sqlite3_step(s) == SQLITE_ROW) {
		struct attn_roof *r = &roofs[(*n)++];
		memset(r, 0, sizeof(*r));
		r->threads = sqlite3_column_int(s, 0);
		r->fma_gflops = sqlite3_column_double(s, 1);
		snprintf(r->fma_isa, sizeof(r->fma_isa), "%s",
			 sqlite3_column_text(s, 2) ? (const char *)sqlite3_column_text(s, 2) : "");
		r->sgemm_gflops = sqlite3_column_double(s, 3);
		r->sgemm_n = sqlite3_column_int64(s, 4);
		r->triad_gbps = sqlite3_column_double(s, 5);
		r->triad_bytes = (size_t)sqlite3_column_int64(s, 6);
	}
	sqlite3_finalize(s);
	return ATTN_OK;
}

/* Insert the key/values inside the caller's transaction. */
static int put_info(struct attn_store *st, int64_t run_id, const struct attn_kv *info, int n)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO run_info VALUES (?,?,?)", -1, &s,
			       NULL) != SQLITE_OK)
		return ATTN_ERR_DB;
	int rc = ATTN_OK;
	for (int i = 0; i < n && rc == ATTN_OK; i++) {
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, run_id);
		sqlite3_bind_text(s, 2, info[i].key, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 3, info[i].value, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = ATTN_ERR_DB;
	}
	sqlite3_finalize(s);
	return rc;
}

int attn_store_run_info(struct attn_store *st, int64_t run_id, const struct attn_kv *info, int n,
			char *err, size_t errlen)
{
	int rc = exec(st, "BEGIN IMMEDIATE", err, errlen);
	if (rc)
		return rc;
	if (put_info(st, run_id, info, n))
		return abort_tx(st, NULL, err, errlen, "recording run provenance");
	return exec(st, "COMMIT", err, errlen);
}

int attn_store_form_diff(struct attn_store *st, int64_t run_id, const char *method,
			 const struct attn_shape *s, const struct attn_forms_diff *fd,
			 const char *note, char *err, size_t errlen)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(st->db,
			       "INSERT OR REPLACE INTO form_diffs VALUES (?,?,?,?,?,?,?,?,?)", -1,
			       &q, NULL) != SQLITE_OK)
		return db_err(st, err, errlen, "recording a form comparison");
	sqlite3_bind_int64(q, 1, run_id);
	sqlite3_bind_text(q, 2, method, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 3, s->n);
	sqlite3_bind_int64(q, 4, s->d);
	sqlite3_bind_int(q, 5, s->causal);
	sqlite3_bind_text(q, 6, fd->forms, -1, SQLITE_TRANSIENT);
	/* A comparison that could not run has no worst pair and no figure. */
	if (note) {
		sqlite3_bind_null(q, 7);
		sqlite3_bind_null(q, 8);
		sqlite3_bind_text(q, 9, note, -1, SQLITE_TRANSIENT);
	} else {
		sqlite3_bind_text(q, 7, fd->worst, -1, SQLITE_TRANSIENT);
		sqlite3_bind_double(q, 8, fd->max_rel);
		sqlite3_bind_null(q, 9);
	}
	int rc = sqlite3_step(q) == SQLITE_DONE
			 ? ATTN_OK
			 : db_err(st, err, errlen, "recording a form comparison");
	sqlite3_finalize(q);
	return rc;
}

/* A real, or NULL for NaN and infinities (a fit that did not converge, no crossover). */
static void bind_real(sqlite3_stmt *s, int col, double v)
{
	if (isfinite(v))
		sqlite3_bind_double(s, col, v);
	else
		sqlite3_bind_null(s, col);
}

int attn_store_fits(struct attn_store *st, int64_t run_id, const struct attn_fit_row *rows, int n,
		    char *err, size_t errlen)
{
	sqlite3_stmt *del = NULL, *ins = NULL;
	int rc = exec(st, "BEGIN IMMEDIATE", err, errlen);
	if (rc)
		return rc;
	/* per method, so a fit limited by --methods keeps the other methods' rows */
	if (sqlite3_prepare_v2(st->db, "DELETE FROM fits WHERE run_id = ? AND method = ?", -1, &del,
			       NULL) != SQLITE_OK)
		return abort_tx(st, del, err, errlen, "storing fits");
	for (int i = 0; i < n; i++) {
		if (i && strcmp(rows[i].method, rows[i - 1].method) == 0)
			continue;
		sqlite3_reset(del);
		sqlite3_bind_int64(del, 1, run_id);
		sqlite3_bind_text(del, 2, rows[i].method, -1, SQLITE_STATIC);
		if (sqlite3_step(del) != SQLITE_DONE)
			return abort_tx(st, del, err, errlen, "storing fits");
	}
	sqlite3_finalize(del);
	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO fits(run_id, method, params, family, exponent, ci_lo, "
			       "ci_hi, a, b, c, d, crossover, cx_lo, cx_hi, note) VALUES "
			       "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
			       -1, &ins, NULL) != SQLITE_OK)
		return abort_tx(st, ins, err, errlen, "storing fits");
	for (int i = 0; i < n; i++) {
		const struct attn_fit_row *r = &rows[i];
		sqlite3_reset(ins);
		sqlite3_bind_int64(ins, 1, run_id);
		sqlite3_bind_text(ins, 2, r->method, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 3, r->params, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 4, r->family, -1, SQLITE_STATIC);
		bind_real(ins, 5, r->exponent);
		bind_real(ins, 6, r->ci_lo);
		bind_real(ins, 7, r->ci_hi);
		for (int j = 0; j < ATTN_FIT_TERMS; j++)
			bind_real(ins, 8 + j, r->coef[j]);
		bind_real(ins, 12, r->cross.n_star);
		bind_real(ins, 13, r->cross.ci_lo);
		bind_real(ins, 14, r->cross.ci_hi);
		sqlite3_bind_text(ins, 15, r->note, -1, SQLITE_STATIC);
		if (sqlite3_step(ins) != SQLITE_DONE)
			return abort_tx(st, ins, err, errlen, "storing fits");
	}
	sqlite3_finalize(ins);
	return exec(st, "COMMIT", err, errlen);
}
