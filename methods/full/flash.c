/*
 * `flash`: exact attention by tiles with an online softmax (Dao et al. 2022,
 * FlashAttention), so that no score matrix is ever stored: each thread keeps
 * one tile of Bq query rows and walks the keys Bk at a time, carrying per row
 * a running max m, a running sum l and an unnormalised output accumulator.
 * Extra memory is a few tiles per thread, independent of N.
 *
 * For one tile (rows [q0, q0 + Bq) of head (b, h)), in base-2 units
 * (scores are scaled by log2(e)/√D so that e^s becomes the cheaper 2^s):
 *
 *   m = -inf, l = 0, A = 0                                  A is (Bq, D)
 *   for each key block K_j, V_j (Bk rows):
 *     S     = Q K_jᵀ · log2(e)/√D                           (Bq, Bk)
 *     m_new = max(m, rowmax(S))
 *     P     = 2^(S - m_new)                                 masked entries 0
 *     α     = 2^(m - m_new)             rescales what was summed under m
 *     l     = α l + rowsum(P)
 *     A     = α A + P V_j
 *     m     = m_new
 *   O = A / l
 *
 * The result equals softmax(Q Kᵀ/√D) V up to rounding: every term carries
 * the same factor 2^-m_final in the end. Causal: key blocks entirely above
 * the diagonal are never visited (the walk stops at the tile's last row),
 * and only blocks that cross the diagonal are masked, row by row.
 *
 * The two products are small cache-resident GEMMs (attn__gemm, an AVX-512
 * register tile where available). The tile is kept keys-by-queries: its
 * queries are packed once, transposed, as Qᵀ (D, Bq), so that
 * Sᵀ = K_j Qᵀ reads the key block in place, straight from K, with rows of
 * Bq queries as the contiguous vectors; the row-wise softmax then becomes
 * element-wise work along those rows (one lane per query), and P V reads Pᵀ
 * in place as a transposed operand. Nothing is packed per key block. Query
 * columns are padded with zeros to the register tile's 32; padding is never
 * written out.
 *
 * Tile sizes default to "auto" (0): see auto_bq and auto_bk below.
 *
 * Parallelism: OpenMP over (b, h, query tile), dynamic schedule, longest
 * (causal) tiles first; each thread works in its own slice of the workspace.
 * Decode (one query per head, every key visible) is memory-bound: the
 * work is reading K and V. So the G = H/KVH query heads that share a K/V
 * head (GQA) are done together, in one pass over each K/V block, and the
 * tasks are (b, kv head, key range): the keys are split when B·KVH is
 * smaller than the thread count, each range producing partials (m, l, A)
 * that a final pass merges (flash-decoding):
 *   M = max_r m_r,  O = Σ_r 2^(m_r - M) A_r / Σ_r 2^(m_r - M) l_r.
 * No OpenBLAS call happens anywhere in here (it must not be called from
 * inside an OpenMP region).
 */
#include <math.h>
#include <stdio.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/kernels.h"

enum { FLASH_P_BQ = 0, FLASH_P_BK = 1 };

static const struct attn_param_spec flash_params[] = {
    {"bq", ATTN_PARAM_INT, 0, 0, 1024, NULL,
     "query rows per tile (Bq), 0 or 8..1024; 0: auto, 128, "
     "halved (to 32 at least) while the threads would get fewer than 4 tiles each"},
    {"bk", ATTN_PARAM_INT, 0, 0, 1024, NULL,
     "keys per block (Bk), 0 or 8..1024; 0: auto, 64 in prefill (an L1-resident K/V block), "
     "256 in decode"},
};

/*
 * How one forward() carves its workspace. workspace_bytes() and forward()
 * both build this from the same (shape, params, threads), so they agree.
 *
 * Prefill: `threads` slices, each one tile's buffers:
 *   qt   (D, ldq)    the tile's queries, transposed and pre-scaled; padding 0
 *   pt   (bk, ldq)   Sᵀ, then Pᵀ: a row per key, a column per query
 *   acc  (bqp, D)    unnormalised output
 *   m, l, mnew, csum (bqp)  running max (base 2), running sum, and the
 *                    block's new max and column sums
 * Decode: the partials of every (b, h, key range), (m, l, A[D]) each, then
 * `threads` slices of  q' (G, D)  at off_qt and  scores (G, bk)  at off_pt,
 * G = H/KVH the query heads of a K/V head.
 * Every slice starts on a 64-byte boundary (its size is a multiple of 64),
 * so threads never share a cache line.
 */
