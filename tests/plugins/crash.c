/* A plugin whose forward() segfaults: the runner must record `crashed`. */
#include "common_plugin.h"

static int forward(const struct attn_method *m, const struct attn_shape *s,
                   const struct attn_params *p, const struct attn_inputs *in, float *out, void *ws,
                   const struct attn_ctx *ctx)
{
	(void)m;
	(void)s, (void)p, (void)in, (void)out, (void)ws, (void)ctx;
	volatile float *volatile bad = NULL;
	*bad = 1.0f;
	return 0;
}

TP_METHOD(crash_method, "crash_plugin", forward, tp_workspace)
