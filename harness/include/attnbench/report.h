/*
 * The reports: charts of stored metrics and the survey's figure set, drawn
 * from a database with gnuplot (harness/report/). Every number drawn is a
 * stored measurement or a statistic computed here in C; gnuplot only draws.
 * Each chart is written as one plain data file per series plus a gnuplot
 * script, and gnuplot is run on the script, once per output format.
 *
 * Like the rest of the library the reports return enum attn_status with
 * one sentence in err, and never print: what a caller may want to show
 * while they work (a warning, a progress line) goes to a note callback.
 */
#ifndef ATTNBENCH_REPORT_H
#define ATTNBENCH_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "attnbench/registry.h"
#include "attnbench/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a note says: a warning about the result, or progress while it is made. */
enum attn_report_note { ATTN_REPORT_WARNING, ATTN_REPORT_PROGRESS };
typedef void (*attn_report_note_fn)(void *ctx, enum attn_report_note kind, const char *msg);

/* Is there an executable `gnuplot` on PATH? */
int attn_report_have_gnuplot(void);

/* mkdir -p DIR, for the reports' output; ATTN_ERR_IO with errno set when it fails. */
int attn_report_mkdirs(const char *dir);

/*
 * Split a line of the workloads/figures files ("a | b | c") in place: the
 * first max - 1 fields at their bars, the last stored one holding the rest
 * of the line; each stored field is trimmed of blanks and the line end.
 * Returns how many fields the line has (bars + 1), which may exceed max.
 */
int attn_report_split_fields(char *line, char **field, int max);

/* ---- charts (report/chart.c) --------------------------------------------------- */

/* Which cases a chart keeps; < 0, 0 or NULL: any. */
struct attn_chart_filter {
	int causal;
	const char *mode;
	long threads, d;
	const char *family; /* full, linear, sparse or hybrid */
	const char *dist;
	/* "k=v,k=v": the cases whose parameters hold each (attn_query_params_match) */
	const char *params;
};

struct attn_chart_req {
	struct attn_store *st;
	const char *db_name; /* for messages */
	const struct attn_registry *reg;
	int64_t run;        /* a run with ok cases */
	const char *metric; /* time, memory, gflops, roof, error, counter:NAME or metric:NAME */
	const char *xcol;   /* n, threads or d */
	const char *const *methods; /* NULL: all */
	int n_methods;
	struct attn_chart_filter filt;
	const char *dir, *name; /* writes DIR/NAME.gp and NAME_NN.dat files */
	/* DIR/NAME.FORMAT for each; the data is loaded and written once for them all. */
	const char *const *formats;
	int n_formats;
	const char *title;        /* NULL: "attnbench METRIC: run ... on HOST" */
	const char *y_label;      /* NULL: the metric's */
	attn_report_note_fn note; /* may be NULL */
	void *note_ctx;
};

/*
 * How wide and tall a chart takes its legend to be, to place it: gnuplot
 * sizes a legend column as ATTN_CHART_CHAR_PX pixels a character of its
 * longest label (its estimate for the 12-point font, wider than the text
 * drawn) plus about 60 for the sample line and gaps: ATTN_CHART_KEY_COL_PX
 * leaves some over. An entry's row is ATTN_CHART_KEY_ROW_PX.
 */
#define ATTN_CHART_CHAR_PX    10.0
#define ATTN_CHART_KEY_COL_PX 70
#define ATTN_CHART_KEY_ROW_PX 22

/* Is `metric` one attn_chart_draw() draws? */
int attn_chart_metric_known(const char *metric);

/*
 * Draw the chart q asks for; on success *n_series (if not NULL) is the number
 * of series drawn. ATTN_ERR_INVALID for an unknown metric, ATTN_ERR_NOTFOUND
 * for nothing to draw, ATTN_ERR_IO when the files cannot be written or
 * gnuplot fails (err then holds gnuplot's messages), ATTN_ERR_DB.
 */
