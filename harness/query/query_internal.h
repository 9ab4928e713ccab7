/*
 * What the query layer's files share, private to harness/query/: a failed
 * prepare or step reported the same way everywhere (ATTN_ERR_DB with
 * SQLite's message), a text column read into a buffer or a copy, and which
 * runs a reader reads when it is given one.
 */
#ifndef ATTNBENCH_QUERY_INTERNAL_H
#define ATTNBENCH_QUERY_INTERNAL_H

#include <stddef.h>

struct sqlite3;
struct sqlite3_stmt;
int attn__query_error(struct sqlite3 *db, char *err, size_t errlen);

/* Column i as text into buf, truncated to len; "" for NULL. */
void attn__query_text(struct sqlite3_stmt *s, int i, char *buf, size_t len);

/* Column i as a malloc'd string into *out; NULL for NULL. -1 when the copy fails. */
int attn__query_dup_text(struct sqlite3_stmt *s, int i, char **out);

/*
 * A run's run set: the run P ("?1") and, when it has a run_info sweep_id,
 * every run with the same sweep_id (the other shards of its sweep, once
 * `attnbench merge` has put them in one file), as an SQL row source of run
 * ids. A run without one is a set of one, so an unsharded run reads exactly
 * as it did before sweeps had shards.
 */
#define ATTN__RUN_SET_OF(P)                                                                        \
	"(SELECT " P " UNION SELECT o.run_id FROM run_info o JOIN run_info m ON o.key = "          \
	"'sweep_id' AND o.value = m.value WHERE m.key = 'sweep_id' AND m.run_id = " P ")"

/*
 * The run set of the run bound at ?1, as the table `run_set(id)` of a
 * statement that starts with this. Every reader of "a run's cases" (or its
 * roofs, masks, form comparisons) starts so and reads `run_id IN run_set`,
 * so that the shards of a sweep are read as the one sweep they are, and
 * this is the only place that says how.
 */
#define ATTN__WITH_RUN_SET "WITH run_set(id) AS " ATTN__RUN_SET_OF("?1") " "

/*
 * The distinct values of runs.COL over run_set, ", "-joined in run order (by
 * each value's first run): a set's hosts, CPUs or commits, where one of them
 * would stand silently for the others.
 */
#define ATTN__SET_DISTINCT(COL)                                                                    \
	"(SELECT group_concat(v, ', ') FROM (SELECT " COL " AS v FROM runs WHERE id IN run_set "   \
	"GROUP BY " COL " ORDER BY MIN(id)))"
#define ATTN__SET_HOSTS   ATTN__SET_DISTINCT("hostname")
#define ATTN__SET_CPUS    ATTN__SET_DISTINCT("cpu_model")
#define ATTN__SET_COMMITS ATTN__SET_DISTINCT("git_commit")

#endif /* ATTNBENCH_QUERY_INTERNAL_H */
