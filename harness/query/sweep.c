/*
 * The sweep driver's reads of the schema: what a run recorded about its own
 * measurement (one run_info key) and which plugins it took methods from, so
 * that --resume measures the rest of a run the way its first part was
 * measured. Writes stay in the store (store.c); this file only reads.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/query.h"
#include "attnbench/status.h"
#include "internal.h"
#include "query_internal.h"

int attn_query_sweep_info(struct attn_store *st, int64_t run_id, const char *key, char **value,
                          char *err, size_t errlen)
{
	sqlite3 *db = attn__store_handle(st);
	sqlite3_stmt *s;
	*value = NULL;
	if (sqlite3_prepare_v2(db, "SELECT value FROM run_info WHERE run_id = ? AND key = ?", -1,
	                       &s, NULL) != SQLITE_OK)
		return attn__query_error(db, err, errlen);
	sqlite3_bind_int64(s, 1, run_id);
	sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(s, 0);
		rc = (*value = attn__strdup(t ? (const char *)t : "")) ? SQLITE_DONE : SQLITE_NOMEM;
	}
	int out = rc == SQLITE_DONE    ? ATTN_OK
	          : rc == SQLITE_NOMEM ? attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory")
	                               : attn__query_error(db, err, errlen);
	sqlite3_finalize(s);
	return out;
}

void attn_query_sweep_plugins_free(struct attn_query_sweep_plugin *p, int n)
{
	for (int i = 0; p && i < n; i++) {
		free(p[i].path);
		free(p[i].value);
	}
	free(p);
}

int attn_query_sweep_plugins(struct attn_store *st, int64_t run_id,
                             struct attn_query_sweep_plugin **out, int *n, char *err, size_t errlen)
{
	sqlite3 *db = attn__store_handle(st);
	sqlite3_stmt *s;
	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(db,
	                       "SELECT substr(key, 8), value FROM run_info WHERE run_id = ? "
	                       "AND substr(key, 1, 7) = 'plugin:' ORDER BY key",
	                       -1, &s, NULL) != SQLITE_OK)
		return attn__query_error(db, err, errlen);
	sqlite3_bind_int64(s, 1, run_id);
	int rc = ATTN_OK, step, cap = 0;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 8;
			struct attn_query_sweep_plugin *grown =
			    realloc(*out, (size_t)cap * sizeof(**out));
			if (!grown) {
				rc = attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
				break;
			}
			*out = grown;
		}
		struct attn_query_sweep_plugin *p = &(*out)[(*n)++];
		p->path = p->value = NULL;
		/* NULL stays NULL: a malformed record the caller names. */
		if (attn__query_dup_text(s, 0, &p->path) || attn__query_dup_text(s, 1, &p->value)) {
			rc = attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
			break;
		}
	}
	if (rc == ATTN_OK && step != SQLITE_DONE)
		rc = attn__query_error(db, err, errlen);
	sqlite3_finalize(s);
	if (rc) {
		attn_query_sweep_plugins_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}
