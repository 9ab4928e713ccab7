/*
 * The block-sparse attention engine that every sparse method runs on: flash's
 * exact online-softmax tiles (methods/full/flash.c), walking a *list* of key
 * blocks per query block instead of all of them, so that the work is
 * proportional to the pairs a method keeps. A method only says which pairs:
 *
 *   - Blocks. Rows and keys are cut into blocks of b (the last one may be
 *     short). Per head and per pass, a CSR list gives for each query block
 *     its key blocks, ascending: row[qb] .. row[qb + 1] index col[] (and
 *     kind[]). The engine computes exactly those (query block, key block)
 *     pairs, one attn__gemm tile each, and nothing else.
 *   - Exact edges. A pair is FULL (every (i, j) kept, apart from causality,
 *     which the engine applies itself from positions) or PARTIAL: then the
 *     method's mask() fills a byte mask (nq, nk) for the pair once, O(b²)
 *     next to the pair's O(b² D), and the engine hides the zeros. Window
 *     edges, dilation and strides are exact without a per-element callback
 *     in the inner loop.
 *   - Index sets. A head's rows and keys may be taken in another order, or
 *     only some of them ("list space"): list row r is original row
 *     qidx[r] (or qfirst + r·qstride), list key c is original key kidx[c]
 *     (or kfirst + c·kstride). Affine maps are read in place (a row stride
 *     of the GEMM); arrays are gathered per block, O(b D) next to the
 *     block's O(b² D). Causality is always applied on the ORIGINAL
 *     positions, and O is scattered back to the original rows. Clustering
 *     methods (LSH, k-means) sort rows by bucket this way; dilation takes
 *     every r-th row.
 *   - Passes. A method may run several patterns (passes) on the same head
 *     whose results are mixed by their softmax denominators, exactly:
 *         O_i = Σ_p Σ_{j ∈ S_p(i)} e^{s_ij} v_j / Σ_p Σ_{j ∈ S_p(i)} e^{s_ij},
 *     which is what merging per-pass partials (m, l, A) as flash-decoding
 *     does computes; in prefill the engine simply carries each row's
 *     (m, l, A) from one pass into the next (the online softmax does not
 *     care which pass a key block came from). LongNet's dilated branches
 *     are passes; a key two passes keep counts twice, as in LongNet.
 *     A row that no pass reaches, or whose kept set is empty, gets O = 0.
 *
 * Decode (NQ = 1, the query at position N - 1): a list with one row (nq = 1)
 * or none (nq = 0: no key for this head in this pass). Its pairs are split
 * into ranges of ATTN__BS_DECODE_RANGE pairs, each a task that leaves a
 * partial (m, l, A), merged at the end (flash-decoding), so that one head's
 * decode spreads over threads; the ranges do not depend on the thread
 * count, so neither do the bits.
 *
 * Parallelism: OpenMP over (b, h, query block) per pass, dynamic schedule,
 * each thread in its own workspace slice; the workspace is exact
 * (attn__bs_plan) and forward never allocates. The run returns what it did:
 * the pairs (tiles) computed and the (query, key) pairs kept, so that a test
 * can prove the work is proportional to the kept pairs and a method can
 * report its density without another pass.
 *
 * The oracles: attn__bs_reference() (float64, from the same lists and
 * masks: exact over the kept set) and attn__bs_reference_vis() (float64,
 * from a per-element multiplicity function, independent of any blocking).
 *
 * Internal to attnbench (attn__ names), like common.h.
 */
#ifndef ATTNBENCH_METHODS_BLOCKSPARSE_H
#define ATTNBENCH_METHODS_BLOCKSPARSE_H

#include <stddef.h>
#include <stdint.h>

#include "attnbench/method.h"

/* The default block size b (query rows and keys per block). */
#define ATTN__BS_B_DEFAULT 64
/* The block sizes the engine takes: b in [ATTN__BS_B_MIN, ATTN__BS_B_MAX]. */
#define ATTN__BS_B_MIN 8
#define ATTN__BS_B_MAX 1024

/* Decode: pairs per range (task); see the top of the file. */
#define ATTN__BS_DECODE_RANGE 8

/* A pair's kind, in a list's kind[] (kind NULL: every pair FULL). */
enum attn__bs_kind {
	ATTN__BS_FULL = 0,   /* every (i, j) kept, apart from causality */
	ATTN__BS_PARTIAL = 1 /* mask() says which */
};

