/*
 * The survey's figure set (see report.h), drawn from the runs of one
 * figure-set database: fits the complexity run and compares the forms of
 * every method that has several (Table 1), storing both; then draws every
 * figure as PNG and SVG and writes index.html with the PNGs embedded, so the
 * page is one file that can be mailed or archived.
 *
 * The figures are the table figures[] below, drawn in its order: a chart of
 * a stored metric (chart.c), or a figure of its own (Fig. 1, Fig. 3). Adding
 * a figure is one entry there. Every number on the page comes from the
 * database; the statistics are computed here in C and gnuplot only draws.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attnbench/fit.h"
#include "attnbench/forms.h"
#include "attnbench/query.h"
#include "attnbench/registry.h"
#include "attnbench/report.h"
#include "attnbench/status.h"
#include "attnbench/store.h"
#include "report_internal.h"

static const char *const sweep_names[ATTN_FIG_N_SWEEPS] = {"complexity", "forms", "masks",
                                                           "hybrid"};

const char *attn_fig_sweep_name(enum attn_fig_sweep sweep)
{
	return sweep >= 0 && sweep < ATTN_FIG_N_SWEEPS ? sweep_names[sweep] : "?";
}

/* A figure on the page: its files, title and caption (plain text). */
struct figure {
	char name[64];
	char title[160];
	char caption[2048];
	int sweep; /* whose provenance the caption cites; -1: none */
};

#define MAX_FIGURES 32

/* Every figure is drawn in each: the page embeds the PNG and links the SVG. */
static const char *const formats[] = {"png", "svg"};
#define N_FORMATS ((int)(sizeof(formats) / sizeof(*formats)))

struct ctx {
	const struct attn_figures_req *q;
	struct figure figs[MAX_FIGURES];
	int n_figs;
	struct attn_fit_row *fits;
	int n_fits;
	char *err;
	size_t errlen;
};

static void progress(struct ctx *c, const char *msg)
{
	if (c->q->note)
		c->q->note(c->q->note_ctx, ATTN_REPORT_PROGRESS, msg);
}

/* Text with <, >, & and quotes escaped for HTML. */
static void html_str(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

/* The file as base64 into f; -1 when it cannot be read. */
static int put_base64(FILE *f, const char *path)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	FILE *in = fopen(path, "rb");
	if (!in)
		return -1;
	unsigned char b[3];
	size_t got;
	while ((got = fread(b, 1, 3, in)) > 0) {
		unsigned v = (unsigned)b[0] << 16 | (got > 1 ? (unsigned)b[1] << 8 : 0) |
		             (got > 2 ? b[2] : 0);
		fputc(tab[v >> 18 & 63], f);
		fputc(tab[v >> 12 & 63], f);
		fputc(got > 1 ? tab[v >> 6 & 63] : '=', f);
		fputc(got > 2 ? tab[v & 63] : '=', f);
	}
	int bad = ferror(in);
	fclose(in);
	return bad ? -1 : 0;
}

static struct figure *add_figure(struct ctx *c, const char *name, int sweep, const char *title)
{
	if (c->n_figs == MAX_FIGURES)
		return NULL;
	struct figure *f = &c->figs[c->n_figs++];
	snprintf(f->name, sizeof(f->name), "%s", name);
	snprintf(f->title, sizeof(f->title), "%s", title);
	f->caption[0] = 0;
	f->sweep = sweep;
	return f;
}

/* Compare the forms of every method that has them, at the forms run's smaller N. */
static int verify_forms(struct ctx *c)
{
	static const int64_t ns[] = {256, 1024};
	const struct attn_figures_req *q = c->q;
	char err[512], line[768];
	for (int i = 0; i < attn_registry_count(q->reg); i++) {
		const struct attn_method *m = attn_registry_at(q->reg, i);
		if (attn_method_form_param(m) < 0 || (m->flags & ATTN_METHOD_ORACLE_ONLY))
			continue;
		for (size_t k = 0; k < sizeof(ns) / sizeof(*ns); k++) {
			struct attn_shape s = {.batch = 1,
			                       .heads = 1,
			                       .kv_heads = 1,
			                       .n = ns[k],
			                       .d = 64,
			                       .causal = 1,
			                       .mode = ATTN_MODE_PREFILL};
			struct attn_forms_diff fd;
			const char *note = NULL;
			int st = attn_forms_diff(m, &s, ATTN_DIST_GAUSSIAN, 42, 1, &fd, err,
			                         sizeof(err));
			if (st != ATTN_OK)
				note = err;
			if (attn_store_form_diff(q->st, q->runs[ATTN_FIG_FORMS], m->name, &s, &fd,
			                         note, err, sizeof(err)))
				return attn_errf(c->err, c->errlen, ATTN_ERR_DB, "%s: %s",
				                 q->db_name, err);
			snprintf(line, sizeof(line), "%s N=%lld: forms %s agree to %.2g", m->name,
			         (long long)s.n, st == ATTN_OK ? fd.forms : "-",
			         st == ATTN_OK ? fd.max_rel : NAN);
			progress(c, line);
		}
	}
	return ATTN_OK;
}

