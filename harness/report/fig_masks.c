/*
 * Survey Fig. 3: what the block-sparse methods compute, as one heat map of
 * the kept-block mask per method and parameters. The masks are the ones
 * `sweep --dump-mask` stored (head 0, one extra untimed call, in original
 * positions: the sorting methods' maps are undone by the engine); this file
 * picks one per panel, writes it as a gnuplot matrix and draws the grid. A
 * stored byte is the block's kept fraction (methods/engines/blocksparse.h:
 * 0 skipped, 2..253 partial, 255 whole; 1 kept, fraction unknown, as masks
 * were before they carried fractions), shaded from pale to full orange. The
 * density in each title is the method's own figure when the run stored it,
 * because only the method knows the fraction of the score matrix it really
 * computed (partial diagonal blocks, several branches); the mask's kept block
 * fraction stands in otherwise, and the title says so. A parameter the
 * method chose itself (clusters=0: auto) is titled with the value it chose,
 * its "param.NAME" metric.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/query.h"
#include "attnbench/report.h"
#include "attnbench/status.h"
#include "report_internal.h"

/*
 * Masks wider than this many blocks a side are max-pooled (a pixel shows the
 * fullest block under it) so a panel a few hundred pixels wide still shows
 * every kept block instead of aliasing them away.
 */
#define MASK_SIDE  256
#define MAX_PANELS 48 /* a grid taller than 12 rows is no longer a figure */
#define COLS       4
#define PANEL_W    420
#define PANEL_H    440

struct panel {
	long case_id, n, head;
	int causal, prefill;
	char *method, *params, *dist;
	char *resolved;   /* "NAME=VALUE,..." the method chose itself (query.h) */
	int have_density; /* density is the method's metric, not the block fraction */
	double density;
	int64_t nqb, nkb;   /* the stored mask */
	int64_t pool;       /* pool x pool stored blocks per drawn cell */
	int64_t rows, cols; /* the drawn matrix */
	uint8_t *cell;      /* (rows, cols), the fullest stored byte under the cell */
	int graded;         /* some block carries a partial fraction (2..253) */
};

struct panels {
	struct panel *p;
	int n, cap;
	int total; /* (method, params) pairs with a mask, drawn or not */
};

static void panels_free(struct panels *ps)
{
	for (int i = 0; i < ps->n; i++) {
		free(ps->p[i].method);
		free(ps->p[i].params);
		free(ps->p[i].dist);
		free(ps->p[i].resolved);
		free(ps->p[i].cell);
	}
	free(ps->p);
}

/* Is case (prefill, causal, n) a better face for its panel than p's? */
static int better(const struct panel *p, int prefill, int causal, long n)
{
	/* A decode mask is one query block tall, and causal masks are what LLMs run. */
	if (prefill != p->prefill)
		return prefill;
	if (causal != p->causal)
		return causal;
	return n > p->n;
}

/* The kept fraction a stored mask byte stands for (see the top of the file). */
static double kept_fraction(uint8_t v)
{
	if (v == 0)
		return 0.0;
	if (v == 1 || v >= 254)
		return 1.0;
	return (v - 2 + 0.5) / 252.0;
}

/*
 * The params for a title: "k=v,..." with each non-integer number rounded to
 * 4 significant digits (gate=0.333333333 reads gate=0.3333).
 */
static void tidy_params(const char *in, char *out, size_t len)
{
	size_t k = 0;
	out[0] = 0;
	while (*in && k + 1 < len) {
		size_t n = strcspn(in, ",");
		const char *eq = memchr(in, '=', n);
		char val[64], *end;
		int w;
		if (eq && (size_t)(in + n - eq - 1) < sizeof(val)) {
			memcpy(val, eq + 1, in + n - eq - 1);
			val[in + n - eq - 1] = 0;
			double x = strtod(val, &end);
			if (end != val && !*end && strpbrk(val, ".eE"))
				w = snprintf(out + k, len - k, "%s%.*s%.4g", k ? "," : "",
				             (int)(eq + 1 - in), in, x);
			else
				w = snprintf(out + k, len - k, "%s%.*s", k ? "," : "", (int)n, in);
		} else {
			w = snprintf(out + k, len - k, "%s%.*s", k ? "," : "", (int)n, in);
		}
		if (w < 0 || (size_t)w >= len - k)
			break;
		k += (size_t)w;
		in += n + (in[n] == ',');
	}
}

