/*
 * Merging databases: the store's half of `attnbench merge` (see store.h).
 * The shards of a sweep that ran on many machines, each into its own file,
 * and the runs of machines that ran the same sweep become one database.
 *
 * The input is read through its own read-only store handle (never ATTACHed
 * for writing, never migrated in place), so it is left byte for byte as it
 * was; an input older than this build's schema is first copied with
 * SQLite's backup API into a private file that the store's own migration
 * brings forward. The output is written in one transaction per input, rows
 * copied column by column under new ids (the columns named as the input's
 * statement names them, so both files' column order does not matter), and
 * rolled back on any failure, so a full disk leaves it as it was before
 * that input.
 *
 * Identity: a run is its runs.uuid. A case of a run is its key within the
 * run, and within a sweep (the runs sharing run_info's sweep_id) the key
 * also names one case across the shards, which is how two shards claiming
 * the same case are found.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attnbench/status.h"
#include "attnbench/store.h"
#include "faultvfs.h"
#include "internal.h"

/* --- is the input the output? -------------------------------------------- */

/*
 * 1 when in_path is out_path or one of its side files (-wal, -shm,
 * -journal): the same device and inode, so links and symlinks count too.
 */
static int is_output(const char *out_path, const char *in_path, char *which, size_t len)
{
	static const char *const side[] = {"", "-wal", "-shm", "-journal"};
	struct stat in, o;
	if (stat(in_path, &in) != 0)
		return 0;
	for (size_t i = 0; i < sizeof(side) / sizeof(*side); i++) {
		char p[1100];
		snprintf(p, sizeof(p), "%s%s", out_path, side[i]);
		if (stat(p, &o) == 0 && o.st_dev == in.st_dev && o.st_ino == in.st_ino) {
			snprintf(which, len, "%s", p);
			return 1;
		}
	}
	return 0;
}

static int refuse_output(const char *out_path, const char *in_path, char *err, size_t errlen)
{
	char which[1100];
	if (!is_output(out_path, in_path, which, sizeof(which)))
		return ATTN_OK;
	return attn_errf(err, errlen, ATTN_ERR_INVALID,
	                 "%s: is the output %s%s%s itself; a database cannot be merged into "
	                 "itself",
	                 in_path, which, strcmp(which, out_path) ? ", a file of " : "",
	                 strcmp(which, out_path) ? out_path : "");
}

int attn_store_merge_check(const char *out_path, const char *in_path, char *err, size_t errlen)
{
	int rc = refuse_output(out_path, in_path, err, errlen), version;
	if (rc)
		return rc;
	struct attn_store *in;
	if ((rc = attn__store_open_input(in_path, &in, &version, err, errlen)))
		return rc;
	attn_store_close(in);
	return ATTN_OK;
}

/* --- the input, migrated on a private copy when it is older ---------------- */

struct input {
	struct attn_store *st;
	sqlite3 *db;
	const char *path; /* as the caller named it */
	char copy[1100];  /* the private copy, "" when reading the file itself */
};

static void remove_copy(const char *copy)
{
	static const char *const side[] = {"", "-wal", "-shm", "-journal"};
	for (size_t i = 0; i < sizeof(side) / sizeof(*side); i++) {
		char p[1200];
		snprintf(p, sizeof(p), "%s%s", copy, side[i]);
		unlink(p);
	}
}

/* A new empty file for the copy: next to the output, else in $TMPDIR. */
static int make_copy_file(const char *out_path, char *copy, size_t len)
{
	const char *slash = strrchr(out_path, '/');
	const char *tmp = getenv("TMPDIR");
	char dirs[2][1024];
	snprintf(dirs[0], sizeof(dirs[0]), "%.*s", slash ? (int)(slash - out_path) : 1,
	         slash ? out_path : ".");
	if (slash == out_path)
		snprintf(dirs[0], sizeof(dirs[0]), "/");
	snprintf(dirs[1], sizeof(dirs[1]), "%s", tmp && *tmp ? tmp : "/tmp");
	for (int i = 0; i < 2; i++) {
		snprintf(copy, len, "%s/.attnbench-merge-XXXXXX", dirs[i]);
		int fd = mkstemp(copy);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
	}
	return -1;
}

