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
	int points;     /* points sized by their N, no lines (x is not N) */
	/*
	 * Measurements drawn beside y_metric, each in a column of panels of its
	 * own, titled by measure_title (y_metric's first); the word names the
	 * series in its data file.
	 */
	const char *extra_metric[2], *extra_word[2];
	const char *measure_title[3];
};

static const struct plot_kind kinds[] = {
    {.name = "time",
     .y_metric = "median_ns",
     .lo_metric = "ci_lo_ns",
     .hi_metric = "ci_hi_ns",
     .x_scale = 1,
     .y_scale = 1e-6,
     .y_label = "time per call (ms): median, 95% CI bars",
     .slope = 1},
    {.name = "memory",
     .y_metric = "workspace_bytes",
     .x_scale = 1,
     .y_scale = 1.0 / 1024,
     .y_label = "memory (KiB)",
     .slope = 1,
     .exp_is_mem = 1,
     .extra_metric = {"tracked_peak_bytes", "peak_rss_delta_bytes"},
     .extra_word = {"measured tracked peak", "measured RSS delta"},
     .measure_title = {"declared workspace", "measured: tracked peak", "measured: RSS growth"}},
    {.name = "gflops",
     .y_metric = "gflops",
     .x_scale = 1,
     .y_scale = 1,
     .y_label = "throughput (GFLOP/s)"},
    {.name = "roof",
     .x_metric = "arith_intensity",
     .y_metric = "gflops",
     .x_scale = 1,
     .y_scale = 1,
     .x_label = "arithmetic intensity (flop/byte)",
     .y_label = "throughput (GFLOP/s)",
     .points = 1},
    {.name = "error",
     .x_metric = "median_ns",
     .y_metric = "rel_err_softmax",
     .x_scale = 1e-6,
     .y_scale = 1,
     .x_label = "median time per call (ms)",
     .y_label = "relative error against exact softmax",
     .points = 1},
    {.name = "counter", .x_scale = 1, .y_scale = 1},
};

struct series {
	char *method, *family, *params, *shape;
	char label[512];
	double *x, *y, *lo, *hi, *nn; /* nn: each point's N */
	int n, cap;
	const char *what;  /* NULL, or the measurement a memory chart's extra series draws */
	int measure;       /* 0: the kind's y_metric, 1 + e: its extra_metric[e] */
	int panel, colour; /* its panel and its colour's index in method_palette (assign_panels) */
	int col;           /* its column of panels: its measure's among those drawn */
};

