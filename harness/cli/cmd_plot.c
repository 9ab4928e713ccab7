/*
 * attnbench plot: charts from a database, never from re-measurement. Every
 * number drawn is a stored metric (medians, CI bounds, bytes, GFLOP/s, the
 * run's roofs); the only statistic computed here is the least-squares log-log
 * slope shown in the legend, and it is computed in C. Each chart is written as
 * one plain data file per series plus a gnuplot script into the output
 * folder, and gnuplot is run on the script: gnuplot only draws.
 *
 * Labels come from the database (method names, parameters, host names), so
 * they are written as single-quoted gnuplot strings (a quote doubled, nothing
 * else special) on a `noenhanced` terminal, where ^ _ @ are plain text.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attnbench/forms.h"
#include "attnbench/method.h"
#include "attnbench/spec.h"
#include "attnbench/stats.h"
#include "attnbench/store.h"
#include "cli.h"
#include "plot.h"

static const char *help_text =
    "usage: attnbench plot --db FILE [--run ID] [--methods a,b] [--metric M]\n"
    "                      [--x n|threads|d] [--out DIR] [--format png|svg]\n"
    "                      [--causal 0|1] [--mode prefill|decode] [--threads T] [--d D]\n"
    "\n"
    "Draws a chart of run ID (default: the latest run with ok cases) from the\n"
    "stored results with gnuplot, one series per (method, parameters, shape):\n"
    "  time      median time per call vs N, log-log, 95% CI error bars, the fitted\n"
    "            slope next to the method's theoretical exponent (default)\n"
    "  memory    workspace bytes (the method's extra memory) vs N, log-log\n"
    "  gflops    GFLOP/s vs N\n"
    "  roof      roofline: arithmetic intensity vs GFLOP/s under the run's\n"
    "            measured sgemm and FMA roofs and triad bandwidth slope\n"
    "  error     error against exact softmax vs median time, approximate methods\n"
    "  counter:NAME  a hardware or software counter per call vs N\n"
    "  metric:NAME   any stored metric vs N (e.g. kv_state_bytes)\n"
    "Writes METRIC.png (or .svg), METRIC.gp and one METRIC_NN.dat per series\n"
    "into DIR (default plots/). --x chooses the horizontal axis of time, memory,\n"
    "gflops and counter charts (default n). --methods keeps those methods only;\n"
    "--causal, --mode, --threads and --d keep the cases of that shape only (a\n"
    "large sweep otherwise draws one series per method and shape).\n"
    "\n"
    "exit: 0 ok; 2 bad usage, nothing to plot, or gnuplot missing or failing;\n"
    "3 the database cannot be read.\n";

/* What one chart draws: which metrics go on which axis, and how they read. */
struct plot_kind {
	const char *name;
	const char *x_metric;  /* NULL: the case column chosen by --x */
	const char *y_metric;  /* NULL: the counter named after "counter:" */
	const char *lo_metric; /* error bars, or NULL */
	const char *hi_metric;
	double x_scale, y_scale; /* stored unit -> axis unit */
	const char *x_label;     /* NULL: from --x */
	const char *y_label;
	int slope;      /* the fitted N exponent in the legend (x = n only) */
	int exp_is_mem; /* theory from mem_exp rather than time_exp */
};

static const struct plot_kind kinds[] = {
    {"time", NULL, "median_ns", "ci_lo_ns", "ci_hi_ns", 1, 1e-6, NULL,
     "time per call (ms): median, 95% CI bars", 1, 0},
    {"memory", NULL, "workspace_bytes", NULL, NULL, 1, 1.0 / 1024, NULL,
     "workspace (KiB): memory the method needs beyond inputs and output", 1, 1},
    {"gflops", NULL, "gflops", NULL, NULL, 1, 1, NULL, "throughput (GFLOP/s)", 0, 0},
    {"roof", "arith_intensity", "gflops", NULL, NULL, 1, 1, "arithmetic intensity (flop/byte)",
     "throughput (GFLOP/s)", 0, 0},
    {"error", "median_ns", "rel_err_softmax", NULL, NULL, 1e-6, 1, "median time per call (ms)",
     "relative error against exact softmax", 0, 0},
    {"counter", NULL, NULL, NULL, NULL, 1, 1, NULL, NULL, 0, 0},
};

