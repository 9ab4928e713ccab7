/* A plugin whose method is named like a built-in: the loader must refuse the clash. */
#include "common_plugin.h"

static int forward(const struct attn_method *m, const struct attn_shape *s,
                   const struct attn_params *p, const struct attn_inputs *in, float *out, void *ws,
                   const struct attn_ctx *ctx)
{
	(void)m;
	(void)s, (void)p, (void)in, (void)out, (void)ws, (void)ctx;
	return 0;
}

TP_METHOD(dup_method, "flash", forward, tp_workspace)
