/* A plugin whose workspace_bytes() segfaults: the case is `crashed`, the sweep goes on. */
#include "common_plugin.h"

static size_t ws_crash(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p, int threads)
{
	(void)m;
	(void)s, (void)p, (void)threads;
	volatile size_t *volatile bad = NULL;
	return *bad;
}

static int forward(const struct attn_method *m, const struct attn_shape *s,
                   const struct attn_params *p, const struct attn_inputs *in, float *out, void *ws,
                   const struct attn_ctx *ctx)
{
	(void)m;
	(void)p, (void)ws, (void)ctx;
	tp_attention(s, in, out);
	return 0;
}

TP_METHOD(hostile_ws_crash, "hostile_ws_crash", forward, ws_crash)
