/*
 * Tests of the workload generator (workloads/generator.c): reproducibility
 * down to the bit (golden hashes that break on purpose when the generator
 * changes), decode inputs equal to the last prefill position, the moments of
 * the gaussian, the structure the local and needle distributions promise
 * (checked on a softmax row computed here in double), the ranges of the
 * extra inputs, the memory layout and size, and the rejection of bad shapes.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "attnbench/status.h"
#include "attnbench/workload.h"
#include "check_main.h"

#define ALL_INPUTS (ATTN_INPUT_LOG_GATE | ATTN_INPUT_GATE_VEC | ATTN_INPUT_BETA)

/*
 * The NOMEM test asks for a petabyte; under AddressSanitizer that must fail
 * with NULL like the real allocator, not abort the test.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

static struct attn_shape shape(int64_t b, int64_t h, int64_t kvh, int64_t n, int64_t d,
                               enum attn_mode mode)
{
	struct attn_shape s = {b, h, kvh, n, d, 0, mode};
	return s;
}

/*
 * FNV-1a over the block as little-endian 32-bit words, so the hash names
 * the float values, not the host's byte order.
 */
static uint64_t hash_block(const void *base, size_t bytes)
{
	const unsigned char *p = base;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i + 4 <= bytes; i += 4) {
		uint32_t w;
		memcpy(&w, p + i, 4);
		for (int k = 0; k < 4; k++) {
			h ^= (w >> (8 * k)) & 0xffu;
			h *= 0x100000001b3ull;
		}
	}
	return h;
}