/*
 * One head's list for one pass, in list space (see the top of the file).
 * Everything it points to lives as long as the run (the method's part of
 * the workspace, or constant tables).
 *   prefill: nq <= NQ list rows, each original row at most once;
 *   decode:  nq is 0 or 1 (row 0, at position N - 1), qidx NULL, qfirst 0.
 */
struct attn__bs_head {
	int64_t nq;          /* list rows */
	int64_t nk;          /* list keys, <= N */
	const int32_t *qidx; /* (nq) original row of list row r, or NULL: */
	int64_t qfirst;      /*   original row qfirst + r·qstride */
	int64_t qstride;     /*   (>= 1) */
	const int32_t *kidx; /* (nk) original key of list key c, or NULL: */
	int64_t kfirst;      /*   original key kfirst + c·kstride */
	int64_t kstride;     /*   (>= 1) */
	const int64_t *row;  /* (ceil(nq / b) + 1) CSR offsets into col and kind */
	const int32_t *col;  /* (row[nqb]) key blocks, ascending within a row */
	const uint8_t *kind; /* (row[nqb]) enum attn__bs_kind, or NULL: all FULL */
};

/*
 * What a method hands the engine.
 *   head(arg, pass, bh, hd): fill hd with head bh's list for pass `pass`
 *     (bh = b·H + h, flat over batch). Called once per task: make it cheap.
 *   mask(arg, pass, bh, hd, r0, nq, c0, nk, mask): for the PARTIAL pair of
 *     list rows [r0, r0 + nq) and list keys [c0, c0 + nk), mask (nq, nk),
 *     1 = kept; causality need not be applied (the engine does). NULL when
 *     no list has a PARTIAL pair.
 */
struct attn__bs_pattern {
	int64_t b;  /* block size */
	int passes; /* >= 1 */
	void (*head)(const void *arg, int pass, int64_t bh, struct attn__bs_head *hd);
	void (*mask)(const void *arg, int pass, int64_t bh, const struct attn__bs_head *hd,
	             int64_t r0, int64_t nq, int64_t c0, int64_t nk, uint8_t *mask);
	const void *arg;
	/*
	 * For attn__bs_dump() only, NULL unless passes keep the same pairs and
	 * the dump is to show their union (nsa's branches; LongNet's repeats
	 * are real and stay clamped): subtract from pairs (nqb, nkb), the
	 * pairs of head bh each pass kept per original block, those counted
	 * more than once, once per extra count.
	 */
	void (*dump_overlap)(const void *arg, int64_t bh, int64_t nkb, uint32_t *pairs);
};

/* Original row and position of list row r, and original key of list key c. */
static inline int64_t attn__bs_qrow(const struct attn__bs_head *hd, int64_t r)
{
	return hd->qidx ? hd->qidx[r] : hd->qfirst + r * hd->qstride;
}

static inline int64_t attn__bs_qpos(const struct attn_shape *s, const struct attn__bs_head *hd,
                                    int64_t r)
{
	return s->mode == ATTN_MODE_DECODE ? s->n - 1 : attn__bs_qrow(hd, r);
}

static inline int64_t attn__bs_key(const struct attn__bs_head *hd, int64_t c)
{
	return hd->kidx ? hd->kidx[c] : hd->kfirst + c * hd->kstride;
}

/*
 * How one run carves the engine's workspace; built from (shape, b, passes,
 * threads) by attn__bs_plan_init(), so that workspace_bytes() and forward()
 * agree. The engine uses bytes [0, total) of the workspace; a method puts
 * its own buffers (lists, index maps) after them.
 */
struct attn__bs_plan {
	int threads; /* slices, = the OpenMP team size */
	int64_t b;   /* block size */
	int64_t bqp; /* b padded up to the GEMM register tile's width */
	int64_t ldq; /* row stride of the tile's Qᵀ and Sᵀ */
	int passes;
	int64_t splits; /* decode: ranges per (head, pass) */
	size_t carry;   /* prefill with passes > 1: bytes of (m, l) per row, first */
	size_t parts;   /* decode: bytes of the partials, first */
	size_t off_qt, off_pt, off_acc, off_m, off_l, off_mnew, off_csum; /* in a slice */
	size_t off_kbuf, off_vbuf, off_mask, off_qrow, off_qpos, off_kpos;
	size_t slice; /* bytes of one slice (a multiple of 64) */
	size_t total; /* bytes the engine uses */
};

void attn__bs_plan_init(struct attn__bs_plan *pl, const struct attn_shape *s, int64_t b, int passes,
                        int threads);

