/*
 * attnbench figures: the survey's figures, measured, in one command.
 *
 * A figure set (workloads/figures/quick.txt or full.txt) names four sweeps
 * and their spec files. figures runs them into one database, tagging each
 * run in run_info (key "figures", value "SET/NAME") so that --no-sweep finds
 * them again; fits the complexity run and compares the forms of every
 * method that has several (Table 1), storing both; then draws every figure
 * from the database, as PNG and SVG, and writes index.html with the PNGs
 * embedded, so the page is one file that can be mailed or archived.
 *
 * Every number on the page comes from the database; the statistics are
 * computed here in C and gnuplot only draws.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attnbench/fit.h"
#include "attnbench/forms.h"
#include "attnbench/registry.h"
#include "attnbench/runner.h"
#include "attnbench/sweep.h"
#include "attnbench/store.h"
#include "cli.h"
#include "figures.h"
#include "plot.h"
#include "sweep_cli.h"

static const char *help_text =
    "usage: attnbench figures [--quick | --full | --set NAME] [--db FILE] [--out DIR]\n"
    "                         [--no-sweep] [--quiet]\n"
    "\n"
    "Regenerates the survey's figures from measurements: runs the sweeps of a\n"
    "figure set (workloads/figures/quick.txt, the default, about four minutes;\n"
    "or full.txt, the paper-quality set, about ten minutes) into one database, fits\n"
    "the curves, checks that the forms of every linear method agree, and draws:\n"
    "  fig1_taxonomy          the survey's taxonomy, each leaf with its plugin\n"
    "  fig2_dualform_*        parallel vs recurrent vs chunk: time, memory vs N\n"
    "  fig3_masks             block masks of the sparse methods, as heat maps\n"
    "  fig4_hybrid_*          hybrid stacks: KV/state bytes and decode time vs N\n"
    "  fig5_time_FAMILY       complexity curves per branch, fitted exponents\n"
    "  fig6_memory_FAMILY     workspace vs N per branch\n"
    "  fig7_accuracy          error against exact softmax vs time\n"
    "  fig8_roofline          GFLOP/s vs arithmetic intensity under the roofs\n"
    "each as DIR/NAME.png and .svg, and DIR/index.html: every figure with its\n"
    "caption and provenance, Table 1 verified and the fit and crossover table.\n"
    "\n"
    "  --quick      the quick set (default)\n"
    "  --full       the full set\n"
    "  --set NAME   the set workloads/figures/NAME.txt (the suite uses `test`)\n"
    "  --db FILE    the database (default results/figures-SET.db)\n"
    "  --out DIR    where the figures go (default plots/figures)\n"
    "  --no-sweep   draw from the set's newest runs already in --db\n"
    "  --quiet      no sweep progress\n"
    "\n"
    "exit: 0 every figure drawn from all-ok sweeps; 1 drawn, but some case\n"
    "failed; 2 bad usage, nothing to draw or gnuplot missing; 3 database error;\n"
    "130 interrupted (the finished cases are kept).\n";

enum { SW_COMPLEXITY, SW_FORMS, SW_MASKS, SW_HYBRID, N_SWEEPS };
static const char *const sweep_names[N_SWEEPS] = {"complexity", "forms", "masks", "hybrid"};

struct sweep_def {
	char spec[512]; /* path of the spec file (it holds the sweep's settings) */
	long run;          /* the run drawn from */
};

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

struct figs {
	struct figure f[MAX_FIGURES];
	int n;
};

/*
 * Parse the figure set's manifest: "name | spec" lines. The sweep settings
 * of each sweep are keys of its spec file; a third column (the extra sweep
 * options the sets used to carry) is refused, saying where they go now.
 */
