/*
 * What the built-in methods share: the float64 softmax reference that every
 * exact method is checked against, and the small float32 kernels that the
 * full, sparse and linear families reuse (a fast vectorisable exp, row
 * softmax passes, dot/axpy, a register-blocked GEMM tile, shape and
 * parameter checks, and the FLOP/byte conventions of exact attention).
 *
 * Internal to attnbench (attn__ names): a third-party plugin compiles
 * against attnbench/method.h alone and never sees this header.
 *
 * The exp functions live here as `static inline` so that the loops that call
 * them, in any method's file, vectorise: a call to libm's expf would not.
 */
#ifndef ATTNBENCH_METHODS_KERNELS_H
#define ATTNBENCH_METHODS_KERNELS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "attnbench/method.h"

/* ---- small integer and thread helpers -------------------------------------- */

/* The calling OpenMP thread's number (0 outside a parallel region or OpenMP). */
static inline int attn__thread_id(void)
{
#ifdef _OPENMP
	return omp_get_thread_num();
#else
	return 0;
#endif
}

/* The number of entries of an array (a params array, for a descriptor's n_params). */
#define ATTN__COUNT(a) ((int)(sizeof(a) / sizeof(*(a))))

static inline int64_t attn__min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/*
 * The K/V head (flat over batch, b * KVH + kvh) that query head bh (flat,
 * b * H + h) reads: grouped-query attention shares one among H / KVH.
 */
static inline int64_t attn__kv_head(const struct attn_shape *s, int64_t bh)
{
	return bh / s->heads * s->kv_heads + bh % s->heads / (s->heads / s->kv_heads);
}

/* ⌈a / b⌉, for a >= 0 and b > 0. */
static inline int64_t attn__div_up(int64_t a, int64_t b)
{
	return (a + b - 1) / b;
}

/* x rounded up to a multiple of m (m > 0). */
static inline int64_t attn__round_up(int64_t x, int64_t m)
{
	return attn__div_up(x, m) * m;
}

/* ---- the float64 reference ------------------------------------------------ */

/*
 * O = softmax(Q Kᵀ / √D + mask) V in float64 and obvious loops: the oracle.
 *   in->q (B, H, NQ, D), in->k and in->v (B, KVH, N, D), out (B, H, NQ, D).
 * Query row i sits at position i in prefill and at N - 1 in decode; causal
 * hides key j from the query at position p when j > p. Allocates one row of
 * N scores: ATTN_ERR_NOMEM when that fails, ATTN_ERR_INVALID on a bad shape.
 */
int attn_reference_softmax(const struct attn_shape *s, const struct attn_inputs *in, double *out);

/* The same, with the caller's row of N doubles as scratch: never allocates. */
int attn__reference_softmax_ws(const struct attn_shape *s, const struct attn_inputs *in,
                               double *out, double *scores);

/*
 * The same rows, only for query rows rows[0..nrows) (each in 0..NQ-1):
 * out (B, H, nrows, D), row r of head (b, h) being that head's query row
 * rows[r]. Costs O(nrows N D) per head and never forms an N x N matrix,
 * which is what lets the runner check a sample of rows at any N (the
 * sampled-row oracle, runner.c). Never allocates: scores holds N doubles.
 */
int attn__reference_softmax_rows(const struct attn_shape *s, const struct attn_inputs *in,
                                 const int64_t *rows, int64_t nrows, double *out, double *scores);

/* ---- fast exp -------------------------------------------------------------- */

/*
 * Bit casts. memcpy is the defined way to pun in C and compiles to nothing;
 * the vectoriser sees through it.
 */
static inline uint32_t attn__f32_bits(float x)
{
	uint32_t u;
	memcpy(&u, &x, sizeof u);
	return u;
}

static inline float attn__bits_f32(uint32_t u)
{
	float x;
	memcpy(&x, &u, sizeof x);
	return x;
}

/*
 * a * b + c, fused when the target has FMA (fmaf then compiles to one
 * vfmadd, also inside vectorised loops) and plain otherwise (a libm fmaf
 * call would be slow). The build's -std=c11 turns off GCC's automatic
 * contraction, so kernels that want FMA say so.
 */
