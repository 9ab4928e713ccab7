/*
 * Robust statistics of a case's timing samples, computed by the harness so
 * that no plotting script or reader has to: median, median absolute
 * deviation (scaled by 1.4826 to estimate a normal sigma) and a
 * distribution-free 95% confidence interval of the median from order
 * statistics (binomial ranks n/2 -+ 1.96 sqrt(n)/2).
 */
#ifndef ATTNBENCH_STATS_H
#define ATTNBENCH_STATS_H

struct attn_summary {
	int n;
	double median;
	double mad; /* scaled: 1.4826 * median(|x - median|) */
	double ci_lo;
	double ci_hi;
	double min;
	double max;
	double mean;
};

/*
 * Summarise x[0..n) (not modified). Returns ATTN_ERR_INVALID for n < 1, a
 * NULL argument or a NaN or infinite sample, ATTN_ERR_NOMEM if the sorted
 * copy cannot be allocated; *out is cleared on failure.
 */
int attn_stats_summarize(const double *x, int n, struct attn_summary *out);

/* Median of x[0..n); x is sorted in place (NaN last). NaN for n < 1. */
double attn_stats_median_inplace(double *x, int n);

/*
 * The exponent b of y ≈ a·x^b: the least-squares slope of log y on log x
 * over the points with x > 0 and y > 0 (finite). NaN when fewer than two
 * such points have distinct x. *log_a (if non-NULL) gets log a.
 */
double attn_stats_loglog_slope(const double *x, const double *y, int n, double *log_a);

#endif /* ATTNBENCH_STATS_H */