/*
 * A sweep's run's provenance: "run R, host (cpu), commit C, date"; nothing
 * if it is gone. Of a merged sweep, its runs, shards, hosts, CPUs and
 * commits, and the spec and command of the run named (every shard's spec is
 * the sweep's; the commands differ in --shard).
 */
static void provenance(struct ctx *c, int sweep, FILE *f)
{
	struct attn_query_run r;
	if (attn_query_run_info(c->q->st, c->q->runs[sweep], &r, NULL, 0) != ATTN_OK)
		return;
#define OR_Q(s) ((s) ? (s) : "?")
	char who[512];
	attn__run_words(&r, who, sizeof(who));
	fputs("<p class=\"prov\">Measured by ", f);
	html_str(f, who);
	fputs(" of <code>", f);
	html_str(f, c->q->db_name);
	fputs("</code> (sweep <code>", f);
	html_str(f, sweep_names[sweep]);
	fprintf(f, "</code>, %lld of %lld cases ok) on <b>", (long long)r.n_ok,
	        (long long)r.n_cases);
	html_str(f, OR_Q(attn__run_hosts(&r)));
	fputs("</b>, ", f);
	html_str(f, OR_Q(attn__run_cpus(&r)));
	fputs(", ", f);
	html_str(f, OR_Q(r.cores));
	fputs(" cores; commit <code>", f);
	html_str(f, OR_Q(attn__run_commits(&r)));
	fputs("</code>, started ", f);
	html_str(f, OR_Q(r.started_at));
	fputs(".</p>\n<details><summary>sweep spec</summary><pre>", f);
	html_str(f, OR_Q(r.spec));
	fputs("\n", f);
	html_str(f, OR_Q(r.command));
	fputs("</pre></details>\n", f);
#undef OR_Q
	attn_query_run_info_free(&r);
}

/* The forms one method ran, each a row of Table 1, with its median ms per N column. */
struct t1_row {
	char forms[3][16];
	double ms[3][16];
	int nf;
	const int64_t *ns;
	int n_ns;
};

static int t1_time(void *ctx, const struct attn_query_form_time *ft)
{
	struct t1_row *t = ctx;
	const char *form = ft->form ? ft->form : "-";
	if (t->nf == 0 || strcmp(t->forms[t->nf - 1], form)) {
		if (t->nf == 3)
			return 1; /* three forms at most: stop reading */
		snprintf(t->forms[t->nf], sizeof(t->forms[t->nf]), "%s", form);
		for (int k = 0; k < 16; k++)
			t->ms[t->nf][k] = NAN;
		t->nf++;
	}
	for (int k = 0; k < t->n_ns; k++)
		if (t->ns[k] == ft->n && ft->has_median && strcmp(ft->status, "ok") == 0)
			t->ms[t->nf - 1][k] = ft->median_ns * 1e-6;
	return ATTN_OK;
}

