/*
 * Case isolation and the runner's verdicts: a plugin that segfaults, one
 * that hangs, one that writes NaN, one whose workspace can never fit, and
 * one that is plainly wrong each get their own status and message, and the
 * process running them survives. Also: unsupported shapes, metrics of a
 * good case (NULL where unavailable), and the sample statistics.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "attnbench/registry.h"
#include "attnbench/runner.h"
#include "attnbench/spec.h"
#include "attnbench/stats.h"
#include "attnbench/status.h"

#include "check_main.h"
#include "test_registry_util.h"

static char err[1024];
static struct attn_registry *reg;

static void setup(void)
{
	static const char *const plugins[] = {"crash", "hang",      "nan",   "hog",
	                                      "wrong", "quadratic", "report"};
	reg = test_registry_make(plugins, 7);
}

static void teardown(void)
{
	attn_registry_free(reg);
}

static struct attn_case make_case(const char *method, int64_t n)
{
	return test_case_make(
	    reg, method,
	    (struct attn_shape){.batch = 1, .heads = 2, .kv_heads = 2, .n = n, .d = 32});
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
	const char *want[] = {"median_ns", "mad_ns",     "ci_lo_ns",        "ci_hi_ns",
	                      "gflops",    "flops",      "workspace_bytes", "peak_rss_bytes",
	                      "rel_err",   "max_abs_err"};
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

/*
 * A case whose FLOPs need more than max_call_s at the run's FMA roof is
 * skipped before it starts, with the estimate; without a roof, or with the
 * budget off, nothing is skipped for time.
 */
START_TEST(time_predicted)
{
	/* flash at N = 2^20, D = 32: 2·2^40·32·2 FLOPs, 140 s at a 2 TFLOP/s roof */
	struct attn_case c = make_case("flash", 1 << 20);
	struct attn_roof roof = {.threads = 1, .fma_gflops = 2000, .sgemm_gflops = 1000};
	struct attn_run_opts o = quick();
	o.roofs = &roof;
	o.n_roofs = 1;
	struct attn_case_result r;
	ck_assert_int_eq(attn_case_run(&c, &o, NULL, NULL, &r), ATTN_OK);
	ck_assert_int_eq(r.status, ATTN_CASE_SKIPPED_TIME);
	ck_assert_msg(strstr(r.message, "FMA roof") && strstr(r.message, "--max-call-time"), "%s",
	              r.message);
	ck_assert_str_eq(attn_case_status_name(r.status), "skipped_time");
	attn_case_result_free(&r);

	/* a small case under the same roof runs */
	c = make_case("flash", 64);
	ck_assert_int_eq(attn_case_run(&c, &o, NULL, NULL, &r), ATTN_OK);
	ck_assert_int_eq(r.status, ATTN_CASE_OK);
	attn_case_result_free(&r);

	/* the roof of another thread count does not apply: the big case goes on to
	 * the memory check, which an explicit small limit then fails */
	c = make_case("flash", 1 << 20);
	c.threads = 2;
	o.mem_limit = 1 << 20;
	ck_assert_int_eq(attn_case_run(&c, &o, NULL, NULL, &r), ATTN_OK);
	ck_assert_int_eq(r.status, ATTN_CASE_SKIPPED_MEMORY);
	attn_case_result_free(&r);
}
END_TEST

/*
 * Figures a method reports through its ctx become metrics (the mean over the
 * timed calls; a name the protocol cannot carry is dropped), with the
 * figures derived from them; with dump_mask, head 0's block mask comes back.
 * In a forked child and in process alike.
 */
