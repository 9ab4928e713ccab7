/*
 * A plugin whose summary pointer points to no memory: reading it must crash
 * the probe, not the verb, and the plugin be refused saying so.
 */
#include <stdint.h>

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

static struct attn_method m = {
    .abi_version = ATTN_ABI_VERSION,
    .name = "hostile_badptr",
    .family = ATTN_FAMILY_FULL,
    .category = "test",
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
	m.summary = (const char *)(uintptr_t)16; /* the first page is never mapped */
	return list;
}
