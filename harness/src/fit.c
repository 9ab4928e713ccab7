/*
 * Fits and crossovers over a run's stored samples (see fit.h): the time
 * exponent with a bootstrap CI, the non-negative four-term model and the
 * crossover against `flash`. Statistics first, then a run's curves: its ok
 * cases and samples come from the query layer (query/charts.c), the rows
 * go to the `fits` table through the store.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/fit.h"
#include "attnbench/query.h"
#include "attnbench/stats.h"
#include "attnbench/status.h"
#include "internal.h"

/* ---- resampling ------------------------------------------------------------ */
/* (splitmix64, resampled medians and quantiles are shared: stats.c) */

static int max_samples(const struct attn_fit_point *pts, int m)
{
	int k = 0;
	for (int i = 0; i < m; i++)
		k = pts[i].n_samples > k ? pts[i].n_samples : k;
	return k;
}

/* medians of every point, fresh (rng NULL) or of one resample */
static void point_medians(const struct attn_fit_point *pts, int m, double *med, double *buf,
                          uint64_t *rng)
{
	for (int i = 0; i < m; i++) {
		if (rng) {
			med[i] = attn__resample_median(pts[i].ns, pts[i].n_samples, buf, rng);
		} else {
			memcpy(buf, pts[i].ns, (size_t)pts[i].n_samples * sizeof(*buf));
			med[i] = attn_stats_median_inplace(buf, pts[i].n_samples);
		}
	}
}

static int check_points(const struct attn_fit_point *pts, int m)
{
	if (!pts || m < 2)
		return ATTN_ERR_INVALID;
	for (int i = 0; i < m; i++)
		if (!pts[i].ns || pts[i].n_samples < 1 || !(pts[i].n > 0))
			return ATTN_ERR_INVALID;
	return ATTN_OK;
}

/* ---- the exponent ------------------------------------------------------------ */

int attn_fit_exponent(const struct attn_fit_point *pts, int m, int n_boot, uint64_t seed,
                      double *exponent, double *ci_lo, double *ci_hi)
{
	*exponent = *ci_lo = *ci_hi = NAN;
	int rc = check_points(pts, m);
	if (rc || n_boot < 1)
		return rc ? rc : ATTN_ERR_INVALID;
	int k = max_samples(pts, m);
	/* one allocation: x (m), medians (m), a resample (k), the slopes (n_boot) */
	double *x = malloc((size_t)(2 * m + k + n_boot) * sizeof(double));
	if (!x)
		return ATTN_ERR_NOMEM;
	double *med = x + m, *buf = med + m, *slope = buf + k;
	for (int i = 0; i < m; i++)
		x[i] = pts[i].n;
	point_medians(pts, m, med, buf, NULL);
	*exponent = attn_stats_loglog_slope(x, med, m, NULL);
	uint64_t rng = seed;
	int ok = 0;
	for (int r = 0; r < n_boot; r++) {
		point_medians(pts, m, med, buf, &rng);
		double s = attn_stats_loglog_slope(x, med, m, NULL);
		if (isfinite(s))
			slope[ok++] = s;
	}
	*ci_lo = attn__quantile_inplace(slope, ok, 0.025);
	*ci_hi = attn__quantile_inplace(slope, ok, 0.975);
	free(x);
	return ATTN_OK;
}

/* ---- the four-term model by non-negative least squares --------------------- */

static void model_columns(double n, double col[ATTN_FIT_TERMS])
{
	col[ATTN_FIT_TERM_N2] = n * n;
	col[ATTN_FIT_TERM_NLOGN] = n * log(n);
	col[ATTN_FIT_TERM_N] = n;
	col[ATTN_FIT_TERM_CONST] = 1;
}

#define MAX_ROWS 256
#define NC       ATTN_FIT_TERMS

/*
 * Unconstrained least squares on the columns in `use` of A (m x NC,
 * row-major): Householder QR of the chosen columns, then back substitution.
 * z gets the solution, 0 outside `use`.
 */
