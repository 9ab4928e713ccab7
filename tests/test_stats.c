/*
 * Tests of the timing statistics (harness/src/stats.c): small samples worked
 * out by hand (odd and even n, n = 1, an outlier), the order-statistic
 * ranks of the median's confidence interval, its coverage on simulated
 * samples, independence from sample order, and the rejection of bad input.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/method.h"
#include "attnbench/stats.h"
#include "check_main.h"

#define MAD_SCALE 1.4826

START_TEST(test_odd)
{
	const double x[] = {3.0, 1.0, 2.0};
	struct attn_summary s;

	ck_assert_int_eq(attn_stats_summarize(x, 3, &s), ATTN_OK);
	ck_assert_int_eq(s.n, 3);
	ck_assert_double_eq(s.median, 2.0);
	ck_assert_double_eq(s.mean, 2.0);
	ck_assert_double_eq(s.min, 1.0);
	ck_assert_double_eq(s.max, 3.0);
	/* |x - 2| = {1, 1, 0}: median 1 */
	ck_assert_double_eq_tol(s.mad, MAD_SCALE, 1e-12);
	/* n = 3: ranks clamp to [1, 3] */
	ck_assert_double_eq(s.ci_lo, 1.0);
	ck_assert_double_eq(s.ci_hi, 3.0);
	/* the input is not modified */
	ck_assert(x[0] == 3.0 && x[1] == 1.0 && x[2] == 2.0);
}
END_TEST

START_TEST(test_even)
{
	const double x[] = {4.0, 1.0, 3.0, 2.0};
	struct attn_summary s;

	ck_assert_int_eq(attn_stats_summarize(x, 4, &s), ATTN_OK);
	ck_assert_double_eq(s.median, 2.5);
	ck_assert_double_eq(s.mean, 2.5);
	/* |x - 2.5| = {1.5, 1.5, 0.5, 0.5}: median 1 */
	ck_assert_double_eq_tol(s.mad, MAD_SCALE, 1e-12);
	ck_assert_double_eq(s.ci_lo, 1.0);
	ck_assert_double_eq(s.ci_hi, 4.0);
}
END_TEST

START_TEST(test_single)
{
	const double x[] = {7.25};
	struct attn_summary s;

	ck_assert_int_eq(attn_stats_summarize(x, 1, &s), ATTN_OK);
	ck_assert_int_eq(s.n, 1);
	ck_assert_double_eq(s.median, 7.25);
	ck_assert_double_eq(s.mad, 0.0);
	ck_assert_double_eq(s.ci_lo, 7.25);
	ck_assert_double_eq(s.ci_hi, 7.25);
	ck_assert_double_eq(s.min, 7.25);
	ck_assert_double_eq(s.max, 7.25);
	ck_assert_double_eq(s.mean, 7.25);
}
END_TEST

/* One wild sample moves the mean, not the median or the MAD. */
START_TEST(test_outlier)
{
	const double x[] = {1.0, 2.0, 1000.0, 3.0, 4.0};
	struct attn_summary s;

	ck_assert_int_eq(attn_stats_summarize(x, 5, &s), ATTN_OK);
	ck_assert_double_eq(s.median, 3.0);
	/* |x - 3| = {2, 1, 997, 0, 1}: median 1 */
	ck_assert_double_eq_tol(s.mad, MAD_SCALE, 1e-12);
	ck_assert_double_eq(s.mean, 202.0);
	ck_assert_double_eq(s.max, 1000.0);
}
END_TEST

/* Fisher-Yates with a fixed LCG, so the tests are reproducible. */
static uint64_t lcg(uint64_t *state)
{
	*state = *state * 6364136223846793005ull + 1442695040888963407ull;
	return *state >> 11;
}

static void shuffle(double *x, int n, uint64_t *state)
{
	for (int i = n - 1; i > 0; i--) {
		int j = (int)(lcg(state) % (uint64_t)(i + 1));
		double t = x[i];
		x[i] = x[j];
		x[j] = t;
	}
}

/* 1..n shuffled: the CI is x_(lo), x_(hi) of the documented ranks. */
START_TEST(test_ci_ranks)
{
	static const struct {
		int n, lo, hi;
	} cases[] = {
	    {2, 1, 2}, {10, 1, 10}, {20, 5, 16}, {100, 40, 61}, {1000, 469, 532},
	};
	uint64_t st = 1;
	double x[1000];
	struct attn_summary s;

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		int n = cases[c].n;
		for (int i = 0; i < n; i++)
			x[i] = i + 1;
		shuffle(x, n, &st);
		ck_assert_int_eq(attn_stats_summarize(x, n, &s), ATTN_OK);
		ck_assert_double_eq(s.median, (n + 1) / 2.0);
		ck_assert_double_eq(s.ci_lo, cases[c].lo);
		ck_assert_double_eq(s.ci_hi, cases[c].hi);
		ck_assert(s.min <= s.ci_lo && s.ci_lo <= s.median);
		ck_assert(s.median <= s.ci_hi && s.ci_hi <= s.max);
	}

	/* 1..100: |i - 50.5| takes 0.5 .. 49.5 twice each, median 25 */
	for (int i = 0; i < 100; i++)
		x[i] = i + 1;
	ck_assert_int_eq(attn_stats_summarize(x, 100, &s), ATTN_OK);
	ck_assert_double_eq_tol(s.mad, MAD_SCALE * 25.0, 1e-9);
	ck_assert_double_eq_tol(s.mean, 50.5, 1e-12);
}
END_TEST

