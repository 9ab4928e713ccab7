/*
 * `moba`: Mixture of Block Attention (Lu et al. 2025, MoBA): keys are cut
 * into blocks of b, each block is represented by the mean of its keys, and
 * a query is routed, like a token to experts, to the blocks it scores
 * highest,
 *
 *     g_j(q) = ⟨q, mean(K_block j)⟩,   kept: top-k of g over the blocks
 *     before the query's own, plus its own block (causal inside it),
 *
 * then attends exactly (softmax over the union) to the keys of the kept
 * blocks. Future blocks are never candidates (causal). Without a causal
 * mask every block but the own is a candidate.
 *
 * Two routes (`route`):
 *   - block (default): one routing decision per query block of b rows,
 *     by the mean of its tokens' gates, (1/b) Σ_t ⟨q_t, k̄_j⟩ = ⟨q̄, k̄_j⟩:
 *     one (N/b)×(N/b)×D GEMM, and every kept pair is a whole tile, so the
 *     work is exactly (topk + 1) blocks per query block. This is the
 *     GEMM-friendly form the MoBA kernel's gather into dense blocks aims
 *     at; its scores are block_topk's, without block_topk's sink block.
 *   - token: the paper's routing, per query token, over an N×(N/b)×D GEMM
 *     of gates; a query block then visits the union of its tokens' blocks,
 *     each pair masked (a PARTIAL tile) to the tokens that chose it. Exact
 *     MoBA, but the tiles computed are the union, not k per token: with
 *     scattered choices (gaussian inputs) the work approaches dense. The
 *     reported "density" counts the kept pairs, "tile_density" what the
 *     tiles covered, so the gap shows.
 * Decode routes the single query by its own gates (both routes agree).
 * The paper's gate uses no 1/√D (it does not change the ranking).
 */
#include "engines/blocksparse.h"
#include "engines/route.h"
#include "kernels/kernels.h"

enum { MOBA_P_B = 0, MOBA_P_TOPK = 1, MOBA_P_ROUTE = 2 };
enum { MOBA_ROUTE_BLOCK = 0, MOBA_ROUTE_TOKEN = 1 };

static const struct attn_param_spec moba_params[] = {
    ATTN__ROUTE_PARAM_B,
    {"topk", ATTN_PARAM_INT, 8, 0, 1 << 20, NULL,
     "key blocks a query (block) selects by gate, besides its own"},
    {"route", ATTN_PARAM_ENUM, MOBA_ROUTE_BLOCK, 0, 1, "block|token",
     "block: one decision per query block (mean gate); token: per query, as the paper"},
};

struct moba_cfg {
	int64_t topk;
	int route;
};

/*
 * Token route, head bh: per query block i, gates G (rows, nkb) = Q_i k̄ᵀ,
 * each token's top-k among the candidates (j < i causal, j != i not), kept
 * in aux as `topk` ascending block numbers per token (padded with -1); the
 * block's list is their union plus block i, a pair FULL when every token
 * of the block chose it (and for block i), PARTIAL otherwise.
 */
static void moba_route_token(const struct attn__route_spec *rs, const struct attn_shape *s,
                             const struct attn_inputs *in, int64_t bh, char *region, void *scratch)
{
	const struct moba_cfg *c = rs->cfg;
	const int64_t N = s->n, D = s->d, b = rs->b, topk = c->topk;
	const int64_t nqb = rs->lo.nqb, nkb = attn__route_blocks(N, b);
	const float *q = in->q + bh * N * D;                    /* (N, D) */
	const float *k = in->k + attn__kv_head(s, bh) * N * D;  /* (N, D) */
	int64_t *row = (int64_t *)(region + rs->lo.off_row);    /* (nqb + 1) */
	int32_t *col = (int32_t *)(region + rs->lo.off_col);    /* (cap) */
	uint8_t *kind = (uint8_t *)(region + rs->lo.off_kind);  /* (cap) */
	int32_t *choice = (int32_t *)(region + rs->lo.off_aux); /* (N, topk) */
	float *kp = scratch;                                    /* (nkb, D) */
	float *kt = kp + nkb * D;                               /* (D, nkb) */
	float *g = kt + D * nkb;                                /* (b, nkb) */
	float *tmp = g + b * nkb;                               /* (nkb) */
	int32_t *votes = (int32_t *)(tmp + nkb);                /* (nkb) */

	attn__route_pool_mean(k, N, D, b, kp);
	attn__transpose(kt, nkb, kp, D, nkb, D);
	row[0] = 0;
	for (int64_t i = 0; i < nqb; i++) {
		const int64_t t0 = i * b, rows = attn__min64(b, N - t0);
		/* G = Q_i k̄ᵀ (rows, nkb) */
		attn__gemm(rows, nkb, D, q + t0 * D, D, 1, kt, nkb, g, nkb, 0);
		memset(votes, 0, (size_t)nkb * sizeof(*votes));
		for (int64_t r = 0; r < rows; r++) {
			int32_t *ch = choice + (t0 + r) * topk;
			int64_t n;
			if (s->causal) {
				n = attn__route_topk(g + r * nkb, i, topk, ch);
			} else {
				/* every block but the own: rank with the own at -inf */
				memcpy(tmp, g + r * nkb, (size_t)nkb * sizeof(float));
				tmp[i] = -INFINITY;
				n = attn__route_topk(tmp, nkb, attn__min64(topk, nkb - 1), ch);
			}
			for (int64_t e = 0; e < n; e++)
				votes[ch[e]]++;
			for (int64_t e = n; e < topk; e++)
				ch[e] = -1;
		}
		votes[i] = (int32_t)rows;
		int64_t at = row[i];
		for (int64_t j = 0; j < nkb; j++)
			if (votes[j] > 0) {
				col[at] = (int32_t)j;
				kind[at++] = votes[j] == rows ? ATTN__BS_FULL : ATTN__BS_PARTIAL;
			}
		row[i + 1] = at;
	}
}

