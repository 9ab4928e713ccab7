/*
 * `lsh`: Reformer's LSH attention (Kitaev et al. 2020): hash queries and
 * keys by a random rotation into `buckets` buckets, so that vectors with a
 * large dot product tend to share a bucket; sort positions by (bucket,
 * position); cut the sorted order into chunks of b; each chunk of queries
 * attends to the same chunk of keys and the one before it:
 *
 *     h(x) = argmax [xR; -xR],  R (D, buckets/2) iid N(0, 1) from `seed`
 *     π_q = positions sorted by (h(q_t), t),   π_k = the same for h(k_j)
 *     query of sorted rank r sees the keys of sorted ranks in chunks
 *     ⌊r/b⌋ - 1 and ⌊r/b⌋, and of those only j <= t (causal on the
 *     original positions: a query never sees a later key).
 *
 * Reformer ties Q and K (shared-QK) so that a position's query and key
 * hash alike; here Q and K are independent inputs and both are hashed with
 * the same R (two sorted orders, aligned by rank). A consequence: a query
 * can find no earlier key in its two chunks (early positions, mostly); its
 * output is then 0, as the engine and the reference define it. One round
 * of hashing (Reformer uses several and merges them).
 *
 * Decode: the single query (position N - 1) is placed at the end of its
 * bucket in the keys' sorted order, rank ρ = #keys with a bucket <= its
 * own, and sees key chunks ⌊min(ρ, N-1)/b⌋ - 1 and ⌊min(ρ, N-1)/b⌋: where
 * it would sort if it were hashed among the keys.
 *
 * buckets = 1 puts every position in one bucket: the sorted orders are the
 * positions, and with b >= N (one chunk) this is exact causal attention.
 * The rotation is drawn in prepare() (untimed; the oracle draws the same).
 * The engine runs on permuted rows and keys (its index-set path); the
 * hashing and the counting sorts are the routing, O(N D buckets).
 */
#include "engines/blocksparse.h"
#include "engines/route.h"
#include "kernels/kernels.h"

enum { LSH_P_B = 0, LSH_P_BUCKETS = 1, LSH_P_SEED = 2 };

static const struct attn_param_spec lsh_params[] = {
    ATTN__ROUTE_PARAM_B,
    {"buckets", ATTN_PARAM_INT, 8, 1, 1024, NULL, "hash buckets (random rotations of D/2)"},
    {"seed", ATTN_PARAM_INT, 1, 0, 999999, NULL, "seed of the rotation (shared by all heads)"},
};

struct lsh_cfg {
	int64_t buckets, cols;
	uint64_t seed;
};

/* shared: R (D, cols). */
static void lsh_prep(const struct attn__route_spec *rs, const struct attn_shape *s,
                     const struct attn_inputs *in, void *shared)
{
	const struct lsh_cfg *c = rs->cfg;
	(void)in;
	attn__route_lsh_rotation(c->seed, s->d, c->cols, shared);
}

static void lsh_route(const struct attn__route_spec *rs, const struct attn_shape *s,
                      const struct attn_inputs *in, const void *shared, int64_t bh, char *region,
                      void *scratch)
{
	const struct lsh_cfg *c = rs->cfg;
	const int64_t N = s->n, D = s->d, NQ = attn_shape_nq(s), b = rs->b;
	const int64_t nkb = attn__route_blocks(N, b), buckets = c->buckets;
	const float *r = shared;                               /* (D, cols) */
	int64_t *row = (int64_t *)(region + rs->lo.off_row);   /* (nqb + 1) */
	int32_t *col = (int32_t *)(region + rs->lo.off_col);   /* (cap) */
	int32_t *kidx = (int32_t *)(region + rs->lo.off_kidx); /* (N) */
	int32_t *hk = scratch;                                 /* (N) */
	int32_t *hq = hk + N;                                  /* (NQ) */
	int32_t *start = hq + NQ;                              /* (buckets + 1) */
	float *y = (float *)(start + buckets + 1);             /* (cols) */

	attn__route_lsh_hash(in->k + attn__kv_head(s, bh) * N * D, N, D, r, buckets, hk, y);
	attn__route_lsh_hash(in->q + bh * NQ * D, NQ, D, r, buckets, hq, y);
	attn__route_sort_by_key(hk, N, buckets, kidx, start);

	if (s->mode == ATTN_MODE_DECODE) {
		const int64_t chunk = attn__min64(start[hq[0] + 1], N - 1) / b;
		row[0] = 0;
		row[1] = 0;
		for (int64_t j = chunk > 0 ? chunk - 1 : 0; j <= chunk; j++)
			col[row[1]++] = (int32_t)j;
		return;
	}
	int32_t *qidx = (int32_t *)(region + rs->lo.off_qidx); /* (N) */
	attn__route_sort_by_key(hq, N, buckets, qidx, start);
	row[0] = 0;
	for (int64_t i = 0; i < nkb; i++) {
		row[i + 1] = row[i];
		for (int64_t j = i > 0 ? i - 1 : 0; j <= i; j++)
			col[row[i + 1]++] = (int32_t)j;
	}
}

static void lsh_spec(const struct attn_shape *s, const struct attn_params *p,
                     struct attn__route_spec *rs, void *cfg)
{
	struct lsh_cfg *c = cfg;
	const int64_t b = attn__param_int(p, LSH_P_B, ATTN__BS_B_DEFAULT);
	const int64_t N = s->n, NQ = attn_shape_nq(s);
	c->buckets = attn__param_int(p, LSH_P_BUCKETS, 8);
	c->cols = attn__route_lsh_cols(c->buckets);
	c->seed = (uint64_t)attn__param_int(p, LSH_P_SEED, 1);
	*rs = (struct attn__route_spec){
	    .b = b,
	    .scratch_bytes = sizeof(int32_t) * (size_t)(N + NQ + c->buckets + 1) +
	                     sizeof(float) * (size_t)c->cols,
	    .shared_bytes = sizeof(float) * (size_t)(s->d * c->cols),
	    .route = lsh_route,
	    .prep = lsh_prep,
	    /* x R for every query and key: 2 D per column */
	    .routing_flops = 2.0 * (double)(s->batch * s->heads * (N + NQ) * s->d * c->cols),
	    .routing_bytes = attn__route_pooled_bytes(s), /* hashing reads Q and K once more */
	    /* nominal: two chunks of b keys per chunk of queries */
	    .nominal_pairs = attn__route_nominal_pairs(s, b, 2),
	    .cfg = c,
	};
	attn__route_layout_init(&rs->lo, s, b, 2 * attn__route_blocks(NQ, b), 0, 1, 1, 0);
}

static int lsh_supports(const struct attn_method *m, const struct attn_shape *s,
                        const struct attn_params *p, char *msg, size_t msglen)
{
	(void)m;
	return attn__check_params(s, p, lsh_params, ATTN__COUNT(lsh_params), msg, msglen);
}

ATTN__ROUTE_CFG_FITS(struct lsh_cfg);
static const struct attn__route_method lsh_data = {.spec = lsh_spec};

const struct attn_method attn_method_lsh = {
    ATTN__ROUTE_METHOD_COMMON(lsh),
    .supports = lsh_supports,
    .data = &lsh_data,
    .name = "lsh",
    .category = "clustering",
    .summary = "Reformer LSH attention: random-rotation buckets, positions sorted by bucket, "
               "each chunk of b attends to itself and the chunk before",
    .citation = "Kitaev et al. 2020, Reformer: The Efficient Transformer (ICLR 2020)",
    /* hashing and counting sorts are O(N); the chunks O(N b D) */
    .time_exp = 1.0,
    .mem_exp = 1.0,
};