struct series {
	char *method, *family, *params, *shape;
	char label[512];
	double *x, *y, *lo, *hi;
	int n, cap;
};

struct plot {
	struct series *s;
	int n, cap;
};

static void series_free(struct series *s)
{
	free(s->method);
	free(s->family);
	free(s->params);
	free(s->shape);
	free(s->x);
	free(s->y);
	free(s->lo);
	free(s->hi);
}

static void plot_free(struct plot *p)
{
	for (int i = 0; i < p->n; i++)
		series_free(&p->s[i]);
	free(p->s);
	p->s = NULL;
	p->n = p->cap = 0;
}

static int grow(void **ptr, int *cap, int need, size_t elem)
{
	if (need <= *cap)
		return 0;
	int nc = *cap ? *cap * 2 : 8;
	void *q = realloc(*ptr, (size_t)nc * elem);
	if (!q)
		return -1;
	*ptr = q;
	*cap = nc;
	return 0;
}

/* Append (x, y, lo, hi) to the series of this row, opening a new one when the key changes. */
static int plot_add(struct plot *p, sqlite3_stmt *r)
{
	const char *key[4];
	for (int i = 0; i < 4; i++)
		key[i] = (const char *)sqlite3_column_text(r, i);
	struct series *s = p->n ? &p->s[p->n - 1] : NULL;
	if (!s || strcmp(s->method, key[0]) || strcmp(s->params, key[2]) ||
	    strcmp(s->shape, key[3])) {
		if (grow((void **)&p->s, &p->cap, p->n + 1, sizeof(*p->s)))
			return -1;
		s = &p->s[p->n++];
		memset(s, 0, sizeof(*s));
		s->method = strdup(key[0]);
		s->family = strdup(key[1]);
		s->params = strdup(key[2]);
		s->shape = strdup(key[3]);
		if (!s->method || !s->family || !s->params || !s->shape)
			return -1;
	}
	if (s->n == s->cap) {
		int nc = s->cap ? 2 * s->cap : 8;
		double **arr[4] = {&s->x, &s->y, &s->lo, &s->hi};
		for (int i = 0; i < 4; i++) {
			double *q = realloc(*arr[i], (size_t)nc * sizeof(double));
			if (!q)
				return -1;
			*arr[i] = q;
		}
		s->cap = nc;
	}
	s->x[s->n] = sqlite3_column_double(r, 4);
	s->y[s->n] = sqlite3_column_double(r, 5);
	s->lo[s->n] = sqlite3_column_type(r, 6) == SQLITE_NULL ? NAN : sqlite3_column_double(r, 6);
	s->hi[s->n] = sqlite3_column_type(r, 7) == SQLITE_NULL ? NAN : sqlite3_column_double(r, 7);
	s->n++;
	return 0;
}

/*
 * Does `params` leave m in its default form? The descriptor's exponents are
 * those of the default form (a linear method's parallel form is N^2 where
 * its chunk form is N), so a legend quotes them only then.
 */
static int default_form(const struct attn_method *m, const char *params)
{
	const int fi = attn_method_form_param(m);
	const char *f = strstr(params, "form=");
	char def[64];
	if (fi < 0 || !f || (f != params && f[-1] != ',' && f[-1] != ';') ||
	    attn_param_choice_name(&m->params[fi], (int)m->params[fi].def, def, sizeof(def)))
		return 1;
	f += 5;
	size_t len = strcspn(f, ",;");
	return strlen(def) == len && strncmp(def, f, len) == 0;
}

/*
 * Legend labels: the method, its parameters when the chart holds more than
 * one parameter set of that method, and the shape when it holds more than one
 * shape; then, for complexity charts over N, "N^1.02 (theory 1)".
 */
