/*
 * What the query layer's files share, private to harness/query/: a failed
 * prepare or step reported the same way everywhere (ATTN_ERR_DB with
 * SQLite's message).
 */
#ifndef ATTNBENCH_QUERY_INTERNAL_H
#define ATTNBENCH_QUERY_INTERNAL_H

#include <stddef.h>

struct sqlite3;
int attn__query_error(struct sqlite3 *db, char *err, size_t errlen);

#endif /* ATTNBENCH_QUERY_INTERNAL_H */
