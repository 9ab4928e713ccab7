/*
 * attnbench export: a database's cases with every metric as columns (CSV) or
 * as objects with their run's provenance (JSON). Reads only, through a
 * read-only connection: a database in use by a running sweep can be exported
 * (WAL readers do not block it), and so can one in a folder the user cannot
 * write.
 *
 * The output never costs data: an --out that is the database (or its -wal,
 * -shm or -journal, by name or by inode) is refused, so is any other SQLite
 * file unless --force; a file is written through a temporary file in its
 * folder, synced and renamed over the target, so a failed export leaves the
 * old file as it was; and every write is checked, so a full disk is an error
 * (exit 3), not a truncated file and exit 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attnbench/store.h"
#include "cli.h"

static const char *help_text =
	"usage: attnbench export --db FILE [--format csv|json] [--run ID] [--out FILE]\n"
	"                        [--force]\n"
	"\n"
	"Writes every case (or those of run ID) with its status, shape, parameters and\n"
	"all its metrics. CSV has one column per metric, empty where a metric is\n"
	"unavailable; JSON nests metrics as {name: value|null} and adds each run's\n"
	"provenance. Default format csv, default output stdout. The database is opened\n"
	"read-only.\n"
	"\n"
	"--out FILE   written through a temporary file in FILE's folder, renamed over\n"
	"             FILE once complete, so a failed export leaves FILE as it was.\n"
	"             The database itself (or its -wal/-shm/-journal) is never\n"
	"             accepted; another SQLite database only with --force\n"
	"--force      replace an --out that is a SQLite database\n"
	"\n"
	"exit: 0 ok; 2 bad usage, or an --out refused or not creatable; 3 the database\n"
	"cannot be read, or writing the output failed (a full disk).\n";

/* errno of the first failed write to the output; 0 while none failed. */
static int write_errno;

/* Did a write to f fail? Keeps the errno of the first failure. */
static int out_failed(FILE *f)
{
	if (ferror(f) && !write_errno)
		write_errno = errno ? errno : EIO;
	return ferror(f) != 0;
}

