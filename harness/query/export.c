/*
 * The query layer's reads for `attnbench export` (see query.h): the runs
 * with their run_info, the cases with their metrics, as typed cells so that
 * the writer keeps what SQLite stored (an integer stays an integer, a NULL
 * a NULL). A run exported is its run set (query_internal.h): a merged
 * sweep's every shard, each row with its own run_id and each run with its
 * own provenance. The column lists are tables here, and the SELECTs are made from
 * them, so the names a writer prints and the columns it gets cannot drift
 * apart.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/query.h"
#include "attnbench/spec.h"
#include "attnbench/status.h"
#include "internal.h"
#include "query_internal.h"

static const char *const case_cols[] = {
    "id", "run_id", "method", "family", "form",    "params", "batch",  "heads",   "kv_heads", "n",
    "d",  "causal", "mode",   "dist",   "threads", "seed",   "status", "message", "info"};
#define N_CASE_COLS ((int)(sizeof(case_cols) / sizeof(*case_cols)))

static const char *const run_cols[] = {"id",   "started_at", "finished_at", "status",   "command",
                                       "spec", "git_commit", "hostname",    "cpu_model"};
#define N_RUN_COLS ((int)(sizeof(run_cols) / sizeof(*run_cols)))

static void cell_of(sqlite3_stmt *s, int i, const char *name, struct attn_query_cell *c)
{
	static const enum attn_query_type types[] = {[SQLITE_INTEGER] = ATTN_QUERY_INTEGER,
	                                             [SQLITE_FLOAT] = ATTN_QUERY_REAL,
	                                             [SQLITE_TEXT] = ATTN_QUERY_TEXT,
	                                             [SQLITE_BLOB] = ATTN_QUERY_BLOB,
	                                             [SQLITE_NULL] = ATTN_QUERY_NULL};
	c->name = name;
	c->type = types[sqlite3_column_type(s, i)];
	c->integer = sqlite3_column_int64(s, i);
	c->real = sqlite3_column_double(s, i);
	c->text = (const char *)sqlite3_column_text(s, i);
}

/* Has `table` a column `col`? A file of an older schema, read without migrating, may lack it. */
static int has_column(sqlite3 *db, const char *table, const char *col)
{
	sqlite3_stmt *s;
	int yes = 0;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2", -1, &s,
	                       NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, col, -1, SQLITE_STATIC);
	yes = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	return yes;
}

/*
 * "SELECT p.a, p.b, ... FROM table p WHERE ?1 = 0 OR p.key IN <?1's run set> ORDER BY p.id",
 * NULL in place of a column the file does not have (cases.info before schema 10).
 */
static void select_of(sqlite3 *db, const char *const *cols, int n, const char *table,
                      const char *key, char *sql, size_t len)
{
	size_t k = (size_t)snprintf(sql, len, ATTN__WITH_RUN_SET "SELECT ");
	for (int i = 0; i < n && k < len; i++)
		k += (size_t)snprintf(sql + k, len - k,
		                      has_column(db, table, cols[i]) ? "%sp.%s" : "%sNULL AS %s",
		                      i ? ", " : "", cols[i]);
	if (k < len)
		snprintf(sql + k, len - k,
		         " FROM %s p WHERE ?1 = 0 OR p.%s IN run_set ORDER BY p.id", table, key);
}

int attn_query_export_case_columns(const char *const **names)
{
	*names = case_cols;
	return N_CASE_COLS;
}

void attn_query_names_free(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int attn_query_metric_names(struct attn_store *st, char ***names, char ***units, int *n, char *err,
                            size_t errlen)
{
	sqlite3 *db = attn__store_handle(st);
	sqlite3_stmt *s;
	*names = NULL;
	if (units)
		*units = NULL;
	*n = 0;
	/* A metric's unit is its name's (the writers keep one per name): min() picks one. */
	if (sqlite3_prepare_v2(db,
	                       "SELECT name, min(unit) FROM metrics GROUP BY name ORDER BY name",
	                       -1, &s, NULL) != SQLITE_OK)
		return attn__query_error(db, err, errlen);
	char **v = NULL, **u = NULL;
	int nv = 0, step, rc = ATTN_OK;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		char **nvv = realloc(v, (size_t)(nv + 1) * sizeof(*v));
		if (nvv)
			v = nvv;
		char **nuu = nvv && units ? realloc(u, (size_t)(nv + 1) * sizeof(*u)) : NULL;
		if (nuu)
			u = nuu;
		char *name = nvv ? attn__strdup((const char *)sqlite3_column_text(s, 0)) : NULL;
		const char *ut = (const char *)sqlite3_column_text(s, 1);
		char *unit = name && nuu ? attn__strdup(ut ? ut : "") : NULL;
		if (!name || (units && !unit)) {
			free(name);
			rc = attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
			break;
		}
		if (units)
			u[nv] = unit;
		v[nv++] = name;
	}
	if (rc == ATTN_OK && step != SQLITE_DONE)
		rc = attn__query_error(db, err, errlen);
	sqlite3_finalize(s);
	if (rc != ATTN_OK) {
		attn_query_names_free(v, nv);
		if (units)
			attn_query_names_free(u, nv);
		return rc;
	}
	*names = v;
	if (units)
		*units = u;
	*n = nv;
	return ATTN_OK;
}