struct flash_plan {
	int threads;    /* slices, = the OpenMP team size */
	int64_t bq, bk; /* tile queries and keys, clipped to NQ and N */
	int64_t bqp;    /* queries padded up to the GEMM register tile's width */
	int64_t ldq;    /* row stride of qt and pt, see flash_plan_init */
	int64_t splits; /* decode: key ranges per head */
	size_t parts;   /* decode: bytes of the partials, before the slices */
	size_t off_qt, off_pt, off_acc, off_m, off_l, off_mnew, off_csum; /* in a slice */
	size_t slice; /* bytes of one slice (a multiple of 64) */
	size_t total;
};

/*
 * Tile sizes when the parameters say 0 (auto). Measured on AVX-512 cores
 * with 48 KiB L1d and 2 MiB L2, interleaved against sgemm, and reasoned so:
 *   bk = 64 in prefill: a K or V block (16 KiB at D = 64, 32 KiB at 128)
 *     stays in L1 while the register tile sweeps it, and the per-block
 *     softmax work (max, exp, rescale) stays small next to the products;
 *     32 and 128 both measured slower at D = 64 and 128. Decode streams K
 *     and V from memory once and has no tile to keep: long blocks (256)
 *     amortise the per-block work.
 *   bq: each K/V block read from L2 (or beyond) serves bq queries, so a
 *     larger tile means less traffic per FLOP; 128 (measured ahead of 64;
 *     256 was no better) keeps the tile's Qᵀ, Pᵀ and accumulator, about 3·128·D
 *     floats, well inside L2. When the tiles would give the threads fewer
 *     than 4 each, bq halves (down to 32), so that the dynamic schedule can
 *     balance them.
 */
static int64_t auto_bk(const struct attn_shape *s)
{
	return s->mode == ATTN_MODE_DECODE ? 256 : 64;
}

static int64_t auto_bq(const struct attn_shape *s, int threads)
{
	const int64_t heads = s->batch * s->heads, NQ = attn_shape_nq(s);
	int64_t bq = 128;
	while (bq > 32 && heads * ((NQ + bq - 1) / bq) < 4 * (int64_t)threads)
		bq /= 2;
	return bq;
}

static void flash_plan_init(struct flash_plan *pl, const struct attn_shape *s,
                            const struct attn_params *p, int threads)
{
	const int64_t N = s->n, D = s->d, NQ = attn_shape_nq(s);
	const int64_t heads = s->batch * s->heads;
	const int64_t group = s->heads / s->kv_heads, kv_heads = s->batch * s->kv_heads;
	int64_t tasks;

	memset(pl, 0, sizeof *pl);
	if (threads < 1)
		threads = 1;
	pl->bq = attn__param_int(p, FLASH_P_BQ, 0);
	pl->bk = attn__param_int(p, FLASH_P_BK, 0);
	pl->bq = attn__min64(pl->bq > 0 ? pl->bq : auto_bq(s, threads), NQ);
	pl->bk = attn__min64(pl->bk > 0 ? pl->bk : auto_bk(s), N);

	if (s->mode == ATTN_MODE_DECODE) {
		/*
		 * Enough key ranges to give every thread work, but no range
		 * shorter than a block (below that, merging costs more than it
		 * saves).
		 */
		int64_t splits = kv_heads >= threads ? 1 : (threads + kv_heads - 1) / kv_heads;
		pl->splits = attn__min64(splits, (N + pl->bk - 1) / pl->bk);
		tasks = kv_heads * pl->splits;
		pl->parts = attn__floats64(heads * pl->splits * (D + 2));
		pl->off_qt = 0;
		pl->off_pt = attn__floats64(group * D);
		pl->slice = pl->off_pt + attn__floats64(group * pl->bk);
	} else {
		pl->bqp = attn__round_up(pl->bq, ATTN__GEMM_NR);
		/*
		 * The GEMM walks qt down a column panel, D rows apart. At a row
		 * stride that is a multiple of 512 bytes (bqp = 128, 256, ...)
		 * those rows all fall into a few L1 sets and evict each other;
		 * one extra cache line per row spreads them out.
		 */
		pl->ldq = pl->bqp + 16;
		tasks = heads * ((NQ + pl->bq - 1) / pl->bq);
		pl->off_qt = 0;
		pl->off_pt = pl->off_qt + attn__floats64(D * pl->ldq);
		pl->off_acc = pl->off_pt + attn__floats64(pl->bk * pl->ldq);
		pl->off_m = pl->off_acc + attn__floats64(pl->bqp * D);
		pl->off_l = pl->off_m + attn__floats64(pl->bqp);
		pl->off_mnew = pl->off_l + attn__floats64(pl->bqp);
		pl->off_csum = pl->off_mnew + attn__floats64(pl->bqp);
		pl->slice = pl->off_csum + attn__floats64(pl->bqp);
	}
	/* A thread without a task would only hold memory. */
	pl->threads = (int)attn__min64(threads, tasks);
	pl->total = pl->parts + (size_t)pl->threads * pl->slice;
}

