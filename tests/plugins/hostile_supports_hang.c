/* A plugin whose supports() sleeps an hour: the case is `timeout`, the sweep goes on. */
#include "common_plugin.h"

static int supports(const struct attn_method *m, const struct attn_shape *s,
                    const struct attn_params *p, char *msg, size_t len)
{
	(void)m;
	(void)s, (void)p, (void)msg, (void)len;
	tp_note_pid();
	sleep(3600);
	return ATTN_OK;
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

TP_DESCRIPTOR(hostile_supports_hang, "hostile_supports_hang", forward, tp_workspace, supports,
              tp_zero, tp_zero)
TP_ENTRY(&hostile_supports_hang)
