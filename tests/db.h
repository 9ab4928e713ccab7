/*
 * Queries a suite makes on a database to check what the code under test
 * stored: on an open handle, or on a file opened for the one query. A
 * statement that does not prepare or run fails the test with its SQL and
 * SQLite's message. And a store (store.h) opened for a suite to write or
 * read through, failing the test with the store's message.
 */
#ifndef ATTN_TEST_DB_H
#define ATTN_TEST_DB_H

#include <check.h>
#include <sqlite3.h>

#include "attnbench/status.h"
#include "attnbench/store.h"

/* What the integer queries give for NULL, so that it is not mistaken for 0. */
#define DB_NULL (-999)

/*
 * The first column of the first row of sql, as a double; *is_null says it
 * was NULL. The row must be there.
 */
static inline double db_real(sqlite3 *db, const char *sql, int *is_null)
{
	sqlite3_stmt *s;
	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK, "%s: %s", sql,
	              sqlite3_errmsg(db));
	ck_assert_msg(sqlite3_step(s) == SQLITE_ROW, "%s: no row", sql);
	*is_null = sqlite3_column_type(s, 0) == SQLITE_NULL;
	double v = sqlite3_column_double(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* The first column of the first row of sql, DB_NULL for NULL; -1 if no row, unless needed. */
static inline long long db_value(sqlite3 *db, const char *sql, int row_needed)
{
	sqlite3_stmt *s;
	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK, "%s: %s", sql,
	              sqlite3_errmsg(db));
	int rc = sqlite3_step(s);
	ck_assert_msg(rc == SQLITE_ROW || (!row_needed && rc == SQLITE_DONE), "%s: %s", sql,
	              rc == SQLITE_DONE ? "no row" : sqlite3_errmsg(db));
	long long v = -1;
	if (rc == SQLITE_ROW)
		v = sqlite3_column_type(s, 0) == SQLITE_NULL ? DB_NULL : sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* The integer sql gives on an open database, DB_NULL for NULL; the row must be there. */
static inline long long db_int(sqlite3 *db, const char *sql)
{
	return db_value(db, sql, 1);
}

static inline void db_exec(sqlite3 *db, const char *sql)
{
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "%s: %s", sql,
	              sqlite3_errmsg(db));
}

/*
 * The database at path, opened for one statement. It waits up to 10 s for a
 * lock, since a suite may read while a sweep it started is writing.
 */
static inline sqlite3 *db_file_open(const char *path)
{
	sqlite3 *db;
	ck_assert_msg(sqlite3_open(path, &db) == SQLITE_OK, "%s: %s", path, sqlite3_errmsg(db));
	sqlite3_busy_timeout(db, 10000);
	return db;
}

/*
 * The integer sql gives on the database at path, DB_NULL for NULL and -1
 * when there is no row (a caller may ask after a row that need not exist).
 */
static inline long long db_file_int(const char *path, const char *sql)
{
	sqlite3 *db = db_file_open(path);
	long long v = db_value(db, sql, 0);
	sqlite3_close(db);
	return v;
}

static inline void db_file_exec(const char *path, const char *sql)
{
	sqlite3 *db = db_file_open(path);
	db_exec(db, sql);
	sqlite3_close(db);
}

/* The store at path opened in mode (ATTN_STORE_*); the caller closes it. */
static inline struct attn_store *db_store_open(const char *path, int mode)
{
	struct attn_store *st;
	char err[1024];
	ck_assert_msg(attn_store_open(path, mode, &st, err, sizeof(err)) == ATTN_OK, "%s: %s", path,
	              err);
	return st;
}

/* A copy of the database at from, at to, made by SQLite so that what its WAL holds comes too. */
static inline void db_file_copy(const char *from, const char *to)
{
	char *sql = sqlite3_mprintf("VACUUM INTO %Q", to);
	ck_assert_ptr_nonnull(sql);
	db_file_exec(from, sql);
	sqlite3_free(sql);
}

#endif /* ATTN_TEST_DB_H */
