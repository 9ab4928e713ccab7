/* A plugin that claims to be exact and returns zeros: the oracle check must catch it. */
#include "common_plugin.h"

static int forward(const struct attn_method *m, const struct attn_shape *s,
                   const struct attn_params *p, const struct attn_inputs *in, float *out, void *ws,
                   const struct attn_ctx *ctx)
{
	(void)m;
	(void)p, (void)in, (void)ws, (void)ctx;
	int64_t n = s->batch * s->heads * attn_shape_nq(s) * s->d;
	for (int64_t i = 0; i < n; i++)
		out[i] = 0.0f;
	return 0;
}

TP_METHOD(wrong_method, "wrong_plugin", forward, tp_workspace)