struct plot {
	struct series *s;
	int n, cap;
	int n_panels;             /* rows of panels: groups of at most eight colours */
	int n_cols;               /* columns of panels: the measures that have data */
	const char *col_title[3]; /* each column's measure, when there are several */
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
	free(s->nn);
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
		double **arr[5] = {&s->x, &s->y, &s->lo, &s->hi, &s->nn};
		for (int i = 0; i < 5; i++) {
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
	s->nn[s->n] = (double)pt->n;
	s->n++;
	return 0;
}

/*
 * The hybrid stacks by the names of the models they stand for; a stack
 * with full=1 is the all-softmax stack of the same depth.
 */
static const struct {
	const char *stack, *name, *softmax_name;
} stack_names[] = {
    {"minimax", "MiniMax-01 (7 lightning : 1 softmax)", "MiniMax-01 depth, all softmax (8)"},
    {"jamba", "Jamba (7 Mamba-2 : 1 softmax)", "Jamba depth, all softmax (8)"},
    {"gemma3", "Gemma-3 (5 window : 1 global)", "Gemma-3 depth, all softmax (6)"},
};

/* The human name of a hybrid stack's series, or NULL when it has none. */
static const char *stack_name(const struct series *s)
{
	char stack[32], full[8];
	attn_params_value(s->params, "stack", stack, sizeof(stack));
	attn_params_value(s->params, "full", full, sizeof(full));
	for (size_t i = 0; i < sizeof(stack_names) / sizeof(*stack_names); i++)
		if (strcmp(stack, stack_names[i].stack) == 0)
			return strcmp(full, "1") == 0 ? stack_names[i].softmax_name
			                              : stack_names[i].name;
	return NULL;
}

/*
 * Of a hybrid stack's series (full=0), what it saves against its all-softmax
 * stack (full=1, same shape) at the largest N both have, as "saves 62% vs
 * all-softmax at N=1024" into buf; empty when the chart lacks the pair.
 */
static void saved_vs_softmax(const struct plot *p, const struct series *s, char *buf, size_t len)
{
	char stack[32], full[8], st2[32], full2[8];
	buf[0] = 0;
	attn_params_value(s->params, "stack", stack, sizeof(stack));
	attn_params_value(s->params, "full", full, sizeof(full));
	if (!*stack || strcmp(full, "0") != 0)
		return;
	for (int j = 0; j < p->n; j++) {
		const struct series *b = &p->s[j];
		attn_params_value(b->params, "stack", st2, sizeof(st2));
		attn_params_value(b->params, "full", full2, sizeof(full2));
		if (strcmp(b->method, s->method) || strcmp(st2, stack) || strcmp(full2, "1") ||
		    strcmp(b->shape, s->shape) || b->what != s->what)
			continue;
		double best_x = -1, ya = NAN, yb = NAN;
		for (int u = 0; u < s->n; u++)
			for (int v = 0; v < b->n; v++)
				if (s->x[u] == b->x[v] && s->x[u] > best_x)
					best_x = s->x[u], ya = s->y[u], yb = b->y[v];
		if (best_x > 0 && yb > 0 && isfinite(ya))
			snprintf(buf, len, "  %s %.0f%% vs all-softmax at N=%.0f",
			         ya <= yb ? "saves" : "costs", fabs(1 - ya / yb) * 100, best_x);
		return;
	}
}

/*
 * The parameters of s that differ between the chart's series of its method,
 * "k=v,k=v" into buf: a parameter every such series shares is constant and
 * the caption's to state.
 */
static void varying_params(const struct plot *p, const struct series *s, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = 0;
	struct attn_param_kv kv;
	for (const char *q = s->params; attn_params_next(&q, &kv);) {
		char key[64], mine[128], other[128];
		snprintf(key, sizeof(key), "%.*s", (int)kv.key_len, kv.key);
		attn_params_value(s->params, key, mine, sizeof(mine));
		int varies = 0;
		for (int j = 0; j < p->n && !varies; j++) {
			if (strcmp(p->s[j].method, s->method) != 0)
				continue;
			attn_params_value(p->s[j].params, key, other, sizeof(other));
			varies = strcmp(mine, other) != 0;
		}
		if (varies && used + 1 < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s=%s", used ? "," : "",
			                         key, mine);
	}
}

/*
 * Legend labels: the method (a hybrid stack by its model's name), the
 * parameters that vary between its series, and the shape when the chart
 * holds more than one shape; then, for complexity charts over N,
 * "N^1.02 (theory 1)".
 */
static void label_series(struct plot *p, const struct plot_kind *k, const char *xcol,
                         const struct attn_registry *reg)
{
	int many_shapes = 0;
	for (int i = 1; i < p->n; i++)
		many_shapes |= strcmp(p->s[i].shape, p->s[0].shape) != 0;
	for (int i = 0; i < p->n; i++) {
		struct series *s = &p->s[i];
		char vary[256];
		const char *human = stack_name(s);
		varying_params(p, s, vary, sizeof(vary));
		size_t len =
		    (size_t)snprintf(s->label, sizeof(s->label), "%s", human ? human : s->method);
		if (!human && *vary && len < sizeof(s->label))
			len +=
			    (size_t)snprintf(s->label + len, sizeof(s->label) - len, "[%s]", vary);
		char saved[96];
		saved_vs_softmax(p, s, saved, sizeof(saved));
		if (strcmp(xcol, "n") == 0 && *saved && len < sizeof(s->label))
			len +=
			    (size_t)snprintf(s->label + len, sizeof(s->label) - len, "%s", saved);
		if (many_shapes && len < sizeof(s->label))
			len += (size_t)snprintf(s->label + len, sizeof(s->label) - len, " %s",
			                        s->shape);
		/* a measurement's panel names it; the legend, shared, fits the declared one */
		if (!k->slope || s->what || strcmp(xcol, "n") != 0 || len >= sizeof(s->label))
			continue;
		/*
		 * A window of w tokens costs N w only once N > w (below, every
		 * query sees all keys: N^2), so its slope is fitted over N > w,
		 * the regime its theory covers, and the legend says so.
		 */
		char wv[32];
		attn_params_value(s->params, "w", wv, sizeof(wv));
		double w = *wv ? atof(wv) : 0;
		int from = 0;
		while (w > 0 && from < s->n && s->x[from] <= w)
			from++;
		double b = s->n - from >= 2 ? attn_stats_loglog_slope(s->x + from, s->y + from,
		                                                      s->n - from, NULL)
		                            : NAN;
		if (fabs(b) < 0.005)
			b = 0; /* a flat curve is N^0.00, not N^-0.00 */
		const char *fitted = k->extra_metric[0] ? " declared" : "";
		if (isfinite(b))
			len += (size_t)snprintf(s->label + len, sizeof(s->label) - len,
			                        " %s N^%.2f%s%s", fitted, b,
			                        from ? " over N > w=" : "", from ? wv : "");
		else if (w > 0)
			len += (size_t)snprintf(s->label + len, sizeof(s->label) - len,
			                        "  no slope: under 2 points with N > w=%s", wv);
		/* the form's and mode's exponent, the one `fit` quotes (theory.h) */
		const struct attn_method *m = reg ? attn_registry_find(reg, s->method) : NULL;
		double t_exp, m_exp;
		if (!m || len >= sizeof(s->label) ||
		    attn_method_theory(m, s->params, attn_theory_is_decode(s->shape), &t_exp,
		                       &m_exp))
			continue;
		const double th = k->exp_is_mem ? m_exp : t_exp;
		if (isfinite(th)) /* theory.h claims none for some forms' memory */
			snprintf(s->label + len, sizeof(s->label) - len, " (theory %g)", th);
	}
}

/*
 * Colour by method, line style and marker by variant (parameters, shape or
 * measurement) of that method. The palette is Okabe and Ito's eight colours
 * for colour-blind readers, ordered so that neighbours differ in hue and
 * lightness. A chart of more than eight methods is drawn as several panels
 * (assign_panels), so no two methods of a panel share a colour.
 */
static const char *const method_palette[] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7",
                                             "#e69f00", "#56b4e9", "#000000", "#f0e442"};
