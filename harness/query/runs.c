/*
 * The query layer's reads of runs (see query.h): which run a verb works on
 * (the newest, the newest with an ok case, the one `figures` tagged) and
 * what a run, and the run set it stands for (the shards of its sweep),
 * recorded about itself, for the captions and provenance of the reports. Every statement is
 * prepared with its arguments bound; a failure is ATTN_ERR_DB with SQLite's message in err.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/query.h"
#include "attnbench/status.h"
#include "internal.h"
#include "query_internal.h"

int attn__query_error(sqlite3 *db, char *err, size_t errlen)
{
	return attn_errf(err, errlen, ATTN_ERR_DB, "%s", sqlite3_errmsg(db));
}

void attn__query_text(sqlite3_stmt *s, int i, char *buf, size_t len)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	snprintf(buf, len, "%s", t ? (const char *)t : "");
}

int attn__query_dup_text(sqlite3_stmt *s, int i, char **out)
{
	const char *t = (const char *)sqlite3_column_text(s, i);
	*out = NULL;
	if (!t)
		return 0;
	*out = attn__strdup(t);
	return *out ? 0 : -1;
}

/*
 * The one integer the statement gives, bound to the int64 `arg` at ?1 (if
 * has_arg), 0 for NULL or no row.
 */
static int scalar(struct attn_store *st, const char *sql, int has_arg, int64_t arg, int64_t *out,
                  char *err, size_t errlen)
{
	sqlite3 *db = attn__store_handle(st);
	sqlite3_stmt *s;
	*out = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return attn__query_error(db, err, errlen);
	if (has_arg)
		sqlite3_bind_int64(s, 1, arg);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? ATTN_OK : attn__query_error(db, err, errlen);
}

int attn_query_newest_run(struct attn_store *st, int64_t *run, char *err, size_t errlen)
{
	return scalar(st, "SELECT MAX(id) FROM runs", 0, 0, run, err, errlen);
}

int attn_query_run_exists(struct attn_store *st, int64_t run, int *exists, char *err, size_t errlen)
{
	int64_t n;
	int rc = scalar(st, "SELECT count(*) FROM runs WHERE id = ?", 1, run, &n, err, errlen);
	*exists = rc == ATTN_OK && n == 1;
	return rc;
}

/*
 * The set a run found by some rule stands for is named by its smallest id,
 * so that every shard of a sweep (and the newest of them, found by default)
 * gives a reader the same run to report and store under: the head of the
 * run set of the run `pick(id)` holds.
 */
#define PICKED_SET   ATTN__RUN_SET_OF("(SELECT id FROM pick)")
#define HEAD_OF_PICK ", picked(id) AS " PICKED_SET " SELECT MIN(id) FROM runs WHERE id IN picked"

int attn_query_run_set_head(struct attn_store *st, int64_t run, int64_t *head, char *err,
                            size_t errlen)
{
	return scalar(st, ATTN__WITH_RUN_SET "SELECT MIN(id) FROM runs WHERE id IN run_set", 1, run,
	              head, err, errlen);
}

int attn_query_latest_ok_run(struct attn_store *st, int64_t run, int64_t *found, char *err,
                             size_t errlen)
{
	/* A shard without an ok case still names its sweep when a sibling has one. */
	return scalar(st,
	              ATTN__WITH_RUN_SET
	              ", pick(id) AS (SELECT MAX(run_id) FROM cases WHERE "
	              "status = 'ok' AND (?1 = 0 OR run_id IN run_set))" HEAD_OF_PICK,
	              1, run, found, err, errlen);
}

int attn_query_tagged_run(struct attn_store *st, const char *key, const char *value, int64_t *run,
                          char *err, size_t errlen)
{
	sqlite3 *db = attn__store_handle(st);
	sqlite3_stmt *s;
	*run = 0;
	if (sqlite3_prepare_v2(
	        db,
	        "WITH pick(id) AS (SELECT MAX(i.run_id) FROM run_info i WHERE i.key = "
	        "?1 AND i.value = ?2 AND EXISTS (SELECT 1 FROM cases c WHERE "
	        "c.run_id = i.run_id AND c.status = 'ok'))" HEAD_OF_PICK,
	        -1, &s, NULL) != SQLITE_OK)
		return attn__query_error(db, err, errlen);
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*run = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? ATTN_OK : attn__query_error(db, err, errlen);
}

