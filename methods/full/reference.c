/*
 * `reference`: the float64 softmax reference wrapped as a method, so that it
 * can be run, listed and timed like any other (an oracle, not a contender:
 * flagged ORACLE_ONLY, it stays out of default sweeps). forward() computes in
 * double into the workspace, with the same loops as the oracle, and rounds
 * the result to float once at the end.
 */
#include "kernels/kernels.h"

/* Workspace: the float64 output (B, H, NQ, D), then one row of N scores. */
static size_t ref_out_count(const struct attn_shape *s)
{
	return (size_t)s->batch * (size_t)s->heads * (size_t)attn_shape_nq(s) * (size_t)s->d;
}

static int ref_supports(const struct attn_method *m, const struct attn_shape *s,
                        const struct attn_params *p, char *msg, size_t msglen)
{
	(void)m;
	(void)p;
	return attn__check_shape(s, msg, msglen);
}

static size_t ref_workspace_bytes(const struct attn_method *m, const struct attn_shape *s,
                                  const struct attn_params *p, int threads)
{
	(void)m;
	(void)p;
	(void)threads;
	return (ref_out_count(s) + (size_t)s->n) * sizeof(double);
}

static double ref_flops(const struct attn_method *m, const struct attn_shape *s,
                        const struct attn_params *p)
{
	(void)m;
	(void)p;
	return attn__softmax_flops(s);
}

static double ref_bytes(const struct attn_method *m, const struct attn_shape *s,
                        const struct attn_params *p)
{
	(void)m;
	(void)p;
	return attn__qkvo_bytes(s);
}

/* out (B, H, NQ, D) = float(reference in double). */
static int ref_forward(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p, const struct attn_inputs *in, float *out,
                       void *ws, const struct attn_ctx *ctx)
{
	(void)m;
	(void)p;
	(void)ctx;
	double *o64 = ws;                        /* (B, H, NQ, D) */
	double *scores = o64 + ref_out_count(s); /* (N) */
	int rc = attn__reference_softmax_ws(s, in, o64, scores);
	if (rc != ATTN_OK)
		return rc;
	for (size_t i = 0, count = ref_out_count(s); i < count; i++)
		out[i] = (float)o64[i];
	return ATTN_OK;
}

static int ref_oracle(const struct attn_method *m, const struct attn_shape *s,
                      const struct attn_params *p, const struct attn_inputs *in, double *out,
                      const struct attn_ctx *ctx)
{
	(void)m;
	(void)p;
	(void)ctx;
	return attn_reference_softmax(s, in, out);
}

const struct attn_method attn_method_reference = {
    .abi_version = ATTN_ABI_VERSION,
    .name = "reference",
    .family = ATTN_FAMILY_FULL,
    .category = "softmax",
    .summary = "float64 softmax attention in obvious loops (the oracle, rounded to float)",
    .citation = "Vaswani et al. 2017, Attention Is All You Need",
    .flags = ATTN_METHOD_EXACT | ATTN_METHOD_ORACLE_ONLY,
    .time_exp = 2.0,
    .mem_exp = 1.0, /* the float64 output, (B, H, N, D) doubles */
    /* Only the final rounding to float separates it from its oracle. */
    .tolerance = 1e-6,
    .inputs = 0,
    .n_params = 0,
    .params = NULL,
    .supports = ref_supports,
    .workspace_bytes = ref_workspace_bytes,
    .flops = ref_flops,
    .bytes = ref_bytes,
    .prepare = NULL,
    .forward = ref_forward,
    .oracle = ref_oracle,
};