#define N_METHOD_COLOURS ((int)(sizeof(method_palette) / sizeof(*method_palette)))

/* Do series a and b take one colour: the same method, and of a hybrid the same stack? */
static int same_colour(const struct series *a, const struct series *b)
{
	char sa[32], sb[32];
	attn_params_value(a->params, "stack", sa, sizeof(sa));
	attn_params_value(b->params, "stack", sb, sizeof(sb));
	return strcmp(a->method, b->method) == 0 && strcmp(sa, sb) == 0;
}

/*
 * The first series of series i's variant: the same method, parameters and
 * shape in another measure's column (a memory chart's declared workspace
 * and its measurements), else i itself.
 */
static int variant_first(const struct plot *p, int i)
{
	const struct series *a = &p->s[i];
	for (int j = 0; j < i; j++) {
		const struct series *b = &p->s[j];
		if (b->measure != a->measure && strcmp(a->method, b->method) == 0 &&
		    strcmp(a->params, b->params) == 0 && strcmp(a->shape, b->shape) == 0)
			return j;
	}
	return i;
}

/*
 * The rank of series i's variant among the variants of its colour: its
 * line style and marker, the same in every measure's panel.
 */
static int variant_rank(const struct plot *p, int i)
{
	int f = variant_first(p, i), rank = 0;
	for (int j = 0; j < f; j++)
		rank += same_colour(&p->s[j], &p->s[f]) && variant_first(p, j) == j;
	return rank;
}

/*
 * Split the chart's colours (its methods, a hybrid's stacks each) into
 * panels of at most N_METHOD_COLOURS, as few as that allows: k = ceil(m / 8)
 * for m colours. The colours are ordered by family (in the order families
 * come), then as they come. Whole families go to a panel when they pack
 * into k panels; otherwise the order is cut into k near-equal runs (each of
 * at most ceil(m / k) <= 8). Within a panel colours are numbered afresh, so
 * they are distinct there. Sets each series' panel and colour and
 * p->n_panels; -1 when out of memory.
 */
