/*
 * The query layer's reads for the reports and the fits (see query.h): a
 * chart's series, a run's roofs, the sparse methods' stored masks, Table
 * 1's form comparisons and times, and a run's ok cases with their samples
 * for the curve fits, each of a run's whole run set (query_internal.h's
 * ATTN__WITH_RUN_SET). Rows go to a callback while the statement is open, so
 * a caller keeps only what it draws. Every statement is prepared with its
 * arguments bound; a failure is ATTN_ERR_DB with SQLite's message in err.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/query.h"
#include "attnbench/status.h"
#include "internal.h"
#include "query_internal.h"

static const char *text_or(sqlite3_stmt *s, int i, const char *dflt)
{
	const char *t = (const char *)sqlite3_column_text(s, i);
	return t ? t : dflt;
}

static double real_or_nan(sqlite3_stmt *s, int i)
{
	return sqlite3_column_type(s, i) == SQLITE_NULL ? NAN : sqlite3_column_double(s, i);
}

/* ---- a chart's series --------------------------------------------------------- */

/* The case columns that name a shape, less the one on the x axis, as one SQL expression. */
static void shape_expr(const char *xcol, char *buf, size_t len)
{
	snprintf(buf, len,
	         "printf('b=%%d h=%%d/%%d%s%s%s %%s %%s %%s', c.batch, c.heads, c.kv_heads%s%s%s, "
	         "CASE c.causal WHEN 1 THEN 'causal' ELSE 'full-mask' END, c.mode, c.dist)",
	         strcmp(xcol, "n") ? " n=%d" : "", strcmp(xcol, "d") ? " d=%d" : "",
	         strcmp(xcol, "threads") ? " t=%d" : "", strcmp(xcol, "n") ? ", c.n" : "",
	         strcmp(xcol, "d") ? ", c.d" : "", strcmp(xcol, "threads") ? ", c.threads" : "");
}