/* Softmax row of query q (D) over keys k (n, D), scaled by 1/sqrt(D), in double. */
static void softmax_row(const float *q, const float *k, int64_t n, int64_t d, double *p)
{
	double m = -INFINITY, sum = 0.0;

	for (int64_t j = 0; j < n; j++) {
		double s = 0.0;
		for (int64_t x = 0; x < d; x++)
			s += (double)q[x] * (double)k[j * d + x];
		p[j] = s / sqrt((double)d);
		if (p[j] > m)
			m = p[j];
	}
	/* subtract the max so exp cannot overflow */
	for (int64_t j = 0; j < n; j++) {
		p[j] = exp(p[j] - m);
		sum += p[j];
	}
	for (int64_t j = 0; j < n; j++)
		p[j] /= sum;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

START_TEST(test_rng_golden)
{
	/* the generator itself, pinned: any change here changes every workload */
	ck_assert(attn_rng_uniform(0, 0, 0) == 0x1.c4415072f63b9p-1);
	ck_assert(attn_rng_uniform(42, 1, 7) == 0x1.f4e559455a6b5p-1);
	ck_assert(attn_rng_uniform(UINT64_MAX, 9, UINT64_MAX - 1) == 0x1.e68d427d269ecp-1);

	/* count, then assert once: Check logs every assertion it passes */
	int outside = 0;
	for (uint64_t i = 0; i < 100000; i++) {
		double u = attn_rng_uniform(7, 3, i);
		outside += !(u >= 0.0 && u < 1.0);
	}
	ck_assert_int_eq(outside, 0);
	ck_assert(attn_rng_uniform(1, 1, 0) != attn_rng_uniform(1, 2, 0));
	ck_assert(attn_rng_uniform(1, 1, 0) != attn_rng_uniform(2, 1, 0));
}
END_TEST

START_TEST(test_determinism)
{
	struct attn_shape s = shape(2, 4, 2, 64, 16, ATTN_MODE_PREFILL);
	struct attn_workload a, b, c;
	enum attn_dist dist = (enum attn_dist)_i;

	ck_assert_int_eq(attn_workload_alloc(&s, ALL_INPUTS, dist, 123, &a), ATTN_OK);
	ck_assert_int_eq(attn_workload_alloc(&s, ALL_INPUTS, dist, 123, &b), ATTN_OK);
	ck_assert_int_eq(attn_workload_alloc(&s, ALL_INPUTS, dist, 124, &c), ATTN_OK);
	ck_assert_uint_eq(a.bytes, b.bytes);
	ck_assert(memcmp(a.base, b.base, a.bytes) == 0);
	ck_assert(memcmp(a.base, c.base, a.bytes) != 0);
	/* every tensor changes with the seed, not just some */
	ck_assert(memcmp(a.in.q, c.in.q, 4 * 64 * 16 * sizeof(float)) != 0);
	ck_assert(memcmp(a.in.k, c.in.k, 2 * 64 * 16 * sizeof(float)) != 0);
	ck_assert(memcmp(a.in.v, c.in.v, 2 * 64 * 16 * sizeof(float)) != 0);
	ck_assert(memcmp(a.in.beta, c.in.beta, 4 * 64 * sizeof(float)) != 0);
	attn_workload_free(&a);
	attn_workload_free(&b);
	attn_workload_free(&c);
}
END_TEST

#ifdef _OPENMP
START_TEST(test_thread_count_invariant)
{
	struct attn_shape s = shape(2, 4, 2, 300, 24, ATTN_MODE_PREFILL);
	struct attn_workload a, b;
	enum attn_dist dist = (enum attn_dist)_i;

	omp_set_num_threads(1);
	ck_assert_int_eq(attn_workload_alloc(&s, ALL_INPUTS, dist, 5, &a), ATTN_OK);
	omp_set_num_threads(3);
	ck_assert_int_eq(attn_workload_alloc(&s, ALL_INPUTS, dist, 5, &b), ATTN_OK);
	ck_assert(memcmp(a.base, b.base, a.bytes) == 0);
	attn_workload_free(&a);
	attn_workload_free(&b);
}
END_TEST
#endif

/*
 * Golden hashes of small fixed cases. They guard "same bytes on any
 * machine": if one fails, the generator changed (or the platform rounds
 * differently), and every stored result's inputs changed with it. Update
 * them only on purpose, and say so in the commit.
 */
START_TEST(test_golden)
{
	static const struct {
		enum attn_dist dist;
		enum attn_mode mode;
		uint64_t hash;
	} golden[] = {
	    {ATTN_DIST_GAUSSIAN, ATTN_MODE_PREFILL, 0x7f904fbd7aebc230ull},
	    {ATTN_DIST_LOCAL, ATTN_MODE_PREFILL, 0xda94019cfebd9166ull},
	    {ATTN_DIST_NEEDLE, ATTN_MODE_PREFILL, 0x987d4012ccaaa3caull},
	    {ATTN_DIST_GAUSSIAN, ATTN_MODE_DECODE, 0x5a2694333041e393ull},
	    {ATTN_DIST_LOCAL, ATTN_MODE_DECODE, 0x85d77c129334b9fcull},
	    {ATTN_DIST_NEEDLE, ATTN_MODE_DECODE, 0xc8c5ead9bca280e8ull},
	};
	int bad = 0;

	for (size_t i = 0; i < sizeof(golden) / sizeof(golden[0]); i++) {
		struct attn_shape s = shape(2, 4, 2, 16, 8, golden[i].mode);
		struct attn_workload w;
		ck_assert_int_eq(attn_workload_alloc(&s, ALL_INPUTS, golden[i].dist, 2024, &w),
		                 ATTN_OK);
		uint64_t h = hash_block(w.base, w.bytes);
		if (h != golden[i].hash) {
			fprintf(stderr, "golden %s/%s: got 0x%016llxull, want 0x%016llxull\n",
			        attn_dist_name(golden[i].dist),
			        golden[i].mode == ATTN_MODE_DECODE ? "decode" : "prefill",
			        (unsigned long long)h, (unsigned long long)golden[i].hash);
			bad++;
		}
		attn_workload_free(&w);
	}
	ck_assert_msg(bad == 0, "%d golden hashes differ (see stderr)", bad);
}
END_TEST

START_TEST(test_decode_is_last_prefill_row)
{
	enum attn_dist dist = (enum attn_dist)_i;
	int64_t B = 2, H = 6, KVH = 2, N = 37, D = 12;
	struct attn_shape sp = shape(B, H, KVH, N, D, ATTN_MODE_PREFILL);
	struct attn_shape sd = shape(B, H, KVH, N, D, ATTN_MODE_DECODE);
	struct attn_workload p, d;

	ck_assert_int_eq(attn_workload_alloc(&sp, ALL_INPUTS, dist, 77, &p), ATTN_OK);
	ck_assert_int_eq(attn_workload_alloc(&sd, ALL_INPUTS, dist, 77, &d), ATTN_OK);
	/* Q (B, H, 1, D) against Q (B, H, N, D) at position N - 1, bit for bit */
	for (int64_t bh = 0; bh < B * H; bh++)
		ck_assert(
		    memcmp(d.in.q + bh * D, p.in.q + (bh * N + N - 1) * D, D * sizeof(float)) == 0);
	/* the context and the extra inputs are the same tensors in both modes */
	ck_assert(memcmp(d.in.k, p.in.k, B * KVH * N * D * sizeof(float)) == 0);
	ck_assert(memcmp(d.in.v, p.in.v, B * KVH * N * D * sizeof(float)) == 0);
	ck_assert(memcmp(d.in.log_gate, p.in.log_gate, B * H * N * sizeof(float)) == 0);
	ck_assert(memcmp(d.in.gate_vec, p.in.gate_vec, B * H * N * D * sizeof(float)) == 0);
	ck_assert(memcmp(d.in.beta, p.in.beta, B * H * N * sizeof(float)) == 0);
	attn_workload_free(&p);
	attn_workload_free(&d);
}
END_TEST

/* Q, K and V do not depend on which extra inputs were asked for. */
START_TEST(test_extras_do_not_shift_qkv)
{
	enum attn_dist dist = (enum attn_dist)_i;
	struct attn_shape s = shape(1, 4, 4, 50, 8, ATTN_MODE_PREFILL);
	struct attn_workload a, b;
	size_t qkv = 4 * 50 * 8 * sizeof(float);

	ck_assert_int_eq(attn_workload_alloc(&s, 0, dist, 9, &a), ATTN_OK);
	ck_assert_int_eq(attn_workload_alloc(&s, ATTN_INPUT_GATE_VEC, dist, 9, &b), ATTN_OK);
	ck_assert(memcmp(a.in.q, b.in.q, qkv) == 0);
	ck_assert(memcmp(a.in.k, b.in.k, qkv) == 0);
	ck_assert(memcmp(a.in.v, b.in.v, qkv) == 0);
	attn_workload_free(&a);
	attn_workload_free(&b);
}
END_TEST

static void check_moments(const float *x, int64_t count, const char *what)
{
	double sum = 0.0, sq = 0.0;
	float top = 0.0f;

	for (int64_t i = 0; i < count; i++) {
		top = fabsf(x[i]) > top ? fabsf(x[i]) : top;
		sum += x[i];
	}
	ck_assert_msg(top <= 3.4642f, "%s reaches %g, outside +-2 sqrt 3", what, (double)top);
	double mean = sum / (double)count;
	for (int64_t i = 0; i < count; i++)
		sq += ((double)x[i] - mean) * ((double)x[i] - mean);
	double var = sq / (double)(count - 1);
	/* 1M samples: the standard errors are 0.001 (mean) and 0.0013 (variance) */
	ck_assert_msg(fabs(mean) < 0.006, "%s mean %g", what, mean);
	ck_assert_msg(fabs(var - 1.0) < 0.008, "%s variance %g", what, var);
}

START_TEST(test_gaussian_moments)
{
	struct attn_shape s = shape(1, 4, 4, 4096, 64, ATTN_MODE_PREFILL);
	struct attn_workload w;
	int64_t count = 4 * 4096 * 64;

	ck_assert_int_eq(attn_workload_alloc(&s, 0, ATTN_DIST_GAUSSIAN, 1, &w), ATTN_OK);
	check_moments(w.in.q, count, "q");
	check_moments(w.in.k, count, "k");
	check_moments(w.in.v, count, "v");
	/* q and k are independent streams: their correlation is ~0 */
	double c = 0.0;
	for (int64_t i = 0; i < count; i++)
		c += (double)w.in.q[i] * (double)w.in.k[i];
	ck_assert_msg(fabs(c / (double)count) < 0.006, "corr(q, k) = %g", c / (double)count);
	attn_workload_free(&w);
}
END_TEST

/*
 * Mean softmax mass that rows spaced over a (B=1, H, N, 64) case put within
 * +-32 of their diagonal, each query head against its kv head's keys; *low
 * is the share of rows that put less than half there.
 */
static double local_mass(enum attn_dist dist, int64_t h, int64_t kvh, int64_t n, double *low)
{
	struct attn_shape s = shape(1, h, kvh, n, 64, ATTN_MODE_PREFILL);
	struct attn_workload w;
	double *p = malloc((size_t)n * sizeof(double)), total = 0.0;
	int rows = 0, below = 0;

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(attn_workload_alloc(&s, 0, dist, 31, &w), ATTN_OK);
	for (int64_t head = 0; head < h; head++) {
		const float *k = w.in.k + head / (h / kvh) * n * 64;
		for (int64_t i = 5; i < n; i += n / 8) {
			double in = 0.0;
			softmax_row(w.in.q + (head * n + i) * 64, k, n, 64, p);
			for (int64_t j = i - 32; j <= i + 32; j++)
				if (j >= 0 && j < n)
					in += p[j];
			total += in;
			below += in < 0.5;
			rows++;
		}
	}
	attn_workload_free(&w);
	free(p);
	*low = (double)below / rows;
	return total / rows;
}

START_TEST(test_local_is_peaked)
{
	double low, mean;

	/* H = 4 over KVH = 2: GQA keeps the structure for every head */
	mean = local_mass(ATTN_DIST_LOCAL, 4, 2, 1024, &low);
	ck_assert_msg(mean > 0.7 && low <= 0.1, "local: mean %g within +-32, %g of rows below 1/2",
	              mean, low);

	/* control: without the signal, +-32 holds about 65/1024 of the mass */
	mean = local_mass(ATTN_DIST_GAUSSIAN, 4, 2, 1024, &low);
	ck_assert_msg(mean < 0.15, "gaussian: mean %g within +-32", mean);
}
END_TEST

START_TEST(test_needle_dominates)
{
	int64_t H = 4, KVH = 2, N = 1024, D = 64;
	struct attn_shape s = shape(1, H, KVH, N, D, ATTN_MODE_PREFILL);
	struct attn_workload w;
	double *p = malloc(N * sizeof(double)), frac[64];
	int nfrac = 0;

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(attn_workload_alloc(&s, 0, ATTN_DIST_NEEDLE, 8, &w), ATTN_OK);
	for (int64_t g = 0; g < KVH; g++) {
		/* needle keys have norm 2 sqrt(D) = 16; ordinary ones about 8 +- 0.7 */
		const float *k = w.in.k + g * N * D;
		int is_needle[1024], needles = 0;
		for (int64_t j = 0; j < N; j++) {
			double nn = 0.0;
			for (int64_t x = 0; x < D; x++)
				nn += (double)k[j * D + x] * k[j * D + x];
			is_needle[j] = fabs(sqrt(nn) - 16.0) < 1e-3;
			needles += is_needle[j];
		}
		ck_assert_msg(needles >= 1 && needles <= N / 256, "group %lld: %d needles",
		              (long long)g, needles);

		for (int64_t head = g * (H / KVH); head < (g + 1) * (H / KVH); head++) {
			for (int64_t i = 0; i < N; i += N / 16) {
				double m = 0.0;
				softmax_row(w.in.q + (head * N + i) * D, k, N, D, p);
				for (int64_t j = 0; j < N; j++)
					m += is_needle[j] ? p[j] : 0.0;
				frac[nfrac++] = m;
			}
		}
	}
	qsort(frac, nfrac, sizeof(double), cmp_double);
	double median = 0.5 * (frac[nfrac / 2 - 1] + frac[nfrac / 2]);
	ck_assert_msg(median > 0.5, "needles take %g of a median row", median);
	attn_workload_free(&w);
	free(p);
}
END_TEST

/* Below 256 keys there is still one needle. */
START_TEST(test_needle_short)
{
	struct attn_shape s = shape(1, 1, 1, 40, 16, ATTN_MODE_PREFILL);
	struct attn_workload w;
	int needles = 0;

	ck_assert_int_eq(attn_workload_alloc(&s, 0, ATTN_DIST_NEEDLE, 3, &w), ATTN_OK);
	for (int j = 0; j < 40; j++) {
		double nn = 0.0;
		for (int x = 0; x < 16; x++)
			nn += (double)w.in.k[j * 16 + x] * w.in.k[j * 16 + x];
		needles += fabs(sqrt(nn) - 8.0) < 1e-3;
	}
	ck_assert_int_eq(needles, 1);
	attn_workload_free(&w);
}
END_TEST

static void check_range(const float *x, int64_t count, float lo, float hi, const char *what)
{
	float mn = x[0], mx = x[0];

	for (int64_t i = 0; i < count; i++) {
		mn = x[i] < mn ? x[i] : mn;
		mx = x[i] > mx ? x[i] : mx;
	}
	ck_assert_msg(mn >= lo && mx <= hi, "%s in [%g, %g]", what, (double)mn, (double)mx);
	/* and it uses the range, not one corner of it */
	ck_assert_msg(mn < lo + 0.01f * (hi - lo) && mx > hi - 0.01f * (hi - lo),
	              "%s spans only [%g, %g]", what, (double)mn, (double)mx);
}

START_TEST(test_extra_inputs)
{
	int64_t B = 2, H = 4, N = 500, D = 16;
	struct attn_shape s = shape(B, H, 2, N, D, ATTN_MODE_PREFILL);
	struct attn_workload w;

	ck_assert_int_eq(attn_workload_alloc(&s, ALL_INPUTS, ATTN_DIST_GAUSSIAN, 4, &w), ATTN_OK);
	check_range(w.in.log_gate, B * H * N, -0.1f, -0.0001f, "log_gate");
	check_range(w.in.gate_vec, B * H * N * D, -0.1f, -0.0001f, "gate_vec");
	check_range(w.in.beta, B * H * N, 0.05f, 0.95f, "beta");
	int bad = 0;
	for (int64_t i = 0; i < B * H * N; i++)
		bad += !(w.in.log_gate[i] < 0.0f && w.in.beta[i] > 0.0f && w.in.beta[i] < 1.0f);
	ck_assert_int_eq(bad, 0);
	attn_workload_free(&w);

	/* only what is asked for */
	ck_assert_int_eq(attn_workload_alloc(&s, ATTN_INPUT_BETA, ATTN_DIST_GAUSSIAN, 4, &w),
	                 ATTN_OK);
	ck_assert_ptr_null(w.in.log_gate);
	ck_assert_ptr_null(w.in.gate_vec);
	ck_assert_ptr_nonnull(w.in.beta);
	attn_workload_free(&w);
}
END_TEST

/* Every tensor 64-byte aligned, in layout order, inside the block, not overlapping. */
START_TEST(test_layout_and_bytes)
{
	static const unsigned sets[] = {0, ATTN_INPUT_LOG_GATE, ATTN_INPUT_GATE_VEC,
	                                ATTN_INPUT_BETA, ALL_INPUTS};
	static const struct attn_shape shapes[] = {
	    {1, 1, 1, 1, 1, 0, ATTN_MODE_PREFILL},   {1, 2, 1, 3, 5, 1, ATTN_MODE_PREFILL},
	    {3, 8, 2, 33, 7, 0, ATTN_MODE_PREFILL},  {3, 8, 2, 33, 7, 1, ATTN_MODE_DECODE},
	    {1, 4, 4, 100, 64, 0, ATTN_MODE_DECODE},
	};

	for (size_t si = 0; si < sizeof(shapes) / sizeof(shapes[0]); si++) {
		for (size_t ii = 0; ii < sizeof(sets) / sizeof(sets[0]); ii++) {
			const struct attn_shape *s = &shapes[si];
			struct attn_workload w;
			int64_t nq = attn_shape_nq(s);
			ck_assert_int_eq(attn_workload_alloc(s, sets[ii], ATTN_DIST_NEEDLE, 1, &w),
			                 ATTN_OK);
			ck_assert_uint_eq(w.bytes, attn_workload_bytes(s, sets[ii]));

			const float *t[6] = {w.in.q,        w.in.k,        w.in.v,
			                     w.in.log_gate, w.in.gate_vec, w.in.beta};
			int64_t bh = s->batch * s->heads, bkv = s->batch * s->kv_heads;
			int64_t len[6] = {bh * nq * s->d, bkv * s->n * s->d, bkv * s->n * s->d,
			                  bh * s->n,      bh * s->n * s->d,  bh * s->n};
			const char *end = w.base;
			for (int i = 0; i < 6; i++) {
				if (!t[i])
					continue;
				ck_assert_uint_eq((uintptr_t)t[i] % 64, 0);
				ck_assert((const char *)t[i] >= end);
				end = (const char *)(t[i] + len[i]);
			}
			ck_assert(end <= (const char *)w.base + w.bytes);
			ck_assert(end > (const char *)w.base + w.bytes - 64);
			attn_workload_free(&w);
		}
	}

	/* by hand: (1, 2, 1, 3, 5) prefill, every input, each tensor rounded to 64 */
	struct attn_shape s = shape(1, 2, 1, 3, 5, ATTN_MODE_PREFILL);
	/* q 120 -> 128, k 60 -> 64, v 64, log_gate 24 -> 64, gate_vec 120 -> 128, beta 64 */
	ck_assert_uint_eq(attn_workload_bytes(&s, ALL_INPUTS), 512);
	ck_assert_uint_eq(attn_workload_bytes(&s, 0), 256);
	s.mode = ATTN_MODE_DECODE; /* q 40 -> 64 */
	ck_assert_uint_eq(attn_workload_bytes(&s, 0), 192);
}
END_TEST

START_TEST(test_invalid_shapes)
{
	static const struct attn_shape bad[] = {
	    {0, 1, 1, 8, 8, 0, ATTN_MODE_PREFILL}, {1, 0, 1, 8, 8, 0, ATTN_MODE_PREFILL},
	    {1, 1, 0, 8, 8, 0, ATTN_MODE_PREFILL}, {1, 1, 1, 0, 8, 0, ATTN_MODE_PREFILL},
	    {1, 1, 1, 8, 0, 0, ATTN_MODE_PREFILL}, {1, 1, 1, 8, -4, 0, ATTN_MODE_PREFILL},
	    {1, 4, 3, 8, 8, 0, ATTN_MODE_PREFILL}, {1, 2, 4, 8, 8, 0, ATTN_MODE_PREFILL},
	    {1, 1, 1, 8, 8, 0, (enum attn_mode)7},
	};
	struct attn_shape ok = shape(1, 2, 1, 8, 8, ATTN_MODE_PREFILL);
	struct attn_workload w;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&w, 0xab, sizeof(w));
		ck_assert_int_eq(attn_workload_alloc(&bad[i], 0, ATTN_DIST_GAUSSIAN, 1, &w),
		                 ATTN_ERR_INVALID);
		/* the output is cleared on failure */
		ck_assert_ptr_null(w.base);
		ck_assert_ptr_null(w.in.q);
		ck_assert_uint_eq(attn_workload_bytes(&bad[i], 0), SIZE_MAX);
	}
	ck_assert_int_eq(attn_workload_alloc(NULL, 0, ATTN_DIST_GAUSSIAN, 1, &w), ATTN_ERR_INVALID);
	ck_assert_int_eq(attn_workload_alloc(&ok, 0, ATTN_DIST_GAUSSIAN, 1, NULL),
	                 ATTN_ERR_INVALID);
	ck_assert_int_eq(attn_workload_alloc(&ok, 0, (enum attn_dist)ATTN_DIST_COUNT, 1, &w),
	                 ATTN_ERR_INVALID);
	ck_assert_int_eq(attn_workload_alloc(&ok, 1u << 7, ATTN_DIST_GAUSSIAN, 1, &w),
	                 ATTN_ERR_INVALID);
	ck_assert_uint_eq(attn_workload_bytes(NULL, 0), SIZE_MAX);
}
END_TEST