static int assign_panels(struct plot *p)
{
	int n = p->n, ng = 0, nf = 0;
	int *first = malloc((size_t)(n ? n : 1) * sizeof(int)); /* each colour's first series */
	int *group = malloc((size_t)(n ? n : 1) * sizeof(int)); /* each series' colour */
	int *fam = malloc((size_t)(n ? n : 1) * sizeof(int));   /* each colour's family's rank */
	int *order = malloc((size_t)(n ? n : 1) * sizeof(int)); /* the colours, by family */
	int *panel = malloc((size_t)(n ? n : 1) * sizeof(int)); /* each colour's panel */
	if (!first || !group || !fam || !order || !panel) {
		free(first), free(group), free(fam), free(order), free(panel);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		int g = 0;
		while (g < ng && !same_colour(&p->s[first[g]], &p->s[i]))
			g++;
		if (g == ng) {
			first[ng++] = i;
			int f = 0;
			while (f < g && strcmp(p->s[first[f]].family, p->s[i].family) != 0)
				f++;
			fam[g] = f < g ? fam[f] : nf++;
		}
		group[i] = g;
	}
	int k = (ng + N_METHOD_COLOURS - 1) / N_METHOD_COLOURS, no = 0;
	k = k ? k : 1;
	/* one panel: the colours as they come, as the legend lists them */
	for (int f = 0; f < (k > 1 ? nf : 1); f++)
		for (int g = 0; g < ng; g++)
			if (k == 1 || fam[g] == f)
				order[no++] = g;
	/* whole families, first fit in order */
	int used = 0, fill = 0, fits = 1;
	for (int r = 0; r < ng && fits;) {
		int size = 0;
		while (r + size < ng && fam[order[r + size]] == fam[order[r]])
			size++;
		if (fill + size > N_METHOD_COLOURS)
			used++, fill = 0;
		fits = size <= N_METHOD_COLOURS && used < k;
		for (int j = 0; j < size; j++)
			panel[order[r + j]] = used;
		fill += size;
		r += size;
	}
	for (int r = 0; r < ng && !fits; r++)
		panel[order[r]] = (int)((long)r * k / ng);
	for (int r = 0; r < ng; r++) {
		/* the colour's number among its panel's colours, in family order */
		int c = 0;
		for (int q = 0; q < r; q++)
			c += panel[order[q]] == panel[order[r]];
		for (int i = 0; i < n; i++)
			if (group[i] == order[r]) {
				p->s[i].panel = panel[order[r]];
				p->s[i].colour = c;
			}
	}
	p->n_panels = k;
	free(first), free(group), free(fam), free(order), free(panel);
	return 0;
}

static const char *series_colour(const struct plot *p, int i)
{
	return method_palette[p->s[i].colour % N_METHOD_COLOURS];
}

/* gnuplot's filled markers (square, circle, triangle, diamond, pentagon) by variant. */
static int series_point(const struct plot *p, int i)
{
	static const int filled[] = {5, 7, 9, 13, 15};
	return filled[variant_rank(p, i) % 5];
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

/*
 * The kind's measurements beside its declared metric: each loaded on its
 * own, so its series stay apart from the declared ones, and appended.
 */
static int plot_load_extras(const struct attn_chart_req *q, const struct plot_kind *k,
                            struct plot *p, char *err, size_t errlen)
{
	for (int e = 0; e < 2 && k->extra_metric[e]; e++) {
		struct plot x = {0};
		int rc = plot_load(q, k, k->extra_metric[e], &x, err, errlen);
		if (rc == ATTN_OK && grow((void **)&p->s, &p->cap, p->n + x.n, sizeof(*p->s)))
			rc = attn_errf(err, errlen, ATTN_ERR_NOMEM,
			               "out of memory loading the chart");
		if (rc != ATTN_OK) {
			plot_free(&x);
			return rc;
		}
		for (int i = 0; i < x.n; i++) {
			x.s[i].what = k->extra_word[e];
			x.s[i].measure = 1 + e;
			p->s[p->n++] = x.s[i];
		}
		free(x.s);
	}
	return ATTN_OK;
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
		fprintf(f, "# %s %s %s %s%s%s\n# x y lo hi (stored units) N\n", s->method,
		        s->params, s->shape, s->family, s->what ? " " : "", s->what ? s->what : "");
		for (int j = 0; j < s->n; j++)
			fprintf(f, "%.17g %.17g %.17g %.17g %.0f\n", s->x[j], s->y[j],
			        isfinite(s->lo[j]) ? s->lo[j] : s->y[j],
			        isfinite(s->hi[j]) ? s->hi[j] : s->y[j], s->nn[j]);
		if (fclose(f))
			return -1;
	}
	return 0;
}

/* The data's range on both axes in axis units, over every series (bars too), positives only. */
static void data_range(const struct plot_kind *k, const struct plot *p, int bars, double lo[2],
                       double hi[2])
{
	lo[0] = lo[1] = INFINITY;
	hi[0] = hi[1] = 0;
	for (int i = 0; i < p->n; i++)
		for (int j = 0; j < p->s[i].n; j++) {
			double v[4] = {p->s[i].x[j] * k->x_scale, p->s[i].y[j] * k->y_scale,
			               p->s[i].lo[j] * k->y_scale, p->s[i].hi[j] * k->y_scale};
			for (int a = 0; a < (bars ? 4 : 2); a++)
				if (v[a] > 0 && isfinite(v[a]))
					lo[a > 0] = fmin(lo[a > 0], v[a]),
					       hi[a > 0] = fmax(hi[a > 0], v[a]);
		}
}

