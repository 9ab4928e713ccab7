/*
 * The SQLite results store (see store.h for the tables).
 *
 * Durability rules: WAL journal, synchronous=NORMAL (a committed case
 * survives a killed process; only a power cut may lose the last few), one
 * transaction per case, prepared statements only, and a busy timeout so a
 * second writer waits for the first instead of failing.
 *
 * A file we did not create is never modified, so opening decides what a
 * file is with reads only, before the first write: its first 16 bytes must
 * be SQLite's header (read with plain read(2), before SQLite opens it), it
 * must hold our `meta` table with app = attnbench and a schema version not
 * newer than ours, and it must pass PRAGMA integrity_check (quick_check on
 * files over ATTN_STORE_FULL_CHECK_BYTES). quick_check alone is not enough:
 * it checks the b-trees' structure but not that each index matches its
 * table, and a page of cases whose cells were overwritten (a disk error, a
 * stray dd) passes it while the UNIQUE index resume relies on no longer
 * matches; integrity_check finds that ("row 1 missing from index
 * sqlite_autoindex_cases_1"). Only then does a writer switch to WAL, set
 * synchronous, create or migrate.
 *
 * One writer per run: the run's owner (host, pid, process start time, boot)
 * is recorded in run_owner under BEGIN IMMEDIATE, so a second sweep on the
 * same run is refused before it writes anything, and a dead owner's run is
 * taken over (attn_store_run_claim).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attnbench/fit.h"
#include "attnbench/status.h"
#include "attnbench/store.h"
#include "faultvfs.h"
#include "internal.h"

#define BUSY_TIMEOUT_MS 60000

/* Who a process is, as run_owner records it. */
struct proc_id {
	char host[256];
	long long pid;
	long long start; /* /proc/PID/stat field 22, clock ticks after boot; -1 unknown */
	char boot[40];   /* /proc/sys/kernel/random/boot_id; "" unknown */
};

struct attn_store {
	sqlite3 *db;
	int claimed; /* runs this handle recorded this process as the owner of */
	struct proc_id self;
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
static const char migrate_v5[] = "CREATE TABLE fits("
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
static const char migrate_v6[] = "CREATE TABLE form_diffs("
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

/*
 * Version 8: the one process writing a run (attn_store_run_claim): its host,
 * pid, start time in clock ticks after boot (/proc/PID/stat field 22, so a
 * reused pid is not mistaken for it) and boot id (so a pid from before a
 * reboot is not either), NULL where unknown, and when it claimed the run.
 */
static const char migrate_v8[] =
    "CREATE TABLE run_owner("
    " run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,"
    " hostname TEXT NOT NULL,"
    " pid INTEGER NOT NULL,"
    " start_ticks INTEGER,"
    " boot_id TEXT,"
    " claimed_at TEXT NOT NULL);";

/*
 * Version 9: a run's identity across files, runs.uuid (32 lowercase hex,
 * unique), so that `attnbench merge` knows a run it has seen in another
 * file. A new run draws it at random (attn_store_run_begin); the runs a
 * migration finds get one computed from their row (migrate_uuids), so that
 * two copies of one old file, migrated apart, agree on it. Written in C
 * (migrate_uuids): SQL has no hash to compute it with.
 */
static const char migrate_v9[] = "";

/*
 * Version 10: what a method says about itself for a case, free text:
 * a peer's `ready` words (its library's version, the kernel that ran, the
 * device), its provenance. NULL when it said nothing. Written in C
 * (migrate_info): the column is added only where it is missing, so the
 * step holds for a file that has it already (one made from today's schema
 * and marked older, as the suites make their old files).
 */
static const char migrate_v10[] = "";

/* The steps from version i to i + 1, at index i - 1. */
static const char *const migrations[] = {migrate_v2, migrate_v3, migrate_v4, migrate_v5, migrate_v6,
                                         migrate_v7, migrate_v8, migrate_v9, migrate_v10};
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
	else if (code == SQLITE_IOERR_SHMSIZE || code == SQLITE_IOERR_SHMMAP ||
	         code == SQLITE_IOERR_SHMOPEN)
		hint = " (no room for the -shm file beside it: is the disk full?)";
	return attn_errf(err, errlen, ATTN_ERR_DB, "%s: %s: %s%s%s", st->path, what,
	                 sqlite3_errmsg(st->db), hint, attn__fault_note());
}

/* Run sql; a failure's message names `what`, or the statement itself when NULL. */
static int exec_as(struct attn_store *st, const char *sql, const char *what, char *err,
                   size_t errlen)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_err(st, err, errlen, what ? what : sql);
	return ATTN_OK;
}

static int exec(struct attn_store *st, const char *sql, char *err, size_t errlen)
{
	return exec_as(st, sql, NULL, err, errlen);
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
static int put_owner(struct attn_store *st, int64_t run_id);

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

/* meta's value for key, malloc'd, in *value (NULL when absent). */
static int read_meta(struct attn_store *st, const char *key, char **value, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	*value = NULL;
	if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = ?", -1, &s, NULL) !=
	    SQLITE_OK)
		return db_err(st, err, errlen, "reading the meta table");
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_text(s, 0)) {
		*value = attn__strdup((const char *)sqlite3_column_text(s, 0));
		rc = *value ? ATTN_OK : attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		rc = ATTN_OK;
	} else {
		rc = db_err(st, err, errlen, "reading the meta table");
	}
	sqlite3_finalize(s);
	return rc;
}

