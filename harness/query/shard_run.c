/*
 * The sweep driver's read for a sharded --resume: the run the database
 * holds of a shard, and whether it is complete, so that a task resubmitted
 * after it finished has nothing to do and one that was killed resumes its
 * own run (see driver.c, shard_find).
 */
#include <sqlite3.h>

#include "attnbench/query.h"
#include "attnbench/status.h"
#include "internal.h"
#include "query_internal.h"

int attn_query_shard_run(struct attn_store *st, const char *shard, const char *sweep_id,
                         int complete_only, int64_t *run, int *complete, char *err, size_t errlen)
{
	sqlite3 *db = attn__store_handle(st);
	sqlite3_stmt *s;
	*run = 0;
	*complete = 0;
	if (sqlite3_prepare_v2(db,
	                       "SELECT r.id, r.status = 'complete' FROM runs r JOIN run_info a ON "
	                       "a.run_id = r.id AND a.key = 'shard' AND a.value = ?1 WHERE "
	                       "(?3 = 0 OR r.status = 'complete') AND (?2 IS NULL OR EXISTS "
	                       "(SELECT 1 FROM run_info b WHERE b.run_id = r.id AND b.key = "
	                       "'sweep_id' AND b.value = ?2)) ORDER BY r.id DESC LIMIT 1",
	                       -1, &s, NULL) != SQLITE_OK)
		return attn__query_error(db, err, errlen);
	sqlite3_bind_text(s, 1, shard, -1, SQLITE_STATIC);
	if (sweep_id)
		sqlite3_bind_text(s, 2, sweep_id, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, complete_only);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*run = sqlite3_column_int64(s, 0);
		*complete = sqlite3_column_int(s, 1);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? ATTN_OK : attn__query_error(db, err, errlen);
}