/* What a run did, over all heads and passes. */
struct attn__bs_stats {
	int64_t tiles; /* (query block, key block) pairs computed */
	int64_t kept;  /* (query, key) pairs kept: masks and causality applied */
};

/*
 * out (B, H, NQ, D) = the pattern's attention of in->q (B, H, NQ, D) over
 * in->k, in->v (B, KVH, N, D), with the plan's threads; ws: the plan's
 * `total` bytes (64-byte aligned). Fills *st (may be NULL).
 */
void attn__bs_run(const struct attn__bs_plan *pl, const struct attn__bs_pattern *pat,
                  const struct attn_shape *s, const struct attn_inputs *in, float *out, void *ws,
                  struct attn__bs_stats *st);

/* ---- helpers for the methods ------------------------------------------------- */

/*
 * Density: kept (query, key) pairs over those of the causal or full score
 * matrix (attn__softmax_pairs); and their FLOPs, 4·D per kept pair (the
 * convention of attn__softmax_flops).
 */
double attn__bs_density(const struct attn_shape *s, double kept);
double attn__bs_flops(const struct attn_shape *s, double kept);

/*
 * Hand the harness what a forward() call did, when it asked (ctx->report
 * non-NULL): "density", "flops_computed" = the kept pairs' FLOPs plus
 * routing_flops, "tiles" = the block pairs computed (the engine's work,
 * which tests hold against the lists) and "routing_ns" when routing_ns >= 0.
 */
void attn__bs_report(const struct attn_ctx *ctx, const struct attn_shape *s,
                     const struct attn__bs_stats *st, double routing_flops, double routing_ns);

/*
 * A parameter a method chose itself, its given value having meant "choose"
 * (0: auto) or been cut to the shape: reported as "param.NAME" (method.h's
 * convention), so that a case's figures name the value it ran with.
 */
struct attn__bs_param {
	const char *name; /* the parameter's, as in the method's specs */
	double value;
};
#define ATTN__BS_MAX_PARAMS 4

/* Report each of p[0, n) as "param.NAME", unit "1" (ctx or its report may be NULL). */
void attn__bs_report_params(const struct attn_ctx *ctx, const struct attn__bs_param *p, int n);

/*
 * When ctx->dump_mask is set and *dumped is 0: the (nqb, nkb) mask of
 * original blocks of head bh (every pass, maps undone, masks and causality
 * applied), each byte the block's kept fraction of its area: 0 no pair
 * kept, 2..253 partial (2 + 252·fraction), 255 every pair (1, what masks
 * held before fractions, means kept, fraction unknown). A pair several
 * passes keep counts each time, clamped to whole, unless pat->dump_overlap
 * takes the repeats out. Handed to the harness, and *dumped set. A
 * diagnostic, and the one place the engine allocates: that mask (nqb·nkb
 * bytes and 4-byte pair counts, which no workspace should carry) and a
 * pair's mask; the dump is skipped if that fails. So that the allocation
 * stays out of timed calls, a method dumps once per prepare(): `dumped` is
 * a byte of its workspace that prepare() clears, so only the first
 * forward() whose ctx asks (the harness's warm-up call, or a call of its
 * own) pays for it.
 */
void attn__bs_dump(const struct attn_ctx *ctx, const struct attn__bs_pattern *pat,
                   const struct attn_shape *s, int64_t bh, uint8_t *dumped);

/*
 * The float64 dense masked reference over the same lists and masks: per
 * original row i, softmax over the multiset ∪_p S_p(i) of kept keys (causal
 * on positions), O_i = 0 when it is empty. out (B, H, NQ, D). Allocates;
 * ATTN_ERR_NOMEM when that fails.
 */
int attn__bs_reference(const struct attn__bs_pattern *pat, const struct attn_shape *s,
                       const struct attn_inputs *in, double *out);

/*
 * The same from a per-element function, independent of blocks and lists:
 * vis(arg, bh, pos, j) = how many times query row at position `pos` of head
 * bh keeps key j (0: hidden; > 1: LongNet's overlapping branches); the
 * reference applies causality (j > pos hidden) itself.
 *   O_i = Σ_j c_ij e^{s_ij} v_j / Σ_j c_ij e^{s_ij},  0 when every c_ij = 0.
 */
typedef int (*attn__bs_vis_fn)(const void *arg, int64_t bh, int64_t pos, int64_t j);
int attn__bs_reference_vis(attn__bs_vis_fn vis, const void *arg, const struct attn_shape *s,
                           const struct attn_inputs *in, double *out);

#endif /* ATTNBENCH_METHODS_BLOCKSPARSE_H */
