/*
 * The regression gate's statistics (see compare.h): the Mann–Whitney U
 * test, Benjamini–Hochberg q-values, the bootstrap CI of a ratio of medians
 * and the verdict that combines them. Rank tests suit timings: they ask
 * whether one sample tends to be larger than the other without assuming a
 * distribution, and a few slow outliers move them no more than any other
 * sample does.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/compare.h"
#include "attnbench/stats.h"
#include "attnbench/status.h"
#include "internal.h"

/* ---- Mann–Whitney U ---------------------------------------------------------- */

/* A value and what it belongs to (its sample, its index), sorted by value. */
struct tagged {
	double v;
	int tag;
};

static int cmp_tagged(const void *a, const void *b)
{
	double x = ((const struct tagged *)a)->v, y = ((const struct tagged *)b)->v;
	return (x > y) - (x < y);
}

/*
 * P(U <= u) for untied samples of sizes n and m, where U counts the pairs
 * (x, y) with x > y. Count the orderings of n x's and m y's by their U:
 * with c_j(i, u) the orderings of i x's and j y's with U = u, the largest
 * of them is either an x, above all j y's (adding j to U), or a y (adding
 * nothing):
 *     c_j(i, u) = c_j(i-1, u-j) + c_{j-1}(i, u),   c_0(i, 0) = 1.
 * One (n+1) x (nm+1) table updated in place over j = 1..m suffices, i
 * ascending. Counts reach C(100, 50) ~ 1e29: doubles, only ever added.
 */
static double mwu_exact_cdf(int n, int m, int u)
{
	int w = n * m + 1;
	double *c = calloc((size_t)(n + 1) * (size_t)w, sizeof(double));
	if (!c)
		return NAN;
	for (int i = 0; i <= n; i++)
		c[(size_t)i * w] = 1;
	for (int j = 1; j <= m; j++)
		for (int i = 1; i <= n; i++)
			for (int v = w - 1; v >= j; v--)
				c[(size_t)i * w + v] += c[(size_t)(i - 1) * w + v - j];
	double below = 0, total = 0;
	for (int v = 0; v < w; v++) {
		total += c[(size_t)n * w + v];
		if (v <= u)
			below += c[(size_t)n * w + v];
	}
	free(c);
	return below / total;
}

double attn_compare_mwu_p(const double *x, int n, const double *y, int m, int *exact)
{
	if (exact)
		*exact = 0;
	if (!x || !y || n < 1 || m < 1)
		return NAN;
	int N = n + m;
	struct tagged *r = malloc((size_t)N * sizeof(*r));
	if (!r)
		return NAN;
	for (int i = 0; i < N; i++) {
		r[i].v = i < n ? x[i] : y[i - n];
		r[i].tag = i < n; /* 1: from x */
		if (!isfinite(r[i].v)) {
			free(r);
			return NAN;
		}
	}
	qsort(r, (size_t)N, sizeof(*r), cmp_tagged);
	/* midranks: a run of t tied values shares the mean of its ranks */
	double rank_x = 0, ties = 0;
	for (int i = 0, e; i < N; i = e) {
		for (e = i + 1; e < N && r[e].v == r[i].v;)
			e++;
		double t = e - i, mid = (i + 1 + e) / 2.0;
		for (int k = i; k < e; k++)
			rank_x += r[k].tag ? mid : 0;
		ties += t * t * t - t;
	}
	free(r);
	double u = rank_x - n * (n + 1) / 2.0, mu = n * (double)m / 2.0;

	if (ties == 0 && n <= ATTN_COMPARE_EXACT_MAX && m <= ATTN_COMPARE_EXACT_MAX) {
		/* U's distribution is symmetric about nm/2: fold onto the lower tail */
		int lo = (int)(u <= mu ? u : n * m - u);
		double p = 2 * mwu_exact_cdf(n, m, lo);
		if (exact && isfinite(p))
			*exact = 1;
		return p < 1 ? p : 1;
	}
	/* var U = nm/12 · ((N+1) - Σ(t³ - t) / (N(N-1))) */
	double var = n * (double)m / 12.0 * ((N + 1) - ties / ((double)N * (N - 1)));
	if (!(var > 0))
		return 1;
	double z = (fabs(u - mu) - 0.5) / sqrt(var);
	return z > 0 ? erfc(z / sqrt(2.0)) : 1;
}