#if defined(__FMA__)
#define attn__fmaf(a, b, c) fmaf((a), (b), (c))
#else
#define attn__fmaf(a, b, c) ((a) * (b) + (c))
#endif

/*
 * e^r for |r| <= ln2/2 (a little beyond is fine): the minimax polynomial of
 * Cephes expf, 1 + r + r² P(r), within about 1 ulp on that range.
 */
static inline float attn__exp_poly(float r)
{
	float p = 1.9875691500e-4f;
	p = attn__fmaf(p, r, 1.3981999507e-3f);
	p = attn__fmaf(p, r, 8.3334519073e-3f);
	p = attn__fmaf(p, r, 4.1665795894e-2f);
	p = attn__fmaf(p, r, 1.6666665459e-1f);
	p = attn__fmaf(p, r, 5.0000001201e-1f);
	return attn__fmaf(p, r * r, r) + 1.0f;
}

/*
 * 2^n for a whole float n in [-126, 127], built from its exponent bits; n
 * must already be rounded. `t` is n + 1.5·2²³ as computed by the rounding
 * trick below, whose low mantissa bits hold n in two's complement.
 */
static inline float attn__pow2_from_magic(float t)
{
	uint32_t n = attn__f32_bits(t) - attn__f32_bits(0x1.8p23f);
	return attn__bits_f32((n + 127u) << 23);
}

/*
 * 2^x in float32, vectorisable, within ~2 ulp of exp2f.
 *   x < -125      -> 0 (exactly; so -inf -> 0 and no subnormals ever appear)
 *   x > 127       -> saturates at ~2.4e38 (finite)
 *   NaN           -> NaN
 * Method: x = n + f with n = round(x), |f| <= 1/2; 2^x = 2^n · e^(f ln 2).
 * Rounding uses the 1.5·2²³ trick: adding it pushes the fraction bits out
 * of the mantissa (valid for |x| < 2²²; this needs IEEE arithmetic without
 * -ffast-math reassociation, which the build never uses).
 * Clamps are written as comparisons, not fminf/fmaxf, so NaN passes through.
 */
static inline float attn__exp2f(float x)
{
	float y = x < -125.0f ? -125.0f : x;
	y = y > 127.0f ? 127.0f : y;
	float t = y + 0x1.8p23f;
	float n = t - 0x1.8p23f;
	float r = (y - n) * 0.693147180559945f;
	float e = attn__exp_poly(r) * attn__pow2_from_magic(t);
	return x < -125.0f ? 0.0f : e;
}

/*
 * e^x in float32, vectorisable, within ~2 ulp of expf.
 *   x < -87       -> 0 (e^-87 ≈ 1.6e-38 is the last normal result we keep)
 *   x > 88        -> saturates at e^88 ≈ 1.65e38 (finite)
 *   NaN           -> NaN
 * Method (Cody and Waite): n = round(x / ln 2), r = x - n ln 2 with ln 2
 * split into a short high part (so n · hi is exact) and a low correction,
 * then e^x = 2^n · e^r.
 */
static inline float attn__expf(float x)
{
	float y = x < -87.0f ? -87.0f : x;
	y = y > 88.0f ? 88.0f : y;
	float t = y * 1.44269504088896341f + 0x1.8p23f;
	float n = t - 0x1.8p23f;
	float r = y - n * 0.693359375f;
	r = r - n * -2.12194440e-4f;
	float e = attn__exp_poly(r) * attn__pow2_from_magic(t);
	return x < -87.0f ? 0.0f : e;
}

/*
 * e^x - 1, accurate to a few ulp relative also where e^x is near 1 (where
 * attn__expf(x) - 1 would cancel): a degree-9 Taylor polynomial for
 * |x| < 1/2 (truncation below 2^-30 relative), attn__expf(x) - 1 beyond.
 * Branch-free, so loops over it vectorise (libm's expm1f does not).
 */
static inline float attn__expm1f(float x)
{
	float p = 1.0f / 362880.0f;
	p = p * x + 1.0f / 40320.0f;
	p = p * x + 1.0f / 5040.0f;
	p = p * x + 1.0f / 720.0f;
	p = p * x + 1.0f / 120.0f;
	p = p * x + 1.0f / 24.0f;
	p = p * x + 1.0f / 6.0f;
	p = p * x + 0.5f;
	p = p * x + 1.0f;
	const float near = p * x, far = attn__expf(x) - 1.0f;
	return (x > -0.5f && x < 0.5f) ? near : far;
}