/* mask (nq, nk) of a PARTIAL pair: token r sees key block c0 / b iff it chose it. */
static void moba_mask(const void *arg, int pass, int64_t bh, const struct attn__bs_head *hd,
                      int64_t r0, int64_t nq, int64_t c0, int64_t nk, uint8_t *mask)
{
	const struct attn__route_run *run = arg;
	const struct moba_cfg *c = run->rs->cfg;
	const int64_t topk = c->topk, blk = c0 / run->rs->b;
	const int32_t *choice =
	    (const int32_t *)(attn__route_region(arg, bh) + run->rs->lo.off_aux);
	(void)pass, (void)hd;
	for (int64_t r = 0; r < nq; r++) {
		const int32_t *ch = choice + (r0 + r) * topk;
		int chosen = 0;
		for (int64_t e = 0; e < topk && !chosen; e++)
			chosen = ch[e] == blk;
		memset(mask + r * nk, chosen, (size_t)nk);
	}
}

static void moba_route(const struct attn__route_spec *rs, const struct attn_shape *s,
                       const struct attn_inputs *in, const void *shared, int64_t bh, char *region,
                       void *scratch)
{
	const struct moba_cfg *c = rs->cfg;
	(void)shared;
	if (c->route == MOBA_ROUTE_TOKEN && s->mode == ATTN_MODE_PREFILL)
		moba_route_token(rs, s, in, bh, region, scratch);
	else
		attn__route_pooled(rs, s, in, bh, region, scratch, c->topk, 0);
}

static void moba_spec(const struct attn_shape *s, const struct attn_params *p,
                      struct attn__route_spec *rs, void *cfg)
{
	struct moba_cfg *c = cfg;
	const int64_t b = attn__param_int(p, MOBA_P_B, ATTN__BS_B_DEFAULT), D = s->d;
	const int64_t nqb = attn__route_blocks(attn_shape_nq(s), b);
	const int64_t nkb = attn__route_blocks(s->n, b);
	c->topk = attn__param_int(p, MOBA_P_TOPK, 8);
	c->route = (int)attn__param_int(p, MOBA_P_ROUTE, MOBA_ROUTE_BLOCK);
	const int token = c->route == MOBA_ROUTE_TOKEN && s->mode == ATTN_MODE_PREFILL;
	*rs = (struct attn__route_spec){
	    .b = b,
	    .route = moba_route,
	    .routing_bytes = attn__route_pooled_bytes(s),
	    /* nominal: topk + 1 blocks per query block (the block route's count) */
	    .nominal_pairs = attn__route_nominal_pairs(s, b, c->topk + 1),
	    .cfg = c,
	};
	if (token) {
		/* k̄, k̄ᵀ, the gates of a block, a row, and the votes */
		rs->scratch_bytes = sizeof(float) * (size_t)(2 * nkb * D + b * nkb + 2 * nkb);
		rs->mask = moba_mask;
		rs->routing_flops =
		    (double)(s->batch * s->heads) *
		    ((double)s->n * (double)D + 2.0 * (double)s->n * (double)nkb * (double)D);
		/* a block's union: at most every block, at most b·topk + 1 */
		attn__route_layout_init(&rs->lo, s, b, nqb * attn__min64(nkb, b * c->topk + 1), 1,
		                        0, 0, (size_t)(s->n * c->topk) * sizeof(int32_t));
	} else {
		rs->scratch_bytes = attn__route_pooled_scratch(s, b);
		rs->routing_flops = attn__route_pooled_flops(s, b);
		attn__route_layout_init(&rs->lo, s, b, nqb * attn__min64(nkb, c->topk + 1), 0, 0, 0,
		                        0);
	}
}

static int moba_supports(const struct attn_method *m, const struct attn_shape *s,
                         const struct attn_params *p, char *msg, size_t msglen)
{
	(void)m;
	return attn__check_params(s, p, moba_params, ATTN__COUNT(moba_params), msg, msglen);
}

ATTN__ROUTE_CFG_FITS(struct moba_cfg);
static const struct attn__route_method moba_data = {.spec = moba_spec};

const struct attn_method attn_method_moba = {
    ATTN__ROUTE_METHOD_COMMON(moba),
    .supports = moba_supports,
    .data = &moba_data,
    .name = "moba",
    .category = "routing",
    .summary = "Mixture of Block Attention: each query (block) routed to its top-k key blocks "
               "by the gate <q, mean K_block>, plus its own block",
    .citation = "Lu et al. 2025, MoBA: Mixture of Block Attention for Long-Context LLMs "
                "(arXiv 2502.13189)",
    /* the gates are (N/b)² or N·N/b: quadratic with a small constant */
    .time_exp = 2.0,
    .mem_exp = 2.0,
};
