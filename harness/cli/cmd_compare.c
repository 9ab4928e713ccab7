/*
 * attnbench compare: the CI regression gate. Reads a baseline and a current
 * run (two databases, or two runs of one), pairs their ok cases by method,
 * params and shape, normalises every time by the roof its run measured (so
 * a machine that is slower today is not a regression), and per pair tests
 * for a change (Mann–Whitney U, Benjamini–Hochberg across the grid) and
 * sizes it (ratio of medians with a bootstrap CI). The statistics are in
 * harness/src/compare.c; this verb reads, pairs, reports and sets the exit
 * code the CI job reads.
 */
#include <getopt.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/compare.h"
#include "attnbench/fit.h"
#include "attnbench/stats.h"
#include "attnbench/store.h"
#include "cli.h"

static const char *help_text =
    "usage: attnbench compare --baseline A.db --current B.db [--baseline-run ID]\n"
    "                         [--current-run ID] [--threshold 5%] [--alpha 0.05]\n"
    "                         [--format text|markdown|json] [--verbose]\n"
    "                         [--allow-other-machine] [--allow-build-mismatch]\n"
    "\n"
    "The regression gate: is the current run slower than the baseline beyond\n"
    "the noise? Runs default to the newest run of each file with ok cases (A\n"
    "and B may be the same file with two --*-run ids). Ok cases are paired by\n"
    "method, params and shape (batch, heads, kv_heads, n, d, causal, mode, dist,\n"
    "threads); cases of one side only are counted, not errors.\n"
    "\n"
    "Every time is normalised by its run's own roof, so that a machine that is\n"
    "slower as a whole is not a regression: when every sample of both cases has\n"
    "the sgemm time measured beside it (samples.roof_ns, sweep --roof-probe),\n"
    "each sample is divided by the median roof_ns of its shape's window (the\n"
    "interleaved repetitions of all methods at that shape); else, when both runs\n"
    "measured the sgemm roof at the case's thread count, ns x sgemm GFLOP/s;\n"
    "else raw ns (said). Before that, where a window holds three methods or\n"
    "more, each sample is divided by its round's speed: the median over the\n"
    "window's methods of their sample in that round over their median. The\n"
    "rounds of one window run within a second, and a neighbour's load moves\n"
    "them all; one method's change moves one of the many.\n"
    "Per pair, on the normalised samples:\n"
    "  ratio  median(current) / median(baseline), with a 95% percentile\n"
    "         bootstrap CI (2000 resamples of each side, fixed seed)\n"
    "  p      two-sided Mann-Whitney U (exact for <= 50 untied samples a side,\n"
    "         else normal with tie and continuity corrections)\n"
    "  q      p adjusted by Benjamini-Hochberg over all pairs (FDR control)\n"
    "A pair REGRESSED when q < alpha and ratio > 1 + threshold, IMPROVED when\n"
    "q < alpha and ratio < 1 / (1 + threshold), and its method agrees: over\n"
    "the method's pairs (same parameters), each pair's ratio relative to the\n"
    "median ratio of all methods at its shape is beyond the threshold the same\n"
    "way at the median, and beyond half the threshold at every shape. A change in the code moves a method at all its\n"
    "shapes and against the methods measured beside it; one slow process, or\n"
    "a neighbour on the memory bus, does not. A flagged pair whose method\n"
    "disagrees is ISOLATED; a pair whose shape's window ran 2.5 times off\n"
    "the run's usual speed (the probe says so) is UNRELIABLE. Both are\n"
    "reported and neither fails the gate. --threshold takes \"5%\" or a\n"
    "fraction (0.05). Where both cases have counter:PAPI_TOT_INS, the ratio of\n"
    "instructions is a second, deterministic column; a time regression whose\n"
    "instructions did not move is pointed out. Each flagged case comes with the\n"
    "`attnbench plot` command that draws it.\n"
    "\n"
    "Curves: both runs are fitted (as `attnbench fit`) and a method whose time\n"
    "exponent moved so far that the two 95% CIs do not overlap is reported\n"
    "(\"`window` went from N^1.00 to N^1.30\"). It does not change the exit code:\n"
    "a steeper curve already shows as regressed cases at large N, which the\n"
    "per-case test judges with FDR control, while the fit's CI holds only the\n"
    "noise within each N, not drift between them, and is not corrected for the\n"
    "number of curves.\n"
    "\n"
    "Machine class: the runs' cpu_model, cores and openblas_core must agree;\n"
    "--allow-other-machine compares anyway (the roof normalisation then carries\n"
    "the whole burden). A run made with ATTNBENCH_INJECT_SLOWDOWN is named.\n"
    "Build: the runs' build_type, compiler and cflags must agree too, since a\n"
    "Debug or sanitizer build is slower everywhere for reasons that are not the\n"
    "code's; --allow-build-mismatch compares anyway, with a warning on stderr,\n"
    "and the report (json: build_mismatch) says what differed.\n"
    "\n"
    "--verbose lists every pair, not only the flagged ones; json always does.\n"
    "\n"
    "exit: 0 no regression (improvements allowed); 1 a case regressed; 2 bad\n"
    "usage, a database that cannot be read (not attnbench's, corrupt or of a\n"
    "newer schema), a missing run, no matching cases, a different machine or a\n"
    "different build.\n";

enum cmp_format { FORMAT_TEXT, FORMAT_MARKDOWN, FORMAT_JSON };

/*
 * One ok case of a run. Method, params and shape pair it with the other
 * run's; cases alike in all of them (a resumed sweep) are pooled.
 */
struct cmp_case {
	char method[64], params[256], mode[16], dist[32];
	int64_t batch, heads, kv_heads, n, d;
	int causal, threads;
	double *ns, *roof; /* k samples; roof[i] <= 0 when not measured */
	int k, all_roof;
	int win;           /* its shape's window, numbered from 0 (number_windows) */
	double group_roof; /* median roof_ns of its shape's window, 0: none */
	double raw_med;    /* median ns as measured, before the rounds' correction */
	double ins; /* counter:PAPI_TOT_INS, NAN when unavailable */
};

struct cmp_run {
	const char *path;
	struct attn_store *st;
	int64_t id;
	char commit[64], host[128], started[64];
	char cpu_model[256], cores[32], openblas_core[64], inject[128];
	char build_type[64], compiler[128], cflags[1024]; /* run_info, "" when absent */
	struct attn_roof roofs[32];
	int n_roofs, any_roof_ns;
	struct cmp_case *c;
	int n, n_win;
};

enum cmp_norm { NORM_GROUP_ROOF, NORM_RUN_ROOF, NORM_RAW };
static const char *const norm_names[] = {"roof_ns", "sgemm", "raw"};

