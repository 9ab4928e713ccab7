/*
 * `block_topk`: a block mask estimated from pooled scores, the idea of
 * MInference's block-sparse heads and FlexPrefill (Jiang et al. 2024; Lai et
 * al. 2025): before attending, score every (query block, key block) pair
 * cheaply by the means of its queries and keys,
 *
 *     q̄_i = mean of Q over query block i,   k̄_j = mean of K over key block j,
 *     S̄_ij = ⟨q̄_i, k̄_j⟩                         (N/b)×(N/b), j <= i if causal
 *
 * and keep, per query block i, the `topk` key blocks of largest S̄_ij, plus
 * always
 *   - the diagonal block j = i (a query's own neighbourhood, which carries
 *     most of the mass of local heads and which causality cuts in half), and
 *   - the first block j = 0, the attention sinks (StreamingLLM's
 *     observation that trained models park mass on the first tokens; also
 *     MInference's "A-shape" pattern). On the generated workloads it costs
 *     one block per row and holds the needle when one falls there.
 * Attention is then exact over the kept blocks (the engine in
 * methods/engines/blocksparse.c), causal on positions inside the diagonal.
 *
 * Cost: pooling O(N D), scoring one (N/b)×(N/b)×D GEMM (1/b² of dense),
 * selection O((N/b)² log k), attention O(N (topk + 2) b D). Decode: the
 * query itself scores the pooled key blocks (a pooled query of one row),
 * same rule, with the block of position N - 1 as the diagonal.
 *
 * flops() is nominal (topk + 2 blocks per row, fewer where causality leaves
 * fewer); forward() reports the kept pairs it actually computed.
 */
#include "engines/blocksparse.h"
#include "engines/route.h"
#include "kernels/kernels.h"

enum { BT_P_B = 0, BT_P_TOPK = 1 };

static const struct attn_param_spec bt_params[] = {
    ATTN__ROUTE_PARAM_B,
    {"topk", ATTN_PARAM_INT, 16, 0, 1 << 20, NULL,
     "key blocks kept per query block by pooled score, besides the diagonal and the first"},
};

struct bt_cfg {
	int64_t topk;
};

static void bt_route(const struct attn__route_spec *rs, const struct attn_shape *s,
                     const struct attn_inputs *in, const void *shared, int64_t bh, char *region,
                     void *scratch)
{
	const struct bt_cfg *c = rs->cfg;
	(void)shared;
	attn__route_pooled(rs, s, in, bh, region, scratch, c->topk, 1);
}

static void bt_spec(const struct attn_shape *s, const struct attn_params *p,
                    struct attn__route_spec *rs, void *cfg)
{
	struct bt_cfg *c = cfg;
	const int64_t b = attn__param_int(p, BT_P_B, ATTN__BS_B_DEFAULT);
	c->topk = attn__param_int(p, BT_P_TOPK, 16);
	*rs = (struct attn__route_spec){
	    .b = b,
	    .scratch_bytes = attn__route_pooled_scratch(s, b),
	    .route = bt_route,
	    .routing_flops = attn__route_pooled_flops(s, b),
	    .routing_bytes = attn__route_pooled_bytes(s),
	    .nominal_pairs = attn__route_nominal_pairs(s, b, c->topk + 2),
	    .cfg = c,
	};
	const int64_t nqb = attn__route_blocks(attn_shape_nq(s), b);
	const int64_t nkb = attn__route_blocks(s->n, b);
	attn__route_layout_init(&rs->lo, s, b, nqb * attn__min64(nkb, c->topk + 2), 0, 0, 0, 0);
}

static int bt_supports(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p, char *msg, size_t msglen)
{
	(void)m;
	return attn__check_params(s, p, bt_params, ATTN__COUNT(bt_params), msg, msglen);
}

ATTN__ROUTE_CFG_FITS(struct bt_cfg);
static const struct attn__route_method bt_data = {.spec = bt_spec};

const struct attn_method attn_method_block_topk = {
    ATTN__ROUTE_METHOD_COMMON(bt),
    .supports = bt_supports,
    .data = &bt_data,
    .name = "block_topk",
    .category = "block, prefill",
    .summary = "exact attention over the top-k key blocks per query block by pooled "
               "(mean q, mean k) scores, plus the diagonal and the first block",
    .citation = "Jiang et al. 2024, MInference 1.0 (arXiv 2407.02490); Lai et al. 2025, "
                "FlexPrefill (arXiv 2502.20766)",
    .time_exp = 2.0,
    .mem_exp = 2.0,
};
