/*
 * A plugin written against ABI version 1, as plugins built before version 2
 * were: its descriptor has the version 1 layout (method.h's struct
 * attn_method_v1: no data, callbacks without the descriptor). The registry
 * must load it through its adapter and the verbs run it like any method:
 * an exact softmax attention, so the harness's oracle checks it, with a
 * supports() that refuses what tp_attention cannot hold, so the adapter's
 * forwarding of the reason is exercised too.
 */
#include "common_plugin.h"

static int v1_supports(const struct attn_shape *s, const struct attn_params *p, char *msg,
                       size_t msglen)
{
	(void)p;
	if (s->d > 1024) {
		snprintf(msg, msglen, "v1_exact holds D <= 1024, not %lld", (long long)s->d);
		return ATTN_ERR_UNSUPPORTED;
	}
	return ATTN_OK;
}

static size_t v1_workspace(const struct attn_shape *s, const struct attn_params *p, int threads)
{
	(void)s, (void)p, (void)threads;
	return 0;
}

/* 4 D per visible (query, key) pair, as the built-ins count. */
static double v1_flops(const struct attn_shape *s, const struct attn_params *p)
{
	(void)p;
	const double nq = (double)attn_shape_nq(s), n = (double)s->n;
	const double pairs = s->causal && s->mode == ATTN_MODE_PREFILL ? nq * (nq + 1) / 2 : nq * n;
	return 4.0 * (double)s->d * pairs * (double)(s->batch * s->heads);
}

static double v1_bytes(const struct attn_shape *s, const struct attn_params *p)
{
	(void)p;
	return 4.0 * (double)s->d *
	       (2.0 * (double)(s->batch * s->heads * attn_shape_nq(s)) +
	        2.0 * (double)(s->batch * s->kv_heads * s->n));
}

static int v1_forward(const struct attn_shape *s, const struct attn_params *p,
                      const struct attn_inputs *in, float *out, void *ws,
                      const struct attn_ctx *ctx)
{
	(void)p, (void)ws, (void)ctx;
	tp_attention(s, in, out);
	return ATTN_OK;
}

static const struct attn_method_v1 v1_exact = {
    .abi_version = ATTN_ABI_VERSION_1,
    .name = "v1_exact",
    .family = ATTN_FAMILY_FULL,
    .category = "test",
    .summary = "exact softmax attention from a plugin built for ABI version 1",
    .citation = "attnbench tests",
    .flags = ATTN_METHOD_EXACT,
    .time_exp = 2,
    .mem_exp = 0,
    .tolerance = 1e-5,
    .supports = v1_supports,
    .workspace_bytes = v1_workspace,
    .flops = v1_flops,
    .bytes = v1_bytes,
    .forward = v1_forward,
};

/* A version 1 entry point: the array's element type is the ABI's, the layout version 1's. */
const struct attn_method *const *attn_plugin_methods(void);
const struct attn_method *const *attn_plugin_methods(void)
{
	static const struct attn_method *const list[] = {
	    (const struct attn_method *)(const void *)&v1_exact, NULL};
	return list;
}
