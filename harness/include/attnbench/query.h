/*
 * The query layer: every read of the results schema, in one module
 * (the files of harness/query/) with prepared statements. Outside the store
 * (harness/src/store.c, which writes and migrates) and this layer no code
 * holds SQL text or a raw sqlite3 handle: the gate, the reports, the sweep
 * driver and the CLI ask here, in terms of runs, cases, samples, series,
 * roofs, masks and fits.
 *
 * Every function takes an open store, returns enum attn_status and, on
 * failure, writes what went wrong into err (err may be NULL). Results that
 * are allocated are freed by the matching *_free function.
 *
 * A run given to a read stands for its run set (see "runs" below): the
 * shards of a sweep merged into one file are read as the one sweep.
 */
#ifndef ATTNBENCH_QUERY_H
#define ATTNBENCH_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "attnbench/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- runs: which run, and what it recorded about itself (query/runs.c) --- */

/*
 * A run stands for its run set: the run itself and, when its run_info holds
 * a sweep_id, every run of the database with the same sweep_id (the shards
 * of one sweep, put in one file by `attnbench merge`). Every read below
 * that takes a run reads its whole set; a run without a sweep_id is a set
 * of one. The set is named by its smallest id, its head: what
 * attn_query_latest_ok_run and attn_query_tagged_run find, so that any
 * shard's id, or none, gives a verb the same run to report.
 */

/* The head of run's set (run itself when it has no sweep_id); 0 when there is no run `run`. */
int attn_query_run_set_head(struct attn_store *st, int64_t run, int64_t *head, char *err,
                            size_t errlen);

/* The newest run of the database, whatever its status; *run 0 when it holds none. */
int attn_query_newest_run(struct attn_store *st, int64_t *run, char *err, size_t errlen);

/* Is there a run `run`? *exists 1 or 0. */
int attn_query_run_exists(struct attn_store *st, int64_t run, int *exists, char *err,
                          size_t errlen);

/*
 * The head of the set of the newest run with an ok case (run 0), or of
 * run's set when an ok case is in it; *found 0 when there is none.
 */
int attn_query_latest_ok_run(struct attn_store *st, int64_t run, int64_t *found, char *err,
                             size_t errlen);

/*
 * The head of the set of the newest run whose run_info holds key = value
 * and that has an ok case (how `figures --no-sweep` finds the runs it
 * tagged); *run 0 when none.
 */
int attn_query_tagged_run(struct attn_store *st, const char *key, const char *value, int64_t *run,
                          char *err, size_t errlen);

/*
 * What a run recorded about itself, and about its run set, for captions and
 * provenance. The text fields are NULL where the database holds NULL;
 * `cores` is run_info's "cores". Filled by attn_query_run_info, freed by
 * attn_query_run_info_free.
 */
struct attn_query_run {
	int64_t id;
	char *hostname, *cpu_model, *git_commit, *started_at, *spec, *command, *cores;
	char *sweep_id; /* run_info's sweep_id, NULL for an unsharded run */
	/*
	 * The set: its ids ("3, 4, 5"), its runs' run_info shard ("1/3, 2/3,
	 * 3/3", NULL when none has one), and the distinct hostnames,
	 * cpu_models and git_commits of its runs, each ", "-joined in run order.
	 */
	char *run_ids, *shards, *hosts, *cpu_models, *commits;
	int n_runs;            /* runs in the set, 1 without a sweep_id */
	int64_t n_ok, n_cases; /* the set's ok cases, all its cases */
};

/* Run `run`'s provenance and its set's; ATTN_ERR_NOTFOUND (out zeroed) when there is no such run.
 */
int attn_query_run_info(struct attn_store *st, int64_t run, struct attn_query_run *out, char *err,
                        size_t errlen);
void attn_query_run_info_free(struct attn_query_run *r);

/* --- the gate's reads: runs with their cases and samples (query/gate.c) --- */

/*
 * A run's row in `runs`, text truncated to the buffers; "" for NULL. Of a
 * set of several runs, each field is the set's distinct values, ", "-joined
 * in run order, and `started` the earliest. ATTN_ERR_NOTFOUND (all "") when
 * there is no such run.
 */
struct attn_query_gate_head {
	char commit[64], host[128], started[64], cpu_model[256];
	char run_ids[256]; /* the set's ids, "3, 4, 5" */
	int n_runs;
};
int attn_query_gate_head(struct attn_store *st, int64_t run, struct attn_query_gate_head *out,
                         char *err, size_t errlen);