struct cmp_pair {
	const struct cmp_case *b, *c;
	enum cmp_norm norm;
	double ratio, lo, hi, p, q, ins_ratio, med_b, med_c;
	int exact;
	enum attn_compare_verdict v;
};

struct cmp_curve {
	char method[64], params[256], family[256];
	double e_b, lo_b, hi_b, e_c, lo_c, hi_c;
};

/* ---- reading a run ----------------------------------------------------------- */

static void col_text(sqlite3_stmt *s, int i, char *buf, size_t len)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	snprintf(buf, len, "%s", t ? (const char *)t : "");
}

static void run_info(sqlite3 *db, int64_t run, const char *key, char *buf, size_t len)
{
	sqlite3_stmt *s;
	buf[0] = 0;
	if (sqlite3_prepare_v2(db, "SELECT value FROM run_info WHERE run_id = ? AND key = ?", -1,
	                       &s, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		col_text(s, 0, buf, len);
	sqlite3_finalize(s);
}

/* The order of shapes: batch, heads, kv_heads, d, causal, mode, dist, threads, n. */
static int shape_order(const struct cmp_case *x, const struct cmp_case *y)
{
	const int64_t a[] = {x->batch, x->heads, x->kv_heads, x->d, x->causal, x->threads, x->n};
	const int64_t b[] = {y->batch, y->heads, y->kv_heads, y->d, y->causal, y->threads, y->n};
	int c = 0;
	for (int i = 0; !c && i < 7; i++) {
		c = (a[i] > b[i]) - (a[i] < b[i]);
		if (i == 4 && !c)
			c = strcmp(x->mode, y->mode);
		if (i == 4 && !c)
			c = strcmp(x->dist, y->dist);
	}
	return c;
}

/*
 * The pairing order: method, params, then the shape with N last, so a
 * curve's cases sit together in increasing N (and tables read that way).
 * load_run's ORDER BY lists the same columns in the same order.
 */
static int cmp_case_order(const struct cmp_case *x, const struct cmp_case *y)
{
	int c = strcmp(x->method, y->method);
	if (!c)
		c = strcmp(x->params, y->params);
	return c ? c : shape_order(x, y);
}

/*
 * Number the windows: the cases of one shape, every method and params, which
 * a sweep interleaves so that they run at the same time.
 */
static void number_windows(struct cmp_run *r)
{
	r->n_win = 0;
	for (int i = 0; i < r->n; i++) {
		int j = 0;
		while (j < i && shape_order(&r->c[j], &r->c[i]))
			j++;
		r->c[i].win = j < i ? r->c[j].win : r->n_win++;
	}
}

static void free_run(struct cmp_run *r)
{
	for (int i = 0; i < r->n; i++) {
		free(r->c[i].ns);
		free(r->c[i].roof);
	}
	free(r->c);
	if (r->st)
		attn_store_close(r->st);
}

/* Append case_id's samples to c; 0, or -1 out of memory. */
static int load_samples(sqlite3_stmt *s, int64_t case_id, struct cmp_case *c, int *any_roof)
{
	sqlite3_reset(s);
	sqlite3_bind_int64(s, 1, case_id);
	while (sqlite3_step(s) == SQLITE_ROW) {
		double *ns = realloc(c->ns, (size_t)(c->k + 1) * sizeof(double));
		if (ns)
			c->ns = ns;
		double *rf = realloc(c->roof, (size_t)(c->k + 1) * sizeof(double));
		if (rf)
			c->roof = rf;
		if (!ns || !rf)
			return -1;
		c->ns[c->k] = sqlite3_column_double(s, 0);
		c->roof[c->k] =
		    sqlite3_column_type(s, 1) == SQLITE_NULL ? 0 : sqlite3_column_double(s, 1);
		if (c->roof[c->k] > 0)
			*any_roof = 1;
		else
			c->all_roof = 0;
		c->k++;
	}
	return 0;
}

/*
 * Open r->path, choose the run (r->id 0: the newest with ok cases) and load
 * its ok cases sorted by key. EXIT_OK or EXIT_USAGE after the message.
 */
static int load_run(const char *role, struct cmp_run *r)
{
	char err[1024];
	if (attn_store_open(r->path, ATTN_STORE_READONLY, &r->st, err, sizeof(err)) != ATTN_OK) {
		cli_error("compare", "%s %s: %s", role, r->path, err);
		r->st = NULL;
		return EXIT_USAGE;
	}
	sqlite3 *db = attn_store_db(r->st);
	sqlite3_stmt *s;
	long found = cli_latest_ok_run(r->st, (long)r->id);
	if (found < 0) {
		cli_error("compare", "%s %s: %s", role, r->path, sqlite3_errmsg(db));
		return EXIT_USAGE;
	}
	if (!found) {
		if (r->id)
			cli_error("compare", "%s %s: run %lld has no ok cases (or does not exist)",
			          role, r->path, (long long)r->id);
		else
			cli_error("compare", "%s %s: no run with ok cases", role, r->path);
		return EXIT_USAGE;
	}
	r->id = found;
	if (sqlite3_prepare_v2(db,
	                       "SELECT git_commit, hostname, started_at, cpu_model FROM runs "
	                       "WHERE id = ?",
	                       -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, r->id);
		if (sqlite3_step(s) == SQLITE_ROW) {
			col_text(s, 0, r->commit, sizeof(r->commit));
			col_text(s, 1, r->host, sizeof(r->host));
			col_text(s, 2, r->started, sizeof(r->started));
			col_text(s, 3, r->cpu_model, sizeof(r->cpu_model));
		}
		sqlite3_finalize(s);
	}
	char v[256];
	run_info(db, r->id, "cpu_model", v, sizeof(v));
	if (v[0])
		snprintf(r->cpu_model, sizeof(r->cpu_model), "%s", v);
	run_info(db, r->id, "cores", r->cores, sizeof(r->cores));
	run_info(db, r->id, "openblas_core", r->openblas_core, sizeof(r->openblas_core));
	run_info(db, r->id, "inject_slowdown", r->inject, sizeof(r->inject));
	run_info(db, r->id, "build_type", r->build_type, sizeof(r->build_type));
	run_info(db, r->id, "compiler", r->compiler, sizeof(r->compiler));
	run_info(db, r->id, "cflags", r->cflags, sizeof(r->cflags));
	if (attn_store_run_roofs_load(r->st, r->id, r->roofs, 32, &r->n_roofs, err, sizeof(err)))
		r->n_roofs = 0;

	sqlite3_stmt *c;
	if (sqlite3_prepare_v2(
	        db,
	        "SELECT id, method, params, batch, heads, kv_heads, n, d, causal, mode, dist, "
	        "threads, (SELECT value FROM metrics WHERE case_id = cases.id AND "
	        "name = 'counter:PAPI_TOT_INS') FROM cases WHERE run_id = ? AND status = 'ok' "
	        "ORDER BY method, params, batch, heads, kv_heads, d, causal, mode, dist, threads, "
	        "n, id",
	        -1, &c, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT ns, roof_ns FROM samples WHERE case_id = ? ORDER BY rep",
	                       -1, &s, NULL) != SQLITE_OK) {
		cli_error("compare", "%s %s: reading cases: %s", role, r->path, sqlite3_errmsg(db));
		return EXIT_USAGE;
	}
	sqlite3_bind_int64(c, 1, r->id);
	int oom = 0;
	while (!oom && sqlite3_step(c) == SQLITE_ROW) {
		struct cmp_case f = {.all_roof = 1};
		col_text(c, 1, f.method, sizeof(f.method));
		col_text(c, 2, f.params, sizeof(f.params));
		f.batch = sqlite3_column_int64(c, 3);
		f.heads = sqlite3_column_int64(c, 4);
		f.kv_heads = sqlite3_column_int64(c, 5);
		f.n = sqlite3_column_int64(c, 6);
		f.d = sqlite3_column_int64(c, 7);
		f.causal = sqlite3_column_int(c, 8);
		col_text(c, 9, f.mode, sizeof(f.mode));
		col_text(c, 10, f.dist, sizeof(f.dist));
		f.threads = sqlite3_column_int(c, 11);
		f.ins = sqlite3_column_type(c, 12) == SQLITE_NULL ? NAN : sqlite3_column_double(c, 12);
		/*
		 * Rows come in pairing order (the SQL sorts text as strcmp does), so
		 * a case measured again, by a resumed sweep, follows its first
		 * measurement and its samples pool into it, in case-id order.
		 */
		struct cmp_case *x = r->n ? &r->c[r->n - 1] : NULL;
		if (x && cmp_case_order(x, &f) == 0) {
			if (isnan(x->ins))
				x->ins = f.ins;
		} else {
			struct cmp_case *nc = realloc(r->c, (size_t)(r->n + 1) * sizeof(*nc));
			if (!nc) {
				oom = 1;
				break;
			}
			r->c = nc;
			x = &r->c[r->n++];
			*x = f;
		}
		oom = load_samples(s, sqlite3_column_int64(c, 0), x, &r->any_roof_ns);
		if (!oom && x->k == 0) { /* a case without samples has nothing to compare */
			free(x->ns);
			free(x->roof);
			r->n--;
		}
	}
	sqlite3_finalize(c);
	sqlite3_finalize(s);
	if (oom) {
		cli_error("compare", "out of memory reading %s", r->path);
		return EXIT_USAGE;
	}
	number_windows(r);
	return EXIT_OK;
}

/* ---- pairing and testing -------------------------------------------------------- */

/*
 * The roof of each case's window: the median of the roof_ns of every sample
 * of every case of its shape. A sweep interleaves the repetitions of the
 * methods at one shape, so they share that window, and its median is the
 * machine's speed then. Each process's own probe is not used alone: it
 * runs in that method's process, after that method's sample, and its
 * caches, pages and threads bias it by several percent either way, which
 * would be read as the method's change.
 */
static int group_roofs(struct cmp_run *r)
{
	int total = 0;
	for (int i = 0; i < r->n; i++)
		total += r->c[i].k;
	double *v = malloc((size_t)(total ? total : 1) * sizeof(double));
	if (!v)
		return -1;
	for (int w = 0; w < r->n_win; w++) {
		int m = 0;
		for (int j = 0; j < r->n; j++)
			if (r->c[j].win == w && r->c[j].all_roof)
				for (int k = 0; k < r->c[j].k; k++)
					v[m++] = r->c[j].roof[k];
		double g = m ? attn_stats_median_inplace(v, m) : 0;
		for (int j = 0; j < r->n; j++)
			if (r->c[j].win == w)
				r->c[j].group_roof = g;
	}
	free(v);
	return 0;
}

/*
 * The machine's speed round by round, read from the methods themselves. A
 * sweep interleaves its methods at one shape: repetition r of every case
 * runs in the same round, within a fraction of a second. On a shared
 * machine that speed moves from round to round by tens of percent (a
 * neighbour's memory traffic, which an in-cache sgemm probe does not feel),
 * and it moves all the methods of the round together. So each sample is
 * divided by its round's factor: the median, over the window's cases, of
 * the sample over its case's median. One method's own change moves one of
 * the many ratios a factor is the median of, so it survives. Windows of
 * fewer than three cases are left as they are. raw_med keeps each case's
 * median as measured.
 */
static int peer_rounds(struct cmp_run *r)
{
	int maxk = 0;
	for (int i = 0; i < r->n; i++)
		maxk = r->c[i].k > maxk ? r->c[i].k : maxk;
	double *med = malloc((size_t)(r->n ? r->n : 1) * sizeof(double));
	double *v = malloc((size_t)(r->n + maxk + 1) * sizeof(double));
	if (!med || !v) {
		free(med);
		free(v);
		return -1;
	}
	for (int i = 0; i < r->n; i++) {
		memcpy(v, r->c[i].ns, (size_t)r->c[i].k * sizeof(double));
		med[i] = r->c[i].raw_med = attn_stats_median_inplace(v, r->c[i].k);
	}
	for (int w = 0; w < r->n_win; w++) {
		int members = 0;
		for (int j = 0; j < r->n; j++)
			members += r->c[j].win == w;
		if (members < 3)
			continue;
		for (int rep = 0; rep < maxk; rep++) {
			int m = 0;
			for (int j = 0; j < r->n; j++)
				if (r->c[j].win == w && rep < r->c[j].k && med[j] > 0)
					v[m++] = r->c[j].ns[rep] / med[j];
			if (m < 3)
				continue;
			double f = attn_stats_median_inplace(v, m);
			for (int j = 0; j < r->n; j++)
				if (r->c[j].win == w && rep < r->c[j].k && f > 0)
					r->c[j].ns[rep] /= f;
		}
	}
	free(med);
	free(v);
	return 0;
}

static double run_sgemm(const struct cmp_run *r, int threads)
{
	for (int i = 0; i < r->n_roofs; i++)
		if (r->roofs[i].threads == threads && r->roofs[i].sgemm_gflops > 0)
			return r->roofs[i].sgemm_gflops;
	return 0;
}

/*
 * One case's samples in the pair's unit, into out[k]: ns / the median
 * roof_ns of its shape's window, ns x sgemm GFLOP/s (the run's sgemm roof;
 * time in units of its flop rate), or ns.
 */
static void normalise(const struct cmp_case *c, enum cmp_norm norm, double gflops, double *out)
{
	for (int i = 0; i < c->k; i++)
		out[i] = norm == NORM_GROUP_ROOF ? c->ns[i] / c->group_roof
		         : norm == NORM_RUN_ROOF  ? c->ns[i] * gflops
		                                  : c->ns[i];
}

/* Ratio, CI, p of one pair. 0, or -1 out of memory. */
static int test_pair(struct cmp_pair *p, const struct cmp_run *base, const struct cmp_run *cur)
{
	const struct cmp_case *b = p->b, *c = p->c;
	double gb = run_sgemm(base, b->threads), gc = run_sgemm(cur, c->threads);
	p->norm = b->all_roof && c->all_roof && b->group_roof > 0 && c->group_roof > 0
	              ? NORM_GROUP_ROOF
	          : gb > 0 && gc > 0         ? NORM_RUN_ROOF
	                                     : NORM_RAW;
	double *x = malloc((size_t)(b->k + c->k) * sizeof(double));
	if (!x)
		return -1;
	double *y = x + b->k;
	normalise(b, p->norm, gb, x);
	normalise(c, p->norm, gc, y);
	p->med_b = b->raw_med;
	p->med_c = c->raw_med;
	attn_compare_ratio(x, b->k, y, c->k, ATTN_COMPARE_BOOT, ATTN_COMPARE_SEED, &p->ratio,
	                   &p->lo, &p->hi);
	p->p = attn_compare_mwu_p(y, c->k, x, b->k, &p->exact);
	p->ins_ratio = b->ins > 0 && c->ins > 0 ? c->ins / b->ins : NAN;
	free(x);
	return 0;
}

/* Machine class: "" when the runs agree, else what differs. */
static void machine_diff(const struct cmp_run *a, const struct cmp_run *b, char *buf, size_t len)
{
	const char *names[] = {"cpu_model", "cores", "openblas_core"};
	const char *va[] = {a->cpu_model, a->cores, a->openblas_core};
	const char *vb[] = {b->cpu_model, b->cores, b->openblas_core};
	size_t used = 0;
	buf[0] = 0;
	for (int i = 0; i < 3; i++)
		if (strcmp(va[i], vb[i]) != 0 && used < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s '%s' vs '%s'",
			                         used ? "; " : "", names[i], va[i][0] ? va[i] : "?",
			                         vb[i][0] ? vb[i] : "?");
}

/*
 * Build: "" when the runs were built alike, else what differs. A value one
 * run lacks (made before it was recorded) counts as different: unknown is
 * not the same.
 */
static void build_diff(const struct cmp_run *a, const struct cmp_run *b, char *buf, size_t len)
{
	const char *names[] = {"build_type", "compiler", "cflags"};
	const char *va[] = {a->build_type, a->compiler, a->cflags};
	const char *vb[] = {b->build_type, b->compiler, b->cflags};
	size_t used = 0;
	buf[0] = 0;
	for (int i = 0; i < 3; i++)
		if (strcmp(va[i], vb[i]) != 0 && used < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s '%s' vs '%s'",
			                         used ? "; " : "", names[i], va[i][0] ? va[i] : "?",
			                         vb[i][0] ? vb[i] : "?");
}

/* The curves fitted in both runs whose exponent CIs do not overlap. */
static int curve_moves(struct cmp_run *base, struct cmp_run *cur, struct cmp_curve **out,
                       char *note, size_t len)
{
	struct attn_fit_row *fb = NULL, *fc = NULL;
	int nb = 0, nc = 0, n = 0;
	int64_t used;
	char err[512];
	*out = NULL;
	note[0] = 0;
	if (attn_fit_run(base->st, base->id, NULL, 0, 3, ATTN_FIT_BOOT, ATTN_FIT_SEED, &used, &fb,
	                 &nb, err, sizeof(err)) ||
	    attn_fit_run(cur->st, cur->id, NULL, 0, 3, ATTN_FIT_BOOT, ATTN_FIT_SEED, &used, &fc,
	                 &nc, err, sizeof(err))) {
		snprintf(note, len, "curves not compared: %s", err);
		free(fb);
		return 0;
	}
	struct cmp_curve *v = calloc((size_t)(nb ? nb : 1), sizeof(*v));
	for (int i = 0; v && i < nb; i++)
		for (int j = 0; j < nc; j++) {
			const struct attn_fit_row *a = &fb[i], *b = &fc[j];
			if (strcmp(a->method, b->method) || strcmp(a->params, b->params) ||
			    strcmp(a->family, b->family) || !isfinite(a->exponent) ||
			    !isfinite(b->exponent))
				continue;
			if (!(b->ci_lo > a->ci_hi || b->ci_hi < a->ci_lo))
				continue;
			struct cmp_curve *m = &v[n++];
			snprintf(m->method, sizeof(m->method), "%s", a->method);
			snprintf(m->params, sizeof(m->params), "%s", a->params);
			snprintf(m->family, sizeof(m->family), "%s", a->family);
			m->e_b = a->exponent, m->lo_b = a->ci_lo, m->hi_b = a->ci_hi;
			m->e_c = b->exponent, m->lo_c = b->ci_lo, m->hi_c = b->ci_hi;
		}
	free(fb);
	free(fc);
	*out = v;
	return n;
}

/* ---- the report --------------------------------------------------------------- */

#define COLS     10
#define CELL_LEN 320
static const char *const col_names[COLS] = {"verdict", "method",         "params",
                                            "shape",   "ratio [95% CI]", "p",
                                            "q",       "instructions",   "baseline -> current",
                                            "norm"};

static void shape_text(const struct cmp_case *c, char *buf, size_t len)
{
	snprintf(buf, len, "n=%lld d=%lld h=%lld/%lld b=%lld %s %s t=%d %s", (long long)c->n,
	         (long long)c->d, (long long)c->heads, (long long)c->kv_heads, (long long)c->batch,
	         c->causal ? "causal" : "full", c->mode, c->threads, c->dist);
}

static void pair_cells(const struct cmp_pair *p, char cells[COLS][CELL_LEN])
{
	char t1[32], t2[32];
	snprintf(cells[0], CELL_LEN, "%s", attn_compare_verdict_name(p->v));
	snprintf(cells[1], CELL_LEN, "%s", p->b->method);
	snprintf(cells[2], CELL_LEN, "%s", p->b->params[0] ? p->b->params : "-");
	shape_text(p->b, cells[3], CELL_LEN);
	snprintf(cells[4], CELL_LEN, "%.3f [%.3f, %.3f]", p->ratio, p->lo, p->hi);
	snprintf(cells[5], CELL_LEN, "%.2g", p->p);
	snprintf(cells[6], CELL_LEN, "%.2g", p->q);
	if (isfinite(p->ins_ratio))
		snprintf(cells[7], CELL_LEN, "%.3f", p->ins_ratio);
	else
		snprintf(cells[7], CELL_LEN, "-");
	snprintf(cells[8], CELL_LEN, "%s -> %s", cli_fmt_ns(p->med_b, t1, sizeof(t1)),
	         cli_fmt_ns(p->med_c, t2, sizeof(t2)));
	snprintf(cells[9], CELL_LEN, "%s", norm_names[p->norm]);
}

static void plot_command(const struct cmp_pair *p, const struct cmp_run *cur, char *buf, size_t len)
{
	snprintf(
	    buf, len,
	    "attnbench plot --db %s --run %lld --methods %s --causal %d --mode %s --threads %d "
	    "--d %lld",
	    cur->path, (long long)cur->id, p->c->method, p->c->causal, p->c->mode, p->c->threads,
	    (long long)p->c->d);
}

/* A regression in time whose instruction count stayed within 1%. */
static int same_work(const struct cmp_pair *p)
{
	return p->v == ATTN_COMPARE_REGRESSED && isfinite(p->ins_ratio) &&
	       fabs(p->ins_ratio - 1) <= 0.01;
}

/*
 * What the test alone cannot see. Two things make a case look changed on a
 * shared machine without any change in the code, and the gate must not fail
 * on either (measured on this project's runner: in A/A pairs of the ci
 * preset single cases differ by up to 15% with tight CIs):
 *  - A process has a speed of its own (where its pages and buffers land in
 *    the caches, which CPU its interrupts hit): one case of a run can be
 *    several percent slow for its whole life. A change in the code moves a
 *    method at all its shapes.
 *  - Contention slows methods unlike sgemm: the probe tracks a machine that
 *    is slower as a whole, less well one whose memory another tenant is
 *    using.
 * So a flagged pair counts only when its method moved the same way at every
 * shape, each shape's ratio taken relative to the median ratio of all
 * methods measured in the same window (what the same machine state did to
 * the others): beyond the threshold at the median of its shapes and beyond
 * half the threshold at each. Otherwise it is ISOLATED, reported and not
 * gating. Where a shape's window ran at a speed 2.5 times off the
 * run's usual speed relative to the other run, no normalisation is trusted:
 * its pairs are UNRELIABLE.
 */
static int judge(struct cmp_pair *pairs, int n, int n_win, double threshold)
{
	double *v = malloc((size_t)(n ? n : 1) * sizeof(double));
	double *rel = malloc((size_t)(n ? n : 1) * sizeof(double));
	if (!v || !rel) {
		free(v);
		free(rel);
		return -1;
	}
	int m = 0;
	for (int i = 0; i < n; i++)
		if (pairs[i].norm == NORM_GROUP_ROOF)
			v[m++] = pairs[i].c->group_roof / pairs[i].b->group_roof;
	double usual = attn_stats_median_inplace(v, m);
	for (int i = 0; i < n; i++) {
		struct cmp_pair *p = &pairs[i];
		double speed = p->c->group_roof / p->b->group_roof / usual;
		if (p->norm == NORM_GROUP_ROOF && (speed > 2.5 || speed < 1 / 2.5))
			p->v = ATTN_COMPARE_UNRELIABLE;
	}
	/*
	 * Each pair's ratio relative to its window's median ratio (the ratio
	 * itself where the window holds fewer than three methods). A build that
	 * slows every method alike is therefore not judged here: on a shared
	 * machine it looks exactly like a neighbour's load, which the in-cache
	 * sgemm probe does not see (measured: whole runs 10-35% slower with the
	 * probe within 3%). The grid's median ratio is reported for it instead.
	 */
	for (int w = 0; w < n_win; w++) {
		int k = 0;
		for (int j = 0; j < n; j++)
			if (pairs[j].b->win == w)
				v[k++] = pairs[j].ratio;
		double med = k < 3 ? 1 : attn_stats_median_inplace(v, k);
		for (int j = 0; j < n; j++)
			if (pairs[j].b->win == w)
				rel[j] = pairs[j].ratio / med;
	}
	for (int i = 0; i < n; i++) {
		struct cmp_pair *p = &pairs[i];
		if (p->v != ATTN_COMPARE_REGRESSED && p->v != ATTN_COMPARE_IMPROVED)
			continue;
		int k = 0, all = 0;
		for (int j = 0; j < n; j++) {
			if (strcmp(pairs[j].b->method, p->b->method) ||
			    strcmp(pairs[j].b->params, p->b->params))
				continue;
			all++;
			if (pairs[j].v != ATTN_COMPARE_UNRELIABLE)
				v[k++] = rel[j];
		}
		double lo = INFINITY, hi = 0;
		for (int j = 0; j < k; j++)
			lo = fmin(lo, v[j]), hi = fmax(hi, v[j]);
		double med = attn_stats_median_inplace(v, k), half = 1 + threshold / 2;
		if (all > 1 && k < 2)
			p->v = ATTN_COMPARE_UNRELIABLE; /* nothing left to confirm it by */
		else if (p->v == ATTN_COMPARE_REGRESSED ? !(med > 1 + threshold && lo > half)
		                                        : !(med < 1 / (1 + threshold) && hi < 1 / half))
			p->v = ATTN_COMPARE_ISOLATED;
	}
	free(v);
	free(rel);
	return 0;
}

struct report {
	const struct cmp_run *base, *cur;
	struct cmp_pair *pairs;
	int n, n_reg, n_imp, n_iso, n_unrel, only_base, only_cur, n_norm[3];
	double grid, grid_raw; /* median ratio over all pairs, normalised and raw */
	double threshold, alpha;
	struct cmp_curve *curves;
	int n_curves;
	char curve_note[600], machine[600], build[2400];
};

static void summary_line(const struct report *r, char *buf, size_t len)
{
	snprintf(buf, len,
	         "compared %d cases: %d regressed, %d improved, %d unchanged, %d isolated, %d "
	         "unreliable (threshold %g%%, alpha %g, FDR by Benjamini–Hochberg)",
	         r->n, r->n_reg, r->n_imp, r->n - r->n_reg - r->n_imp - r->n_iso - r->n_unrel,
	         r->n_iso, r->n_unrel, 100 * r->threshold, r->alpha);
}

static void run_line(const char *role, const struct cmp_run *r, int md)
{
	printf("%s%s: %s run %lld (commit %.12s%s%s, started %s)%s\n", md ? "- " : "", role,
	       r->path, (long long)r->id, r->commit[0] ? r->commit : "?", r->host[0] ? " on " : "",
	       r->host, r->started, r->inject[0] ? " — a gate test" : "");
}

static void print_notes(const struct report *r, int md)
{
	const char *li = md ? "- " : "";
	printf("%snormalisation: %d by the sgemm probes of their window (roof_ns), %d by the "
	       "run's sgemm roof, %d raw; samples corrected by their round's speed where a "
	       "window holds three methods or more\n",
	       li, r->n_norm[NORM_GROUP_ROOF], r->n_norm[NORM_RUN_ROOF], r->n_norm[NORM_RAW]);
	printf("%sall cases together: median ratio %.3f normalised, %.3f as measured (a build "
	       "that moves every method alike is judged by these, not by the gate)\n",
	       li, r->grid, r->grid_raw);
	if (r->n_norm[NORM_RAW] && !r->base->any_roof_ns && !r->cur->any_roof_ns &&
	    !r->base->n_roofs && !r->cur->n_roofs)
		printf("%sneither run measured a roof: raw times are compared, and a machine that "
		       "is slower as a whole shows only in the median ratio of all cases\n",
		       li);
	printf("%sunmatched: %d cases only in the baseline, %d only in the current run\n", li,
	       r->only_base, r->only_cur);
	if (r->machine[0])
		printf("%sother machine (--allow-other-machine): %s\n", li, r->machine);
	if (r->build[0])
		printf("%sWARNING: other build (--allow-build-mismatch): %s; a change of the build "
		       "moves every case, so the ratios say as much about the build as about the "
		       "code\n",
		       li, r->build);
	const struct cmp_run *runs[2] = {r->base, r->cur};
	for (int i = 0; i < 2; i++)
		if (runs[i]->inject[0])
			printf("%snote: %s run %lld was a gate test: inject_slowdown=%s\n", li,
			       runs[i]->path, (long long)runs[i]->id, runs[i]->inject);
	for (int i = 0; i < r->n; i++) {
		const struct cmp_pair *p = &r->pairs[i];
		if (!same_work(p))
			continue;
		char shape[256];
		shape_text(p->c, shape, sizeof(shape));
		printf("%snote: %s %s %s is slower by time but executed the same instructions "
		       "(x%.3f): suspect the machine or memory behaviour before the code\n",
		       li, p->c->method, p->c->params, shape, p->ins_ratio);
	}
}

static void print_curves(const struct report *r, int md)
{
	if (r->curve_note[0])
		printf("%s%s\n", md ? "- " : "", r->curve_note);
	for (int i = 0; i < r->n_curves; i++) {
		const struct cmp_curve *c = &r->curves[i];
		printf("%s`%s`%s%s%s went from N^%.2f to N^%.2f (95%% CIs [%.2f, %.2f] and [%.2f, "
		       "%.2f]; %s)\n",
		       md ? "- " : "  ", c->method, c->params[0] ? " (" : "", c->params,
		       c->params[0] ? ")" : "", c->e_b, c->e_c, c->lo_b, c->hi_b, c->lo_c, c->hi_c,
		       c->family);
	}
}

static void print_table_of(const struct report *r, int verbose, int md)
{
	char(*cells)[COLS][CELL_LEN] = malloc((size_t)(r->n ? r->n : 1) * sizeof(*cells));
	if (!cells)
		return;
	int k = 0;
	for (int i = 0; i < r->n; i++)
		if (verbose || r->pairs[i].v != ATTN_COMPARE_UNCHANGED)
			pair_cells(&r->pairs[i], cells[k++]);
	if (k)
		cli_table_print(col_names, COLS, &cells[0][0][0], CELL_LEN, k, md);
	else
		printf("no case flagged\n");
	free(cells);
}

static void print_report(const struct report *r, int verbose, int md)
{
	char line[512];
	summary_line(r, line, sizeof(line));
	printf(md ? "**%s**\n\n" : "%s\n", line);
	run_line("baseline", r->base, md);
	run_line("current", r->cur, md);
	print_notes(r, md);
	putchar('\n');
	print_table_of(r, verbose, md);
	/* one line per figure, naming the flagged N it shows */
	int figs = 0;
	for (int i = 0; i < r->n; i++) {
		char cmd[1024], other[1024], ns[256] = "";
		if (r->pairs[i].v == ATTN_COMPARE_UNCHANGED)
			continue;
		plot_command(&r->pairs[i], r->cur, cmd, sizeof(cmd));
		int seen = 0;
		for (int j = 0; j < r->n && !seen; j++) {
			if (r->pairs[j].v == ATTN_COMPARE_UNCHANGED)
				continue;
			plot_command(&r->pairs[j], r->cur, other, sizeof(other));
			if (strcmp(cmd, other) != 0)
				continue;
			if (j < i) {
				seen = 1;
				continue;
			}
			const struct cmp_pair *p = &r->pairs[j];
			size_t l = strlen(ns);
			snprintf(ns + l, sizeof(ns) - l, "%sn=%lld %s x%.3f", l ? ", " : "",
			         (long long)p->c->n, attn_compare_verdict_name(p->v), p->ratio);
		}
		if (seen)
			continue;
		if (!figs++)
			printf("\nfigures to look at:\n%s", md ? "\n" : "");
		printf(md ? "- %s (%s): `%s`\n" : "  %s (%s):\n    %s\n", r->pairs[i].c->method, ns,
		       cmd);
	}
	if (r->n_curves || r->curve_note[0]) {
		printf("\ncurves whose exponent moved beyond its CI (reported, not gating):\n%s",
		       md ? "\n" : "");
		print_curves(r, md);
	}
}

static void json_run(const char *role, const struct cmp_run *r)
{
	printf("\"%s\": {\"path\": ", role);
	cli_json_str(stdout, r->path);
	printf(", \"run\": %lld, \"commit\": ", (long long)r->id);
	cli_json_str(stdout, r->commit);
	fputs(", \"cpu_model\": ", stdout);
	cli_json_str(stdout, r->cpu_model);
	fputs(", \"inject_slowdown\": ", stdout);
	cli_json_str(stdout, r->inject[0] ? r->inject : NULL);
	fputs("}", stdout);
}

static void print_json(const struct report *r)
{
	char line[512];
	summary_line(r, line, sizeof(line));
	fputs("{\"summary\": ", stdout);
	cli_json_str(stdout, line);
	printf(", \"compared\": %d, \"regressed\": %d, \"improved\": %d, \"unchanged\": %d, "
	       "\"isolated\": %d, \"unreliable\": %d",
	       r->n, r->n_reg, r->n_imp, r->n - r->n_reg - r->n_imp - r->n_iso - r->n_unrel,
	       r->n_iso, r->n_unrel);
	cli_json_real(stdout, "threshold", r->threshold);
	cli_json_real(stdout, "grid_ratio", r->grid);
	cli_json_real(stdout, "grid_ratio_raw", r->grid_raw);
	cli_json_real(stdout, "alpha", r->alpha);
	printf(", \"fdr\": \"benjamini-hochberg\",\n ");
	json_run("baseline", r->base);
	fputs(",\n ", stdout);
	json_run("current", r->cur);
	printf(",\n \"normalisation\": {\"roof_ns\": %d, \"sgemm\": %d, \"raw\": %d}", r->n_norm[0],
	       r->n_norm[1], r->n_norm[2]);
	printf(", \"unmatched_baseline\": %d, \"unmatched_current\": %d, \"other_machine\": ",
	       r->only_base, r->only_cur);
	cli_json_str(stdout, r->machine[0] ? r->machine : NULL);
	fputs(", \"build_mismatch\": ", stdout);
	cli_json_str(stdout, r->build[0] ? r->build : NULL);
	fputs(",\n \"cases\": [", stdout);
	for (int i = 0; i < r->n; i++) {
		const struct cmp_pair *p = &r->pairs[i];
		char shape[256], cmd[1024];
		shape_text(p->c, shape, sizeof(shape));
		plot_command(p, r->cur, cmd, sizeof(cmd));
		printf("%s\n  {\"verdict\": \"%s\", \"method\": ", i ? "," : "",
		       attn_compare_verdict_name(p->v));
		cli_json_str(stdout, p->c->method);
		fputs(", \"params\": ", stdout);
		cli_json_str(stdout, p->c->params);
		fputs(", \"shape\": ", stdout);
		cli_json_str(stdout, shape);
		printf(
		    ", \"n\": %lld, \"d\": %lld, \"causal\": %d, \"mode\": \"%s\", \"threads\": %d",
		    (long long)p->c->n, (long long)p->c->d, p->c->causal, p->c->mode,
		    p->c->threads);
		cli_json_real(stdout, "ratio", p->ratio);
		cli_json_real(stdout, "ci_lo", p->lo);
		cli_json_real(stdout, "ci_hi", p->hi);
		cli_json_real(stdout, "p", p->p);
		cli_json_real(stdout, "q", p->q);
		printf(", \"exact\": %s", p->exact ? "true" : "false");
		cli_json_real(stdout, "instructions_ratio", p->ins_ratio);
		cli_json_real(stdout, "baseline_median_ns", p->med_b);
		cli_json_real(stdout, "current_median_ns", p->med_c);
		printf(", \"normalisation\": \"%s\", \"same_instructions\": %s, \"plot\": ",
		       norm_names[p->norm], same_work(p) ? "true" : "false");
		cli_json_str(stdout, cmd);
		fputs("}", stdout);
	}
	fputs("],\n \"curves\": [", stdout);
	for (int i = 0; i < r->n_curves; i++) {
		const struct cmp_curve *c = &r->curves[i];
		printf("%s\n  {\"method\": ", i ? "," : "");
		cli_json_str(stdout, c->method);
		fputs(", \"params\": ", stdout);
		cli_json_str(stdout, c->params);
		fputs(", \"family\": ", stdout);
		cli_json_str(stdout, c->family);
		cli_json_real(stdout, "baseline_exponent", c->e_b);
		cli_json_real(stdout, "baseline_ci_lo", c->lo_b);
		cli_json_real(stdout, "baseline_ci_hi", c->hi_b);
		cli_json_real(stdout, "current_exponent", c->e_c);
		cli_json_real(stdout, "current_ci_lo", c->lo_c);
		cli_json_real(stdout, "current_ci_hi", c->hi_c);
		fputs("}", stdout);
	}
	fputs("], \"curves_note\": ", stdout);
	cli_json_str(stdout, r->curve_note[0] ? r->curve_note : NULL);
	puts("}");
}

/* ---- the verb ------------------------------------------------------------------- */

/* "5%" or "0.05" as a fraction; -1 on error. */
static int parse_threshold(const char *text, double *out)
{
	char buf[64];
	size_t l = strlen(text);
	int pct = l > 0 && text[l - 1] == '%';
	if (l >= sizeof(buf) || l == (size_t)pct)
		return -1;
	snprintf(buf, sizeof(buf), "%.*s", (int)(l - (size_t)pct), text);
	if (cli_parse_real(buf, out))
		return -1;
	if (pct)
		*out /= 100;
	return *out < 10 ? 0 : -1;
}

/* Pair the cases of the two sorted runs; the pairs are malloc'd. */
static struct cmp_pair *match(const struct cmp_run *a, const struct cmp_run *b, int *n, int *only_a,
                              int *only_b)
{
	struct cmp_pair *p = malloc((size_t)(a->n ? a->n : 1) * sizeof(*p));
	*n = *only_a = *only_b = 0;
	if (!p)
		return NULL;
	int i = 0, j = 0;
	while (i < a->n || j < b->n) {
		int c = i >= a->n ? 1 : j >= b->n ? -1 : cmp_case_order(&a->c[i], &b->c[j]);
		if (c < 0) {
			i++, (*only_a)++;
		} else if (c > 0) {
			j++, (*only_b)++;
		} else {
			memset(&p[*n], 0, sizeof(*p));
			p[*n].b = &a->c[i++];
			p[(*n)++].c = &b->c[j++];
		}
	}
	return p;
}

int cmd_compare(int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, 0, 'h'},
	                                     {"baseline", required_argument, 0, 'b'},
	                                     {"current", required_argument, 0, 'c'},
	                                     {"baseline-run", required_argument, 0, 'B'},
	                                     {"current-run", required_argument, 0, 'C'},
	                                     {"threshold", required_argument, 0, 't'},
	                                     {"alpha", required_argument, 0, 'a'},
	                                     {"format", required_argument, 0, 'f'},
	                                     {"verbose", no_argument, 0, 'v'},
	                                     {"allow-other-machine", no_argument, 0, 'M'},
	                                     {"allow-build-mismatch", no_argument, 0, 'A'},
	                                     {0, 0, 0, 0}};
	struct cmp_run base = {0}, cur = {0};
	const char *format = "text";
	double threshold = 0.05, alpha = 0.05;
	int verbose = 0, other_machine = 0, other_build = 0, c;
	long id;
	while ((c = getopt_long(argc, argv, "hb:c:B:C:t:a:f:vMA", opts, NULL)) != -1) {
		switch (c) {
		case 'h': printf("%s", help_text); return EXIT_OK;
		case 'b': base.path = optarg; break;
		case 'c': cur.path = optarg; break;
		case 'B':
		case 'C':
			if (cli_parse_int(optarg, 1, 0x7fffffffL, &id)) {
				cli_error("compare", "--%s-run '%s': expected a run id (>= 1)",
				          c == 'B' ? "baseline" : "current", optarg);
				return EXIT_USAGE;
			}
			(c == 'B' ? &base : &cur)->id = id;
			break;
		case 't':
			if (parse_threshold(optarg, &threshold)) {
				cli_error("compare",
				          "--threshold '%s': expected a percentage (5%%) or "
				          "a fraction (0.05)",
				          optarg);
				return EXIT_USAGE;
			}
			break;
		case 'a':
			if (cli_parse_real(optarg, &alpha) || !(alpha > 0 && alpha < 1)) {
				cli_error("compare", "--alpha '%s': expected a number in (0, 1)",
				          optarg);
				return EXIT_USAGE;
			}
			break;
		case 'f': format = optarg; break;
		case 'v': verbose = 1; break;
		case 'M': other_machine = 1; break;
		case 'A': other_build = 1; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_error("compare", "unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (!base.path || !cur.path) {
		cli_error("compare", "--baseline FILE and --current FILE are required");
		return EXIT_USAGE;
	}
	enum cmp_format fmt = strcmp(format, "text") == 0       ? FORMAT_TEXT
	                      : strcmp(format, "markdown") == 0 ? FORMAT_MARKDOWN
	                      : strcmp(format, "json") == 0     ? FORMAT_JSON
	                                                        : (enum cmp_format) - 1;
	if ((int)fmt < 0) {
		cli_error("compare", "--format '%s': expected text, markdown or json", format);
		return EXIT_USAGE;
	}

	struct report r = {.base = &base, .cur = &cur, .threshold = threshold, .alpha = alpha};
	int rc = load_run("baseline", &base);
	if (rc == EXIT_OK)
		rc = load_run("current", &cur);
	if (rc == EXIT_OK && (group_roofs(&base) || group_roofs(&cur) || peer_rounds(&base) ||
	                      peer_rounds(&cur))) {
		cli_error("compare", "out of memory");
		rc = EXIT_USAGE;
	}
	if (rc == EXIT_OK) {
		machine_diff(&base, &cur, r.machine, sizeof(r.machine));
		if (r.machine[0] && !other_machine) {
			cli_error("compare",
			          "the runs are from different machines (%s); compare runs of one "
			          "machine class, or pass --allow-other-machine",
			          r.machine);
			rc = EXIT_USAGE;
		}
	}
	if (rc == EXIT_OK) {
		build_diff(&base, &cur, r.build, sizeof(r.build));
		if (r.build[0] && !other_build) {
			cli_error("compare",
			          "the runs were built differently (%s); a Debug or sanitizer "
			          "build is slower for reasons that are not the code's: compare "
			          "builds of one configuration, or pass --allow-build-mismatch",
			          r.build);
			rc = EXIT_USAGE;
		} else if (r.build[0]) {
			cli_error("compare",
			          "WARNING: comparing runs built differently (%s), as "
			          "--allow-build-mismatch asks: every ratio carries the build's "
			          "difference",
			          r.build);
		}
	}
	if (rc == EXIT_OK) {
		r.pairs = match(&base, &cur, &r.n, &r.only_base, &r.only_cur);
		if (!r.pairs || r.n == 0) {
			cli_error(
			    "compare",
			    "no matching cases: baseline run %lld has %d ok cases, current run "
			    "%lld has %d, none alike in method, params and shape",
			    (long long)base.id, base.n, (long long)cur.id, cur.n);
			rc = EXIT_USAGE;
		}
	}
	double *pv = NULL, *qv = NULL;
	if (rc == EXIT_OK) {
		pv = malloc((size_t)r.n * sizeof(double));
		qv = malloc((size_t)r.n * sizeof(double));
		int oom = !pv || !qv;
		for (int i = 0; !oom && i < r.n; i++) {
			oom = test_pair(&r.pairs[i], &base, &cur);
			pv[i] = r.pairs[i].p;
		}
		if (oom || attn_compare_bh(pv, r.n, qv) != ATTN_OK) {
			cli_error("compare", "out of memory");
			rc = EXIT_USAGE;
		}
	}
	if (rc == EXIT_OK) {
		for (int i = 0; i < r.n; i++) {
			struct cmp_pair *p = &r.pairs[i];
			p->q = qv[i];
			p->v = attn_compare_verdict(p->ratio, p->q, alpha, threshold);
			r.n_norm[p->norm]++;
		}
		if (judge(r.pairs, r.n, base.n_win, threshold)) {
			cli_error("compare", "out of memory");
			rc = EXIT_USAGE;
		}
		double *g = malloc((size_t)(2 * r.n) * sizeof(double));
		if (g) {
			for (int i = 0; i < r.n; i++) {
				g[i] = r.pairs[i].ratio;
				g[r.n + i] = r.pairs[i].med_c / r.pairs[i].med_b;
			}
			r.grid = attn_stats_median_inplace(g, r.n);
			r.grid_raw = attn_stats_median_inplace(g + r.n, r.n);
			free(g);
		}
		for (int i = 0; i < r.n; i++) {
			r.n_reg += r.pairs[i].v == ATTN_COMPARE_REGRESSED;
			r.n_imp += r.pairs[i].v == ATTN_COMPARE_IMPROVED;
			r.n_iso += r.pairs[i].v == ATTN_COMPARE_ISOLATED;
			r.n_unrel += r.pairs[i].v == ATTN_COMPARE_UNRELIABLE;
		}
	}
	if (rc == EXIT_OK) {
		r.n_curves =
		    curve_moves(&base, &cur, &r.curves, r.curve_note, sizeof(r.curve_note));
		if (fmt == FORMAT_JSON)
			print_json(&r);
		else
			print_report(&r, verbose, fmt == FORMAT_MARKDOWN);
		rc = r.n_reg ? EXIT_CASES : EXIT_OK;
	}
	free(pv);
	free(qv);
	free(r.pairs);
	free(r.curves);
	free_run(&base);
	free_run(&cur);
	return rc;
}
