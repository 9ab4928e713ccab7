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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attnbench/query.h"
#include "attnbench/runner.h"
#include "attnbench/spec.h"
#include "attnbench/store.h"
#include "cli.h"

static const char *help_text =
    "usage: attnbench export --db FILE [--format csv|json] [--run ID] [--out FILE]\n"
    "                        [--force]\n"
    "\n"
    "Writes every case (or those of run ID) with its status, shape, parameters and\n"
    "all its metrics. CSV: the case's columns, its run's hostname, cpu_model, shard\n"
    "and git_commit, one param_NAME column per parameter (empty where a method has\n"
    "no such parameter), then one column per metric named with its unit in\n"
    "brackets (median_ns[ns], density[1]), empty where a metric is unavailable,\n"
    "and last missing_why: for each error figure (rel_err, max_abs_err,\n"
    "rel_err_softmax, max_abs_err_softmax) the case lacks, why, as run and sweep\n"
    "say it (\"rel_err, max_abs_err: not computed: sampled rows ...\").\n"
    "JSON: \"runs\" (each run's provenance and run_info), \"cases\" (each with\n"
    "\"param\": {name: value}, \"metrics\": {name: value|null} and \"missing_why\":\n"
    "{figure: reason}) and \"units\": {metric: unit}. A run of a sharded sweep\n"
    "stands for the whole sweep (its shards merged into FILE): every shard's\n"
    "cases, each with its run_id. A --run that the database does not hold is an\n"
    "error (exit 2). Default format csv,\n"
    "default output stdout. The database is opened read-only.\n"
    "\n"
    "--out FILE   written through a temporary file in FILE's folder, renamed over\n"
    "             FILE once complete, so a failed export leaves FILE as it was.\n"
    "             The database itself (or its -wal/-shm/-journal) is never\n"
    "             accepted; another SQLite database only with --force\n"
    "--force      replace an --out that is a SQLite database\n"
    "\n"
    "exit: 0 ok; 2 bad usage, a --run not in the database, or an --out refused or\n"
    "not creatable; 3 the database cannot be read, or writing the output failed\n"
    "(a full disk).\n";

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

/* A number as JSON: null for NULL or not finite, an integer as one. */
static void json_num(FILE *f, const struct attn_query_cell *c)
{
	if (c->type == ATTN_QUERY_NULL || !isfinite(c->real))
		fputs("null", f);
	else if (c->type == ATTN_QUERY_INTEGER)
		fprintf(f, "%lld", (long long)c->integer);
	else
		fprintf(f, "%.17g", c->real);
}

/* The run_info check_max_flops of a run's info cells, NAN when it has none. */
static double info_check_max_flops(const struct attn_query_cell *info, int n_info)
{
	for (int k = 0; k < n_info; k++)
		if (info[k].name && info[k].text && strcmp(info[k].name, "check_max_flops") == 0) {
			char *end;
			double v = strtod(info[k].text, &end);
			return *end ? NAN : v;
		}
	return NAN;
}

/* The error figures whose absence export explains, as attn_missing_why names them. */
static const char *const err_names[] = {"rel_err", "max_abs_err", "rel_err_softmax",
                                        "max_abs_err_softmax"};
#define N_ERR_NAMES 4

/*
 * Why each error figure of a case row is missing (NULL where it is there),
 * into why[i] from what the row holds: its status and shape, its metrics
 * (oracle_rows; the figures it has say whether the method is exact: an
 * exact method's check stores rel_err and never rel_err_softmax) and its
 * run's --check-max-flops.
 */
static void row_missing_why(const struct attn_query_cell *cols, int n_cols,
                            const struct attn_query_cell *mets, int n_mets, double check_max_flops,
                            char why[N_ERR_NAMES][512], const char *out[N_ERR_NAMES])
{
	struct attn_missing_facts f = {
	    .exact = -1, .check_max_flops = check_max_flops, .oracle_rows = NAN};
	for (int i = 0; i < n_cols; i++) {
		const char *c = cols[i].name;
		if (strcmp(c, "status") == 0)
			f.status = cols[i].text;
		else if (strcmp(c, "message") == 0)
			f.message = cols[i].text;
		else if (strcmp(c, "method") == 0)
			f.method = cols[i].text;
		else if (strcmp(c, "batch") == 0)
			f.batch = cols[i].integer;
		else if (strcmp(c, "heads") == 0)
			f.heads = cols[i].integer;
		else if (strcmp(c, "n") == 0)
			f.n = cols[i].integer;
		else if (strcmp(c, "d") == 0)
			f.d = cols[i].integer;
		else if (strcmp(c, "mode") == 0)
			f.decode = cols[i].text && strcmp(cols[i].text, "decode") == 0;
	}
	int has[N_ERR_NAMES] = {0};
	for (int k = 0; k < n_mets; k++) {
		if (mets[k].type == ATTN_QUERY_NULL)
			continue;
		if (strcmp(mets[k].name, "oracle_rows") == 0)
			f.oracle_rows = mets[k].real;
		for (int e = 0; e < N_ERR_NAMES; e++)
			has[e] |= strcmp(mets[k].name, err_names[e]) == 0;
	}
	f.exact = has[2] ? 0 : has[0] ? 1 : -1;
	for (int e = 0; e < N_ERR_NAMES; e++)
		out[e] = has[e] ? NULL : attn_missing_why(&f, err_names[e], why[e], sizeof(why[e]));
}

