/*
 * A plugin that declares a workspace of 1 PiB: the runner must predict that
 * it cannot fit and skip it before forking.
 */
#include "common_plugin.h"

static size_t huge(const struct attn_method *m, const struct attn_shape *s,
                   const struct attn_params *p, int threads)
{
	(void)m;
	(void)s, (void)p, (void)threads;
	return (size_t)1 << 50;
}

static int forward(const struct attn_method *m, const struct attn_shape *s,
                   const struct attn_params *p, const struct attn_inputs *in, float *out, void *ws,
                   const struct attn_ctx *ctx)
{
	(void)m;
	(void)s, (void)p, (void)in, (void)out, (void)ws, (void)ctx;
	return 0;
}

TP_METHOD(hog_method, "hog_plugin", forward, huge)
