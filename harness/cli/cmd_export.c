/*
 * attnbench export: a database's cases with every metric as columns (CSV) or
 * as objects with their run's provenance (JSON). Reads only; a database in
 * use by a running sweep can be exported (WAL readers do not block it).
 */
#include <getopt.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/store.h"
#include "cli.h"

static const char *help_text =
	"usage: attnbench export --db FILE [--format csv|json] [--run ID] [--out FILE]\n"
	"\n"
	"Writes every case (or those of run ID) with its status, shape, parameters and\n"
	"all its metrics. CSV has one column per metric, empty where a metric is\n"
	"unavailable; JSON nests metrics as {name: value|null} and adds each run's\n"
	"provenance. Default format csv, default output stdout.\n"
	"\n"
	"exit: 0 ok; 2 bad usage; 3 the database cannot be read.\n";

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
	int nm = 0;
	while (sqlite3_step(names) == SQLITE_ROW) {
		char **nmv = realloc(metric, (nm + 1) * sizeof(*nmv));
		if (!nmv)
			break;
		metric = nmv;
		metric[nm++] = strdup((const char *)sqlite3_column_text(names, 0));
	}
	sqlite3_finalize(names);
	for (int i = 0; i < N_CASE_COLS; i++)
		fprintf(f, "%s%s", i ? "," : "", sqlite3_column_name(cases, i));
	for (int i = 0; i < nm; i++)
		fprintf(f, ",%s", metric[i]);
	fputc('\n', f);
	sqlite3_bind_int64(cases, 1, run);
	while (sqlite3_step(cases) == SQLITE_ROW) {
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
			if (sqlite3_step(val) == SQLITE_ROW &&
			    sqlite3_column_type(val, 0) != SQLITE_NULL)
				fprintf(f, "%.17g", sqlite3_column_double(val, 0));
		}
		fputc('\n', f);
	}
	sqlite3_finalize(cases);
	sqlite3_finalize(val);
	for (int i = 0; i < nm; i++)
		free(metric[i]);
	free(metric);
	return 0;
}

static int export_json(sqlite3 *db, long run, FILE *f)
{
	sqlite3_stmt *runs, *info, *cases, *mets;
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
	for (int r = 0; sqlite3_step(runs) == SQLITE_ROW; r++) {
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
	}
	fputs("],\n\"cases\": [", f);
	sqlite3_bind_int64(cases, 1, run);
	for (int r = 0; sqlite3_step(cases) == SQLITE_ROW; r++) {
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
	}
	fputs("\n]}\n", f);
	sqlite3_finalize(runs);
	sqlite3_finalize(info);
	sqlite3_finalize(cases);
	sqlite3_finalize(mets);
	return 0;
}

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, 0, 'h'},
					     {"db", required_argument, 0, 'd'},
					     {"format", required_argument, 0, 'f'},
					     {"run", required_argument, 0, 'r'},
					     {"out", required_argument, 0, 'o'},
					     {0, 0, 0, 0}};
	const char *db_path = NULL, *format = "csv", *out = NULL;
	long run = 0;
	int c;
	while ((c = getopt_long(argc, argv, "hd:f:r:o:", opts, NULL)) != -1) {
		switch (c) {
		case 'h': printf("%s", help_text); return EXIT_OK;
		case 'd': db_path = optarg; break;
		case 'f': format = optarg; break;
		case 'o': out = optarg; break;
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
	struct attn_store *st;
	char err[1024];
	if (attn_store_open(db_path, 0, &st, err, sizeof(err))) {
		cli_error("export", "%s", err);
		return EXIT_DB;
	}
	FILE *f = out ? fopen(out, "w") : stdout;
	if (!f) {
		cli_error("export", "--out %s: cannot open for writing", out);
		attn_store_close(st);
		return EXIT_USAGE;
	}
	sqlite3 *db = attn_store_db(st);
	int rc = strcmp(format, "csv") == 0 ? export_csv(db, run, f) : export_json(db, run, f);
	if (rc)
		cli_error("export", "%s: %s", db_path, sqlite3_errmsg(db));
	if (out && fclose(f) != 0) {
		cli_error("export", "--out %s: write failed", out);
		rc = -1;
	}
	attn_store_close(st);
	return rc ? EXIT_DB : EXIT_OK;
}