int attn_query_series(struct attn_store *st, const struct attn_query_series_req *q,
                      attn_query_point_fn point, void *ctx, char *err, size_t errlen)
{
	sqlite3 *db = attn__store_handle(st);
	/* The column names are spliced in, so only these three are taken. */
	if (strcmp(q->xcol, "n") && strcmp(q->xcol, "threads") && strcmp(q->xcol, "d"))
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "x column '%s': expected n, threads or d", q->xcol);
	char shape[512], xexpr[64], sql[2048];
	shape_expr(q->xcol, shape, sizeof(shape));
	if (q->x_metric)
		snprintf(xexpr, sizeof(xexpr), "mx.value");
	else
		snprintf(xexpr, sizeof(xexpr), "c.%s", q->xcol);
	/*
	 * Points equal in x (a linear method's arithmetic intensity at every N)
	 * come in case-key order, the order one run's (run_id, key) index gave
	 * them before runs had shards, whichever shard holds each.
	 */
	snprintf(sql, sizeof(sql),
	         ATTN__WITH_RUN_SET
	         "SELECT c.method, c.family, c.params, %s AS shape, %s AS x, my.value, lo.value, "
	         "hi.value, c.n FROM cases c "
	         "JOIN metrics my ON my.case_id = c.id AND my.name = ?2 "
	         "LEFT JOIN metrics mx ON mx.case_id = c.id AND mx.name = ?3 "
	         "LEFT JOIN metrics lo ON lo.case_id = c.id AND lo.name = ?4 "
	         "LEFT JOIN metrics hi ON hi.case_id = c.id AND hi.name = ?5 "
	         "WHERE c.run_id IN run_set AND c.status = 'ok' AND my.value > 0 AND x > 0 "
	         "AND (?6 IS NULL OR c.causal = ?6) AND (?7 IS NULL OR c.mode = ?7) "
	         "AND (?8 IS NULL OR c.threads = ?8) AND (?9 IS NULL OR c.d = ?9) "
	         "AND (?10 IS NULL OR c.family = ?10) AND (?11 IS NULL OR c.dist = ?11) "
	         "ORDER BY CASE c.family WHEN 'full' THEN 0 WHEN 'linear' THEN 1 WHEN 'sparse' "
	         "THEN 2 WHEN 'hybrid' THEN 3 ELSE 4 END, c.method, c.params, shape, x, c.key",
	         shape, xexpr);
	sqlite3_stmt *r;
	if (sqlite3_prepare_v2(db, sql, -1, &r, NULL) != SQLITE_OK)
		return attn__query_error(db, err, errlen);
	sqlite3_bind_int64(r, 1, q->run);
	sqlite3_bind_text(r, 2, q->y_metric, -1, SQLITE_STATIC);
	sqlite3_bind_text(r, 3, q->x_metric ? q->x_metric : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(r, 4, q->lo_metric ? q->lo_metric : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(r, 5, q->hi_metric ? q->hi_metric : "", -1, SQLITE_STATIC);
	if (q->causal >= 0)
		sqlite3_bind_int(r, 6, q->causal);
	if (q->mode)
		sqlite3_bind_text(r, 7, q->mode, -1, SQLITE_STATIC);
	if (q->threads > 0)
		sqlite3_bind_int64(r, 8, q->threads);
	if (q->d > 0)
		sqlite3_bind_int64(r, 9, q->d);
	if (q->family)
		sqlite3_bind_text(r, 10, q->family, -1, SQLITE_STATIC);
	if (q->dist)
		sqlite3_bind_text(r, 11, q->dist, -1, SQLITE_STATIC);
	int rc = ATTN_OK, step;
	while (rc == ATTN_OK && (step = sqlite3_step(r)) == SQLITE_ROW) {
		struct attn_query_point pt = {.method = text_or(r, 0, ""),
		                              .family = text_or(r, 1, ""),
		                              .params = text_or(r, 2, ""),
		                              .shape = text_or(r, 3, ""),
		                              .x = sqlite3_column_double(r, 4),
		                              .y = sqlite3_column_double(r, 5),
		                              .lo = real_or_nan(r, 6),
		                              .hi = real_or_nan(r, 7),
		                              .n = sqlite3_column_int64(r, 8)};
		rc = point(ctx, &pt);
	}
	if (rc == ATTN_OK && step != SQLITE_DONE)
		rc = attn__query_error(db, err, errlen);
	sqlite3_finalize(r);
	return rc;
}

int attn_query_method_ok_cases(struct attn_store *st, int64_t run, const char *method,
                               int64_t *n_ok, char **methods, char *err, size_t errlen)
{
	sqlite3 *db = attn__store_handle(st);
	sqlite3_stmt *r;
	*n_ok = 0;
	if (methods)
		*methods = NULL;
	if (sqlite3_prepare_v2(db,
	                       ATTN__WITH_RUN_SET
	                       "SELECT (SELECT COUNT(*) FROM cases WHERE run_id IN run_set AND "
	                       "status = 'ok' AND method = ?2), (SELECT group_concat(DISTINCT "
	                       "method) FROM cases WHERE run_id IN run_set AND status = 'ok')",
	                       -1, &r, NULL) != SQLITE_OK)
		return attn__query_error(db, err, errlen);
	sqlite3_bind_int64(r, 1, run);
	sqlite3_bind_text(r, 2, method, -1, SQLITE_STATIC);
	int rc = ATTN_OK;
	if (sqlite3_step(r) == SQLITE_ROW) {
		*n_ok = sqlite3_column_int64(r, 0);
		const char *all = (const char *)sqlite3_column_text(r, 1);
		if (methods && all && !(*methods = attn__strdup(all)))
			rc = attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	} else {
		rc = attn__query_error(db, err, errlen);
	}
	sqlite3_finalize(r);
	return rc;
}

/* ---- roofs -------------------------------------------------------------------- */

/*
 * One run's roofs are drawn: of the set's runs, the row at the largest
 * thread count its cases ran at (else the largest measured), the smallest
 * run id first. The others are counted where a roof of theirs at that
 * thread count is more than 5% away, a machine unlike the one drawn (two
 * shards on one machine measure within noise of each other).
 */
#define APART(COL)  "abs(ifnull(o." COL ", 0) - ifnull(p." COL ", 0)) > 0.05 * ifnull(p." COL ", 0)"
#define APART_FMA   APART("fma_gflops")
#define APART_SGEMM APART("sgemm_gflops")
#define APART_TRIAD APART("triad_gbps")
static const char roofs_sql[] = ATTN__WITH_RUN_SET
    ", p AS (SELECT run_id, threads, fma_gflops, sgemm_gflops, triad_gbps, fma_isa "
    "FROM run_roofs WHERE run_id IN run_set ORDER BY threads = (SELECT MAX(threads) "
    "FROM cases WHERE run_id IN run_set) DESC, threads DESC, run_id LIMIT 1) "
    "SELECT p.fma_gflops, p.sgemm_gflops, p.triad_gbps, p.fma_isa, p.run_id, "
    "(SELECT hostname FROM runs WHERE id = p.run_id), "
    "(SELECT COUNT(*) FROM run_roofs o WHERE o.run_id IN run_set AND o.threads = p.threads), "
    "(SELECT COUNT(*) FROM run_roofs o WHERE o.run_id IN run_set AND o.threads = p.threads "
    "AND (" APART_FMA " OR " APART_SGEMM " OR " APART_TRIAD ")) FROM p";

int attn_query_roofs(struct attn_store *st, int64_t run, struct attn_query_roofs *rf, char *err,
                     size_t errlen)
{
	sqlite3 *db = attn__store_handle(st);
	sqlite3_stmt *r;
	memset(rf, 0, sizeof(*rf));
	if (sqlite3_prepare_v2(db, roofs_sql, -1, &r, NULL) != SQLITE_OK)
		return attn__query_error(db, err, errlen);
	sqlite3_bind_int64(r, 1, run);
	int step = sqlite3_step(r);
	if (step == SQLITE_ROW) {
		rf->fma = sqlite3_column_double(r, 0);
		rf->sgemm = sqlite3_column_double(r, 1);
		rf->triad = sqlite3_column_double(r, 2);
		snprintf(rf->isa, sizeof(rf->isa), "%s", text_or(r, 3, ""));
		rf->run = sqlite3_column_int64(r, 4);
		snprintf(rf->host, sizeof(rf->host), "%s", text_or(r, 5, ""));
		rf->n_runs = sqlite3_column_int(r, 6);
		rf->n_apart = sqlite3_column_int(r, 7);
	}
	sqlite3_finalize(r);
	return step == SQLITE_ROW || step == SQLITE_DONE ? ATTN_OK
	                                                 : attn__query_error(db, err, errlen);
}

/* ---- masks -------------------------------------------------------------------- */

int attn_query_mask_cases(struct attn_store *st, int64_t run, attn_query_mask_case_fn each,
                          void *ctx, char *err, size_t errlen)
{
	sqlite3 *db = attn__store_handle(st);
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(
	        db,
	        ATTN__WITH_RUN_SET
	        "SELECT c.id, c.method, c.params, c.n, c.causal, c.mode = 'prefill', "
	        "c.dist, m.head, (SELECT value FROM metrics x WHERE x.case_id = c.id "
	        "AND x.name = 'density'), (SELECT group_concat(kv, ',') FROM (SELECT "
	        "substr(x.name, 7) || '=' || printf('%.15g', x.value) AS kv FROM metrics x "
	        "WHERE x.case_id = c.id AND substr(x.name, 1, 6) = 'param.' AND x.value IS "
	        "NOT NULL ORDER BY x.name)) FROM cases c JOIN masks m ON m.case_id = "
	        "c.id WHERE c.run_id IN run_set ORDER BY c.id",
	        -1, &s, NULL) != SQLITE_OK)
		return attn__query_error(db, err, errlen);
	sqlite3_bind_int64(s, 1, run);
	int rc = ATTN_OK, step;
	while (rc == ATTN_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
		struct attn_query_mask_case mc = {.case_id = sqlite3_column_int64(s, 0),
		                                  .method = text_or(s, 1, ""),
		                                  .params = text_or(s, 2, ""),
		                                  .n = sqlite3_column_int64(s, 3),
		                                  .causal = sqlite3_column_int(s, 4) != 0,
		                                  .prefill = sqlite3_column_int(s, 5),
		                                  .dist = text_or(s, 6, ""),
		                                  .head = sqlite3_column_int64(s, 7),
		                                  .has_density =
		                                      sqlite3_column_type(s, 8) != SQLITE_NULL,
		                                  .density = sqlite3_column_double(s, 8),
		                                  .resolved = text_or(s, 9, "")};
		rc = each(ctx, &mc);
	}
	if (rc == ATTN_OK && step != SQLITE_DONE)
		rc = attn__query_error(db, err, errlen);
	sqlite3_finalize(s);
	return rc;
}