static void ls_subset(const double *A, const double *b, int m, const int *use, double *z)
{
	double Q[MAX_ROWS * NC], y[MAX_ROWS];
	int cols[NC], k = 0;
	for (int j = 0; j < NC; j++)
		if (use[j])
			cols[k++] = j;
	for (int i = 0; i < m; i++) {
		y[i] = b[i];
		for (int c = 0; c < k; c++)
			Q[i * NC + c] = A[i * NC + cols[c]];
	}
	for (int c = 0; c < k && c < m; c++) {
		/* reflect column c below the diagonal onto e_c: v = x + sign(x_c)|x| e_c */
		double norm = 0;
		for (int i = c; i < m; i++)
			norm += Q[i * NC + c] * Q[i * NC + c];
		norm = sqrt(norm);
		if (norm == 0)
			continue;
		double alpha = Q[c * NC + c] > 0 ? -norm : norm;
		double v[MAX_ROWS], vv = 0;
		for (int i = c; i < m; i++)
			v[i] = Q[i * NC + c] - (i == c ? alpha : 0);
		for (int i = c; i < m; i++)
			vv += v[i] * v[i];
		if (vv == 0)
			continue;
		for (int cc = c; cc < k; cc++) {
			double dot = 0;
			for (int i = c; i < m; i++)
				dot += v[i] * Q[i * NC + cc];
			for (int i = c; i < m; i++)
				Q[i * NC + cc] -= 2 * dot / vv * v[i];
		}
		double dot = 0;
		for (int i = c; i < m; i++)
			dot += v[i] * y[i];
		for (int i = c; i < m; i++)
			y[i] -= 2 * dot / vv * v[i];
	}
	double sol[NC] = {0};
	for (int c = (k < m ? k : m) - 1; c >= 0; c--) {
		double s = y[c];
		for (int cc = c + 1; cc < k && cc < m; cc++)
			s -= Q[c * NC + cc] * sol[cc];
		double r = Q[c * NC + c];
		sol[c] = fabs(r) > 1e-14 ? s / r : 0;
	}
	for (int j = 0; j < NC; j++)
		z[j] = 0;
	for (int c = 0; c < k; c++)
		z[cols[c]] = sol[c];
}

/* the gradient w = A^T (b - A x) */
static void nnls_gradient(const double *A, const double *b, int m, const double *x, double *w)
{
	for (int j = 0; j < NC; j++)
		w[j] = 0;
	for (int i = 0; i < m; i++) {
		double r = b[i];
		for (int j = 0; j < NC; j++)
			r -= A[i * NC + j] * x[j];
		for (int j = 0; j < NC; j++)
			w[j] += A[i * NC + j] * r;
	}
}