START_TEST(method_figures_and_mask)
{
	for (int isolate = 1; isolate >= 0; isolate--) {
		struct attn_case c = make_case("report_plugin", 64);
		struct attn_run_opts o = quick();
		o.check_max_flops = 0;
		o.isolate = isolate;
		o.dump_mask = 1;
		struct attn_case_result r;
		ck_assert_int_eq(attn_case_run(&c, &o, NULL, NULL, &r), ATTN_OK);
		ck_assert_msg(r.status == ATTN_CASE_OK, "%s", r.message);
		const struct attn_metric *d = attn_result_metric(&r, "density");
		ck_assert(d && d->has_value && d->value == 0.25);
		ck_assert(attn_result_metric(&r, "routing_ns")->value == 1000.0);
		ck_assert(attn_result_metric(&r, "Bad") == NULL);
		const struct attn_metric *g = attn_result_metric(&r, "gflops_computed");
		const struct attn_metric *med = attn_result_metric(&r, "median_ns");
		ck_assert(g && g->has_value && fabs(g->value - 4e6 / med->value) < 1e-9 * g->value);
		ck_assert(attn_result_metric(&r, "routing_frac")->has_value);
		ck_assert_int_eq(r.mask_nqb, 2);
		ck_assert_int_eq(r.mask_nkb, 3);
		ck_assert(r.mask && r.mask[0] == 1 && r.mask[1] == 0 && r.mask[4] == 1);
		attn_case_result_free(&r);
		ck_assert_ptr_null(r.mask);
	}
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

/* Three memory figures, each named for what it is, and all growing as N^2. */
START_TEST(memory_figures_quadratic)
{
	double fig[2][3];
	const char *names[3] = {"workspace_bytes", "tracked_peak_bytes", "peak_rss_delta_bytes"};
	for (int k = 0; k < 2; k++) {
		struct attn_case c = make_case("quadratic_plugin", k ? 4096 : 2048);
		struct attn_run_opts o = quick();
		o.counters = "none";
		struct attn_case_result r;
		ck_assert_int_eq(attn_case_run(&c, &o, NULL, NULL, &r), ATTN_OK);
		ck_assert_msg(r.status == ATTN_CASE_OK, "%s", r.message);
		for (int i = 0; i < 3; i++) {
			const struct attn_metric *m = attn_result_metric(&r, names[i]);
			ck_assert_msg(m && m->has_value, "%s missing", names[i]);
			fig[k][i] = m->value;
		}
		attn_case_result_free(&r);
	}
	/* Doubling N quadruples the N^2 workspace (16 MiB -> 64 MiB). */
	ck_assert_double_eq_tol(fig[1][0] / fig[0][0], 4.0, 1e-9);
	ck_assert_double_ge(fig[1][1] / fig[0][1], 3.5);
	ck_assert_double_ge(fig[1][2] / fig[0][2], 3.0);
	/* The RSS saw at least the workspace that was touched. */
	ck_assert_double_ge(fig[1][2], 0.9 * fig[1][0]);
}
END_TEST

/* Software counters are counted per sample; hardware ones are NULL here. */
START_TEST(counters_per_sample)
{
	struct attn_case c = make_case("flash", 256);
	struct attn_run_opts o = quick();
	o.counters = "perf::TASK-CLOCK,perf::PAGE-FAULTS,PAPI_TOT_INS";
	struct attn_case_result r;
	ck_assert_int_eq(attn_case_run(&c, &o, NULL, NULL, &r), ATTN_OK);
	ck_assert_msg(r.status == ATTN_CASE_OK, "%s", r.message);
	ck_assert_int_eq(r.n_counters, 3);
	ck_assert_str_eq(r.counter_names[0], "perf::TASK-CLOCK");
	int ok = 0;
	for (int k = 0; k < r.n_samples; k++)
		ok += r.sample_counters[(size_t)k * 3].state == ATTN_COUNTER_OK &&
		      r.sample_counters[(size_t)k * 3].value > 0;
	ck_assert_int_eq(ok, r.n_samples);
	const struct attn_metric *tc = attn_result_metric(&r, "counter:perf::TASK-CLOCK");
	ck_assert(tc && tc->has_value && tc->value > 0);
	/*
	 * Task clock per call is at most the wall time per call on one thread
	 * (less when the machine is busy and the thread waits for a core).
	 */
	const struct attn_metric *util = attn_result_metric(&r, "cpu_util");
	ck_assert(util && util->has_value && util->value > 0.05 && util->value < 1.5);
	const struct attn_metric *ins = attn_result_metric(&r, "counter:PAPI_TOT_INS");
	ck_assert(ins != NULL);
	if (!ins->has_value) {
		/* No PMU: every reading unavailable and IPC NULL, never 0. */
		ck_assert_int_eq(r.sample_counters[2].state, ATTN_COUNTER_UNAVAILABLE);
		ck_assert(!attn_result_metric(&r, "ipc")->has_value);
	}
	ck_assert_str_ne(r.cpus, "");
	attn_case_result_free(&r);
}
END_TEST

/* Fractions of roof and the working set's cache level come from the opts. */
START_TEST(roof_fractions_and_cache_level)
{
	struct attn_roof roof = {
	    .threads = 1, .fma_gflops = 1000, .sgemm_gflops = 500, .triad_gbps = 10};
	struct attn_case c = make_case("flash", 256);
	struct attn_run_opts o = quick();
	o.roofs = &roof;
	o.n_roofs = 1;
	o.cache_bytes[0] = 48 << 10;
	o.cache_bytes[1] = 2 << 20;
	o.cache_bytes[2] = 300 << 20;
	struct attn_case_result r;
	ck_assert_int_eq(attn_case_run(&c, &o, NULL, NULL, &r), ATTN_OK);
	double g = attn_result_metric(&r, "gflops")->value;
	ck_assert_double_eq_tol(attn_result_metric(&r, "frac_sgemm")->value, g / 500, 1e-12);
	ck_assert_double_eq_tol(attn_result_metric(&r, "frac_fma")->value, g / 1000, 1e-12);
	/* 2 heads x 256 x 32 floats x (q, k, v, out) = 256 KiB: L2. */
	ck_assert_double_eq(attn_result_metric(&r, "cache_level")->value, 2);
	attn_case_result_free(&r);
	/* No roof at this thread count: NULL, not 0. */
	c.threads = 2;
	ck_assert_int_eq(attn_case_run(&c, &o, NULL, NULL, &r), ATTN_OK);
	ck_assert(!attn_result_metric(&r, "frac_sgemm")->has_value);
	attn_case_result_free(&r);
}
END_TEST

/* Interleaved repetitions: every case gets its samples, failures stay contained. */
START_TEST(interleaved_group)
{
	struct attn_case cs[4] = {make_case("flash", 128), make_case("softmax", 128),
	                          make_case("crash_plugin", 128), make_case("hog_plugin", 128)};
	struct attn_case_result r[4];
	struct attn_run_opts o = quick();
	o.counters = "perf::TASK-CLOCK";
	ck_assert_int_eq(attn_cases_run_interleaved(cs, 4, &o, r), ATTN_OK);
	ck_assert_msg(r[0].status == ATTN_CASE_OK, "%s", r[0].message);
	ck_assert_msg(r[1].status == ATTN_CASE_OK, "%s", r[1].message);
	ck_assert_int_eq(r[2].status, ATTN_CASE_CRASHED);
	ck_assert_int_eq(r[3].status, ATTN_CASE_SKIPPED_MEMORY);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_ge(r[i].n_samples, o.min_reps);
		ck_assert(attn_result_metric(&r[i], "median_ns") != NULL);
		ck_assert(attn_result_metric(&r[i], "rel_err")->value <= 1e-5);
	}
	for (int i = 0; i < 4; i++)
		attn_case_result_free(&r[i]);
}
END_TEST

