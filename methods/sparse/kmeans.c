/*
 * `kmeans`: attention routed by k-means clusters of the keys, the idea of
 * the Routing Transformer (Roy et al. 2021) and of ClusterKV (Liu et al.
 * 2025): cluster each head's keys, then let every query attend to the keys
 * of one cluster only,
 *
 *     μ_1..μ_C = k-means of K (k-means++ from `seed`, then `iters` Lloyd
 *                steps, squared Euclidean distance; route.c)
 *     c(t)     = argmax_c ⟨q_t, μ_c⟩  over the clusters with a key j <= t
 *     O_t      = softmax over { j <= t : key j in cluster c(t) }
 *
 * One cluster per query: ⟨q, μ_c⟩ is exactly the mean score of q over
 * cluster c's keys, so it is the cluster whose keys score highest on
 * average (ClusterKV ranks clusters this way; the Routing Transformer
 * routes a query to its nearest centroid, the same with unit vectors).
 * Only clusters holding a key at or before the query's position are
 * candidates, so no query is left with nothing visible. Without a causal
 * mask (and in decode) every cluster is a candidate.
 *
 * Execution uses the engine's index sets: keys are sorted by (cluster,
 * position) and queries by (their cluster, position); a block of sorted
 * queries then meets a contiguous run of sorted keys, the keys of its
 * clusters; pairs that mix clusters are PARTIAL, masked to equal clusters,
 * and causality is applied on the original positions.
 *
 * `clusters` = 0 (the default) takes ⌈√N⌉, which balances the k-means
 * (N·C·D per step) against the attention (N·(N/C)·D): O(N^1.5 D) in all.
 * The clustering is part of forward() (and of routing_ns): keys are data.
 * clusters = 1 is exact softmax attention.
 */
#include <math.h>

#include "engines/blocksparse.h"
#include "engines/route.h"
#include "kernels/kernels.h"

enum { KM_P_B = 0, KM_P_CLUSTERS = 1, KM_P_ITERS = 2, KM_P_SEED = 3 };

static const struct attn_param_spec km_params[] = {
    ATTN__ROUTE_PARAM_B,
    {"clusters", ATTN_PARAM_INT, 0, 0, 1 << 20, NULL,
     "k-means centroids per head (at most N); 0: auto, ceil(sqrt(N))"},
    {"iters", ATTN_PARAM_INT, 4, 0, 100, NULL, "Lloyd steps after the k-means++ seeding"},
    {"seed", ATTN_PARAM_INT, 1, 0, 999999, NULL, "seed of the k-means++ draws"},
};

/* Queries scored against the centroids per GEMM. */
#define KM_ROWS 64

struct km_cfg {
	int64_t clusters, iters;
	uint64_t seed;
};

/*
 * The per-thread scratch, in floats: k-means' own, μ (C, D), μᵀ (D, C),
 * query scores (KM_ROWS, C), then ints: the keys' clusters (N), the
 * queries' (NQ), cluster starts of keys and of queries (C + 1 each) and
 * the clusters' first positions (C).
 */
static size_t km_scratch(const struct attn_shape *s, int64_t C)
{
	const int64_t N = s->n, D = s->d, NQ = attn_shape_nq(s);
	return sizeof(float) * (attn__route_kmeans_scratch(N, D, C) + (size_t)(2 * C * D) +
	                        (size_t)(KM_ROWS * C)) +
	       sizeof(int32_t) * (size_t)(N + NQ + 3 * C + 2);
}

/*
 * c(t) for every query row of q (nq, D): the best ⟨q, μ_c⟩ among clusters
 * whose first key is at or before the row's position (every cluster
 * without a causal mask); the lowest c on ties.
 */
