/*
 * The routing half of the data-dependent sparse methods (block_topk, moba,
 * quest, nsa, lsh, kmeans): the cheap float32 computations that decide which
 * keys each query keeps, before the block-sparse engine (blocksparse.h)
 * attends over them. Everything here works on one head at a time, is
 * single-threaded and deterministic (the same bits for the same inputs
 * whatever the thread count), and never allocates: the caller hands in the
 * scratch. A method's forward() and its float64 oracle call the same
 * functions, so both see the same selection; only the attention over the
 * kept set differs in precision.
 *
 * What is here:
 *  - block pooling (the mean of every b rows) and block scores as a small GEMM;
 *  - top-k with a total order (larger score first, lower index on ties), so
 *    that selections never depend on the order of a scan;
 *  - Quest's page metadata (element-wise min and max of a page's keys) and
 *    its upper bound on a query's scores over the page;
 *  - Reformer's random-rotation hash and a stable counting sort by bucket;
 *  - k-means (k-means++ seeding from a seed, then Lloyd steps) on keys.
 *
 * Internal to attnbench (attn__ names), like common.h.
 */
#ifndef ATTNBENCH_METHODS_ROUTE_H
#define ATTNBENCH_METHODS_ROUTE_H

#include <stddef.h>
#include <stdint.h>

/* Blocks of b that cover n rows: ⌈n / b⌉. */
static inline int64_t attn__route_blocks(int64_t n, int64_t b)
{
	return (n + b - 1) / b;
}

/*
 * out (⌈n/b⌉, d): row j is the mean of rows [j b, min(n, (j+1) b)) of
 * x (n, d), so a short last block averages only the rows it has.
 */
void attn__route_pool_mean(const float *x, int64_t n, int64_t d, int64_t b, float *out);

/*
 * s (m, n) = a (m, d) · bᵀ, b (n, d), all row-major, through attn__gemm.
 * scratch: d·n floats (bᵀ packed). For block scores, where m and n are the
 * block counts: an (N/b)×(N/b)×D product, 1/b² of the attention's.
 */
void attn__route_scores(const float *a, int64_t m, const float *b, int64_t n, int64_t d, float *s,
                        float *scratch);

/*
 * The k best entries of score (n) by the order "larger score first, lower
 * index on ties" (NaN counts as -inf): their indices in ascending order in
 * idx (k). Returns min(k, n). Entries the caller must keep can be set to
 * +INFINITY and k raised by their number: they come first in the order.
 * O(n log k), in place in idx (a heap).
 */
int64_t attn__route_topk(const float *score, int64_t n, int64_t k, int32_t *idx);

/*
 * Quest's page metadata: kmin, kmax (⌈n/b⌉, d), the element-wise min and
 * max of the keys of each page of b keys of k (n, d).
 */
void attn__route_page_minmax(const float *k, int64_t n, int64_t d, int64_t b, float *kmin,
                             float *kmax);

/*
 * Quest's bound, bound (pages) from q (d) and the metadata:
 *
 *     U_p = Σ_c max(q_c · max_pc, q_c · min_pc)  >=  max_{j in page p} q · k_j
 *
 * (each term is the largest q_c k_jc can be over the page's range), so a
 * page with a small bound cannot hold a large score.
 */
void attn__route_quest_bound(const float *q, const float *kmin, const float *kmax, int64_t pages,
                             int64_t d, float *bound);

/* Columns of the rotation for `buckets` buckets: ⌈buckets / 2⌉ (0 for one bucket). */
static inline int64_t attn__route_lsh_cols(int64_t buckets)
{
	return buckets > 1 ? (buckets + 1) / 2 : 0;
}

/*
 * Reformer's random rotation R (d, cols), cols = attn__route_lsh_cols(buckets):
 * iid N(0, 1) entries drawn from `seed` (the same R for the same seed on any
 * machine up to libm's log and cos).
 */
void attn__route_lsh_rotation(uint64_t seed, int64_t d, int64_t cols, float *r);

/*
 * Reformer's hash of each row of x (n, d) into [0, buckets):
 *
 *     y = x R,  h(x) = argmax_i [y_0, ..., y_{c-1}, -y_0, ..., -y_{c-1}]_i
 *
 * over the first `buckets` of those 2c entries (all of them when buckets is
 * even; the first index on ties). One bucket: every row hashes to 0.
 * scratch: c floats.
 */
void attn__route_lsh_hash(const float *x, int64_t n, int64_t d, const float *r, int64_t buckets,
                          int32_t *bucket, float *scratch);

/*
 * The stable order of positions by key: perm (n) lists positions 0..n-1
 * sorted by key[pos] (in [0, nkeys)), equal keys in position order.
 * start (nkeys + 1): start[c] is the rank of the first position with key c,
 * start[nkeys] = n. A counting sort: O(n + nkeys).
 */
void attn__route_sort_by_key(const int32_t *key, int64_t n, int64_t nkeys, int32_t *perm,
                             int32_t *start);

/*
 * k-means on the rows of x (n, d), `clusters` <= n centroids, squared
 * Euclidean distance: k-means++ seeding (the first centroid and each next
 * one drawn with probability proportional to the squared distance to the
 * nearest centroid so far, uniforms from `seed`), then `iters` Lloyd steps
 * (assign each row to its nearest centroid, the lowest index on ties; move
 * each centroid to the mean of its rows; a centroid without rows stays).
 * Leaves cent (clusters, d) and assign (n), the assignment to the final
 * centroids. scratch: attn__route_kmeans_scratch(n, d, clusters) floats.
 */
size_t attn__route_kmeans_scratch(int64_t n, int64_t d, int64_t clusters);
void attn__route_kmeans(const float *x, int64_t n, int64_t d, int64_t clusters, int64_t iters,
                        uint64_t seed, float *cent, int32_t *assign, float *scratch);

/*
 * The nearest centroid of each row of x (n, d) among cent (clusters, d):
 * argmin_c ‖x - μ_c‖² = argmax_c (x · μ_c - ‖μ_c‖²/2), the lowest c on ties.
 * scratch: attn__route_kmeans_scratch(n, d, clusters) floats.
 */
void attn__route_nearest(const float *x, int64_t n, int64_t d, const float *cent, int64_t clusters,
                         int32_t *assign, float *scratch);

#endif /* ATTNBENCH_METHODS_ROUTE_H */
