/*
 * The routing half of the data-dependent sparse methods (block_topk, moba,
 * quest, nsa, lsh, kmeans): the cheap float32 computations that decide which
 * keys each query keeps, before the block-sparse engine (blocksparse.h)
 * attends over them. The selection functions work on one head at a time,
 * are single-threaded and deterministic (the same bits for the same inputs
 * whatever the thread count), and never allocate: the caller hands in the
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
 *  - k-means (k-means++ seeding from a seed, then Lloyd steps) on keys;
 *  - the driver most of the methods are: a spec (how to route one head,
 *    where its lists go), the workspace around the engine's, forward()
 *    (route every head, run the engine, report) and the oracle (the same
 *    routing, then the engine's float64 reference; it allocates), and the
 *    descriptor callbacks (attn__routed_*) that run it for a method whose
 *    data says how to build its spec.
 *
 * Internal to attnbench (attn__ names), like common.h.
 */
#ifndef ATTNBENCH_METHODS_ROUTE_H
#define ATTNBENCH_METHODS_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "attnbench/method.h"
#include "engines/blocksparse.h"
#include "kernels/kernels.h"

/* Blocks of b that cover n rows: ⌈n / b⌉. */
static inline int64_t attn__route_blocks(int64_t n, int64_t b)
{
	return attn__div_up(n, b);
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
 * One query block's key blocks: the `topk` best of score[0, avail) (the
 * candidates; later blocks are not looked at) plus the `nforced` blocks in
 * forced[] (those < avail; duplicates are fine), ascending, into out.
 * Returns their number. tmp: avail floats.
 */
int64_t attn__route_pick(const float *score, int64_t avail, int64_t topk, const int64_t *forced,
                         int nforced, float *tmp, int32_t *out);

/*
 * (query, key) pairs, over all heads, of a pattern that keeps `kb` key
 * blocks of b per query block, the causal diagonal block among them: the
 * nominal count behind a routing method's flops() (the actual one is
 * reported per call).
 */
double attn__route_nominal_pairs(const struct attn_shape *s, int64_t b, int64_t kb);

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
 * nearest centroid so far, uniforms from `seed`; from an even subsample of
 * 32 rows per centroid when n is larger), then `iters` Lloyd steps
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

/* ---- the driver: routing, then the engine ---------------------------------------- */

/*
 * The usual contents of one head's routing state, as byte offsets into the
 * head's region of the workspace: its CSR lists for the engine (row, col and
 * optionally kind), optionally index maps (qidx, kidx: the sorted orders of
 * the clustering methods) and `aux`, the method's own (cluster ids, a
 * token's choices, ...). attn__route_head_cb reads the engine's list from it.
 */
struct attn__route_layout {
	int64_t nqb;  /* query blocks of the list: ⌈NQ / b⌉ */
	int64_t cap;  /* col entries at most */
	int has_kind; /* kind[] present (some pairs PARTIAL) */
	int has_qidx; /* qidx (NQ) present (prefill only) */
	int has_kidx; /* kidx (N) present */
	size_t off_row, off_col, off_kind, off_qidx, off_kidx, off_aux;
	size_t bytes; /* of the region, a multiple of 64 */
};

void attn__route_layout_init(struct attn__route_layout *lo, const struct attn_shape *s, int64_t b,
                             int64_t cap, int has_kind, int has_qidx, int has_kidx,
                             size_t aux_bytes);

struct attn__route_spec;

/*
 * Route head bh (flat b·H + h) of the inputs: fill `region` (the head's
 * layout) from the data, with `scratch` (the spec's scratch_bytes, this
 * thread's) and `shared` (what prepare() left, or NULL).
 */
typedef void (*attn__route_fn)(const struct attn__route_spec *rs, const struct attn_shape *s,
                               const struct attn_inputs *in, const void *shared, int64_t bh,
                               char *region, void *scratch);

/* Fill `shared` (shared_bytes) from the inputs, untimed: Quest's page metadata. */
typedef void (*attn__route_prep_fn)(const struct attn__route_spec *rs, const struct attn_shape *s,
                                    const struct attn_inputs *in, void *shared);

/*
 * A routing method for the driver: how to route, where its state goes, and
 * the engine's mask callback for its PARTIAL pairs (NULL: all FULL). The
 * mask gets the engine's `arg`, from which attn__route_region() finds the
 * head's region.
 */
struct attn__route_spec {
	int64_t b;                    /* block size */
	struct attn__route_layout lo; /* one head's region */
	size_t scratch_bytes;         /* per thread, for route() */
	size_t shared_bytes;          /* prepare()'s state, 0: none */
	attn__route_fn route;
	attn__route_prep_fn prep; /* NULL: nothing to prepare */
	void (*mask)(const void *arg, int pass, int64_t bh, const struct attn__bs_head *hd,
	             int64_t r0, int64_t nq, int64_t c0, int64_t nk, uint8_t *mask);
	double routing_flops; /* of one forward(), all heads */
	double routing_bytes; /* the routing's own reads (pooling, metadata), all heads */
	double nominal_pairs; /* (query, key) pairs kept at the nominal density, all heads */
	const void *cfg;      /* the method's parameters */
	/* the parameters it chose itself, which forward() reports (attn__bs_report_params) */
	struct attn__bs_param resolved[ATTN__BS_MAX_PARAMS];
	int n_resolved;
};

