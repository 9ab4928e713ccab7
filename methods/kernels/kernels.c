/*
 * Small float32 kernels shared by the built-in methods: row passes of
 * softmax (max, exp-and-sum, normalise), dot/axpy/scale, a register-blocked
 * GEMM for cache-resident blocks, a dot-product C = A Bᵀ for a few rows
 * against many (decode), and the shape, parameter and cost helpers that
 * every method's descriptor needs.
 *
 * Vectorisation: the row loops are plain C under `#pragma omp simd`, which
 * lets GCC vectorise the reductions (strict IEEE order would forbid it; the
 * pragma allows a fixed, deterministic lane-wise order instead). As BLIS
 * does, the GEMMs and the base-2 exp passes have a portable version and an
 * AVX-512 one that takes over on machines that have it (chosen at compile
 * time: the default build uses -march=native; ATTNBENCH_NATIVE=OFF builds
 * the portable code, which the same tests check).
 */
#include <stdarg.h>
#include <stdio.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "attnbench/status.h"
#include "kernels/kernels.h"

/* ---- row and vector kernels -------------------------------------------------- */

float attn__max(const float *x, int64_t n)
{
	float m = x[0];
#pragma omp simd reduction(max : m)
	for (int64_t j = 1; j < n; j++)
		m = x[j] > m ? x[j] : m;
	return m;
}

float attn__exp_shift_sum(float *x, int64_t n, float shift)
{
	float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
	for (int64_t j = 0; j < n; j++) {
		float e = attn__expf(x[j] - shift);
		x[j] = e;
		sum += e;
	}
	return sum;
}

#if defined(__AVX512F__)
/*
 * 2^x on 16 lanes by the steps of attn__exp2f, with AVX-512's own rounding
 * and scaling instructions in place of the bit tricks: n = round(x) (ties to
 * even, as the 1.5·2²³ trick), r = (x - n) ln 2, 2^x = e^r · 2^n, the last
 * product done exactly by vscalefps. Same polynomial, same rounding, same
 * clamps, so the same bits as attn__exp2f: x < -125 -> 0, NaN -> NaN (the
 * clamps put x second, where max/min pass a NaN through).
 */
static inline __m512 exp2_avx512(__m512 x)
{
	__m512 y = _mm512_max_ps(_mm512_set1_ps(-125.0f), x);
	y = _mm512_min_ps(_mm512_set1_ps(127.0f), y);
	__m512 n = _mm512_roundscale_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m512 r = _mm512_mul_ps(_mm512_sub_ps(y, n), _mm512_set1_ps(0.693147180559945f));
	__m512 p = _mm512_set1_ps(1.9875691500e-4f);
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
	p = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
	__m512 e = _mm512_scalef_ps(p, n);
	/* "not less than -125", unordered true: NaN keeps its lane. */
	return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(-125.0f), _CMP_NLT_UQ), e);
}

/* Lanes [0, n) of a 16-lane step, n < 16 at a row's end. */
static inline __mmask16 lanes(int64_t n)
{
	return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}
#endif

float attn__exp2_shift_sum(float *x, int64_t n, float shift)
{
#if defined(__AVX512F__)
	__m512 sum = _mm512_setzero_ps(), sh = _mm512_set1_ps(shift);
	for (int64_t j = 0; j < n; j += 16) {
		const __mmask16 k = lanes(n - j);
		__m512 e = exp2_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + j), sh));
		_mm512_mask_storeu_ps(x + j, k, e);
		sum = _mm512_add_ps(sum, _mm512_maskz_mov_ps(k, e));
	}
	return _mm512_reduce_add_ps(sum);
#else
	float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
	for (int64_t j = 0; j < n; j++) {
		float e = attn__exp2f(x[j] - shift);
		x[j] = e;
		sum += e;
	}
	return sum;
#endif
}

void attn__max_into(float *m, const float *x, int64_t n)
{
#pragma omp simd
	for (int64_t i = 0; i < n; i++)
		m[i] = x[i] > m[i] ? x[i] : m[i];
}