/*
 * The value "k=VALUE" of key k (klen bytes) in the list "k=v,..." into
 * *val (vlen bytes); 0 when absent.
 */
static int find_value(const char *list, const char *k, size_t klen, const char **val, size_t *vlen)
{
	while (*list) {
		size_t n = strcspn(list, ",");
		if (n > klen && list[klen] == '=' && !strncmp(list, k, klen)) {
			*val = list + klen + 1;
			*vlen = n - klen - 1;
			return 1;
		}
		list += n + (list[n] == ',');
	}
	return 0;
}

/*
 * The params as they ran: each "k=v" of `given` whose value the method
 * resolved itself (`resolved`, "k=v,...") takes that value (clusters=0
 * reads clusters=16), and a resolved key that `given` lacks is appended.
 */
static void resolve_params(const char *given, const char *resolved, char *out, size_t len)
{
	size_t k = 0;
	out[0] = 0;
	for (const char *in = given; *in && k + 1 < len;) {
		size_t n = strcspn(in, ","), klen = strcspn(in, "=");
		const char *v;
		size_t vlen;
		int w = klen < n && find_value(resolved, in, klen, &v, &vlen)
		            ? snprintf(out + k, len - k, "%s%.*s%.*s", k ? "," : "",
		                       (int)(klen + 1), in, (int)vlen, v)
		            : snprintf(out + k, len - k, "%s%.*s", k ? "," : "", (int)n, in);
		if (w < 0 || (size_t)w >= len - k)
			return;
		k += (size_t)w;
		in += n + (in[n] == ',');
	}
	for (const char *in = resolved; *in && k + 1 < len;) {
		size_t n = strcspn(in, ","), klen = strcspn(in, "=");
		const char *v;
		size_t vlen;
		if (klen < n && !find_value(given, in, klen, &v, &vlen)) {
			int w = snprintf(out + k, len - k, "%s%.*s", k ? "," : "", (int)n, in);
			if (w < 0 || (size_t)w >= len - k)
				return;
			k += (size_t)w;
		}
		in += n + (in[n] == ',');
	}
}

/* A copy of s, or NULL. */
static char *dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	return d ? memcpy(d, s, n) : NULL;
}

/* Keep the case if it is the best face so far of its (method, params). */
static int pick_case(void *ctx, const struct attn_query_mask_case *mc)
{
	struct panels *ps = ctx;
	struct panel *p = NULL;
	for (int i = 0; i < ps->n && !p; i++)
		if (!strcmp(ps->p[i].method, mc->method) && !strcmp(ps->p[i].params, mc->params))
			p = &ps->p[i];
	if (!p) {
		ps->total++;
		if (ps->n == MAX_PANELS)
			return ATTN_OK;
		if (ps->n == ps->cap) {
			int cap = ps->cap ? 2 * ps->cap : 16;
			void *q = realloc(ps->p, cap * sizeof(*ps->p));
			if (!q)
				return ATTN_ERR_NOMEM;
			ps->p = q;
			ps->cap = cap;
		}
		p = &ps->p[ps->n++];
		*p = (struct panel){
		    .method = dup_str(mc->method), .params = dup_str(mc->params), .n = -1};
		if (!p->method || !p->params)
			return ATTN_ERR_NOMEM;
	} else if (!better(p, mc->prefill, mc->causal, mc->n)) {
		return ATTN_OK;
	}
	free(p->dist);
	free(p->resolved);
	p->case_id = mc->case_id;
	p->n = mc->n;
	p->causal = mc->causal;
	p->prefill = mc->prefill;
	p->dist = dup_str(mc->dist);
	p->head = mc->head;
	p->have_density = mc->has_density;
	p->density = mc->density;
	p->resolved = dup_str(mc->resolved);
	return p->dist && p->resolved ? ATTN_OK : ATTN_ERR_NOMEM;
}

