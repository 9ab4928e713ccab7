/*
 * Four methods whose forward() is right but whose analytic figures are not
 * figures: flops() NaN, +Inf or negative, bytes() negative. Each case must be
 * `failed` with a message naming the callback and the value, never stored
 * as a GFLOP/s.
 */
#include "common_plugin.h"

static double f_nan(const struct attn_method *m, const struct attn_shape *s,
                    const struct attn_params *p)
{
	(void)m;
	(void)s, (void)p;
	return __builtin_nan("");
}

static double f_inf(const struct attn_method *m, const struct attn_shape *s,
                    const struct attn_params *p)
{
	(void)m;
	(void)s, (void)p;
	return __builtin_inf();
}

static double f_neg(const struct attn_method *m, const struct attn_shape *s,
                    const struct attn_params *p)
{
	(void)m;
	(void)s, (void)p;
	return -1000;
}

static int forward(const struct attn_method *m, const struct attn_shape *s,
                   const struct attn_params *p, const struct attn_inputs *in, float *out, void *ws,
                   const struct attn_ctx *ctx)
{
	(void)m;
	(void)p, (void)ws, (void)ctx;
	tp_attention(s, in, out);
	return 0;
}

TP_DESCRIPTOR(flops_nan, "hostile_flops_nan", forward, tp_workspace, NULL, f_nan, tp_zero)
TP_DESCRIPTOR(flops_inf, "hostile_flops_inf", forward, tp_workspace, NULL, f_inf, tp_zero)
TP_DESCRIPTOR(flops_neg, "hostile_flops_neg", forward, tp_workspace, NULL, f_neg, tp_zero)
TP_DESCRIPTOR(bytes_neg, "hostile_bytes_neg", forward, tp_workspace, NULL, tp_zero, f_neg)
TP_ENTRY(&flops_nan, &flops_inf, &flops_neg, &bytes_neg)
