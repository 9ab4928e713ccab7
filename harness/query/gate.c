/*
 * The gate's reads (query.h, "the gate's reads"): which run a side of
 * `attnbench compare` means, what that run said about its machine and
 * build, and its ok cases with every sample and the sgemm probe beside it,
 * each of the run's whole run set (query_internal.h): the shards of a merged
 * sweep are paired as the one sweep they are. What the set's runs said
 * about themselves is their distinct values joined, so that two shards on
 * unlike machines read as unlike, not as whichever shard came first.
 * The gate (harness/src/gate.c) pairs, corrects and judges what these
 * return; it never sees SQL. Every statement is prepared with bound
 * parameters, and a failing step is an error, not a shorter answer: a gate
 * that silently read half of a run would judge the half.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/query.h"
#include "attnbench/status.h"
#include "internal.h"
#include "query_internal.h"

/* The gate tells running out of memory from a broken database. */
static int db_error(sqlite3 *db, char *err, size_t errlen)
{
	if (sqlite3_errcode(db) == SQLITE_NOMEM)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "%s", sqlite3_errmsg(db));
	return attn__query_error(db, err, errlen);
}

/*
 * A run's row; of a set, the distinct commits, hosts and CPUs, the earliest
 * start, then the set's ids and count.
 */
static const char head_sql[] = ATTN__WITH_RUN_SET
    "SELECT " ATTN__SET_COMMITS ", " ATTN__SET_HOSTS
    ", (SELECT MIN(started_at) FROM runs WHERE id IN "
    "run_set), " ATTN__SET_CPUS ", (SELECT group_concat(id, ', ') FROM (SELECT id FROM run_set "
    "ORDER BY id)), (SELECT COUNT(*) FROM runs WHERE id IN run_set) FROM runs WHERE id = ?1";

/* The same of run_info's value of key ?2. */
static const char info_sql[] = ATTN__WITH_RUN_SET
    "SELECT group_concat(v, ', ') FROM (SELECT value AS v FROM run_info WHERE run_id IN "
    "run_set AND key = ?2 GROUP BY value ORDER BY MIN(run_id))";

int attn_query_gate_head(struct attn_store *st, int64_t run, struct attn_query_gate_head *out,
                         char *err, size_t errlen)
{
	sqlite3 *db = attn__store_handle(st);
	sqlite3_stmt *s;
	memset(out, 0, sizeof(*out));
	if (sqlite3_prepare_v2(db, head_sql, -1, &s, NULL) != SQLITE_OK)
		return db_error(db, err, errlen);
	sqlite3_bind_int64(s, 1, run);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		attn__query_text(s, 0, out->commit, sizeof(out->commit));
		attn__query_text(s, 1, out->host, sizeof(out->host));
		attn__query_text(s, 2, out->started, sizeof(out->started));
		attn__query_text(s, 3, out->cpu_model, sizeof(out->cpu_model));
		attn__query_text(s, 4, out->run_ids, sizeof(out->run_ids));
		/* Cut short, the list ends at a whole id (n_runs says how many there are). */
		char *comma = strlen(out->run_ids) + 1 == sizeof(out->run_ids)
		                  ? strrchr(out->run_ids, ',')
		                  : NULL;
		if (comma)
			*comma = 0;
		out->n_runs = sqlite3_column_int(s, 5);
	}
	sqlite3_finalize(s);
	if (rc == SQLITE_DONE)
		return attn_errf(err, errlen, ATTN_ERR_NOTFOUND, "no run %lld", (long long)run);
	return rc == SQLITE_ROW ? ATTN_OK : db_error(db, err, errlen);
}

int attn_query_gate_info(struct attn_store *st, int64_t run, const char *key, char *buf, size_t len,
                         char *err, size_t errlen)
{
	sqlite3 *db = attn__store_handle(st);
	sqlite3_stmt *s;
	buf[0] = 0;
	if (sqlite3_prepare_v2(db, info_sql, -1, &s, NULL) != SQLITE_OK)
		return db_error(db, err, errlen);
	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		attn__query_text(s, 0, buf, len);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? ATTN_OK : db_error(db, err, errlen);
}

void attn_query_gate_cases_free(struct attn_query_gate_case *rows, int n)
{
	for (int i = 0; rows && i < n; i++) {
		free(rows[i].ns);
		free(rows[i].roof);
	}
	free(rows);
}