int attn_chart_draw(const struct attn_chart_req *q, int *n_series, char *err, size_t errlen);

/* ---- figures (report/fig_*.c, report/figures.c) -------------------------------- */

/*
 * Survey Fig. 1 from the taxonomy file (branch | sub-category | example |
 * plugin lines) and the registry: a leaf whose plugin is registered is
 * marked with it, one whose plugin is '-' or not registered says "not
 * implemented", and registered methods no line names are added under their
 * family. ATTN_ERR_FORMAT for a malformed file, naming the file and line;
 * ATTN_ERR_INVALID for a format other than png or svg.
 */
int attn_fig_taxonomy(const struct attn_registry *reg, const char *taxonomy_path, const char *dir,
                      const char *name, const char *const *formats, int n_formats, char *caption,
                      size_t caption_len, char *err, size_t errlen);

/*
 * Survey Fig. 3: the kept-block masks stored by `sweep --dump-mask` in run
 * `run`, one heat map per (method, params) — the largest N of the run that
 * has a mask, prefill, causal preferred — in a grid, each titled with the
 * method, its parameters, N, block grid and density (metric "density" when
 * stored, else the kept fraction of the mask's blocks, saying which).
 * ATTN_ERR_NOTFOUND when the run has no masks (saying how to get them),
 * ATTN_ERR_DB.
 */
int attn_fig_masks(struct attn_store *st, const char *db_name, int64_t run, const char *dir,
                   const char *name, const char *const *formats, int n_formats, char *caption,
                   size_t caption_len, char *err, size_t errlen);

/* The four sweeps of a figure set, in the order `figures` runs them. */
enum attn_fig_sweep {
	ATTN_FIG_COMPLEXITY,
	ATTN_FIG_FORMS,
	ATTN_FIG_MASKS,
	ATTN_FIG_HYBRID,
	ATTN_FIG_N_SWEEPS
};
/* "complexity", "forms", "masks", "hybrid". */
const char *attn_fig_sweep_name(enum attn_fig_sweep sweep);

struct attn_figures_req {
	struct attn_store *st; /* open for writing: the fits and form comparisons are stored */
	const char *db_name;   /* as the page names the database */
	const struct attn_registry *reg;
	const char *set;                 /* the figure set's name, for the page */
	const char *data_dir;            /* the folder holding workloads/figures/ */
	const char *dir;                 /* where the figures and index.html go */
	int64_t runs[ATTN_FIG_N_SWEEPS]; /* the run each sweep's figures are drawn from */
	attn_report_note_fn note;        /* may be NULL */
	void *note_ctx;
};

struct attn_figures_result {
	int n_figures; /* on the page */
	int n_fits;    /* fitted curves in its table */
};

/*
 * The figure set: fit the complexity run (stored in `fits`), compare the
 * forms of every method that has several (stored in `form_diffs`, for
 * Table 1), draw every figure as DIR/NAME.png and .svg, and write
 * DIR/index.html with the PNGs embedded, each with its caption and
 * provenance, Table 1 and the fit table.
 */
int attn_figures_draw(const struct attn_figures_req *q, struct attn_figures_result *res, char *err,
                      size_t errlen);

/* ---- the fit table's cells (report/fit_cells.c), shared with `attnbench fit` ---- */

#define ATTN_REPORT_FIT_COLS 9
struct attn_fit_row;
extern const char *const attn_report_fit_col_names[ATTN_REPORT_FIT_COLS];
/* The curve's theoretical time exponent (theory.h: its form and mode), NAN if unknown. */
double attn_report_fit_theory(const struct attn_fit_row *r, const struct attn_registry *reg);
void attn_report_fit_cells(const struct attn_fit_row *r, const struct attn_registry *reg,
                           char cells[ATTN_REPORT_FIT_COLS][320]);

#ifdef __cplusplus
}
#endif

#endif /* ATTNBENCH_REPORT_H */
