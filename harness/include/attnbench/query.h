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


/* --- the reports' reads: series, roofs, masks, fits (query/charts.c) --- */


/* --- the sweep driver's reads: resume matching, stored settings (query/sweep.c) --- */

/*
 * The run_info value of key for run_id (malloc'd) into *value, NULL when
 * the run has no such key. ATTN_ERR_DB with SQLite's message when it
 * cannot be read.
 */
int attn_query_sweep_info(struct attn_store *st, int64_t run_id, const char *key, char **value,
			  char *err, size_t errlen);

/* One "plugin:PATH" record of a run: PATH and "<fingerprint> methods=a,b" (either NULL if so stored). */
struct attn_query_sweep_plugin {
	char *path;
	char *value;
};

/* The plugins run_id recorded, ordered by key (malloc'd; free with the function below). */
int attn_query_sweep_plugins(struct attn_store *st, int64_t run_id,
			     struct attn_query_sweep_plugin **out, int *n, char *err, size_t errlen);
void attn_query_sweep_plugins_free(struct attn_query_sweep_plugin *p, int n);


#ifdef __cplusplus
}
#endif

#endif /* ATTNBENCH_QUERY_H */
