/*
 * A plugin that claims to be exact and is, except at the last query row of
 * every head, which it leaves at zero (the kind of off-by-one at the end of
 * a causal sequence a kernel's tail loop makes). The sampled-row oracle must
 * catch it: a causal sample always holds the last rows.
 */
#include "common_plugin.h"

static int forward(const struct attn_method *m, const struct attn_shape *s,
                   const struct attn_params *p, const struct attn_inputs *in, float *out, void *ws,
                   const struct attn_ctx *ctx)
{
	(void)m;
	(void)p, (void)ws, (void)ctx;
	tp_attention(s, in, out);
	int64_t nq = attn_shape_nq(s), d = s->d;
	for (int64_t bh = 0; bh < s->batch * s->heads; bh++)
		for (int64_t c = 0; c < d; c++)
			out[(bh * nq + nq - 1) * d + c] = 0.0f;
	return 0;
}

TP_METHOD(lastrow_method, "lastrow_plugin", forward, tp_workspace)