void attn__exp2_sub_into(float *x, const float *shift, float *sum, int64_t n)
{
#if defined(__AVX512F__)
	for (int64_t i = 0; i < n; i += 16) {
		const __mmask16 k = lanes(n - i);
		__m512 e = exp2_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i),
		                                     _mm512_maskz_loadu_ps(k, shift + i)));
		_mm512_mask_storeu_ps(x + i, k, e);
		_mm512_mask_storeu_ps(sum + i, k,
		                      _mm512_add_ps(_mm512_maskz_loadu_ps(k, sum + i), e));
	}
#else
#pragma omp simd
	for (int64_t i = 0; i < n; i++) {
		float e = attn__exp2f(x[i] - shift[i]);
		x[i] = e;
		sum[i] += e;
	}
#endif
}

void attn__softmax_row(float *x, int64_t n_valid, int64_t n)
{
	/*
	 * softmax(x)_j = e^(x_j - max) / Σ_i e^(x_i - max): subtracting the
	 * max keeps every exponent <= 0, so nothing overflows and the largest
	 * term is exactly 1 (the sum is >= 1, never 0).
	 */
	float m = attn__max(x, n_valid);
	float sum = attn__exp_shift_sum(x, n_valid, m);
	attn__scale(x, 1.0f / sum, n_valid);
	if (n > n_valid)
		memset(x + n_valid, 0, (size_t)(n - n_valid) * sizeof(float));
}

float attn__dot(const float *a, const float *b, int64_t n)
{
	float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
	for (int64_t i = 0; i < n; i++)
		acc = attn__fmaf(a[i], b[i], acc);
	return acc;
}

void attn__axpy(float *y, float alpha, const float *x, int64_t n)
{
#pragma omp simd
	for (int64_t i = 0; i < n; i++)
		y[i] = attn__fmaf(alpha, x[i], y[i]);
}

void attn__transpose(float *dst, int64_t ldd, const float *src, int64_t lds, int64_t rows,
                     int64_t cols)
{
	int64_t i0 = 0;
#if defined(__AVX512F__)
	/*
	 * 16 rows at a time: each destination row segment is one gather down
	 * 16 source rows (element (i, j) at i·lds + j; offsets fit 32 bits
	 * for any tile this is used on).
	 */
	if (lds <= INT32_MAX / 16) {
		const __m512i off = _mm512_mullo_epi32(
		    _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
		    _mm512_set1_epi32((int)lds));
		for (; i0 + 16 <= rows; i0 += 16)
			for (int64_t j = 0; j < cols; j++)
				_mm512_storeu_ps(dst + j * ldd + i0,
				                 _mm512_i32gather_ps(off, src + i0 * lds + j, 4));
	}
#endif
	for (int64_t j = 0; j < cols; j++)
		for (int64_t i = i0; i < rows; i++)
			dst[j * ldd + i] = src[i * lds + j];
}

void attn__scale(float *x, float alpha, int64_t n)
{
#pragma omp simd
	for (int64_t i = 0; i < n; i++)
		x[i] *= alpha;
}

/* ---- GEMM for cache-resident blocks ------------------------------------------- */

/*
 * Portable C = (C +) A B: one axpy of a row of B into a row of C per element
 * of A. The inner loop vectorises; C's row goes through L1 on every k, which
 * is what the register tile below avoids.
 */
static void gemm_generic(int64_t m, int64_t n, int64_t k, const float *a, int64_t rsa, int64_t csa,
                         const float *b, int64_t ldb, float *c, int64_t ldc, int accumulate)
{
	if (n <= 0)
		return;
	for (int64_t i = 0; i < m; i++) {
		float *ci = c + i * ldc;
		if (!accumulate)
			memset(ci, 0, (size_t)n * sizeof(float));
		for (int64_t p = 0; p < k; p++)
			attn__axpy(ci, a[i * rsa + p * csa], b + p * ldb, n);
	}
}

#if defined(__AVX512F__)
/*
 * One MR x NR = 8 x 32 tile of C, held in 16 zmm registers while p runs over
 * k: per step, two 16-wide loads of a row of B, eight broadcasts of a column
 * of A, sixteen FMAs. That is FMA-bound, not load-bound, which is the point.
 *   a (8, k) with strides (rsa, csa), b (k, 32) stride ldb, c (8, 32) stride ldc.
 */
