/*
 * The results database: one SQLite file in WAL mode, written only by the
 * sweep's parent process, one transaction per finished case, so a sweep
 * killed at any moment keeps every case it finished. Databases are combined
 * (the shards of a sweep, several machines' runs) by attn_store_merge, one
 * transaction per input, going by runs.uuid.
 *
 * Tables (schema version ATTN_SCHEMA_VERSION, kept in `meta`):
 *   runs     one sweep: status, timestamps, command line, the canonical
 *            sweep spec (what --resume re-expands), commit, host, CPU, and
 *            uuid: the run's identity across files (32 hex, unique; random
 *            for a new run, computed from the row for one that a migration
 *            to v9 found), which `attnbench merge` goes by
 *   run_info provenance key/value pairs of a run (compiler, flags, caches,
 *            library versions and configs, ...)
 *   cases    one measured configuration and its status and message, and
 *            what the method said of itself (info: a peer's provenance)
 *   samples  every timed repetition (ns per forward call, calls averaged)
 *   metrics  named figures of a case with a unit; value NULL when the
 *            figure is unavailable, never a 0 that looks measured
 *   sample_counters  every sample's event counts; NULL with state
 *            'unavailable' or 'unreliable' (multiplexed) when not counted
 *   run_counters     which events a run could count, from where, or why not
 *   run_roofs        the FMA, sgemm and triad roofs a run measured, per
 *            thread count
 *   masks    a sparse method's kept-block mask of head 0, per case, when
 *            the sweep ran with --dump-mask
 *   fits     per method and shape family of a run: the time exponent
 *            with its CI, the four-term model, the crossover against
 *            flash (written by `attnbench fit`, see fit.h)
 *   form_diffs  per method and shape (n, d, causal) of a run: the forms
 *            that ran on the same inputs, the pair that differed most and
 *            max_rel (see forms.h); NULL with a note when they could not
 *            be compared
 *   run_owner   the process writing a run now (host, pid, its start time),
 *            so that a second writer is refused up front and a dead one's
 *            run can be taken over (attn_store_run_claim)
 *   results  a view: cases with their main metrics side by side
 * ("case" is an SQL keyword, hence the plural table names.)
 */
#ifndef ATTNBENCH_STORE_H
#define ATTNBENCH_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "attnbench/calib.h"
#include "attnbench/counters.h"
#include "attnbench/forms.h"

#define ATTN_SCHEMA_VERSION 10
/*
 * The oldest schema the readers (export, plot, compare) understand: a
 * database opened read-only is never migrated, so one older than this is
 * refused with a word on how to migrate it.
 */
#define ATTN_SCHEMA_READABLE 7

struct attn_store;

struct attn_kv {
	const char *key;
	const char *value;
};

struct attn_metric {
	char name[160];
	double value;
	int has_value; /* 0: unavailable, stored as NULL */
	char unit[16];
};

/* A finished case, as the store writes it. */
struct attn_case_record {
	const char *key; /* canonical and unique within a run */
	const char *method;
	const char *family;
	const char *form;   /* NULL when the method has no `form` parameter */
	const char *params; /* canonical text */
	int64_t batch, heads, kv_heads, n, d;
	int causal;
	const char *mode;
	const char *dist;
	int threads;
	uint64_t seed;
	const char *status;
	const char *message;
	int n_samples;
	const double *sample_ns;
	const int64_t *sample_iters;
	const double *sample_roof_ns; /* the sgemm probe after each sample; NULL: none */
	int n_metrics;
	const struct attn_metric *metrics;
	const char *cpus; /* the CPUs it ran on, "0,1"; NULL if unknown */
	const char *info; /* what the method said of itself (a peer's provenance); NULL: nothing */
	int n_counters;
	const char *const *counter_names;
	/* n_samples x n_counters readings, sample-major */
	const struct attn_counter_reading *sample_counters;
	/* head 0's kept-block mask, (mask_nqb, mask_nkb) bytes; NULL: none */
	const uint8_t *mask;
	int64_t mask_nqb, mask_nkb;
};

struct attn_counter_info {
	const char *event;
	int available;
	const char *source; /* "papi", "perf_event", "none" */
	const char *reason; /* why not, when unavailable */
};

/* How attn_store_open opens a file. */
enum attn_store_mode {
	ATTN_STORE_EXISTING = 0, /* an existing database, for writing; migrated */
	ATTN_STORE_CREATE = 1,   /* the same, created when missing or empty */
	ATTN_STORE_READONLY = 2  /* an existing database, read only: nothing written */
};

