/*
 * attnbench plot: a chart of a run's stored metric. The chart itself is the
 * report layer's (harness/report/chart.c, report.h); this verb parses the
 * options, picks the run, checks the --methods names against it, and maps
 * the outcome to an exit code.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/query.h"
#include "attnbench/report.h"
#include "attnbench/spec.h"
#include "attnbench/store.h"
#include "attnbench/workload.h"
#include "cli.h"

static const char *help_text =
    "usage: attnbench plot --db FILE [--run ID] [--methods a,b] [--metric M]\n"
    "                      [--x n|threads|d] [--out DIR] [--format png|svg]\n"
    "                      [--causal 0|1] [--mode prefill|decode] [--threads T] [--d D]\n"
    "                      [--dist gaussian|local|needle] [--params k=v[,k=v]]\n"
    "\n"
    "Draws a chart of run ID (default: the latest run with ok cases) from the\n"
    "stored results with gnuplot, one series per (method, parameters, shape):\n"
    "  time      median time per call vs N, log-log, 95% CI error bars, the fitted\n"
    "            slope next to the method's theoretical exponent (default)\n"
    "  memory    workspace bytes (the method's extra memory) vs N, log-log, in\n"
    "            one panel, beside panels of the measured tracked peak and RSS growth\n"
    "  gflops    GFLOP/s vs N\n"
    "  roof      roofline: arithmetic intensity vs GFLOP/s under the run's\n"
    "            measured sgemm and FMA roofs and triad bandwidth slope\n"
    "  error     error against exact softmax vs median time, approximate methods\n"
    "  counter:NAME  a hardware or software counter per call vs N\n"
    "  metric:NAME   any stored metric vs N (e.g. kv_state_bytes)\n"
    "Writes METRIC.png (or .svg), METRIC.gp and one METRIC_NN.dat per series\n"
    "into DIR (default plots/). --x chooses the horizontal axis of time, memory,\n"
    "gflops and counter charts (default n). --methods keeps those methods only;\n"
    "--causal, --mode, --threads, --d and --dist keep the cases of that shape and\n"
    "input distribution only (a large sweep otherwise draws one series per method\n"
    "and shape); --params keeps the cases whose parameters hold every k=v given\n"
    "(w=512 or form=chunk,C=64; numbers compare as numbers), so methods without\n"
    "that parameter drop out. Colour is by method; a chart of more than eight\n"
    "methods is drawn as panels of at most eight (by family where they fit), one\n"
    "above the other in the same file, sharing the axes' ranges.\n"
    "\n"
    "exit: 0 ok; 2 bad usage, nothing to plot, or gnuplot missing or failing;\n"
    "3 the database cannot be read.\n";

/* Every --methods name must have ok cases in the run; 0, or -1 after the message. */
static int check_methods(struct attn_store *st, const char *db_path, long run, char **methods,
                         int n)
{
	char err[1024];
	for (int i = 0; i < n; i++) {
		int64_t n_ok;
		char *all;
		if (attn_query_method_ok_cases(st, run, methods[i], &n_ok, &all, err,
		                               sizeof(err))) {
			cli_error("plot", "%s: %s", db_path, err);
			return -1;
		}
		if (n_ok == 0)
			cli_error("plot", "unknown method '%s': run %ld has ok cases of %s",
			          methods[i], run, all ? all : "(null)");
		free(all);
		if (n_ok == 0)
			return -1;
	}
	return 0;
}

/* The figure set's and plot's warnings, as every verb prints them. */
static void print_note(void *ctx, enum attn_report_note kind, const char *msg)
{
	(void)kind;
	fprintf(stderr, "attnbench %s: %s\n", (const char *)ctx, msg);
}

/* --params: k=v pairs, comma-separated, each k a name and v non-empty; 0 or -1 after the message.
 */