/* case_id's samples into c (c->k of them); ATTN_OK, or the error. */
static int read_samples(sqlite3 *db, sqlite3_stmt *s, struct attn_query_gate_case *c, char *err,
                        size_t errlen)
{
	sqlite3_reset(s);
	sqlite3_bind_int64(s, 1, c->id);
	int rc, cap = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (c->k == cap) {
			cap = cap ? 2 * cap : 16;
			double *ns = realloc(c->ns, (size_t)cap * sizeof(double));
			if (ns)
				c->ns = ns;
			double *rf = realloc(c->roof, (size_t)cap * sizeof(double));
			if (rf)
				c->roof = rf;
			if (!ns || !rf)
				return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
		}
		c->ns[c->k] = sqlite3_column_double(s, 0);
		c->roof[c->k] =
		    sqlite3_column_type(s, 1) == SQLITE_NULL ? 0 : sqlite3_column_double(s, 1);
		c->k++;
	}
	return rc == SQLITE_DONE ? ATTN_OK : db_error(db, err, errlen);
}

/* The next case row of c into *row (its samples not yet read). */
static void read_case(sqlite3_stmt *c, struct attn_query_gate_case *row)
{
	memset(row, 0, sizeof(*row));
	row->id = sqlite3_column_int64(c, 0);
	attn__query_text(c, 1, row->method, sizeof(row->method));
	attn__query_text(c, 2, row->params, sizeof(row->params));
	row->batch = sqlite3_column_int64(c, 3);
	row->heads = sqlite3_column_int64(c, 4);
	row->kv_heads = sqlite3_column_int64(c, 5);
	row->n = sqlite3_column_int64(c, 6);
	row->d = sqlite3_column_int64(c, 7);
	row->causal = sqlite3_column_int(c, 8);
	attn__query_text(c, 9, row->mode, sizeof(row->mode));
	attn__query_text(c, 10, row->dist, sizeof(row->dist));
	row->threads = sqlite3_column_int(c, 11);
	row->ins = sqlite3_column_type(c, 12) == SQLITE_NULL ? NAN : sqlite3_column_double(c, 12);
	row->run = sqlite3_column_int64(c, 13);
}

int attn_query_gate_cases(struct attn_store *st, int64_t run, struct attn_query_gate_case **rows,
                          int *n, char *err, size_t errlen)
{
	sqlite3 *db = attn__store_handle(st);
	sqlite3_stmt *c = NULL, *s = NULL;
	struct attn_query_gate_case *v = NULL;
	int count = 0, cap = 0, rc = ATTN_OK, step;
	*rows = NULL;
	*n = 0;
	/* The ORDER BY is the gate's pairing order (gate.c's case_order), column by column. */
	if (sqlite3_prepare_v2(
	        db,
	        ATTN__WITH_RUN_SET
	        "SELECT id, method, params, batch, heads, kv_heads, n, d, causal, mode, dist, "
	        "threads, (SELECT value FROM metrics WHERE case_id = cases.id AND name = "
	        "'counter:PAPI_TOT_INS'), run_id FROM cases WHERE run_id IN run_set AND status = "
	        "'ok' ORDER BY method, params, batch, heads, kv_heads, d, causal, mode, dist, "
	        "threads, n, id",
	        -1, &c, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT ns, roof_ns FROM samples WHERE case_id = ? ORDER BY rep",
	                       -1, &s, NULL) != SQLITE_OK) {
		rc = db_error(db, err, errlen);
		goto out;
	}
	sqlite3_bind_int64(c, 1, run);
	while ((step = sqlite3_step(c)) == SQLITE_ROW) {
		if (count == cap) {
			cap = cap ? 2 * cap : 64;
			struct attn_query_gate_case *nv = realloc(v, (size_t)cap * sizeof(*nv));
			if (!nv) {
				rc = attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
				goto out;
			}
			v = nv;
		}
		read_case(c, &v[count]);
		rc = read_samples(db, s, &v[count++], err, errlen);
		if (rc != ATTN_OK)
			goto out;
	}
	if (step != SQLITE_DONE)
		rc = db_error(db, err, errlen);
out:
	sqlite3_finalize(c);
	sqlite3_finalize(s);
	if (rc != ATTN_OK) {
		attn_query_gate_cases_free(v, count);
		return rc;
	}
	*rows = v;
	*n = count;
	return ATTN_OK;
}