static void gemm_tile_8x32(int64_t k, const float *a, int64_t rsa, int64_t csa, const float *b,
                           int64_t ldb, float *c, int64_t ldc, int accumulate)
{
	__m512 c0[ATTN__GEMM_MR], c1[ATTN__GEMM_MR];

#pragma GCC unroll 8
	for (int r = 0; r < ATTN__GEMM_MR; r++) {
		c0[r] = accumulate ? _mm512_loadu_ps(c + r * ldc) : _mm512_setzero_ps();
		c1[r] = accumulate ? _mm512_loadu_ps(c + r * ldc + 16) : _mm512_setzero_ps();
	}
	for (int64_t p = 0; p < k; p++) {
		const float *ap = a + p * csa;
		__m512 b0 = _mm512_loadu_ps(b + p * ldb);
		__m512 b1 = _mm512_loadu_ps(b + p * ldb + 16);
#pragma GCC unroll 8
		for (int r = 0; r < ATTN__GEMM_MR; r++) {
			__m512 ar = _mm512_set1_ps(ap[r * rsa]);
			c0[r] = _mm512_fmadd_ps(ar, b0, c0[r]);
			c1[r] = _mm512_fmadd_ps(ar, b1, c1[r]);
		}
	}
#pragma GCC unroll 8
	for (int r = 0; r < ATTN__GEMM_MR; r++) {
		_mm512_storeu_ps(c + r * ldc, c0[r]);
		_mm512_storeu_ps(c + r * ldc + 16, c1[r]);
	}
}
#endif

void attn__gemm(int64_t m, int64_t n, int64_t k, const float *a, int64_t rsa, int64_t csa,
                const float *b, int64_t ldb, float *c, int64_t ldc, int accumulate)
{
#if defined(__AVX512F__)
	/*
	 * Full tiles first, column panel by column panel (a k x 32 panel of B
	 * stays in L1 while the row tiles of A stream past it); then the right
	 * strip (n % 32 columns, all rows) and the bottom strip (m % 8 rows)
	 * with the portable code.
	 */
	int64_t m_full = m - m % ATTN__GEMM_MR;
	int64_t n_full = n - n % ATTN__GEMM_NR;
	for (int64_t j0 = 0; j0 < n_full; j0 += ATTN__GEMM_NR)
		for (int64_t i0 = 0; i0 < m_full; i0 += ATTN__GEMM_MR)
			gemm_tile_8x32(k, a + i0 * rsa, rsa, csa, b + j0, ldb, c + i0 * ldc + j0,
			               ldc, accumulate);
	gemm_generic(m, n - n_full, k, a, rsa, csa, b + n_full, ldb, c + n_full, ldc, accumulate);
	gemm_generic(m - m_full, n_full, k, a + m_full * rsa, rsa, csa, b, ldb, c + m_full * ldc,
	             ldc, accumulate);
#else
	gemm_generic(m, n, k, a, rsa, csa, b, ldb, c, ldc, accumulate);
#endif
}

/* ---- dot products of a few rows against many ------------------------------------ */

#if defined(__AVX512F__)
/*
 * The 16 lane sums of v[0..15] as one vector, lane p = Σ v[σ(p)] with
 * σ(4q + t) = q + 4t: a tree of shuffles and adds that halves the vectors
 * and the lanes per source at each level (45 operations in all, where 16
 * separate reductions take about 130).
 *   level 1: 256-bit halves, level 2: 128-bit quarters (now source s has
 *   4 lanes in quarter s % 4 of vector s / 4), levels 3 and 4: pairs and
 *   single lanes inside the quarters.
 */
static inline __m512 reduce16(const __m512 v[16])
{
	__m512 r[8], u[4], w[2];
	for (int i = 0; i < 8; i++)
		r[i] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x44),
		                     _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xEE));
	for (int i = 0; i < 4; i++)
		u[i] = _mm512_add_ps(_mm512_shuffle_f32x4(r[2 * i], r[2 * i + 1], 0x88),
		                     _mm512_shuffle_f32x4(r[2 * i], r[2 * i + 1], 0xDD));
	for (int i = 0; i < 2; i++)
		w[i] = _mm512_add_ps(_mm512_shuffle_ps(u[2 * i], u[2 * i + 1], 0x44),
		                     _mm512_shuffle_ps(u[2 * i], u[2 * i + 1], 0xEE));
	return _mm512_add_ps(_mm512_shuffle_ps(w[0], w[1], 0x88),
	                     _mm512_shuffle_ps(w[0], w[1], 0xDD));
}