/*
 * The interval is distribution-free: on skewed samples (exponential-like,
 * as timings are) it contains the true median in about 95% of trials.
 */
START_TEST(test_ci_coverage)
{
	const int trials = 4000, n = 60;
	/* median of -log(u) for u uniform: log 2 */
	const double true_median = log(2.0);
	uint64_t st = 12345;
	double x[60];
	int hit = 0;

	for (int t = 0; t < trials; t++) {
		struct attn_summary s;
		for (int i = 0; i < n; i++)
			x[i] = -log(((double)lcg(&st) + 0.5) * 0x1p-53);
		if (attn_stats_summarize(x, n, &s) != ATTN_OK)
			break;
		hit += s.ci_lo <= true_median && true_median <= s.ci_hi;
	}
	double coverage = (double)hit / trials;
	/* the rounding of the ranks makes it a little conservative */
	ck_assert_msg(coverage > 0.93 && coverage < 0.99, "coverage %g", coverage);
}
END_TEST

/* The summary is the same whatever order the samples came in. */
START_TEST(test_order_independent)
{
	double x[257], y[257];
	uint64_t st = 99;
	struct attn_summary a, b;

	for (int i = 0; i < 257; i++)
		x[i] = y[i] = 1e6 + (double)(lcg(&st) % 100000) * 0.37;
	shuffle(y, 257, &st);
	ck_assert_int_eq(attn_stats_summarize(x, 257, &a), ATTN_OK);
	ck_assert_int_eq(attn_stats_summarize(y, 257, &b), ATTN_OK);
	ck_assert(memcmp(&a, &b, sizeof(a)) == 0);
}
END_TEST

START_TEST(test_median_inplace)
{
	double odd[] = {5.0, -1.0, 3.0};
	double even[] = {10.0, 0.0, 4.0, 6.0};
	double one[] = {-2.0};

	ck_assert_double_eq(attn_stats_median_inplace(odd, 3), 3.0);
	ck_assert_double_eq(attn_stats_median_inplace(even, 4), 5.0);
	ck_assert_double_eq(attn_stats_median_inplace(one, 1), -2.0);
	/* reordered: sorted ascending */
	ck_assert(odd[0] == -1.0 && odd[1] == 3.0 && odd[2] == 5.0);
	ck_assert(isnan(attn_stats_median_inplace(odd, 0)));
	ck_assert(isnan(attn_stats_median_inplace(NULL, 3)));
}
END_TEST

START_TEST(test_invalid)
{
	const double ok[] = {1.0, 2.0};
	const double nan_in[] = {1.0, NAN, 2.0};
	const double inf_in[] = {1.0, INFINITY};
	const double ninf_in[] = {-INFINITY, 1.0};
	struct attn_summary s;

	ck_assert_int_eq(attn_stats_summarize(ok, 0, &s), ATTN_ERR_INVALID);
	ck_assert_int_eq(s.n, 0);
	ck_assert_int_eq(attn_stats_summarize(ok, -3, &s), ATTN_ERR_INVALID);
	ck_assert_int_eq(attn_stats_summarize(NULL, 2, &s), ATTN_ERR_INVALID);
	ck_assert_int_eq(attn_stats_summarize(ok, 2, NULL), ATTN_ERR_INVALID);
	memset(&s, 0xab, sizeof(s));
	ck_assert_int_eq(attn_stats_summarize(nan_in, 3, &s), ATTN_ERR_INVALID);
	/* cleared on failure, never half-filled */
	ck_assert_int_eq(s.n, 0);
	ck_assert_double_eq(s.median, 0.0);
	ck_assert_int_eq(attn_stats_summarize(inf_in, 2, &s), ATTN_ERR_INVALID);
	ck_assert_int_eq(attn_stats_summarize(ninf_in, 2, &s), ATTN_ERR_INVALID);
}
END_TEST

/* y = 3 x^1.5 exactly, then with a bad point left out: slope 1.5, log a = log 3. */
START_TEST(test_loglog_slope)
{
	double x[5] = {1, 2, 4, 8, 0}, y[5];
	for (int i = 0; i < 4; i++)
		y[i] = 3.0 * pow(x[i], 1.5);
	y[4] = 7; /* x = 0: not on a log axis, ignored */
	double la;
	ck_assert_double_eq_tol(attn_stats_loglog_slope(x, y, 5, &la), 1.5, 1e-12);
	ck_assert_double_eq_tol(la, log(3.0), 1e-12);
	/* one usable point, or all at one x: no slope */
	ck_assert(isnan(attn_stats_loglog_slope(x, y, 1, &la)) && isnan(la));
	double same[3] = {2, 2, 2};
	ck_assert(isnan(attn_stats_loglog_slope(same, y, 3, NULL)));
}
END_TEST

static Suite *stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_odd);
	tcase_add_test(tc, test_even);
	tcase_add_test(tc, test_single);
	tcase_add_test(tc, test_outlier);
	tcase_add_test(tc, test_ci_ranks);
	tcase_add_test(tc, test_ci_coverage);
	tcase_add_test(tc, test_order_independent);
	tcase_add_test(tc, test_median_inplace);
	tcase_add_test(tc, test_invalid);
	tcase_add_test(tc, test_loglog_slope);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return attn_test_run(stats_suite(), CK_NORMAL);
}
