/*
 * The query layer's read of sharded sweeps (see query.h): for every
 * sweep_id a database holds, which of its shards 1..N have a run, which
 * are missing, which are there but not finished, and where its runs
 * disagree. `attnbench merge` reports it after merging, so that a shard
 * that never arrived or stopped halfway is named rather than silently
 * absent from the figures.
 *
 * The shard keys are the sweep driver's run_info (shard_index, shard_count,
 * shard_cases, spec_hash, sweep_id), as text; a value that is not a number
 * reads as 0 and is reported as a problem, never trusted.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/query.h"
#include "attnbench/status.h"
#include "internal.h"
#include "query_internal.h"

/* Shard counts above this are not a sweep's: reported, not allocated for. */
#define MAX_SHARDS (1 << 20)

/* A whole decimal number, else `bad`. */
static int64_t number(const char *t, int64_t bad)
{
	if (!t || !*t)
		return bad;
	char *end;
	long long v = strtoll(t, &end, 10);
	return *end ? bad : (int64_t)v;
}

/* Does the database have runs.uuid (schema 9)? A v7/v8 file read as it is has not. */
static int has_uuid(sqlite3 *db)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info('runs') WHERE name = 'uuid'",
	                       -1, &s, NULL) != SQLITE_OK)
		return 0;
	int yes = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	return yes;
}

/* Append to a malloc'd "; "-joined list; -1 when out of memory. */
static int add_problem(char **list, const char *text)
{
	size_t old = *list ? strlen(*list) : 0, add = strlen(text);
	char *p = realloc(*list, old + add + 3);
	if (!p)
		return -1;
	if (old)
		memcpy(p + old, "; ", 2), old += 2;
	memcpy(p + old, text, add + 1);
	*list = p;
	return 0;
}

/* Work out N, missing, incomplete and problems of a sweep whose runs are read. */
static int settle_sweep(struct attn_query_sweep_shards *w)
{
	char line[512];
	int rc = 0;
	w->shard_count = 0;
	w->sweep_cases = -1;
	for (int i = 0; i < w->n_runs && !w->shard_count; i++)
		w->shard_count = w->runs[i].count;
	for (int i = 0; i < w->n_runs && w->sweep_cases < 0; i++)
		w->sweep_cases = w->runs[i].sweep_cases;
	for (int i = 0; i < w->n_runs; i++) {
		struct attn_query_shard_run *r = &w->runs[i];
		r->complete = strcmp(r->status, "complete") == 0 &&
		              (r->shard_cases < 0 || r->cases >= r->shard_cases ||
		               (w->sweep_cases >= 0 && w->cases >= w->sweep_cases));
	}
	int64_t n = w->shard_count;
	/* agreement on N and on the spec */
	for (int i = 1; i < w->n_runs && rc == 0; i++) {
		const struct attn_query_shard_run *a = &w->runs[0], *b = &w->runs[i];
		if (b->count != n) {
			snprintf(line, sizeof(line),
			         "runs %lld and %lld disagree on shard_count (%lld, %lld)",
			         (long long)a->run, (long long)b->run, (long long)n,
			         (long long)b->count);
			rc = add_problem(&w->problems, line);
		}
		if (rc == 0 && strcmp(a->spec_hash, b->spec_hash) != 0) {
			snprintf(line, sizeof(line),
			         "runs %lld and %lld disagree on spec_hash (%s, %s)",
			         (long long)a->run, (long long)b->run,
			         a->spec_hash[0] ? a->spec_hash : "none",
			         b->spec_hash[0] ? b->spec_hash : "none");
			rc = add_problem(&w->problems, line);
		}
	}
	if (n < 1 || n > MAX_SHARDS) {
		snprintf(line, sizeof(line), "shard_count %lld is not a shard count", (long long)n);
		return rc ? rc : add_problem(&w->problems, line);
	}
	/* per index: how many runs, whether one is complete */
	int *runs_at = calloc((size_t)n + 1, sizeof(int));
	unsigned char *done_at = calloc((size_t)n + 1, 1);
	w->missing = malloc((size_t)n * sizeof(*w->missing));
	if (!runs_at || !done_at || !w->missing) {
		free(runs_at);
		free(done_at);
		return -1;
	}
	for (int i = 0; i < w->n_runs && rc == 0; i++) {
		struct attn_query_shard_run *r = &w->runs[i];
		if (r->index < 1 || r->index > n) {
			snprintf(line, sizeof(line), "run %lld (host %s) claims shard %lld of %lld",
			         (long long)r->run, r->host, (long long)r->index, (long long)n);
			rc = add_problem(&w->problems, line);
			continue;
		}
		if (runs_at[r->index]++) {
			/* runs are sorted by index: the earlier run of this index is i - 1 */
			const struct attn_query_shard_run *p = &w->runs[i - 1];
			snprintf(line, sizeof(line),
			         "shard %lld is claimed by two runs: %lld (host %s%s%s) and %lld "
			         "(host %s%s%s)",
			         (long long)r->index, (long long)p->run, p->host,
			         p->uuid[0] ? ", uuid " : "", p->uuid, (long long)r->run, r->host,
			         r->uuid[0] ? ", uuid " : "", r->uuid);
			rc = add_problem(&w->problems, line);
		}
		if (r->complete)
			done_at[r->index] = 1;
	}
	for (int64_t k = 1; k <= n; k++) {
		if (!runs_at[k])
			w->missing[w->n_missing++] = k;
		else if (!done_at[k])
			w->n_incomplete++;
	}
	for (int i = 0; i < w->n_runs; i++) {
		struct attn_query_shard_run *r = &w->runs[i];
		r->incomplete =
		    !r->complete && !(r->index >= 1 && r->index <= n && done_at[r->index]);
	}
	free(runs_at);
	free(done_at);
	return rc;
}