/*
 * run_info's value of key for run, truncated to len; "" when absent or NULL.
 * Of a set of several runs, their distinct values, ", "-joined in run order.
 */
int attn_query_gate_info(struct attn_store *st, int64_t run, const char *key, char *buf, size_t len,
                         char *err, size_t errlen);

/*
 * One ok case of a run with its samples, as the gate pairs it. The text
 * fields are truncated to their buffers and "" for NULL.
 */
struct attn_query_gate_case {
	int64_t id;
	char method[64], params[256], mode[16], dist[32];
	int64_t batch, heads, kv_heads, n, d;
	int causal, threads;
	double ins;   /* metrics' counter:PAPI_TOT_INS, NAN when NULL or absent */
	int64_t run;  /* the run of the set it is of */
	double *ns;   /* k samples in rep order */
	double *roof; /* the sgemm probe beside each (samples.roof_ns), 0 when NULL */
	int k;
};

/*
 * Every ok case of run's set in the gate's pairing order: method, params, batch,
 * heads, kv_heads, d, causal, mode, dist, threads, n, then id (text sorted
 * as strcmp sorts it), so that cases alike in all but id are adjacent.
 * *rows is malloc'd (NULL when *n is 0); free it with
 * attn_query_gate_cases_free.
 */
int attn_query_gate_cases(struct attn_store *st, int64_t run, struct attn_query_gate_case **rows,
                          int *n, char *err, size_t errlen);
void attn_query_gate_cases_free(struct attn_query_gate_case *rows, int n);

/* --- the reports' reads: series, roofs, masks, fits (query/charts.c) --- */

/*
 * Which points of a run a chart draws: one per ok case that has y_metric
 * above 0 and an x above 0, x being the case column xcol ("n", "threads" or
 * "d") or, when x_metric is set, that metric. lo_metric and hi_metric (may
 * be NULL) give error bars. The filters are off at causal < 0, threads or
 * d <= 0, and NULL strings.
 */
struct attn_query_series_req {
	int64_t run;
	const char *y_metric, *x_metric, *lo_metric, *hi_metric;
	const char *xcol;
	int causal;
	const char *mode;
	int64_t threads, d;
	const char *family, *dist;
};

/*
 * One point: its series' key (method, family, params and the shape less
 * xcol as "b=1 h=2/2 d=64 t=1 causal prefill gaussian"), x, y, and lo/hi
 * (NaN when not stored). The strings live until the callback returns.
 */
struct attn_query_point {
	const char *method, *family, *params, *shape;
	double x, y, lo, hi;
	long long n; /* the case's sequence length, whatever x is */
};

/*
 * Every point, ordered by family (full, linear, sparse, hybrid, others),
 * method, params, shape, x and the case's key: a series is a run of equal
 * keys. A non-zero
 * return from `point` stops the walk and is returned.
 */
typedef int (*attn_query_point_fn)(void *ctx, const struct attn_query_point *pt);
int attn_query_series(struct attn_store *st, const struct attn_query_series_req *q,
                      attn_query_point_fn point, void *ctx, char *err, size_t errlen);

/*
 * How many ok cases `method` has in run `run` (*n_ok), and the run's
 * methods with ok cases, comma-separated (*methods, malloc'd; may be NULL).
 */
int attn_query_method_ok_cases(struct attn_store *st, int64_t run, const char *method,
                               int64_t *n_ok, char **methods, char *err, size_t errlen);

/*
 * A run's roofs at its largest thread count; all 0 when it measured none.
 * Of a set of several runs, one run's roofs: `run`, the smallest id among
 * those at that thread count; n_runs of the set measured roofs there and
 * n_apart of them are more than 5% away from these (another machine), so a
 * chart can say whose roofs it draws.
 */
struct attn_query_roofs {
	double fma, sgemm, triad; /* GFLOP/s, GFLOP/s, GB/s */
	char isa[32];
	int64_t run;    /* the run they are of, 0 when none */
	char host[128]; /* its hostname, "" for NULL */
	int n_runs, n_apart;
};
int attn_query_roofs(struct attn_store *st, int64_t run, struct attn_query_roofs *out, char *err,
                     size_t errlen);

/*
 * A case of run `run` with a stored mask, in case order: its shape, the
 * mask's head, the method's "density" metric when stored, and the values
 * it resolved itself (its "param.NAME" metrics, method.h) as
 * "NAME=VALUE,...", by name ("" when none).
 */