int attn_fit_nnls(const double *n, const double *t, int m, double coef[ATTN_FIT_TERMS])
{
	for (int j = 0; j < NC; j++)
		coef[j] = 0;
	/* fewer points than terms: the terms are not determined, no split is meaningful */
	if (!n || !t || m < NC || m > MAX_ROWS)
		return ATTN_ERR_INVALID;
	/*
	 * Rows divided by t_i (relative residuals, b = 1), columns scaled to a
	 * largest entry of 1: N² and 1 differ by 10^9 and more, and unscaled the
	 * active-set tests would compare numbers of unrelated size.
	 */
	double A[MAX_ROWS * NC], b[MAX_ROWS], scale[NC] = {0};
	for (int i = 0; i < m; i++) {
		if (!(t[i] > 0) || !(n[i] > 0))
			return ATTN_ERR_INVALID;
		model_columns(n[i], A + i * NC);
		b[i] = 1;
		for (int j = 0; j < NC; j++) {
			A[i * NC + j] /= t[i];
			scale[j] = fmax(scale[j], fabs(A[i * NC + j]));
		}
	}
	for (int i = 0; i < m; i++)
		for (int j = 0; j < NC; j++)
			A[i * NC + j] /= scale[j] > 0 ? scale[j] : 1;

	/*
	 * Lawson–Hanson: grow the passive set P by the column with the largest
	 * positive gradient; solve least squares on P; if a coefficient would go
	 * negative, step back along the segment to the boundary and drop the
	 * columns that reached 0.
	 */
	double x[NC] = {0}, z[NC], w[NC];
	int P[NC] = {0};
	const double tol = 1e-10 * m;
	for (int outer = 0; outer < 3 * NC; outer++) {
		nnls_gradient(A, b, m, x, w);
		int jmax = -1;
		for (int j = 0; j < NC; j++)
			if (!P[j] && w[j] > tol && (jmax < 0 || w[j] > w[jmax]))
				jmax = j;
		if (jmax < 0)
			break;
		P[jmax] = 1;
		for (int inner = 0; inner < 3 * NC; inner++) {
			ls_subset(A, b, m, P, z);
			int feasible = 1;
			for (int j = 0; j < NC; j++)
				if (P[j] && z[j] <= 0)
					feasible = 0;
			if (feasible) {
				memcpy(x, z, sizeof(x));
				break;
			}
			double alpha = 1;
			for (int j = 0; j < NC; j++)
				if (P[j] && z[j] <= 0 && x[j] - z[j] > 0)
					alpha = fmin(alpha, x[j] / (x[j] - z[j]));
			for (int j = 0; j < NC; j++) {
				x[j] += alpha * (z[j] - x[j]);
				if (P[j] && x[j] <= 1e-15) {
					P[j] = 0;
					x[j] = 0;
				}
			}
		}
	}
	for (int j = 0; j < NC; j++)
		coef[j] = scale[j] > 0 ? x[j] / scale[j] : 0;
	return ATTN_OK;
}

int attn_fit_shares(const double coef[ATTN_FIT_TERMS], double n, double share[ATTN_FIT_TERMS])
{
	double col[NC], total = 0;
	model_columns(n, col);
	for (int j = 0; j < NC; j++)
		total += share[j] = coef[j] * col[j];
	int best = 0;
	for (int j = 0; j < NC; j++) {
		share[j] = total > 0 ? share[j] / total : NAN;
		if (share[j] > share[best])
			best = j;
	}
	return best;
}

const char *attn_fit_term_name(int term)
{
	static const char *const names[NC] = {"N^2", "N log N", "N", "const"};
	return term >= 0 && term < NC ? names[term] : "?";
}

/* ---- the crossover ------------------------------------------------------------ */

/*
 * The last sign change of ln(t/ref) over increasing n, interpolated
 * linearly in (ln n, ln ratio): ln N* = ln n_i + (ln n_{i+1} - ln n_i) ·
 * r_i / (r_i - r_{i+1}).
 */
static enum attn_fit_cross cross_point(const double *n, const double *t, const double *ref, int m,
                                       double *n_star)
{
	*n_star = NAN;
	int faster = 0;
	for (int i = 0; i < m; i++)
		faster += t[i] < ref[i];
	if (faster == m)
		return ATTN_FIT_CROSS_ALWAYS_FASTER;
	if (faster == 0)
		return ATTN_FIT_CROSS_NEVER;
	/*
	 * The last change of side: where the curves meet at small N, where a
	 * sparse method still keeps every block and equals flash, noise can
	 * change sides there too, and what a user asks is where it stays.
	 */
	for (int i = m - 2; i >= 0; i--) {
		double r0 = log(t[i] / ref[i]), r1 = log(t[i + 1] / ref[i + 1]);
		if ((r0 >= 0) == (r1 >= 0))
			continue;
		double l0 = log(n[i]), l1 = log(n[i + 1]);
		*n_star = exp(l0 + (l1 - l0) * r0 / (r0 - r1));
		return r0 >= 0 ? ATTN_FIT_CROSS_FASTER_ABOVE : ATTN_FIT_CROSS_SLOWER_ABOVE;
	}
	return ATTN_FIT_CROSS_NEVER; /* unreachable: some faster, some not */
}

