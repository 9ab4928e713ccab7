/*
 * Survey Fig. 1 (see report.h), the taxonomy tree, drawn from workloads/figures/taxonomy.txt
 * and the registry, so that the figure cannot disagree with the code: a leaf
 * is marked with its plugin only when that plugin is registered in this
 * build, and a registered method that the file does not name still appears,
 * as "(not in the survey)".
 *
 * The tree is laid out here, in pixels, and gnuplot only places labels and
 * lines on an empty plot whose axes are the canvas: the root at the left,
 * then the branches, the sub-categories, and one leaf per row at the right.
 * Lines run from a node's own anchor under its opaque label box to an elbow,
 * so no text width has to be known exactly; the widths that do matter (how
 * far right the next column starts, the canvas width) are estimated from the
 * character count with a generous per-character size.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/report.h"
#include "attnbench/status.h"
#include "report_internal.h"

#define FIELD_MAX 96

/* The survey's branches in drawing order, each in its family's first plot colour. */
static const struct {
	const char *name;
	enum attn_family family;
} branches[] = {
    {"exact", ATTN_FAMILY_FULL},
    {"linear", ATTN_FAMILY_LINEAR},
    {"sparse", ATTN_FAMILY_SPARSE},
    {"hybrid", ATTN_FAMILY_HYBRID},
};
#define N_BRANCHES ((int)(sizeof(branches) / sizeof(*branches)))

#define GREY        "#8c8c8c" /* unimplemented leaves and their lines */
#define EDGE_GREY   "#b4b4b4"
#define ROOT_GREY   "#555555"
#define FONT        "sans,11"
#define FONT_SMALL  "sans,9"
#define FONT_BRANCH "sans:Bold,13"
#define FONT_TITLE  "sans:Bold,15"

/*
 * The canvas, in pixels (gnuplot's first axes span it exactly). A leaf row is
 * ROW high; sub-categories are SUB_GAP apart and branches BRANCH_GAP more.
 * CHAR is a little wider than an average sans character at 11 pt, so
 * estimated widths err towards room to spare.
 */
#define ROW        24.0
#define SUB_GAP    10.0
#define BRANCH_GAP 18.0
#define TOP        92.0
#define BOTTOM     76.0
#define MARGIN     28.0
#define CHAR       8.0
#define ELBOW      18.0 /* from an elbow's vertical line to the child's text */

struct leaf {
	int branch;
	char sub[FIELD_MAX], example[FIELD_MAX], plugin[FIELD_MAX];
	const struct attn_method *m; /* NULL: not implemented */
	int extra;                   /* a registered method that no line names */
	int line;                    /* in the file; 0 for extras */
};

struct taxo {
	struct leaf *v;
	int n, cap;
};

static struct leaf *taxo_add(struct taxo *t)
{
	if (t->n == t->cap) {
		int cap = t->cap ? 2 * t->cap : 64;
		struct leaf *v = realloc(t->v, (size_t)cap * sizeof(*v));
		if (!v)
			return NULL;
		t->v = v;
		t->cap = cap;
	}
	struct leaf *l = &t->v[t->n++];
	memset(l, 0, sizeof(*l));
	return l;
}

/* s without its leading and trailing blanks, in place. */
static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && strchr(" \t\r\n", s[n - 1]))
		s[--n] = 0;
	return s;
}

static int branch_of(const char *name)
{
	for (int b = 0; b < N_BRANCHES; b++)
		if (strcmp(branches[b].name, name) == 0)
			return b;
	return -1;
}

/*
 * One line: "branch | sub-category | survey example | plugin". 0, or -1
 * with the reason in why.
 */
