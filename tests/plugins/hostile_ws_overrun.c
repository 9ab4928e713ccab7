/*
 * A plugin that declares 4096 bytes of workspace and writes 8192: the
 * harness must say so, not end in glibc's "double free" abort.
 */
#include "common_plugin.h"

static size_t ws4k(const struct attn_method *m, const struct attn_shape *s,
                   const struct attn_params *p, int threads)
{
	(void)m;
	(void)s, (void)p, (void)threads;
	return 4096;
}

static int forward(const struct attn_method *m, const struct attn_shape *s,
                   const struct attn_params *p, const struct attn_inputs *in, float *out, void *ws,
                   const struct attn_ctx *ctx)
{
	(void)m;
	(void)p, (void)ctx;
	volatile unsigned char *w = ws;
	for (int i = 0; i < 8192; i++)
		w[i] = 0x5a;
	tp_attention(s, in, out);
	return 0;
}

TP_METHOD(hostile_ws_overrun, "hostile_ws_overrun", forward, ws4k)