static int load_set(const char *path, struct sweep_def sw[N_SWEEPS])
{
	FILE *f = fopen(path, "r");
	if (!f) {
		cli_error("figures", "%s: %s", path, strerror(errno));
		return -1;
	}
	char line[1024];
	int lineno = 0, seen = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		char *p = line + strspn(line, " \t");
		if (*p == '#' || *p == '\n' || !*p)
			continue;
		char *field[3] = {NULL, NULL, NULL};
		fig_split_fields(p, field, 3);
		int k = -1;
		for (int i = 0; i < N_SWEEPS; i++)
			if (strcmp(field[0], sweep_names[i]) == 0)
				k = i;
		if (k < 0 || !field[1] || !*field[1]) {
			cli_error("figures",
			          "%s:%d: expected 'NAME | SPEC' with NAME one of "
			          "complexity, forms, masks, hybrid",
			          path, lineno);
			fclose(f);
			return -1;
		}
		if (field[2] && *field[2]) {
			cli_error("figures",
			          "%s:%d: '%s': sweep options are settings of the spec file now; "
			          "write them into %s as keys, e.g. `min_reps = 3` for --min-reps 3 "
			          "and `dump_mask = 1` for --dump-mask",
			          path, lineno, field[2], field[1]);
			fclose(f);
			return -1;
		}
		snprintf(sw[k].spec, sizeof(sw[k].spec), "%s/workloads/figures/%s", cli_data_dir(),
		         field[1]);
		seen |= 1 << k;
	}
	fclose(f);
	for (int i = 0; i < N_SWEEPS; i++)
		if (!(seen & (1 << i))) {
			cli_error("figures", "%s: no '%s' sweep", path, sweep_names[i]);
			return -1;
		}
	return 0;
}

/* Run one sweep of the set with the sweep driver, printing as `sweep` does; its exit code. */
static int run_sweep(const struct sweep_def *sw, const char *db, int quiet)
{
	struct attn_sweep_spec spec;
	struct attn_sweep_options opt = {.spec_from_file = 1};
	struct attn_registry *reg = NULL;
	char err[2048], *cmd = NULL;
	attn_run_opts_default(&opt.proto.ro);
	opt.proto.interleave = 1;
	opt.proto.roof_budget = 3.0;
	if (attn_sweep_spec_init(&spec)) {
		cli_error("sweep", "out of memory");
		return EXIT_USAGE;
	}
	int rc = EXIT_USAGE;
	if (attn_sweep_spec_load_file(&spec, sw->spec, err, sizeof(err)))
		cli_error("sweep", "%s", err);
	else if (asprintf(&cmd, "attnbench sweep --spec %s --db %s%s", sw->spec, db,
	                  quiet ? " --quiet" : "") < 0)
		cli_error("sweep", "out of memory");
	else if ((reg = cli_registry("sweep", NULL, 0)) &&
	         !cli_inject_slowdown("sweep", reg, &opt.proto.ro, &opt.inject)) {
		opt.command = cmd;
		rc = cli_sweep_run(&spec, &opt, reg, db, quiet, NULL);
	}
	free(cmd);
	attn_registry_free(reg);
	attn_sweep_spec_free(&spec);
	return rc;
}