/*
 * R rows of A (R = 1 or 4, a constant after inlining) against 4 rows of B:
 * 4R accumulators of 16 lanes run down k together, so each load of a row
 * of B serves R rows of A; the 16 lanes are summed at the end.
 *   a (R, k) stride lda, b (4, k) stride ldb, c (R, 4) stride ldc.
 */
static inline __attribute__((always_inline)) void gemm_nt_tile(int R, int64_t k, const float *a,
                                                               int64_t lda, const float *b,
                                                               int64_t ldb, float *c, int64_t ldc)
{
	__m512 acc[4][4];
	for (int i = 0; i < R; i++)
		for (int j = 0; j < 4; j++)
			acc[i][j] = _mm512_setzero_ps();
	for (int64_t p = 0; p < k; p += 16) {
		const __mmask16 m = lanes(k - p);
		__m512 bj[4];
		for (int j = 0; j < 4; j++)
			bj[j] = _mm512_maskz_loadu_ps(m, b + j * ldb + p);
		for (int i = 0; i < R; i++) {
			__m512 ai = _mm512_maskz_loadu_ps(m, a + i * lda + p);
			for (int j = 0; j < 4; j++)
				acc[i][j] = _mm512_fmadd_ps(ai, bj[j], acc[i][j]);
		}
	}
	if (R == 4) {
		/* Source q + 4t = acc[q][t] lands in lane 4q + t: quarter q is row q. */
		__m512 v[16];
		for (int t = 0; t < 4; t++)
			for (int q = 0; q < 4; q++)
				v[q + 4 * t] = acc[q][t];
		const __m512 sum = reduce16(v);
		_mm_storeu_ps(c, _mm512_extractf32x4_ps(sum, 0));
		_mm_storeu_ps(c + ldc, _mm512_extractf32x4_ps(sum, 1));
		_mm_storeu_ps(c + 2 * ldc, _mm512_extractf32x4_ps(sum, 2));
		_mm_storeu_ps(c + 3 * ldc, _mm512_extractf32x4_ps(sum, 3));
	} else {
		for (int i = 0; i < R; i++)
			for (int j = 0; j < 4; j++)
				c[i * ldc + j] = _mm512_reduce_add_ps(acc[i][j]);
	}
}
#endif

void attn__gemm_nt(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                   int64_t ldb, float *c, int64_t ldc)
{
	int64_t j0 = 0;
#if defined(__AVX512F__)
	/* Four rows of B at a time, each loaded once for all the rows of A. */
	for (; j0 + 4 <= n; j0 += 4) {
		int64_t i = 0;
		for (; i + 4 <= m; i += 4)
			gemm_nt_tile(4, k, a + i * lda, lda, b + j0 * ldb, ldb, c + i * ldc + j0,
			             ldc);
		for (; i < m; i++)
			gemm_nt_tile(1, k, a + i * lda, lda, b + j0 * ldb, ldb, c + i * ldc + j0,
			             ldc);
	}
#endif
	for (int64_t j = j0; j < n; j++)
		for (int64_t i = 0; i < m; i++)
			c[i * ldc + j] = attn__dot(a + i * lda, b + j * ldb, k);
}

/* ---- online softmax by tiles --------------------------------------------------- */

void attn__pack_qt(float *qt, int64_t ldq, const float *q, int64_t rsq, int64_t mq, int64_t bqp,
                   int64_t D, float scale)
{
	for (int64_t c = 0; c < D; c++) {
		for (int64_t i = 0; i < mq; i++)
			qt[c * ldq + i] = q[i * rsq + c] * scale;
		memset(qt + c * ldq + mq, 0, (size_t)(bqp - mq) * sizeof(float));
	}
}

void attn__online_rescale(float *m, float *l, const float *mnew, const float *csum, float *acc,
                          int64_t n, int64_t D)
{
	for (int64_t i = 0; i < n; i++) {
		const float alpha = attn__exp2f(m[i] - mnew[i]);
		l[i] = l[i] * alpha + csum[i];
		m[i] = mnew[i];
		if (alpha != 1.0f)
			attn__scale(acc + i * D, alpha, D);
	}
}

