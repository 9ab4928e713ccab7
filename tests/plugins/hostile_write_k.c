/*
 * A plugin that L2-normalises K in place through its const pointer, then
 * computes exact attention of what it made of K: checked against the buffers
 * after forward() it looks right, so the harness must compare the inputs
 * with what it generated and fail it as having written into its input.
 */
#include "common_plugin.h"

static int forward(const struct attn_method *m, const struct attn_shape *s,
                   const struct attn_params *p, const struct attn_inputs *in, float *out, void *ws,
                   const struct attn_ctx *ctx)
{
	(void)m;
	(void)p, (void)ws, (void)ctx;
	float *k = (float *)in->k; /* the defect: const cast away */
	for (int64_t r = 0; r < s->batch * s->kv_heads * s->n; r++) {
		double ss = 0;
		for (int64_t c = 0; c < s->d; c++)
			ss += (double)k[r * s->d + c] * k[r * s->d + c];
		double inv = ss > 0 ? 1 / tp_sqrt(ss) : 0;
		for (int64_t c = 0; c < s->d; c++)
			k[r * s->d + c] = (float)(k[r * s->d + c] * inv);
	}
	tp_attention(s, in, out);
	return 0;
}

TP_METHOD(hostile_write_k, "hostile_write_k", forward, tp_workspace)