/* ---- row and vector kernels (float32, vectorised) -------------------------- */

/* max_j x[j] over x (n), n >= 1. */
float attn__max(const float *x, int64_t n);

/* x[j] = e^(x[j] - shift) in place over x (n); returns Σ_j x[j] after. */
float attn__exp_shift_sum(float *x, int64_t n, float shift);

/* The same in base 2: x[j] = 2^(x[j] - shift); returns the sum. */
float attn__exp2_shift_sum(float *x, int64_t n, float shift);

/*
 * Element-wise forms, for softmax along columns (one lane per row of the
 * attention matrix, as in a tile stored keys-by-queries):
 *   attn__max_into:      m[i] = max(m[i], x[i])                over (n)
 *   attn__exp2_sub_into: x[i] = 2^(x[i] - shift[i]), sum[i] += x[i]
 */
void attn__max_into(float *m, const float *x, int64_t n);
void attn__exp2_sub_into(float *x, const float *shift, float *sum, int64_t n);

/*
 * One row of softmax in place: x (n), the first n_valid entries are scores
 * (natural units), the rest are masked. After: x[j] = e^(x[j] - max) / Σ for
 * j < n_valid, 0 beyond. n_valid >= 1.
 */
void attn__softmax_row(float *x, int64_t n_valid, int64_t n);

/* Σ_i a[i] b[i] over a, b (n). */
float attn__dot(const float *a, const float *b, int64_t n);

/* y += alpha x over y, x (n). */
void attn__axpy(float *y, float alpha, const float *x, int64_t n);

/* x *= alpha over x (n). */
void attn__scale(float *x, float alpha, int64_t n);

/* dst (cols, ldd) = srcᵀ, src (rows, lds): packs a tile for attn__gemm's B. */
void attn__transpose(float *dst, int64_t ldd, const float *src, int64_t lds, int64_t rows,
                     int64_t cols);

/*
 * The register tile of attn__gemm: MR rows by NR columns of C stay in
 * registers while k streams by. Callers that pad their buffers to these
 * multiples run entirely in the fast tile; others are still correct.
 */
#define ATTN__GEMM_MR 8
#define ATTN__GEMM_NR 32

/*
 * C = A B (accumulate == 0) or C += A B (accumulate != 0):
 *   A (m, k), element (i, p) at a[i·rsa + p·csa]: row-major is (lda, 1),
 *     and a matrix stored transposed is read in place as (1, lda);
 *   B (k, n) row-major with row stride ldb; C (m, n) with row stride ldc.
 * Meant for the small cache-resident blocks inside tiled methods (tens to
 * hundreds on a side), where a call into OpenBLAS costs more than it saves
 * and must not happen inside an OpenMP region anyway. Single-threaded.
 * Best when B's row stride is not a multiple of 512 bytes (L1 set
 * conflicts down a column panel).
 */
void attn__gemm(int64_t m, int64_t n, int64_t k, const float *a, int64_t rsa, int64_t csa,
                const float *b, int64_t ldb, float *c, int64_t ldc, int accumulate);

/*
 * C = A Bᵀ by dot products, for a few rows of A against many rows of B:
 *   a (m, k) row stride lda, b (n, k) row stride ldb, c (m, n) row stride
 *   ldc;  c[i][j] = a_i · b_j.
 * Made for decode, where B is a block of keys read from memory once and A
 * the few queries that share it (the heads of a GQA group): each row of B
 * is loaded once for all of A. Single-threaded.
 */
void attn__gemm_nt(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                   int64_t ldb, float *c, int64_t ldc);

/* ---- online softmax by tiles (flash and the block-sparse engine) ----------- */

/*
 * log2(e): tiled kernels keep scores in base-2 units, s·log2(e), so that
 * e^s becomes the cheaper 2^s (methods/full/flash.c explains the algorithm).
 */
#define ATTN__LOG2E 1.44269504088896340736

/*
 * Pack a tile's queries for Sᵀ = K Qᵀ: qt (D, ldq) = (Q · scale)ᵀ, columns
 * mq..bqp zero (finite padding scores, never written out).
 *   q (mq, D) with row stride rsq.
 */