/*
 * Copy in's database (src, read-only) into a new private file with the
 * backup API, then open that with ATTN_STORE_EXISTING, which migrates it.
 */
static int migrate_copy(struct input *in, const char *out_path, int version, char *err,
                        size_t errlen)
{
	if (make_copy_file(out_path, in->copy, sizeof(in->copy)))
		return attn_errf(err, errlen, ATTN_ERR_IO,
		                 "%s: schema version %d must be migrated on a copy, and no file "
		                 "for it can be made next to %s or in $TMPDIR: %s",
		                 in->path, version, out_path, strerror(errno));
	sqlite3 *dst = NULL;
	int rc = ATTN_OK;
	if (sqlite3_open_v2(in->copy, &dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		rc = attn_errf(err, errlen, ATTN_ERR_DB, "%s: copying it to migrate it: %s%s",
		               in->path, dst ? sqlite3_errmsg(dst) : "out of memory",
		               attn__fault_note());
		goto done;
	}
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", in->db, "main");
	int step = b ? sqlite3_backup_step(b, -1) : SQLITE_ERROR;
	if (b)
		sqlite3_backup_finish(b);
	if (step != SQLITE_DONE) {
		rc = attn_errf(err, errlen, ATTN_ERR_DB, "%s: copying it to migrate it (%s): %s%s",
		               in->path, in->copy, sqlite3_errmsg(dst), attn__fault_note());
		goto done;
	}
	if (sqlite3_close(dst) != SQLITE_OK) {
		rc = attn_errf(err, errlen, ATTN_ERR_DB, "%s: copying it to migrate it: %s%s",
		               in->path, sqlite3_errmsg(dst), attn__fault_note());
		goto done;
	}
	dst = NULL;
	attn_store_close(in->st);
	in->st = NULL;
	in->db = NULL;
	char why[1024];
	if ((rc = attn_store_open(in->copy, ATTN_STORE_EXISTING, &in->st, why, sizeof(why)))) {
		rc = attn_errf(err, errlen, rc,
		               "%s: migrating a copy of it from schema version %d: %s", in->path,
		               version, why);
		goto done;
	}
	in->db = attn__store_handle(in->st);
done:
	sqlite3_close(dst);
	return rc;
}

static int input_open(struct input *in, const char *out_path, const char *path, char *err,
                      size_t errlen)
{
	memset(in, 0, sizeof(*in));
	in->path = path;
	int rc = refuse_output(out_path, path, err, errlen), version;
	if (rc || (rc = attn__store_open_input(path, &in->st, &version, err, errlen)))
		return rc;
	in->db = attn__store_handle(in->st);
	if (version < ATTN_SCHEMA_VERSION)
		rc = migrate_copy(in, out_path, version, err, errlen);
	return rc;
}

static void input_close(struct input *in)
{
	attn_store_close(in->st);
	if (in->copy[0])
		remove_copy(in->copy);
	memset(in, 0, sizeof(*in));
}

/* --- copying rows ---------------------------------------------------------- */

/*
 * One table's copy: rows of the input selected by where_col = ?, inserted
 * into the output with skip_col left out (the new row gets a new id) and
 * set_col given a new value (the parent's new id). The INSERT is made from
 * the SELECT's column names at the first row.
 */
struct copier {
	const char *table, *where_col, *skip_col, *set_col;
	int or_ignore;
	sqlite3_stmt *sel, *ins;
};

enum {
	C_RUNS,
	C_RUN_INFO,
	C_RUN_COUNTERS,
	C_RUN_ROOFS,
	C_FITS,
	C_FORM_DIFFS,
	C_CASES,
	C_SAMPLES,
	C_METRICS,
	C_SAMPLE_COUNTERS,
	C_MASKS,
	N_COPIERS
};

/* What a run brings; run_owner is not among them (a claim stays in its file). */
static const struct copier copier_init[N_COPIERS] = {
    [C_RUNS] = {"runs", "id", "id", NULL, 0, NULL, NULL},
    [C_RUN_INFO] = {"run_info", "run_id", NULL, "run_id", 1, NULL, NULL},
    [C_RUN_COUNTERS] = {"run_counters", "run_id", NULL, "run_id", 1, NULL, NULL},
    [C_RUN_ROOFS] = {"run_roofs", "run_id", NULL, "run_id", 1, NULL, NULL},
    [C_FITS] = {"fits", "run_id", NULL, "run_id", 1, NULL, NULL},
    [C_FORM_DIFFS] = {"form_diffs", "run_id", NULL, "run_id", 1, NULL, NULL},
    [C_CASES] = {"cases", "id", "id", "run_id", 0, NULL, NULL},
    [C_SAMPLES] = {"samples", "case_id", NULL, "case_id", 0, NULL, NULL},
    [C_METRICS] = {"metrics", "case_id", NULL, "case_id", 0, NULL, NULL},
    [C_SAMPLE_COUNTERS] = {"sample_counters", "case_id", NULL, "case_id", 0, NULL, NULL},
    [C_MASKS] = {"masks", "case_id", NULL, "case_id", 0, NULL, NULL},
};

struct merge {
	struct input *in;
	struct attn_store *out_st;
	sqlite3 *out;
	const char *out_path;
	int prefer;
	struct attn_merge_stats *stats;
	struct copier cp[N_COPIERS];
	sqlite3_stmt *print_in, *print_out; /* a case's result as text, per side */
	sqlite3_stmt *lookup;               /* the output's case of (run, key) */
	char *err;
	size_t errlen;
};

/* A failure of the output's connection (or, in_side, the input's), as the store words it. */
static int merge_err(struct merge *m, int in_side, const char *what)
{
	sqlite3 *db = in_side ? m->in->db : m->out;
	int code = sqlite3_extended_errcode(db) & 0xff;
	const char *hint = code == SQLITE_FULL                               ? " (the disk is full)"
	                   : code == SQLITE_BUSY || code == SQLITE_LOCKED    ? " (another process "
	                                                                       "holds the database)"
	                   : code == SQLITE_READONLY                         ? " (the file or its "
	                                                                       "folder is read-only)"
	                   : code == SQLITE_CORRUPT || code == SQLITE_NOTADB ? " (the file is "
	                                                                       "corrupt)"
	                                                                     : "";
	return attn_errf(m->err, m->errlen, ATTN_ERR_DB, "%s: merging %s: %s: %s%s%s",
	                 in_side ? m->in->path : m->out_path, m->in->path, what, sqlite3_errmsg(db),
	                 hint, attn__fault_note());
}

static int copier_prepare_insert(struct merge *m, struct copier *c)
{
	char sql[2048], vals[512];
	int n = sqlite3_column_count(c->sel);
	snprintf(sql, sizeof(sql), "INSERT %sINTO %s(", c->or_ignore ? "OR IGNORE " : "", c->table);
	vals[0] = 0;
	int k = 0;
	for (int i = 0; i < n; i++) {
		const char *name = sqlite3_column_name(c->sel, i);
		if (c->skip_col && strcmp(name, c->skip_col) == 0)
			continue;
		attn__append(sql, sizeof(sql), "%s\"%s\"", k ? "," : "", name);
		attn__append(vals, sizeof(vals), "%s?", k ? "," : "");
		k++;
	}
	attn__append(sql, sizeof(sql), ") VALUES (%s)", vals);
	if (sqlite3_prepare_v2(m->out, sql, -1, &c->ins, NULL) != SQLITE_OK)
		return merge_err(m, 0, c->table);
	return ATTN_OK;
}

/*
 * Copy the input's rows of c->table where where_col = from, with set_col =
 * to; *added (may be NULL) counts the rows the output took; *last the new
 * rowid of the last row inserted.
 */
static int copy_rows(struct merge *m, int which, int64_t from, int64_t to, int64_t *added,
                     int64_t *last)
{
	struct copier *c = &m->cp[which];
	if (!c->sel) {
		char sql[256];
		snprintf(sql, sizeof(sql), "SELECT * FROM %s WHERE %s = ?", c->table, c->where_col);
		if (sqlite3_prepare_v2(m->in->db, sql, -1, &c->sel, NULL) != SQLITE_OK)
			return merge_err(m, 1, c->table);
	}
	sqlite3_reset(c->sel);
	sqlite3_bind_int64(c->sel, 1, from);
	int step, rc;
	while ((step = sqlite3_step(c->sel)) == SQLITE_ROW) {
		if (!c->ins && (rc = copier_prepare_insert(m, c)))
			return rc;
		sqlite3_reset(c->ins);
		int n = sqlite3_column_count(c->sel), k = 1;
		for (int i = 0; i < n; i++) {
			const char *name = sqlite3_column_name(c->sel, i);
			if (c->skip_col && strcmp(name, c->skip_col) == 0)
				continue;
			if (c->set_col && strcmp(name, c->set_col) == 0)
				sqlite3_bind_int64(c->ins, k++, to);
			else
				sqlite3_bind_value(c->ins, k++, sqlite3_column_value(c->sel, i));
		}
		if (sqlite3_step(c->ins) != SQLITE_DONE)
			return merge_err(m, 0, c->table);
		if (added)
			*added += sqlite3_changes(m->out);
		if (last)
			*last = sqlite3_last_insert_rowid(m->out);
	}
	if (step != SQLITE_DONE)
		return merge_err(m, 1, c->table);
	return ATTN_OK;
}

/* --- comparing cases ------------------------------------------------------- */

/*
 * A case's result as one text, the same function on both sides: status,
 * message, every sample (rep, ns, iters) and every metric (name, value,
 * unit), in order. quote() writes a real so that it reads back the same.
 */
static const char print_sql[] =
    "SELECT c.status || char(31) || ifnull(c.message, '') || char(31) || ifnull((SELECT "
    "group_concat(rep || ':' || quote(ns) || ':' || iters, ',') FROM (SELECT rep, ns, iters "
    "FROM samples WHERE case_id = c.id ORDER BY rep)), '') || char(31) || ifnull((SELECT "
    "group_concat(name || '=' || quote(value) || ' ' || unit, ',') FROM (SELECT name, value, "
    "unit FROM metrics WHERE case_id = c.id ORDER BY name)), '') FROM cases c WHERE c.id = ?";

/* The result text of case id (malloc'd) into *text. */
static int case_print(struct merge *m, int in_side, int64_t id, char **text)
{
	sqlite3 *db = in_side ? m->in->db : m->out;
	sqlite3_stmt **s = in_side ? &m->print_in : &m->print_out;
	*text = NULL;
	if (!*s && sqlite3_prepare_v2(db, print_sql, -1, s, NULL) != SQLITE_OK)
		return merge_err(m, in_side, "comparing cases");
	sqlite3_reset(*s);
	sqlite3_bind_int64(*s, 1, id);
	if (sqlite3_step(*s) != SQLITE_ROW)
		return merge_err(m, in_side, "comparing cases");
	const char *t = (const char *)sqlite3_column_text(*s, 0);
	*text = attn__strdup(t ? t : "");
	sqlite3_reset(*s);
	return *text ? ATTN_OK : attn_errf(m->err, m->errlen, ATTN_ERR_NOMEM, "out of memory");
}

/* The status part of a result text, for messages. */
static void print_status(const char *text, char *buf, size_t len)
{
	snprintf(buf, len, "%.*s", (int)strcspn(text, "\x1f"), text);
}

/* --- one run --------------------------------------------------------------- */

/* running < failed, interrupted < complete: a status moves only forward. */
static int status_rank(const char *s)
{
	if (!s)
		return -1;
	if (strcmp(s, "complete") == 0)
		return 2;
	if (strcmp(s, "interrupted") == 0 || strcmp(s, "failed") == 0)
		return 1;
	return 0;
}

/* One run of either side: where it is and what a message needs of it. */
struct run_ref {
	int64_t id;
	char uuid[40], host[128];
};

/* Append s to the ", "-separated list unless it is there already. */
static void add_distinct(char *list, size_t len, const char *s)
{
	if (!s || !*s)
		return;
	for (const char *p = list; (p = strstr(p, s)) != NULL; p++) {
		size_t n = strlen(s);
		if ((p == list || p[-1] == ' ') && (p[n] == 0 || p[n] == ','))
			return;
	}
	attn__append(list, len, "%s%s", *list ? ", " : "", s);
}

/* Column i as text into buf ("" for NULL). */
static void col_text(sqlite3_stmt *s, int i, char *buf, size_t len)
{
	const char *t = (const char *)sqlite3_column_text(s, i);
	snprintf(buf, len, "%s", t ? t : "");
}

/* A single text value of sql on db with one int64 and one optional text bound; "" if none. */
static int one_text(struct merge *m, int in_side, const char *sql, int64_t a, const char *b,
                    char *buf, size_t len)
{
	sqlite3 *db = in_side ? m->in->db : m->out;
	sqlite3_stmt *s;
	buf[0] = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return merge_err(m, in_side, "reading a run");
	sqlite3_bind_int64(s, 1, a);
	if (b)
		sqlite3_bind_text(s, 2, b, -1, SQLITE_STATIC);
	int step = sqlite3_step(s);
	if (step == SQLITE_ROW)
		col_text(s, 0, buf, len);
	sqlite3_finalize(s);
	return step == SQLITE_ROW || step == SQLITE_DONE ? ATTN_OK
	                                                 : merge_err(m, in_side, "reading a run");
}

static const char info_sql[] = "SELECT value FROM run_info WHERE run_id = ? AND key = ?";

/*
 * The output's runs that are siblings of run `own` in sweep_id (the same
 * sweep_id, another run), own first: where a case of the input's run may
 * already be. *targets malloc'd.
 */
static int sweep_targets(struct merge *m, int64_t own, const char *sweep_id,
                         struct run_ref **targets, int *n)
{
	*n = 0;
	*targets = NULL;
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(m->out,
	                       "SELECT r.id, r.uuid, r.hostname FROM runs r WHERE r.id = ?1 UNION "
	                       "ALL SELECT * FROM (SELECT r.id, r.uuid, r.hostname FROM run_info i "
	                       "JOIN runs r ON r.id = i.run_id WHERE i.key = 'sweep_id' AND "
	                       "i.value = ?2 AND r.id <> ?1 ORDER BY r.id)",
	                       -1, &s, NULL) != SQLITE_OK)
		return merge_err(m, 0, "finding the sweep's other shards");
	sqlite3_bind_int64(s, 1, own);
	if (sweep_id)
		sqlite3_bind_text(s, 2, sweep_id, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 2); /* no sweep: the run alone */
	int step, cap = 0;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 4;
			struct run_ref *t = realloc(*targets, (size_t)cap * sizeof(*t));
			if (!t) {
				sqlite3_finalize(s);
				return attn_errf(m->err, m->errlen, ATTN_ERR_NOMEM,
				                 "out of memory");
			}
			*targets = t;
		}
		struct run_ref *r = &(*targets)[(*n)++];
		r->id = sqlite3_column_int64(s, 0);
		col_text(s, 1, r->uuid, sizeof(r->uuid));
		col_text(s, 2, r->host, sizeof(r->host));
	}
	sqlite3_finalize(s);
	return step == SQLITE_DONE ? ATTN_OK : merge_err(m, 0, "finding the sweep's other shards");
}