/*
 * A tile size is 0 (auto) or at least FLASH_MIN_TILE: smaller tiles work,
 * but only ever measure overhead.
 */
#define FLASH_MIN_TILE 8

static int check_tile(const struct attn_params *p, int idx, char *msg, size_t msglen)
{
	int rc = attn__check_param_int(p, &flash_params[idx], idx, msg, msglen);
	const int64_t v = attn__param_int(p, idx, 0);
	if (rc == ATTN_OK && v > 0 && v < FLASH_MIN_TILE) {
		if (msg && msglen > 0)
			snprintf(msg, msglen, "%s %lld: 0 (auto) or %d..%g", flash_params[idx].name,
			         (long long)v, FLASH_MIN_TILE, flash_params[idx].max);
		rc = ATTN_ERR_UNSUPPORTED;
	}
	return rc;
}

static int flash_supports(const struct attn_method *m, const struct attn_shape *s,
                          const struct attn_params *p, char *msg, size_t msglen)
{
	(void)m;
	int rc = attn__check_shape(s, msg, msglen);
	if (rc == ATTN_OK)
		rc = check_tile(p, FLASH_P_BQ, msg, msglen);
	if (rc == ATTN_OK)
		rc = check_tile(p, FLASH_P_BK, msg, msglen);
	return rc;
}

static size_t flash_workspace_bytes(const struct attn_method *m, const struct attn_shape *s,
                                    const struct attn_params *p, int threads)
{
	(void)m;
	struct flash_plan pl;
	flash_plan_init(&pl, s, p, threads);
	return pl.total;
}

static double flash_flops(const struct attn_method *m, const struct attn_shape *s,
                          const struct attn_params *p)
{
	(void)m;
	(void)p;
	return attn__softmax_flops(s);
}

/* Q, K, V read and O written once: the scores never leave the tile. */
static double flash_bytes(const struct attn_method *m, const struct attn_shape *s,
                          const struct attn_params *p)
{
	(void)m;
	(void)p;
	return attn__qkvo_bytes(s);
}

/*
 * The first query of a tile that sees key `key`: queries i >= this do. Under
 * a causal mask query i sits at pos0 + i and sees keys <= pos0 + i; without
 * one, every query sees every key. Always < bqp, since a tile's keys stop at
 * its last query. Key 0 is seen by every query, so after a tile's first key
 * block every running max is finite (and α is never 2^(-inf + inf)).
 */
static int64_t first_viewer(int causal, int64_t pos0, int64_t key)
{
	return causal && key > pos0 ? key - pos0 : 0;
}

/*
 * One prefill tile: mq (<= bq) query rows of one head, the first at position
 * pos0, against that head's keys.
 *   q (mq, D), k and v (N, D), o (mq, D); slice: this thread's buffers.
 */