void attn__online_row(float *part, float *s, int64_t nc, int64_t D)
{
	const float mblk = attn__max(s, nc);
	const float mnew = mblk > part[0] ? mblk : part[0];
	const float sum = attn__exp2_shift_sum(s, nc, mnew);
	const float alpha = attn__exp2f(part[0] - mnew);
	part[1] = part[1] * alpha + sum;
	if (alpha != 1.0f)
		attn__scale(part + 2, alpha, D);
	part[0] = mnew;
}

void attn__merge_partials(float *o, const float *parts, int64_t count, int64_t stride, int64_t D)
{
	float mmax = -INFINITY, l = 0.0f;
	for (int64_t r = 0; r < count; r++)
		mmax = parts[r * stride] > mmax ? parts[r * stride] : mmax;
	memset(o, 0, (size_t)D * sizeof(float));
	for (int64_t r = 0; r < count; r++) {
		const float w = attn__exp2f(parts[r * stride] - mmax);
		l += w * parts[r * stride + 1];
		attn__axpy(o, w, parts + r * stride + 2, D);
	}
	attn__scale(o, l > 0.0f ? 1.0f / l : 0.0f, D);
}

/* ---- shapes, parameters and cost conventions ---------------------------------- */

int attn__check_shape(const struct attn_shape *s, char *msg, size_t msglen)
{
	if (s->batch < 1)
		return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED, "batch %lld < 1",
		                 (long long)s->batch);
	if (s->heads < 1)
		return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED, "heads %lld < 1",
		                 (long long)s->heads);
	if (s->kv_heads < 1 || s->heads % s->kv_heads != 0)
		return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED,
		                 "kv_heads %lld does not divide heads %lld", (long long)s->kv_heads,
		                 (long long)s->heads);
	if (s->n < 1)
		return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED, "n %lld < 1", (long long)s->n);
	if (s->d < 1)
		return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED, "d %lld < 1", (long long)s->d);
	if (s->mode != ATTN_MODE_PREFILL && s->mode != ATTN_MODE_DECODE)
		return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED, "unknown mode %d",
		                 (int)s->mode);
	return ATTN_OK;
}

int64_t attn__param_int(const struct attn_params *p, int idx, int64_t def)
{
	if (!p || idx < 0 || idx >= p->count)
		return def;
	return (int64_t)p->v[idx];
}

int attn__check_param_int(const struct attn_params *p, const struct attn_param_spec *spec, int idx,
                          char *msg, size_t msglen)
{
	const double v = (p && idx < p->count) ? p->v[idx] : spec->def;
	if (v != floor(v))
		return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED, "%s %g must be a whole number",
		                 spec->name, v);
	if (v < spec->min)
		return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED, "%s %g must be at least %g",
		                 spec->name, v, spec->min);
	if (v > spec->max)
		return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED, "%s %g must be at most %g",
		                 spec->name, v, spec->max);
	return ATTN_OK;
}

int attn__check_params(const struct attn_shape *s, const struct attn_params *p,
                       const struct attn_param_spec *specs, int n, char *msg, size_t msglen)
{
	int rc = attn__check_shape(s, msg, msglen);
	for (int i = 0; rc == ATTN_OK && i < n; i++)
		if (specs[i].type != ATTN_PARAM_REAL)
			rc = attn__check_param_int(p, &specs[i], i, msg, msglen);
	return rc;
}

double attn__softmax_pairs(const struct attn_shape *s)
{
	double heads = (double)s->batch * (double)s->heads;
	double n = (double)s->n;
	if (s->mode == ATTN_MODE_DECODE)
		return heads * n;
	return s->causal ? heads * n * (n + 1.0) / 2.0 : heads * n * n;
}

double attn__softmax_flops(const struct attn_shape *s)
{
	return 4.0 * (double)s->d * attn__softmax_pairs(s);
}

double attn__qkvo_bytes(const struct attn_shape *s)
{
	double qo = 2.0 * (double)s->batch * (double)s->heads * (double)attn_shape_nq(s);
	double kv = 2.0 * (double)s->batch * (double)s->kv_heads * (double)s->n;
	return (qo + kv) * (double)s->d * sizeof(float);
}