/* v widened to [lo, hi] when it is a positive number. */
static void range_add(double v, double *lo, double *hi)
{
	if (v > 0 && isfinite(v))
		*lo = fmin(*lo, v), *hi = fmax(*hi, v);
}

/* The smallest and largest N of the chart's points. */
static void n_range(const struct plot *p, double *lo, double *hi)
{
	*lo = INFINITY, *hi = 0;
	for (int i = 0; i < p->n; i++)
		for (int j = 0; j < p->s[i].n; j++)
			range_add(p->s[i].nn[j], lo, hi);
}

/*
 * A points chart's marker size for N: 0.8 at the chart's smallest N to 2.8
 * at its largest, linear in log N (each doubling adds the same). Written
 * into the script as gnuplot's expression of column 5 (N) when n is NAN.
 */
static double n_point_size(FILE *f, double n, double lo, double hi)
{
	double a = hi > lo ? 0.8 : 1.6, b = hi > lo ? 2.0 / log(hi / lo) : 0;
	if (f)
		fprintf(f, ":(%.4g+%.6g*log($5/%.6g))", a, b, lo);
	return a + b * log(n / lo);
}

/*
 * The Ns a points chart's size key shows, ascending, into ns[SIZE_KEY]: its
 * distinct Ns when there are at most SIZE_KEY, else SIZE_KEY of them spread
 * from the smallest to the largest. Returns how many.
 */
#define SIZE_KEY 6
static int size_key(const struct plot *p, double ns[SIZE_KEY])
{
	double all[64];
	int m = 0;
	for (int i = 0; i < p->n; i++)
		for (int j = 0; j < p->s[i].n; j++) {
			double v = p->s[i].nn[j];
			int at = 0;
			while (at < m && all[at] < v)
				at++;
			if ((at < m && all[at] == v) || m == 64)
				continue;
			memmove(all + at + 1, all + at, (size_t)(m - at) * sizeof(*all));
			all[at] = v, m++;
		}
	int shown = m < SIZE_KEY ? m : SIZE_KEY;
	for (int q = 0; q < shown; q++)
		ns[q] = all[shown > 1 ? (int)lround((double)q * (m - 1) / (shown - 1)) : 0];
	return shown;
}

/*
 * The entries of panel row j's legend: a series per variant (one for all
 * the measures' columns of a memory chart), the roof lines and the size key.
 */
static int legend_entries(const struct plot_kind *k, const struct plot *p, int j,
                          const struct attn_query_roofs *rf)
{
	double ns[SIZE_KEY];
	int e = rf ? (rf->sgemm > 0) + (rf->fma > 0) + (rf->triad > 0) : 0;
	for (int i = 0; i < p->n; i++)
		e += p->s[i].panel == j && variant_first(p, i) == i;
	return e + (k->points ? size_key(p, ns) : 0);
}

/*
 * "plot ..." of the series of panel row `panel`, column `col`, with the
 * legend when `keyed`: the series' own titles in a chart of one column;
 * with several columns (measures) the series have none and the legend is
 * drawn once per row, as entries of no data in the series' styles.
 */