static void flash_tile(const struct flash_plan *pl, const struct attn_shape *s, int64_t pos0,
                       int64_t mq, const float *q, const float *k, const float *v, float *o,
                       char *slice)
{
	const int64_t N = s->n, D = s->d;
	const int64_t bk = pl->bk, bqp = pl->bqp, ldq = pl->ldq;
	float *qt = (float *)(slice + pl->off_qt);     /* (D, bqp), row stride ldq */
	float *pt = (float *)(slice + pl->off_pt);     /* (bk, bqp), row stride ldq */
	float *acc = (float *)(slice + pl->off_acc);   /* (bqp, D) */
	float *m = (float *)(slice + pl->off_m);       /* (bqp) */
	float *l = (float *)(slice + pl->off_l);       /* (bqp) */
	float *mnew = (float *)(slice + pl->off_mnew); /* (bqp) */
	float *csum = (float *)(slice + pl->off_csum); /* (bqp) */

	/*
	 * pass 0: Qᵀ = (Q · log2(e)/√D)ᵀ, so that Sᵀ = K Qᵀ comes out in base
	 * 2 with the 1/√D already applied. Padding columns are zero (finite
	 * scores, never written out). The workspace is not assumed zeroed:
	 * every buffer is initialised here.
	 */
	attn__pack_qt(qt, ldq, q, D, mq, bqp, D, (float)(ATTN__LOG2E / sqrt((double)D)));
	memset(acc, 0, (size_t)(bqp * D) * sizeof(float));
	for (int64_t i = 0; i < bqp; i++) {
		m[i] = -INFINITY;
		l[i] = 0.0f;
	}

	/* Causal: the tile's last row, at pos0 + mq - 1, sees keys < pos0 + mq. */
	const int64_t kend = s->causal ? attn__min64(N, pos0 + mq) : N;

	for (int64_t k0 = 0; k0 < kend; k0 += bk) {
		const int64_t nk = attn__min64(bk, kend - k0);

		/* pass 1: Sᵀ (nk, bqp) = K[k0 : k0+nk] (nk, D) · Qᵀ (D, bqp) */
		attn__gemm(nk, bqp, D, k + k0 * D, D, 1, qt, ldq, pt, ldq, 0);

		/* pass 2: m_new = max(m, column max of the visible Sᵀ) */
		memcpy(mnew, m, (size_t)bqp * sizeof(float));
		for (int64_t j = 0; j < nk; j++) {
			const int64_t lo = first_viewer(s->causal, pos0, k0 + j);
			attn__max_into(mnew + lo, pt + j * ldq + lo, bqp - lo);
		}

		/* pass 3: Pᵀ = 2^(Sᵀ - m_new) where visible, 0 where masked; column sums */
		memset(csum, 0, (size_t)bqp * sizeof(float));
		for (int64_t j = 0; j < nk; j++) {
			const int64_t lo = first_viewer(s->causal, pos0, k0 + j);
			float *row = pt + j * ldq;
			memset(row, 0, (size_t)lo * sizeof(float));
			attn__exp2_sub_into(row + lo, mnew + lo, csum + lo, bqp - lo);
		}

		/*
		 * pass 4: α = 2^(m - m_new) rescales what was summed under the
		 * old max (0 on the first block, 1 when the max did not move):
		 * l = α l + Σ_j P, A = α A, m = m_new.
		 */
		attn__online_rescale(m, l, mnew, csum, acc, bqp, D);

		/* pass 5: A (bqp, D) += P (bqp, nk) V[k0 : k0+nk] (nk, D), reading Pᵀ in place */
		attn__gemm(bqp, D, nk, pt, 1, ldq, v + k0 * D, D, acc, D, 1);
	}

	/* pass 6: O = A / l  (l >= 1: the max term contributes 2^0) */
	for (int64_t i = 0; i < mq; i++)
		for (int64_t c = 0; c < D; c++)
			o[i * D + c] = acc[i * D + c] / l[i];
}

