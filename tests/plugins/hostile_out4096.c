/*
 * A plugin whose output is right but which writes the 4096 floats after its
 * end (16 KiB, past any guard bytes and into the allocator's own data,
 * which used to end in glibc's abort by luck): the harness must name the
 * overrun.
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
	for (int64_t i = 0; i < 4096; i++)
		o[tp_out_count(s) + i] = 42.0f;
	return 0;
}

TP_METHOD(hostile_out4096, "hostile_out4096", forward, tp_workspace)
