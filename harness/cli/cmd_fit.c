/*
 * attnbench fit: per method and shape family of a run, the time exponent
 * over N with its bootstrap CI, which terms of a·N² + b·N·ln N + c·N + d
 * carry the cost, and the crossover N* against flash. The statistics are in
 * harness/src/fit.c; this verb picks the run, prints the table and stores
 * the rows in the database's `fits` table (replacing the run's earlier ones).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/fit.h"
#include "attnbench/query.h"
#include "attnbench/report.h"
#include "attnbench/store.h"
#include "cli.h"

static const char *help_text =
    "usage: attnbench fit --db FILE [--run ID] [--methods a,b] [--format text|markdown|json]\n"
    "                     [--min-points 3]\n"
    "\n"
    "Fits every method's ok cases of a run (default the newest), per shape family\n"
    "(cases equal in everything but N):\n"
    "  exponent   slope of ln(median time) on ln N, with a 95% bootstrap CI from\n"
    "             the stored samples (1000 resamples, fixed seed)\n"
    "  theory     the method's declared time exponent, when it is registered\n"
    "  dominant   the term of a·N² + b·N·ln N + c·N + d (non-negative least\n"
    "             squares on the medians) with the largest share at the largest N;\n"
    "             not given for a curve of fewer N than the model's 4 terms (the\n"
    "             note says so)\n"
    "  crossover  N* where the method's time crosses flash's in the same family,\n"
    "             interpolated in (ln N, ln ratio), with a 95% bootstrap CI\n"
    "Curves with fewer than --min-points N are listed but not fitted. The rows\n"
    "are stored in the `fits` table, replacing the run's previous fits.\n"
    "\n"
    "exit: 0 ok; 2 bad usage, nothing to fit or a method the run lacks; 3 the\n"
    "database cannot be read or written.\n";

enum fit_format { FORMAT_TEXT, FORMAT_MARKDOWN, FORMAT_JSON };

static void print_table(const struct attn_fit_row *rows, int n, const struct attn_registry *reg,
                        int markdown)
{
	char(*cells)[ATTN_REPORT_FIT_COLS][320] = malloc((size_t)(n ? n : 1) * sizeof(*cells));
	if (!cells)
		return;
	for (int i = 0; i < n; i++)
		attn_report_fit_cells(&rows[i], reg, cells[i]);
	cli_table_print(attn_report_fit_col_names, ATTN_REPORT_FIT_COLS, &cells[0][0][0], 320, n,
	                markdown);
	free(cells);
}

static void print_json(const struct attn_fit_row *rows, int n, int64_t run,
                       const struct attn_registry *reg)
{
	static const char *const kinds[] = {"none", "faster_above", "slower_above", "never",
	                                    "always_faster"};
	printf("{\"run\": %lld, \"fits\": [", (long long)run);
	for (int i = 0; i < n; i++) {
		const struct attn_fit_row *r = &rows[i];
		printf("%s\n  {\"method\": ", i ? "," : "");
		cli_json_str(stdout, r->method);
		fputs(", \"params\": ", stdout);
		cli_json_str(stdout, r->params);
		fputs(", \"family\": ", stdout);
		cli_json_str(stdout, r->family);
		printf(", \"points\": %d", r->n_points);
		cli_json_real(stdout, "n_min", r->n_min);
		cli_json_real(stdout, "n_max", r->n_max);
		cli_json_real(stdout, "exponent", r->exponent);
		cli_json_real(stdout, "ci_lo", r->ci_lo);
		cli_json_real(stdout, "ci_hi", r->ci_hi);
		cli_json_real(stdout, "theory", attn_report_fit_theory(r, reg));
		static const char *const coef[] = {"a", "b", "c", "d"};
		for (int j = 0; j < ATTN_FIT_TERMS; j++)
			cli_json_real(stdout, coef[j], r->coef[j]);
		fputs(", \"dominant\": ", stdout);
		cli_json_str(stdout, r->dominant >= 0 ? attn_fit_term_name(r->dominant) : NULL);
		cli_json_real(stdout, "dominant_share",
		              r->dominant >= 0 ? r->share[r->dominant] : NAN);
		printf(", \"crossover_kind\": \"%s\"", kinds[r->cross.kind]);
		cli_json_real(stdout, "crossover", r->cross.n_star);
		cli_json_real(stdout, "cx_lo", r->cross.ci_lo);
		cli_json_real(stdout, "cx_hi", r->cross.ci_hi);
		printf(", \"resamples_without_crossing\": %d, \"note\": ", r->cross.n_no_cross);
		cli_json_str(stdout, r->note);
		fputs("}", stdout);
	}
	puts("\n]}");
}

int cmd_fit(int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, 0, 'h'},
	                                     {"db", required_argument, 0, 'd'},
	                                     {"run", required_argument, 0, 'r'},
	                                     {"methods", required_argument, 0, 'm'},
	                                     {"format", required_argument, 0, 'f'},
	                                     {"min-points", required_argument, 0, 'p'},
	                                     {0, 0, 0, 0}};
	const char *db_path = NULL, *format = "text";
	char *methods_arg = NULL;
	long run = 0, min_points = 3;
	int c;
	while ((c = getopt_long(argc, argv, "hd:r:m:f:p:", opts, NULL)) != -1) {
		switch (c) {
		case 'h': printf("%s", help_text); return EXIT_OK;
		case 'd': db_path = optarg; break;
		case 'f': format = optarg; break;
		case 'm': methods_arg = optarg; break;
		case 'r':
			if (cli_parse_run("fit", optarg, &run))
				return EXIT_USAGE;
			break;
		case 'p':
			if (cli_parse_int(optarg, 2, 256, &min_points)) {
				cli_error("fit",
				          "--min-points '%s': expected a whole number in [2, 256]",
				          optarg);
				return EXIT_USAGE;
			}
			break;
		default: return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_error("fit", "unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (!db_path) {
		cli_error("fit", "--db FILE is required");
		return EXIT_USAGE;
	}
	enum fit_format fmt;
	if (strcmp(format, "text") == 0)
		fmt = FORMAT_TEXT;
	else if (strcmp(format, "markdown") == 0)
		fmt = FORMAT_MARKDOWN;
	else if (strcmp(format, "json") == 0)
		fmt = FORMAT_JSON;
	else {
		cli_error("fit", "--format '%s': expected text, markdown or json", format);
		return EXIT_USAGE;
	}
	/* --methods a,b: split a copy in place */
	char *mcopy = methods_arg ? strdup(methods_arg) : NULL;
	const char *methods[64];
	int nm = 0;
	for (char *save, *tok = mcopy ? strtok_r(mcopy, ",", &save) : NULL; tok && nm < 64;
	     tok = strtok_r(NULL, ",", &save))
		methods[nm++] = tok;

	struct attn_store *st;
	char err[1024];
	if (attn_store_open(db_path, 0, &st, err, sizeof(err))) {
		cli_error("fit", "%s", err);
		free(mcopy);
		return EXIT_DB;
	}
	struct attn_fit_row *rows;
	int n_rows;
	int64_t used_run;
	int rc = attn_fit_run(st, run, methods, nm, (int)min_points, ATTN_FIT_BOOT, ATTN_FIT_SEED,
	                      &used_run, &rows, &n_rows, err, sizeof(err));
	free(mcopy);
	if (rc) {
		cli_error("fit", "%s: %s", db_path, err);
		attn_store_close(st);
		return rc == ATTN_ERR_NOTFOUND ? EXIT_USAGE : EXIT_DB;
	}
	if ((rc = attn_store_fits(st, used_run, rows, n_rows, err, sizeof(err))) != ATTN_OK) {
		cli_error("fit", "%s", err);
		free(rows);
		attn_store_close(st);
		return EXIT_DB;
	}
	/* A merged sweep's shards are fitted as one: the header names them all. */
	struct attn_query_run set;
	char runs[512] = "";
	if (attn_query_run_info(st, used_run, &set, NULL, 0) == ATTN_OK) {
		if (set.n_runs > 1)
			snprintf(runs, sizeof(runs), "runs %s (%d shards of one sweep)",
			         set.run_ids ? set.run_ids : "?", set.n_runs);
		attn_query_run_info_free(&set);
	}
	attn_store_close(st);
	/* Theoretical exponents from the registry; without it the column says "-". */
	struct attn_registry *reg = cli_registry("fit", NULL, 0);
	if (fmt == FORMAT_JSON) {
		print_json(rows, n_rows, used_run, reg);
	} else {
		if (runs[0])
			printf("%s: %d fitted curves (stored in `fits` under run %lld)\n\n", runs,
			       n_rows, (long long)used_run);
		else
			printf("run %lld: %d fitted curves (stored in `fits`)\n\n",
			       (long long)used_run, n_rows);
		print_table(rows, n_rows, reg, fmt == FORMAT_MARKDOWN);
	}
	if (reg)
		attn_registry_free(reg);
	free(rows);
	return EXIT_OK;
}