static void csv_field(FILE *f, const char *s)
{
	if (!s)
		return;
	if (!strpbrk(s, ",\"\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void json_num(FILE *f, sqlite3_stmt *s, int col)
{
	if (sqlite3_column_type(s, col) == SQLITE_NULL || !isfinite(sqlite3_column_double(s, col)))
		fputs("null", f);
	else if (sqlite3_column_type(s, col) == SQLITE_INTEGER)
		fprintf(f, "%lld", (long long)sqlite3_column_int64(s, col));
	else
		fprintf(f, "%.17g", sqlite3_column_double(s, col));
}

static const char *case_cols = "c.id, c.run_id, c.method, c.family, c.form, c.params, c.batch, "
			       "c.heads, c.kv_heads, c.n, c.d, c.causal, c.mode, c.dist, "
			       "c.threads, c.seed, c.status, c.message";
#define N_CASE_COLS 18

/* 0, -1 on a database error, -2 on a failed write (write_errno). */
static int export_csv(sqlite3 *db, long run, FILE *f)
{
	sqlite3_stmt *names, *cases, *val;
	char sql[1024];
	if (sqlite3_prepare_v2(db, "SELECT DISTINCT name FROM metrics ORDER BY name", -1, &names,
			       NULL) != SQLITE_OK)
		return -1;
	snprintf(sql, sizeof(sql), "SELECT %s FROM cases c WHERE ?1 = 0 OR c.run_id = ?1 ORDER BY c.id",
		 case_cols);
	if (sqlite3_prepare_v2(db, sql, -1, &cases, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT value FROM metrics WHERE case_id = ? AND name = ?", -1,
			       &val, NULL) != SQLITE_OK)
		return -1;
	char **metric = NULL;
	int nm = 0, step, rc = 0;
	while ((step = sqlite3_step(names)) == SQLITE_ROW) {
		char **nmv = realloc(metric, (nm + 1) * sizeof(*nmv));
		if (nmv)
			metric = nmv;
		char *name = nmv ? strdup((const char *)sqlite3_column_text(names, 0)) : NULL;
		if (!name) {
			step = SQLITE_NOMEM;
			break;
		}
		metric[nm++] = name;
	}
	sqlite3_finalize(names);
	if (step != SQLITE_DONE)
		rc = -1;
	for (int i = 0; i < N_CASE_COLS; i++)
		fprintf(f, "%s%s", i ? "," : "", sqlite3_column_name(cases, i));
	for (int i = 0; i < nm; i++)
		fprintf(f, ",%s", metric[i]);
	fputc('\n', f);
	sqlite3_bind_int64(cases, 1, run);
	while (rc == 0 && (step = sqlite3_step(cases)) == SQLITE_ROW) {
		for (int i = 0; i < N_CASE_COLS; i++) {
			if (i)
				fputc(',', f);
			csv_field(f, (const char *)sqlite3_column_text(cases, i));
		}
		for (int i = 0; i < nm; i++) {
			sqlite3_reset(val);
			sqlite3_bind_int64(val, 1, sqlite3_column_int64(cases, 0));
			sqlite3_bind_text(val, 2, metric[i], -1, SQLITE_STATIC);
			fputc(',', f);
			int vs = sqlite3_step(val);
			if (vs == SQLITE_ROW && sqlite3_column_type(val, 0) != SQLITE_NULL)
				fprintf(f, "%.17g", sqlite3_column_double(val, 0));
			else if (vs != SQLITE_ROW && vs != SQLITE_DONE)
				rc = -1;
		}
		fputc('\n', f);
		if (out_failed(f))
			rc = -2;
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = -1;
	sqlite3_finalize(cases);
	sqlite3_finalize(val);
	for (int i = 0; i < nm; i++)
		free(metric[i]);
	free(metric);
	return rc == 0 && out_failed(f) ? -2 : rc;
}

/* 0, -1 on a database error, -2 on a failed write (write_errno). */
static int export_json(sqlite3 *db, long run, FILE *f)
{
	sqlite3_stmt *runs, *info, *cases, *mets;
	int step, rc = 0;
	char sql[1024];
	if (sqlite3_prepare_v2(db,
			       "SELECT id, started_at, finished_at, status, command, spec, "
			       "git_commit, hostname, cpu_model FROM runs WHERE ?1 = 0 OR id = ?1 "
			       "ORDER BY id",
			       -1, &runs, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT key, value FROM run_info WHERE run_id = ? ORDER BY key",
			       -1, &info, NULL) != SQLITE_OK)
		return -1;
	snprintf(sql, sizeof(sql), "SELECT %s FROM cases c WHERE ?1 = 0 OR c.run_id = ?1 ORDER BY c.id",
		 case_cols);
	if (sqlite3_prepare_v2(db, sql, -1, &cases, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT name, value, unit FROM metrics WHERE case_id = ? "
				   "ORDER BY name",
			       -1, &mets, NULL) != SQLITE_OK)
		return -1;
	fputs("{\"runs\": [", f);
	sqlite3_bind_int64(runs, 1, run);
	for (int r = 0; rc == 0 && (step = sqlite3_step(runs)) == SQLITE_ROW; r++) {
		fputs(r ? ",\n  {" : "\n  {", f);
		for (int i = 0; i < 9; i++) {
			fprintf(f, "%s\"%s\": ", i ? ", " : "", sqlite3_column_name(runs, i));
			if (i == 0)
				json_num(f, runs, i);
			else
				cli_json_str(f, (const char *)sqlite3_column_text(runs, i));
		}
		fputs(", \"info\": {", f);
		sqlite3_reset(info);
		sqlite3_bind_int64(info, 1, sqlite3_column_int64(runs, 0));
		for (int k = 0; sqlite3_step(info) == SQLITE_ROW; k++) {
			fputs(k ? ", " : "", f);
			cli_json_str(f, (const char *)sqlite3_column_text(info, 0));
			fputs(": ", f);
			cli_json_str(f, (const char *)sqlite3_column_text(info, 1));
		}
		fputs("}}", f);
		if (out_failed(f))
			rc = -2;
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = -1;
	fputs("],\n\"cases\": [", f);
	sqlite3_bind_int64(cases, 1, run);
	for (int r = 0; rc == 0 && (step = sqlite3_step(cases)) == SQLITE_ROW; r++) {
		fputs(r ? ",\n  {" : "\n  {", f);
		for (int i = 0; i < N_CASE_COLS; i++) {
			fprintf(f, "%s\"%s\": ", i ? ", " : "", sqlite3_column_name(cases, i));
			if (sqlite3_column_type(cases, i) == SQLITE_INTEGER ||
			    sqlite3_column_type(cases, i) == SQLITE_NULL)
				json_num(f, cases, i);
			else
				cli_json_str(f, (const char *)sqlite3_column_text(cases, i));
		}
		fputs(", \"metrics\": {", f);
		sqlite3_reset(mets);
		sqlite3_bind_int64(mets, 1, sqlite3_column_int64(cases, 0));
		for (int k = 0; sqlite3_step(mets) == SQLITE_ROW; k++) {
			fputs(k ? ", " : "", f);
			cli_json_str(f, (const char *)sqlite3_column_text(mets, 0));
			fputs(": ", f);
			json_num(f, mets, 1);
		}
		fputs("}}", f);
		if (out_failed(f))
			rc = -2;
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = -1;
	fputs("\n]}\n", f);
	sqlite3_finalize(runs);
	sqlite3_finalize(info);
	sqlite3_finalize(cases);
	sqlite3_finalize(mets);
	return rc == 0 && out_failed(f) ? -2 : rc;
}

/*
 * The output file, as export writes it: stdout or a device in place, a
 * regular file through tmp (in target's folder), renamed over target.
 */
struct out_file {
	FILE *f;
	int is_stdout;
	const char *name; /* as given, for messages */
	char target[PATH_MAX];
	char tmp[PATH_MAX]; /* "" when written in place */
};

/* Same file: one inode on one device. */
static int same_file(const struct stat *a, const char *path)
{
	struct stat b;
	return stat(path, &b) == 0 && a->st_dev == b.st_dev && a->st_ino == b.st_ino;
}

/* path made absolute with its folder resolved (the file itself need not exist). */
static int canonical(const char *path, char *buf)
{
	char copy[PATH_MAX], dir[PATH_MAX];
	snprintf(copy, sizeof(copy), "%s", path);
	if (!realpath(dirname(copy), dir))
		return -1;
	snprintf(copy, sizeof(copy), "%s", path);
	int n = snprintf(buf, PATH_MAX, "%s/%s", dir, basename(copy));
	return n > 0 && n < PATH_MAX ? 0 : -1;
}

/*
 * May export write to out? Not the database or a file of it, by inode or by
 * name; not another SQLite file without --force. EXIT_OK or EXIT_USAGE after
 * the message.
 */
static int check_out(const char *out, const char *db, int force)
{
	static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
	char name[PATH_MAX + 16], cout[PATH_MAX], cdb[PATH_MAX];
	struct stat so;
	int exists = stat(out, &so) == 0;
	if (!exists && errno != ENOENT) {
		cli_error("export", "--out %s: %s", out, strerror(errno));
		return EXIT_USAGE;
	}
	int named = canonical(out, cout) == 0 && canonical(db, cdb) == 0;
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "%s%s", db, sfx[i]);
		int same = exists && same_file(&so, name);
		if (named && !same) {
			snprintf(name, sizeof(name), "%s%s", cdb, sfx[i]);
			same = strcmp(cout, name) == 0;
		}
		if (same) {
			if (i)
				cli_error("export",
					  "--out %s is the %s file of the database %s; refusing to "
					  "overwrite it (export to another file)",
					  out, sfx[i], db);
			else
				cli_error("export",
					  "--out %s is the database %s; refusing to overwrite it "
					  "(export to another file)",
					  out, db);
			return EXIT_USAGE;
		}
	}
	if (!exists || !S_ISREG(so.st_mode) || force)
		return EXIT_OK;
	static const char magic[16] = "SQLite format 3";
	char head[16];
	int fd = open(out, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, head, sizeof(head)) : -1;
	if (fd >= 0)
		close(fd);
	if (n == (ssize_t)sizeof(head) && memcmp(head, magic, sizeof(magic)) == 0) {
		cli_error("export",
			  "--out %s is a SQLite database; refusing to overwrite it (--force "
			  "replaces it)",
			  out);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* Open the output (see struct out_file). EXIT_OK or EXIT_USAGE after the message. */
static int out_open(struct out_file *o, const char *out)
{
	memset(o, 0, sizeof(*o));
	o->name = out ? out : "stdout";
	if (!out) {
		o->f = stdout;
		o->is_stdout = 1;
		return EXIT_OK;
	}
	struct stat sb;
	int exists = stat(out, &sb) == 0;
	if (exists && !S_ISREG(sb.st_mode)) {
		/* a device or a pipe: nothing to rename over, written in place */
		if (!(o->f = fopen(out, "w"))) {
			cli_error("export", "--out %s: cannot open for writing: %s", out,
				  strerror(errno));
			return EXIT_USAGE;
		}
		return EXIT_OK;
	}
	/* through a symbolic link, the file it names is the one replaced */
	if (exists ? !realpath(out, o->target) : canonical(out, o->target) != 0) {
		cli_error("export", "--out %s: %s", out, strerror(errno));
		return EXIT_USAGE;
	}
	char copy[PATH_MAX], dir[PATH_MAX];
	snprintf(copy, sizeof(copy), "%s", o->target);
	snprintf(dir, sizeof(dir), "%s", dirname(copy));
	snprintf(copy, sizeof(copy), "%s", o->target);
	int n = snprintf(o->tmp, sizeof(o->tmp), "%s/.%s.XXXXXX", dir, basename(copy));
	if (n <= 0 || n >= (int)sizeof(o->tmp)) {
		cli_error("export", "--out %s: the path is too long", out);
		return EXIT_USAGE;
	}
	int fd = mkstemp(o->tmp);
	if (fd < 0) {
		cli_error("export", "--out %s: cannot create a file in %s: %s", out, dir,
			  strerror(errno));
		o->tmp[0] = 0;
		return EXIT_USAGE;
	}
	/* mkstemp makes it 0600: give it the old file's mode, or a new file's */
	mode_t mask = umask(0);
	umask(mask);
	if (fchmod(fd, exists ? (sb.st_mode & 07777) : (0666 & ~mask)) != 0 ||
	    !(o->f = fdopen(fd, "w"))) {
		cli_error("export", "--out %s: %s", out, strerror(errno));
		close(fd);
		unlink(o->tmp);
		o->tmp[0] = 0;
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/*
 * Finish the output: flush, sync a file, close, rename the temporary over
 * the target. On any failure the temporary goes and the target stays as it
 * was. EXIT_OK, or EXIT_DB after the message.
 */
static int out_close(struct out_file *o, int ok)
{
	int e = 0;
	const char *step = "write";
	if (ok) {
		if (fflush(o->f) != 0 || out_failed(o->f))
			e = write_errno ? write_errno : errno;
		struct stat sb;
		if (!e && fstat(fileno(o->f), &sb) == 0 && S_ISREG(sb.st_mode) &&
		    fsync(fileno(o->f)) != 0 && errno != EINVAL) {
			e = errno;
			step = "sync";
		}
	}
	if (fclose(o->f) != 0 && ok && !e)
		e = errno;
	o->f = NULL;
	if (ok && !e && o->tmp[0]) {
		if (rename(o->tmp, o->target) != 0) {
			e = errno;
			step = "rename";
		} else {
			o->tmp[0] = 0;
			/* the rename itself is durable once the folder is synced */
			char copy[PATH_MAX];
			snprintf(copy, sizeof(copy), "%s", o->target);
			int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (dfd >= 0) {
				if (fsync(dfd) != 0 && errno != EINVAL) {
					e = errno;
					step = "sync of the folder";
				}
				close(dfd);
			}
		}
	}
	int kept = o->tmp[0] != 0; /* the target was not replaced */
	if (kept)
		unlink(o->tmp);
	if (!ok)
		return EXIT_DB;
	if (!e)
		return EXIT_OK;
	if (o->is_stdout)
		cli_error("export", "%s failed: %s", step, strerror(e));
	else
		cli_error("export", "--out %s: %s failed: %s%s", o->name, step, strerror(e),
			  kept && o->target[0] ? "; the file was left as it was" : "");
	return EXIT_DB;
}

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, 0, 'h'},
					     {"db", required_argument, 0, 'd'},
					     {"format", required_argument, 0, 'f'},
					     {"run", required_argument, 0, 'r'},
					     {"out", required_argument, 0, 'o'},
					     {"force", no_argument, 0, 'F'},
					     {0, 0, 0, 0}};
	const char *db_path = NULL, *format = "csv", *out = NULL;
	long run = 0;
	int c, force = 0;
	while ((c = getopt_long(argc, argv, "hd:f:r:o:", opts, NULL)) != -1) {
		switch (c) {
		case 'h': printf("%s", help_text); return EXIT_OK;
		case 'd': db_path = optarg; break;
		case 'f': format = optarg; break;
		case 'o': out = optarg; break;
		case 'F': force = 1; break;
		case 'r':
			if (cli_parse_run("export", optarg, &run))
				return EXIT_USAGE;
			break;
		default: return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_error("export", "unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (!db_path) {
		cli_error("export", "--db FILE is required");
		return EXIT_USAGE;
	}
	if (strcmp(format, "csv") != 0 && strcmp(format, "json") != 0) {
		cli_error("export", "--format '%s': expected csv or json", format);
		return EXIT_USAGE;
	}
	if (out && check_out(out, db_path, force))
		return EXIT_USAGE;
	struct attn_store *st;
	char err[1024];
	if (attn_store_open(db_path, ATTN_STORE_READONLY, &st, err, sizeof(err))) {
		cli_error("export", "%s", err);
		return EXIT_DB;
	}
	struct out_file o;
	if (out_open(&o, out)) {
		attn_store_close(st);
		return EXIT_USAGE;
	}
	sqlite3 *db = attn_store_db(st);
	write_errno = 0;
	int rc = strcmp(format, "csv") == 0 ? export_csv(db, run, o.f) : export_json(db, run, o.f);
	if (rc == -1)
		cli_error("export", "%s: %s%s", db_path, sqlite3_errmsg(db),
			  out ? "; --out was left as it was" : "");
	int orc = out_close(&o, rc != -1);
	attn_store_close(st);
	return rc == -1 ? EXIT_DB : orc;
}
