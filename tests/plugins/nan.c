/* A plugin that writes NaN: the runner must fail the check, not store it. */
#include <math.h>

#include "common_plugin.h"

static int forward(const struct attn_method *m, const struct attn_shape *s,
                   const struct attn_params *p, const struct attn_inputs *in, float *out, void *ws,
                   const struct attn_ctx *ctx)
{
	(void)m;
	(void)p, (void)in, (void)ws, (void)ctx;
	int64_t n = s->batch * s->heads * attn_shape_nq(s) * s->d;
	for (int64_t i = 0; i < n; i++)
		out[i] = i == n / 2 ? NAN : 0.0f;
	return 0;
}

TP_METHOD(nan_method, "nan_plugin", forward, tp_workspace)
