/*
 * A plugin whose summary has no NUL within 4096 bytes: it must be refused
 * for length, the loader reading no further than its bound.
 */
#include "common_plugin.h"

static char summary[4096];

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
    .name = "hostile_unterminated",
    .family = ATTN_FAMILY_FULL,
    .category = "test",
    .summary = summary,
    .flags = ATTN_METHOD_EXACT,
    .time_exp = 2,
    .tolerance = 1e-5,
    .workspace_bytes = tp_workspace,
    .flops = tp_zero,
    .bytes = tp_zero,
    .forward = forward,
};

const struct attn_method *const *attn_plugin_methods(void);
const struct attn_method *const *attn_plugin_methods(void)
{
	static const struct attn_method *const list[] = {&m, NULL};
	memset(summary, 'x', sizeof(summary));
	return list;
}