/* A write failed: stop the walk (export_*'s -2). */
#define WRITE_FAILED 1

/*
 * A run's provenance for its CSV rows: machine, shard (of a sharded
 * sweep) and commit. A row says which run it is of (run_id), and a merged
 * sweep's shards may come from several machines, so each row names its own
 * (a CSV row read alone still says where it was measured).
 */
struct csv_run {
	int64_t id;
	char *host, *cpu, *shard, *commit;
	double check_max_flops; /* NAN: not recorded */
};
struct csv_ctx {
	FILE *f;
	struct csv_run *runs;
	int n_runs;
	char **param; /* the parameter names, one param_NAME column each */
	int n_param, params_col;
};

static char *dup_or_null(const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	return d ? memcpy(d, s, n) : NULL;
}

static int csv_run(void *ctx, const struct attn_query_cell *cols, int n_cols,
                   const struct attn_query_cell *info, int n_info)
{
	struct csv_ctx *c = ctx;
	struct csv_run *nr = realloc(c->runs, (size_t)(c->n_runs + 1) * sizeof(*nr));
	if (!nr)
		return ATTN_ERR_NOMEM;
	c->runs = nr;
	struct csv_run *r = &c->runs[c->n_runs++];
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < n_cols; i++) {
		if (strcmp(cols[i].name, "id") == 0)
			r->id = cols[i].integer;
		else if (strcmp(cols[i].name, "hostname") == 0)
			r->host = dup_or_null(cols[i].text);
		else if (strcmp(cols[i].name, "cpu_model") == 0)
			r->cpu = dup_or_null(cols[i].text);
		else if (strcmp(cols[i].name, "git_commit") == 0)
			r->commit = dup_or_null(cols[i].text);
	}
	for (int k = 0; k < n_info; k++)
		if (info[k].name && strcmp(info[k].name, "shard") == 0)
			r->shard = dup_or_null(info[k].text);
	r->check_max_flops = info_check_max_flops(info, n_info);
	return ATTN_OK;
}

static int csv_case(void *ctx, const struct attn_query_cell *cols, int n_cols,
                    const struct attn_query_cell *mets, int n_mets)
{
	struct csv_ctx *c = ctx;
	FILE *f = c->f;
	for (int i = 0; i < n_cols; i++) {
		if (i)
			fputc(',', f);
		csv_field(f, cols[i].text);
	}
	const struct csv_run *r = NULL;
	for (int i = 0; i < c->n_runs && !r; i++)
		if (c->runs[i].id == cols[1].integer)
			r = &c->runs[i];
	fputc(',', f);
	csv_field(f, r ? r->host : NULL);
	fputc(',', f);
	csv_field(f, r ? r->cpu : NULL);
	fputc(',', f);
	csv_field(f, r ? r->shard : NULL);
	fputc(',', f);
	csv_field(f, r ? r->commit : NULL);
	for (int i = 0; i < c->n_param; i++) {
		char v[256];
		fputc(',', f);
		if (c->params_col >= 0 &&
		    attn_params_value(cols[c->params_col].text, c->param[i], v, sizeof(v)))
			csv_field(f, v);
	}
	for (int i = 0; i < n_mets; i++) {
		fputc(',', f);
		if (mets[i].type != ATTN_QUERY_NULL)
			fprintf(f, "%.17g", mets[i].real);
	}
	/* "rel_err, max_abs_err: why; rel_err_softmax: why": the figures sharing a reason, once */
	char why[N_ERR_NAMES][512], text[2048];
	const char *w[N_ERR_NAMES];
	size_t used = 0;
	row_missing_why(cols, n_cols, mets, n_mets, r ? r->check_max_flops : NAN, why, w);
	text[0] = 0;
	for (int e = 0; e < N_ERR_NAMES; e++) {
		int first = w[e] != NULL;
		for (int q = 0; q < e && first; q++)
			first = !w[q] || strcmp(w[q], w[e]) != 0;
		if (!first)
			continue;
		used += (size_t)snprintf(text + used, used < sizeof(text) ? sizeof(text) - used : 0,
		                         "%s%s", used ? "; " : "", err_names[e]);
		for (int q = e + 1; q < N_ERR_NAMES; q++)
			if (w[q] && strcmp(w[q], w[e]) == 0)
				used += (size_t)snprintf(
				    text + used, used < sizeof(text) ? sizeof(text) - used : 0,
				    ", %s", err_names[q]);
		used += (size_t)snprintf(text + used, used < sizeof(text) ? sizeof(text) - used : 0,
		                         ": %s", w[e]);
	}
	fputc(',', f);
	csv_field(f, text);
	fputc('\n', f);
	return out_failed(f) ? WRITE_FAILED : 0;
}