int attn_fit_cross(const struct attn_fit_point *pts, const struct attn_fit_point *ref, int m,
                   int n_boot, uint64_t seed, struct attn_fit_crossover *out)
{
	memset(out, 0, sizeof(*out));
	out->n_star = out->ci_lo = out->ci_hi = NAN;
	int rc = check_points(pts, m);
	if (rc || (rc = check_points(ref, m)) || n_boot < 1)
		return rc ? rc : ATTN_ERR_INVALID;
	for (int i = 0; i < m; i++)
		if (pts[i].n != ref[i].n || (i && pts[i].n <= pts[i - 1].n))
			return ATTN_ERR_INVALID;
	int k = max_samples(pts, m), kr = max_samples(ref, m);
	k = kr > k ? kr : k;
	double *x = malloc((size_t)(3 * m + k + n_boot) * sizeof(double));
	if (!x)
		return ATTN_ERR_NOMEM;
	double *t = x + m, *tr = t + m, *buf = tr + m, *cx = buf + k;
	for (int i = 0; i < m; i++)
		x[i] = pts[i].n;
	point_medians(pts, m, t, buf, NULL);
	point_medians(ref, m, tr, buf, NULL);
	out->kind = cross_point(x, t, tr, m, &out->n_star);
	out->n_boot = n_boot;
	int crossing =
	    out->kind == ATTN_FIT_CROSS_FASTER_ABOVE || out->kind == ATTN_FIT_CROSS_SLOWER_ABOVE;
	if (crossing) {
		uint64_t rng = seed;
		int ok = 0;
		for (int r = 0; r < n_boot; r++) {
			point_medians(pts, m, t, buf, &rng);
			point_medians(ref, m, tr, buf, &rng);
			double ns;
			if (cross_point(x, t, tr, m, &ns) == out->kind)
				cx[ok++] = ns;
		}
		out->n_no_cross = n_boot - ok;
		out->ci_lo = attn__quantile_inplace(cx, ok, 0.025);
		out->ci_hi = attn__quantile_inplace(cx, ok, 0.975);
	}
	free(x);
	return ATTN_OK;
}

/* ---- a run's curves ------------------------------------------------------------ */

/* One ok case: its curve's identity, its N and its samples. */
struct fit_case {
	char method[64], params[256], family[256];
	double n;
	double *ns;
	int k;
};

static int same_curve(const struct fit_case *a, const struct fit_case *b)
{
	return strcmp(a->method, b->method) == 0 && strcmp(a->params, b->params) == 0 &&
	       strcmp(a->family, b->family) == 0;
}

static void free_cases(struct fit_case *c, int n)
{
	for (int i = 0; i < n; i++)
		free(c[i].ns);
	free(c);
}

/* Gathers the run's cases into curves as the query layer hands them over. */
struct load_ctx {
	struct fit_case *v;
	int n;
};

static int load_case(void *ctx, const struct attn_query_fit_case *qc)
{
	struct load_ctx *l = ctx;
	struct fit_case fc = {0};
	snprintf(fc.method, sizeof(fc.method), "%s", qc->method);
	snprintf(fc.params, sizeof(fc.params), "%s", qc->params);
	snprintf(fc.family, sizeof(fc.family), "d=%lld h=%lld/%lld b=%lld %s %s t=%d %s",
	         (long long)qc->d, (long long)qc->heads, (long long)qc->kv_heads,
	         (long long)qc->batch, qc->causal ? "causal" : "full", qc->mode, qc->threads,
	         qc->dist);
	fc.n = (double)qc->n;
	struct fit_case *dst = l->n && same_curve(&l->v[l->n - 1], &fc) && l->v[l->n - 1].n == fc.n
	                           ? &l->v[l->n - 1]
	                           : NULL;
	if (!dst) {
		struct fit_case *nv = realloc(l->v, (size_t)(l->n + 1) * sizeof(*l->v));
		if (!nv)
			return ATTN_ERR_NOMEM;
		l->v = nv;
		dst = &l->v[l->n++];
		*dst = fc;
	}
	if (qc->n_samples > 0) {
		double *ns = realloc(dst->ns, (size_t)(dst->k + qc->n_samples) * sizeof(double));
		if (!ns)
			return ATTN_ERR_NOMEM;
		dst->ns = ns;
		memcpy(dst->ns + dst->k, qc->samples, (size_t)qc->n_samples * sizeof(double));
		dst->k += qc->n_samples;
	}
	return ATTN_OK;
}