int attn_query_mask(struct attn_store *st, int64_t case_id, int64_t *nqb, int64_t *nkb,
                    uint8_t **mask, size_t *bytes, char *err, size_t errlen)
{
	sqlite3 *db = attn__store_handle(st);
	sqlite3_stmt *s;
	*nqb = *nkb = 0;
	*mask = NULL;
	*bytes = 0;
	if (sqlite3_prepare_v2(db, "SELECT nqb, nkb, mask FROM masks WHERE case_id = ?", -1, &s,
	                       NULL) != SQLITE_OK)
		return attn__query_error(db, err, errlen);
	sqlite3_bind_int64(s, 1, case_id);
	int step = sqlite3_step(s), rc = ATTN_OK;
	if (step == SQLITE_ROW) {
		*nqb = sqlite3_column_int64(s, 0);
		*nkb = sqlite3_column_int64(s, 1);
		const void *m = sqlite3_column_blob(s, 2);
		int len = sqlite3_column_bytes(s, 2);
		if (m && len > 0) {
			if (!(*mask = malloc((size_t)len)))
				rc = attn_errf(err, errlen, ATTN_ERR_NOMEM,
				               "out of memory for the mask of case %lld",
				               (long long)case_id);
			else
				memcpy(*mask, m, (size_t)len), *bytes = (size_t)len;
		}
	} else {
		rc = attn_errf(err, errlen, step == SQLITE_DONE ? ATTN_ERR_NOTFOUND : ATTN_ERR_DB,
		               "reading the mask of case %lld: %s", (long long)case_id,
		               sqlite3_errmsg(db));
	}
	sqlite3_finalize(s);
	return rc;
}