static void km_route_queries(const struct attn_shape *s, const float *q, int64_t nq,
                             const float *ct, int64_t C, const int32_t *first, float *dots,
                             int32_t *qcl)
{
	const int64_t D = s->d;
	for (int64_t r0 = 0; r0 < nq; r0 += KM_ROWS) {
		const int64_t rows = attn__min64(KM_ROWS, nq - r0);
		attn__gemm(rows, C, D, q + r0 * D, D, 1, ct, C, dots, C, 0);
		for (int64_t i = 0; i < rows; i++) {
			const int64_t pos = s->mode == ATTN_MODE_DECODE ? s->n - 1 : r0 + i;
			int32_t best = -1;
			float top = -INFINITY;
			for (int64_t c = 0; c < C; c++) {
				const int visible =
				    first[c] >= 0 && (!s->causal || first[c] <= pos);
				if (visible && (best < 0 || dots[i * C + c] > top)) {
					top = dots[i * C + c];
					best = (int32_t)c;
				}
			}
			qcl[r0 + i] = best;
		}
	}
}

static void km_route(const struct attn__route_spec *rs, const struct attn_shape *s,
                     const struct attn_inputs *in, const void *shared, int64_t bh, char *region,
                     void *scratch)
{
	const struct km_cfg *c = rs->cfg;
	const int64_t N = s->n, D = s->d, NQ = attn_shape_nq(s), b = rs->b, C = c->clusters;
	const float *k = in->k + attn__kv_head(s, bh) * N * D; /* (N, D) */
	int64_t *row = (int64_t *)(region + rs->lo.off_row);   /* (nqb + 1) */
	int32_t *col = (int32_t *)(region + rs->lo.off_col);   /* (cap) */
	uint8_t *kind = (uint8_t *)(region + rs->lo.off_kind); /* (cap) */
	int32_t *kidx = (int32_t *)(region + rs->lo.off_kidx); /* (N) sorted keys */
	int32_t *kcl = (int32_t *)(region + rs->lo.off_aux);   /* (N) cluster of sorted key c */
	int32_t *qcl = kcl + N;                                /* (NQ) cluster of list row r */
	float *kms = scratch;
	float *cent = kms + attn__route_kmeans_scratch(N, D, C); /* (C, D) */
	float *ct = cent + C * D;                                /* (D, C) */
	float *dots = ct + D * C;                                /* (KM_ROWS, C) */
	int32_t *assign = (int32_t *)(dots + KM_ROWS * C);       /* (N) */
	int32_t *qown = assign + N;                              /* (NQ) */
	int32_t *start = qown + NQ;                              /* (C + 1) */
	int32_t *qstart = start + C + 1;                         /* (C + 1) */
	int32_t *first = qstart + C + 1;                         /* (C) */
	(void)shared;

	/* cluster the keys; sort them by (cluster, position) */
	attn__route_kmeans(k, N, D, C, c->iters, c->seed, cent, assign, kms);
	attn__route_sort_by_key(assign, N, C, kidx, start);
	for (int64_t cl = 0; cl < C; cl++)
		first[cl] = start[cl] < start[cl + 1] ? kidx[start[cl]] : -1;
	for (int64_t r = 0; r < N; r++)
		kcl[r] = assign[kidx[r]];

	/* route the queries; in prefill sort them by (cluster, position) too */
	attn__transpose(ct, C, cent, D, C, D);
	km_route_queries(s, in->q + bh * NQ * D, NQ, ct, C, first, dots, qown);
	const int32_t *qorder = NULL;
	if (s->mode == ATTN_MODE_PREFILL) {
		int32_t *qidx = (int32_t *)(region + rs->lo.off_qidx); /* (N) */
		attn__route_sort_by_key(qown, N, C, qidx, qstart);
		qorder = qidx;
	}
	for (int64_t r = 0; r < NQ; r++)
		qcl[r] = qown[qorder ? qorder[r] : r];

	/*
	 * A block of sorted queries holds clusters qcl[first row] ..
	 * qcl[last row] (ascending); their keys are sorted ranks
	 * [start[lo], start[hi + 1]). A key block inside one cluster's range,
	 * met by a query block of that cluster alone, is FULL.
	 */
	row[0] = 0;
	for (int64_t i = 0; i < rs->lo.nqb; i++) {
		const int64_t r0 = i * b, r1 = attn__min64(NQ, r0 + b) - 1;
		const int64_t lo = qcl[r0], hi = qcl[r1];
		const int64_t k0 = start[lo], k1 = start[hi + 1]; /* non-empty: lo is visible */
		int64_t at = row[i];
		for (int64_t j = k0 / b; j * b < k1; j++) {
			const int64_t j0 = j * b, j1 = attn__min64(N, j0 + b);
			col[at] = (int32_t)j;
			kind[at++] =
			    lo == hi && j0 >= k0 && j1 <= k1 ? ATTN__BS_FULL : ATTN__BS_PARTIAL;
		}
		row[i + 1] = at;
	}
}