static void write_plot(FILE *f, const char *name, const struct plot_kind *k, const struct plot *p,
                       int panel, int col, int keyed, const struct attn_query_roofs *rf,
                       const char *roof_of)
{
	const char *sep = "plot ", *more = ", \\\n     ";
	double nlo, nhi;
	n_range(p, &nlo, &nhi);
	for (int i = 0; i < p->n; i++) {
		if (p->s[i].panel != panel || p->s[i].col != col)
			continue;
		fprintf(f, "%s'%s_%02d.dat' using ($1*%g):($2*%g)", sep, name, i, k->x_scale,
		        k->y_scale);
		sep = more;
		if (k->lo_metric && !p->s[i].what)
			fprintf(f, ":($3*%g):($4*%g) with yerrorlines", k->y_scale, k->y_scale);
		else if (k->points)
			n_point_size(f, NAN, nlo, nhi), fputs(" with points", f);
		else
			fputs(" with linespoints", f);
		fprintf(f, " lw 2 dt %d pt %d ps %s lc rgb '%s' ", 1 + variant_rank(p, i) % 5,
		        series_point(p, i), k->points ? "variable" : "1.2", series_colour(p, i));
		if (p->n_cols > 1 || !keyed) {
			fputs("notitle", f);
			continue;
		}
		fputs("title ", f);
		attn__gp_str(f, p->s[i].label);
	}
	/* a variant's first series is its declared one where it has one: its label has the fit */
	for (int i = 0; i < p->n && keyed && p->n_cols > 1; i++) {
		if (p->s[i].panel != panel || variant_first(p, i) != i)
			continue;
		fprintf(f, "%s1/0 with linespoints lw 2 dt %d pt %d ps 1.2 lc rgb '%s' title ", sep,
		        1 + variant_rank(p, i) % 5, series_point(p, i), series_colour(p, i));
		attn__gp_str(f, p->s[i].label);
		sep = more;
	}
	double ns[SIZE_KEY];
	for (int q = 0, m = k->points && keyed ? size_key(p, ns) : 0; q < m; q++, sep = more)
		fprintf(f, "%s1/0 with points pt 7 ps %.3g lc rgb '#707070' title 'N=%.0f'", sep,
		        n_point_size(NULL, ns[q], nlo, nhi), ns[q]);
	if (rf && rf->sgemm > 0)
		fprintf(f,
		        "%s%.6g with lines dt 2 lw 2 lc rgb '#555555' title "
		        "'sgemm roof %.0f GFLOP/s%s'",
		        sep, rf->sgemm, rf->sgemm, roof_of),
		    sep = more;
	if (rf && rf->fma > 0) {
		char t[320];
		snprintf(t, sizeof(t), "FMA peak %.0f GFLOP/s %s%s", rf->fma, rf->isa, roof_of);
		fprintf(f, "%s%.6g with lines dt 3 lw 2 lc rgb '#000000' title ", sep, rf->fma);
		attn__gp_str(f, t);
		sep = more;
	}
	if (rf && rf->triad > 0)
		fprintf(f,
		        "%s(%.6g*x <= %.6g ? %.6g*x : 1/0) with lines dt 4 lw 2 lc rgb "
		        "'#1b7837' title 'triad bandwidth %.1f GB/s (slope)%s'",
		        sep, rf->triad, fmax(rf->fma, rf->sgemm), rf->triad, rf->triad, roof_of),
		    sep = more;
	/* a panel of a measure none of its row's methods has: said, not left blank */
	if (sep != more)
		fputs("set label 2 'no data for these methods' at graph 0.5,0.5 center\n"
		      "plot 1/0 notitle\nunset label 2",
		      f);
	fputs("\n", f);
}

/* "linear (1 of 2), sparse": the families of panel row j, a family cut over rows with its part. */
static void row_families(const struct plot *p, int j, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = 0;
	for (int i = 0; i < p->n && used < len; i++) {
		int seen = p->s[i].panel != j;
		for (int q = 0; q < i && !seen; q++)
			seen = p->s[q].panel == j && strcmp(p->s[q].family, p->s[i].family) == 0;
		if (seen)
			continue;
		int part = 0, parts = 0;
		for (int q = 0; q < p->n_panels; q++) {
			int has = 0;
			for (int r = 0; r < p->n && !has; r++)
				has = p->s[r].panel == q &&
				      strcmp(p->s[r].family, p->s[i].family) == 0;
			parts += has;
			part += has && q <= j;
		}
		used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
		                         p->s[i].family);
		if (parts > 1 && used < len)
			used +=
			    (size_t)snprintf(buf + used, len - used, " (%d of %d)", part, parts);
	}
}

/*
 * A chart of panels: rows of at most eight colours (assign_panels), and a
 * column per measure (a memory chart's declared workspace, tracked peak and
 * RSS growth), in one image. Every panel's axes have the same ranges (the
 * data's over all panels, rounded out to whole decades, or powers of 2 on a
 * base-2 axis), so a reader compares panels point for point. Each row has
 * one legend, beside its plot or (long labels, several columns) under the
 * row in as many columns of the widest label as the image's width holds;
 * the image grows to hold it, so it never clips or covers an axis. The
 * margins are set in pixels, so the plots line up. The y label is at the
 * left of each row (a panel's own would take room from the plots).
 */