/* 0, -1 on a database error (err), -2 on a failed write (write_errno). */
static int export_csv(struct attn_store *st, long run, FILE *f, char *err, size_t errlen)
{
	char **metric, **unit;
	int nm;
	if (attn_query_metric_names(st, &metric, &unit, &nm, err, errlen))
		return -1;
	struct csv_ctx c = {f, NULL, 0, NULL, 0, -1};
	if (attn_query_export_param_names(st, run, &c.param, &c.n_param, err, errlen)) {
		attn_query_names_free(metric, nm);
		attn_query_names_free(unit, nm);
		return -1;
	}
	int rc = attn_query_export_runs(st, run, csv_run, &c, err, errlen);
	const char *const *cols;
	int n_cols = attn_query_export_case_columns(&cols);
	for (int i = 0; rc == ATTN_OK && i < n_cols; i++) {
		fprintf(f, "%s%s", i ? "," : "", cols[i]);
		if (strcmp(cols[i], "params") == 0)
			c.params_col = i;
	}
	/* the case's run: its machine, its shard of a sharded sweep, its commit */
	if (rc == ATTN_OK)
		fputs(",hostname,cpu_model,shard,git_commit", f);
	for (int i = 0; rc == ATTN_OK && i < c.n_param; i++)
		fprintf(f, ",param_%s", c.param[i]);
	/* a metric's unit in brackets after its name: median_ns[ns], density[1] */
	for (int i = 0; rc == ATTN_OK && i < nm; i++)
		fprintf(f, unit[i][0] ? ",%s[%s]" : ",%s", metric[i], unit[i]);
	if (rc == ATTN_OK) {
		fputs(",missing_why\n", f);
		rc = attn_query_export_cases(st, run, (const char *const *)metric, nm, csv_case, &c,
		                             err, errlen);
	} else if (rc == ATTN_ERR_NOMEM) {
		snprintf(err, errlen, "out of memory");
	}
	attn_query_names_free(metric, nm);
	attn_query_names_free(unit, nm);
	attn_query_names_free(c.param, c.n_param);
	for (int i = 0; i < c.n_runs; i++) {
		free(c.runs[i].host);
		free(c.runs[i].cpu);
		free(c.runs[i].shard);
		free(c.runs[i].commit);
	}
	free(c.runs);
	if (rc == WRITE_FAILED)
		return -2;
	if (rc)
		return -1;
	return out_failed(f) ? -2 : 0;
}

/* The runs' --check-max-flops, by id, for the cases' missing_why. */
struct json_run {
	int64_t id;
	double check_max_flops;
};
struct json_ctx {
	FILE *f;
	int rows;
	struct json_run *runs;
	int n_runs;
};

static int json_run(void *ctx, const struct attn_query_cell *cols, int n_cols,
                    const struct attn_query_cell *info, int n_info)
{
	struct json_ctx *j = ctx;
	FILE *f = j->f;
	struct json_run *nr = realloc(j->runs, (size_t)(j->n_runs + 1) * sizeof(*nr));
	if (!nr)
		return ATTN_ERR_NOMEM;
	j->runs = nr;
	j->runs[j->n_runs++] =
	    (struct json_run){cols[0].integer, info_check_max_flops(info, n_info)};
	fputs(j->rows++ ? ",\n  {" : "\n  {", f);
	for (int i = 0; i < n_cols; i++) {
		fprintf(f, "%s\"%s\": ", i ? ", " : "", cols[i].name);
		if (i == 0)
			json_num(f, &cols[i]);
		else
			cli_json_str(f, cols[i].text);
	}
	fputs(", \"info\": {", f);
	for (int k = 0; k < n_info; k++) {
		fputs(k ? ", " : "", f);
		cli_json_str(f, info[k].name);
		fputs(": ", f);
		cli_json_str(f, info[k].text);
	}
	fputs("}}", f);
	return out_failed(f) ? WRITE_FAILED : 0;
}