int attn_query_shards(struct attn_store *st, struct attn_query_sweep_shards **out, int *n,
                      char *err, size_t errlen)
{
	sqlite3 *db = attn__store_handle(st);
	*out = NULL;
	*n = 0;
	char sql[1536];
	snprintf(sql, sizeof(sql),
	         "SELECT i.value, r.id, %s, r.hostname, r.status,"
	         " (SELECT value FROM run_info WHERE run_id = r.id AND key = 'shard_index') AS si,"
	         " (SELECT value FROM run_info WHERE run_id = r.id AND key = 'shard_count'),"
	         " (SELECT value FROM run_info WHERE run_id = r.id AND key = 'shard_cases'),"
	         " (SELECT value FROM run_info WHERE run_id = r.id AND key = 'spec_hash'),"
	         " (SELECT count(*) FROM cases WHERE run_id = r.id),"
	         " (SELECT value FROM run_info WHERE run_id = r.id AND key = 'sweep_cases'),"
	         " (SELECT count(DISTINCT c.key) FROM cases c JOIN run_info j ON j.run_id ="
	         " c.run_id AND j.key = 'sweep_id' WHERE j.value = i.value)"
	         " FROM run_info i JOIN runs r ON r.id = i.run_id WHERE i.key = 'sweep_id'"
	         " ORDER BY i.value, CAST(si AS INTEGER), r.id",
	         has_uuid(db) ? "r.uuid" : "NULL");
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return attn__query_error(db, err, errlen);
	struct attn_query_sweep_shards *v = NULL;
	int cap = 0, step, rc = ATTN_OK;
	while (rc == ATTN_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(s, 0);
		id = id ? id : "";
		struct attn_query_sweep_shards *w = *n ? &v[*n - 1] : NULL;
		if (!w || strcmp(w->sweep_id, id) != 0) {
			if (*n == cap) {
				cap = cap ? 2 * cap : 4;
				struct attn_query_sweep_shards *g =
				    realloc(v, (size_t)cap * sizeof(*g));
				if (!g) {
					rc = ATTN_ERR_NOMEM;
					break;
				}
				v = g;
			}
			w = &v[(*n)++];
			memset(w, 0, sizeof(*w));
			if (!(w->sweep_id = attn__strdup(id))) {
				rc = ATTN_ERR_NOMEM;
				break;
			}
		}
		struct attn_query_shard_run *r =
		    realloc(w->runs, (size_t)(w->n_runs + 1) * sizeof(*r));
		if (!r) {
			rc = ATTN_ERR_NOMEM;
			break;
		}
		w->runs = r;
		r = &w->runs[w->n_runs++];
		memset(r, 0, sizeof(*r));
		char num[64];
		r->run = sqlite3_column_int64(s, 1);
		attn__query_text(s, 2, r->uuid, sizeof(r->uuid));
		attn__query_text(s, 3, r->host, sizeof(r->host));
		attn__query_text(s, 4, r->status, sizeof(r->status));
		attn__query_text(s, 5, num, sizeof(num));
		r->index = number(num, 0);
		attn__query_text(s, 6, num, sizeof(num));
		r->count = number(num, 0);
		attn__query_text(s, 7, num, sizeof(num));
		r->shard_cases = number(num, -1);
		attn__query_text(s, 8, r->spec_hash, sizeof(r->spec_hash));
		r->cases = sqlite3_column_int64(s, 9);
		attn__query_text(s, 10, num, sizeof(num));
		r->sweep_cases = number(num, -1);
		w->cases = sqlite3_column_int64(s, 11); /* the sweep's: the same on each row */
	}
	if (rc == ATTN_OK && step != SQLITE_DONE)
		rc = attn__query_error(db, err, errlen);
	sqlite3_finalize(s);
	for (int i = 0; rc == ATTN_OK && i < *n; i++)
		if (settle_sweep(&v[i]))
			rc = ATTN_ERR_NOMEM;
	if (rc == ATTN_ERR_NOMEM)
		attn_errf(err, errlen, rc, "out of memory reading the sharded sweeps");
	if (rc != ATTN_OK) {
		attn_query_shards_free(v, *n);
		*n = 0;
		return rc;
	}
	*out = v;
	return ATTN_OK;
}

void attn_query_shards_free(struct attn_query_sweep_shards *s, int n)
{
	for (int i = 0; s && i < n; i++) {
		free(s[i].sweep_id);
		free(s[i].runs);
		free(s[i].missing);
		free(s[i].problems);
	}
	free(s);
}