/* A new case of the output's run `to`, copied with all its rows from the input's case `from`. */
static int add_case(struct merge *m, int64_t from, int64_t to)
{
	int64_t nc = 0;
	int rc = copy_rows(m, C_CASES, from, to, NULL, &nc);
	for (int t = C_SAMPLES; rc == ATTN_OK && t <= C_MASKS; t++)
		rc = copy_rows(m, t, from, nc, NULL, NULL);
	return rc;
}

/*
 * The input's case (in_case, key) of input run `src`, against the output's
 * runs in targets (the run's own first, then its siblings): present
 * (identical somewhere), a conflict (resolved by prefer, or refused), or
 * new. *add says whether to copy it in.
 */
static int settle_case(struct merge *m, const struct run_ref *src, const char *sweep_id,
                       int64_t in_case, const char *key, const struct run_ref *targets, int n,
                       int *add)
{
	*add = 1;
	if (!m->lookup &&
	    sqlite3_prepare_v2(m->out, "SELECT id FROM cases WHERE run_id = ? AND key = ?", -1,
	                       &m->lookup, NULL) != SQLITE_OK)
		return merge_err(m, 0, "looking up a case");
	sqlite3_stmt *s = m->lookup;
	char *mine = NULL;
	int rc = ATTN_OK, replaced = 0;
	for (int t = 0; t < n && rc == ATTN_OK && *add; t++) {
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, targets[t].id);
		sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
		int step = sqlite3_step(s);
		if (step == SQLITE_DONE)
			continue;
		if (step != SQLITE_ROW) {
			rc = merge_err(m, 0, "looking up a case");
			break;
		}
		int64_t held = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
		char *theirs = NULL;
		if ((!mine && (rc = case_print(m, 1, in_case, &mine))) ||
		    (rc = case_print(m, 0, held, &theirs)))
			break;
		if (strcmp(mine, theirs) == 0) {
			m->stats->cases_present++;
			*add = 0;
		} else if (m->prefer == ATTN_MERGE_PREFER_OLD) {
			m->stats->kept_old++;
			*add = 0;
		} else if (m->prefer == ATTN_MERGE_PREFER_NEW) {
			sqlite3_stmt *del;
			if (sqlite3_prepare_v2(m->out, "DELETE FROM cases WHERE id = ?", -1, &del,
			                       NULL) != SQLITE_OK)
				rc = merge_err(m, 0, "replacing a case");
			else {
				sqlite3_bind_int64(del, 1, held);
				if (sqlite3_step(del) != SQLITE_DONE)
					rc = merge_err(m, 0, "replacing a case");
				sqlite3_finalize(del);
			}
			replaced = 1;
		} else {
			char a[64], b[64];
			print_status(theirs, a, sizeof(a));
			print_status(mine, b, sizeof(b));
			rc = attn_errf(
			    m->err, m->errlen, ATTN_ERR_INVALID,
			    "%s: %s%s%scase %s: run %s (host %s) in %s holds it as '%s', run %s "
			    "(host %s) in %s as '%s'%s; nothing of %s was merged: choose with "
			    "--prefer old (keep %s's) or --prefer new (take %s's)",
			    m->in->path, sweep_id ? "sweep " : "", sweep_id ? sweep_id : "",
			    sweep_id ? ": " : "", key, targets[t].uuid, targets[t].host,
			    m->out_path, a, src->uuid, src->host, m->in->path, b,
			    strcmp(a, b) ? "" : " with other samples or metrics", m->in->path,
			    m->out_path, m->in->path);
		}
		free(theirs);
	}
	sqlite3_reset(s);
	free(mine);
	if (rc == ATTN_OK && *add && replaced)
		m->stats->took_new++;
	else if (rc == ATTN_OK && *add)
		m->stats->cases_added++;
	return rc;
}

