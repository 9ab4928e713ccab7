/*
 * The query layer: every read of the results schema, in one module
 * (harness/query/*.c) with prepared statements. Outside the store
 * (harness/src/store.c, which writes and migrates) and this layer no code
 * holds SQL text or a raw sqlite3 handle: the gate, the reports, the sweep
 * driver and the CLI ask here, in terms of runs, cases, samples, series,
 * roofs, masks and fits.
 *
 * Every function takes an open store, returns enum attn_status and, on
 * failure, writes what went wrong into err (err may be NULL). Results that
 * are allocated are freed by the matching *_free function.
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


/* --- the gate's reads: runs with their cases and samples (query/gate.c) --- */

/*
 * The newest run with an ok case, or `run` itself when it has one (run 0:
 * any run); *found 0 when there is none. (The gate's own copy of the runs
 * section's question, so that the gate does not wait on it.)
 */
int attn_query_gate_find_run(struct attn_store *st, int64_t run, int64_t *found, char *err,
                             size_t errlen);

/*
 * A run's row in `runs`, text truncated to the buffers; "" for NULL.
 * ATTN_ERR_NOTFOUND (all "") when there is no such run.
 */
struct attn_query_gate_head {
	char commit[64], host[128], started[64], cpu_model[256];
};
int attn_query_gate_head(struct attn_store *st, int64_t run, struct attn_query_gate_head *out,
                         char *err, size_t errlen);

/* run_info's value of key for run, truncated to len; "" when absent or NULL. */
int attn_query_gate_info(struct attn_store *st, int64_t run, const char *key, char *buf,
                         size_t len, char *err, size_t errlen);

/*
 * One ok case of a run with its samples, as the gate pairs it. The text
 * fields are truncated to their buffers and "" for NULL.
 */
struct attn_query_gate_case {
	int64_t id;
	char method[64], params[256], mode[16], dist[32];
	int64_t batch, heads, kv_heads, n, d;
	int causal, threads;
	double ins;    /* metrics' counter:PAPI_TOT_INS, NAN when NULL or absent */
	double *ns;    /* k samples in rep order */
	double *roof;  /* the sgemm probe beside each (samples.roof_ns), 0 when NULL */
	int k;
};

/*
 * Every ok case of run in the gate's pairing order: method, params, batch,
 * heads, kv_heads, d, causal, mode, dist, threads, n, then id (text sorted
 * as strcmp sorts it), so that cases alike in all but id are adjacent.
 * *rows is malloc'd (NULL when *n is 0); free it with
 * attn_query_gate_cases_free.
 */
int attn_query_gate_cases(struct attn_store *st, int64_t run, struct attn_query_gate_case **rows,
                          int *n, char *err, size_t errlen);
void attn_query_gate_cases_free(struct attn_query_gate_case *rows, int n);


/* --- the reports' reads: series, roofs, masks, fits (query/charts.c) --- */


/* --- the sweep driver's reads: resume matching, stored settings (query/sweep.c) --- */


#ifdef __cplusplus
}
#endif

#endif /* ATTNBENCH_QUERY_H */