void attn__pack_qt(float *qt, int64_t ldq, const float *q, int64_t rsq, int64_t mq, int64_t bqp,
                   int64_t D, float scale);

/*
 * The rescale step of the online softmax, per query row i < n, after a
 * block's new max mnew and column sums csum:
 *   α = 2^(m - m_new),  l = α l + csum,  A_i = α A_i,  m = m_new
 * (α is 0 on a row's first visible block, 1 when its max did not move).
 *   m, l, mnew, csum (n); acc (n, D).
 */
void attn__online_rescale(float *m, float *l, const float *mnew, const float *csum, float *acc,
                          int64_t n, int64_t D);

/*
 * One row's online-softmax step in decode: part = (m, l, A[D]) is the
 * running partial, s (nc) the block's base-2 scores, replaced by
 * P = 2^(s - m_new); A is rescaled here, the caller adds P V.
 */
void attn__online_row(float *part, float *s, int64_t nc, int64_t D);

/*
 * Merge `count` partials (m, l, A[D]), `stride` floats apart, into one
 * output row (flash-decoding):
 *   M = max_r m_r,  o = Σ_r 2^(m_r - M) A_r / Σ_r 2^(m_r - M) l_r,
 * and o = 0 when every l_r is 0 (no key was visible). o (D).
 */
void attn__merge_partials(float *o, const float *parts, int64_t count, int64_t stride, int64_t D);

/* ---- shapes, parameters and cost conventions ------------------------------- */

/*
 * The checks every method's supports() starts with: B, H, KVH, N, D >= 1,
 * KVH divides H, mode known. ATTN_OK or ATTN_ERR_UNSUPPORTED with the reason
 * in msg (msg may be NULL).
 */
int attn__check_shape(const struct attn_shape *s, char *msg, size_t msglen);

/*
 * Parameter `idx` of p as an integer, or `def` when p does not carry it
 * (p NULL or too short).
 */
int64_t attn__param_int(const struct attn_params *p, int idx, int64_t def);

/*
 * Check that integer parameter `idx` of p is a whole number in spec's
 * [min, max]: ATTN_OK or ATTN_ERR_UNSUPPORTED with the reason in msg
 * ("w 2.5 must be a whole number", "b 4 must be at least 8", ...).
 */
int attn__check_param_int(const struct attn_params *p, const struct attn_param_spec *spec, int idx,
                          char *msg, size_t msglen);

/*
 * The checks a supports() built on a params array starts with: the shape
 * (attn__check_shape), then each integer or enum parameter of specs (n)
 * inside its range (attn__check_param_int). ATTN_OK or ATTN_ERR_UNSUPPORTED
 * with the reason in msg.
 */
int attn__check_params(const struct attn_shape *s, const struct attn_params *p,
                       const struct attn_param_spec *specs, int n, char *msg, size_t msglen);

/*
 * (query, key) pairs that exact softmax attention scores, over all heads:
 * B·H·NQ·N, or B·H·N(N+1)/2 for causal prefill (decode sees all N keys).
 */
double attn__softmax_pairs(const struct attn_shape *s);

/*
 * FLOPs of exact attention by the usual convention (the FlashAttention
 * papers'): 2·D per pair for Q Kᵀ plus 2·D for P V, so 4·D·pairs. Softmax
 * itself (max, exp, sum, divide: O(pairs), not O(pairs·D)) is not counted,
 * so GFLOP/s compare directly with sgemm's. Masked pairs that a blocked
 * kernel computes anyway are not counted either: this is useful work.
 */
double attn__softmax_flops(const struct attn_shape *s);

/*
 * Compulsory traffic of attention, in bytes: Q, K, V read once, O written
 * once (float32; K and V counted per KV head, so GQA reads less).
 */
double attn__qkvo_bytes(const struct attn_shape *s);

/* n bytes, or n floats, rounded up to a 64-byte multiple (for carving a workspace). */
static inline size_t attn__bytes64(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

static inline size_t attn__floats64(int64_t n)
{
	return attn__bytes64((size_t)n * sizeof(float));
}

#endif /* ATTNBENCH_METHODS_KERNELS_H */