/* Table 1 verified: per method its rule, how closely its forms agree, each form's times. */
static int table1(struct ctx *c, FILE *f)
{
	const struct attn_figures_req *q = c->q;
	char rules[64][2][160];
	int n_rules = 0;
	char path[1024], line[512], why[512];
	snprintf(path, sizeof(path), "%s/workloads/figures/table1.txt", q->data_dir);
	FILE *in = fopen(path, "r");
	while (in && fgets(line, sizeof(line), in) && n_rules < 64) {
		char *fld[2];
		if (line[0] == '#' || attn_report_split_fields(line, fld, 2) < 2)
			continue;
		char *a = fld[0], *b = fld[1];
		a[strcspn(a, " \t")] = 0;
		snprintf(rules[n_rules][0], 160, "%s", a);
		snprintf(rules[n_rules][1], 160, "%s", b);
		n_rules++;
	}
	if (in)
		fclose(in);

	/* The N the forms run measured, for the columns. */
	const int64_t run = q->runs[ATTN_FIG_FORMS];
	int64_t ns[16];
	int n_ns = 0, rc;
	if ((rc = attn_query_run_ns(q->st, run, ns, 16, &n_ns, why, sizeof(why))) != ATTN_OK)
		return attn_errf(c->err, c->errlen, rc, "%s: %s", q->db_name, why);

	fputs("<table class=\"t1\">\n<tr><th>method</th><th>state update</th><th>forms agree "
	      "to<br><small>max |o<sub>a</sub>−o<sub>b</sub>| / max |o|</small></th><th>form</th>",
	      f);
	for (int i = 0; i < n_ns; i++)
		fprintf(f, "<th>N = %lld</th>", (long long)ns[i]);
	fputs("</tr>\n", f);

	for (int i = 0; i < n_rules; i++) {
		struct t1_row t = {.nf = 0, .ns = ns, .n_ns = n_ns};
		char *agree, *note;
		rc = attn_query_form_times(q->st, run, rules[i][0], t1_time, &t, why, sizeof(why));
		if (rc < 0)
			return attn_errf(c->err, c->errlen, rc, "%s: %s", q->db_name, why);
		if (t.nf == 0)
			continue;
		rc = attn_query_form_agreement(q->st, run, rules[i][0], &agree, &note, why,
		                               sizeof(why));
		if (rc)
			return attn_errf(c->err, c->errlen, rc, "%s: %s", q->db_name, why);
		for (int k = 0; k < t.nf; k++) {
			fputs("<tr>", f);
			if (k == 0) {
				fprintf(f, "<td rowspan=\"%d\"><code>", t.nf);
				html_str(f, rules[i][0]);
				fprintf(f, "</code></td><td rowspan=\"%d\">", t.nf);
				html_str(f, rules[i][1]);
				fprintf(f, "</td><td rowspan=\"%d\">", t.nf);
				html_str(f, agree ? agree : note ? note : "not compared");
				fputs("</td>", f);
			}
			fputs("<td>", f);
			html_str(f, t.forms[k]);
			fputs("</td>", f);
			for (int j = 0; j < n_ns; j++)
				if (isfinite(t.ms[k][j]))
					fprintf(f, "<td class=\"num\">%.3g ms</td>", t.ms[k][j]);
				else
					fputs("<td class=\"num\">–</td>", f);
			fputs("</tr>\n", f);
		}
		free(agree);
		free(note);
	}
	fputs("</table>\n", f);
	return ATTN_OK;
}

static void fit_table(struct ctx *c, FILE *f)
{
	fputs("<table class=\"fits\">\n<tr>", f);
	for (int j = 0; j < ATTN_REPORT_FIT_COLS; j++) {
		if (j == 2)
			continue; /* the shape family is the same for every row here */
		fputs("<th>", f);
		html_str(f, attn_report_fit_col_names[j]);
		fputs("</th>", f);
	}
	fputs("</tr>\n", f);
	for (int i = 0; i < c->n_fits; i++) {
		char cells[ATTN_REPORT_FIT_COLS][320];
		attn_report_fit_cells(&c->fits[i], c->q->reg, cells);
		fputs("<tr>", f);
		for (int j = 0; j < ATTN_REPORT_FIT_COLS; j++) {
			if (j == 2)
				continue;
			fputs(j == 0             ? "<td><code>"
			      : j >= 3 && j <= 5 ? "<td class=\"num\">"
			                         : "<td>",
			      f);
			html_str(f, cells[j]);
			fputs(j == 0 ? "</code></td>" : "</td>", f);
		}
		fputs("</tr>\n", f);
	}
	fputs("</table>\n", f);
}

static const char css[] =
    "body{font-family:sans-serif;max-width:1280px;margin:2em auto;padding:0 1em;color:#222;"
    "line-height:1.45}h1{font-weight:600}figure{margin:2.5em 0;border-top:1px solid #ddd;"
    "padding-top:1em}figure img{max-width:100%;height:auto;display:block;margin:0 auto}"
    "figcaption{margin-top:.6em}figcaption b{font-size:1.05em}.prov{color:#555;font-size:.9em}"
    "details pre{background:#f6f6f6;padding:.6em;font-size:.85em;white-space:pre-wrap}"
    "table{border-collapse:collapse;font-size:.88em;margin:1em 0}td,th{border:1px solid #ccc;"
    "padding:.25em .5em;vertical-align:top}th{background:#f0f0f0}td.num{text-align:right;"
    "white-space:nowrap}code{font-size:.95em}nav{display:flex;flex-wrap:wrap;gap:.3em 1.2em}";