/*
 * Open a database (mode: enum attn_store_mode). Before anything is written
 * it decides what the file is - a SQLite header, a `meta` table with
 * app = attnbench and a schema version not newer than this build's - and
 * checks it (PRAGMA integrity_check up to ATTN_STORE_FULL_CHECK_BYTES,
 * quick_check above); a file that fails is refused with a message saying
 * why, and is left byte for byte as it was. Only then does a writer switch
 * it to WAL, create or migrate it.
 *
 * ATTN_STORE_READONLY opens with SQLITE_OPEN_READONLY: no pragma that
 * writes, no migration (a schema older than ATTN_SCHEMA_READABLE is
 * refused), and it works in a folder the user cannot write: a WAL database
 * whose -wal and -shm are there is read through them; one without them is
 * read as immutable.
 *
 * Any file may be handed in (the fuzz target does): the answer is a store
 * or an error, never a crash or a changed file. ATTNBENCH_FAULT and
 * ATTNBENCH_FAULT_LOG (faultvfs.c) inject failures under it, for testing.
 */
#define ATTN_STORE_FULL_CHECK_BYTES ((long long)256 << 20)
int attn_store_open(const char *path, int mode, struct attn_store **out, char *err, size_t errlen);
/* Close; a claim this handle still holds is dropped first (best effort). */
void attn_store_close(struct attn_store *st);

/*
 * A new run, status running, owned by this process (see run_claim) in the
 * same transaction, so no other writer can take it between the two.
 */
int attn_store_run_begin(struct attn_store *st, const char *command, const char *spec,
                         const struct attn_kv *info, int n_info, int64_t *run_id, char *err,
                         size_t errlen);
/*
 * Make this process the run's one writer, before it writes anything to it:
 * under BEGIN IMMEDIATE, the owner recorded in run_owner (host, pid, the
 * process's start time from /proc, the boot, when it claimed) is read and
 *  - none, or this process: recorded as this process;
 *  - a process on this host that is gone (kill(pid, 0) fails with ESRCH, or
 *    the pid now belongs to a process started at another time or boot):
 *    taken over;
 *  - a live process on this host: refused, ATTN_ERR_DB, the message naming
 *    its pid, host and since when;
 *  - a process on another host, whose life cannot be checked from here:
 *    refused naming the host, unless take_over (the user's word that it is
 *    gone).
 * The claim is dropped by attn_store_run_release, or by attn_store_close.
 */
int attn_store_run_claim(struct attn_store *st, int64_t run_id, int take_over, char *err,
                         size_t errlen);
/*
 * Give up the claim on run_id (if this process holds it) and write the WAL
 * back into the database file, so that a failing disk is reported here
 * rather than lost in the close.
 */
int attn_store_run_release(struct attn_store *st, int64_t run_id, char *err, size_t errlen);
/* status: "running", "complete", "interrupted" or "failed". */
int attn_store_run_set_status(struct attn_store *st, int64_t run_id, const char *status, char *err,
                              size_t errlen);
/*
 * The newest run that did not complete: its id and spec (malloc'd).
 * ATTN_ERR_NOTFOUND when every run completed.
 */
int attn_store_run_find_unfinished(struct attn_store *st, int64_t *run_id, char **spec, char *err,
                                   size_t errlen);
/* 1 if the run already holds a case with this key, 0 if not, < 0 on error. */
int attn_store_case_done(struct attn_store *st, int64_t run_id, const char *key);
/* Write one case with its samples and metrics in one transaction. */
int attn_store_case_write(struct attn_store *st, int64_t run_id, const struct attn_case_record *rec,
                          char *err, size_t errlen);

/* Add (or replace) provenance keys of a run. */
int attn_store_run_info(struct attn_store *st, int64_t run_id, const struct attn_kv *info, int n,
                        char *err, size_t errlen);
/* Which counters the run can count. */
int attn_store_run_counters(struct attn_store *st, int64_t run_id,
                            const struct attn_counter_info *info, int n, char *err, size_t errlen);
/* One measured roof of the run (one per thread count). */
int attn_store_run_roof(struct attn_store *st, int64_t run_id, const struct attn_roof *roof,
                        char *err, size_t errlen);
/* The roofs stored for a run, up to max, ordered by threads. */
int attn_store_run_roofs_load(struct attn_store *st, int64_t run_id, struct attn_roof *roofs,
                              int max, int *n, char *err, size_t errlen);