static int read_version(struct attn_store *st, int *version, char *err, size_t errlen)
{
	char *v;
	*version = 0;
	int rc = read_meta(st, "schema_version", &v, err, errlen);
	if (rc)
		return rc;
	if (!v)
		return attn_errf(err, errlen, ATTN_ERR_FORMAT,
		                 "%s: not an attnbench database (no schema version); refusing to "
		                 "touch it",
		                 st->path);
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (end == v || *end || errno || n < 1 || n > 1000000) {
		rc = attn_errf(err, errlen, ATTN_ERR_FORMAT,
		               "%s: schema version '%.40s' is not a version number; refusing to "
		               "touch it",
		               st->path, v);
		free(v);
		return rc;
	}
	free(v);
	*version = (int)n;
	return ATTN_OK;
}

static int migrate_steps(struct attn_store *st, char *err, size_t errlen);

/*
 * The current schema: version 1 and every migration step, in one transaction,
 * so that a file on which a step fails (its header doctored, say) is left as
 * it was, not holding a schema of version 1.
 */
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
		if ((rc = exec_as(st, schema_v1, "creating the schema", err, errlen)) ||
		    (rc = exec_as(st, sql, "creating the schema", err, errlen)) ||
		    (rc = migrate_steps(st, err, errlen))) {
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
			return rc;
		}
	}
	return exec_as(st, "COMMIT", "creating the schema", err, errlen);
}

/* Does table have a column of this name? 1 yes, 0 no, < 0 error. */
static int has_column(struct attn_store *st, const char *table, const char *column)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM pragma_table_info(?) WHERE name = ?", -1, &s,
	                       NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, column, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Version 10's step: cases.info, where it is missing. */
static int migrate_info(struct attn_store *st, const char *what, char *err, size_t errlen)
{
	int has = has_column(st, "cases", "info");
	if (has < 0)
		return attn_errf(err, errlen, ATTN_ERR_DB, "%s: %s: %s", st->path, what,
		                 sqlite3_errmsg(st->db));
	return has ? ATTN_OK
	           : exec_as(st, "ALTER TABLE cases ADD COLUMN info TEXT;", what, err, errlen);
}

