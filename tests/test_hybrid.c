/*
 * The hybrid stacks (methods/hybrid/hybrid.c): the output is the sum of the
 * layers' outputs (checked against the layers run one by one), the memory a
 * stack holds at context N is reported and is what a hybrid saves against
 * the all-softmax stack of the same depth, and a shape a layer cannot take
 * is refused with that layer's reason. The oracle comparison of every stack
 * is test_conformance's.
 */
#include <check.h>
#include <math.h>
#include <string.h>

#include "attnbench/method.h"
#include "attnbench/spec.h"
#include "attnbench/workload.h"
#include "check_main.h"
#include "method_check.h"

extern const struct attn_method attn_method_hybrid;
extern const struct attn_method attn_method_flash;
extern const struct attn_method attn_method_lightning;

static struct attn_params hparams(int stack, int full)
{
	struct attn_params p = {.count = 2};
	p.v[0] = stack;
	p.v[1] = full;
	return p;
}

/* What the last ctx report said of kv_state_bytes. */
static double reported;
static void grab(const struct attn_ctx *ctx, const char *name, double v, const char *unit)
{
	(void)ctx, (void)unit;
	if (strcmp(name, "kv_state_bytes") == 0)
		reported = v;
}

/* minimax = lightning x 7 + flash: the stack's output is their sum. */
START_TEST(sum_of_layers)
{
	const struct attn_shape s = mk_shape(1, 2, 1, 100, 32, 1, ATTN_MODE_PREFILL);
	struct attn_workload w;
	ck_assert_int_eq(attn_workload_alloc(&s, ATTN_INPUT_LOG_GATE, ATTN_DIST_GAUSSIAN, 3, &w),
	                 0);
	struct attn_params hp = hparams(0, 0), lp, fp;
	attn_params_default(&attn_method_lightning, &lp);
	attn_params_default(&attn_method_flash, &fp);
	float *h = run_method(&attn_method_hybrid, &s, &hp, &w.in, 1);
	float *l = run_method(&attn_method_lightning, &s, &lp, &w.in, 1);
	float *f = run_method(&attn_method_flash, &s, &fp, &w.in, 1);
	const size_t n = out_count(&s);
	for (size_t i = 0; i < n; i++)
		l[i] = 7.0f * l[i] + f[i];
	ck_assert_double_le(rel_err_f(h, l, n), 1e-5);
	free(h);
	free(l);
	free(f);
	attn_workload_free(&w);
}
END_TEST

/* At context 16384 each hybrid holds less than its all-softmax twin. */
START_TEST(state_bytes_saved)
{
	const struct attn_shape s = mk_shape(1, 4, 1, 16384, 64, 1, ATTN_MODE_DECODE);
	struct attn_workload w;
	ck_assert_int_eq(attn_workload_alloc(&s, ATTN_INPUT_LOG_GATE, ATTN_DIST_GAUSSIAN, 3, &w),
	                 0);
	for (int stack = 0; stack < 3; stack++) {
		double b[2];
		for (int full = 0; full < 2; full++) {
			struct attn_params p = hparams(stack, full);
			const struct attn_ctx ctx = {.threads = 1, .report = grab};
			reported = -1;
			free(run_method_ctx(&attn_method_hybrid, &s, &p, &w.in, &ctx));
			b[full] = reported;
		}
		/* all-softmax, 8 (or 6) layers of K and V: 2 KVH N D floats each */
		ck_assert_double_eq(b[1], (stack == 2 ? 6 : 8) * 2.0 * 16384 * 64 * 4);
		ck_assert_msg(b[0] > 0 && b[0] < b[1] / 3, "stack %d: %g vs %g", stack, b[0], b[1]);
	}
	attn_workload_free(&w);
}
END_TEST

START_TEST(refuses_with_layer_reason)
{
	const struct attn_shape s = mk_shape(1, 2, 1, 64, 32, 0, ATTN_MODE_PREFILL);
	struct attn_params p = hparams(1, 0); /* jamba: mamba2 is causal only */
	char msg[256] = "";
	ck_assert_int_eq(attn_method_hybrid.supports(&attn_method_hybrid, &s, &p, msg, sizeof msg),
	                 ATTN_ERR_UNSUPPORTED);
	ck_assert_msg(strstr(msg, "layer 0 (mamba2)") && strstr(msg, "causal only"), "%s", msg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hybrid");
	TCase *tc = tcase_create("stacks");
	tcase_add_test(tc, sum_of_layers);
	tcase_add_test(tc, state_bytes_saved);
	tcase_add_test(tc, refuses_with_layer_reason);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return attn_test_run(s, CK_NORMAL) != 0;
}