/* Is name (len bytes) one of v[0..n)? */
static int has_name(char *const *v, int n, const char *name, size_t len)
{
	for (int i = 0; i < n; i++)
		if (strlen(v[i]) == len && memcmp(v[i], name, len) == 0)
			return 1;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int attn_query_export_param_names(struct attn_store *st, int64_t run, char ***names, int *n,
                                  char *err, size_t errlen)
{
	sqlite3 *db = attn__store_handle(st);
	sqlite3_stmt *s;
	*names = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(db,
	                       ATTN__WITH_RUN_SET
	                       "SELECT DISTINCT p.params FROM cases p WHERE ?1 = 0 "
	                       "OR p.run_id IN run_set",
	                       -1, &s, NULL) != SQLITE_OK)
		return attn__query_error(db, err, errlen);
	sqlite3_bind_int64(s, 1, run);
	char **v = NULL;
	int nv = 0, step, rc = ATTN_OK;
	while (rc == ATTN_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *p = (const char *)sqlite3_column_text(s, 0);
		struct attn_param_kv kv;
		/* each key once, whatever the method */
		while (rc == ATTN_OK && attn_params_next(&p, &kv)) {
			size_t len = kv.key_len;
			if (len && kv.val && !has_name(v, nv, kv.key, len)) {
				char **nvv = realloc(v, (size_t)(nv + 1) * sizeof(*v));
				char *name = nvv ? malloc(len + 1) : NULL;
				if (nvv)
					v = nvv;
				if (!name) {
					rc =
					    attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
					break;
				}
				memcpy(name, kv.key, len);
				name[len] = 0;
				v[nv++] = name;
			}
		}
	}
	if (rc == ATTN_OK && step != SQLITE_DONE)
		rc = attn__query_error(db, err, errlen);
	sqlite3_finalize(s);
	if (rc != ATTN_OK) {
		attn_query_names_free(v, nv);
		return rc;
	}
	if (nv > 1)
		qsort(v, (size_t)nv, sizeof(*v), cmp_str);
	*names = v;
	*n = nv;
	return ATTN_OK;
}

int attn_query_export_runs(struct attn_store *st, int64_t run, attn_query_export_run_fn each,
                           void *ctx, char *err, size_t errlen)
{
	sqlite3 *db = attn__store_handle(st);
	sqlite3_stmt *runs, *info;
	char sql[1024];
	select_of(db, run_cols, N_RUN_COLS, "runs", "id", sql, sizeof(sql));
	if (sqlite3_prepare_v2(db, sql, -1, &runs, NULL) != SQLITE_OK)
		return attn__query_error(db, err, errlen);
	if (sqlite3_prepare_v2(db, "SELECT key, value FROM run_info WHERE run_id = ? ORDER BY key",
	                       -1, &info, NULL) != SQLITE_OK) {
		sqlite3_finalize(runs);
		return attn__query_error(db, err, errlen);
	}
	struct attn_query_cell cols[N_RUN_COLS], *kv = NULL;
	int cap = 0, rc = ATTN_OK, step;
	sqlite3_bind_int64(runs, 1, run);
	while (rc == ATTN_OK && (step = sqlite3_step(runs)) == SQLITE_ROW) {
		for (int i = 0; i < N_RUN_COLS; i++)
			cell_of(runs, i, run_cols[i], &cols[i]);
		sqlite3_reset(info);
		sqlite3_bind_int64(info, 1, sqlite3_column_int64(runs, 0));
		int n = 0;
		while (rc == ATTN_OK && sqlite3_step(info) == SQLITE_ROW) {
			if (n == cap) {
				int nc = cap ? 2 * cap : 64;
				struct attn_query_cell *nk = realloc(kv, (size_t)nc * sizeof(*kv));
				if (!nk) {
					rc =
					    attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
					break;
				}
				kv = nk;
				cap = nc;
			}
			/* The row's text is gone at the next step: keep copies. */
			const char *key = (const char *)sqlite3_column_text(info, 0);
			const char *value = (const char *)sqlite3_column_text(info, 1);
			struct attn_query_cell *c = &kv[n++];
			cell_of(info, 1, NULL, c);
			c->name = key ? attn__strdup(key) : NULL;
			c->text = value ? attn__strdup(value) : NULL;
			if ((key && !c->name) || (value && !c->text))
				rc = attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
		}
		if (rc == ATTN_OK)
			rc = each(ctx, cols, N_RUN_COLS, kv, n);
		for (int i = 0; i < n; i++) {
			free((char *)kv[i].name);
			free((char *)kv[i].text);
		}
	}
	if (rc == ATTN_OK && step != SQLITE_DONE)
		rc = attn__query_error(db, err, errlen);
	free(kv);
	sqlite3_finalize(runs);
	sqlite3_finalize(info);
	return rc;
}