/* FNV-1a 64 of one field, then a 0xff byte, so that ("ab","c") and ("a","bc") differ. */
static uint64_t fnv_field(uint64_t h, const unsigned char *p, int len)
{
	for (int i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return (h ^ 0xff) * 0x100000001b3ull;
}

static void hex128(const uint64_t w[2], char out[33])
{
	snprintf(out, 33, "%016llx%016llx", (unsigned long long)w[0], (unsigned long long)w[1]);
}

/*
 * Step 9's C part: the uuid column (unless a doctored file already has
 * it), a uuid for every run without one, from its row: two FNV-1a 64
 * streams (different offsets) over id, started_at, hostname, cpu_model,
 * git_commit, command and spec, each mixed (attn__mix64). The same row
 * gives the same id in every copy of the file; rows that differ anywhere
 * give different ones.
 */
static int migrate_uuids(struct attn_store *st, const char *what, char *err, size_t errlen)
{
	int have = has_column(st, "runs", "uuid");
	if (have < 0)
		return db_err(st, err, errlen, what);
	int rc;
	if (!have && (rc = exec_as(st, "ALTER TABLE runs ADD COLUMN uuid TEXT", what, err, errlen)))
		return rc;
	sqlite3_stmt *sel = NULL, *upd = NULL;
	if (sqlite3_prepare_v2(st->db,
	                       "SELECT id, started_at, hostname, cpu_model, git_commit, command, "
	                       "spec FROM runs WHERE uuid IS NULL ORDER BY id",
	                       -1, &sel, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db, "UPDATE runs SET uuid = ? WHERE id = ?", -1, &upd, NULL) !=
	        SQLITE_OK)
		goto dberr;
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
		uint64_t w[2] = {0xcbf29ce484222325ull, 0x84222325cbf29ce4ull};
		for (int k = 0; k < 2; k++) {
			for (int c = 0; c < 7; c++) {
				const unsigned char *t = sqlite3_column_text(sel, c);
				/* NULL hashes unlike "" */
				w[k] = t ? fnv_field(w[k], t, sqlite3_column_bytes(sel, c))
				         : fnv_field(w[k], (const unsigned char *)"\x01", 1);
			}
			w[k] = attn__mix64(w[k]);
		}
		char id[33];
		hex128(w, id);
		sqlite3_reset(upd);
		sqlite3_bind_text(upd, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(upd, 2, sqlite3_column_int64(sel, 0));
		if (sqlite3_step(upd) != SQLITE_DONE)
			goto dberr;
	}
	if (rc != SQLITE_DONE)
		goto dberr;
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	return exec_as(st, "CREATE UNIQUE INDEX IF NOT EXISTS runs_uuid ON runs(uuid)", what, err,
	               errlen);
dberr:
	rc = db_err(st, err, errlen, what);
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	return rc;
}

/*
 * Bring an older schema forward, one version at a time, each step in its own
 * transaction with the version bump, so a failed step leaves the database at
 * the version before it. New databases are created at version 1 and take the
 * same steps, so there is one schema however a database came to be.
 */
/* Every step from the file's version to the current one, inside the caller's transaction. */
static int migrate_steps(struct attn_store *st, char *err, size_t errlen)
{
	int now, rc;
	if ((rc = read_version(st, &now, err, errlen)))
		return rc;
	for (int v = now; v >= 1 && v < ATTN_SCHEMA_VERSION; v++) {
		char bump[96], what[64];
		snprintf(bump, sizeof(bump),
		         "UPDATE meta SET value='%d' WHERE key='schema_version'", v + 1);
		snprintf(what, sizeof(what), "migrating schema version %d to %d", v, v + 1);
		if ((rc = exec_as(st, migrations[v - 1], what, err, errlen)) ||
		    (v + 1 == 9 && (rc = migrate_uuids(st, what, err, errlen))) ||
		    (v + 1 == 10 && (rc = migrate_info(st, what, err, errlen))) ||
		    (rc = exec_as(st, bump, what, err, errlen)))
			return rc;
	}
	return ATTN_OK;
}

static int migrate(struct attn_store *st, int from, char *err, size_t errlen)
{
	if (from < 1)
		return attn_errf(err, errlen, ATTN_ERR_FORMAT, "%s: unknown schema version %d",
		                 st->path, from);
	/*
	 * Every step in one transaction with the version bump: a step that
	 * fails (a damaged or doctored file) leaves the file as it was, not
	 * migrated halfway. Another process may have migrated while we waited
	 * for the lock: migrate_steps reads the version again.
	 */
	int rc = exec(st, "BEGIN IMMEDIATE", err, errlen);
	if (rc)
		return rc;
	if ((rc = migrate_steps(st, err, errlen)))
		goto rollback;
	return exec_as(st, "COMMIT", "migrating the schema", err, errlen);
rollback:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* The size of path in bytes, 0 when it is not there. */
static long long file_bytes(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

static long long wal_bytes(const char *path)
{
	char wal[1100];
	snprintf(wal, sizeof(wal), "%s-wal", path);
	return file_bytes(wal);
}

/* Names SQLite gives no file: an in-memory or a temporary database. */
static int is_memory(const char *path)
{
	return !*path || strcmp(path, ":memory:") == 0;
}

/*
 * What the file at st->path is, from the file system and its first bytes,
 * before SQLite opens it. Nothing there (or an empty file) is fine only when
 * creating; anything else must begin with SQLite's header.
 */
static int sniff_file(struct attn_store *st, int mode, char *err, size_t errlen)
{
	struct stat sb;
	if (stat(st->path, &sb) != 0) {
		if (errno == ENOENT && mode == ATTN_STORE_CREATE)
			return ATTN_OK;
		return attn_errf(err, errlen, errno == ENOENT ? ATTN_ERR_NOTFOUND : ATTN_ERR_IO,
		                 "%s: cannot open: %s", st->path, strerror(errno));
	}
	if (!S_ISREG(sb.st_mode))
		return attn_errf(err, errlen, ATTN_ERR_FORMAT,
		                 "%s: not a database (not a regular file); refusing to touch it",
		                 st->path);
	if (sb.st_size == 0 && wal_bytes(st->path) == 0) {
		if (mode == ATTN_STORE_CREATE)
			return ATTN_OK;
		return attn_errf(err, errlen, ATTN_ERR_FORMAT,
		                 "%s: an empty file, not an attnbench database", st->path);
	}
	if (sb.st_size == 0)
		return ATTN_OK; /* everything is in the -wal: SQLite decides */
	int fd = open(st->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return attn_errf(err, errlen, ATTN_ERR_IO, "%s: cannot open: %s", st->path,
		                 strerror(errno));
	static const char magic[16] = "SQLite format 3"; /* and its NUL */
	unsigned char head[100];
	ssize_t n = pread(fd, head, sizeof(head), 0);
	int e = errno;
	close(fd);
	if (n < 0)
		return attn_errf(err, errlen, ATTN_ERR_IO, "%s: cannot read: %s", st->path,
		                 strerror(e));
	if (n < 16 || memcmp(head, magic, sizeof(magic)) != 0)
		return attn_errf(err, errlen, ATTN_ERR_FORMAT,
		                 "%s: not a database (no SQLite header); refusing to touch it",
		                 st->path);
	/*
	 * Incremental vacuum on (header bytes 64-67) with no largest root page
	 * (52-55) is a header no SQLite writes; integrity_check passes it, but
	 * the first table created makes the file fail every later check (the
	 * fuzzer found it), so it is refused before anything is written.
	 */
	if (n == (ssize_t)sizeof(head) && (head[64] | head[65] | head[66] | head[67]) &&
	    !(head[52] | head[53] | head[54] | head[55]))
		return attn_errf(err, errlen, ATTN_ERR_DB,
		                 "%s: the database is corrupt (its header turns incremental vacuum "
		                 "on with no largest root page); it was left as it is",
		                 st->path);
	return ATTN_OK;
}

/* "file:PATH?immutable=1" with PATH percent-encoded, sqlite3_malloc'd. */
static char *immutable_uri(const char *path)
{
	size_t len = strlen(path);
	char *enc = malloc(3 * len + 1), *o = enc;
	if (!enc)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("/-._~", *p))
			*o++ = (char)*p;
		else
			o += sprintf(o, "%%%02X", *p);
	}
	*o = 0;
	char *uri = sqlite3_mprintf("file:%s?immutable=1", enc);
	free(enc);
	return uri;
}

static int db_connect(struct attn_store *st, const char *name, int flags, char *err, size_t errlen)
{
	if (sqlite3_open_v2(name, &st->db, flags, NULL) != SQLITE_OK) {
		int rc = st->db ? db_err(st, err, errlen, "cannot open")
		                : attn_errf(err, errlen, ATTN_ERR_NOMEM, "%s: out of memory%s",
		                            st->path, attn__fault_note());
		sqlite3_close(st->db);
		st->db = NULL;
		return rc;
	}
	/* ATTNBENCH_BUSY_TIMEOUT_MS shortens the wait, for tests and impatient users. */
	const char *bt = getenv("ATTNBENCH_BUSY_TIMEOUT_MS");
	sqlite3_busy_timeout(st->db, bt && atoi(bt) > 0 ? atoi(bt) : BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(st->db, 1);
	return ATTN_OK;
}

/* PRAGMA integrity_check (or quick_check on big files): "ok" or the refusal. */
static int check_pages(struct attn_store *st, char *err, size_t errlen)
{
	long long bytes = file_bytes(st->path) + wal_bytes(st->path);
	const char *pragma =
	    bytes <= ATTN_STORE_FULL_CHECK_BYTES ? "integrity_check" : "quick_check";
	char sql[48], first[200] = "";
	snprintf(sql, sizeof(sql), "PRAGMA %s(1)", pragma);
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return db_err(st, err, errlen, sql);
	int rc = sqlite3_step(s), ok = 0;
	if (rc == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(s, 0);
		ok = r && strcmp(r, "ok") == 0;
		snprintf(first, sizeof(first), "%s", r ? r : "no answer");
		for (char *c = first; *c; c++)
			if (*c == '\n')
				*c = ' ';
	} else {
		snprintf(first, sizeof(first), "%s", sqlite3_errmsg(st->db));
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && (rc & 0xff) != SQLITE_CORRUPT && (rc & 0xff) != SQLITE_NOTADB)
		return db_err(st, err, errlen, sql); /* out of memory, I/O: not the file's fault */
	if (!ok)
		return attn_errf(
		    err, errlen, ATTN_ERR_DB,
		    "%s: the database is corrupt (PRAGMA %s: %s); it was left as it is", st->path,
		    pragma, first);
	return ATTN_OK;
}

/*
 * What is inside, with reads only: *version 0 for an empty database (to be
 * created), else its schema version, after every check but the migration.
 */
static int probe(struct attn_store *st, int mode, int *version, char *err, size_t errlen)
{
	*version = 0;
	/* Reading the schema is the first touch: a non-database fails here. */
	int ntab = count_tables(st);
	if (ntab < 0)
		return db_err(st, err, errlen, "cannot read");
	if (ntab == 0) {
		/*
		 * No tables: a new file, or one that is all header, or damage
		 * that hides its tables. Only a file that passes the page check
		 * is created into.
		 */
		if (mode == ATTN_STORE_CREATE)
			return check_pages(st, err, errlen);
		return attn_errf(err, errlen, ATTN_ERR_FORMAT,
		                 "%s: an empty database, not attnbench's", st->path);
	}
	int have_meta = has_table(st, "meta");
	if (have_meta < 0)
		return db_err(st, err, errlen, "cannot read");
	if (have_meta == 0)
		return attn_errf(err, errlen, ATTN_ERR_FORMAT,
		                 "%s: a SQLite database of another program (no attnbench meta "
		                 "table); refusing to touch it",
		                 st->path);
	char *app;
	int rc = read_meta(st, "app", &app, err, errlen);
	if (rc == ATTN_ERR_DB && (sqlite3_extended_errcode(st->db) & 0xff) == SQLITE_ERROR)
		/* a meta table without our key/value columns */
		return attn_errf(err, errlen, ATTN_ERR_FORMAT,
		                 "%s: a SQLite database of another program (its meta table is not "
		                 "attnbench's); refusing to touch it",
		                 st->path);
	if (rc)
		return rc;
	if (!app || strcmp(app, "attnbench") != 0) {
		rc = attn_errf(err, errlen, ATTN_ERR_FORMAT,
		               "%s: a SQLite database of another program (meta app is %s%.40s%s, "
		               "not 'attnbench'); refusing to touch it",
		               st->path, app ? "'" : "", app ? app : "missing", app ? "'" : "");
		free(app);
		return rc;
	}
	free(app);
	if ((rc = read_version(st, version, err, errlen)))
		return rc;
	if (*version > ATTN_SCHEMA_VERSION)
		return attn_errf(err, errlen, ATTN_ERR_FORMAT,
		                 "%s: schema version %d is newer than this attnbench's (%d); "
		                 "use a newer attnbench",
		                 st->path, *version, ATTN_SCHEMA_VERSION);
	return check_pages(st, err, errlen);
}

static int db_connect_immutable(struct attn_store *st, char *err, size_t errlen)
{
	char *uri = immutable_uri(st->path);
	if (!uri)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	int rc = db_connect(st, uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, err, errlen);
	sqlite3_free(uri);
	return rc;
}

/*
 * A reader's connection, SQLITE_OPEN_READONLY. A read-only connection to a
 * WAL database makes a -wal and a -shm if there are none, and cannot remove
 * them when it closes; so with no -wal there (nobody has the file open, and
 * every commit is in the file itself) the file is first decided on
 * immutable, which makes nothing, and a file refused leaves nothing behind.
 * A file accepted is then read through a plain read-only connection, which
 * sees a writer that starts meanwhile; in a folder the reader cannot write,
 * where that connection cannot make the -shm, it stays immutable.
 * (A writer that starts and checkpoints during the decision could make the
 * check fail: a false refusal, never a change.)
 */
static int open_reader(struct attn_store *st, int *version, char *err, size_t errlen)
{
	char wal[1100];
	snprintf(wal, sizeof(wal), "%s-wal", st->path);
	int rc;
	if (is_memory(st->path) || access(wal, F_OK) == 0) {
		if (!(rc = db_connect(st, st->path, SQLITE_OPEN_READONLY, err, errlen)))
			rc = probe(st, ATTN_STORE_READONLY, version, err, errlen);
		return rc;
	}
	if ((rc = db_connect_immutable(st, err, errlen)) ||
	    (rc = probe(st, ATTN_STORE_READONLY, version, err, errlen)))
		return rc;
	sqlite3_close(st->db);
	st->db = NULL;
	if ((rc = db_connect(st, st->path, SQLITE_OPEN_READONLY, err, errlen)))
		return rc;
	if (count_tables(st) >= 0)
		return ATTN_OK;
	if ((sqlite3_extended_errcode(st->db) & 0xff) != SQLITE_READONLY || wal_bytes(st->path))
		return db_err(st, err, errlen, "cannot read");
	sqlite3_close(st->db);
	st->db = NULL;
	return db_connect_immutable(st, err, errlen);
}

static int set_wal(struct attn_store *st, char *err, size_t errlen)
{
	int rc = exec(st, "PRAGMA journal_mode=WAL", err, errlen);
	return rc ? rc : exec(st, "PRAGMA synchronous=NORMAL", err, errlen);
}

/*
 * attn_store_open, and the merge's way in (attn__store_open_input):
 * any_version reads a schema older than ATTN_SCHEMA_READABLE too, read-only,
 * for the merge to decide on before it migrates a copy. *version gets the
 * file's schema version as found (0: created).
 */
static int open_store(const char *path, int mode, int any_version, struct attn_store **out,
                      int *found, char *err, size_t errlen)
{
	*out = NULL;
	if (mode != ATTN_STORE_EXISTING && mode != ATTN_STORE_CREATE && mode != ATTN_STORE_READONLY)
		return attn_errf(err, errlen, ATTN_ERR_INVALID, "attn_store_open: mode %d", mode);
	/* Before SQLite starts: the fault injection takes its allocator then. */
	int rc = attn__fault_init(err, errlen);
	if (rc)
		return rc;
	struct attn_store *st = calloc(1, sizeof(*st));
	if (!st)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	snprintf(st->path, sizeof(st->path), "%s", path);
	int readonly = mode == ATTN_STORE_READONLY, version = 0;
	if (!is_memory(path) && (rc = sniff_file(st, mode, err, errlen)))
		goto fail;
	if (readonly)
		rc = open_reader(st, &version, err, errlen);
	else if (!(rc = db_connect(st, path,
	                           SQLITE_OPEN_READWRITE |
	                               (mode == ATTN_STORE_CREATE ? SQLITE_OPEN_CREATE : 0),
	                           err, errlen)))
		rc = probe(st, mode, &version, err, errlen);
	if (rc)
		goto fail;
	*found = version;

	if (readonly) {
		if (version < ATTN_SCHEMA_READABLE && !any_version) {
			rc = attn_errf(
			    err, errlen, ATTN_ERR_FORMAT,
			    "%s: schema version %d is older than this attnbench reads "
			    "without migrating (%d); open it once with a verb that writes "
			    "(attnbench fit --db %s) to migrate it",
			    path, version, ATTN_SCHEMA_READABLE, path);
			goto fail;
		}
		/* Belt and braces: this connection refuses any write. */
		if ((rc = exec(st, "PRAGMA query_only=1", err, errlen)))
			goto fail;
		*out = st;
		return ATTN_OK;
	}
	/*
	 * The file is ours: the first writes. The sweep (create) puts it in WAL;
	 * the other writers (fit, figures) keep the journal it has.
	 */
	/*
	 * WAL: a new file (no tables, its pages checked) before the schema is
	 * made, so that a fault while making it leaves a WAL file any reader
	 * can open, not a hot journal; a file with a schema only once that is
	 * current, so that one refused on the way is left as it was.
	 */
	int wal = mode == ATTN_STORE_CREATE;
	if (wal && version == 0 && (rc = set_wal(st, err, errlen)))
		goto fail;
	if (version == 0 && ((rc = create_schema(st, err, errlen)) ||
	                     (rc = read_version(st, &version, err, errlen))))
		goto fail;
	/* Foreign keys stay off until the schema is current: see migrate_v3. */
	if (version < ATTN_SCHEMA_VERSION && (rc = migrate(st, version, err, errlen)))
		goto fail;
	if (wal && (rc = set_wal(st, err, errlen)))
		goto fail;
	if ((rc = exec(st, "PRAGMA foreign_keys=ON", err, errlen)))
		goto fail;
	*out = st;
	return ATTN_OK;
fail:
	attn_store_close(st);
	return rc;
}

int attn_store_open(const char *path, int mode, struct attn_store **out, char *err, size_t errlen)
{
	int version;
	return open_store(path, mode, 0, out, &version, err, errlen);
}

int attn__store_open_input(const char *path, struct attn_store **out, int *version, char *err,
                           size_t errlen)
{
	return open_store(path, ATTN_STORE_READONLY, 1, out, version, err, errlen);
}

static int release_all(struct attn_store *st, char *err, size_t errlen);

void attn_store_close(struct attn_store *st)
{
	if (!st)
		return;
	if (st->claimed && st->db)
		release_all(st, NULL, 0); /* best effort: a dead owner is taken over anyway */
	sqlite3_close(st->db);
	free(st);
	attn__fault_log_counts();
}

/* The query layer's way in (internal.h): no other code holds the handle. */
struct sqlite3 *attn__store_handle(struct attn_store *st)
{
	return st->db;
}

const char *attn__store_path(struct attn_store *st)
{
	return st->path;
}

static const char *kv_find(const struct attn_kv *info, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (strcmp(info[i].key, key) == 0)
			return info[i].value;
	return NULL;
}

/*
 * 128 random bits as 32 lowercase hex: getrandom, or /dev/urandom where the
 * kernel has no getrandom. 0, or -1 with errno set.
 */
static int random_uuid(char out[33])
{
	uint64_t w[2];
	size_t got = 0;
	while (got < sizeof(w)) {
		ssize_t n = getrandom((char *)w + got, sizeof(w) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		got += (size_t)n;
	}
	if (got < sizeof(w)) {
		int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -1;
		got = 0;
		while (got < sizeof(w)) {
			ssize_t n = read(fd, (char *)w + got, sizeof(w) - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				int e = n < 0 ? errno : EIO;
				close(fd);
				errno = e;
				return -1;
			}
			got += (size_t)n;
		}
		close(fd);
	}
	hex128(w, out);
	return 0;
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
	if (sqlite3_prepare_v2(
	        st->db,
	        "INSERT INTO runs(started_at,status,command,spec,git_commit,hostname,"
	        "cpu_model,uuid) VALUES (?,'running',?,?,?,?,?,?)",
	        -1, &s, NULL) != SQLITE_OK)
		goto dberr;
	sqlite3_bind_text(s, 1, now, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, command, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 3, spec, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 4, kv_find(info, n_info, "git_commit"), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 5, kv_find(info, n_info, "hostname"), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 6, kv_find(info, n_info, "cpu_model"), -1, SQLITE_TRANSIENT);
	char uuid[33];
	if (random_uuid(uuid)) {
		sqlite3_finalize(s);
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return attn_errf(err, errlen, ATTN_ERR_IO,
		                 "%s: recording the run: no random bytes for its uuid: %s",
		                 st->path, strerror(errno));
	}
	sqlite3_bind_text(s, 7, uuid, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto dberr;
	sqlite3_finalize(s);
	*run_id = sqlite3_last_insert_rowid(st->db);
	s = NULL;
	if (put_info(st, *run_id, info, n_info) || put_owner(st, *run_id))
		goto dberr;
	if ((rc = exec_as(st, "COMMIT", "recording the run", err, errlen)))
		return rc;
	st->claimed++;
	return ATTN_OK;
dberr:
	return abort_tx(st, s, err, errlen, "recording the run");
}

int attn_store_run_set_status(struct attn_store *st, int64_t run_id, const char *status, char *err,
                              size_t errlen)
{
	char now[32];
	now_iso(now, sizeof(now));
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(st->db, "UPDATE runs SET status=?, finished_at=? WHERE id=?", -1, &s,
	                       NULL) != SQLITE_OK)
		return db_err(st, err, errlen, "updating the run");
	sqlite3_bind_text(s, 1, status, -1, SQLITE_STATIC);
	if (strcmp(status, "running") == 0)
		sqlite3_bind_null(s, 2);
	else
		sqlite3_bind_text(s, 2, now, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 3, run_id);
	int rc =
	    sqlite3_step(s) == SQLITE_DONE ? ATTN_OK : db_err(st, err, errlen, "updating the run");
	sqlite3_finalize(s);
	return rc;
}

/* --- the run's one writer ------------------------------------------------ */

static void proc_self(struct proc_id *id)
{
	memset(id, 0, sizeof(*id));
	if (gethostname(id->host, sizeof(id->host) - 1) != 0 || !id->host[0])
		snprintf(id->host, sizeof(id->host), "unknown");
	id->pid = (long long)getpid();
	int zombie;
	id->start = attn__proc_start(id->pid, &zombie);
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	if (f) {
		if (!fgets(id->boot, sizeof(id->boot), f))
			id->boot[0] = 0;
		id->boot[strcspn(id->boot, "\n")] = 0;
		fclose(f);
	}
}

static const struct proc_id *self_id(struct attn_store *st)
{
	if (!st->self.pid)
		proc_self(&st->self);
	return &st->self;
}

/* Record this process as run_id's owner, inside the caller's transaction. */
static int put_owner(struct attn_store *st, int64_t run_id)
{
	const struct proc_id *me = self_id(st);
	char now[32];
	now_iso(now, sizeof(now));
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO run_owner VALUES (?,?,?,?,?,?)", -1,
	                       &s, NULL) != SQLITE_OK)
		return ATTN_ERR_DB;
	sqlite3_bind_int64(s, 1, run_id);
	sqlite3_bind_text(s, 2, me->host, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, me->pid);
	if (me->start >= 0)
		sqlite3_bind_int64(s, 4, me->start);
	else
		sqlite3_bind_null(s, 4);
	if (me->boot[0])
		sqlite3_bind_text(s, 5, me->boot, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 5);
	sqlite3_bind_text(s, 6, now, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(s) == SQLITE_DONE ? ATTN_OK : ATTN_ERR_DB;
	sqlite3_finalize(s);
	return rc;
}

enum owner_state { OWNER_SELF, OWNER_DEAD, OWNER_ALIVE, OWNER_ELSEWHERE };

/*
 * Is the recorded owner this process, gone, alive, or on another host?
 * start < 0 and boot "" are unknown, and unknown never proves death.
 */
static enum owner_state owner_state(const struct proc_id *me, const char *host, long long pid,
                                    long long start, const char *boot)
{
	if (strcmp(host, me->host) != 0)
		return OWNER_ELSEWHERE;
	if (boot[0] && me->boot[0] && strcmp(boot, me->boot) != 0)
		return OWNER_DEAD; /* recorded before this machine last booted */
	if (pid == me->pid && (start < 0 || start == me->start))
		return OWNER_SELF;
	if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH))
		return OWNER_DEAD;
	int zombie;
	long long now = attn__proc_start(pid, &zombie);
	if (zombie)
		return OWNER_DEAD;
	if (now >= 0 && start >= 0 && now != start)
		return OWNER_DEAD; /* the pid was reused by a later process */
	return OWNER_ALIVE;
}

int attn_store_run_claim(struct attn_store *st, int64_t run_id, int take_over, char *err,
                         size_t errlen)
{
	const struct proc_id *me = self_id(st);
	int rc = exec(st, "BEGIN IMMEDIATE", err, errlen), mine = 0;
	if (rc)
		return rc;
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM runs WHERE id = ?", -1, &s, NULL) !=
	    SQLITE_OK)
		return abort_tx(st, s, err, errlen, "claiming the run");
	sqlite3_bind_int64(s, 1, run_id);
	int step = sqlite3_step(s);
	sqlite3_finalize(s);
	s = NULL;
	if (step == SQLITE_DONE) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return attn_errf(err, errlen, ATTN_ERR_NOTFOUND, "%s: no run %lld", st->path,
		                 (long long)run_id);
	}
	if (step != SQLITE_ROW ||
	    sqlite3_prepare_v2(st->db,
	                       "SELECT hostname, pid, start_ticks, boot_id, claimed_at FROM "
	                       "run_owner WHERE run_id = ?",
	                       -1, &s, NULL) != SQLITE_OK)
		return abort_tx(st, s, err, errlen, "claiming the run");
	sqlite3_bind_int64(s, 1, run_id);
	step = sqlite3_step(s);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		return abort_tx(st, s, err, errlen, "claiming the run");
	if (step == SQLITE_ROW) {
		const char *host = (const char *)sqlite3_column_text(s, 0);
		const char *boot = (const char *)sqlite3_column_text(s, 3);
		const char *since = (const char *)sqlite3_column_text(s, 4);
		long long pid = sqlite3_column_int64(s, 1);
		long long start =
		    sqlite3_column_type(s, 2) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 2);
		enum owner_state os =
		    owner_state(me, host ? host : "", pid, start, boot ? boot : "");
		mine = os == OWNER_SELF;
		if (os == OWNER_ALIVE || (os == OWNER_ELSEWHERE && !take_over)) {
			if (os == OWNER_ALIVE)
				rc = attn_errf(
				    err, errlen, ATTN_ERR_DB,
				    "%s: run %lld is being written by pid %lld on host %s "
				    "since %s; wait for it or stop it",
				    st->path, (long long)run_id, pid, host, since);
			else
				rc = attn_errf(
				    err, errlen, ATTN_ERR_DB,
				    "%s: run %lld is being written by pid %lld on host %s "
				    "since %s, and whether it still runs cannot be checked "
				    "from %s; wait for it or stop it, or if it is gone, "
				    "take the run over (--take-over)",
				    st->path, (long long)run_id, pid, host, since, me->host);
			sqlite3_finalize(s);
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
			return rc;
		}
	}
	sqlite3_finalize(s);
	s = NULL;
	if (put_owner(st, run_id))
		return abort_tx(st, NULL, err, errlen, "claiming the run");
	if ((rc = exec_as(st, "COMMIT", "claiming the run", err, errlen)))
		return rc;
	st->claimed += !mine;
	return ATTN_OK;
}