/*
 * One panel per (method, params), in the order the run first met them, each
 * showing its best case by better().
 */
static int pick_panels(struct attn_store *st, const char *db_name, long run, struct panels *ps,
                       char *err, size_t errlen)
{
	char why[512];
	int rc = attn_query_mask_cases(st, run, pick_case, ps, why, sizeof(why));
	if (rc == ATTN_ERR_NOMEM)
		return attn_errf(err, errlen, rc, "out of memory picking the masks of run %ld",
		                 run);
	return rc ? attn_errf(err, errlen, rc, "%s: %s", db_name, why) : ATTN_OK;
}

/*
 * Load p's mask and max-pool it to at most MASK_SIDE cells a side:
 * cell[r][c] = max over the pool x pool blocks (r·pool.., c·pool..). Without
 * the density metric, the density is the mean kept fraction of the stored
 * blocks (of the blocks kept, for masks without fractions).
 * ATTN_ERR_DB for a mask whose size disagrees with its blocks.
 */
static int load_mask(struct attn_store *st, const char *db_name, struct panel *p, char *err,
                     size_t errlen)
{
	uint8_t *m;
	size_t bytes;
	char why[512];
	int rc = attn_query_mask(st, p->case_id, &p->nqb, &p->nkb, &m, &bytes, why, sizeof(why));
	if (rc == ATTN_ERR_NOMEM)
		return attn_errf(err, errlen, rc, "%s", why);
	if (rc)
		return attn_errf(err, errlen, ATTN_ERR_DB, "%s: %s", db_name, why);
	if (p->nqb < 1 || p->nkb < 1 || p->nqb > INT32_MAX || p->nkb > INT32_MAX ||
	    (int64_t)bytes != p->nqb * p->nkb || !m) {
		rc = attn_errf(
		    err, errlen, ATTN_ERR_DB,
		    "%s: the mask of case %ld (%s %s) has %lld bytes for %lldx%lld blocks; "
		    "the database is damaged",
		    db_name, p->case_id, p->method, p->params, (long long)bytes, (long long)p->nqb,
		    (long long)p->nkb);
		goto out;
	}
	int64_t side = p->nqb > p->nkb ? p->nqb : p->nkb;
	p->pool = (side + MASK_SIDE - 1) / MASK_SIDE;
	p->rows = (p->nqb + p->pool - 1) / p->pool;
	p->cols = (p->nkb + p->pool - 1) / p->pool;
	p->cell = calloc(p->rows * p->cols, 1);
	if (!p->cell) {
		rc = attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory for a %lldx%lld mask",
		               (long long)p->nqb, (long long)p->nkb);
		goto out;
	}
	double kept = 0;
	for (int64_t i = 0; i < p->nqb; i++)
		for (int64_t j = 0; j < p->nkb; j++) {
			uint8_t v = m[i * p->nkb + j],
			        *c = &p->cell[i / p->pool * p->cols + j / p->pool];
			kept += kept_fraction(v);
			p->graded |= v >= 2 && v <= 253;
			if (kept_fraction(v) > kept_fraction(*c))
				*c = v;
		}
	if (!p->have_density)
		p->density = kept / (double)(p->nqb * p->nkb);
	rc = ATTN_OK;
out:
	free(m);
	return rc;
}

static int write_dat(const char *dir, const char *name, int i, const struct panel *p)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s_%02d.dat", dir, name, i);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "# %s %s: case %ld, head %ld, N=%ld, %lldx%lld blocks", p->method, p->params,
	        p->case_id, p->head, p->n, (long long)p->nqb, (long long)p->nkb);
	if (p->pool > 1)
		fprintf(f, ", max-pooled %lldx%lld", (long long)p->pool, (long long)p->pool);
	fputs("\n# rows = query blocks, columns = key blocks, the block's kept fraction\n", f);
	/* gnuplot draws no image one row tall: a decode mask's row goes in twice. */
	for (int64_t r = 0; r < p->rows + (p->rows == 1); r++)
		for (int64_t c = 0; c < p->cols; c++)
			fprintf(f, "%.3g%c", kept_fraction(p->cell[r % p->rows * p->cols + c]),
			        c + 1 < p->cols ? ' ' : '\n');
	return fclose(f) ? -1 : 0;
}

