/*
 * The sampled-row oracle (runner.h): its plan of rows (within the budget,
 * the last rows of a causal case all in, seeded, sorted and distinct), its
 * rows equal to the full oracle's, and the verdicts it gives in the runner:
 * an exact method passes, a wrong one fails, an approximate one gets
 * rel_err_softmax from the sample, and a case of N = 1M gets a figure.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/registry.h"
#include "attnbench/runner.h"
#include "attnbench/spec.h"
#include "attnbench/status.h"
#include "attnbench/workload.h"
#include "kernels/kernels.h"

#include "check_main.h"
#include "test_registry_util.h"

static struct attn_registry *reg;

static void setup(void)
{
	static const char *const plugins[] = {"wrong", "lastrow"};
	reg = test_registry_make(plugins, 2);
}

static void teardown(void)
{
	attn_registry_free(reg);
}

static struct attn_shape shape(int64_t h, int64_t n, int64_t d, int causal)
{
	return (struct attn_shape){
	    .batch = 1, .heads = h, .kv_heads = h, .n = n, .d = d, .causal = causal};
}

/* The reference's cost of one row of every head, as the plan counts it. */
static double row_cost(const struct attn_shape *s)
{
	return 4.0 * (double)(s->batch * s->heads * s->n * s->d);
}

START_TEST(plan_within_budget)
{
	int64_t rows[ATTN_ORACLE_MAX_ROWS], again[ATTN_ORACLE_MAX_ROWS];
	int k, k2;
	for (int causal = 0; causal <= 1; causal++) {
		struct attn_shape s = shape(4, 4096, 64, causal);
		/* The full reference costs 4 B H N N D = 1.7e10: above 2e9, a sample. */
		ck_assert_int_eq(attn_oracle_plan(&s, 2e9, 7, rows, &k), ATTN_ORACLE_SAMPLED);
		ck_assert_int_ge(k, 1);
		ck_assert_int_le(k, ATTN_ORACLE_MAX_ROWS);
		ck_assert(k * row_cost(&s) <= 2e9);
		for (int i = 0; i < k; i++) {
			ck_assert(rows[i] >= 0 && rows[i] < s.n);
			if (i)
				ck_assert_msg(rows[i] > rows[i - 1],
				              "rows not sorted and distinct");
		}
		/* Spread over the sequence: a row in the first and in the last quarter. */
		ck_assert(rows[0] < s.n / 4);
		ck_assert(rows[k / 2] > s.n / 8);
		if (causal) {
			/* The last rows, which see the whole context, all in. */
			for (int j = 0; j < ATTN_ORACLE_TAIL_ROWS; j++)
				ck_assert_int_eq(rows[k - 1 - j], s.n - 1 - j);
		}
		/* Seeded: the same seed gives the same rows, another seed others. */
		ck_assert_int_eq(attn_oracle_plan(&s, 2e9, 7, again, &k2), ATTN_ORACLE_SAMPLED);
		ck_assert_int_eq(k, k2);
		ck_assert(memcmp(rows, again, (size_t)k * sizeof(*rows)) == 0);
		attn_oracle_plan(&s, 2e9, 8, again, &k2);
		ck_assert(memcmp(rows, again, (size_t)k * sizeof(*rows)) != 0);

		/* A budget for three rows buys three; less than one row, none. */
		ck_assert_int_eq(attn_oracle_plan(&s, 3.5 * row_cost(&s), 7, rows, &k),
		                 ATTN_ORACLE_SAMPLED);
		ck_assert_int_eq(k, 3);
		if (causal)
			ck_assert_int_eq(rows[2], s.n - 1);
		ck_assert_int_eq(attn_oracle_plan(&s, 0.5 * row_cost(&s), 7, rows, &k),
		                 ATTN_ORACLE_NONE);
		ck_assert_int_eq(k, 0);
	}
}
END_TEST

START_TEST(plan_full_decode_and_off)
{
	int64_t rows[ATTN_ORACLE_MAX_ROWS];
	int k;
	struct attn_shape s = shape(2, 256, 32, 1);
	ck_assert_int_eq(attn_oracle_plan(&s, 2e9, 1, rows, &k), ATTN_ORACLE_FULL);
	ck_assert_int_eq(k, 256);
	ck_assert_int_eq(attn_oracle_plan(&s, 0, 1, rows, &k), ATTN_ORACLE_NONE);
	/* Decode's one row is cheap: full, even where it is above the budget. */
	s.mode = ATTN_MODE_DECODE;
	ck_assert_int_eq(attn_oracle_plan(&s, 1, 1, rows, &k), ATTN_ORACLE_FULL);
	ck_assert_int_eq(k, 1);
	ck_assert_int_eq(attn_oracle_plan(&s, 0, 1, rows, &k), ATTN_ORACLE_NONE);
}
END_TEST