/* Move the held run's status and finished_at forward to the input's, never back. */
static int advance_run(struct merge *m, int64_t held, const char *in_status,
                       const char *in_finished)
{
	char status[32], finished[64];
	int rc;
	if ((rc = one_text(m, 0, "SELECT status FROM runs WHERE id = ?", held, NULL, status,
	                   sizeof(status))) ||
	    (rc = one_text(m, 0, "SELECT finished_at FROM runs WHERE id = ?", held, NULL, finished,
	                   sizeof(finished))))
		return rc;
	int a = status_rank(status), b = status_rank(in_status);
	if (!(b > a || (b == a && *in_finished && strcmp(in_finished, finished) > 0)))
		return ATTN_OK;
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(m->out, "UPDATE runs SET status = ?, finished_at = ? WHERE id = ?",
	                       -1, &s, NULL) != SQLITE_OK)
		return merge_err(m, 0, "updating a run");
	sqlite3_bind_text(s, 1, in_status, -1, SQLITE_STATIC);
	if (*in_finished)
		sqlite3_bind_text(s, 2, in_finished, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 2);
	sqlite3_bind_int64(s, 3, held);
	rc = sqlite3_step(s) == SQLITE_DONE ? ATTN_OK : merge_err(m, 0, "updating a run");
	sqlite3_finalize(s);
	if (rc == ATTN_OK)
		m->stats->runs_advanced++;
	return rc;
}