/* ---- Table 1 ------------------------------------------------------------------ */

int attn_query_run_ns(struct attn_store *st, int64_t run, int64_t *ns, int max, int *n, char *err,
                      size_t errlen)
{
	sqlite3 *db = attn__store_handle(st);
	sqlite3_stmt *r;
	*n = 0;
	if (sqlite3_prepare_v2(db,
	                       ATTN__WITH_RUN_SET
	                       "SELECT DISTINCT n FROM cases WHERE run_id IN run_set ORDER BY n",
	                       -1, &r, NULL) != SQLITE_OK)
		return attn__query_error(db, err, errlen);
	sqlite3_bind_int64(r, 1, run);
	int step;
	while ((step = sqlite3_step(r)) == SQLITE_ROW && *n < max)
		ns[(*n)++] = sqlite3_column_int64(r, 0);
	sqlite3_finalize(r);
	return step == SQLITE_ROW || step == SQLITE_DONE ? ATTN_OK
	                                                 : attn__query_error(db, err, errlen);
}

int attn_query_form_agreement(struct attn_store *st, int64_t run, const char *method, char **agree,
                              char **note, char *err, size_t errlen)
{
	sqlite3 *db = attn__store_handle(st);
	sqlite3_stmt *s;
	*agree = *note = NULL;
	if (sqlite3_prepare_v2(db,
	                       ATTN__WITH_RUN_SET
	                       "SELECT group_concat(printf('%.1e at N=%d', max_rel, n), '; '), "
	                       "group_concat(note, '; ') FROM (SELECT * FROM form_diffs WHERE "
	                       "run_id IN run_set AND method = ?2 ORDER BY n)",
	                       -1, &s, NULL) != SQLITE_OK)
		return attn__query_error(db, err, errlen);
	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_text(s, 2, method, -1, SQLITE_STATIC);
	int step = sqlite3_step(s), rc = ATTN_OK;
	if (step == SQLITE_ROW) {
		const char *a = (const char *)sqlite3_column_text(s, 0);
		const char *t = (const char *)sqlite3_column_text(s, 1);
		if ((a && !(*agree = attn__strdup(a))) || (t && !(*note = attn__strdup(t))))
			rc = attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	} else if (step != SQLITE_DONE) {
		rc = attn__query_error(db, err, errlen);
	}
	sqlite3_finalize(s);
	if (rc != ATTN_OK) {
		free(*agree);
		free(*note);
		*agree = *note = NULL;
	}
	return rc;
}

