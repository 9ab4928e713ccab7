/*
 * A plugin whose enum parameter has a 62-character choice, longer than the
 * spec grammar reads a word, so it could never be selected: refused.
 */
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

static const struct attn_param_spec params[] = {
    {"form", ATTN_PARAM_ENUM, 0, 0, 1,
     "short|a_choice_of_sixty_one_characters_xxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "which form"},
};

static const struct attn_method m = {
    .abi_version = ATTN_ABI_VERSION,
    .name = "hostile_long_choice",
    .family = ATTN_FAMILY_FULL,
    .category = "test",
    .summary = "an enum choice too long to select",
    .flags = ATTN_METHOD_EXACT,
    .time_exp = 2,
    .tolerance = 1e-5,
    .n_params = 1,
    .params = params,
    .workspace_bytes = tp_workspace,
    .flops = tp_zero,
    .bytes = tp_zero,
    .forward = forward,
};

TP_ENTRY(&m)