static void label_series(struct plot *p, const struct plot_kind *k, const char *xcol,
                         const struct attn_registry *reg)
{
	int many_shapes = 0;
	for (int i = 1; i < p->n; i++)
		many_shapes |= strcmp(p->s[i].shape, p->s[0].shape) != 0;
	for (int i = 0; i < p->n; i++) {
		struct series *s = &p->s[i];
		int many_params = 0;
		for (int j = 0; j < p->n; j++)
			many_params |= strcmp(p->s[j].method, s->method) == 0 &&
			               strcmp(p->s[j].params, s->params) != 0;
		size_t len = (size_t)snprintf(s->label, sizeof(s->label), "%s", s->method);
		if (many_params && *s->params && len < sizeof(s->label))
			len += (size_t)snprintf(s->label + len, sizeof(s->label) - len, "[%s]",
			                        s->params);
		if (many_shapes && len < sizeof(s->label))
			len += (size_t)snprintf(s->label + len, sizeof(s->label) - len, " %s",
			                        s->shape);
		if (!k->slope || strcmp(xcol, "n") != 0 || len >= sizeof(s->label))
			continue;
		double b = attn_stats_loglog_slope(s->x, s->y, s->n, NULL);
		if (fabs(b) < 0.005)
			b = 0; /* a flat curve is N^0.00, not N^-0.00 */
		if (isfinite(b))
			len +=
			    (size_t)snprintf(s->label + len, sizeof(s->label) - len, "  N^%.2f", b);
		const struct attn_method *m = reg ? attn_registry_find(reg, s->method) : NULL;
		/*
		 * The descriptor's time exponent is prefill's; one decode step
		 * costs its derivative, one power of N less (softmax N, a
		 * recurrence N^0).
		 */
		if (!m || len >= sizeof(s->label) || !default_form(m, s->params))
			continue;
		double theory = k->exp_is_mem ? m->mem_exp : m->time_exp;
		if (!k->exp_is_mem && strstr(s->shape, " decode "))
			theory = theory > 1 ? theory - 1 : 0;
		snprintf(s->label + len, sizeof(s->label) - len, " (theory %g)", theory);
	}
}

/* One colour per series: the next of its family's palette. */
static const char *series_colour(const struct plot *p, int i)
{
	int rank = 0;
	for (int j = 0; j < i; j++)
		rank += strcmp(p->s[j].family, p->s[i].family) == 0;
	return gp_family_colour(p->s[i].family, rank);
}

/* The case columns that name a shape, less the one on the x axis. */
static void shape_expr(const char *xcol, char *buf, size_t len)
{
	snprintf(buf, len,
	         "printf('b=%%d h=%%d/%%d%s%s%s %%s %%s %%s', c.batch, c.heads, c.kv_heads%s%s%s, "
	         "CASE c.causal WHEN 1 THEN 'causal' ELSE 'full-mask' END, c.mode, c.dist)",
	         strcmp(xcol, "n") ? " n=%d" : "", strcmp(xcol, "d") ? " d=%d" : "",
	         strcmp(xcol, "threads") ? " t=%d" : "", strcmp(xcol, "n") ? ", c.n" : "",
	         strcmp(xcol, "d") ? ", c.d" : "", strcmp(xcol, "threads") ? ", c.threads" : "");
}