/* mask (nq, nk) of a PARTIAL pair: a query sees the keys of its own cluster. */
static void km_mask(const void *arg, int pass, int64_t bh, const struct attn__bs_head *hd,
                    int64_t r0, int64_t nq, int64_t c0, int64_t nk, uint8_t *mask)
{
	const struct attn__route_run *run = arg;
	const int32_t *kcl = (const int32_t *)(attn__route_region(arg, bh) + run->rs->lo.off_aux);
	const int32_t *qcl = kcl + run->s->n;
	(void)pass, (void)hd;
	for (int64_t r = 0; r < nq; r++)
		for (int64_t j = 0; j < nk; j++)
			mask[r * nk + j] = kcl[c0 + j] == qcl[r0 + r];
}

static void km_spec(const struct attn_shape *s, const struct attn_params *p,
                    struct attn__route_spec *rs, void *cfg)
{
	struct km_cfg *c = cfg;
	const int64_t b = attn__param_int(p, KM_P_B, ATTN__BS_B_DEFAULT);
	const int64_t N = s->n, D = s->d, NQ = attn_shape_nq(s);
	const int64_t want = attn__param_int(p, KM_P_CLUSTERS, 0);
	c->clusters = attn__min64(N, want > 0 ? want : (int64_t)ceil(sqrt((double)N)));
	c->iters = attn__param_int(p, KM_P_ITERS, 4);
	c->seed = (uint64_t)attn__param_int(p, KM_P_SEED, 1);
	const double C = (double)c->clusters;
	*rs = (struct attn__route_spec){
	    .b = b,
	    .scratch_bytes = km_scratch(s, c->clusters),
	    .route = km_route,
	    .mask = km_mask,
	    /* seeding and each step score N keys against C centroids (+1 final
	     * assignment), the queries score C centroids: 2 D per score */
	    .routing_flops = 2.0 * (double)(s->batch * s->heads) * (double)D * C *
	                     ((double)N * (double)(c->iters + 2) + (double)NQ),
	    /* k-means reads K once per step */
	    .routing_bytes =
	        sizeof(float) * (double)(s->batch * s->heads * N * D) * (double)(c->iters + 2),
	    /* nominal: N / C keys per query, in ⌈N / (C b)⌉ + 1 key blocks per query block */
	    .nominal_pairs = attn__route_nominal_pairs(
	        s, b, attn__route_blocks(attn__route_blocks(N, c->clusters), b) + 1),
	    .cfg = c,
	};
	/*
	 * A query block's keys: the clusters it spans, at most every key;
	 * blocks of one cluster each meet at most ⌈size/b⌉ + 1 key blocks.
	 */
	const int64_t nqb = attn__route_blocks(NQ, b), nkb = attn__route_blocks(N, b);
	attn__route_layout_init(&rs->lo, s, b, nqb * nkb, 1, 1, 1,
	                        sizeof(int32_t) * (size_t)(N + NQ));
	if (c->clusters != want)
		rs->resolved[rs->n_resolved++] = (struct attn__bs_param){"clusters", C};
}

static int km_supports(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p, char *msg, size_t msglen)
{
	(void)m;
	return attn__check_params(s, p, km_params, ATTN__COUNT(km_params), msg, msglen);
}

ATTN__ROUTE_CFG_FITS(struct km_cfg);
static const struct attn__route_method km_data = {.spec = km_spec};

const struct attn_method attn_method_kmeans = {
    ATTN__ROUTE_METHOD_COMMON(km),
    .supports = km_supports,
    .data = &km_data,
    .name = "kmeans",
    .category = "clustering",
    .summary = "k-means on each head's keys; each query attends to the keys of the cluster "
               "with the largest <q, centroid>, causal on positions",
    .citation = "Roy et al. 2021, Routing Transformer (TACL); Liu et al. 2025, ClusterKV "
                "(arXiv 2412.03213)",
    .time_exp = 1.5,
    .mem_exp = 1.0,
};