static void flash_prefill(const struct flash_plan *pl, const struct attn_shape *s,
                          const struct attn_inputs *in, float *out, void *ws)
{
	const int64_t N = s->n, D = s->d;
	const int64_t heads = s->batch * s->heads;
	const int64_t tiles = (N + pl->bq - 1) / pl->bq; /* per head */
	const int64_t tasks = heads * tiles;

	/*
	 * Task t runs tile `tiles - 1 - t / heads` of head t % heads: the last
	 * tiles, the longest under a causal mask, go out first, so the dynamic
	 * schedule ends with short tiles that fill the gaps.
	 */
#pragma omp parallel for schedule(dynamic, 1) num_threads(pl->threads)
	for (int64_t t = 0; t < tasks; t++) {
		const int64_t tile = tiles - 1 - t / heads;
		const int64_t bh = t % heads, kv = attn__kv_head(s, bh);
		const int64_t q0 = tile * pl->bq, mq = attn__min64(pl->bq, N - q0);
		const float *q = in->q + (bh * N + q0) * D; /* (mq, D) */
		const float *k = in->k + kv * N * D;        /* (N, D) */
		const float *v = in->v + kv * N * D;        /* (N, D) */
		float *o = out + (bh * N + q0) * D;         /* (mq, D) */
		char *slice = (char *)ws + (size_t)attn__thread_id() * pl->slice;
		flash_tile(pl, s, q0, mq, q, k, v, o, slice);
	}
}

/*
 * One decode task: the single queries of the G heads that share one K/V
 * head, against keys [j0, j1), in one pass over the K/V blocks (GQA: the
 * blocks are read from memory once for the whole group, not once per head).
 * Leaves head g's partial (m, l, A) at part + g·pstride.
 *   q (G, D) the group's queries, k and v (N, D), part: G partials of 2 + D.
 */
static void flash_decode_range(const struct flash_plan *pl, const struct attn_shape *s, int64_t G,
                               const float *q, const float *k, const float *v, int64_t j0,
                               int64_t j1, float *part, int64_t pstride, char *slice)
{
	const int64_t D = s->d, bk = pl->bk;
	float *qp = (float *)(slice + pl->off_qt); /* (G, D) */
	float *sp = (float *)(slice + pl->off_pt); /* (G, bk) */

	const float qscale = (float)(ATTN__LOG2E / sqrt((double)D));
	for (int64_t g = 0; g < G; g++) {
		float *pg = part + g * pstride; /* m, l, A (D) */
		for (int64_t c = 0; c < D; c++)
			qp[g * D + c] = q[g * D + c] * qscale;
		pg[0] = -INFINITY;
		pg[1] = 0.0f;
		memset(pg + 2, 0, (size_t)D * sizeof(float));
	}

	for (int64_t c0 = j0; c0 < j1; c0 += bk) {
		const int64_t nc = attn__min64(bk, j1 - c0);

		/*
		 * pass 1: S (G, nc) = Q' K_blkᵀ, base-2 units; each key row
		 * loaded once for all G. Sixteen keys at a time, each batch
		 * followed by prefetches of the same keys' V rows: pass 3 reads
		 * V down 32-column panels, an order that memory streams badly,
		 * so it should find V already in cache (measured: 0.45 -> 0.55
		 * of streaming bandwidth at G = 8).
		 */
		for (int64_t j = 0; j < nc; j += 16) {
			const int64_t nj = attn__min64(16, nc - j);
			attn__gemm_nt(G, nj, D, qp, D, k + (c0 + j) * D, D, sp + j, bk);
			for (int64_t e = (c0 + j) * D; e < (c0 + j + nj) * D; e += 16)
				__builtin_prefetch(v + e, 0, 3);
		}

		/* pass 2: online softmax per head, as in a prefill tile, for one row */
		for (int64_t g = 0; g < G; g++)
			attn__online_row(part + g * pstride, sp + g * bk, nc, D);

		/* pass 3: A (G, D) += P (G, nc) V_blk (nc, D); each V row also read once */
		attn__gemm(G, D, nc, sp, bk, 1, v + c0 * D, D, part + 2, pstride, 1);
	}
}