/* Load the chart's points of run `run`, filtered to `methods` (NULL: all) and f. */
static int plot_load(sqlite3 *db, const struct plot_kind *k, const char *y_metric, const char *xcol,
                     long run, char **methods, int n_methods, const struct plot_filter *f,
                     struct plot *p)
{
	char shape[512], xexpr[64], sql[2048];
	shape_expr(xcol, shape, sizeof(shape));
	if (k->x_metric)
		snprintf(xexpr, sizeof(xexpr), "mx.value");
	else
		snprintf(xexpr, sizeof(xexpr), "c.%s", xcol);
	snprintf(sql, sizeof(sql),
	         "SELECT c.method, c.family, c.params, %s AS shape, %s AS x, my.value, lo.value, "
	         "hi.value FROM cases c "
	         "JOIN metrics my ON my.case_id = c.id AND my.name = ?2 "
	         "LEFT JOIN metrics mx ON mx.case_id = c.id AND mx.name = ?3 "
	         "LEFT JOIN metrics lo ON lo.case_id = c.id AND lo.name = ?4 "
	         "LEFT JOIN metrics hi ON hi.case_id = c.id AND hi.name = ?5 "
	         "WHERE c.run_id = ?1 AND c.status = 'ok' AND my.value > 0 AND x > 0 "
	         "AND (?6 IS NULL OR c.causal = ?6) AND (?7 IS NULL OR c.mode = ?7) "
	         "AND (?8 IS NULL OR c.threads = ?8) AND (?9 IS NULL OR c.d = ?9) "
	         "AND (?10 IS NULL OR c.family = ?10) AND (?11 IS NULL OR c.dist = ?11) "
	         "ORDER BY CASE c.family WHEN 'full' THEN 0 WHEN 'linear' THEN 1 WHEN 'sparse' "
	         "THEN 2 WHEN 'hybrid' THEN 3 ELSE 4 END, c.method, c.params, shape, x",
	         shape, xexpr);
	sqlite3_stmt *r;
	if (sqlite3_prepare_v2(db, sql, -1, &r, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(r, 1, run);
	sqlite3_bind_text(r, 2, y_metric, -1, SQLITE_STATIC);
	sqlite3_bind_text(r, 3, k->x_metric ? k->x_metric : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(r, 4, k->lo_metric ? k->lo_metric : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(r, 5, k->hi_metric ? k->hi_metric : "", -1, SQLITE_STATIC);
	if (f->causal >= 0)
		sqlite3_bind_int(r, 6, f->causal);
	if (f->mode)
		sqlite3_bind_text(r, 7, f->mode, -1, SQLITE_STATIC);
	if (f->threads > 0)
		sqlite3_bind_int64(r, 8, f->threads);
	if (f->d > 0)
		sqlite3_bind_int64(r, 9, f->d);
	if (f->family)
		sqlite3_bind_text(r, 10, f->family, -1, SQLITE_STATIC);
	if (f->dist)
		sqlite3_bind_text(r, 11, f->dist, -1, SQLITE_STATIC);
	int rc = 0;
	while (rc == 0 && sqlite3_step(r) == SQLITE_ROW) {
		int keep = n_methods == 0;
		for (int i = 0; i < n_methods && !keep; i++)
			keep = strcmp(methods[i], (const char *)sqlite3_column_text(r, 0)) == 0;
		if (keep)
			rc = plot_add(p, r);
	}
	sqlite3_finalize(r);
	return rc;
}

/* Keep only approximate methods (by the registry; unknown ones stay). */
static void keep_approximate(struct plot *p, const struct attn_registry *reg)
{
	int w = 0;
	for (int i = 0; i < p->n; i++) {
		const struct attn_method *m = attn_registry_find(reg, p->s[i].method);
		if (m && (m->flags & ATTN_METHOD_EXACT)) {
			series_free(&p->s[i]);
			continue;
		}
		p->s[w++] = p->s[i];
	}
	p->n = w;
}

/* The run's roofs at its largest thread count; 0 when none were measured. */
struct roofs {
	double fma, sgemm, triad;
	char isa[32];
};

static int load_roofs(sqlite3 *db, long run, struct roofs *rf)
{
	sqlite3_stmt *r;
	memset(rf, 0, sizeof(*rf));
	if (sqlite3_prepare_v2(
	        db,
	        "SELECT fma_gflops, sgemm_gflops, triad_gbps, fma_isa FROM run_roofs "
	        "WHERE run_id = ?1 ORDER BY threads = (SELECT MAX(threads) FROM cases "
	        "WHERE run_id = ?1) DESC, threads DESC LIMIT 1",
	        -1, &r, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(r, 1, run);
	if (sqlite3_step(r) == SQLITE_ROW) {
		rf->fma = sqlite3_column_double(r, 0);
		rf->sgemm = sqlite3_column_double(r, 1);
		rf->triad = sqlite3_column_double(r, 2);
		snprintf(rf->isa, sizeof(rf->isa), "%s",
		         sqlite3_column_text(r, 3) ? (const char *)sqlite3_column_text(r, 3) : "");
	}
	sqlite3_finalize(r);
	return 0;
}

/* "run 3 on HOST (CPU), commit abc123", for the chart's title. */
static void run_caption(sqlite3 *db, long run, char *buf, size_t len)
{
	sqlite3_stmt *r;
	snprintf(buf, len, "run %ld", run);
	if (sqlite3_prepare_v2(db, "SELECT hostname, cpu_model, git_commit FROM runs WHERE id = ?",
	                       -1, &r, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(r, 1, run);
	if (sqlite3_step(r) == SQLITE_ROW) {
		const char *t[3];
		for (int i = 0; i < 3; i++)
			t[i] = sqlite3_column_text(r, i) ? (const char *)sqlite3_column_text(r, i)
			                                 : "?";
		snprintf(buf, len, "run %ld on %s (%s), commit %.12s", run, t[0], t[1], t[2]);
	}
	sqlite3_finalize(r);
}

static const char *x_label(const char *xcol)
{
	if (strcmp(xcol, "n") == 0)
		return "sequence length N (tokens)";
	if (strcmp(xcol, "d") == 0)
		return "head dimension d";
	return "threads";
}

/* Write NAME_NN.dat per series: x, y, lo, hi in the stored units, one point a line. */
static int write_dats(const char *dir, const char *name, const struct plot *p)
{
	char path[4096];
	for (int i = 0; i < p->n; i++) {
		const struct series *s = &p->s[i];
		snprintf(path, sizeof(path), "%s/%s_%02d.dat", dir, name, i);
		FILE *f = fopen(path, "w");
		if (!f)
			return -1;
		fprintf(f, "# %s %s %s %s\n# x y lo hi (stored units)\n", s->method, s->params,
		        s->shape, s->family);
		for (int j = 0; j < s->n; j++)
			fprintf(f, "%.17g %.17g %.17g %.17g\n", s->x[j], s->y[j],
			        isfinite(s->lo[j]) ? s->lo[j] : s->y[j],
			        isfinite(s->hi[j]) ? s->hi[j] : s->y[j]);
		if (fclose(f))
			return -1;
	}
	return 0;
}

/* Write NAME.gp, which scales the .dat files to the axis units and draws NAME.FORMAT. */
static int write_gp(const char *dir, const char *name, const char *format,
                    const struct plot_kind *k, const char *y_label, const char *xcol,
                    const struct plot *p, const struct roofs *rf, const char *caption)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s.gp", dir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	int svg = strcmp(format, "svg") == 0;
	fprintf(f, "# attnbench plot: %s. Generated; every number comes from the database.\n",
	        name);
	/* Many series: the legend goes under the chart in columns, so the chart keeps its width. */
	int crowded = p->n > 16;
	fprintf(f, "set terminal %s noenhanced size 1280,%d font 'sans,12'\n",
	        svg ? "svg dynamic" : "pngcairo", crowded ? 1000 : 800);
	fprintf(f, "set output '%s.%s'\nset title ", name, svg ? "svg" : "png");
	gp_str(f, caption);
	fputs("\nset xlabel ", f);
	gp_str(f, k->x_label ? k->x_label : x_label(xcol));
	fputs("\nset ylabel ", f);
	gp_str(f, y_label);
	fprintf(f, "\nset logscale x%s\nset logscale y\nset format x '%%g'\nset format y '%%g'\n",
	        !k->x_metric && strcmp(xcol, "d") != 0 ? " 2" : "");
	fputs("set grid xtics ytics mxtics mytics lc rgb '#e0e0e0'\nset samples 500\n"
	      "set pointsize 1.2\n",
	      f);
	if (crowded) {
		/*
		 * gnuplot's `set key below` lets the legend run over the x label,
		 * so the chart's bottom margin is set from the legend's rows and
		 * the legend is placed in it: three columns.
		 */
		int entries = p->n + (rf ? (rf->sgemm > 0) + (rf->fma > 0) + (rf->triad > 0) : 0);
		int rows = (entries + 2) / 3;
		fprintf(f,
		        "set bmargin at screen %.3f\nset key at screen 0.5,screen 0.015 center "
		        "bottom maxrows %d box spacing 1.1\n",
		        0.075 + 0.019 * rows, rows);
	} else {
		fputs("set key outside right top box opaque spacing 1.2\n", f);
	}
	if (rf && rf->triad > 0) {
		/* Start the x axis left of the ridge point so the bandwidth slope shows. */
		double xmin = fmax(rf->fma, rf->sgemm) / rf->triad / 8;
		for (int i = 0; i < p->n; i++)
			for (int j = 0; j < p->s[i].n; j++)
				xmin = fmin(xmin, p->s[i].x[j] * k->x_scale);
		fprintf(f, "set xrange [%.6g:*]\n", xmin);
	}
	fputs("plot ", f);
	for (int i = 0; i < p->n; i++) {
		fprintf(f, "%s'%s_%02d.dat' using ($1*%g):($2*%g)", i ? ", \\\n     " : "", name, i,
		        k->x_scale, k->y_scale);
		if (k->lo_metric)
			fprintf(f, ":($3*%g):($4*%g) with yerrorlines", k->y_scale, k->y_scale);
		else
			fputs(" with linespoints", f);
		fprintf(f, " lw 2 pt %d lc rgb '%s' title ", 5 + 2 * (i % 6), series_colour(p, i));
		gp_str(f, p->s[i].label);
	}
	if (rf && rf->sgemm > 0)
		fprintf(f,
		        ", \\\n     %.6g with lines dt 2 lw 2 lc rgb '#555555' title "
		        "'sgemm roof %.0f GFLOP/s'",
		        rf->sgemm, rf->sgemm);
	if (rf && rf->fma > 0) {
		char t[96];
		snprintf(t, sizeof(t), "FMA peak %.0f GFLOP/s %s", rf->fma, rf->isa);
		fprintf(f, ", \\\n     %.6g with lines dt 3 lw 2 lc rgb '#000000' title ", rf->fma);
		gp_str(f, t);
	}
	if (rf && rf->triad > 0)
		fprintf(f,
		        ", \\\n     (%.6g*x <= %.6g ? %.6g*x : 1/0) with lines dt 4 lw 2 lc rgb "
		        "'#1b7837' title 'triad bandwidth %.1f GB/s (slope)'",
		        rf->triad, fmax(rf->fma, rf->sgemm), rf->triad, rf->triad);
	fputs("\n", f);
	return fclose(f) ? -1 : 0;
}

/* Check every --methods name has ok cases in the run; 0 or an error printed. */
static int check_methods(sqlite3 *db, long run, char **methods, int n)
{
	sqlite3_stmt *r;
	if (sqlite3_prepare_v2(db,
	                       "SELECT (SELECT COUNT(*) FROM cases WHERE run_id = ?1 AND status = "
	                       "'ok' AND method = ?2), (SELECT group_concat(DISTINCT method) FROM "
	                       "cases WHERE run_id = ?1 AND status = 'ok')",
	                       -1, &r, NULL) != SQLITE_OK)
		return -1;
	int rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		sqlite3_reset(r);
		sqlite3_bind_int64(r, 1, run);
		sqlite3_bind_text(r, 2, methods[i], -1, SQLITE_STATIC);
		if (sqlite3_step(r) == SQLITE_ROW && sqlite3_column_int64(r, 0) == 0) {
			cli_error("plot", "unknown method '%s': run %ld has ok cases of %s",
			          methods[i], run, (const char *)sqlite3_column_text(r, 1));
			rc = 1;
		}
	}
	sqlite3_finalize(r);
	return rc;
}

/* The chart kind of `metric` and its y metric; NULL when unknown. */
static const struct plot_kind *find_kind(const char *metric, const char **y_metric)
{
	size_t nk = sizeof(kinds) / sizeof(*kinds);
	for (size_t i = 0; i < nk; i++)
		if (strcmp(metric, kinds[i].name) == 0 && kinds[i].y_metric)
			return *y_metric = kinds[i].y_metric, &kinds[i];
	if (strncmp(metric, "counter:", 8) == 0 && metric[8])
		return *y_metric = metric, &kinds[nk - 1];
	if (strncmp(metric, "metric:", 7) == 0 && metric[7])
		return *y_metric = metric + 7, &kinds[nk - 1];
	return NULL;
}

int plot_metric_known(const char *metric)
{
	const char *y;
	return find_kind(metric, &y) != NULL;
}

int plot_chart(const struct plot_req *q, int *n_series)
{
	const char *y_metric = NULL, *verb = q->verb;
	const struct plot_kind *k = find_kind(q->metric, &y_metric);
	const struct plot_filter *f = &q->filt;
	struct plot p = {0};
	struct roofs rf;
	int rc = EXIT_OK, roof = strcmp(q->metric, "roof") == 0;
	if (!k) {
		cli_error(verb, "unknown chart metric '%s'", q->metric);
		return EXIT_USAGE;
	}
	if (plot_load(q->db, k, y_metric, q->xcol, q->run, q->methods, q->n_methods, f, &p) ||
	    (roof && load_roofs(q->db, q->run, &rf))) {
		cli_error(verb, "%s: %s", q->db_path, sqlite3_errmsg(q->db));
		plot_free(&p);
		return EXIT_DB;
	}
	if (strcmp(q->metric, "error") == 0)
		keep_approximate(&p, q->reg);
	if (p.n == 0) {
		cli_error(verb,
		          "nothing to plot: no ok case of run %ld%s has %s above 0 (the axes are "
		          "log)%s",
		          q->run,
		          f->causal >= 0 || f->mode || f->threads || f->d || f->family || f->dist
		              ? " of that shape"
		              : "",
		          y_metric,
		          strcmp(q->metric, "error") == 0 ? " for an approximate method" : "");
		return EXIT_USAGE;
	}
	char caption[1024], run_text[768];
	label_series(&p, k, q->xcol, q->reg);
	run_caption(q->db, q->run, run_text, sizeof(run_text));
	snprintf(caption, sizeof(caption), "attnbench %s%s: %s", q->metric,
	         k->x_metric ? " (one point per N)" : "", run_text);
	if (roof && rf.fma <= 0 && rf.sgemm <= 0)
		fprintf(stderr,
		        "attnbench %s: run %ld has no measured roofs; the roofline shows the "
		        "points only\n",
		        verb, q->run);
	if (gp_mkdirs(q->dir) || write_dats(q->dir, q->name, &p)) {
		cli_error(verb, "--out %s: cannot write: %s", q->dir, strerror(errno));
		rc = EXIT_USAGE;
	}
	const char *y_label = q->y_label ? q->y_label : k->y_label ? k->y_label : y_metric;
	/* NAME.gp names its output, so each format rewrites it before its own gnuplot run. */
	for (int i = 0; i < q->n_formats && rc == EXIT_OK; i++) {
		if (write_gp(q->dir, q->name, q->formats[i], k, y_label, q->xcol, &p,
		             roof ? &rf : NULL, q->title ? q->title : caption)) {
			cli_error(verb, "--out %s: cannot write: %s", q->dir, strerror(errno));
			rc = EXIT_USAGE;
		} else if (gp_run(verb, q->dir, q->name)) {
			rc = EXIT_USAGE;
		}
	}
	if (rc == EXIT_OK && n_series)
		*n_series = p.n;
	plot_free(&p);
	return rc;
}

int cmd_plot(int argc, char **argv)
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
	                                     {0, 0, 0, 0}};
	struct plot_filter filt = {.causal = -1};
	const char *db_path = NULL, *metric = "time", *xcol = "n", *dir = "plots", *format = "png";
	char *method_list = NULL, *methods[256];
	int n_methods = 0, c;
	long run = 0;
	while ((c = getopt_long(argc, argv, "hd:r:m:M:x:o:f:", opts, NULL)) != -1) {
		switch (c) {
		case 'h': printf("%s", help_text); return EXIT_OK;
		case 'd': db_path = optarg; break;
		case 'm': method_list = optarg; break;
		case 'M': metric = optarg; break;
		case 'x': xcol = optarg; break;
		case 'o': dir = optarg; break;
		case 'f': format = optarg; break;
		case 'r':
			if (cli_parse_run("plot", optarg, &run))
				return EXIT_USAGE;
			break;
		case 'C':
			if (strcmp(optarg, "0") && strcmp(optarg, "1")) {
				cli_error("plot", "--causal '%s': expected 0 or 1", optarg);
				return EXIT_USAGE;
			}
			filt.causal = optarg[0] - '0';
			break;
		case 'E':
			if (strcmp(optarg, "prefill") && strcmp(optarg, "decode")) {
				cli_error("plot", "--mode '%s': expected prefill or decode",
				          optarg);
				return EXIT_USAGE;
			}
			filt.mode = optarg;
			break;
		case 'T':
		case 'D':
			if (cli_parse_int(optarg, 1, 1L << 30,
			                  c == 'T' ? &filt.threads : &filt.d)) {
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
	if (!db_path) {
		cli_error("plot", "--db FILE is required");
		return EXIT_USAGE;
	}
	if (strcmp(xcol, "n") && strcmp(xcol, "threads") && strcmp(xcol, "d")) {
		cli_error("plot", "--x '%s': expected n, threads or d", xcol);
		return EXIT_USAGE;
	}
	if (!plot_metric_known(metric)) {
		cli_error("plot",
		          "--metric '%s': expected time, memory, gflops, roof, error, "
		          "counter:NAME or metric:NAME",
		          metric);
		return EXIT_USAGE;
	}
	if (strcmp(format, "png") && strcmp(format, "svg")) {
		cli_error("plot", "--format '%s': expected png or svg", format);
		return EXIT_USAGE;
	}
	for (char *tok = method_list ? strtok(method_list, ",") : NULL; tok && n_methods < 256;
	     tok = strtok(NULL, ","))
		methods[n_methods++] = tok;
	if (!gp_have()) {
		cli_error("plot", "gnuplot not found: apt-get install gnuplot-nox");
		return EXIT_USAGE;
	}

	struct attn_store *st;
	char err[1024];
	if (attn_store_open(db_path, ATTN_STORE_READONLY, &st, err, sizeof(err))) {
		cli_error("plot", "%s", err);
		return EXIT_DB;
	}
	sqlite3 *db = attn_store_db(st);
	struct attn_registry *reg = cli_registry("plot", NULL, 0);
	int rc = EXIT_OK, n_series = 0;
	long r = cli_latest_ok_run(db, run);
	char name[128];
	snprintf(name, sizeof(name), "%s", metric);
	for (char *q = name; *q; q++)
		if (!(*q >= 'a' && *q <= 'z') && !(*q >= 'A' && *q <= 'Z') &&
		    !(*q >= '0' && *q <= '9'))
			*q = '_';
	if (r < 0 || !reg) {
		rc = r < 0 ? EXIT_DB : EXIT_USAGE;
		if (r < 0)
			cli_error("plot", "%s: %s", db_path, sqlite3_errmsg(db));
	} else if (r == 0) {
		if (run)
			cli_error("plot", "nothing to plot: run %ld of %s has no ok case", run,
			          db_path);
		else
			cli_error("plot", "nothing to plot: %s holds no ok case", db_path);
		rc = EXIT_USAGE;
	} else if (check_methods(db, r, methods, n_methods)) {
		rc = EXIT_USAGE;
	} else {
		struct plot_req q = {.verb = "plot",
		                     .db = db,
		                     .db_path = db_path,
		                     .reg = reg,
		                     .run = r,
		                     .metric = metric,
		                     .xcol = xcol,
		                     .methods = methods,
		                     .n_methods = n_methods,
		                     .filt = filt,
		                     .dir = dir,
		                     .name = name,
		                     .formats = &format,
		                     .n_formats = 1};
		rc = plot_chart(&q, &n_series);
		if (rc == EXIT_OK)
			printf("%s/%s.%s: %d series from run %ld\n", dir, name, format, n_series, r);
	}
	if (reg)
		attn_registry_free(reg);
	attn_store_close(st);
	return rc;
}
