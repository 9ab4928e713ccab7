/*
 * A plugin that sets V to 1 and outputs 1, which softmax attention of V = 1
 * is: against the buffers after forward() its error is 0, so the harness must
 * notice that it wrote into its input.
 */
#include "common_plugin.h"

static int forward(const struct attn_method *m, const struct attn_shape *s,
                   const struct attn_params *p, const struct attn_inputs *in, float *out, void *ws,
                   const struct attn_ctx *ctx)
{
	(void)m;
	(void)p, (void)ws, (void)ctx;
	float *v = (float *)in->v; /* the defect: const cast away */
	for (int64_t i = 0; i < s->batch * s->kv_heads * s->n * s->d; i++)
		v[i] = 1.0f;
	for (int64_t i = 0; i < tp_out_count(s); i++)
		out[i] = 1.0f;
	return 0;
}

TP_METHOD(hostile_write_v, "hostile_write_v", forward, tp_workspace)
