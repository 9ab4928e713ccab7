/*
 * Charts of a stored metric (see report.h), drawn for `attnbench plot` and
 * for the figure set: never from re-measurement. Every number drawn is a
 * stored metric (medians, CI bounds, bytes, GFLOP/s, the run's roofs); the
 * only statistic computed here is the least-squares log-log slope shown in
 * the legend, and it is computed in C. Each chart is written as one plain
 * data file per series plus a gnuplot script into the output folder, and
 * gnuplot is run on the script: gnuplot only draws.
 *
 * Labels come from the database (method names, parameters, host names), so
 * they are written as single-quoted gnuplot strings (a quote doubled, nothing
 * else special) on a `noenhanced` terminal, where ^ _ @ are plain text.
 *
 * A chart kind is one entry of kinds[] below: which metrics go on which
 * axis, their scales and labels.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/forms.h"
#include "attnbench/method.h"
#include "attnbench/query.h"
#include "attnbench/report.h"
#include "attnbench/spec.h"
#include "attnbench/stats.h"
#include "attnbench/status.h"
#include "attnbench/theory.h"
#include "report_internal.h"

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
static int plot_add(struct plot *p, const struct attn_query_point *pt)
{
	const char *key[4] = {pt->method, pt->family, pt->params, pt->shape};
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
	s->x[s->n] = pt->x;
	s->y[s->n] = pt->y;
	s->lo[s->n] = pt->lo;
	s->hi[s->n] = pt->hi;
	s->n++;
	return 0;
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
		/* the form's and mode's exponent, the one `fit` quotes (theory.h) */
		const struct attn_method *m = reg ? attn_registry_find(reg, s->method) : NULL;
		double t_exp, m_exp;
		if (!m || len >= sizeof(s->label) ||
		    attn_method_theory(m, s->params, attn_theory_is_decode(s->shape), &t_exp,
		                       &m_exp))
			continue;
		snprintf(s->label + len, sizeof(s->label) - len, " (theory %g)",
		         k->exp_is_mem ? m_exp : t_exp);
	}
}

/* One colour per series: the next of its family's palette. */
static const char *series_colour(const struct plot *p, int i)
{
	int rank = 0;
	for (int j = 0; j < i; j++)
		rank += strcmp(p->s[j].family, p->s[i].family) == 0;
	return attn__gp_family_colour(p->s[i].family, rank);
}

struct load_ctx {
	struct plot *p;
	const char *const *methods;
	int n_methods;
	const char *params;
};

static int load_point(void *ctx, const struct attn_query_point *pt)
{
	struct load_ctx *c = ctx;
	int keep = c->n_methods == 0;
	for (int i = 0; i < c->n_methods && !keep; i++)
		keep = strcmp(c->methods[i], pt->method) == 0;
	keep = keep && attn_query_params_match(pt->params, c->params);
	if (keep && plot_add(c->p, pt))
		return ATTN_ERR_NOMEM;
	return ATTN_OK;
}

