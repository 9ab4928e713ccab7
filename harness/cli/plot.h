/*
 * Charts from a database, shared by `attnbench plot` and `attnbench figures`:
 * the gnuplot plumbing (quoting, finding and running gnuplot) and one call
 * that draws a stored metric of a run as a chart.
 */
#ifndef ATTNBENCH_PLOT_H
#define ATTNBENCH_PLOT_H

#include <sqlite3.h>
#include <stdio.h>

#include "attnbench/registry.h"

/* A gnuplot single-quoted string: only the quote is special, and it is doubled. */
void gp_str(FILE *f, const char *s);
/* Is there an executable `gnuplot` on PATH? */
int gp_have(void);
/*
 * Run `gnuplot NAME.gp` in DIR with its stderr kept in NAME.log; on failure
 * print "attnbench VERB: ..." and that log (and leave it), on success remove
 * it. 0 when gnuplot exited 0.
 */
int gp_run(const char *verb, const char *dir, const char *name);
/* mkdir -p. */
int gp_mkdirs(const char *dir);
/* Colour `rank` (0 first) of a survey branch's palette ("full", "linear", ...). */
const char *gp_family_colour(const char *family, int rank);

/* Which cases a chart keeps; < 0 or NULL: any. */
struct plot_filter {
	int causal;
	const char *mode;
	long threads, d;
	const char *family; /* full, linear, sparse or hybrid */
	const char *dist;
};

struct plot_req {
	const char *verb; /* for messages */
	sqlite3 *db;
	const char *db_path;
	const struct attn_registry *reg;
	long run; /* a run with ok cases */
	const char *metric; /* time, memory, gflops, roof, error or counter:NAME */
	const char *xcol;   /* n, threads or d */
	char **methods;     /* NULL: all */
	int n_methods;
	struct plot_filter filt;
	const char *dir, *name; /* writes DIR/NAME.gp and NAME_NN.dat files */
	/* DIR/NAME.FORMAT for each; the data is loaded and written once for them all. */
	const char *const *formats;
	int n_formats;
	const char *title;  /* NULL: "attnbench METRIC: run ... on HOST" */
	const char *y_label; /* NULL: the metric's */
};

/* Is `metric` one plot_chart() draws? */
int plot_metric_known(const char *metric);

/*
 * Draw the chart q asks for. Returns an exit code (EXIT_OK, EXIT_USAGE for
 * nothing to draw or gnuplot failing, EXIT_DB), having printed why; on
 * success *n_series (if not NULL) is the number of series drawn.
 */
int plot_chart(const struct plot_req *q, int *n_series);

#endif /* ATTNBENCH_PLOT_H */