/* A case that hangs in an interleaved group times out alone. */
START_TEST(interleaved_hang)
{
	struct attn_case cs[2] = {make_case("hang_plugin", 64), make_case("flash", 64)};
	struct attn_case_result r[2];
	struct attn_run_opts o = quick();
	o.timeout_s = 1;
	ck_assert_int_eq(attn_cases_run_interleaved(cs, 2, &o, r), ATTN_OK);
	ck_assert_int_eq(r[0].status, ATTN_CASE_TIMEOUT);
	ck_assert_msg(r[1].status == ATTN_CASE_OK, "%s", r[1].message);
	attn_case_result_free(&r[0]);
	attn_case_result_free(&r[1]);
}
END_TEST

/* Compact placement pins one thread per PU, in order. */
START_TEST(binding_recorded)
{
	struct attn_case c = make_case("flash", 128);
	c.threads = 2;
	struct attn_run_opts o = quick();
	struct attn_case_result r;
	ck_assert_int_eq(attn_case_run(&c, &o, NULL, NULL, &r), ATTN_OK);
	ck_assert_msg(r.status == ATTN_CASE_OK, "%s", r.message);
	int pus[2];
	ck_assert_int_eq(attn_bind_plan(2, ATTN_BIND_COMPACT, pus, err, sizeof(err)), ATTN_OK);
	char want[64];
	snprintf(want, sizeof(want), "%d,%d", pus[0], pus[1]);
	ck_assert_str_eq(r.cpus, want);
	attn_case_result_free(&r);
}
END_TEST

/* --cold-cache: the flush runs before each repetition and stays out of the case's memory. */
START_TEST(cold_cache_runs)
{
	struct attn_case c = make_case("flash", 256);
	struct attn_run_opts o = quick();
	o.counters = "none";
	struct attn_case_result warm, cold;
	ck_assert_int_eq(attn_case_run(&c, &o, NULL, NULL, &warm), ATTN_OK);
	o.flush_bytes = 64 << 20;
	ck_assert_int_eq(attn_case_run(&c, &o, NULL, NULL, &cold), ATTN_OK);
	ck_assert_msg(cold.status == ATTN_CASE_OK, "%s", cold.message);
	ck_assert_int_ge(cold.n_samples, o.min_reps);
	/* The 64 MiB flush buffer is resident before the baseline: not the case's. */
	ck_assert_double_lt(attn_result_metric(&cold, "peak_rss_delta_bytes")->value,
	                    attn_result_metric(&warm, "peak_rss_delta_bytes")->value + (8 << 20));
	attn_case_result_free(&warm);
	attn_case_result_free(&cold);
}
END_TEST

