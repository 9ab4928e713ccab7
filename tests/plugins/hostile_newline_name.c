/* A plugin with a newline in its name: refused. */
#include "common_plugin.h"

static int forward(const struct attn_method *m, const struct attn_shape *s,
                   const struct attn_params *p, const struct attn_inputs *in, float *out, void *ws,
                   const struct attn_ctx *ctx)
{
	(void)m;
	(void)p, (void)ws, (void)ctx;
	tp_attention(s, in, out);
	return 0;
}

static const struct attn_method m = {
    .abi_version = ATTN_ABI_VERSION,
    .name = "hostile\nFORGED LOG LINE",
    .family = ATTN_FAMILY_FULL,
    .category = "test",
    .summary = "a method whose name holds a newline",
    .flags = ATTN_METHOD_EXACT,
    .time_exp = 2,
    .tolerance = 1e-5,
    .workspace_bytes = tp_workspace,
    .flops = tp_zero,
    .bytes = tp_zero,
    .forward = forward,
};

TP_ENTRY(&m)