/* The output's run of this uuid, 0 when it holds none. */
static int held_run(struct merge *m, const char *uuid, int64_t *id)
{
	sqlite3_stmt *s;
	*id = 0;
	if (sqlite3_prepare_v2(m->out, "SELECT id FROM runs WHERE uuid = ?", -1, &s, NULL) !=
	    SQLITE_OK)
		return merge_err(m, 0, "looking up a run");
	sqlite3_bind_text(s, 1, uuid, -1, SQLITE_STATIC);
	int step = sqlite3_step(s);
	if (step == SQLITE_ROW)
		*id = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return step == SQLITE_ROW || step == SQLITE_DONE ? ATTN_OK
	                                                 : merge_err(m, 0, "looking up a run");
}

/* The input's run `src`: into the output as a new run, or onto the one of the same uuid. */
static int merge_run(struct merge *m, const struct run_ref *src, const char *status,
                     const char *finished)
{
	char sweep_id[512], shard[64];
	int rc;
	if ((rc = one_text(m, 1, info_sql, src->id, "sweep_id", sweep_id, sizeof(sweep_id))) ||
	    (rc = one_text(m, 1, info_sql, src->id, "shard", shard, sizeof(shard))))
		return rc;
	add_distinct(m->stats->hosts, sizeof(m->stats->hosts), src->host);
	add_distinct(m->stats->shards, sizeof(m->stats->shards), shard);
	if (!src->uuid[0])
		return attn_errf(m->err, m->errlen, ATTN_ERR_FORMAT,
		                 "%s: run %lld has no uuid; refusing to guess which run it is",
		                 m->in->path, (long long)src->id);
	int64_t own = 0;
	if ((rc = held_run(m, src->uuid, &own)))
		return rc;
	int64_t *rows = NULL, dummy = 0;
	if (own) {
		if ((rc = advance_run(m, own, status, finished)))
			return rc;
		rows = &m->stats->rows_added;
	} else {
		if ((rc = copy_rows(m, C_RUNS, src->id, 0, NULL, &own)))
			return rc;
		m->stats->runs_added++;
		rows = &dummy;
	}
	for (int t = C_RUN_INFO; t <= C_FORM_DIFFS; t++)
		if ((rc = copy_rows(m, t, src->id, own, rows, NULL)))
			return rc;

	struct run_ref *targets;
	int n;
	if ((rc = sweep_targets(m, own, sweep_id[0] ? sweep_id : NULL, &targets, &n)))
		return rc;
	sqlite3_stmt *cs;
	if (sqlite3_prepare_v2(m->in->db, "SELECT id, key FROM cases WHERE run_id = ? ORDER BY id",
	                       -1, &cs, NULL) != SQLITE_OK) {
		free(targets);
		return merge_err(m, 1, "reading cases");
	}
	sqlite3_bind_int64(cs, 1, src->id);
	int step;
	while (rc == ATTN_OK && (step = sqlite3_step(cs)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(cs, 0);
		char *key = attn__strdup((const char *)sqlite3_column_text(cs, 1));
		int add = 0;
		m->stats->cases++;
		if (!key)
			rc = attn_errf(m->err, m->errlen, ATTN_ERR_NOMEM, "out of memory");
		else if (!(rc = settle_case(m, src, sweep_id[0] ? sweep_id : NULL, id, key, targets,
		                            n, &add)) &&
		         add)
			rc = add_case(m, id, own);
		free(key);
	}
	if (rc == ATTN_OK && step != SQLITE_DONE)
		rc = merge_err(m, 1, "reading cases");
	sqlite3_finalize(cs);
	free(targets);
	return rc;
}

static int merge_all(struct merge *m)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(
	        m->in->db, "SELECT id, uuid, hostname, status, finished_at FROM runs ORDER BY id",
	        -1, &s, NULL) != SQLITE_OK)
		return merge_err(m, 1, "reading runs");
	int rc = ATTN_OK, step;
	while (rc == ATTN_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
		struct run_ref src;
		char status[32], finished[64];
		src.id = sqlite3_column_int64(s, 0);
		col_text(s, 1, src.uuid, sizeof(src.uuid));
		col_text(s, 2, src.host, sizeof(src.host));
		col_text(s, 3, status, sizeof(status));
		col_text(s, 4, finished, sizeof(finished));
		m->stats->runs++;
		rc = merge_run(m, &src, status, finished);
	}
	if (rc == ATTN_OK && step != SQLITE_DONE)
		rc = merge_err(m, 1, "reading runs");
	sqlite3_finalize(s);
	return rc;
}