/* The sampled rows are the full oracle's rows, to the bit (GQA, causal and not). */
START_TEST(sampled_rows_match_full)
{
	for (int causal = 0; causal <= 1; causal++) {
		struct attn_shape s = {
		    .batch = 2, .heads = 4, .kv_heads = 2, .n = 300, .d = 16, .causal = causal};
		struct attn_workload wl;
		ck_assert_int_eq(attn_workload_alloc(&s, 0, ATTN_DIST_GAUSSIAN, 3, &wl), 0);
		size_t per = (size_t)(s.n * s.d), bh = (size_t)(s.batch * s.heads);
		double *full = malloc(bh * per * sizeof(double));
		ck_assert_int_eq(attn_reference_softmax(&s, &wl.in, full), ATTN_OK);

		int64_t rows[ATTN_ORACLE_MAX_ROWS];
		int k;
		ck_assert_int_eq(attn_oracle_plan(&s, 20 * row_cost(&s), 5, rows, &k),
		                 ATTN_ORACLE_SAMPLED);
		ck_assert_int_eq(k, 20);
		double *part = malloc(bh * (size_t)k * (size_t)s.d * sizeof(double));
		double *scores = malloc((size_t)s.n * sizeof(double));
		ck_assert_int_eq(attn__reference_softmax_rows(&s, &wl.in, rows, k, part, scores),
		                 ATTN_OK);
		for (size_t h = 0; h < bh; h++)
			for (int r = 0; r < k; r++)
				ck_assert(memcmp(part + (h * (size_t)k + (size_t)r) * (size_t)s.d,
				                 full + h * per + (size_t)rows[r] * (size_t)s.d,
				                 (size_t)s.d * sizeof(double)) == 0);
		/* A row outside the sequence is refused, not read. */
		int64_t bad = s.n;
		ck_assert_int_eq(attn__reference_softmax_rows(&s, &wl.in, &bad, 1, part, scores),
		                 ATTN_ERR_INVALID);
		free(scores);
		free(part);
		free(full);
		attn_workload_free(&wl);
	}
}
END_TEST

static struct attn_run_opts quick(double budget)
{
	struct attn_run_opts o;
	attn_run_opts_default(&o);
	o.warmup_s = 0;
	o.min_time_s = 0;
	o.min_reps = 1;
	o.max_reps = 1;
	o.timeout_s = 60;
	o.counters = "none";
	o.bind = ATTN_BIND_NONE;
	o.check_max_flops = budget;
	return o;
}

static double metric(const struct attn_case_result *r, const char *name, int *has)
{
	const struct attn_metric *m = attn_result_metric(r, name);
	*has = m && m->has_value;
	return *has ? m->value : NAN;
}

/* Run `method` on s; the result and its oracle_rows and oracle_sampled. */
static void run_case(const char *method, struct attn_shape s, double budget,
                     struct attn_case_result *r)
{
	struct attn_case c = test_case_make(reg, method, s);
	struct attn_run_opts o = quick(budget);
	ck_assert_int_eq(attn_case_run(&c, &o, NULL, NULL, r), ATTN_OK);
}

