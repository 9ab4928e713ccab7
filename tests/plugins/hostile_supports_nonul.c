/*
 * A plugin whose supports() declines with a reason that fills the whole
 * buffer with 'x' and no NUL: the harness must not read past the buffer and
 * must record `unsupported` with a bounded message.
 */
#include "common_plugin.h"

static int supports(const struct attn_method *m, const struct attn_shape *s,
                    const struct attn_params *p, char *msg, size_t len)
{
	(void)m;
	(void)s, (void)p;
	memset(msg, 'x', len);
	return ATTN_ERR_UNSUPPORTED;
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

TP_DESCRIPTOR(hostile_supports_nonul, "hostile_supports_nonul", forward, tp_workspace, supports,
              tp_zero, tp_zero)
TP_ENTRY(&hostile_supports_nonul)