static int parse_line(char *s, const struct attn_registry *reg, struct leaf *l, char *why,
                      size_t len)
{
	static const char *what[] = {"branch", "sub-category", "survey example", "plugin"};
	char *field[4];
	int nf = attn_report_split_fields(s, field, 4);
	if (nf != 4) {
		snprintf(why, len,
		         "%d field%s where 4 were expected: branch | sub-category | "
		         "survey example | plugin ('-' for none)",
		         nf, nf == 1 ? "" : "s");
		return -1;
	}
	for (int i = 0; i < 4; i++) {
		if (!*field[i]) {
			snprintf(why, len, "the %s is empty", what[i]);
			return -1;
		}
		if (strlen(field[i]) >= FIELD_MAX) {
			snprintf(why, len, "the %s is longer than %d characters", what[i],
			         FIELD_MAX - 1);
			return -1;
		}
	}
	l->branch = branch_of(field[0]);
	if (l->branch < 0) {
		snprintf(why, len, "unknown branch '%s' (exact, linear, sparse or hybrid)",
		         field[0]);
		return -1;
	}
	strcpy(l->sub, field[1]);
	strcpy(l->example, field[2]);
	strcpy(l->plugin, field[3]);
	/* A name the registry lacks is drawn as not implemented rather than refused: the file
	 * describes the survey, and a build without some method should still draw it. */
	l->m = strcmp(l->plugin, "-") ? attn_registry_find(reg, l->plugin) : NULL;
	return 0;
}

/* The file's leaves, then the registered methods it does not name. */
static int taxo_read(const char *path, const struct attn_registry *reg, struct taxo *t, char *err,
                     size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return attn_errf(err, errlen, ATTN_ERR_IO, "%s: %s", path, strerror(errno));
	char line[1024], why[256];
	int lineno = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			fclose(f);
			return attn_errf(err, errlen, ATTN_ERR_FORMAT,
			                 "%s:%d: line longer than %zu characters", path, lineno,
			                 sizeof(line) - 2);
		}
		char *s = trim(line);
		if (!*s || *s == '#')
			continue;
		struct leaf *l = taxo_add(t);
		if (!l) {
			fclose(f);
			return attn_errf(err, errlen, ATTN_ERR_NOMEM, "%s: out of memory", path);
		}
		l->line = lineno;
		if (parse_line(s, reg, l, why, sizeof(why))) {
			fclose(f);
			return attn_errf(err, errlen, ATTN_ERR_FORMAT, "%s:%d: %s", path, lineno,
			                 why);
		}
	}
	int bad = ferror(f);
	fclose(f);
	if (bad)
		return attn_errf(err, errlen, ATTN_ERR_IO, "%s: read error", path);
	if (t->n == 0)
		return attn_errf(err, errlen, ATTN_ERR_FORMAT,
		                 "%s: no leaves (lines 'branch | sub-category | example | plugin')",
		                 path);

	int n_file = t->n;
	for (int i = 0; i < attn_registry_count(reg); i++) {
		const struct attn_method *m = attn_registry_at(reg, i);
		if (m->flags & ATTN_METHOD_ORACLE_ONLY)
			continue;
		int named = 0;
		for (int j = 0; j < n_file && !named; j++)
			named = strcmp(t->v[j].plugin, m->name) == 0;
		int b = 0;
		while (b < N_BRANCHES && branches[b].family != m->family)
			b++;
		if (named || b == N_BRANCHES)
			continue;
		struct leaf *l = taxo_add(t);
		if (!l)
			return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
		l->branch = b;
		l->extra = 1;
		l->m = m;
		snprintf(l->sub, sizeof(l->sub), "%s", m->category ? m->category : "other");
		snprintf(l->example, sizeof(l->example), "%s", m->name);
		snprintf(l->plugin, sizeof(l->plugin), "%s", m->name);
	}
	return ATTN_OK;
}

/* The text of a leaf. */
static void leaf_text(const struct leaf *l, char *buf, size_t len)
{
	if (l->extra)
		snprintf(buf, len, "[%s]  (not in the survey)", l->plugin);
	else if (l->m)
		snprintf(buf, len, "%s  [%s]", l->example, l->plugin);
	else
		snprintf(buf, len, "%s  (not implemented)", l->example);
}

static double text_w(const char *s, double scale)
{
	return (double)strlen(s) * CHAR * scale;
}

static void gp_label(FILE *f, double x, double y, const char *text, const char *colour,
                     const char *font, int boxed)
{
	fputs("set label ", f);
	attn__gp_str(f, text);
	fprintf(f, " at %.1f,%.1f left tc rgb '%s' font '%s' front%s\n", x, y, colour, font,
	        boxed ? " boxed" : "");
}