/* Drop every claim of this process (a rollback on failure, nothing half-done). */
static int release_all(struct attn_store *st, char *err, size_t errlen)
{
	const struct proc_id *me = self_id(st);
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(st->db, "DELETE FROM run_owner WHERE hostname = ? AND pid = ?", -1,
	                       &s, NULL) != SQLITE_OK)
		return db_err(st, err, errlen, "releasing the run");
	sqlite3_bind_text(s, 1, me->host, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, me->pid);
	int rc =
	    sqlite3_step(s) == SQLITE_DONE ? ATTN_OK : db_err(st, err, errlen, "releasing the run");
	sqlite3_finalize(s);
	if (!rc)
		st->claimed = 0;
	return rc;
}

int attn_store_run_release(struct attn_store *st, int64_t run_id, char *err, size_t errlen)
{
	const struct proc_id *me = self_id(st);
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(
	        st->db, "DELETE FROM run_owner WHERE run_id = ? AND hostname = ? AND pid = ?", -1,
	        &s, NULL) != SQLITE_OK)
		return db_err(st, err, errlen, "releasing the run");
	sqlite3_bind_int64(s, 1, run_id);
	sqlite3_bind_text(s, 2, me->host, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, me->pid);
	int rc =
	    sqlite3_step(s) == SQLITE_DONE ? ATTN_OK : db_err(st, err, errlen, "releasing the run");
	sqlite3_finalize(s);
	if (rc)
		return rc;
	if (sqlite3_changes(st->db) > 0 && st->claimed > 0)
		st->claimed--;
	/*
	 * The WAL back into the file now: the close would do it too, but
	 * swallow a failing write or sync, and the run's end is where it must
	 * be heard. PASSIVE: a reader in the middle of an export is not waited for.
	 */
	if (sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL) !=
	    SQLITE_OK)
		return db_err(st, err, errlen, "writing the WAL back into the database");
	return ATTN_OK;
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
		const char *text = (const char *)sqlite3_column_text(s, 1);
		*spec = text ? attn__strdup(text) : NULL;
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