static int check_params(const char *text)
{
	struct attn_param_kv kv;
	size_t len = strlen(text);
	/* empty text, or a trailing comma: an empty pair at the end */
	const char *bad = len == 0 || text[len - 1] == ',' ? text + len : NULL;
	for (const char *p = text; !bad && attn_params_next(&p, &kv);)
		if (kv.key_len == 0 || !kv.val || kv.val_len == 0)
			bad = kv.key;
	if (!bad)
		return 0;
	cli_error("plot",
	          "--params '%s': expected k=v[,k=v] (e.g. w=512 or form=chunk,C=64), not '%.*s'",
	          text, (int)strcspn(bad, ","), bad);
	return -1;
}

/* What the options ask for. */
struct plot_opts {
	struct attn_chart_filter filt;
	const char *db_path, *metric, *xcol, *dir, *format;
	char *method_list, *methods[256];
	int n_methods;
	long run;
};

/* Parse and check the options; EXIT_OK, or an exit code after the message (or the help). */
static int parse_opts(int argc, char **argv, struct plot_opts *o)
{
	static const struct option opts[] = {{"help", no_argument, 0, 'h'},
	                                     {"db", required_argument, 0, 'd'},
	                                     {"run", required_argument, 0, 'r'},
	                                     {"methods", required_argument, 0, 'm'},
	                                     {"metric", required_argument, 0, 'M'},
	                                     {"x", required_argument, 0, 'x'},
	                                     {"out", required_argument, 0, 'o'},
	                                     {"format", required_argument, 0, 'f'},
	                                     {"causal", required_argument, 0, 'C'},
	                                     {"mode", required_argument, 0, 'E'},
	                                     {"threads", required_argument, 0, 'T'},
	                                     {"d", required_argument, 0, 'D'},
	                                     {"dist", required_argument, 0, 'S'},
	                                     {"params", required_argument, 0, 'P'},
	                                     {0, 0, 0, 0}};
	*o = (struct plot_opts){
	    .filt = {.causal = -1}, .metric = "time", .xcol = "n", .dir = "plots", .format = "png"};
	int c;
	while ((c = getopt_long(argc, argv, "hd:r:m:M:x:o:f:", opts, NULL)) != -1) {
		switch (c) {
		case 'h': printf("%s", help_text); return -1;
		case 'd': o->db_path = optarg; break;
		case 'm': o->method_list = optarg; break;
		case 'M': o->metric = optarg; break;
		case 'x': o->xcol = optarg; break;
		case 'o': o->dir = optarg; break;
		case 'f': o->format = optarg; break;
		case 'r':
			if (cli_parse_run("plot", optarg, &o->run))
				return EXIT_USAGE;
			break;
		case 'C':
			if (strcmp(optarg, "0") && strcmp(optarg, "1")) {
				cli_error("plot", "--causal '%s': expected 0 or 1", optarg);
				return EXIT_USAGE;
			}
			o->filt.causal = optarg[0] - '0';
			break;
		case 'E':
			if (strcmp(optarg, "prefill") && strcmp(optarg, "decode")) {
				cli_error("plot", "--mode '%s': expected prefill or decode",
				          optarg);
				return EXIT_USAGE;
			}
			o->filt.mode = optarg;
			break;
		case 'S': {
			enum attn_dist dist;
			char why[256];
			if (attn_dist_parse(optarg, &dist, why, sizeof(why))) {
				cli_error("plot", "--dist '%s': %s", optarg, why);
				return EXIT_USAGE;
			}
			o->filt.dist = optarg;
			break;
		}
		case 'P':
			if (check_params(optarg))
				return EXIT_USAGE;
			o->filt.params = optarg;
			break;
		case 'T':
		case 'D':
			if (cli_parse_int(optarg, 1, 1L << 30,
			                  c == 'T' ? &o->filt.threads : &o->filt.d)) {
				cli_error("plot", "--%s '%s': expected a whole number >= 1",
				          c == 'T' ? "threads" : "d", optarg);
				return EXIT_USAGE;
			}
			break;
		default: return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_error("plot", "unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (!o->db_path) {
		cli_error("plot", "--db FILE is required");
		return EXIT_USAGE;
	}
	if (strcmp(o->xcol, "n") && strcmp(o->xcol, "threads") && strcmp(o->xcol, "d")) {
		cli_error("plot", "--x '%s': expected n, threads or d", o->xcol);
		return EXIT_USAGE;
	}
	if (!attn_chart_metric_known(o->metric)) {
		cli_error("plot",
		          "--metric '%s': expected time, memory, gflops, roof, error, "
		          "counter:NAME or metric:NAME",
		          o->metric);
		return EXIT_USAGE;
	}
	if (strcmp(o->format, "png") && strcmp(o->format, "svg")) {
		cli_error("plot", "--format '%s': expected png or svg", o->format);
		return EXIT_USAGE;
	}
	for (char *tok = o->method_list ? strtok(o->method_list, ",") : NULL;
	     tok && o->n_methods < 256; tok = strtok(NULL, ","))
		o->methods[o->n_methods++] = tok;
	return EXIT_OK;
}

/* The run to draw (the newest with ok cases, or --run's); 0 after the message. */
static long pick_run(struct attn_store *st, const struct plot_opts *o, int *rc)
{
	char err[1024];
	int64_t r;
	if (attn_query_latest_ok_run(st, o->run, &r, err, sizeof(err))) {
		cli_error("plot", "%s: %s", o->db_path, err);
		*rc = EXIT_DB;
		return 0;
	}
	if (r == 0) {
		if (o->run)
			cli_error("plot", "nothing to plot: run %ld of %s has no ok case", o->run,
			          o->db_path);
		else
			cli_error("plot", "nothing to plot: %s holds no ok case", o->db_path);
		*rc = EXIT_USAGE;
	}
	return (long)r;
}

int cmd_plot(int argc, char **argv)
{
	struct plot_opts o;
	int rc = parse_opts(argc, argv, &o);
	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	if (!attn_report_have_gnuplot()) {
		cli_error("plot", "gnuplot not found: apt-get install gnuplot-nox");
		return EXIT_USAGE;
	}

	struct attn_store *st;
	char err[4096];
	if (attn_store_open(o.db_path, ATTN_STORE_READONLY, &st, err, sizeof(err))) {
		cli_error("plot", "%s", err);
		return EXIT_DB;
	}
	struct attn_registry *reg = cli_registry("plot", NULL, 0);
	int n_series = 0;
	char name[128];
	snprintf(name, sizeof(name), "%s", o.metric);
	for (char *q = name; *q; q++)
		if (!(*q >= 'a' && *q <= 'z') && !(*q >= 'A' && *q <= 'Z') &&
		    !(*q >= '0' && *q <= '9'))
			*q = '_';
	long r = reg ? pick_run(st, &o, &rc) : 0;
	if (!reg) {
		rc = EXIT_USAGE;
	} else if (r > 0 && check_methods(st, o.db_path, r, o.methods, o.n_methods)) {
		rc = EXIT_USAGE;
	} else if (r > 0) {
		struct attn_chart_req q = {.st = st,
		                           .db_name = o.db_path,
		                           .reg = reg,
		                           .run = r,
		                           .metric = o.metric,
		                           .xcol = o.xcol,
		                           .methods = (const char *const *)o.methods,
		                           .n_methods = o.n_methods,
		                           .filt = o.filt,
		                           .dir = o.dir,
		                           .name = name,
		                           .formats = &o.format,
		                           .n_formats = 1,
		                           .note = print_note,
		                           .note_ctx = "plot"};
		int st_rc = attn_chart_draw(&q, &n_series, err, sizeof(err));
		if (st_rc == ATTN_OK)
			printf("%s/%s.%s: %d series from run %ld\n", o.dir, name, o.format,
			       n_series, r);
		else
			cli_error("plot", "%s", err);
		rc = st_rc == ATTN_OK ? EXIT_OK : st_rc == ATTN_ERR_DB ? EXIT_DB : EXIT_USAGE;
	}
	if (reg)
		attn_registry_free(reg);
	attn_store_close(st);
	return rc;
}
