/*
 * A plugin whose output is right but which writes the 17th float past its
 * end, and only that one: just beyond a 64-byte (16-float) guard, where
 * guard bytes alone never look. The harness must name the overrun.
 */
#include "common_plugin.h"

static int forward(const struct attn_method *m, const struct attn_shape *s,
                   const struct attn_params *p, const struct attn_inputs *in, float *out, void *ws,
                   const struct attn_ctx *ctx)
{
	(void)m;
	(void)p, (void)ws, (void)ctx;
	tp_attention(s, in, out);
	volatile float *o = out; /* so the compiler keeps the stray stores */
	o[tp_out_count(s) + 16] = 42.0f;
	return 0;
}

TP_METHOD(hostile_out17, "hostile_out17", forward, tp_workspace)