/*
 * The page. The images are inlined as data: URIs (the page stays one file);
 * the SVG next to each is linked. The small script marks on <body> how many
 * images decoded, which the headless-browser test reads.
 */
static int write_index(struct ctx *c)
{
	const struct attn_figures_req *q = c->q;
	char path[4096];
	snprintf(path, sizeof(path), "%s/index.html", q->dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return attn_errf(c->err, c->errlen, ATTN_ERR_IO, "%s: %s", path, strerror(errno));
	time_t now = time(NULL);
	char when[64];
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", gmtime(&now));
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<title>attnbench: the survey's figures, measured</title>\n<style>",
	      f);
	fputs(css, f);
	fputs("</style></head>\n<body data-images=\"pending\">\n"
	      "<h1>Efficient attention, measured</h1>\n<p>The figures of <i>Efficient Attention "
	      "Mechanisms for Large Language Models: A Survey</i> (arXiv 2507.19595), regenerated "
	      "by <code>attnbench figures --",
	      f);
	html_str(f, q->set);
	fprintf(f, "</code> on %s from the database <code>", when);
	html_str(f, q->db_name);
	fputs("</code>. Every number is a measurement of this machine; each caption says which "
	      "run. Each figure is also an SVG next to this page.</p>\n<nav>",
	      f);
	for (int i = 0; i < c->n_figs; i++)
		fprintf(f, "<a href=\"#%s\">%s</a>", c->figs[i].name, c->figs[i].name);
	fputs("<a href=\"#table1\">Table 1</a><a href=\"#fits\">fits</a></nav>\n", f);
	for (int i = 0; i < c->n_figs; i++) {
		const struct figure *g = &c->figs[i];
		snprintf(path, sizeof(path), "%s/%s.png", q->dir, g->name);
		fprintf(f, "<figure id=\"%s\"><img alt=\"%s\" src=\"data:image/png;base64,",
		        g->name, g->name);
		if (put_base64(f, path)) {
			int rc = attn_errf(c->err, c->errlen, ATTN_ERR_IO, "%s: %s", path,
			                   strerror(errno));
			fclose(f);
			return rc;
		}
		fputs("\">\n<figcaption><b>", f);
		html_str(f, g->title);
		fputs("</b> ", f);
		html_str(f, g->caption);
		fprintf(f, " <a href=\"%s.svg\">SVG</a></figcaption>\n", g->name);
		if (g->sweep >= 0)
			provenance(c, g->sweep, f);
		fputs("</figure>\n", f);
	}
	fputs("<section id=\"table1\"><h2>Table 1, verified</h2>\n<p>Each linear method's forms "
	      "run on the same seeded inputs (causal, d = 64, one head); the third column is the "
	      "largest relative difference between any two forms' outputs. The other columns are "
	      "the median time per call of each form, from the Fig. 2 sweep.</p>\n",
	      f);
	int rc = table1(c, f);
	if (rc != ATTN_OK) {
		fclose(f);
		return rc;
	}
	provenance(c, ATTN_FIG_FORMS, f);
	fputs("</section>\n<section id=\"fits\"><h2>Fitted exponents and crossovers</h2>\n<p>Per "
	      "method, from the complexity sweep: the slope of log time on log N with its 95% "
	      "bootstrap CI next to the method's theoretical exponent, the term of "
	      "a·N² + b·N·log N + c·N + d (non-negative least squares) that carries most of the "
	      "cost at the largest N, and the N* above which the method is faster than "
	      "<code>flash</code>, interpolated with its CI.</p>\n",
	      f);
	fit_table(c, f);
	provenance(c, ATTN_FIG_COMPLEXITY, f);
	fputs("</section>\n<script>\naddEventListener('load', function () {\n"
	      "  var im = document.images, ok = 0;\n"
	      "  for (var i = 0; i < im.length; i++) if (im[i].complete && im[i].naturalWidth > 0) "
	      "ok++;\n"
	      "  document.body.setAttribute('data-images', ok + '/' + im.length);\n});\n"
	      "</script>\n</body></html>\n",
	      f);
	snprintf(path, sizeof(path), "%s/index.html", q->dir);
	if (fclose(f))
		return attn_errf(c->err, c->errlen, ATTN_ERR_IO, "%s: %s", path, strerror(errno));
	return ATTN_OK;
}