START_TEST(test_overflow_and_nomem)
{
	static const struct attn_shape huge[] = {
	    /* element counts that overflow 64 bits */
	    {INT64_C(1) << 40, INT64_C(1) << 20, 1, 1 << 20, 64, 0, ATTN_MODE_PREFILL},
	    {1, 1, 1, INT64_MAX, INT64_MAX, 0, ATTN_MODE_PREFILL},
	    {1, 1, 1, INT64_C(1) << 61, 1, 0, ATTN_MODE_DECODE}, /* * 4 bytes */
	    {1, 1, 1, (INT64_C(1) << 62) - 8, 1, 0, ATTN_MODE_DECODE},
	};
	struct attn_workload w;

	for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		ck_assert_uint_eq(attn_workload_bytes(&huge[i], ALL_INPUTS), SIZE_MAX);
		ck_assert_int_eq(attn_workload_alloc(&huge[i], 0, ATTN_DIST_GAUSSIAN, 1, &w),
		                 ATTN_ERR_NOMEM);
		ck_assert_ptr_null(w.base);
	}
	/* representable, but a petabyte: the allocation itself fails */
	struct attn_shape pb = shape(1, 1, 1, INT64_C(1) << 40, 256, ATTN_MODE_DECODE);
	ck_assert_uint_lt(attn_workload_bytes(&pb, 0), SIZE_MAX);
	ck_assert_int_eq(attn_workload_alloc(&pb, 0, ATTN_DIST_GAUSSIAN, 1, &w), ATTN_ERR_NOMEM);
	ck_assert_ptr_null(w.base);
	attn_workload_free(&w); /* harmless on a cleared workload */
	attn_workload_free(NULL);
}
END_TEST

