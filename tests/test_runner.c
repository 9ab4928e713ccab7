/*
 * Case isolation and the runner's verdicts: a plugin that segfaults, one
 * that hangs, one that writes NaN, one whose workspace can never fit, and
 * one that is plainly wrong each get their own status and message, and the
 * process running them survives. Also: unsupported shapes, metrics of a
 * good case (NULL where unavailable), and the sample statistics.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "attnbench/registry.h"
#include "attnbench/runner.h"
#include "attnbench/spec.h"
#include "attnbench/status.h"

#include "check_main.h"

static char err[1024];
static struct attn_registry *reg;

static void setup(void)
{
	ck_assert(attn_registry_init(&reg, err, sizeof(err)) == ATTN_OK);
	static const char *names[] = {"crash", "hang", "nan", "hog", "wrong"};
	for (int i = 0; i < 5; i++) {
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s.so", ATTN_TEST_PLUGIN_DIR, names[i]);
		ck_assert_msg(attn_registry_load_plugin(reg, path, err, sizeof(err)) == ATTN_OK,
			      "%s", err);
	}
}

static void teardown(void)
{
	attn_registry_free(reg);
}

static struct attn_case make_case(const char *method, int64_t n)
{
	struct attn_case c = {0};
	c.method = attn_registry_find(reg, method);
	ck_assert_msg(c.method != NULL, "no method %s", method);
	attn_params_default(c.method, &c.params);
	c.shape = (struct attn_shape){.batch = 1, .heads = 2, .kv_heads = 2, .n = n, .d = 32};
	c.threads = 1;
	c.seed = 1;
	return c;
}

static struct attn_run_opts quick(void)
{
	struct attn_run_opts o;
	attn_run_opts_default(&o);
	o.warmup_s = 0;
	o.min_time_s = 0.01;
	o.min_reps = 3;
	o.timeout_s = 20;
	return o;
}

static enum attn_case_status run(const char *method, struct attn_run_opts o,
				 struct attn_case_result *r)
{
	struct attn_case c = make_case(method, 64);
	ck_assert_int_eq(attn_case_run(&c, &o, NULL, NULL, r), ATTN_OK);
	return r->status;
}

START_TEST(good_case_metrics)
{
	struct attn_case_result r;
	ck_assert_int_eq(run("flash", quick(), &r), ATTN_CASE_OK);
	ck_assert_int_ge(r.n_samples, 3);
	const char *want[] = {"median_ns", "mad_ns", "ci_lo_ns", "ci_hi_ns", "gflops", "flops",
			      "workspace_bytes", "peak_rss_bytes", "rel_err", "max_abs_err"};
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
		const struct attn_metric *m = attn_result_metric(&r, want[i]);
		ck_assert_msg(m && m->has_value, "metric %s missing", want[i]);
	}
	const struct attn_metric *med = attn_result_metric(&r, "median_ns");
	ck_assert(attn_result_metric(&r, "ci_lo_ns")->value <= med->value);
	ck_assert(attn_result_metric(&r, "ci_hi_ns")->value >= med->value);
	ck_assert(attn_result_metric(&r, "rel_err")->value <= 1e-5);
	attn_case_result_free(&r);

	/* Too big to check: the error is NULL, not 0. */
	struct attn_run_opts o = quick();
	o.check_max_flops = 0;
	ck_assert_int_eq(run("flash", o, &r), ATTN_CASE_OK);
	ck_assert(!attn_result_metric(&r, "rel_err")->has_value);
	attn_case_result_free(&r);
}
END_TEST

START_TEST(crash_is_contained)
{
	struct attn_case_result r;
	ck_assert_int_eq(run("crash_plugin", quick(), &r), ATTN_CASE_CRASHED);
	ck_assert_msg(strstr(r.message, "signal 11") != NULL, "%s", r.message);
	attn_case_result_free(&r);
}
END_TEST

START_TEST(hang_times_out)
{
	struct attn_run_opts o = quick();
	o.timeout_s = 1;
	struct attn_case_result r;
	ck_assert_int_eq(run("hang_plugin", o, &r), ATTN_CASE_TIMEOUT);
	ck_assert(strstr(r.message, "killed") != NULL);
	attn_case_result_free(&r);
}
END_TEST

START_TEST(nan_fails_check)
{
	struct attn_case_result r;
	ck_assert_int_eq(run("nan_plugin", quick(), &r), ATTN_CASE_FAILED_CHECK);
	ck_assert_msg(strstr(r.message, "non-finite") != NULL, "%s", r.message);
	attn_case_result_free(&r);
}
END_TEST

START_TEST(wrong_fails_check)
{
	struct attn_case_result r;
	ck_assert_int_eq(run("wrong_plugin", quick(), &r), ATTN_CASE_FAILED_CHECK);
	ck_assert_msg(strstr(r.message, "tolerance") != NULL, "%s", r.message);
	attn_case_result_free(&r);
}
END_TEST

START_TEST(memory_predicted)
{
	struct attn_case_result r;
	ck_assert_int_eq(run("hog_plugin", quick(), &r), ATTN_CASE_SKIPPED_MEMORY);
	ck_assert_msg(strstr(r.message, "GiB") != NULL, "%s", r.message);
	attn_case_result_free(&r);

	/* A plain case above an explicit limit is skipped with the limit named. */
	struct attn_case c = make_case("flash", 1 << 20);
	struct attn_run_opts o = quick();
	o.mem_limit = 1 << 20;
	ck_assert_int_eq(attn_case_run(&c, &o, NULL, NULL, &r), ATTN_OK);
	ck_assert_int_eq(r.status, ATTN_CASE_SKIPPED_MEMORY);
	ck_assert(strstr(r.message, "--mem-limit") != NULL);
	attn_case_result_free(&r);
}
END_TEST

START_TEST(unsupported_shapes)
{
	struct attn_case c = make_case("flash", 64);
	c.shape.kv_heads = 3;
	struct attn_case_result r;
	struct attn_run_opts o = quick();
	ck_assert_int_eq(attn_case_run(&c, &o, NULL, NULL, &r), ATTN_OK);
	ck_assert_int_eq(r.status, ATTN_CASE_UNSUPPORTED);
	ck_assert(strstr(r.message, "does not divide") != NULL);
	attn_case_result_free(&r);
}
END_TEST

START_TEST(case_keys_distinct)
{
	struct attn_case a = make_case("flash", 64), b = a;
	char ka[1024], kb[1024];
	attn_case_key(&a, ka, sizeof(ka));
	b.shape.causal = 1;
	attn_case_key(&b, kb, sizeof(kb));
	ck_assert_str_ne(ka, kb);
	b = a;
	ck_assert_int_eq(attn_params_set(b.method, &b.params, "bq=32", err, sizeof(err)), ATTN_OK);
	attn_case_key(&b, kb, sizeof(kb));
	ck_assert_str_ne(ka, kb);
	b = a;
	attn_case_key(&b, kb, sizeof(kb));
	ck_assert_str_eq(ka, kb);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("runner");
	TCase *tc = tcase_create("isolation");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, good_case_metrics);
	tcase_add_test(tc, crash_is_contained);
	tcase_add_test(tc, hang_times_out);
	tcase_add_test(tc, nan_fails_check);
	tcase_add_test(tc, wrong_fails_check);
	tcase_add_test(tc, memory_predicted);
	tcase_add_test(tc, unsupported_shapes);
	tcase_add_test(tc, case_keys_distinct);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	int failed = attn_test_run(s, CK_NORMAL);
	return failed != 0;
}