/* ---- the figures ---------------------------------------------------------------- */

struct fig_def;
/* Draw d as name (of one branch: family, else NULL); fill caption (when the figure writes its own)
 * and err. */
typedef int (*fig_draw_fn)(struct ctx *c, const struct fig_def *d, const char *name,
                           const char *title, const char *family, char *caption,
                           size_t caption_len);

/*
 * One figure, or with per_family one per survey branch (name and title are
 * then formats: the name takes the branch, the title its letter and the
 * branch's long name). A chart's caption is `caption`; Fig. 1 and Fig. 3
 * write their own.
 */
struct fig_def {
	const char *name;
	int sweep; /* the run it is drawn from, whose provenance it cites; -1: none */
	fig_draw_fn draw;
	const char *metric;
	int causal; /* the chart's cases: causal (< 0 any) and mode (NULL any) */
	const char *mode;
	const char *methods; /* comma-separated, NULL: all */
	void (*methods_of)(const struct attn_registry *reg, char *buf, size_t len);
	int per_family;
	const char *title;
	const char *y_label; /* NULL: the metric's */
	const char *caption;
};

static const char *const fams[] = {"full", "linear", "sparse", "hybrid"};
static const char *const fam_title[] = {"exact softmax", "linear attention", "sparse attention",
                                        "hybrid stacks"};

static int draw_taxonomy(struct ctx *c, const struct fig_def *d, const char *name,
                         const char *title, const char *family, char *caption, size_t caption_len)
{
	char path[1024];
	(void)d, (void)title, (void)family;
	snprintf(path, sizeof(path), "%s/workloads/figures/taxonomy.txt", c->q->data_dir);
	return attn_fig_taxonomy(c->q->reg, path, c->q->dir, name, formats, N_FORMATS, caption,
	                         caption_len, c->err, c->errlen);
}

static int draw_masks(struct ctx *c, const struct fig_def *d, const char *name, const char *title,
                      const char *family, char *caption, size_t caption_len)
{
	(void)title, (void)family;
	return attn_fig_masks(c->q->st, c->q->db_name, c->q->runs[d->sweep], c->q->dir, name,
	                      formats, N_FORMATS, caption, caption_len, c->err, c->errlen);
}

/* A stored metric of the sweep's run as NAME.png and NAME.svg, filtered as d says. */
static int draw_chart(struct ctx *c, const struct fig_def *d, const char *name, const char *title,
                      const char *family, char *caption, size_t caption_len)
{
	char list[512], *mv[64];
	int nm = 0;
	if (d->methods_of)
		d->methods_of(c->q->reg, list, sizeof(list));
	else
		snprintf(list, sizeof(list), "%s", d->methods ? d->methods : "");
	for (char *save, *t = strtok_r(list, ",", &save); t && nm < 64;
	     t = strtok_r(NULL, ",", &save))
		mv[nm++] = t;
	struct attn_chart_req q = {.st = c->q->st,
	                           .db_name = c->q->db_name,
	                           .reg = c->q->reg,
	                           .run = c->q->runs[d->sweep],
	                           .metric = d->metric,
	                           .xcol = "n",
	                           .methods = nm ? (const char *const *)mv : NULL,
	                           .n_methods = nm,
	                           .filt = {.causal = d->causal, .mode = d->mode, .family = family},
	                           .dir = c->q->dir,
	                           .name = name,
	                           .formats = formats,
	                           .n_formats = N_FORMATS,
	                           .title = title,
	                           .y_label = d->y_label,
	                           .note = c->q->note,
	                           .note_ctx = c->q->note_ctx};
	snprintf(caption, caption_len, "%s", d->caption);
	return attn_chart_draw(&q, NULL, c->err, c->errlen);
}

/*
 * Accuracy is a question for the methods that approximate softmax: the
 * kernelised linear ones and the sparse ones. Decays, gates and delta
 * rules compute other functions, so their distance to softmax says nothing.
 */
