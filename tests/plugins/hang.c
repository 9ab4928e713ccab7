/* A plugin whose forward() never returns: the runner must time it out. */
#include "common_plugin.h"

static int forward(const struct attn_method *m, const struct attn_shape *s,
                   const struct attn_params *p, const struct attn_inputs *in, float *out, void *ws,
                   const struct attn_ctx *ctx)
{
	(void)m;
	(void)s, (void)p, (void)in, (void)out, (void)ws, (void)ctx;
	for (volatile int spin = 1; spin;)
		;
	return 0;
}

TP_METHOD(hang_method, "hang_plugin", forward, tp_workspace)