static void gp_line(FILE *f, double x1, double y1, double x2, double y2, const char *colour,
                    double lw)
{
	fprintf(f, "set arrow from %.1f,%.1f to %.1f,%.1f nohead lc rgb '%s' lw %.1f back\n", x1,
	        y1, x2, y2, colour, lw);
}

/* A group of consecutive rows: one sub-category, or one branch. */
struct span {
	int first, last; /* rows, or for a branch its sub-categories */
	int branch;
	double y; /* of the node: midway between its first and last child */
};

/*
 * Lay out and write the script. `order` lists the leaves top to bottom,
 * grouped by branch then sub-category (first appearance in the file).
 */
static int write_script(FILE *f, const struct taxo *t, const int *order, const char *path,
                        const char *name, const char *format, int *n_subs)
{
	double *y = calloc((size_t)t->n, sizeof(*y));
	struct span *sub = calloc((size_t)t->n, sizeof(*sub));
	struct span br[N_BRANCHES] = {{0}};
	if (!y || !sub) {
		free(y);
		free(sub);
		return -1;
	}

	/* Rows top down, in depth from the top edge; gaps between groups. */
	double d = TOP, sub_w = 0, leaf_w = 0;
	int ns = 0, nb = 0;
	char buf[256];
	for (int r = 0; r < t->n; r++) {
		const struct leaf *l = &t->v[order[r]];
		const struct leaf *prev = r ? &t->v[order[r - 1]] : NULL;
		int new_branch = !prev || prev->branch != l->branch;
		int new_sub = new_branch || strcmp(prev->sub, l->sub) != 0;
		if (prev && new_branch)
			d += BRANCH_GAP;
		if (prev && new_sub)
			d += SUB_GAP;
		y[r] = d;
		d += ROW;
		if (new_sub) {
			sub[ns++] = (struct span){r, r, l->branch, 0};
		}
		sub[ns - 1].last = r;
		sub_w = sub_w > text_w(l->sub, 1) ? sub_w : text_w(l->sub, 1);
		leaf_text(l, buf, sizeof(buf));
		leaf_w = leaf_w > text_w(buf, 1) ? leaf_w : text_w(buf, 1);
	}
	double bottom = d - ROW;
	for (int s = 0; s < ns; s++)
		sub[s].y = (y[sub[s].first] + y[sub[s].last]) / 2;
	for (int s = 0; s < ns; s++) {
		if (s == 0 || sub[s].branch != sub[s - 1].branch)
			br[nb++] = (struct span){s, s, sub[s].branch, 0};
		br[nb - 1].last = s;
	}
	for (int b = 0; b < nb; b++)
		br[b].y = (sub[br[b].first].y + sub[br[b].last].y) / 2;
	double root_y = (br[0].y + br[nb - 1].y) / 2;

	/* Columns, left to right; each starts past the widest text of the one before. */
	const char *root = "efficient attention";
	double x_root = MARGIN;
	double x_branch = x_root + text_w(root, 1.3) + 2 * ELBOW;
	double branch_w = text_w("18 of 88 implemented", 0.85);
	double x_sub = x_branch + branch_w + 2 * ELBOW;
	double x_leaf = x_sub + sub_w + 2 * ELBOW;
	const char *title = "Efficient attention: the survey's taxonomy and its attnbench plugins";
	const char *note = "leaf: the survey's example  [attnbench plugin];  grey: no plugin in "
	                   "this build.  Drawn from the taxonomy file and the method registry.";
	double w = x_leaf + leaf_w + MARGIN;
	if (w < MARGIN * 2 + text_w(title, 1.6))
		w = MARGIN * 2 + text_w(title, 1.6);
	double h = bottom + BOTTOM;
	*n_subs = ns;

	fprintf(f, "# attnbench figures: survey Fig. 1 from %s and the registry. Generated.\n",
	        path);
	if (strcmp(format, "svg") == 0)
		fprintf(f,
		        "set terminal svg dynamic noenhanced size %.0f,%.0f font '%s' "
		        "background '#ffffff'\n",
		        w, h, FONT);
	else
		fprintf(f,
		        "set terminal pngcairo noenhanced size %.0f,%.0f font '%s' "
		        "background '#ffffff'\n",
		        w, h, FONT);
	snprintf(buf, sizeof(buf), "%s.%s", name, format);
	fputs("set output ", f);
	attn__gp_str(f, buf);
	/* The plot area is the whole canvas and one unit is one pixel, y going up. */
	fprintf(f,
	        "\nunset border\nunset tics\nunset key\n"
	        "set lmargin at screen 0\nset rmargin at screen 1\n"
	        "set bmargin at screen 0\nset tmargin at screen 1\n"
	        "set xrange [0:%.0f]\nset yrange [0:%.0f]\n"
	        /* Opaque label boxes hide the lines that start under a node's text. */
	        "set style textbox opaque fillcolor '#ffffff' noborder margins 3,1\n",
	        w, h);
	gp_label(f, MARGIN, h - 36, title, "#222222", FONT_TITLE, 0);
	gp_label(f, MARGIN, 26, note, "#666666", FONT_SMALL, 0);

	/* root -> branches */
	double elbow = x_branch - ELBOW;
	gp_label(f, x_root, h - root_y, root, "#222222", "sans:Bold,12", 1);
	gp_line(f, x_root + 4, h - root_y, elbow, h - root_y, ROOT_GREY, 1.5);
	gp_line(f, elbow, h - br[0].y, elbow, h - br[nb - 1].y, ROOT_GREY, 1.5);
	for (int b = 0; b < nb; b++) {
		int bi = br[b].branch;
		const char *c = attn__gp_family_colour(attn_family_name(branches[bi].family), 0);
		int n = 0, impl = 0, extra = 0;
		for (int r = sub[br[b].first].first; r <= sub[br[b].last].last; r++) {
			const struct leaf *l = &t->v[order[r]];
			n += !l->extra;
			impl += !l->extra && l->m;
			extra += l->extra;
		}
		gp_line(f, elbow, h - br[b].y, x_branch - 5, h - br[b].y, ROOT_GREY, 1.5);
		gp_label(f, x_branch, h - br[b].y, branches[bi].name, c, FONT_BRANCH, 1);
		if (n)
			snprintf(buf, sizeof(buf), "%d of %d implemented", impl, n);
		else
			snprintf(buf, sizeof(buf), "%d not in the survey", extra);
		gp_label(f, x_branch, h - br[b].y - 18, buf, "#666666", FONT_SMALL, 0);

		/* branch -> sub-categories */
		double e = x_sub - ELBOW;
		gp_line(f, x_branch + 4, h - br[b].y, e, h - br[b].y, c, 1.5);
		gp_line(f, e, h - sub[br[b].first].y, e, h - sub[br[b].last].y, c, 1.5);
		for (int s = br[b].first; s <= br[b].last; s++) {
			const struct leaf *l0 = &t->v[order[sub[s].first]];
			gp_line(f, e, h - sub[s].y, x_sub - 5, h - sub[s].y, c, 1.5);
			gp_label(f, x_sub, h - sub[s].y, l0->sub, "#222222", FONT, 1);

			/* sub-category -> leaves */
			double el = x_leaf - ELBOW;
			gp_line(f, x_sub + 4, h - sub[s].y, el, h - sub[s].y, c, 1.0);
			gp_line(f, el, h - y[sub[s].first], el, h - y[sub[s].last], c, 1.0);
			for (int r = sub[s].first; r <= sub[s].last; r++) {
				const struct leaf *l = &t->v[order[r]];
				if (!l->m && strcmp(l->plugin, "-"))
					fprintf(f, "# line %d: plugin '%s' is not registered\n",
					        l->line, l->plugin);
				leaf_text(l, buf, sizeof(buf));
				gp_line(f, el, h - y[r], x_leaf - 5, h - y[r], l->m ? c : EDGE_GREY,
				        1.0);
				gp_label(f, x_leaf, h - y[r], buf, l->m ? c : GREY, FONT, 0);
			}
		}
	}
	fputs("plot NaN notitle\n", f); /* nothing: the ranges above stand */
	free(y);
	free(sub);
	return 0;
}