/* Load the chart's points of q's run, filtered to its methods (none: all) and filter. */
static int plot_load(const struct attn_chart_req *q, const struct plot_kind *k,
                     const char *y_metric, struct plot *p, char *err, size_t errlen)
{
	const struct attn_chart_filter *f = &q->filt;
	struct attn_query_series_req sq = {.run = q->run,
	                                   .y_metric = y_metric,
	                                   .x_metric = k->x_metric,
	                                   .lo_metric = k->lo_metric,
	                                   .hi_metric = k->hi_metric,
	                                   .xcol = q->xcol,
	                                   .causal = f->causal,
	                                   .mode = f->mode,
	                                   .threads = f->threads,
	                                   .d = f->d,
	                                   .family = f->family,
	                                   .dist = f->dist};
	struct load_ctx c = {p, q->methods, q->n_methods, f->params};
	int rc = attn_query_series(q->st, &sq, load_point, &c, err, errlen);
	if (rc == ATTN_ERR_NOMEM)
		attn_errf(err, errlen, rc, "out of memory loading the chart");
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

void attn__run_words(const struct attn_query_run *r, char *buf, size_t len)
{
	if (r->n_runs > 1)
		snprintf(buf, len, "runs %s%s%s%s", r->run_ids ? r->run_ids : "?",
		         r->shards ? " (shards " : "", r->shards ? r->shards : "",
		         r->shards ? ")" : "");
	else
		snprintf(buf, len, "run %lld%s%s%s", (long long)r->id, r->shards ? " (shard " : "",
		         r->shards ? r->shards : "", r->shards ? ")" : "");
}

/* One run's own value, or of several, the set's distinct values; NULL when unknown. */
const char *attn__run_hosts(const struct attn_query_run *r)
{
	return r->n_runs > 1 ? r->hosts : r->hostname;
}

const char *attn__run_cpus(const struct attn_query_run *r)
{
	return r->n_runs > 1 ? r->cpu_models : r->cpu_model;
}

const char *attn__run_commits(const struct attn_query_run *r)
{
	return r->n_runs > 1 ? r->commits : r->git_commit;
}

/*
 * "run 3 on HOST (CPU), commit abc123", for the chart's title; of a merged
 * sweep "runs 3, 4, 5 (shards 1/3, 2/3, 3/3) on hosts a, b (CPU), commits
 * abc123, def456", so that no shard's machine stands for the others.
 */
static int run_caption(struct attn_store *st, int64_t run, char *buf, size_t len)
{
	struct attn_query_run r;
	snprintf(buf, len, "run %lld", (long long)run);
	if (attn_query_run_info(st, run, &r, NULL, 0) != ATTN_OK)
		return 1;
	int n_runs = r.n_runs;
	char who[512];
	const char *hosts = attn__run_hosts(&r), *commits = attn__run_commits(&r);
	int many_hosts = hosts && strchr(hosts, ','),
	    many_commits = commits && strchr(commits, ',');
	attn__run_words(&r, who, sizeof(who));
	if (many_commits)
		snprintf(buf, len, "%s on %s%s (%s), commits %s", who, many_hosts ? "hosts " : "",
		         hosts, attn__run_cpus(&r) ? attn__run_cpus(&r) : "?", commits);
	else
		snprintf(buf, len, "%s on %s%s (%s), commit %.12s", who, many_hosts ? "hosts " : "",
		         hosts ? hosts : "?", attn__run_cpus(&r) ? attn__run_cpus(&r) : "?",
		         commits ? commits : "?");
	attn_query_run_info_free(&r);
	return n_runs;
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
                    const struct plot *p, const struct attn_query_roofs *rf, const char *roof_of,
                    const char *caption)
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
	attn__gp_str(f, caption);
	fputs("\nset xlabel ", f);
	attn__gp_str(f, k->x_label ? k->x_label : x_label(xcol));
	fputs("\nset ylabel ", f);
	attn__gp_str(f, y_label);
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
		attn__gp_str(f, p->s[i].label);
	}
	if (rf && rf->sgemm > 0)
		fprintf(f,
		        ", \\\n     %.6g with lines dt 2 lw 2 lc rgb '#555555' title "
		        "'sgemm roof %.0f GFLOP/s%s'",
		        rf->sgemm, rf->sgemm, roof_of);
	if (rf && rf->fma > 0) {
		char t[320];
		snprintf(t, sizeof(t), "FMA peak %.0f GFLOP/s %s%s", rf->fma, rf->isa, roof_of);
		fprintf(f, ", \\\n     %.6g with lines dt 3 lw 2 lc rgb '#000000' title ", rf->fma);
		attn__gp_str(f, t);
	}
	if (rf && rf->triad > 0)
		fprintf(f,
		        ", \\\n     (%.6g*x <= %.6g ? %.6g*x : 1/0) with lines dt 4 lw 2 lc rgb "
		        "'#1b7837' title 'triad bandwidth %.1f GB/s (slope)%s'",
		        rf->triad, fmax(rf->fma, rf->sgemm), rf->triad, rf->triad, roof_of);
	fputs("\n", f);
	return fclose(f) ? -1 : 0;
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

int attn_chart_metric_known(const char *metric)
{
	const char *y;
	return find_kind(metric, &y) != NULL;
}

static void note(const struct attn_chart_req *q, enum attn_report_note kind, const char *msg)
{
	if (q->note)
		q->note(q->note_ctx, kind, msg);
}