/*
 * Record (or replace) the comparison of method's forms on shape s (keyed by
 * run, method, n, d, causal). With note NULL, fd's forms, worst and max_rel;
 * with a note (why the comparison could not run: fewer than two forms, an
 * error), fd's forms as far as they got and worst and max_rel NULL.
 */
int attn_store_form_diff(struct attn_store *st, int64_t run_id, const char *method,
                         const struct attn_shape *s, const struct attn_forms_diff *fd,
                         const char *note, char *err, size_t errlen);

/*
 * Replace run_id's rows in `fits` of the methods in rows (fit.h) with these,
 * in one transaction (DELETE, then INSERT).
 */
struct attn_fit_row;
int attn_store_fits(struct attn_store *st, int64_t run_id, const struct attn_fit_row *rows, int n,
                    char *err, size_t errlen);

/* --- merging databases (merge.c) ----------------------------------------- */

/* Which result wins when two runs of one sweep hold the same case differently. */
enum attn_merge_prefer {
	ATTN_MERGE_PREFER_NONE = 0, /* neither: the merge is refused */
	ATTN_MERGE_PREFER_OLD = 1,  /* the output's case stays, the input's is skipped */
	ATTN_MERGE_PREFER_NEW = 2   /* the output's case and its rows go, the input's comes in */
};

/* What merging one input did. */
struct attn_merge_stats {
	int runs;                           /* the input's runs */
	int runs_added;                     /* new to the output (a uuid it did not hold) */
	int runs_advanced;                  /* held already; status or finished_at moved forward */
	int64_t cases;                      /* the input's cases */
	int64_t cases_added, cases_present; /* added; already there, identical */
	int64_t kept_old, took_new;         /* conflicts resolved by prefer */
	int64_t rows_added; /* run_info, roofs, counters, fits, form_diffs rows a held run lacked */
	char hosts[256];    /* the input runs' hostnames, distinct, ", "-separated */
	char shards[256];   /* their run_info shard ("2/3"), distinct, ", "-separated; "" none */
	int committed;      /* the input is in the output (also when writing the WAL back failed) */
};

/*
 * Could in_path be merged into the output at out_path (which need not
 * exist yet)? Reads only: ATTN_ERR_INVALID when in_path is the output
 * itself (the same file, also through a link, or its -wal, -shm or
 * -journal); else what opening it read-only says (not SQLite, not
 * attnbench's, corrupt, a newer schema: ATTN_ERR_FORMAT or ATTN_ERR_DB,
 * the message naming the file and why). A schema older than this build's
 * is fine: attn_store_merge migrates a copy.
 */
int attn_store_merge_check(const char *out_path, const char *in_path, char *err, size_t errlen);

/*
 * Merge the database at in_path into out, in one transaction (BEGIN
 * IMMEDIATE ... COMMIT; on any failure ROLLBACK, so out is exactly as it
 * was before). The input is opened read-only and never modified; one with
 * an older schema is first copied (SQLite's backup API) into a private
 * temporary file next to the output, which the store migrates and which is
 * removed after.
 *
 * A run is known by runs.uuid. A run out does not hold comes in with new
 * ids and all its rows (run_info, run_counters, run_roofs, cases, samples,
 * metrics, sample_counters, masks, fits, form_diffs), but not run_owner (a
 * claim belongs to the file it was made in). A run out holds gains the
 * cases it lacks and the rows it lacks, and its status and finished_at move
 * forward (running < failed, interrupted < complete), never back; a case it
 * holds identical (status, message, samples, metrics) counts as present.
 *
 * Conflicts: a case key of the input's run that out holds with a different
 * result in the same run or in a sibling (another run with the same
 * run_info sweep_id: a shard of the same sweep). With prefer NONE the merge
 * is refused, ATTN_ERR_INVALID, the message naming the sweep, the case and
 * both runs (uuid, host, file); OLD keeps out's case; NEW deletes it with
 * its rows and takes the input's. Runs without a sweep_id never conflict
 * with other runs: two machines' runs of one spec stay two runs.
 *
 * After the commit the WAL is written back into the file (a passive
 * checkpoint), so that a failing disk is heard here, not lost in a close;
 * when that fails the input is merged all the same (stats->committed, the
 * rows read from the -wal) and the error says so.
 *
 * stats (may be NULL) says what was added and what was there already; on
 * failure before the commit its counts are 0.
 */
int attn_store_merge(struct attn_store *out, const char *in_path, int prefer,
                     struct attn_merge_stats *stats, char *err, size_t errlen);

#endif /* ATTNBENCH_STORE_H */