static void approximators(const struct attn_registry *reg, char *approx, size_t len)
{
	approx[0] = 0;
	for (int i = 0; i < attn_registry_count(reg); i++) {
		const struct attn_method *m = attn_registry_at(reg, i);
		if ((m->flags & (ATTN_METHOD_EXACT | ATTN_METHOD_ORACLE_ONLY)) ||
		    !(m->family == ATTN_FAMILY_SPARSE ||
		      (m->family == ATTN_FAMILY_LINEAR && m->category &&
		       strstr(m->category, "softmax approximator"))) ||
		    strlen(approx) + strlen(m->name) + 2 > len)
			continue;
		snprintf(approx + strlen(approx), len - strlen(approx), "%s%s", *approx ? "," : "",
		         m->name);
	}
}

/*
 * The figure set, in the order of the page. To add a figure, add an entry:
 * a chart needs its sweep, metric, cases and words; a figure of another
 * kind, its own draw function.
 */
static const struct fig_def figures[] = {
    {.name = "fig1_taxonomy",
     .sweep = -1,
     .draw = draw_taxonomy,
     .title = "Fig. 1. The survey's taxonomy, drawn from the registry."},
    {.name = "fig2_dualform_time",
     .sweep = ATTN_FIG_FORMS,
     .draw = draw_chart,
     .metric = "time",
     .causal = 1,
     .mode = "prefill",
     .methods = "retnet,gla,deltanet",
     .title = "Fig. 2a. The dual form, measured: time per call",
     .caption = "Parallel (O(N² d)), recurrent (O(N d²)) and chunkwise (O(N C d + N d²)) "
                "forms of RetNet (fixed decay), GLA (data-dependent gates) and DeltaNet "
                "(delta rule), causal prefill, d = 64, one head, one thread. The legend "
                "gives each curve's fitted exponent next to the theory of the default "
                "form. Every method's forms are timed in Table 1."},
    {.name = "fig2_dualform_memory",
     .sweep = ATTN_FIG_FORMS,
     .draw = draw_chart,
     .metric = "memory",
     .causal = 1,
     .mode = "prefill",
     .methods = "retnet,gla,deltanet",
     .title = "Fig. 2b. The dual form, measured: memory",
     .caption = "Workspace each form needs beyond its inputs and output: the parallel "
                "form holds N² scores (in tiles), the recurrent form one d×d state, the "
                "chunk form C×C scores per chunk and the state (left panel); beside it, on "
                "the same axes, what was measured: the tracked allocation peak and the RSS "
                "growth of the call. Line style and marker give the form; the legend's "
                "exponents are fitted to the declared workspace."},
    {.name = "fig3_masks",
     .sweep = ATTN_FIG_MASKS,
     .draw = draw_masks,
     .title = "Fig. 3. Block masks the sparse methods computed on a workload."},
    {.name = "fig4_hybrid_state",
     .sweep = ATTN_FIG_HYBRID,
     .draw = draw_chart,
     .metric = "metric:kv_state_bytes",
     .causal = -1,
     .mode = "decode",
     .title = "Fig. 4a. Hybrid stacks: KV cache and state held at context N",
     .y_label = "bytes held for the next token (KV cache + recurrent state)",
     .caption = "Bytes a stack keeps to decode the next token after N tokens of context: "
                "MiniMax-01 (7 Lightning : 1 softmax), Jamba (7 Mamba-2 : 1 softmax) and "
                "Gemma-3 (5 window : 1 global), against all-softmax stacks of the same "
                "depth (full=1). d = 64, two heads per layer."},
    {.name = "fig4_hybrid_decode",
     .sweep = ATTN_FIG_HYBRID,
     .draw = draw_chart,
     .metric = "time",
     .causal = -1,
     .mode = "decode",
     .title = "Fig. 4b. Hybrid stacks: decode time per token",
     .caption = "Time of one decode step through the whole stack after N tokens of "
                "context (the context is digested untimed), same stacks as Fig. 4a."},
    {.name = "fig5_time_%s",
     .sweep = ATTN_FIG_COMPLEXITY,
     .draw = draw_chart,
     .metric = "time",
     .causal = 1,
     .mode = "prefill",
     .per_family = 1,
     .title = "Fig. 5%c. Complexity: %s, time vs N",
     .caption = "Median time per call (bars: 95% CI) vs N, log-log, causal prefill, d = 64, "
                "two heads, one thread, each method's default form and parameters. The "
                "legend gives the fitted exponent (least squares on log-log) next to the "
                "method's theoretical one; a windowed method's is fitted over N > w only, "
                "where its theory holds."},
    {.name = "fig6_memory_%s",
     .sweep = ATTN_FIG_COMPLEXITY,
     .draw = draw_chart,
     .metric = "memory",
     .causal = 1,
     .mode = "prefill",
     .per_family = 1,
     .title = "Fig. 6%c. Complexity: %s, memory vs N",
     .caption = "Workspace bytes each method declares beyond its inputs and output, vs N "
                "(left panels; methods that declare none, e.g. flash, whose tiles live on "
                "the stack, have no line there on a log axis), beside what was measured, "
                "on the same axes: the tracked allocation peak and the RSS growth of the "
                "call. The legend's exponents are fitted to the declared workspace."},
    {.name = "fig7_accuracy",
     .sweep = ATTN_FIG_COMPLEXITY,
     .draw = draw_chart,
     .metric = "error",
     .causal = 1,
     .mode = "prefill",
     .methods_of = approximators,
     .title = "Fig. 7. Accuracy against speed",
     .caption = "Relative error of each softmax approximator's output (kernelised linear "
                "and sparse methods) against exact softmax attention on the same inputs, "
                "vs its time per call; one point per N, the larger the marker the larger N "
                "(size key in the legend) "
                "(gaussian inputs, where attention is spread out: the hard case for "
                "sparse methods)."},
    {.name = "fig8_roofline",
     .sweep = ATTN_FIG_COMPLEXITY,
     .draw = draw_chart,
     .metric = "roof",
     .causal = 1,
     .mode = "prefill",
     .title = "Fig. 8. Roofline",
     .caption = "Achieved GFLOP/s vs arithmetic intensity (FLOPs per byte of inputs, "
                "output and workspace), under the run's own measured roofs: the FMA "
                "peak, OpenBLAS sgemm and the triad bandwidth slope. One point per N, "
                "the larger the marker the larger N (size key in the legend)."},
};