static void flash_decode(const struct flash_plan *pl, const struct attn_shape *s,
                         const struct attn_inputs *in, float *out, void *ws)
{
	const int64_t H = s->heads, KVH = s->kv_heads, N = s->n, D = s->d;
	const int64_t heads = s->batch * H, G = H / KVH, splits = pl->splits;
	const int64_t kv_heads = s->batch * KVH;
	const int64_t stride = D + 2; /* floats per partial */
	float *parts = ws;            /* (heads, splits, 2 + D) */

#pragma omp parallel num_threads(pl->threads)
	{
		char *slice = (char *)ws + pl->parts + (size_t)attn__thread_id() * pl->slice;

		/*
		 * Partials: range r of K/V head bkv covers keys [N r / splits,
		 * N (r+1) / splits) for its G query heads bh = bkv·G + g (the
		 * query heads of a group are consecutive, h = kvh·G + g).
		 */
#pragma omp for schedule(dynamic, 1)
		for (int64_t t = 0; t < kv_heads * splits; t++) {
			const int64_t bkv = t / splits, r = t % splits;
			const float *k = in->k + bkv * N * D; /* (N, D) */
			const float *v = in->v + bkv * N * D; /* (N, D) */
			flash_decode_range(pl, s, G, in->q + bkv * G * D, k, v, N * r / splits,
			                   N * (r + 1) / splits,
			                   parts + (bkv * G * splits + r) * stride, splits * stride,
			                   slice);
		}
		/* (the implicit barrier of `omp for` orders the merge after every partial) */

		/* Merge: M = max m_r, O = Σ 2^(m_r - M) A_r / Σ 2^(m_r - M) l_r. */
#pragma omp for schedule(static)
		for (int64_t bh = 0; bh < heads; bh++)
			attn__merge_partials(out + bh * D, parts + bh * splits * stride, splits,
			                     stride, D);
	}
}

/*
 * `threads` must be the count workspace_bytes() was given: the plan, and so
 * the workspace's carving, depends on it.
 */
static int flash_forward(const struct attn_method *m, const struct attn_shape *s,
                         const struct attn_params *p, const struct attn_inputs *in, float *out,
                         void *ws, const struct attn_ctx *ctx)
{
	(void)m;
	if (flash_supports(m, s, p, NULL, 0) != ATTN_OK)
		return ATTN_ERR_UNSUPPORTED;
	struct flash_plan pl;
	flash_plan_init(&pl, s, p, ctx ? ctx->threads : 1);
	if (s->mode == ATTN_MODE_DECODE)
		flash_decode(&pl, s, in, out, ws);
	else
		flash_prefill(&pl, s, in, out, ws);
	/* the tile sizes it chose or cut to the shape, as method.h's param.NAME */
	if (ctx && ctx->report) {
		if (pl.bq != attn__param_int(p, FLASH_P_BQ, 0))
			ctx->report(ctx, "param.bq", (double)pl.bq, "1");
		if (pl.bk != attn__param_int(p, FLASH_P_BK, 0))
			ctx->report(ctx, "param.bk", (double)pl.bk, "1");
	}
	return ATTN_OK;
}

const struct attn_method attn_method_flash = {
    .abi_version = ATTN_ABI_VERSION,
    .name = "flash",
    .family = ATTN_FAMILY_FULL,
    .category = "softmax",
    .summary = "exact attention by tiles with an online softmax, no score matrix (OpenMP)",
    .citation = "Dao et al. 2022, FlashAttention; Vaswani et al. 2017",
    .flags = ATTN_METHOD_EXACT,
    .time_exp = 2.0,
    /*
     * Extra memory is a few tiles per thread, independent of N. (The
     * paper's O(N) counts the per-row statistics kept for the backward
     * pass; a forward-only kernel does not keep them.)
     */
    .mem_exp = 0.0,
    .tolerance = 1e-5,
    .inputs = 0,
    .n_params = 2,
    .params = flash_params,
    .supports = flash_supports,
    .workspace_bytes = flash_workspace_bytes,
    .flops = flash_flops,
    .bytes = flash_bytes,
    .prepare = NULL,
    .forward = flash_forward,
    .oracle = NULL,
};