int attn_fig_taxonomy(const struct attn_registry *reg, const char *taxonomy_path, const char *dir,
                      const char *name, const char *const *formats, int n_formats, char *caption,
                      size_t caption_len, char *err, size_t errlen)
{
	for (int i = 0; i < n_formats; i++)
		if (strcmp(formats[i], "png") && strcmp(formats[i], "svg"))
			return attn_errf(err, errlen, ATTN_ERR_INVALID,
			                 "unknown format '%s' (png or svg)", formats[i]);
	struct taxo t = {0};
	int rc = taxo_read(taxonomy_path, reg, &t, err, errlen);
	int *order = rc == ATTN_OK ? malloc((size_t)t.n * sizeof(*order)) : NULL;
	if (rc == ATTN_OK && !order)
		rc = attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	if (rc != ATTN_OK) {
		free(t.v);
		return rc;
	}

	/* Top to bottom: branch by branch, each sub-category where it first appears. */
	int n = 0;
	for (int b = 0; b < N_BRANCHES; b++)
		for (int i = 0; i < t.n; i++) {
			if (t.v[i].branch != b)
				continue;
			int seen = 0;
			for (int j = 0; j < i && !seen; j++)
				seen = t.v[j].branch == b && strcmp(t.v[j].sub, t.v[i].sub) == 0;
			for (int j = i; j < t.n && !seen; j++)
				if (t.v[j].branch == b && strcmp(t.v[j].sub, t.v[i].sub) == 0)
					order[n++] = j;
		}

	char path[4096];
	int n_subs = 0;
	snprintf(path, sizeof(path), "%s/%s.gp", dir, name);
	if (attn__gp_mkdirs(dir))
		rc = attn_errf(err, errlen, ATTN_ERR_IO, "%s: cannot write: %s", dir,
		               strerror(errno));
	/* NAME.gp names its output, so each format rewrites it before its own gnuplot run. */
	for (int i = 0; i < n_formats && rc == ATTN_OK; i++) {
		FILE *f = fopen(path, "w");
		if (!f || write_script(f, &t, order, taxonomy_path, name, formats[i], &n_subs) ||
		    fclose(f))
			rc = attn_errf(err, errlen, ATTN_ERR_IO, "%s: cannot write: %s", path,
			               strerror(errno));
		else
			rc = attn__gp_run(dir, name, err, errlen);
	}

	if (rc == ATTN_OK && caption && caption_len) {
		int leaves = 0, impl = 0, plugins = 0, extra = 0, branches_used = 0, registered = 0;
		for (int i = 0; i < t.n; i++) {
			extra += t.v[i].extra;
			leaves += !t.v[i].extra;
			impl += !t.v[i].extra && t.v[i].m;
		}
		/* Distinct plugins: the first leaf that names each one counts it. */
		for (int i = 0; i < t.n; i++) {
			int first = t.v[i].m && !t.v[i].extra;
			for (int j = 0; j < i && first; j++)
				first = !(t.v[j].m == t.v[i].m && !t.v[j].extra);
			plugins += first;
		}
		for (int b = 0; b < N_BRANCHES; b++)
			for (int i = 0; i < t.n; i++)
				if (t.v[i].branch == b) {
					branches_used++;
					break;
				}
		for (int i = 0; i < attn_registry_count(reg); i++)
			registered += !(attn_registry_at(reg, i)->flags & ATTN_METHOD_ORACLE_ONLY);
		const char *base = strrchr(taxonomy_path, '/');
		int len = snprintf(
		    caption, caption_len,
		    "Drawn from %s and the "
		    "method registry of this build: %d leaves (the survey's examples) in a tree of "
		    "%d branches and %d sub-categories. %d of the %d leaves are implemented, by %d "
		    "distinct plugins of the %d registered methods (oracles aside), and %d %s "
		    "marked \"not implemented\". ",
		    base ? base + 1 : taxonomy_path, leaves, branches_used, n_subs, impl, leaves,
		    plugins, registered, leaves - impl, leaves - impl == 1 ? "is" : "are");
		if (len >= 0 && (size_t)len < caption_len && extra)
			snprintf(caption + len, caption_len - (size_t)len,
			         "%d registered method%s that no leaf names %s drawn under %s "
			         "family as \"(not in the survey)\".",
			         extra, extra == 1 ? "" : "s", extra == 1 ? "is" : "are",
			         extra == 1 ? "its" : "their");
		else if (len >= 0 && (size_t)len < caption_len)
			snprintf(caption + len, caption_len - (size_t)len,
			         "Every registered method is named by a leaf.");
	}
	free(order);
	free(t.v);
	return rc;
}