struct attn_query_mask_case {
	int64_t case_id, n, head;
	const char *method, *params, *dist;
	int causal, prefill;
	int has_density;
	double density;
	const char *resolved;
};
typedef int (*attn_query_mask_case_fn)(void *ctx, const struct attn_query_mask_case *mc);
int attn_query_mask_cases(struct attn_store *st, int64_t run, attn_query_mask_case_fn each,
                          void *ctx, char *err, size_t errlen);

/*
 * The stored mask of a case: *nqb x *nkb blocks, *bytes bytes in *mask
 * (malloc'd; the caller checks that the sizes agree). ATTN_ERR_NOTFOUND
 * when the case has none.
 */
int attn_query_mask(struct attn_store *st, int64_t case_id, int64_t *nqb, int64_t *nkb,
                    uint8_t **mask, size_t *bytes, char *err, size_t errlen);

/* The distinct N of run `run`'s cases, ascending, at most max of them. */
int attn_query_run_ns(struct attn_store *st, int64_t run, int64_t *ns, int max, int *n, char *err,
                      size_t errlen);

/*
 * A method's form comparisons in a run, as Table 1 shows them: *agree is
 * "1.2e-07 at N=256; ..." and *note the notes joined by "; ", each malloc'd
 * and NULL when there is none.
 */
int attn_query_form_agreement(struct attn_store *st, int64_t run, const char *method, char **agree,
                              char **note, char *err, size_t errlen);

/*
 * A method's cases in a run, by form (parallel, recurrent, others) then N:
 * the form (NULL when none), N, the status and median_ns (has_median 0 when
 * not stored).
 */
struct attn_query_form_time {
	const char *form, *status;
	int64_t n;
	int has_median;
	double median_ns;
};
typedef int (*attn_query_form_time_fn)(void *ctx, const struct attn_query_form_time *ft);
int attn_query_form_times(struct attn_store *st, int64_t run, const char *method,
                          attn_query_form_time_fn each, void *ctx, char *err, size_t errlen);

/*
 * A run's ok cases for fitting, ordered by method, params, d, heads,
 * kv_heads, batch, causal, mode, dist, threads, n and id, each with its
 * samples in repetition order (ns per call; `samples` lives until the
 * callback returns).
 */
struct attn_query_fit_case {
	int64_t id;
	const char *method, *params, *mode, *dist;
	int64_t d, heads, kv_heads, batch, n;
	int causal, threads;
	const double *samples;
	int n_samples;
};
typedef int (*attn_query_fit_case_fn)(void *ctx, const struct attn_query_fit_case *fc);
int attn_query_fit_cases(struct attn_store *st, int64_t run, attn_query_fit_case_fn each, void *ctx,
                         char *err, size_t errlen);

/*
 * Export's reads (query/export.c): rows as typed cells, so that a writer
 * can tell integers from reals and NULL from text. `text` is SQLite's
 * text of the value (NULL for NULL); `real` its value as a double.
 */
enum attn_query_type {
	ATTN_QUERY_NULL,
	ATTN_QUERY_INTEGER,
	ATTN_QUERY_REAL,
	ATTN_QUERY_TEXT,
	ATTN_QUERY_BLOB
};
struct attn_query_cell {
	const char *name;
	enum attn_query_type type;
	int64_t integer;
	double real;
	const char *text;
};

/* The columns of a case as export writes them, in order (id, run_id, method, ...). */
int attn_query_export_case_columns(const char *const **names);

/*
 * The distinct metric names of the database, sorted, and with units (not
 * NULL) each one's unit as stored ("" if none), in the same order (both
 * malloc'd, attn_query_names_free).
 */
int attn_query_metric_names(struct attn_store *st, char ***names, char ***units, int *n, char *err,
                            size_t errlen);

/*
 * The parameter names of the cases (run 0: all; else its run set's), from
 * their params ("k=v,k=v"), each once, sorted (attn_query_names_free).
 */
int attn_query_export_param_names(struct attn_store *st, int64_t run, char ***names, int *n,
                                  char *err, size_t errlen);

/*
 * Does params ("k=v,k=v") hold every k=v of want (same syntax)? Values
 * compare as numbers where both are numbers (w=64 matches w=64.0), else as
 * text. An empty or NULL want matches everything.
 */
int attn_query_params_match(const char *params, const char *want);
void attn_query_names_free(char **names, int n);

/*
 * The runs (run 0: all; else its run set), by id: the runs table's columns
 * (id, started_at, finished_at, status, command, spec, git_commit,
 * hostname, cpu_model) and its run_info as (key = name, value = text)
 * cells sorted by key.
 */
