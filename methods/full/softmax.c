/*
 * `softmax`: exact attention with the scores materialised, block by block,
 * and the two matrix products done by OpenBLAS. This is the textbook
 * O = softmax(Q Kᵀ / √D + mask) V of Vaswani et al. (2017), organised so that
 * its memory is one block of `block` query rows by N keys, never N x N:
 *
 *   for each head (b, h) and block of query rows [r0, r0 + nb):
 *     pass 1  S = Q_blk Kᵀ / √D                          sgemm, (nb, ncols)
 *     pass 2  P = row softmax of S (causal: masked)      max, exp, sum, divide
 *     pass 3  O_blk = P V                                 sgemm, (nb, D)
 *
 * Causal prefill only needs the keys up to the block's last row, so both
 * products use ncols = min(N, r0 + nb) columns: the upper-right triangle of
 * whole blocks is never computed. Decode (one query at position N - 1, which
 * sees every key) is two sgemv. Threads come from OpenBLAS (the harness sets
 * its thread count); the softmax pass runs on the calling thread.
 */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>

#include "kernels/kernels.h"

enum { SOFTMAX_P_BLOCK = 0 };

static const struct attn_param_spec softmax_params[] = {
    {"block", ATTN_PARAM_INT, 256, 16, 4096, NULL,
     "query rows per score block: memory is block x N floats"},
};

/* The block actually used: never more rows than there are queries. */
static int64_t softmax_block(const struct attn_shape *s, const struct attn_params *p)
{
	int64_t block = attn__param_int(p, SOFTMAX_P_BLOCK, 256);
	int64_t nq = attn_shape_nq(s);
	return block < nq ? block : nq;
}

static int softmax_supports(const struct attn_method *m, const struct attn_shape *s,
                            const struct attn_params *p, char *msg, size_t msglen)
{
	(void)m;
	int rc = attn__check_shape(s, msg, msglen);
	if (rc != ATTN_OK)
		return rc;
	rc = attn__check_param_int(p, &softmax_params[SOFTMAX_P_BLOCK], SOFTMAX_P_BLOCK, msg,
	                           msglen);
	if (rc != ATTN_OK)
		return rc;
	/* CBLAS takes int dimensions and leading dimensions. */
	if (s->n > INT_MAX || s->d > INT_MAX) {
		if (msg && msglen > 0)
			snprintf(msg, msglen, "n %lld or d %lld exceeds the BLAS int range",
			         (long long)s->n, (long long)s->d);
		return ATTN_ERR_UNSUPPORTED;
	}
	return ATTN_OK;
}

/* One score block: min(block, NQ) rows of N floats. */
static size_t softmax_workspace_bytes(const struct attn_method *m, const struct attn_shape *s,
                                      const struct attn_params *p, int threads)
{
	(void)m;
	(void)threads;
	return (size_t)softmax_block(s, p) * (size_t)s->n * sizeof(float);
}

static double softmax_flops(const struct attn_method *m, const struct attn_shape *s,
                            const struct attn_params *p)
{
	(void)m;
	(void)p;
	return attn__softmax_flops(s);
}

/*
 * Q, K, V read and O written once, plus the scores: written by pass 1, read
 * and rewritten by pass 2, read by pass 3 (two writes and two reads of each
 * kept score). Whether a block stays in cache depends on its size; this
 * counts the traffic the algorithm asks for, as a materialising method.
 */
static double softmax_bytes(const struct attn_method *m, const struct attn_shape *s,
                            const struct attn_params *p)
{
	(void)m;
	(void)p;
	return attn__qkvo_bytes(s) + 4.0 * sizeof(float) * attn__softmax_pairs(s);
}

/*
 * Decode, one head: the single query at position N - 1 sees every key.
 *   q (D), k and v (N, D), o (D), sc (N) scratch.
 * s = K q / √D;  p = softmax(s);  o = Vᵀ p.
 */
static void softmax_head_decode(int64_t N, int64_t D, float scale, const float *q, const float *k,
                                const float *v, float *o, float *sc)
{
	cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)N, (int)D, scale, k, (int)D, q, 1, 0.0f, sc,
	            1);
	attn__softmax_row(sc, N, N);
	cblas_sgemv(CblasRowMajor, CblasTrans, (int)N, (int)D, 1.0f, v, (int)D, sc, 1, 0.0f, o, 1);
}