/* The engine's `arg` for a routed pattern. */
struct attn__route_run {
	const struct attn__route_spec *rs;
	const struct attn_shape *s;
	char *heads; /* B·H regions of rs->lo.bytes */
};

static inline char *attn__route_region(const void *arg, int64_t bh)
{
	const struct attn__route_run *run = (const struct attn__route_run *)arg;
	return run->heads + (size_t)bh * run->rs->lo.bytes;
}

/* The engine's head callback for the standard layout (arg: struct attn__route_run). */
void attn__route_head_cb(const void *arg, int pass, int64_t bh, struct attn__bs_head *hd);

/*
 * The workspace of a routed forward(): the engine's (plan with one pass),
 * then a line holding the "mask dumped" flag, the shared state, every
 * head's region, and a routing scratch per thread. Offsets from the start
 * of ws.
 */
struct attn__route_ws {
	struct attn__bs_plan pl;
	size_t off_flag, off_shared, off_heads, off_scratch, total;
	int threads;
};

void attn__route_ws_init(struct attn__route_ws *w, const struct attn__route_spec *rs,
                         const struct attn_shape *s, int threads);

/*
 * prepare(): the shared state into ws (nothing when the spec has none),
 * and the dump flag cleared.
 */
int attn__route_prepare(const struct attn__route_spec *rs, const struct attn_shape *s,
                        const struct attn_inputs *in, void *ws, int threads);

/*
 * Route every head (OpenMP over heads, each head single-threaded, so the
 * bits do not depend on the thread count) into the heads' regions of ws.
 * Returns the time it took in ns (CLOCK_MONOTONIC).
 */
double attn__route_all(const struct attn__route_spec *rs, const struct attn_shape *s,
                       const struct attn_inputs *in, void *ws, int threads);

/*
 * The whole forward(): route every head, run the engine on the lists,
 * report density, FLOPs, routing time and the resolved parameters, and dump head 0's mask when the
 * harness asks, once per prepare(); ctx may be NULL.
 */
int attn__route_forward(const struct attn__route_spec *rs, const struct attn_shape *s,
                        const struct attn_inputs *in, float *out, void *ws,
                        const struct attn_ctx *ctx);

/*
 * An oracle's routing: the method's part of the workspace (shared state,
 * every head's selection, one scratch; not the engine's tiles) in memory of
 * its own, filled by prep and route on one thread. Returns that memory (the
 * caller frees it), *shared and *heads pointing into it; NULL when it
 * cannot be allocated.
 */
char *attn__route_select(const struct attn__route_spec *rs, const struct attn_shape *s,
                         const struct attn_inputs *in, char **shared, char **heads);

/*
 * The oracle: the same float32 routing (attn__route_select), then the
 * engine's float64 dense masked reference over exactly those lists.
 * Allocates; ATTN_ERR_NOMEM when that fails.
 */
int attn__route_oracle(const struct attn__route_spec *rs, const struct attn_shape *s,
                       const struct attn_inputs *in, double *out);

/*
 * Hand the harness a routed call's figures (ctx may be NULL, or its
 * report): the engine's "density", "flops_computed" (kept pairs' FLOPs plus
 * routing_flops) and "routing_ns", and "tile_density", the fraction of the
 * score matrix covered by the tiles the engine computed (b×b per prefill
 * tile, 1×b in decode; the last block's shortness ignored). The two
 * densities differ where PARTIAL tiles compute more than they keep (moba's
 * token route, kmeans' cluster edges).
 */
void attn__route_report(const struct attn_ctx *ctx, const struct attn_shape *s, int64_t b,
                        const struct attn__bs_stats *st, double routing_flops, double routing_ns);

/*
 * A routing method's descriptor flops() and bytes(), nominal (the data
 * decide the actual kept set, which forward() reports): 4 D per nominal
 * pair plus the routing's FLOPs; attn__route_nominal_bytes() of the
 * nominal pairs plus the routing's reads.
 */
double attn__route_flops(const struct attn__route_spec *rs, const struct attn_shape *s);
double attn__route_bytes(const struct attn__route_spec *rs, const struct attn_shape *s);

/*
 * Bytes one forward() moves, nominally: Q read and O written once, the
 * K and V rows of every kept block read once per query block that keeps
 * it (a tile of b rows shares them; a decode row is alone), and
 * `extra_bytes` of the routing's own reads (pooled keys, page metadata).
 */
double attn__route_nominal_bytes(const struct attn_shape *s, int64_t b, double pairs,
                                 double extra_bytes);