START_TEST(exact_passes_wrong_fails)
{
	struct attn_shape s = shape(2, 1024, 32, 1);
	const double budget = 40 * row_cost(&s); /* full would take 1024 rows' worth */
	struct attn_case_result r;
	int has;

	run_case("flash", s, budget, &r);
	ck_assert_msg(r.status == ATTN_CASE_OK, "%s", r.message);
	ck_assert_double_eq(metric(&r, "oracle_sampled", &has), 1);
	ck_assert_double_eq(metric(&r, "oracle_rows", &has), 40);
	double rel = metric(&r, "rel_err", &has);
	ck_assert(has && rel < 1e-5);

	/* The same check at full size gives an error of the same order. */
	struct attn_case_result full;
	run_case("flash", s, 1e18, &full);
	ck_assert_double_eq(metric(&full, "oracle_sampled", &has), 0);
	ck_assert_double_eq(metric(&full, "oracle_rows", &has), 1024);
	double rel_full = metric(&full, "rel_err", &has);
	ck_assert(has && rel < 10 * rel_full + 1e-7 && rel_full < 10 * rel + 1e-7);
	attn_case_result_free(&full);
	attn_case_result_free(&r);

	/* A method that claims to be exact and is not fails the sampled check. */
	run_case("wrong_plugin", s, budget, &r);
	ck_assert_int_eq(r.status, ATTN_CASE_FAILED_CHECK);
	ck_assert_msg(strstr(r.message, "sampled rows") != NULL, "%s", r.message);
	attn_case_result_free(&r);

	/* Right everywhere but the last row: a causal sample holds it, so it fails too. */
	run_case("lastrow_plugin", s, budget, &r);
	ck_assert_msg(r.status == ATTN_CASE_FAILED_CHECK, "%s: %s", attn_case_status_name(r.status),
	              r.message);
	ck_assert_double_eq(metric(&r, "oracle_sampled", &has), 1);
	attn_case_result_free(&r);
}
END_TEST

/* An approximate method: rel_err_softmax from the sample agrees with the full figure. */
START_TEST(approx_softmax_error_sampled)
{
	struct attn_shape s = shape(1, 1024, 32, 1);
	struct attn_case_result r, full;
	int has;
	run_case("window", s, 128 * row_cost(&s), &r);
	ck_assert_msg(r.status == ATTN_CASE_OK, "%s", r.message);
	ck_assert_double_eq(metric(&r, "oracle_sampled", &has), 1);
	double sampled = metric(&r, "rel_err_softmax", &has);
	ck_assert(has && isfinite(sampled) && sampled > 0);
	/* Its own oracle computes whole outputs: no rel_err, and the CLI says why. */
	metric(&r, "rel_err", &has);
	ck_assert(!has);
	struct attn_case c = test_case_make(reg, "window", s);
	struct attn_run_opts o = quick(128 * row_cost(&s));
	char why[256];
	const char *w = attn_result_missing_why(&c, &r, &o, "rel_err", why, sizeof(why));
	ck_assert(w && strstr(w, "sampled"));
	ck_assert_ptr_null(attn_result_missing_why(&c, &r, &o, "rel_err_softmax", why, 256));

	run_case("window", s, 1e18, &full);
	double all = metric(&full, "rel_err_softmax", &has);
	ck_assert(has);
	/* A sample of 128 rows estimates the figure: the same order, not the same digits. */
	ck_assert_msg(sampled > all / 3 && sampled < all * 3, "sampled %g, full %g", sampled, all);
	attn_case_result_free(&full);
	attn_case_result_free(&r);

	/* No budget: no oracle, and the reason names the option. */
	run_case("window", s, 0, &r);
	ck_assert_double_eq(metric(&r, "oracle_rows", &has), 0);
	metric(&r, "rel_err_softmax", &has);
	ck_assert(!has);
	o.check_max_flops = 0;
	w = attn_result_missing_why(&c, &r, &o, "rel_err_softmax", why, sizeof(why));
	ck_assert(w && strstr(w, "--check-max-flops 0"));
	attn_case_result_free(&r);
}
END_TEST

/* N = 1M, causal, one head, d = 8, a linear method: a finite rel_err_softmax. */
START_TEST(million_tokens)
{
	struct attn_shape s = shape(1, 1 << 20, 8, 1);
	struct attn_case_result r;
	int has;
	run_case("linear_elu", s, 2e9, &r);
	ck_assert_msg(r.status == ATTN_CASE_OK, "%s", r.message);
	ck_assert_double_eq(metric(&r, "oracle_sampled", &has), 1);
	double rows = metric(&r, "oracle_rows", &has);
	ck_assert(rows >= ATTN_ORACLE_TAIL_ROWS && rows * row_cost(&s) <= 2e9);
	double e = metric(&r, "rel_err_softmax", &has);
	ck_assert_msg(has && isfinite(e) && e > 0, "rel_err_softmax %g", e);
	attn_case_result_free(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("oracle");
	TCase *tc = tcase_create("sampled");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, plan_within_budget);
	tcase_add_test(tc, plan_full_decode_and_off);
	tcase_add_test(tc, sampled_rows_match_full);
	tcase_add_test(tc, exact_passes_wrong_fails);
	tcase_add_test(tc, approx_softmax_error_sampled);
	tcase_add_test(tc, million_tokens);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return attn_test_run(s, CK_NORMAL);
}
