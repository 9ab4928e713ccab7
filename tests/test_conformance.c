/*
 * Conformance: every registered method - the built-ins as generated from
 * methods/, plus the example external plugin - against its float64 oracle
 * (softmax reference for exact methods), across awkward shapes: N of 1 and
 * not a multiple of any block, tiny and usual D, GQA, causal and not,
 * prefill and decode, one and two threads. A method added later is tested
 * here without anyone editing this file. Output is guard-checked and
 * NaN-checked by the runner itself.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "attnbench/registry.h"
#include "attnbench/runner.h"
#include "attnbench/spec.h"
#include "attnbench/status.h"

#include "check_main.h"

static struct attn_registry *reg;

static void conform(const struct attn_method *m)
{
	static const int64_t ns[] = {1, 5, 64, 100, 257};
	static const int64_t ds[] = {8, 64};
	static const int64_t kvhs[] = {4, 2, 1};
	struct attn_run_opts o;
	attn_run_opts_check(&o, 0);
	struct attn_case c = {.method = m, .seed = 11};
	attn_params_default(m, &c.params);
	int ran = 0;
	for (size_t ni = 0; ni < sizeof(ns) / sizeof(*ns); ni++)
		for (size_t di = 0; di < sizeof(ds) / sizeof(*ds); di++)
			for (size_t ki = 0; ki < sizeof(kvhs) / sizeof(*kvhs); ki++)
				for (int causal = 0; causal < 2; causal++)
					for (int mode = 0; mode < 2; mode++)
						for (int th = 1; th <= 2; th++) {
							c.shape = (struct attn_shape){
							    .batch = 2,
							    .heads = 4,
							    .kv_heads = kvhs[ki],
							    .n = ns[ni],
							    .d = ds[di],
							    .causal = causal,
							    .mode = mode ? ATTN_MODE_DECODE
							                 : ATTN_MODE_PREFILL};
							c.threads = th;
							struct attn_case_result r;
							ck_assert_int_eq(
							    attn_case_run(&c, &o, NULL, NULL, &r),
							    ATTN_OK);
							if (r.status != ATTN_CASE_UNSUPPORTED) {
								char key[1024];
								attn_case_key(&c, key, sizeof(key));
								ck_assert_msg(
								    r.status == ATTN_CASE_OK,
								    "%s: %s: %s", key,
								    attn_case_status_name(r.status),
								    r.message);
								const struct attn_metric *e =
								    attn_result_metric(&r,
								                       "rel_err");
								ck_assert_msg(
								    e && e->has_value &&
								        e->value <= m->tolerance,
								    "%s: error %g above %g", key,
								    e ? e->value : -1,
								    m->tolerance);
								ran++;
							}
							attn_case_result_free(&r);
						}
	ck_assert_msg(ran > 0, "%s supports none of the conformance shapes", m->name);
}

START_TEST(every_method)
{
	const struct attn_method *m = attn_registry_at(reg, _i);
	conform(m);
}
END_TEST

int main(void)
{
	char err[1024];
	if (attn_registry_init(&reg, err, sizeof(err)) ||
	    attn_registry_load_plugin(reg, ATTN_EXAMPLE_PLUGIN, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	Suite *s = suite_create("conformance");
	TCase *tc = tcase_create("methods");
	/* One test per registered method, so a failure names it. */
	tcase_add_loop_test(tc, every_method, 0, attn_registry_count(reg));
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);
	int failed = attn_test_run(s, CK_VERBOSE);
	attn_registry_free(reg);
	return failed != 0;
}