int attn_query_export_cases(struct attn_store *st, int64_t run, const char *const *metrics,
                            int n_metrics, attn_query_export_case_fn each, void *ctx, char *err,
                            size_t errlen)
{
	sqlite3 *db = attn__store_handle(st);
	sqlite3_stmt *cases, *val;
	char sql[1024];
	select_of(db, case_cols, N_CASE_COLS, "cases", "run_id", sql, sizeof(sql));
	if (sqlite3_prepare_v2(db, sql, -1, &cases, NULL) != SQLITE_OK)
		return attn__query_error(db, err, errlen);
	if (sqlite3_prepare_v2(db,
	                       metrics ? "SELECT value FROM metrics WHERE case_id = ? AND name = ?"
	                               : "SELECT name, value, unit FROM metrics WHERE case_id = ? "
	                                 "ORDER BY name",
	                       -1, &val, NULL) != SQLITE_OK) {
		sqlite3_finalize(cases);
		return attn__query_error(db, err, errlen);
	}
	struct attn_query_cell cols[N_CASE_COLS], *mets = NULL;
	int cap = 0, rc = ATTN_OK, step;
	sqlite3_bind_int64(cases, 1, run);
	while (rc == ATTN_OK && (step = sqlite3_step(cases)) == SQLITE_ROW) {
		for (int i = 0; i < N_CASE_COLS; i++)
			cell_of(cases, i, case_cols[i], &cols[i]);
		int n = 0;
		/*
		 * One statement, stepped once per name, so each cell is copied out
		 * before the next step: its text is not kept, only its number.
		 */
		for (int i = 0; rc == ATTN_OK && (metrics ? i < n_metrics : 1); i++) {
			if (metrics) {
				sqlite3_reset(val);
				sqlite3_bind_int64(val, 1, sqlite3_column_int64(cases, 0));
				sqlite3_bind_text(val, 2, metrics[i], -1, SQLITE_STATIC);
			} else if (i == 0) {
				sqlite3_reset(val);
				sqlite3_bind_int64(val, 1, sqlite3_column_int64(cases, 0));
			}
			int vs = sqlite3_step(val);
			if (vs != SQLITE_ROW && vs != SQLITE_DONE) {
				rc = attn__query_error(db, err, errlen);
				break;
			}
			if (!metrics && vs == SQLITE_DONE)
				break;
			if (n == cap) {
				int nc = cap ? 2 * cap : 64;
				struct attn_query_cell *nm =
				    realloc(mets, (size_t)nc * sizeof(*mets));
				if (!nm) {
					rc =
					    attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
					break;
				}
				mets = nm;
				cap = nc;
			}
			struct attn_query_cell *c = &mets[n++];
			if (metrics && vs == SQLITE_DONE)
				*c = (struct attn_query_cell){.name = metrics[i],
				                              .type = ATTN_QUERY_NULL};
			else
				cell_of(val, metrics ? 0 : 1, metrics ? metrics[i] : NULL, c);
			c->text = NULL;
			if (!metrics) {
				/* the name is the row's, gone at the next step: keep a copy */
				c->name = attn__strdup((const char *)sqlite3_column_text(val, 0));
				if (!c->name) {
					n--;
					rc =
					    attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
				}
			}
		}
		if (rc == ATTN_OK)
			rc = each(ctx, cols, N_CASE_COLS, mets, n);
		for (int i = 0; !metrics && i < n; i++)
			free((char *)mets[i].name);
	}
	if (rc == ATTN_OK && step != SQLITE_DONE)
		rc = attn__query_error(db, err, errlen);
	free(mets);
	sqlite3_finalize(cases);
	sqlite3_finalize(val);
	return rc;
}

/* Equal values of a parameter: as numbers where both are (64 = 64.0), else as text. */
static int same_value(const char *a, const char *b)
{
	char *ea, *eb;
	double x = strtod(a, &ea), y = strtod(b, &eb);
	if (*a && *b && !*ea && !*eb)
		return x == y;
	return strcmp(a, b) == 0;
}

int attn_query_params_match(const char *params, const char *want)
{
	struct attn_param_kv kv;
	for (const char *w = want; attn_params_next(&w, &kv);) {
		char key[128], val[256], have[256];
		if (!kv.val)
			return 0;
		snprintf(key, sizeof(key), "%.*s", (int)kv.key_len, kv.key);
		snprintf(val, sizeof(val), "%.*s", (int)kv.val_len, kv.val);
		if (!attn_params_value(params, key, have, sizeof(have)) || !same_value(have, val))
			return 0;
	}
	return 1;
}