int attn_query_form_times(struct attn_store *st, int64_t run, const char *method,
                          attn_query_form_time_fn each, void *ctx, char *err, size_t errlen)
{
	sqlite3 *db = attn__store_handle(st);
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db,
	                       ATTN__WITH_RUN_SET
	                       "SELECT c.form, c.n, c.status, m.value FROM cases c LEFT JOIN "
	                       "metrics m ON m.case_id = c.id AND m.name = 'median_ns' WHERE "
	                       "c.run_id IN run_set AND c.method = ?2 ORDER BY CASE c.form WHEN "
	                       "'parallel' THEN 0 WHEN 'recurrent' THEN 1 ELSE 2 END, c.n",
	                       -1, &s, NULL) != SQLITE_OK)
		return attn__query_error(db, err, errlen);
	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_text(s, 2, method, -1, SQLITE_STATIC);
	int rc = ATTN_OK, step;
	while (rc == ATTN_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
		struct attn_query_form_time ft = {.form = (const char *)sqlite3_column_text(s, 0),
		                                  .n = sqlite3_column_int64(s, 1),
		                                  .status = text_or(s, 2, ""),
		                                  .has_median =
		                                      sqlite3_column_type(s, 3) != SQLITE_NULL,
		                                  .median_ns = sqlite3_column_double(s, 3)};
		rc = each(ctx, &ft);
	}
	if (rc == ATTN_OK && step != SQLITE_DONE)
		rc = attn__query_error(db, err, errlen);
	sqlite3_finalize(s);
	return rc;
}

/* ---- the fits' cases ---------------------------------------------------------- */

int attn_query_fit_cases(struct attn_store *st, int64_t run, attn_query_fit_case_fn each, void *ctx,
                         char *err, size_t errlen)
{
	sqlite3 *db = attn__store_handle(st);
	sqlite3_stmt *c, *s;
	if (sqlite3_prepare_v2(
	        db,
	        ATTN__WITH_RUN_SET
	        "SELECT id, method, params, d, heads, kv_heads, batch, causal, mode, "
	        "dist, threads, n FROM cases WHERE run_id IN run_set AND status = 'ok' "
	        "ORDER BY method, params, d, heads, kv_heads, batch, causal, mode, "
	        "dist, threads, n, id",
	        -1, &c, NULL) != SQLITE_OK)
		return attn_errf(err, errlen, ATTN_ERR_DB, "reading cases: %s", sqlite3_errmsg(db));
	if (sqlite3_prepare_v2(db, "SELECT ns FROM samples WHERE case_id = ? ORDER BY rep", -1, &s,
	                       NULL) != SQLITE_OK) {
		sqlite3_finalize(c);
		return attn_errf(err, errlen, ATTN_ERR_DB, "reading samples: %s",
		                 sqlite3_errmsg(db));
	}
	sqlite3_bind_int64(c, 1, run);
	double *buf = NULL;
	int cap = 0, rc = ATTN_OK;
	while (rc == ATTN_OK && sqlite3_step(c) == SQLITE_ROW) {
		int k = 0;
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, sqlite3_column_int64(c, 0));
		while (rc == ATTN_OK && sqlite3_step(s) == SQLITE_ROW) {
			if (k == cap) {
				int nc = cap ? 2 * cap : 64;
				double *nb = realloc(buf, (size_t)nc * sizeof(*buf));
				if (!nb) {
					rc = attn_errf(err, errlen, ATTN_ERR_NOMEM,
					               "out of memory reading run %lld",
					               (long long)run);
					break;
				}
				buf = nb;
				cap = nc;
			}
			buf[k++] = sqlite3_column_double(s, 0);
		}
		if (rc != ATTN_OK)
			break;
		struct attn_query_fit_case fc = {.id = sqlite3_column_int64(c, 0),
		                                 .method = text_or(c, 1, ""),
		                                 .params = text_or(c, 2, ""),
		                                 .d = sqlite3_column_int64(c, 3),
		                                 .heads = sqlite3_column_int64(c, 4),
		                                 .kv_heads = sqlite3_column_int64(c, 5),
		                                 .batch = sqlite3_column_int64(c, 6),
		                                 .causal = sqlite3_column_int(c, 7),
		                                 .mode = text_or(c, 8, ""),
		                                 .dist = text_or(c, 9, ""),
		                                 .threads = sqlite3_column_int(c, 10),
		                                 .n = sqlite3_column_int64(c, 11),
		                                 .samples = buf,
		                                 .n_samples = k};
		rc = each(ctx, &fc);
	}
	free(buf);
	sqlite3_finalize(c);
	sqlite3_finalize(s);
	return rc;
}