int attn_store_merge(struct attn_store *out, const char *in_path, int prefer,
                     struct attn_merge_stats *stats, char *err, size_t errlen)
{
	struct attn_merge_stats local;
	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof(*stats));
	if (prefer < ATTN_MERGE_PREFER_NONE || prefer > ATTN_MERGE_PREFER_NEW)
		return attn_errf(err, errlen, ATTN_ERR_INVALID, "attn_store_merge: prefer %d",
		                 prefer);
	struct input in;
	const char *out_path = attn__store_path(out);
	int rc = input_open(&in, out_path, in_path, err, errlen);
	if (rc) {
		input_close(&in);
		return rc;
	}
	struct merge m = {.in = &in,
	                  .out_st = out,
	                  .out = attn__store_handle(out),
	                  .out_path = out_path,
	                  .prefer = prefer,
	                  .stats = stats,
	                  .err = err,
	                  .errlen = errlen};
	memcpy(m.cp, copier_init, sizeof(m.cp));
	if (sqlite3_exec(m.out, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		rc = merge_err(&m, 0, "starting the transaction");
	else {
		rc = merge_all(&m);
		if (rc == ATTN_OK && sqlite3_exec(m.out, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			rc = merge_err(&m, 0, "committing");
		else if (rc == ATTN_OK)
			stats->committed = 1;
	}
	for (int i = 0; i < N_COPIERS; i++) {
		sqlite3_finalize(m.cp[i].sel);
		sqlite3_finalize(m.cp[i].ins);
	}
	sqlite3_finalize(m.print_in);
	sqlite3_finalize(m.print_out);
	sqlite3_finalize(m.lookup);
	if (rc != ATTN_OK && !sqlite3_get_autocommit(m.out))
		sqlite3_exec(m.out, "ROLLBACK", NULL, NULL, NULL);
	/* PASSIVE: a reader of the output is not waited for */
	if (stats->committed &&
	    sqlite3_wal_checkpoint_v2(m.out, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL) !=
	        SQLITE_OK &&
	    (sqlite3_extended_errcode(m.out) & 0xff) != SQLITE_BUSY)
		rc = merge_err(&m, 0,
		               "merged and committed (kept in the -wal), but writing the WAL back "
		               "into the file failed");
	if (rc != ATTN_OK && !stats->committed) {
		/* nothing of this input is in the output: say so in the counts too */
		char hosts[256], shards[256];
		memcpy(hosts, stats->hosts, sizeof(hosts));
		memcpy(shards, stats->shards, sizeof(shards));
		memset(stats, 0, sizeof(*stats));
		memcpy(stats->hosts, hosts, sizeof(hosts));
		memcpy(stats->shards, shards, sizeof(shards));
	}
	input_close(&in);
	return rc;
}