/*
 * A run's provenance, then its set's: the ids, the shards, the distinct
 * hosts, CPUs and commits (", "-joined in run order, by first run), and the
 * counts.
 */
static const char run_info_sql[] = ATTN__WITH_RUN_SET
    "SELECT r.id, r.hostname, r.cpu_model, r.git_commit, r.started_at, r.spec, r.command, "
    "(SELECT value FROM run_info WHERE run_id = r.id AND key = 'cores'), "
    "(SELECT value FROM run_info WHERE run_id = r.id AND key = 'sweep_id'), "
    "(SELECT group_concat(id, ', ') FROM (SELECT id FROM run_set ORDER BY id)), "
    "(SELECT group_concat(value, ', ') FROM (SELECT value FROM run_info WHERE key = 'shard' "
    "AND run_id IN run_set ORDER BY run_id)), " ATTN__SET_HOSTS ", " ATTN__SET_CPUS
    ", " ATTN__SET_COMMITS ", "
    "(SELECT COUNT(*) FROM cases WHERE run_id IN run_set AND status = 'ok'), "
    "(SELECT COUNT(*) FROM cases WHERE run_id IN run_set), "
    "(SELECT COUNT(*) FROM runs WHERE id IN run_set) "
    "FROM runs r WHERE r.id = ?1";

int attn_query_run_info(struct attn_store *st, int64_t run, struct attn_query_run *out, char *err,
                        size_t errlen)
{
	sqlite3 *db = attn__store_handle(st);
	sqlite3_stmt *s;
	memset(out, 0, sizeof(*out));
	if (sqlite3_prepare_v2(db, run_info_sql, -1, &s, NULL) != SQLITE_OK)
		return attn__query_error(db, err, errlen);
	sqlite3_bind_int64(s, 1, run);
	int step = sqlite3_step(s), rc = ATTN_OK;
	if (step == SQLITE_ROW) {
		char **field[] = {&out->hostname,   &out->cpu_model, &out->git_commit,
		                  &out->started_at, &out->spec,      &out->command,
		                  &out->cores,      &out->sweep_id,  &out->run_ids,
		                  &out->shards,     &out->hosts,     &out->cpu_models,
		                  &out->commits};
		int n_field = (int)(sizeof(field) / sizeof(*field));
		out->id = sqlite3_column_int64(s, 0);
		for (int i = 0; i < n_field && rc == ATTN_OK; i++)
			if (attn__query_dup_text(s, i + 1, field[i]))
				rc = attn_errf(err, errlen, ATTN_ERR_NOMEM,
				               "out of memory reading run %lld", (long long)run);
		out->n_ok = sqlite3_column_int64(s, n_field + 1);
		out->n_cases = sqlite3_column_int64(s, n_field + 2);
		out->n_runs = (int)sqlite3_column_int64(s, n_field + 3);
	} else if (step == SQLITE_DONE) {
		rc = attn_errf(err, errlen, ATTN_ERR_NOTFOUND, "no run %lld", (long long)run);
	} else {
		rc = attn__query_error(db, err, errlen);
	}
	sqlite3_finalize(s);
	if (rc != ATTN_OK)
		attn_query_run_info_free(out);
	return rc;
}

void attn_query_run_info_free(struct attn_query_run *r)
{
	free(r->hostname);
	free(r->cpu_model);
	free(r->git_commit);
	free(r->started_at);
	free(r->spec);
	free(r->command);
	free(r->cores);
	free(r->sweep_id);
	free(r->run_ids);
	free(r->shards);
	free(r->hosts);
	free(r->cpu_models);
	free(r->commits);
	memset(r, 0, sizeof(*r));
}