int attn_chart_draw(const struct attn_chart_req *q, int *n_series, char *err, size_t errlen)
{
	const char *y_metric = NULL;
	const struct plot_kind *k = find_kind(q->metric, &y_metric);
	const struct attn_chart_filter *f = &q->filt;
	struct plot p = {0};
	struct attn_query_roofs rf;
	char why[1024];
	int rc, roof = strcmp(q->metric, "roof") == 0;
	if (!k)
		return attn_errf(err, errlen, ATTN_ERR_INVALID, "unknown chart metric '%s'",
		                 q->metric);
	if ((rc = plot_load(q, k, y_metric, &p, why, sizeof(why))) != ATTN_OK ||
	    (roof && (rc = attn_query_roofs(q->st, q->run, &rf, why, sizeof(why))) != ATTN_OK)) {
		plot_free(&p);
		return attn_errf(err, errlen, rc, "%s: %s", q->db_name, why);
	}
	if (strcmp(q->metric, "error") == 0)
		keep_approximate(&p, q->reg);
	if (p.n == 0) {
		plot_free(&p);
		return attn_errf(
		    err, errlen, ATTN_ERR_NOTFOUND,
		    "nothing to plot: no ok case of run %lld%s has %s above 0 (the axes are log)%s",
		    (long long)q->run,
		    f->causal >= 0 || f->mode || f->threads || f->d || f->family || f->dist ||
		            f->params
		        ? " of that shape"
		        : "",
		    y_metric, strcmp(q->metric, "error") == 0 ? " for an approximate method" : "");
	}
	char caption[1024], run_text[768], roof_of[192] = "";
	label_series(&p, k, q->xcol, q->reg);
	int set_runs = run_caption(q->st, q->run, run_text, sizeof(run_text));
	/* One set of roof lines is drawn: of a merged sweep, the legend says whose. */
	if (roof && set_runs > 1 && rf.run) {
		char host[160];
		snprintf(host, sizeof(host), "%s", rf.host);
		/* the sgemm and triad titles are written in single quotes as they are */
		for (char *c = host; *c; c++)
			if (*c == '\'')
				*c = '_';
		snprintf(roof_of, sizeof(roof_of), ", run %lld%s%s", (long long)rf.run,
		         host[0] ? " on " : "", host);
	}
	if (roof && rf.n_apart > 0) {
		snprintf(why, sizeof(why),
		         "%d of the %d runs of run %lld's sweep that measured roofs at the "
		         "chart's thread count measured them more than 5%% away from run %lld's "
		         "(on %s): the roof lines are run %lld's alone",
		         rf.n_apart, rf.n_runs, (long long)q->run, (long long)rf.run,
		         rf.host[0] ? rf.host : "?", (long long)rf.run);
		note(q, ATTN_REPORT_WARNING, why);
	}
	snprintf(caption, sizeof(caption), "attnbench %s%s: %s", q->metric,
	         k->x_metric ? " (one point per N)" : "", run_text);
	if (roof && rf.fma <= 0 && rf.sgemm <= 0) {
		snprintf(why, sizeof(why),
		         "run %lld has no measured roofs; the roofline shows the points only",
		         (long long)q->run);
		note(q, ATTN_REPORT_WARNING, why);
	}
	rc = ATTN_OK;
	if (attn__gp_mkdirs(q->dir) || write_dats(q->dir, q->name, &p))
		rc = attn_errf(err, errlen, ATTN_ERR_IO, "--out %s: cannot write: %s", q->dir,
		               strerror(errno));
	const char *y_label = q->y_label ? q->y_label : k->y_label ? k->y_label : y_metric;
	/* NAME.gp names its output, so each format rewrites it before its own gnuplot run. */
	for (int i = 0; i < q->n_formats && rc == ATTN_OK; i++) {
		if (write_gp(q->dir, q->name, q->formats[i], k, y_label, q->xcol, &p,
		             roof ? &rf : NULL, roof_of, q->title ? q->title : caption))
			rc = attn_errf(err, errlen, ATTN_ERR_IO, "--out %s: cannot write: %s",
			               q->dir, strerror(errno));
		else
			rc = attn__gp_run(q->dir, q->name, err, errlen);
	}
	if (rc == ATTN_OK && n_series)
		*n_series = p.n;
	plot_free(&p);
	return rc;
}
