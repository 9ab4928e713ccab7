/*
 * Robust summary statistics of a case's timing samples: median, scaled MAD,
 * a distribution-free 95% confidence interval of the median, min, max and
 * mean. Timings are skewed (a few slow repetitions from interrupts or
 * frequency changes), so the median and MAD are what results report and
 * compare; the mean is kept only as a secondary figure.
 *
 * Everything is computed from one sorted copy of the samples, so the
 * summary does not depend on the order the samples came in.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/method.h"
#include "attnbench/stats.h"
#include "internal.h"

/* 1 / Phi^-1(3/4): makes the MAD of normal data estimate its sigma. */
#define MAD_SCALE 1.4826

/* Half of the normal 97.5% quantile, 1.96 / 2: see the CI below. */
#define CI_HALF_Z 0.98

/* Ascending, with NaN after every number, so qsort sees a total order. */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	if (x < y)
		return -1;
	if (x > y)
		return 1;
	return (x != x) - (y != y);
}

/* Median of sorted s[0..n), n >= 1; halves first so huge values cannot overflow. */
static double median_sorted(const double *s, int n)
{
	if (n % 2)
		return s[n / 2];
	return 0.5 * s[n / 2 - 1] + 0.5 * s[n / 2];
}

double attn_stats_median_inplace(double *x, int n)
{
	if (!x || n < 1)
		return NAN;
	qsort(x, (size_t)n, sizeof(double), cmp_double);
	return median_sorted(x, n);
}

int attn_stats_summarize(const double *x, int n, struct attn_summary *out)
{
	double *s, sum = 0.0;

	if (out)
		memset(out, 0, sizeof(*out));
	if (!x || !out || n < 1)
		return ATTN_ERR_INVALID;
	/* a NaN or infinite time is a measurement bug; refuse rather than guess */
	for (int i = 0; i < n; i++)
		if (!isfinite(x[i]))
			return ATTN_ERR_INVALID;
	s = malloc((size_t)n * sizeof(double));
	if (!s)
		return ATTN_ERR_NOMEM;
	memcpy(s, x, (size_t)n * sizeof(double));
	qsort(s, (size_t)n, sizeof(double), cmp_double);

	for (int i = 0; i < n; i++)
		sum += s[i];
	out->n = n;
	out->mean = sum / n;
	out->min = s[0];
	out->max = s[n - 1];
	out->median = median_sorted(s, n);

	/*
	 * CI of the median from order statistics x_(1) <= ... <= x_(n). The
	 * number of samples below the true median is Binomial(n, 1/2), about
	 * N(n/2, n/4), so ranks n/2 -+ 1.96 sqrt(n)/2 bracket it with 95%
	 * probability whatever the distribution:
	 *     lo = floor(n/2 - 0.98 sqrt(n)),  hi = ceil(1 + n/2 + 0.98 sqrt(n)),
	 * clamped to [1, n] (e.g. n = 100 gives x_(40) and x_(61)). Below about
	 * n = 6 the clamp makes it [min, max], which covers less than 95%
	 * (1 - 2^(1-n)): take enough repetitions.
	 */
	double half = CI_HALF_Z * sqrt((double)n);
	double lo = floor(n / 2.0 - half), hi = ceil(1.0 + n / 2.0 + half);
	int ilo = lo < 1.0 ? 1 : (int)lo;
	int ihi = hi > n ? n : (int)hi;
	out->ci_lo = s[ilo - 1];
	out->ci_hi = s[ihi - 1];

	/* MAD: the median of |x_i - median|, reusing the sorted copy */
	for (int i = 0; i < n; i++)
		s[i] = fabs(s[i] - out->median);
	out->mad = MAD_SCALE * attn_stats_median_inplace(s, n);

	free(s);
	return ATTN_OK;
}

double attn_stats_loglog_slope(const double *x, const double *y, int n, double *log_a)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0;
	int m = 0;
	for (int i = 0; i < n; i++) {
		if (!(x[i] > 0) || !(y[i] > 0) || !isfinite(x[i]) || !isfinite(y[i]))
			continue;
		double lx = log(x[i]), ly = log(y[i]);
		sx += lx, sy += ly, sxx += lx * lx, sxy += lx * ly, m++;
	}
	/* slope = cov(lx, ly) / var(lx), both times m² */
	double var = (double)m * sxx - sx * sx;
	if (m < 2 || !(var > 1e-12 * (double)m * sxx)) {
		if (log_a)
			*log_a = NAN;
		return NAN;
	}
	double b = ((double)m * sxy - sx * sy) / var;
	if (log_a)
		*log_a = (sy - b * sx) / (double)m;
	return b;
}

/* ---- bootstrap pieces (internal.h) ------------------------------------------ */

uint64_t attn__rng_next(uint64_t *s)
{
	return attn__mix64(*s += 0x9e3779b97f4a7c15ULL);
}

double attn__resample_median(const double *x, int k, double *buf, uint64_t *rng)
{
	for (int i = 0; i < k; i++)
		buf[i] = x[(uint64_t)((double)(attn__rng_next(rng) >> 11) * 0x1p-53 * k)];
	return attn_stats_median_inplace(buf, k);
}

double attn__quantile_inplace(double *x, int m, double q)
{
	if (m < 1)
		return NAN;
	attn_stats_median_inplace(x, m); /* sorts */
	double pos = q * (m - 1);
	int lo = (int)pos;
	return lo + 1 < m ? x[lo] + (pos - lo) * (x[lo + 1] - x[lo]) : x[lo];
}