/*
 * The run's ok cases, ordered by curve then N; cases of one curve at the same
 * N (a resumed sweep) have their samples pooled.
 */
static int load_cases(struct attn_store *st, int64_t run, struct fit_case **out, int *n_out,
                      char *err, size_t errlen)
{
	struct load_ctx l = {NULL, 0};
	*out = NULL;
	*n_out = 0;
	int rc = attn_query_fit_cases(st, run, load_case, &l, err, errlen);
	if (rc) {
		free_cases(l.v, l.n);
		return rc == ATTN_ERR_NOMEM
		           ? attn_errf(err, errlen, rc, "out of memory reading run %lld",
		                       (long long)run)
		           : rc;
	}
	*out = l.v;
	*n_out = l.n;
	return ATTN_OK;
}

/* Fill a row's exponent and model from its curve's points. */
static void fit_curve(struct attn_fit_row *row, const struct fit_case *pc, int m, int min_points,
                      int n_boot, uint64_t seed)
{
	struct attn_fit_point pts[MAX_ROWS];
	double n[MAX_ROWS], t[MAX_ROWS];
	row->n_points = m;
	row->n_min = pc[0].n;
	row->n_max = pc[m - 1].n;
	row->exponent = row->ci_lo = row->ci_hi = NAN;
	for (int j = 0; j < NC; j++)
		row->coef[j] = row->share[j] = NAN;
	row->dominant = -1;
	if (m < min_points || m < 2 || m > MAX_ROWS) {
		snprintf(row->note, sizeof(row->note), "%d points (fewer than %d): not fitted", m,
		         min_points < 2 ? 2 : min_points);
		return;
	}
	for (int i = 0; i < m; i++) {
		pts[i] = (struct attn_fit_point){pc[i].n, pc[i].ns, pc[i].k};
		n[i] = pc[i].n;
	}
	double *buf = malloc((size_t)max_samples(pts, m) * sizeof(double));
	if (!buf) {
		snprintf(row->note, sizeof(row->note), "out of memory: not fitted");
		return;
	}
	point_medians(pts, m, t, buf, NULL);
	free(buf);
	attn_fit_exponent(pts, m, n_boot, seed, &row->exponent, &row->ci_lo, &row->ci_hi);
	if (m < NC) {
		snprintf(row->note, sizeof(row->note),
		         "%d points, fewer than the model's %d terms: no dominant term", m, NC);
		return;
	}
	if (attn_fit_nnls(n, t, m, row->coef) == ATTN_OK)
		row->dominant = attn_fit_shares(row->coef, row->n_max, row->share);
}

/* The crossover of a curve against the reference curve, over their common N. */
static void fit_cross(struct attn_fit_row *row, const struct fit_case *pc, int m,
                      const struct fit_case *rc, int mr, int n_boot, uint64_t seed)
{
	struct attn_fit_point a[MAX_ROWS], b[MAX_ROWS];
	int k = 0;
	for (int i = 0, j = 0; i < m && j < mr && k < MAX_ROWS;) {
		if (pc[i].n < rc[j].n) {
			i++;
		} else if (pc[i].n > rc[j].n) {
			j++;
		} else {
			a[k] = (struct attn_fit_point){pc[i].n, pc[i].ns, pc[i].k};
			b[k++] = (struct attn_fit_point){rc[j].n, rc[j].ns, rc[j].k};
			i++, j++;
		}
	}
	const size_t at = strlen(row->note), left = sizeof(row->note) - at;
	const char *sep = at ? "; " : "";
	if (k < 2) {
		snprintf(row->note + at, left, "%sflash measured at %d common N: no crossover", sep,
		         k);
		return;
	}
	attn_fit_cross(a, b, k, n_boot, seed, &row->cross);
	if (row->cross.n_no_cross > 0)
		snprintf(row->note + at, left, "%s%d of %d resamples do not cross", sep,
		         row->cross.n_no_cross, row->cross.n_boot);
}

