/*
 * The statistics of the regression gate (`attnbench compare`): is the
 * current build's case slower than the baseline's, beyond the noise of a
 * shared machine? Three pieces, each usable and testable on its own:
 *   - the Mann–Whitney U test, two-sided: exact (the distribution of U by
 *     counting) for small untied samples, else the normal approximation
 *     with continuity and tie corrections;
 *   - Benjamini–Hochberg adjusted p-values (q), which control the false
 *     discovery rate over a whole grid of cases;
 *   - the ratio of medians current/baseline with a percentile-bootstrap
 *     95% CI (each side resampled with replacement, fixed seed).
 * attn_compare_verdict() combines them: significant (q < alpha) and larger
 * than the threshold, in either direction. Reading the runs, pairing their
 * cases, correcting the rounds and judging are the gate's (gate.h); the
 * verb (harness/cli/cmd_compare.c) only prints.
 */
#ifndef ATTNBENCH_COMPARE_H
#define ATTNBENCH_COMPARE_H

#include <stdint.h>

#define ATTN_COMPARE_BOOT 2000
#define ATTN_COMPARE_SEED 0xc0a1e5ceULL

/* Largest sample size on either side for which the exact U distribution is used. */
#define ATTN_COMPARE_EXACT_MAX 50

/*
 * The two-sided p-value of the Mann–Whitney U test of x[0..n) against
 * y[0..m). Exact when n, m <= ATTN_COMPARE_EXACT_MAX and no value is tied
 * (across or within the samples); otherwise the normal approximation with
 * the tie-corrected variance and a continuity correction of 1/2. 1 when
 * every value is tied. NaN for n < 1, m < 1 or a non-finite value, or out
 * of memory. *exact (if non-NULL) says which was used.
 */
double attn_compare_mwu_p(const double *x, int n, const double *y, int m, int *exact);

/*
 * Benjamini–Hochberg adjusted p-values: q_(i) = min over j >= i of
 * p_(j)·n/j (p sorted ascending), capped at 1, written in p's order.
 * Rejecting every q < alpha keeps the expected share of false discoveries
 * at or below alpha. NaN p-values get NaN q and do not count in n.
 * ATTN_ERR_INVALID for n < 0 or NULL; ATTN_ERR_NOMEM.
 */
int attn_compare_bh(const double *p, int n, double *q);

/*
 * The ratio of medians median(cur)/median(base) and its 95% percentile
 * bootstrap CI from n_boot resamples of each side drawn with `seed`.
 * ATTN_ERR_INVALID for empty samples, a non-positive baseline median or
 * n_boot < 1; ATTN_ERR_NOMEM.
 */
int attn_compare_ratio(const double *base, int n, const double *cur, int m, int n_boot,
                       uint64_t seed, double *ratio, double *ci_lo, double *ci_hi);

enum attn_compare_verdict {
	ATTN_COMPARE_UNCHANGED,
	ATTN_COMPARE_REGRESSED, /* q < alpha and ratio > 1 + threshold */
	ATTN_COMPARE_IMPROVED,  /* q < alpha and ratio < 1 / (1 + threshold) */
	/* Set by the gate after the test, never by attn_compare_verdict(): */
	ATTN_COMPARE_ISOLATED,  /* flagged, but the method's other shapes disagree */
	ATTN_COMPARE_UNRELIABLE /* the machine's speed moved during this shape's window */
};

enum attn_compare_verdict attn_compare_verdict(double ratio, double q, double alpha,
                                               double threshold);

/* "regressed", "improved", "unchanged", "isolated", "unreliable". */
const char *attn_compare_verdict_name(enum attn_compare_verdict v);

#endif /* ATTNBENCH_COMPARE_H */