static int json_case(void *ctx, const struct attn_query_cell *cols, int n_cols,
                     const struct attn_query_cell *mets, int n_mets)
{
	struct json_ctx *j = ctx;
	FILE *f = j->f;
	fputs(j->rows++ ? ",\n  {" : "\n  {", f);
	for (int i = 0; i < n_cols; i++) {
		fprintf(f, "%s\"%s\": ", i ? ", " : "", cols[i].name);
		if (cols[i].type == ATTN_QUERY_INTEGER || cols[i].type == ATTN_QUERY_NULL)
			json_num(f, &cols[i]);
		else
			cli_json_str(f, cols[i].text);
	}
	/* params "k=v,k=v" as {"k": v}: a number as a number, a choice as a string */
	fputs(", \"param\": {", f);
	const char *p = NULL;
	for (int i = 0; i < n_cols; i++)
		if (strcmp(cols[i].name, "params") == 0)
			p = cols[i].text;
	struct attn_param_kv kv;
	for (int k = 0; attn_params_next(&p, &kv);) {
		if (!kv.val)
			continue;
		char key[128], val[256], *end;
		snprintf(key, sizeof(key), "%.*s", (int)kv.key_len, kv.key);
		snprintf(val, sizeof(val), "%.*s", (int)kv.val_len, kv.val);
		fputs(k++ ? ", " : "", f);
		cli_json_str(f, key);
		fputs(": ", f);
		double x = strtod(val, &end);
		if (val[0] && !*end && isfinite(x))
			fputs(val, f);
		else
			cli_json_str(f, val);
	}
	fputs("}, \"metrics\": {", f);
	for (int k = 0; k < n_mets; k++) {
		fputs(k ? ", " : "", f);
		cli_json_str(f, mets[k].name);
		fputs(": ", f);
		json_num(f, &mets[k]);
	}
	/* {"rel_err_softmax": "why", ...}: each error figure the case lacks, with the reason */
	double cmf = NAN;
	for (int r = 0; r < j->n_runs; r++)
		if (j->runs[r].id == cols[1].integer)
			cmf = j->runs[r].check_max_flops;
	char why[N_ERR_NAMES][512];
	const char *w[N_ERR_NAMES];
	row_missing_why(cols, n_cols, mets, n_mets, cmf, why, w);
	fputs("}, \"missing_why\": {", f);
	for (int e = 0, k = 0; e < N_ERR_NAMES; e++)
		if (w[e]) {
			fprintf(f, "%s\"%s\": ", k++ ? ", " : "", err_names[e]);
			cli_json_str(f, w[e]);
		}
	fputs("}}", f);
	return out_failed(f) ? WRITE_FAILED : 0;
}

/* 0, -1 on a database error (err), -2 on a failed write (write_errno). */
static int export_json(struct attn_store *st, long run, FILE *f, char *err, size_t errlen)
{
	struct json_ctx j = {f, 0, NULL, 0};
	fputs("{\"runs\": [", f);
	int rc = attn_query_export_runs(st, run, json_run, &j, err, errlen);
	if (rc == 0) {
		fputs("],\n\"cases\": [", f);
		j.rows = 0;
		rc = attn_query_export_cases(st, run, NULL, 0, json_case, &j, err, errlen);
	}
	/* every metric's unit, once: {"median_ns": "ns", ...} */
	char **metric = NULL, **unit = NULL;
	int nm = 0;
	if (rc == 0 && (rc = attn_query_metric_names(st, &metric, &unit, &nm, err, errlen)) == 0) {
		fputs("\n],\n\"units\": {", f);
		for (int i = 0; i < nm; i++) {
			fputs(i ? ", " : "", f);
			cli_json_str(f, metric[i]);
			fputs(": ", f);
			cli_json_str(f, unit[i]);
		}
		fputs("}}\n", f);
		attn_query_names_free(metric, nm);
		attn_query_names_free(unit, nm);
	} else {
		fputs("\n]}\n", f);
	}
	free(j.runs);
	if (rc == ATTN_ERR_NOMEM)
		snprintf(err, errlen, "out of memory");
	if (rc == WRITE_FAILED)
		return -2;
	if (rc)
		return -1;
	return out_failed(f) ? -2 : 0;
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
	if (run) {
		int exists;
		if (attn_query_run_exists(st, run, &exists, err, sizeof(err))) {
			cli_error("export", "%s: %s", db_path, err);
			attn_store_close(st);
			return EXIT_DB;
		}
		if (!exists) {
			cli_error("export", "--run %ld: %s has no run %ld (nothing exported)", run,
			          db_path, run);
			attn_store_close(st);
			return EXIT_USAGE;
		}
	}
	struct out_file o;
	if (out_open(&o, out)) {
		attn_store_close(st);
		return EXIT_USAGE;
	}
	write_errno = 0;
	int rc = strcmp(format, "csv") == 0 ? export_csv(st, run, o.f, err, sizeof(err))
	                                    : export_json(st, run, o.f, err, sizeof(err));
	if (rc == -1)
		cli_error("export", "%s: %s%s", db_path, err,
		          out ? "; --out was left as it was" : "");
	int orc = out_close(&o, rc != -1);
	attn_store_close(st);
	return rc == -1 ? EXIT_DB : orc;
}
