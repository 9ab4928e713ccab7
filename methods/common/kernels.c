/*
 * Small float32 kernels shared by the built-in methods: row passes of
 * softmax (max, exp-and-sum, normalise), dot/axpy/scale, a register-blocked
 * GEMM for cache-resident blocks, and the shape, parameter and cost helpers
 * that every method's descriptor needs.
 *
 * Vectorisation: the row loops are plain C under `#pragma omp simd`, which
 * lets GCC vectorise the reductions (strict IEEE order would forbid it; the
 * pragma allows a fixed, deterministic lane-wise order instead). The GEMM has
 * a portable version and, as BLIS does, an AVX-512 register tile that takes
 * over on machines that have it (chosen at compile time: the build uses
 * -march=native).
 */
#include <stdarg.h>
#include <stdio.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "attnbench/status.h"
#include "common/common.h"

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

float attn__exp2_shift_sum(float *x, int64_t n, float shift)
{
	float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
	for (int64_t j = 0; j < n; j++) {
		float e = attn__exp2f(x[j] - shift);
		x[j] = e;
		sum += e;
	}
	return sum;
}

void attn__max_into(float *m, const float *x, int64_t n)
{
#pragma omp simd
	for (int64_t i = 0; i < n; i++)
		m[i] = x[i] > m[i] ? x[i] : m[i];
}

void attn__exp2_sub_into(float *x, const float *shift, float *sum, int64_t n)
{
#pragma omp simd
	for (int64_t i = 0; i < n; i++) {
		float e = attn__exp2f(x[i] - shift[i]);
		x[i] = e;
		sum[i] += e;
	}
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
static void gemm_generic(int64_t m, int64_t n, int64_t k, const float *a, int64_t rsa,
			 int64_t csa, const float *b, int64_t ldb, float *c, int64_t ldc,
			 int accumulate)
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

/* ---- shapes, parameters and cost conventions ---------------------------------- */

int attn__check_shape(const struct attn_shape *s, char *msg, size_t msglen)
{
	if (s->batch < 1)
		return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED, "batch %lld < 1", (long long)s->batch);
	if (s->heads < 1)
		return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED, "heads %lld < 1", (long long)s->heads);
	if (s->kv_heads < 1 || s->heads % s->kv_heads != 0)
		return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED, "kv_heads %lld does not divide heads %lld",
			      (long long)s->kv_heads, (long long)s->heads);
	if (s->n < 1)
		return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED, "n %lld < 1", (long long)s->n);
	if (s->d < 1)
		return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED, "d %lld < 1", (long long)s->d);
	if (s->mode != ATTN_MODE_PREFILL && s->mode != ATTN_MODE_DECODE)
		return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED, "unknown mode %d", (int)s->mode);
	return ATTN_OK;
}

int64_t attn__param_int(const struct attn_params *p, int idx, int64_t def)
{
	if (!p || idx < 0 || idx >= p->count)
		return def;
	return (int64_t)p->v[idx];
}

int attn__check_param_int(const struct attn_params *p, const struct attn_param_spec *spec,
			  int idx, char *msg, size_t msglen)
{
	double v = (p && idx < p->count) ? p->v[idx] : spec->def;
	if (v != floor(v) || v < spec->min || v > spec->max) {
		return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED, "%s %g outside the integers %g..%g", spec->name, v,
			      spec->min, spec->max);
	}
	return ATTN_OK;
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