/*
 * Prefill, one head, `block` query rows at a time.
 *   q (N, D), k and v (N, D), o (N, D), sc (block, N) scratch.
 */
static void softmax_head_prefill(int64_t N, int64_t D, int causal, int64_t block, float scale,
                                 const float *q, const float *k, const float *v, float *o,
                                 float *sc)
{
	for (int64_t r0 = 0; r0 < N; r0 += block) {
		const int64_t nb = N - r0 < block ? N - r0 : block;
		/* Causal: the block's last row, r0 + nb - 1, sees keys < r0 + nb. */
		const int64_t ncols = causal ? r0 + nb : N;

		/* pass 1: S (nb, ncols) = Q[r0 : r0+nb] K[0 : ncols]ᵀ / √D, row stride ncols */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)ncols, (int)D,
		            scale, q + r0 * D, (int)D, k, (int)D, 0.0f, sc, (int)ncols);

		/*
		 * pass 2: P = softmax over each row's visible keys (row r0 + i
		 * sees keys 0..r0 + i when causal), masked entries set to 0 so
		 * that pass 3 can multiply the whole block.
		 */
		for (int64_t i = 0; i < nb; i++)
			attn__softmax_row(sc + i * ncols, causal ? r0 + i + 1 : ncols, ncols);

		/* pass 3: O[r0 : r0+nb] (nb, D) = P V[0 : ncols] */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)D, (int)ncols,
		            1.0f, sc, (int)ncols, v, (int)D, 0.0f, o + r0 * D, (int)D);
	}
}

static int softmax_forward(const struct attn_method *m, const struct attn_shape *s,
                           const struct attn_params *p, const struct attn_inputs *in, float *out,
                           void *ws, const struct attn_ctx *ctx)
{
	(void)m;
	(void)ctx; /* OpenBLAS threads are set by the harness */
	if (softmax_supports(m, s, p, NULL, 0) != ATTN_OK)
		return ATTN_ERR_UNSUPPORTED;

	const int64_t B = s->batch, H = s->heads, N = s->n, D = s->d;
	const int64_t NQ = attn_shape_nq(s);
	const int64_t block = softmax_block(s, p);
	const float scale = (float)(1.0 / sqrt((double)D));
	float *sc = ws; /* (block, N) scores */

	for (int64_t b = 0; b < B; b++) {
		for (int64_t h = 0; h < H; h++) {
			const int64_t kv = attn__kv_head(s, b * H + h); /* K/V head (GQA) */
			const float *q = in->q + (b * H + h) * NQ * D;  /* (NQ, D) */
			const float *k = in->k + kv * N * D;            /* (N, D) */
			const float *v = in->v + kv * N * D;            /* (N, D) */
			float *o = out + (b * H + h) * NQ * D;          /* (NQ, D) */
			if (s->mode == ATTN_MODE_DECODE)
				softmax_head_decode(N, D, scale, q, k, v, o, sc);
			else
				softmax_head_prefill(N, D, s->causal, block, scale, q, k, v, o, sc);
		}
	}
	return ATTN_OK;
}

const struct attn_method attn_method_softmax = {
    .abi_version = ATTN_ABI_VERSION,
    .name = "softmax",
    .family = ATTN_FAMILY_FULL,
    .category = "softmax",
    .summary = "exact attention, scores materialised per block of rows, OpenBLAS sgemm",
    .citation = "Vaswani et al. 2017, Attention Is All You Need",
    .flags = ATTN_METHOD_EXACT | ATTN_METHOD_USES_BLAS,
    .time_exp = 2.0,
    .mem_exp = 1.0, /* block x N scores, block fixed */
    .tolerance = 1e-5,
    .inputs = 0,
    .n_params = 1,
    .params = softmax_params,
    .supports = softmax_supports,
    .workspace_bytes = softmax_workspace_bytes,
    .flops = softmax_flops,
    .bytes = softmax_bytes,
    .prepare = NULL,
    .forward = softmax_forward,
    .oracle = NULL,
};