int attn_fit_run(struct attn_store *st, int64_t run_id, const char *const *methods, int n_methods,
                 int min_points, int n_boot, uint64_t seed, int64_t *used_run,
                 struct attn_fit_row **rows, int *n_rows, char *err, size_t errlen)
{
	*rows = NULL;
	*n_rows = 0;
	int64_t run = run_id;
	if (run == 0) {
		int rc = attn_query_newest_run(st, &run, err, errlen);
		if (rc == ATTN_OK && run <= 0)
			return attn_errf(err, errlen, ATTN_ERR_NOTFOUND,
			                 "the database holds no runs (nothing to fit)");
		if (rc)
			return rc;
	} else {
		int exists, rc = attn_query_run_exists(st, run, &exists, err, errlen);
		if (rc == ATTN_OK && !exists)
			return attn_errf(err, errlen, ATTN_ERR_NOTFOUND,
			                 "no run %lld in the database", (long long)run);
		if (rc)
			return rc;
	}
	/* The run stands for its set (a merged sweep's shards): any shard's id fits the same. */
	int rc = attn_query_run_set_head(st, run, &run, err, errlen);
	if (rc)
		return rc;
	*used_run = run;
	struct fit_case *c;
	int nc;
	rc = load_cases(st, run, &c, &nc, err, errlen);
	if (rc)
		return rc;
	if (nc == 0) {
		free(c);
		return attn_errf(err, errlen, ATTN_ERR_NOTFOUND,
		                 "run %lld has no ok cases (nothing to fit)", (long long)run);
	}
	for (int i = 0; i < n_methods; i++) {
		int found = 0;
		for (int j = 0; j < nc && !found; j++)
			found = strcmp(c[j].method, methods[i]) == 0;
		if (!found) {
			free_cases(c, nc);
			return attn_errf(err, errlen, ATTN_ERR_NOTFOUND,
			                 "method '%s' has no ok cases in run %lld", methods[i],
			                 (long long)run);
		}
	}
	struct attn_fit_row *out = calloc((size_t)nc, sizeof(*out));
	if (!out) {
		free_cases(c, nc);
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory");
	}
	int nr = 0;
	for (int i = 0, e; i < nc; i = e) {
		for (e = i + 1; e < nc && same_curve(&c[i], &c[e]);)
			e++;
		int wanted = n_methods == 0;
		for (int k = 0; k < n_methods && !wanted; k++)
			wanted = strcmp(c[i].method, methods[k]) == 0;
		if (!wanted)
			continue;
		struct attn_fit_row *row = &out[nr++];
		snprintf(row->method, sizeof(row->method), "%s", c[i].method);
		snprintf(row->params, sizeof(row->params), "%s", c[i].params);
		snprintf(row->family, sizeof(row->family), "%s", c[i].family);
		fit_curve(row, c + i, e - i, min_points, n_boot, seed);
		row->cross.kind = ATTN_FIT_CROSS_NONE;
		row->cross.n_star = row->cross.ci_lo = row->cross.ci_hi = NAN;
		if (strcmp(c[i].method, "flash") == 0)
			continue;
		/* the first flash curve of the same family is the reference */
		int r = -1, re;
		for (int j = 0; j < nc && r < 0; j++)
			if (strcmp(c[j].method, "flash") == 0 &&
			    strcmp(c[j].family, c[i].family) == 0)
				r = j;
		if (r < 0)
			continue;
		for (re = r + 1; re < nc && same_curve(&c[r], &c[re]);)
			re++;
		fit_cross(row, c + i, e - i, c + r, re - r, n_boot, seed);
	}
	free_cases(c, nc);
	*rows = out;
	*n_rows = nr;
	return ATTN_OK;
}