/* Draw one entry (each branch's, with per_family) and put it on the page. */
static int draw_one(struct ctx *c, const struct fig_def *d)
{
	char name[64], title[160], caption[2048];
	for (int i = 0; i < (d->per_family ? 4 : 1); i++) {
		if (d->per_family) {
			snprintf(name, sizeof(name), d->name, fams[i]);
			snprintf(title, sizeof(title), d->title, 'a' + i, fam_title[i]);
		} else {
			snprintf(name, sizeof(name), "%s", d->name);
			snprintf(title, sizeof(title), "%s", d->title);
		}
		caption[0] = 0;
		int rc = d->draw(c, d, name, title, d->per_family ? fams[i] : NULL, caption,
		                 sizeof(caption));
		if (rc != ATTN_OK)
			return rc;
		struct figure *g = add_figure(c, name, d->sweep, title);
		if (g)
			snprintf(g->caption, sizeof(g->caption), "%s", caption);
	}
	return ATTN_OK;
}

int attn_figures_draw(const struct attn_figures_req *q, struct attn_figures_result *res, char *err,
                      size_t errlen)
{
	struct ctx *c = calloc(1, sizeof(*c));
	char why[1024];
	int64_t used;
	if (!c)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	*c = (struct ctx){.q = q, .err = err, .errlen = errlen};
	memset(res, 0, sizeof(*res));
	/* A failed fit is the database's: the run was found with ok cases. */
	int rc = ATTN_OK;
	if (attn_fit_run(q->st, q->runs[ATTN_FIG_COMPLEXITY], NULL, 0, 3, ATTN_FIT_BOOT,
	                 ATTN_FIT_SEED, &used, &c->fits, &c->n_fits, why, sizeof(why)) ||
	    attn_store_fits(q->st, used, c->fits, c->n_fits, why, sizeof(why)))
		rc = attn_errf(err, errlen, ATTN_ERR_DB, "%s: fitting run %lld: %s", q->db_name,
		               (long long)q->runs[ATTN_FIG_COMPLEXITY], why);
	if (rc == ATTN_OK)
		rc = verify_forms(c);
	for (size_t i = 0; rc == ATTN_OK && i < sizeof(figures) / sizeof(*figures); i++)
		rc = draw_one(c, &figures[i]);
	if (rc == ATTN_OK)
		rc = write_index(c);
	if (rc == ATTN_OK) {
		res->n_figures = c->n_figs;
		res->n_fits = c->n_fits;
	}
	free(c->fits);
	free(c);
	return rc;
}