/* The newest run of the database; 0 if none. */
static long newest_run(sqlite3 *db)
{
	sqlite3_stmt *r;
	long id = 0;
	if (sqlite3_prepare_v2(db, "SELECT MAX(id) FROM runs", -1, &r, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(r) == SQLITE_ROW)
		id = (long)sqlite3_column_int64(r, 0);
	sqlite3_finalize(r);
	return id;
}

/* The newest run tagged "SET/NAME" that has an ok case; 0 if none. */
static long tagged_run(sqlite3 *db, const char *tag)
{
	sqlite3_stmt *r;
	long id = 0;
	if (sqlite3_prepare_v2(db,
	                       "SELECT MAX(i.run_id) FROM run_info i WHERE i.key = 'figures' AND "
	                       "i.value = ?1 AND EXISTS (SELECT 1 FROM cases c WHERE c.run_id = "
	                       "i.run_id AND c.status = 'ok')",
	                       -1, &r, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(r, 1, tag, -1, SQLITE_STATIC);
	if (sqlite3_step(r) == SQLITE_ROW)
		id = (long)sqlite3_column_int64(r, 0);
	sqlite3_finalize(r);
	return id;
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

struct ctx {
	sqlite3 *db;
	struct attn_store *st;
	const char *db_path, *dir, *set;
	const struct attn_registry *reg;
	struct sweep_def sw[N_SWEEPS];
	struct figs figs;
	struct attn_fit_row *fits;
	int n_fits;
};

static struct figure *add_figure(struct ctx *c, const char *name, int sweep, const char *title)
{
	if (c->figs.n == MAX_FIGURES)
		return NULL;
	struct figure *f = &c->figs.f[c->figs.n++];
	snprintf(f->name, sizeof(f->name), "%s", name);
	snprintf(f->title, sizeof(f->title), "%s", title);
	f->caption[0] = 0;
	f->sweep = sweep;
	return f;
}

/* Draw a stored metric of a sweep's run as NAME.png and NAME.svg. */
static int chart(struct ctx *c, const char *name, int sweep, const char *metric,
                 const struct plot_filter *filt, const char *methods, const char *title,
                 const char *y_label, const char *caption)
{
	char list[512], *mv[64];
	int nm = 0;
	snprintf(list, sizeof(list), "%s", methods ? methods : "");
	for (char *save, *t = strtok_r(list, ",", &save); t && nm < 64;
	     t = strtok_r(NULL, ",", &save))
		mv[nm++] = t;
	struct plot_req q = {.verb = "figures",
	                     .db = c->db,
	                     .db_path = c->db_path,
	                     .reg = c->reg,
	                     .run = c->sw[sweep].run,
	                     .metric = metric,
	                     .xcol = "n",
	                     .methods = nm ? mv : NULL,
	                     .n_methods = nm,
	                     .filt = *filt,
	                     .dir = c->dir,
	                     .name = name,
	                     .formats = formats,
	                     .n_formats = N_FORMATS,
	                     .title = title,
	                     .y_label = y_label};
	int rc = plot_chart(&q, NULL);
	if (rc == EXIT_OK) {
		struct figure *f = add_figure(c, name, sweep, title);
		if (f)
			snprintf(f->caption, sizeof(f->caption), "%s", caption);
	}
	return rc;
}

/* Compare the forms of every method that has them, at the forms run's smaller N. */
static int verify_forms(struct ctx *c, int quiet)
{
	static const int64_t ns[] = {256, 1024};
	char err[512];
	int rc = EXIT_OK;
	for (int i = 0; i < attn_registry_count(c->reg) && rc == EXIT_OK; i++) {
		const struct attn_method *m = attn_registry_at(c->reg, i);
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
			if (attn_store_form_diff(c->st, c->sw[SW_FORMS].run, m->name, &s,
			                         &fd, note, err,
			                         sizeof(err))) {
				cli_error("figures", "%s: %s", c->db_path, err);
				rc = EXIT_DB;
				break;
			}
			if (!quiet)
				fprintf(stderr, "figures: %s N=%lld: forms %s agree to %.2g\n",
				        m->name, (long long)s.n, st == ATTN_OK ? fd.forms : "-",
				        st == ATTN_OK ? fd.max_rel : NAN);
		}
	}
	return rc;
}

/* The forms run's provenance: "run R, host (cpu), commit C, date". */
static void provenance(struct ctx *c, int sweep, FILE *f)
{
	sqlite3_stmt *r;
	if (sqlite3_prepare_v2(c->db,
	                       "SELECT r.id, r.hostname, r.cpu_model, r.git_commit, r.started_at, "
	                       "r.spec, r.command, (SELECT value FROM run_info WHERE run_id = r.id "
	                       "AND key = 'cores'), (SELECT COUNT(*) FROM cases WHERE run_id = r.id "
	                       "AND status = 'ok'), (SELECT COUNT(*) FROM cases WHERE run_id = r.id) "
	                       "FROM runs r WHERE r.id = ?",
	                       -1, &r, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(r, 1, c->sw[sweep].run);
	if (sqlite3_step(r) == SQLITE_ROW) {
		const char *t[8];
		for (int i = 0; i < 8; i++)
			t[i] = sqlite3_column_text(r, i) ? (const char *)sqlite3_column_text(r, i)
			                                 : "?";
		fprintf(f, "<p class=\"prov\">Measured by run %s of <code>", t[0]);
		html_str(f, c->db_path);
		fputs("</code> (sweep <code>", f);
		html_str(f, sweep_names[sweep]);
		fprintf(f, "</code>, %lld of %lld cases ok) on <b>",
		        (long long)sqlite3_column_int64(r, 8), (long long)sqlite3_column_int64(r, 9));
		html_str(f, t[1]);
		fputs("</b>, ", f);
		html_str(f, t[2]);
		fputs(", ", f);
		html_str(f, t[7]);
		fputs(" cores; commit <code>", f);
		html_str(f, t[3]);
		fputs("</code>, started ", f);
		html_str(f, t[4]);
		fputs(".</p>\n<details><summary>sweep spec</summary><pre>", f);
		html_str(f, t[5]);
		fputs("\n", f);
		html_str(f, t[6]);
		fputs("</pre></details>\n", f);
	}
	sqlite3_finalize(r);
}

/* Table 1 verified: per method its rule, how closely its forms agree, each form's times. */
static void table1(struct ctx *c, FILE *f)
{
	char rules[64][2][160];
	int n_rules = 0;
	char path[1024], line[512];
	snprintf(path, sizeof(path), "%s/workloads/figures/table1.txt", cli_data_dir());
	FILE *in = fopen(path, "r");
	while (in && fgets(line, sizeof(line), in) && n_rules < 64) {
		char *fld[2];
		if (line[0] == '#' || fig_split_fields(line, fld, 2) < 2)
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
	sqlite3_stmt *r;
	int64_t ns[16];
	int n_ns = 0;
	if (sqlite3_prepare_v2(c->db,
	                       "SELECT DISTINCT n FROM cases WHERE run_id = ? ORDER BY n", -1, &r,
	                       NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(r, 1, c->sw[SW_FORMS].run);
	while (sqlite3_step(r) == SQLITE_ROW && n_ns < 16)
		ns[n_ns++] = sqlite3_column_int64(r, 0);
	sqlite3_finalize(r);

	fputs("<table class=\"t1\">\n<tr><th>method</th><th>state update</th><th>forms agree "
	      "to<br><small>max |o<sub>a</sub>−o<sub>b</sub>| / max |o|</small></th><th>form</th>",
	      f);
	for (int i = 0; i < n_ns; i++)
		fprintf(f, "<th>N = %lld</th>", (long long)ns[i]);
	fputs("</tr>\n", f);

	sqlite3_stmt *fd, *tm;
	if (sqlite3_prepare_v2(c->db,
	                       "SELECT group_concat(printf('%.1e at N=%d', max_rel, n), '; '), "
	                       "group_concat(note, '; ') FROM (SELECT * FROM form_diffs WHERE "
	                       "run_id = ?1 AND method = ?2 ORDER BY n)",
	                       -1, &fd, NULL) != SQLITE_OK)
		return;
	if (sqlite3_prepare_v2(c->db,
	                       "SELECT c.form, c.n, c.status, m.value FROM cases c LEFT JOIN "
	                       "metrics m ON m.case_id = c.id AND m.name = 'median_ns' WHERE "
	                       "c.run_id = ?1 AND c.method = ?2 ORDER BY CASE c.form WHEN "
	                       "'parallel' THEN 0 WHEN 'recurrent' THEN 1 ELSE 2 END, c.n",
	                       -1, &tm, NULL) != SQLITE_OK) {
		sqlite3_finalize(fd);
		return;
	}
	for (int i = 0; i < n_rules; i++) {
		/* the forms this method ran, each a row */
		char forms[3][16];
		double ms[3][16];
		int nf = 0;
		sqlite3_reset(tm);
		sqlite3_bind_int64(tm, 1, c->sw[SW_FORMS].run);
		sqlite3_bind_text(tm, 2, rules[i][0], -1, SQLITE_STATIC);
		while (sqlite3_step(tm) == SQLITE_ROW) {
			const char *form = (const char *)sqlite3_column_text(tm, 0);
			form = form ? form : "-";
			if (nf == 0 || strcmp(forms[nf - 1], form)) {
				if (nf == 3)
					break;
				snprintf(forms[nf], sizeof(forms[nf]), "%s", form);
				for (int k = 0; k < 16; k++)
					ms[nf][k] = NAN;
				nf++;
			}
			int64_t n = sqlite3_column_int64(tm, 1);
			for (int k = 0; k < n_ns; k++)
				if (ns[k] == n && sqlite3_column_type(tm, 3) != SQLITE_NULL &&
				    strcmp((const char *)sqlite3_column_text(tm, 2), "ok") == 0)
					ms[nf - 1][k] = sqlite3_column_double(tm, 3) * 1e-6;
		}
		if (nf == 0)
			continue;
		sqlite3_reset(fd);
		sqlite3_bind_int64(fd, 1, c->sw[SW_FORMS].run);
		sqlite3_bind_text(fd, 2, rules[i][0], -1, SQLITE_STATIC);
		const char *agree = NULL, *note = NULL;
		if (sqlite3_step(fd) == SQLITE_ROW) {
			agree = (const char *)sqlite3_column_text(fd, 0);
			note = (const char *)sqlite3_column_text(fd, 1);
		}
		for (int k = 0; k < nf; k++) {
			fputs("<tr>", f);
			if (k == 0) {
				fprintf(f, "<td rowspan=\"%d\"><code>", nf);
				html_str(f, rules[i][0]);
				fprintf(f, "</code></td><td rowspan=\"%d\">", nf);
				html_str(f, rules[i][1]);
				fprintf(f, "</td><td rowspan=\"%d\">", nf);
				html_str(f, agree ? agree : note ? note : "not compared");
				fputs("</td>", f);
			}
			fputs("<td>", f);
			html_str(f, forms[k]);
			fputs("</td>", f);
			for (int j = 0; j < n_ns; j++)
				if (isfinite(ms[k][j]))
					fprintf(f, "<td class=\"num\">%.3g ms</td>", ms[k][j]);
				else
					fputs("<td class=\"num\">–</td>", f);
			fputs("</tr>\n", f);
		}
	}
	sqlite3_finalize(fd);
	sqlite3_finalize(tm);
	fputs("</table>\n", f);
}

static void fit_table(struct ctx *c, FILE *f)
{
	fputs("<table class=\"fits\">\n<tr>", f);
	for (int j = 0; j < FIT_COLS; j++) {
		if (j == 2)
			continue; /* the shape family is the same for every row here */
		fputs("<th>", f);
		html_str(f, fit_col_names[j]);
		fputs("</th>", f);
	}
	fputs("</tr>\n", f);
	for (int i = 0; i < c->n_fits; i++) {
		char cells[FIT_COLS][320];
		fit_row_cells(&c->fits[i], c->reg, cells);
		fputs("<tr>", f);
		for (int j = 0; j < FIT_COLS; j++) {
			if (j == 2)
				continue;
			fputs(j == 0 ? "<td><code>" : j >= 3 && j <= 5 ? "<td class=\"num\">" : "<td>",
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
	char path[4096];
	snprintf(path, sizeof(path), "%s/index.html", c->dir);
	FILE *f = fopen(path, "w");
	if (!f) {
		cli_error("figures", "%s: %s", path, strerror(errno));
		return -1;
	}
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
	html_str(f, c->set);
	fprintf(f, "</code> on %s from the database <code>", when);
	html_str(f, c->db_path);
	fputs("</code>. Every number is a measurement of this machine; each caption says which "
	      "run. Each figure is also an SVG next to this page.</p>\n<nav>",
	      f);
	for (int i = 0; i < c->figs.n; i++)
		fprintf(f, "<a href=\"#%s\">%s</a>", c->figs.f[i].name, c->figs.f[i].name);
	fputs("<a href=\"#table1\">Table 1</a><a href=\"#fits\">fits</a></nav>\n", f);
	for (int i = 0; i < c->figs.n; i++) {
		const struct figure *g = &c->figs.f[i];
		snprintf(path, sizeof(path), "%s/%s.png", c->dir, g->name);
		fprintf(f, "<figure id=\"%s\"><img alt=\"%s\" src=\"data:image/png;base64,", g->name,
		        g->name);
		if (put_base64(f, path)) {
			cli_error("figures", "%s: %s", path, strerror(errno));
			fclose(f);
			return -1;
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
	table1(c, f);
	provenance(c, SW_FORMS, f);
	fputs("</section>\n<section id=\"fits\"><h2>Fitted exponents and crossovers</h2>\n<p>Per "
	      "method, from the complexity sweep: the slope of log time on log N with its 95% "
	      "bootstrap CI next to the method's theoretical exponent, the term of "
	      "a·N² + b·N·log N + c·N + d (non-negative least squares) that carries most of the "
	      "cost at the largest N, and the N* above which the method is faster than "
	      "<code>flash</code>, interpolated with its CI.</p>\n",
	      f);
	fit_table(c, f);
	provenance(c, SW_COMPLEXITY, f);
	fputs("</section>\n<script>\naddEventListener('load', function () {\n"
	      "  var im = document.images, ok = 0;\n"
	      "  for (var i = 0; i < im.length; i++) if (im[i].complete && im[i].naturalWidth > 0) "
	      "ok++;\n"
	      "  document.body.setAttribute('data-images', ok + '/' + im.length);\n});\n"
	      "</script>\n</body></html>\n",
	      f);
	if (fclose(f)) {
		cli_error("figures", "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Draw everything; an exit code. */
static int draw(struct ctx *c)
{
	char path[1024], caption[2048], taxo[1024];
	int rc;

	snprintf(path, sizeof(path), "%s/workloads/figures/taxonomy.txt", cli_data_dir());
	if ((rc = fig_taxonomy(c->reg, path, c->dir, "fig1_taxonomy", formats, N_FORMATS, taxo,
	                       sizeof(taxo))) != EXIT_OK)
		return rc;
	struct figure *g = add_figure(c, "fig1_taxonomy", -1,
	                              "Fig. 1. The survey's taxonomy, drawn from the registry.");
	if (g)
		snprintf(g->caption, sizeof(g->caption), "%s", taxo);

	struct plot_filter causal_prefill = {.causal = 1, .mode = "prefill"};
	const char *dual = "retnet,gla,deltanet";
	if ((rc = chart(c, "fig2_dualform_time", SW_FORMS, "time", &causal_prefill, dual,
	                "Fig. 2a. The dual form, measured: time per call",
	                NULL,
	                "Parallel (O(N² d)), recurrent (O(N d²)) and chunkwise (O(N C d + N d²)) "
	                "forms of RetNet (fixed decay), GLA (data-dependent gates) and DeltaNet "
	                "(delta rule), causal prefill, d = 64, one head, one thread. The legend "
	                "gives each curve's fitted exponent next to the theory of the default "
	                "form. Every method's forms are timed in Table 1.")) != EXIT_OK)
		return rc;
	if ((rc = chart(c, "fig2_dualform_memory", SW_FORMS, "memory", &causal_prefill, dual,
	                "Fig. 2b. The dual form, measured: memory", NULL,
	                "Workspace each form needs beyond its inputs and output: the parallel "
	                "form holds N² scores (in tiles), the recurrent form one d×d state, the "
	                "chunk form C×C scores per chunk and the state.")) != EXIT_OK)
		return rc;

	if ((rc = fig_masks(c->db, c->db_path, c->sw[SW_MASKS].run, c->dir, "fig3_masks", formats,
	                    N_FORMATS, caption, sizeof(caption))) != EXIT_OK)
		return rc;
	g = add_figure(c, "fig3_masks", SW_MASKS,
	               "Fig. 3. Block masks the sparse methods computed on a workload.");
	if (g)
		snprintf(g->caption, sizeof(g->caption), "%s", caption);

	struct plot_filter decode = {.causal = -1, .mode = "decode"};
	if ((rc = chart(c, "fig4_hybrid_state", SW_HYBRID, "metric:kv_state_bytes", &decode, NULL,
	                "Fig. 4a. Hybrid stacks: KV cache and state held at context N",
	                "bytes held for the next token (KV cache + recurrent state)",
	                "Bytes a stack keeps to decode the next token after N tokens of context: "
	                "MiniMax-01 (7 Lightning : 1 softmax), Jamba (7 Mamba-2 : 1 softmax) and "
	                "Gemma-3 (5 window : 1 global), against all-softmax stacks of the same "
	                "depth (full=1). d = 64, two heads per layer.")) != EXIT_OK)
		return rc;
	if ((rc = chart(c, "fig4_hybrid_decode", SW_HYBRID, "time", &decode, NULL,
	                "Fig. 4b. Hybrid stacks: decode time per token", NULL,
	                "Time of one decode step through the whole stack after N tokens of "
	                "context (the context is digested untimed), same stacks as Fig. 4a.")) !=
	    EXIT_OK)
		return rc;

	static const char *const fams[] = {"full", "linear", "sparse", "hybrid"};
	static const char *const fam_title[] = {"exact softmax", "linear attention",
	                                        "sparse attention", "hybrid stacks"};
	static const struct {
		const char *metric, *fig, *what, *caption;
	} curves[] = {
	    {"time", "fig5", "time",
	     "Median time per call (bars: 95% CI) vs N, log-log, causal prefill, d = 64, two "
	     "heads, one thread, each method's default form and parameters. The legend gives the "
	     "fitted exponent (least squares on log-log) next to the method's theoretical one."},
	    {"memory", "fig6", "memory",
	     "Workspace bytes each method declares beyond its inputs and output, vs N; methods "
	     "that need none (flash's tiles live on the stack) have no point on a log axis."}};
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < 4; i++) {
			char name[64], title[160];
			struct plot_filter ff = {.causal = 1, .mode = "prefill", .family = fams[i]};
			snprintf(name, sizeof(name), "%s_%s_%s", curves[k].fig, curves[k].what,
			         fams[i]);
			snprintf(title, sizeof(title), "Fig. %c%c. Complexity: %s, %s vs N",
			         curves[k].fig[3], 'a' + i, fam_title[i], curves[k].what);
			if ((rc = chart(c, name, SW_COMPLEXITY, curves[k].metric, &ff, NULL, title,
			                NULL, curves[k].caption)) != EXIT_OK)
				return rc;
		}
	/*
	 * Accuracy is a question for the methods that approximate softmax: the
	 * kernelised linear ones and the sparse ones. Decays, gates and delta
	 * rules compute other functions, so their distance to softmax says nothing.
	 */
	char approx[512] = "";
	for (int i = 0; i < attn_registry_count(c->reg); i++) {
		const struct attn_method *m = attn_registry_at(c->reg, i);
		if ((m->flags & (ATTN_METHOD_EXACT | ATTN_METHOD_ORACLE_ONLY)) ||
		    !(m->family == ATTN_FAMILY_SPARSE ||
		      (m->family == ATTN_FAMILY_LINEAR && m->category &&
		       strstr(m->category, "softmax approximator"))) ||
		    strlen(approx) + strlen(m->name) + 2 > sizeof(approx))
			continue;
		snprintf(approx + strlen(approx), sizeof(approx) - strlen(approx), "%s%s",
		         *approx ? "," : "", m->name);
	}
	struct plot_filter cp = {.causal = 1, .mode = "prefill"};
	if ((rc = chart(c, "fig7_accuracy", SW_COMPLEXITY, "error", &cp, approx,
	                "Fig. 7. Accuracy against speed", NULL,
	                "Relative error of each softmax approximator's output (kernelised linear "
	                "and sparse methods) against exact softmax attention on the same inputs, "
	                "vs its time per call; one point per N "
	                "(gaussian inputs, where attention is spread out: the hard case for "
	                "sparse methods).")) != EXIT_OK)
		return rc;
	if ((rc = chart(c, "fig8_roofline", SW_COMPLEXITY, "roof", &cp, NULL,
	                "Fig. 8. Roofline", NULL,
	                "Achieved GFLOP/s vs arithmetic intensity (FLOPs per byte of inputs, "
	                "output and workspace), under the run's own measured roofs: the FMA "
	                "peak, OpenBLAS sgemm and the triad bandwidth slope.")) != EXIT_OK)
		return rc;
	return EXIT_OK;
}

int cmd_figures(int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, 0, 'h'},
	                                     {"quick", no_argument, 0, 'q'},
	                                     {"full", no_argument, 0, 'F'},
	                                     {"set", required_argument, 0, 's'},
	                                     {"db", required_argument, 0, 'd'},
	                                     {"out", required_argument, 0, 'o'},
	                                     {"no-sweep", no_argument, 0, 'n'},
	                                     {"quiet", no_argument, 0, 'Q'},
	                                     {0, 0, 0, 0}};
	const char *set = "quick", *db_arg = NULL, *dir = "plots/figures";
	int no_sweep = 0, quiet = 0, c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h': printf("%s", help_text); return EXIT_OK;
		case 'q': set = "quick"; break;
		case 'F': set = "full"; break;
		case 's':
			if (!*optarg || strspn(optarg, "abcdefghijklmnopqrstuvwxyz0123456789_-") !=
			                    strlen(optarg)) {
				cli_error("figures", "--set '%s': expected a set name like quick",
				          optarg);
				return EXIT_USAGE;
			}
			set = optarg;
			break;
		case 'd': db_arg = optarg; break;
		case 'o': dir = optarg; break;
		case 'n': no_sweep = 1; break;
		case 'Q': quiet = 1; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_error("figures", "unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (!gp_have()) {
		cli_error("figures", "gnuplot not found: apt-get install gnuplot-nox");
		return EXIT_USAGE;
	}
	struct ctx cx = {.dir = dir, .set = set};
	char db_buf[1024], manifest[1024], err[1024];
	snprintf(db_buf, sizeof(db_buf), "results/figures-%s.db", set);
	cx.db_path = db_arg ? db_arg : db_buf;
	snprintf(manifest, sizeof(manifest), "%s/workloads/figures/%s.txt", cli_data_dir(), set);
	if (load_set(manifest, cx.sw))
		return EXIT_USAGE;
	if (gp_mkdirs(dir)) {
		cli_error("figures", "--out %s: %s", dir, strerror(errno));
		return EXIT_USAGE;
	}

	int worst = EXIT_OK;
	for (int i = 0; !no_sweep && i < N_SWEEPS; i++) {
		if (!quiet)
			fprintf(stderr, "figures: sweep %d/%d: %s (%s)\n", i + 1, N_SWEEPS,
			        sweep_names[i], cx.sw[i].spec);
		int rc = run_sweep(&cx.sw[i], cx.db_path, quiet);
		if (rc != EXIT_OK && rc != EXIT_CASES)
			return rc; /* its message is out; what it recorded is kept */
		worst = rc > worst ? rc : worst;
		struct attn_store *st;
		if (attn_store_open(cx.db_path, 0, &st, err, sizeof(err))) {
			cli_error("figures", "%s", err);
			return EXIT_DB;
		}
		char tag[64], id[32];
		snprintf(tag, sizeof(tag), "%s/%s", set, sweep_names[i]);
		long run = newest_run(attn_store_db(st));
		snprintf(id, sizeof(id), "%ld", run);
		struct attn_kv kv = {"figures", tag};
		int bad = run <= 0 || attn_store_run_info(st, run, &kv, 1, err, sizeof(err));
		attn_store_close(st);
		if (bad) {
			cli_error("figures", "%s: cannot tag run %s: %s", cx.db_path, id,
			          run <= 0 ? "no run" : err);
			return EXIT_DB;
		}
	}

	if (attn_store_open(cx.db_path, 0, &cx.st, err, sizeof(err))) {
		cli_error("figures", "%s", err);
		return EXIT_DB;
	}
	cx.db = attn_store_db(cx.st);
	struct attn_registry *reg = cli_registry("figures", NULL, 0);
	int rc = reg ? EXIT_OK : EXIT_USAGE;
	cx.reg = reg;
	for (int i = 0; rc == EXIT_OK && i < N_SWEEPS; i++) {
		char tag[64];
		snprintf(tag, sizeof(tag), "%s/%s", set, sweep_names[i]);
		cx.sw[i].run = tagged_run(cx.db, tag);
		if (cx.sw[i].run < 0) {
			cli_error("figures", "%s: %s", cx.db_path, sqlite3_errmsg(cx.db));
			rc = EXIT_DB;
		} else if (cx.sw[i].run == 0) {
			cli_error("figures",
			          "%s has no run of the '%s' sweep with an ok case; run `attnbench "
			          "figures --%s --db %s` without --no-sweep",
			          cx.db_path, tag, set, cx.db_path);
			rc = EXIT_USAGE;
		}
	}
	if (rc == EXIT_OK) {
		int64_t used;
		if (attn_fit_run(cx.st, cx.sw[SW_COMPLEXITY].run, NULL, 0, 3, ATTN_FIT_BOOT,
		                 ATTN_FIT_SEED, &used, &cx.fits, &cx.n_fits, err, sizeof(err)) ||
		    attn_store_fits(cx.st, used, cx.fits, cx.n_fits, err, sizeof(err))) {
			cli_error("figures", "%s: fitting run %ld: %s", cx.db_path,
			          cx.sw[SW_COMPLEXITY].run, err);
			rc = EXIT_DB;
		}
	}
	if (rc == EXIT_OK)
		rc = verify_forms(&cx, quiet);
	if (rc == EXIT_OK)
		rc = draw(&cx);
	if (rc == EXIT_OK && write_index(&cx))
		rc = EXIT_USAGE;
	if (rc == EXIT_OK)
		printf("%s/index.html: %d figures, Table 1 and %d fitted curves\n", dir, cx.figs.n,
		       cx.n_fits);
	free(cx.fits);
	if (reg)
		attn_registry_free(reg);
	attn_store_close(cx.st);
	return rc == EXIT_OK ? worst : rc;
}