/* "run 3 on HOST" (of a merged sweep "runs 3, 4 (shards 1/2, 2/2) on hosts a, b"), for the title.
 */
static void run_text(struct attn_store *st, long run, char *buf, size_t len)
{
	struct attn_query_run r;
	snprintf(buf, len, "run %ld", run);
	if (attn_query_run_info(st, run, &r, NULL, 0) != ATTN_OK)
		return;
	char who[512];
	const char *hosts = attn__run_hosts(&r);
	attn__run_words(&r, who, sizeof(who));
	if (hosts)
		snprintf(buf, len, "%s on %s%s", who, strchr(hosts, ',') ? "hosts " : "", hosts);
	else
		snprintf(buf, len, "%s", who);
	attn_query_run_info_free(&r);
}

/* NAME.gp drawing NAME.FORMAT; `run_title` is run_text()'s. */
static int write_gp(const char *run_title, const char *dir, const char *name, const char *format,
                    const struct panels *ps)
{
	char path[4096], text[1024];
	snprintf(path, sizeof(path), "%s/%s.gp", dir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	int svg = !strcmp(format, "svg");
	int cols = ps->n < COLS ? ps->n : COLS, rows = (ps->n + cols - 1) / cols;
	fprintf(f,
	        "# attnbench figures: %s, survey Fig. 3. Generated; every mask comes from the "
	        "database.\n",
	        name);
	fprintf(f, "set terminal %s noenhanced size %d,%d font 'sans,11'\n",
	        svg ? "svg dynamic" : "pngcairo", cols * PANEL_W, rows * PANEL_H + 110);
	fprintf(f, "set output '%s.%s'\n", name, svg ? "svg" : "png");
	/*
	 * White for skipped, then pale to full orange by the kept fraction of the
	 * block: a partial block (a window's edge, the causal diagonal) shows as
	 * the share of its pairs computed, not as a whole block.
	 */
	fputs("set palette defined (0 '#ffffff', 0.001 '#fdd9b5', 1 '#d94801')\n"
	      "set cbrange [0:1]\nset cbtics ('a few pairs' 0.02, 'half kept' 0.5, 'whole block "
	      "kept' 1) "
	      "font ',9'\nset size ratio -1\nset tics out nomirror scale 0.6 font ',9'\n"
	      "set xlabel 'key block' offset 0,0.5\nset ylabel 'query block' offset 1.5,0\n"
	      "set title offset 0,-0.3 font ',10'\nset border lw 1 lc rgb '#404040'\n",
	      f);
	/*
	 * Margins and gaps in pixels turned into fractions: room above the top
	 * row for the figure's title, the colour key and a panel's three title lines, and
	 * between rows for the key axis label and the next titles.
	 */
	int height = rows * PANEL_H + 110;
	fprintf(f,
	        "set multiplot layout %d,%d margins 0.045,0.99,%.4f,%.4f spacing 0.055,%.4f "
	        "title ",
	        rows, cols, 48.0 / height, 1 - 150.0 / height, 100.0 / height);
	char title[1200];
	snprintf(title, sizeof(title), "Kept-block masks of the sparse methods (%s)", run_title);
	attn__gp_str(f, title);
	fputs(" font ',14'\n", f);
	for (int i = 0; i < ps->n; i++) {
		const struct panel *p = &ps->p[i];
		/*
		 * Line 1 who, line 2 the shape, line 3 how much of it is computed;
		 * joined in gnuplot, since a newline cannot sit in a quoted string.
		 */
		char shape[256], dens[128];
		int len = snprintf(shape, sizeof(shape), "N=%ld%s%s, %lldx%lld blocks", p->n,
		                   p->causal ? "" : " non-causal", p->prefill ? "" : " decode",
		                   (long long)p->nqb, (long long)p->nkb);
		if (p->pool > 1)
			snprintf(shape + len, sizeof(shape) - len, ", max-pooled %lldx%lld",
			         (long long)p->pool, (long long)p->pool);
		snprintf(dens, sizeof(dens), "density %.3g%s", p->density,
		         p->have_density ? ""
		         : p->graded     ? " (of mask area kept)"
		                         : " (of blocks kept)");
		char ran[512], params[512];
		resolve_params(p->params, p->resolved, ran, sizeof(ran));
		tidy_params(ran, params, sizeof(params));
		snprintf(text, sizeof(text), "%s  %s", p->method, params);
		/*
		 * One colour key for the figure, across the top right, drawn with
		 * panel 0, and beside it the two colours that are not a kept fraction.
		 */
		if (i == 0)
			fprintf(
			    f,
			    "set colorbox horizontal user origin screen 0.62,%.4f size screen "
			    "0.3,%.4f border\n"
			    "set label 1 'white: skipped    grey: after the query (causal)' right "
			    "at screen 0.6,%.4f font ',9'\n",
			    1 - 58.0 / height, 12.0 / height, 1 - 52.0 / height);
		else if (i == 1)
			fputs("unset colorbox\nunset label 1\n", f);
		fprintf(f, "\n# panel %d: case %ld\nset title ", i, p->case_id);
		attn__gp_str(f, text);
		fputs(".\"\\n\".", f);
		attn__gp_str(f, shape);
		fputs(".\"\\n\".", f);
		attn__gp_str(f, dens);
		/* A decode mask is one query row: a strip as wide as the square panels, not a line.
		 */
		/* (A fixed aspect, not noratio: a strip filling its cell pushes its title into
		 * the row above.) */
		fputs(p->nqb * 8 <= p->nkb ? "\nset size ratio 0.3" : "\nset size ratio -1", f);
		/* Pixels centred on the stored block index they start at, edges at the blocks'. */
		double half = p->pool / 2.0;
		fprintf(f, "\nset xrange [-0.5:%g]\nset yrange [%g:-0.5]\n",
		        p->cols * p->pool - 0.5, (p->rows + (p->rows == 1)) * p->pool - 0.5);
		fputs(p->rows == 1 ? "set ytics ('query' 0.5*"
		                   : "set ytics autofreq\nset ylabel 'query block' offset 1.5,0\n",
		      f);
		if (p->rows == 1)
			fprintf(f, "%lld)\nunset ylabel\n", (long long)p->pool * 2 - 1);
		/*
		 * Grey over the strictly-future triangle: blank there is causality,
		 * not sparsity, and the diagonal blocks show as the half they compute.
		 */
		if (p->causal && p->prefill && p->nqb == p->nkb)
			fprintf(
			    f,
			    "set object 1 polygon from -0.5,-0.5 to %g,-0.5 to %g,%g to -0.5,-0.5 "
			    "front fs transparent solid 0.55 noborder fc rgb '#d9d9d9'\n",
			    p->nkb - 0.5, p->nkb - 0.5, p->nqb - 0.5);
		else
			fputs("unset object 1\n", f);
		fprintf(f,
		        "plot '%s_%02d.dat' matrix using ($1*%lld+%g):($2*%lld+%g):3 with image "
		        "notitle\n",
		        name, i, (long long)p->pool, half - 0.5, (long long)p->pool, half - 0.5);
	}
	fputs("unset multiplot\n", f);
	return fclose(f) ? -1 : 0;
}

static void make_caption(const struct panels *ps, long run, char *caption, size_t len)
{
	int metric = 0, blocks = 0, pooled = 0, causal = 0, graded = 0;
	const char *dist = ps->p[0].dist;
	for (int i = 0; i < ps->n; i++) {
		metric += ps->p[i].have_density;
		blocks += !ps->p[i].have_density;
		pooled |= ps->p[i].pool > 1;
		graded |= ps->p[i].graded;
		causal |= ps->p[i].causal && ps->p[i].prefill;
		if (strcmp(ps->p[i].dist, dist))
			dist = NULL;
	}
	int k = snprintf(caption, len,
	                 "Kept-block masks of head %ld for %d sparse method configurations "
	                 "(run %ld%s%s%s), each at the largest N the run stored a mask for: query "
	                 "blocks down, key blocks across, in original positions; %s, white = "
	                 "skipped%s.",
	                 ps->p[0].head, ps->n, run, dist ? ", " : "", dist ? dist : "",
	                 dist ? " inputs" : "",
	                 graded ? "orange = computed, pale to full by the fraction of the block's "
	                          "pairs kept (the key)"
	                        : "orange = the block pair is computed",
	                 causal ? ", grey = above the causal diagonal" : "");
	if (ps->total > ps->n && k >= 0 && (size_t)k < len)
		k += snprintf(caption + k, len - k, " The first %d of %d are shown.", ps->n,
		              ps->total);
	if (metric && k >= 0 && (size_t)k < len)
		k += snprintf(caption + k, len - k,
		              " Density is the fraction of the (causal) score matrix the method "
		              "reports computing%s.",
		              blocks ? "; marked \"of blocks kept\" or \"of mask area kept\", the "
		                       "mask's own"
		                     : "");
	else if (k >= 0 && (size_t)k < len)
		k += snprintf(caption + k, len - k,
		              " Density is the kept fraction of the mask (the run stored no "
		              "density metric).");
	if (pooled && k >= 0 && (size_t)k < len)
		snprintf(caption + k, len - k,
		         " Masks over %d blocks a side are max-pooled: a cell shows the fullest "
		         "block under it.",
		         MASK_SIDE);
}

int attn_fig_masks(struct attn_store *st, const char *db_name, int64_t run_id, const char *dir,
                   const char *name, const char *const *formats, int n_formats, char *caption,
                   size_t caption_len, char *err, size_t errlen)
{
	struct panels ps = {0};
	char run_title[1024];
	long run = (long)run_id;
	int rc = ATTN_OK;
	if (caption_len)
		caption[0] = 0;
	for (int i = 0; i < n_formats; i++)
		if (strcmp(formats[i], "png") && strcmp(formats[i], "svg"))
			return attn_errf(err, errlen, ATTN_ERR_INVALID,
			                 "format '%s': expected png or svg", formats[i]);
	if ((rc = pick_panels(st, db_name, run, &ps, err, errlen)) != ATTN_OK)
		goto out;
	if (ps.n == 0) {
		rc = attn_errf(
		    err, errlen, ATTN_ERR_NOTFOUND,
		    "run %ld of %s holds no block masks for Fig. 3; store them by sweeping "
		    "sparse methods with --dump-mask, e.g. `attnbench sweep --methods "
		    "window,bigbird,moba --n 4096 --causal=1 --dump-mask --db %s`",
		    run, db_name, db_name);
		goto out;
	}
	for (int i = 0; i < ps.n && rc == ATTN_OK; i++)
		rc = load_mask(st, db_name, &ps.p[i], err, errlen);
	if (rc)
		goto out;
	if (attn__gp_mkdirs(dir)) {
		rc = attn_errf(err, errlen, ATTN_ERR_IO, "%s: cannot create: %s", dir,
		               strerror(errno));
		goto out;
	}
	for (int i = 0; i < ps.n; i++)
		if (write_dat(dir, name, i, &ps.p[i]))
			goto write_failed;
	run_text(st, run, run_title, sizeof(run_title));
	/* NAME.gp names its output, so each format rewrites it before its own gnuplot run. */
	for (int i = 0; i < n_formats; i++) {
		if (write_gp(run_title, dir, name, formats[i], &ps))
			goto write_failed;
		if (!attn_report_have_gnuplot()) {
			rc =
			    attn_errf(err, errlen, ATTN_ERR_NOTFOUND,
			              "gnuplot not found: apt-get install gnuplot-nox (%s/%s.gp is "
			              "written)",
			              dir, name);
			goto out;
		}
		if ((rc = attn__gp_run(dir, name, err, errlen)) != ATTN_OK)
			goto out;
	}
	make_caption(&ps, run, caption, caption_len);
	goto out;
write_failed:
	rc = attn_errf(err, errlen, ATTN_ERR_IO, "%s: cannot write %s files: %s", dir, name,
	               strerror(errno));
out:
	panels_free(&ps);
	return rc;
}
