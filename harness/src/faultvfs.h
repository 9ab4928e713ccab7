/*
 * Fault injection under the store, for the tests only (see faultvfs.c): with
 * ATTNBENCH_FAULT set, SQLite runs on a VFS shim that fails the Nth write,
 * sync or open, and on an allocator that fails the Nth allocation.
 */
#ifndef ATTNBENCH_FAULTVFS_H
#define ATTNBENCH_FAULTVFS_H

#include <stddef.h>

/*
 * Read ATTNBENCH_FAULT and, when set, install the allocator and the VFS
 * before SQLite starts; then start SQLite. Once per process (later calls
 * return the first one's answer). ATTN_OK, ATTN_ERR_INVALID for a bad
 * variable or a SQLite started too early to take the allocator, or
 * ATTN_ERR_NOMEM when SQLite could not start (a malloc fault can do that).
 */
int attn__fault_init(char *err, size_t errlen);

/*
 * " [ATTNBENCH_FAULT=write:17: 2 failures injected]" once a failure was
 * injected, "" otherwise: appended to database errors so that a test's
 * failure is never mistaken for a real one.
 */
const char *attn__fault_note(void);

/*
 * With ATTNBENCH_FAULT_LOG=FILE, append the counts of every kind of call so
 * far ("counts write=W sync=S open=O malloc=M"); a test reads the last line
 * to learn how many fault points a run has. A no-op otherwise.
 */
void attn__fault_log_counts(void);

#endif /* ATTNBENCH_FAULTVFS_H */