START_TEST(test_dist_parse)
{
	enum attn_dist d;
	char err[256];

	for (int i = 0; i < ATTN_DIST_COUNT; i++) {
		ck_assert_int_eq(
		    attn_dist_parse(attn_dist_name((enum attn_dist)i), &d, err, sizeof(err)),
		    ATTN_OK);
		ck_assert_int_eq(d, i);
	}
	ck_assert_str_eq(attn_dist_name(ATTN_DIST_GAUSSIAN), "gaussian");
	ck_assert_str_eq(attn_dist_name(ATTN_DIST_LOCAL), "local");
	ck_assert_str_eq(attn_dist_name(ATTN_DIST_NEEDLE), "needle");
	ck_assert_str_eq(attn_dist_name((enum attn_dist)99), "unknown");

	err[0] = '\0';
	ck_assert_int_eq(attn_dist_parse("Gaussian", &d, err, sizeof(err)), ATTN_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err, "'Gaussian'"));
	ck_assert_ptr_nonnull(strstr(err, "gaussian, local, needle"));
	ck_assert_int_eq(attn_dist_parse("", &d, err, sizeof(err)), ATTN_ERR_INVALID);
	ck_assert_int_eq(attn_dist_parse(NULL, &d, err, sizeof(err)), ATTN_ERR_INVALID);
	ck_assert_int_eq(attn_dist_parse("zipf", &d, NULL, 0), ATTN_ERR_INVALID);
}
END_TEST

static Suite *workload_suite(void)
{
	Suite *s = suite_create("workload");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_rng_golden);
	tcase_add_loop_test(tc, test_determinism, 0, ATTN_DIST_COUNT);
#ifdef _OPENMP
	tcase_add_loop_test(tc, test_thread_count_invariant, 0, ATTN_DIST_COUNT);
#endif
	tcase_add_test(tc, test_golden);
	tcase_add_loop_test(tc, test_decode_is_last_prefill_row, 0, ATTN_DIST_COUNT);
	tcase_add_loop_test(tc, test_extras_do_not_shift_qkv, 0, ATTN_DIST_COUNT);
	tcase_add_test(tc, test_gaussian_moments);
	tcase_add_test(tc, test_local_is_peaked);
	tcase_add_test(tc, test_needle_dominates);
	tcase_add_test(tc, test_needle_short);
	tcase_add_test(tc, test_extra_inputs);
	tcase_add_test(tc, test_layout_and_bytes);
	tcase_add_test(tc, test_invalid_shapes);
	tcase_add_test(tc, test_overflow_and_nomem);
	tcase_add_test(tc, test_dist_parse);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return attn_test_run(workload_suite(), CK_NORMAL);
}