typedef int (*attn_query_export_run_fn)(void *ctx, const struct attn_query_cell *cols, int n_cols,
                                        const struct attn_query_cell *info, int n_info);
int attn_query_export_runs(struct attn_store *st, int64_t run, attn_query_export_run_fn each,
                           void *ctx, char *err, size_t errlen);

/*
 * The cases (run 0: all; else its run set's), by id, with the columns of
 * attn_query_export_case_columns and their metrics: with `metrics`, one
 * cell per name in that order (NULL type where the case lacks it); without
 * (NULL), every metric of the case sorted by name.
 */
typedef int (*attn_query_export_case_fn)(void *ctx, const struct attn_query_cell *cols, int n_cols,
                                         const struct attn_query_cell *mets, int n_mets);
int attn_query_export_cases(struct attn_store *st, int64_t run, const char *const *metrics,
                            int n_metrics, attn_query_export_case_fn each, void *ctx, char *err,
                            size_t errlen);

/* --- the sweep driver's reads: resume matching, stored settings (query/sweep.c) --- */

/*
 * The run_info value of key for run_id (malloc'd) into *value, NULL when
 * the run has no such key. ATTN_ERR_DB with SQLite's message when it
 * cannot be read.
 */
int attn_query_sweep_info(struct attn_store *st, int64_t run_id, const char *key, char **value,
                          char *err, size_t errlen);

/* One "plugin:PATH" record of a run: PATH and "<fingerprint> methods=a,b" (either NULL if so
 * stored). */
struct attn_query_sweep_plugin {
	char *path;
	char *value;
};

/* The plugins run_id recorded, ordered by key (malloc'd; free with the function below). */
int attn_query_sweep_plugins(struct attn_store *st, int64_t run_id,
                             struct attn_query_sweep_plugin **out, int *n, char *err,
                             size_t errlen);
void attn_query_sweep_plugins_free(struct attn_query_sweep_plugin *p, int n);

/* --- sharded sweeps: the driver (shard_run.c) ----------------------------- */

/*
 * The newest run (complete_only: the newest complete one) that is shard
 * `shard` ("I/N") of the sweep sweep_id (NULL: of any sweep) into *run, 0
 * when there is none; *complete says whether it completed.
 */
int attn_query_shard_run(struct attn_store *st, const char *shard, const char *sweep_id,
                         int complete_only, int64_t *run, int *complete, char *err, size_t errlen);
/* --- sharded sweeps: which shards a database holds (query/shards.c) --- */

/*
 * One run of a sharded sweep (a run with run_info sweep_id). Text is
 * truncated to the buffers, "" for NULL or absent; uuid "" in a database
 * older than schema 9.
 */
struct attn_query_shard_run {
	int64_t run;
	char uuid[40], host[128], status[16], spec_hash[40];
	int64_t index, count; /* run_info shard_index, shard_count; 0 when absent or not numbers */
	int64_t cases;        /* the cases it holds */
	int64_t shard_cases;  /* the cases it was to run (run_info shard_cases); -1 unknown */
	int64_t sweep_cases;  /* run_info sweep_cases; -1 unknown */
	/*
	 * complete: status complete and not short of shard_cases, or the sweep as
	 * a whole holds its sweep_cases (a case a conflict moved to a sibling is
	 * not missing)
	 */
	int complete;
	int incomplete; /* not complete, and no other run of its index is */
};

/*
 * One sweep_id of the database: its shard count N (the first run's), its
 * runs by shard index then id, the indices 1..N with no run, how many
 * indices have runs of which none is complete, and what its runs disagree
 * on (shard_count or spec_hash, an index outside 1..N, two runs on one
 * index), "; "-joined in *problems (NULL when they agree).
 */
struct attn_query_sweep_shards {
	char *sweep_id;
	int64_t shard_count;
	int64_t cases;       /* distinct case keys over all its runs */
	int64_t sweep_cases; /* the first run's sweep_cases; -1 unknown */
	struct attn_query_shard_run *runs;
	int n_runs;
	int64_t *missing;
	int n_missing;
	int n_incomplete;
	char *problems;
};

/*
 * Every sweep_id of the database, sorted, into *out (malloc'd, *n of them;
 * free with attn_query_shards_free). A sweep needs attention when it has
 * missing or incomplete shards or problems.
 */
int attn_query_shards(struct attn_store *st, struct attn_query_sweep_shards **out, int *n,
                      char *err, size_t errlen);
void attn_query_shards_free(struct attn_query_sweep_shards *s, int n);

#ifdef __cplusplus
}
#endif

#endif /* ATTNBENCH_QUERY_H */