/* Every sample of a probed case has its sgemm time, every way a case runs; none without. */
START_TEST(roof_probe_every_sample)
{
	struct attn_run_opts o = quick();
	o.counters = "perf::TASK-CLOCK"; /* the probe's line follows the counters' */
	o.roof_probe = 1;
	struct attn_case c = make_case("flash", 128);
	struct attn_case_result r;
	for (int isolate = 0; isolate < 2; isolate++) {
		o.isolate = isolate;
		ck_assert_int_eq(attn_case_run(&c, &o, NULL, NULL, &r), ATTN_OK);
		ck_assert_msg(r.status == ATTN_CASE_OK, "%s", r.message);
		ck_assert_ptr_nonnull(r.sample_roof_ns);
		for (int k = 0; k < r.n_samples; k++)
			ck_assert_msg(r.sample_roof_ns[k] > 1e3 && r.sample_roof_ns[k] < 1e9,
			              "sample %d: roof %g ns", k, r.sample_roof_ns[k]);
		attn_case_result_free(&r);
	}

	/* Interleaved: P lines between S lines must not upset the parent's count of time. */
	struct attn_case cs[2] = {make_case("flash", 128), make_case("window", 128)};
	struct attn_case_result rr[2];
	o.isolate = 1;
	/* so many that only min_time, counted right, can end the samples */
	o.min_time_s = 0.03;
	o.max_reps = 1000000;
	ck_assert_int_eq(attn_cases_run_interleaved(cs, 2, &o, rr), ATTN_OK);
	for (int i = 0; i < 2; i++) {
		ck_assert_msg(rr[i].status == ATTN_CASE_OK, "%s", rr[i].message);
		ck_assert_int_lt(rr[i].n_samples, o.max_reps);
		ck_assert_ptr_nonnull(rr[i].sample_roof_ns);
		for (int k = 0; k < rr[i].n_samples; k++)
			ck_assert_double_gt(rr[i].sample_roof_ns[k], 1e3);
		attn_case_result_free(&rr[i]);
	}

	o.roof_probe = 0;
	ck_assert_int_eq(attn_case_run(&c, &o, NULL, NULL, &r), ATTN_OK);
	ck_assert_msg(r.status == ATTN_CASE_OK, "%s", r.message);
	ck_assert_ptr_null(r.sample_roof_ns);
	attn_case_result_free(&r);
}
END_TEST

/* The fastest sample of one short run of `c`, in ns. */
static double fastest_ns(const struct attn_case *c, const struct attn_run_opts *o)
{
	struct attn_case_result r;
	ck_assert_int_eq(attn_case_run(c, o, NULL, NULL, &r), ATTN_OK);
	ck_assert_msg(r.status == ATTN_CASE_OK, "%s", r.message);
	double ns = attn_result_metric(&r, "min_ns")->value;
	attn_case_result_free(&r);
	return ns;
}

/*
 * The ratio of a case's fastest sample with `inject` set over without, the
 * median over rounds that alternate the two. The fastest sample, not the
 * median: on a shared machine whose other load takes turns on the case's
 * CPU, a sample twice as long is more than twice as likely to be cut by a
 * turn. Alternating short runs: these machines have phases of seconds in
 * which everything runs at half speed, and two runs one after the other
 * can fall on either side of one.
 */
static double injected_ratio(const char *method, const char *inject, double factor)
{
	struct attn_run_opts o = quick();
	o.counters = "none";
	o.min_reps = 10;
	o.min_time_s = 0.005;
	struct attn_case c = make_case(method, 256);
	double ratio[7];
	for (int k = 0; k < 7; k++) {
		o.inject_method = NULL;
		double plain = fastest_ns(&c, &o);
		o.inject_method = inject;
		o.inject_factor = factor;
		ratio[k] = fastest_ns(&c, &o) / plain;
	}
	return attn_stats_median_inplace(ratio, 7);
}

/* An injected factor of 2 about doubles the method's time, and only its own. */
START_TEST(injected_slowdown)
{
	double ratio = injected_ratio("window", "window", 2.0);
	ck_assert_msg(ratio >= 1.6 && ratio <= 2.6,
	              "ratio %g of the fastest samples, expected "
	              "about 2",
	              ratio);
	/* flash is not window: its samples are not stretched (a loose bound, for the noise). */
	ratio = injected_ratio("flash", "window", 2.0);
	ck_assert_msg(ratio >= 0.6 && ratio <= 1.4, "flash's ratio %g, expected about 1", ratio);
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
	tcase_add_test(tc, memory_figures_quadratic);
	tcase_add_test(tc, time_predicted);
	tcase_add_test(tc, method_figures_and_mask);
	tcase_add_test(tc, counters_per_sample);
	tcase_add_test(tc, roof_fractions_and_cache_level);
	tcase_add_test(tc, interleaved_group);
	tcase_add_test(tc, interleaved_hang);
	tcase_add_test(tc, binding_recorded);
	tcase_add_test(tc, cold_cache_runs);
	tcase_add_test(tc, roof_probe_every_sample);
	tcase_add_test(tc, injected_slowdown);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	int failed = attn_test_run(s, CK_NORMAL);
	return failed != 0;
}