static void write_panels(FILE *f, const char *name, const char *format, const struct plot_kind *k,
                         const char *xcol, const char *y_label, const struct plot *p,
                         const struct attn_query_roofs *rf, const char *roof_of,
                         const char *caption, size_t widest, double xmin)
{
	const int rows = p->n_panels, cols = p->n_cols;
	const double title_px = 50, head_px = 40, axis_px = 70, gap_px = 30, left_px = 90,
	             col_gap_px = 90, row_px = ATTN_CHART_KEY_ROW_PX;
	int emax = 0;
	for (int j = 0; j < rows; j++)
		emax = legend_entries(k, p, j, rf) > emax ? legend_entries(k, p, j, rf) : emax;
	int below = cols > 1 || widest > 44;
	/* one legend column: the widest label, its sample line and the gaps */
	double key_col_px = (double)widest * ATTN_CHART_CHAR_PX + ATTN_CHART_KEY_COL_PX;
	double width = fmax(cols > 1 ? 1600 : 1280, key_col_px + 40);
	int key_cols = below ? (int)((width - 40) / key_col_px) : 1;
	key_cols = key_cols < 1 ? 1 : key_cols > emax ? emax : key_cols;
	int key_rows = (emax + key_cols - 1) / key_cols;
	double key_px = below ? 0 : key_col_px + 30;
	double right_px = below ? width - 40 : width - key_px;
	double plot_px = rows == 1 && cols == 1 ? 640 : 400;
	double legend_px = below ? key_rows * row_px + 16 : 0;
	double slot_px = below ? head_px + plot_px + axis_px + legend_px + gap_px
	                       : fmax(520, emax * row_px * 1.2 + 120) + gap_px;
	double height = title_px + rows * slot_px;
	double pw = (right_px - left_px - (cols - 1) * col_gap_px) / cols;
	int svg = strcmp(format, "svg") == 0, log2x = !k->x_metric && strcmp(xcol, "d") != 0;
	fprintf(f, "set terminal %s noenhanced size %.0f,%.0f font 'sans,12'\n",
	        svg ? "svg dynamic" : "pngcairo", width, height);
	fprintf(f, "set output '%s.%s'\n", name, svg ? "svg" : "png");
	double lo[2], hi[2];
	data_range(k, p, k->lo_metric != NULL, lo, hi);
	if (rf) {
		range_add(rf->sgemm, &lo[1], &hi[1]);
		range_add(rf->fma, &lo[1], &hi[1]);
		range_add(xmin, &lo[0], &hi[0]);
		if (rf->triad > 0)
			range_add(rf->triad * lo[0], &lo[1], &hi[1]);
	}
	for (int a = 0; a < 2 && isfinite(lo[a]) && hi[a] > 0; a++) {
		double l = lo[a], h = hi[a];
		if (k->points)
			l /= 1.6, h *= 1.6; /* as one panel's: a fifth of a decade beyond */
		else if (a == 0 && log2x)
			l = exp2(floor(log2(l))), h = exp2(ceil(log2(h)));
		else if (!(a == 0 && rf && rf->triad > 0))
			l = pow(10, floor(log10(l))), h = pow(10, ceil(log10(h)));
		if (h <= l)
			h = l * 2;
		fprintf(f, "set %srange [%.6g:%.6g]\n", a ? "y" : "x", l, h);
	}
	fputs("set multiplot title ", f);
	attn__gp_str(f, caption);
	fputs("\n", f);
	for (int j = 0; j < rows; j++) {
		double top = title_px + j * slot_px;
		double plot_bottom = top + head_px + plot_px;
		if (!below)
			plot_bottom = top + slot_px - gap_px - axis_px;
		char fams[200];
		row_families(p, j, fams, sizeof(fams));
		for (int c = 0; c < cols; c++) {
			/* "(a) linear (1 of 2)", "(b) measured: tracked peak, linear (1 of 2)" */
			char title[320] = "";
			if (rows > 1 || cols > 1)
				snprintf(title, sizeof(title), "(%c) %s%s%s",
				         'a' + (j * cols + c) % 26, cols > 1 ? p->col_title[c] : "",
				         cols > 1 && rows > 1 ? ", " : "", rows > 1 ? fams : "");
			double l = left_px + c * (pw + col_gap_px);
			fputs("set title ", f);
			attn__gp_str(f, title);
			fprintf(f,
			        "\nset lmargin at screen %.4f\nset rmargin at screen %.4f\n"
			        "set tmargin at screen %.4f\nset bmargin at screen %.4f\n",
			        l / width, (l + pw) / width, 1 - (top + head_px) / height,
			        1 - plot_bottom / height);
			if (c > 0)
				fputs("unset key\n", f);
			else if (below)
				fprintf(
				    f,
				    "set key at screen 0.5,screen %.4f center top maxrows %d box "
				    "spacing 1.1\n",
				    1 - (plot_bottom + axis_px) / height, key_rows);
			else
				fprintf(f,
				        "set key at screen %.4f,screen %.4f left top box opaque "
				        "spacing "
				        "1.2\n",
				        (right_px + 10) / width, 1 - (top + head_px) / height);
			if (c == 0) {
				/* drawn with the row's first panel only: each panel redraws the
				 * labels set */
				fputs("set label 1 ", f);
				attn__gp_str(f, y_label);
				fprintf(f, " at screen %.4f,screen %.4f center rotate by 90\n",
				        18 / width, 1 - (top + head_px + plot_bottom) / 2 / height);
			}
			write_plot(f, name, k, p, j, c, c == 0, rf, roof_of);
			if (c == 0)
				fputs("unset label 1\n", f);
		}
	}
	fputs("unset multiplot\n", f);
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
	size_t widest = 0;
	for (int i = 0; i < p->n; i++)
		widest = strlen(p->s[i].label) > widest ? strlen(p->s[i].label) : widest;
	double xmin = NAN;
	if (rf && rf->triad > 0) {
		/* Start the x axis left of the ridge point so the bandwidth slope shows. */
		xmin = fmax(rf->fma, rf->sgemm) / rf->triad / 8;
		for (int i = 0; i < p->n; i++)
			for (int j = 0; j < p->s[i].n; j++)
				xmin = fmin(xmin, p->s[i].x[j] * k->x_scale);
	}
	/*
	 * Many series or long labels (a stack's name and its saving) put the
	 * legend under the chart, in columns (write_panels): at the right they
	 * would squeeze the chart to a strip.
	 */
	int panels =
	    p->n_panels > 1 || p->n_cols > 1 || legend_entries(k, p, 0, rf) > 16 || widest > 44;
	/* the settings every panel shares; a single chart sets its terminal first */
	if (panels) {
		fputs("set xlabel ", f);
	} else {
		fprintf(f, "set terminal %s noenhanced size 1280,800 font 'sans,12'\n",
		        svg ? "svg dynamic" : "pngcairo");
		fprintf(f, "set output '%s.%s'\nset title ", name, svg ? "svg" : "png");
		attn__gp_str(f, caption);
		fputs("\nset xlabel ", f);
	}
	attn__gp_str(f, k->x_label ? k->x_label : x_label(xcol));
	/* panels share one y label, written once beside them all (write_panels) */
	fputs(panels ? "\nunset ylabel" : "\nset ylabel ", f);
	if (!panels)
		attn__gp_str(f, y_label);
	fprintf(f, "\nset logscale x%s\nset logscale y\nset format x '%%g'\nset format y '%%g'\n",
	        !k->x_metric && strcmp(xcol, "d") != 0 ? " 2" : "");
	fputs("set grid xtics ytics mxtics mytics lc rgb '#e0e0e0'\nset samples 500\n"
	      "set pointsize 1.2\n",
	      f);
	if (panels) {
		write_panels(f, name, format, k, xcol, y_label, p, rf, roof_of, caption, widest,
		             xmin);
		return fclose(f) ? -1 : 0;
	}
	fputs("set key outside right top box opaque spacing 1.2\n", f);
	if (isfinite(xmin))
		fprintf(f, "set xrange [%.6g:*]\n", xmin);
	if (k->points && !rf) {
		/*
		 * The ranges are the data's, a fifth of a decade beyond, not whole
		 * decades; a roofline's take its roofs in as gnuplot finds them.
		 */
		double lo[2], hi[2];
		data_range(k, p, 0, lo, hi);
		for (int a = 0; a < 2; a++)
			if (isfinite(lo[a]) && hi[a] > 0)
				fprintf(f, "set %srange [%.6g:%.6g]\n", a ? "y" : "x", lo[a] / 1.6,
				        hi[a] * 1.6);
	}
	write_plot(f, name, k, p, 0, 0, 1, rf, roof_of);
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
	    (p.n && (rc = plot_load_extras(q, k, &p, why, sizeof(why))) != ATTN_OK) ||
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
	/* a column of panels per measure that has data, in the kind's order */
	int col_of[3] = {0}, has[3] = {0};
	for (int i = 0; i < p.n; i++)
		has[p.s[i].measure] = 1;
	p.n_cols = 0;
	for (int m = 0; m < 3; m++)
		if (has[m]) {
			p.col_title[p.n_cols] = k->measure_title[m];
			col_of[m] = p.n_cols++;
		}
	for (int i = 0; i < p.n; i++)
		p.s[i].col = col_of[p.s[i].measure];
	label_series(&p, k, q->xcol, q->reg);
	if (assign_panels(&p)) {
		plot_free(&p);
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory drawing the chart");
	}
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