int attn_store_case_write(struct attn_store *st, int64_t run_id, const struct attn_case_record *r,
                          char *err, size_t errlen)
{
	char now[32];
	now_iso(now, sizeof(now));
	int rc = exec(st, "BEGIN IMMEDIATE", err, errlen);
	if (rc)
		return rc;
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(
	        st->db,
	        "INSERT INTO cases(run_id,key,method,family,form,params,batch,heads,"
	        "kv_heads,n,d,causal,mode,dist,threads,seed,status,message,"
	        "finished_at,cpus,info) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
	if (r->info && *r->info)
		sqlite3_bind_text(s, i++, r->info, -1, SQLITE_STATIC);
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
	return exec_as(st, "COMMIT", "recording a case", err, errlen);
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
	if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO run_counters VALUES (?,?,?,?,?)", -1,
	                       &s, NULL) != SQLITE_OK)
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
	return exec_as(st, "COMMIT", "recording the counters", err, errlen);
dberr:
	return abort_tx(st, s, err, errlen, "recording the counters");
}

int attn_store_run_roof(struct attn_store *st, int64_t run_id, const struct attn_roof *roof,
                        char *err, size_t errlen)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO run_roofs VALUES (?,?,?,?,?,?,?,?)",
	                       -1, &s, NULL) != SQLITE_OK)
		return db_err(st, err, errlen, "recording a roof");
	sqlite3_bind_int64(s, 1, run_id);
	sqlite3_bind_int(s, 2, roof->threads);
	sqlite3_bind_double(s, 3, roof->fma_gflops);
	sqlite3_bind_text(s, 4, roof->fma_isa, -1, SQLITE_TRANSIENT);
	sqlite3_bind_double(s, 5, roof->sgemm_gflops);
	sqlite3_bind_int64(s, 6, roof->sgemm_n);
	sqlite3_bind_double(s, 7, roof->triad_gbps);
	sqlite3_bind_int64(s, 8, (int64_t)roof->triad_bytes);
	int rc =
	    sqlite3_step(s) == SQLITE_DONE ? ATTN_OK : db_err(st, err, errlen, "recording a roof");
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
	return exec_as(st, "COMMIT", "recording run provenance", err, errlen);
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
	return exec_as(st, "COMMIT", "storing fits", err, errlen);
}
