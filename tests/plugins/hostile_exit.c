/*
 * A plugin whose forward() is right for three calls and then calls exit(0):
 * a case child that exits 0 before it reported must be `failed`, not `ok`.
 */
#include "common_plugin.h"

static int forward(const struct attn_method *m, const struct attn_shape *s,
                   const struct attn_params *p, const struct attn_inputs *in, float *out, void *ws,
                   const struct attn_ctx *ctx)
{
	(void)m;
	(void)p, (void)ws, (void)ctx;
	static int calls;
	if (++calls > 3)
		exit(0);
	tp_attention(s, in, out);
	return 0;
}

TP_METHOD(hostile_exit, "hostile_exit", forward, tp_workspace)