/*
 * Routing by pooled scores, as block_topk and moba's block route do: per
 * query block i of head bh, S̄_ij = ⟨q̄_i, k̄_j⟩ (means over blocks; in
 * decode q̄ is the query), keep the `topk` best key blocks among the
 * candidates (j <= i if causal, else all) plus block i itself (in decode
 * the block of position N - 1) and, with `sink`, block 0. Writes row and
 * col of the standard layout (all pairs FULL).
 * scratch: attn__route_pooled_scratch() bytes.
 */
size_t attn__route_pooled_scratch(const struct attn_shape *s, int64_t b);
void attn__route_pooled(const struct attn__route_spec *rs, const struct attn_shape *s,
                        const struct attn_inputs *in, int64_t bh, char *region, void *scratch,
                        int64_t topk, int sink);

/*
 * Of attn__route_pooled, over all heads: FLOPs (the pooling adds and the
 * scores) and bytes (Q and K read once more).
 */
double attn__route_pooled_flops(const struct attn_shape *s, int64_t b);
double attn__route_pooled_bytes(const struct attn_shape *s);

/* The block size parameter every routing method has (the engine's range). */
#define ATTN__ROUTE_PARAM_B                                                                        \
	{                                                                                          \
		"b", ATTN_PARAM_INT, ATTN__BS_B_DEFAULT, ATTN__BS_B_MIN, ATTN__BS_B_MAX, NULL,     \
		    "block size: query rows and keys per block (pages in decode)"                  \
	}

/*
 * What a routed method's descriptor points at (its data): `spec` fills rs
 * and the method's own configuration *cfg (which rs->cfg may point at)
 * from the shape and the call's parameters. cfg is ATTN__ROUTE_CFG_MAX
 * bytes of the callback's frame, aligned for any type: a method asserts
 * that its cfg type fits (ATTN__ROUTE_CFG_FITS).
 */
#define ATTN__ROUTE_CFG_MAX 128
#define ATTN__ROUTE_CFG_FITS(cfg_type)                                                             \
	_Static_assert(sizeof(cfg_type) <= ATTN__ROUTE_CFG_MAX,                                    \
	               #cfg_type " exceeds ATTN__ROUTE_CFG_MAX")

struct attn__route_method {
	void (*spec)(const struct attn_shape *s, const struct attn_params *p,
	             struct attn__route_spec *rs, void *cfg);
};

/*
 * The descriptor callbacks of a routed method (m->data a `struct
 * attn__route_method`); its supports() is its own. flops, bytes and prepare
 * are the driver's; workspace_bytes, forward and oracle too for a method
 * with no more than the driver's workspace (nsa writes those three
 * itself). forward and oracle first ask m->supports and refuse
 * (ATTN_ERR_UNSUPPORTED) what it refuses.
 */
double attn__routed_flops(const struct attn_method *m, const struct attn_shape *s,
                          const struct attn_params *p);
double attn__routed_bytes(const struct attn_method *m, const struct attn_shape *s,
                          const struct attn_params *p);
int attn__routed_prepare(const struct attn_method *m, const struct attn_shape *s,
                         const struct attn_params *p, const struct attn_inputs *in, void *ws,
                         const struct attn_ctx *ctx);
size_t attn__routed_workspace_bytes(const struct attn_method *m, const struct attn_shape *s,
                                    const struct attn_params *p, int threads);
int attn__routed_forward(const struct attn_method *m, const struct attn_shape *s,
                         const struct attn_params *p, const struct attn_inputs *in, float *out,
                         void *ws, const struct attn_ctx *ctx);
int attn__routed_oracle(const struct attn_method *m, const struct attn_shape *s,
                        const struct attn_params *p, const struct attn_inputs *in, double *out,
                        const struct attn_ctx *ctx);

/*
 * The fields every routing method's descriptor shares: sparse, not exact
 * (exact over its kept set only: the oracle is the dense masked reference
 * over the same selection), tolerance 1e-5, no extra inputs, the
 * parameters of the method's array <prefix>_params, and the driver's
 * flops, bytes and prepare. The method adds supports and data (and
 * name, category, summary, citation, time_exp, mem_exp);
 * ATTN__ROUTE_METHOD_COMMON adds the driver's workspace_bytes, forward and
 * oracle as well.
 */
#define ATTN__ROUTE_METHOD_FIELDS(prefix)                                                          \
	.abi_version = ATTN_ABI_VERSION, .family = ATTN_FAMILY_SPARSE, .flags = 0,                 \
	.tolerance = 1e-5, .inputs = 0, .params = prefix##_params,                                 \
	.n_params = ATTN__COUNT(prefix##_params), .flops = attn__routed_flops,                     \
	.bytes = attn__routed_bytes, .prepare = attn__routed_prepare

#define ATTN__ROUTE_METHOD_COMMON(prefix)                                                          \
	ATTN__ROUTE_METHOD_FIELDS(prefix), .workspace_bytes = attn__routed_workspace_bytes,        \
	                                   .forward = attn__routed_forward,                        \
	                                   .oracle = attn__routed_oracle

#endif /* ATTNBENCH_METHODS_ROUTE_H */