/* ---- Benjamini–Hochberg ------------------------------------------------------ */

int attn_compare_bh(const double *p, int n, double *q)
{
	if (!p || !q || n < 0)
		return ATTN_ERR_INVALID;
	struct tagged *s = malloc((size_t)(n ? n : 1) * sizeof(*s));
	int k = 0;
	if (!s)
		return ATTN_ERR_NOMEM;
	for (int i = 0; i < n; i++) {
		q[i] = NAN;
		if (!isnan(p[i]))
			s[k++] = (struct tagged){p[i], i};
	}
	qsort(s, (size_t)k, sizeof(*s), cmp_tagged);
	/* from the largest p down, so each q is the running minimum above it */
	double run = 1;
	for (int j = k; j >= 1; j--) {
		double v = s[j - 1].v * k / j;
		run = v < run ? v : run;
		q[s[j - 1].tag] = run;
	}
	free(s);
	return ATTN_OK;
}

/* ---- ratio of medians with its bootstrap CI ---------------------------------- */

int attn_compare_ratio(const double *base, int n, const double *cur, int m, int n_boot,
                       uint64_t seed, double *ratio, double *ci_lo, double *ci_hi)
{
	*ratio = *ci_lo = *ci_hi = NAN;
	if (!base || !cur || n < 1 || m < 1 || n_boot < 1)
		return ATTN_ERR_INVALID;
	/* one allocation: a resample of each side, then the n_boot ratios */
	double *buf = malloc((size_t)(n + m + n_boot) * sizeof(double));
	if (!buf)
		return ATTN_ERR_NOMEM;
	double *bb = buf, *bc = buf + n, *rs = bc + m;
	memcpy(bb, base, (size_t)n * sizeof(double));
	memcpy(bc, cur, (size_t)m * sizeof(double));
	double mb = attn_stats_median_inplace(bb, n), mc = attn_stats_median_inplace(bc, m);
	if (!(mb > 0) || !isfinite(mc)) {
		free(buf);
		return ATTN_ERR_INVALID;
	}
	*ratio = mc / mb;
	uint64_t rng = seed;
	int ok = 0;
	for (int r = 0; r < n_boot; r++) {
		double b = attn__resample_median(base, n, bb, &rng);
		double c = attn__resample_median(cur, m, bc, &rng);
		if (b > 0)
			rs[ok++] = c / b;
	}
	*ci_lo = attn__quantile_inplace(rs, ok, 0.025);
	*ci_hi = attn__quantile_inplace(rs, ok, 0.975);
	free(buf);
	return ATTN_OK;
}

/* ---- the verdict --------------------------------------------------------------- */

enum attn_compare_verdict attn_compare_verdict(double ratio, double q, double alpha,
                                               double threshold)
{
	if (!(q < alpha))
		return ATTN_COMPARE_UNCHANGED;
	if (ratio > 1 + threshold)
		return ATTN_COMPARE_REGRESSED;
	if (ratio < 1 / (1 + threshold))
		return ATTN_COMPARE_IMPROVED;
	return ATTN_COMPARE_UNCHANGED;
}

const char *attn_compare_verdict_name(enum attn_compare_verdict v)
{
	switch (v) {
	case ATTN_COMPARE_REGRESSED: return "regressed";
	case ATTN_COMPARE_IMPROVED: return "improved";
	case ATTN_COMPARE_ISOLATED: return "isolated";
	case ATTN_COMPARE_UNRELIABLE: return "unreliable";
	default: return "unchanged";
	}
}
