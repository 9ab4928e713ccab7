/*
 * Tests of the routing and clustering sparse methods (methods/sparse:
 * block_topk, moba, quest, nsa, lsh, kmeans) and of their selection code
 * (methods/engines/route.c).
 *
 * Selection, on constructed inputs where the right answer is known:
 *  - top-k picks the k largest, the lower index on ties, NaN last, and
 *    entries forced with +inf first;
 *  - block pooling and block scores;
 *  - Quest's bound is an upper bound of the true max score of each page
 *    (and equals it for a one-key page);
 *  - Reformer's hash lands in range and ignores a positive scale, and the
 *    sort by bucket is stable;
 *  - k-means finds well-separated clusters.
 *
 * Methods, through their descriptors:
 *  - each against its oracle (the float64 dense masked reference over the
 *    same selection) to 1e-5, at parameters that really drop blocks (b of
 *    16 and 32, N up to 333), causal and not where defined, GQA, prefill
 *    and decode;
 *  - with parameters that keep everything (topk = all blocks, buckets = 1
 *    with b >= N, clusters = 1, nsa with gate 0) each equals exact softmax
 *    attention (the float64 reference);
 *  - 2 threads give the same bits as 1;
 *  - what they keep, read back through ctx->dump_mask and ctx->report: a
 *    planted block or page is found, the reported density is the count of
 *    the kept pairs (nsa's mask too: the union of its branches), routing
 *    time is reported, and so are the parameters a method chose itself.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/method.h"
#include "attnbench/spec.h"
#include "attnbench/workload.h"
#include "check_main.h"
#include "engines/blocksparse.h"
#include "engines/route.h"
#include "kernels/kernels.h"
#include "method_check.h"

extern const struct attn_method attn_method_block_topk;
extern const struct attn_method attn_method_moba;
extern const struct attn_method attn_method_quest;
extern const struct attn_method attn_method_nsa;
extern const struct attn_method attn_method_lsh;
extern const struct attn_method attn_method_kmeans;

/* A uniform float in [-1, 1) from the workload generator (seeded). */
static float unif(uint64_t seed, uint64_t i)
{
	return (float)(2.0 * attn_rng_uniform(seed, 99, i) - 1.0);
}

/* ---- selection --------------------------------------------------------------- */

START_TEST(topk_order)
{
	/* ties at 5 (indices 1, 4, 6), a NaN, a forced entry */
	const float s[] = {1.0f, 5.0f, -2.0f, NAN, 5.0f, 7.0f, 5.0f, 0.0f};
	int32_t idx[8];
	ck_assert_int_eq(attn__route_topk(s, 8, 3, idx), 3);
	ck_assert_int_eq(idx[0], 1); /* 7 (5), then 5 at the two lowest indices (1, 4) */
	ck_assert_int_eq(idx[1], 4);
	ck_assert_int_eq(idx[2], 5);
	ck_assert_int_eq(attn__route_topk(s, 8, 8, idx), 8); /* k = n: everything, in order */
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(idx[i], i);
	ck_assert_int_eq(attn__route_topk(s, 8, 20, idx), 8);
	ck_assert_int_eq(attn__route_topk(s, 8, 0, idx), 0);
	/* NaN is the last: the 7 best leave it out */
	ck_assert_int_eq(attn__route_topk(s, 8, 7, idx), 7);
	for (int i = 0; i < 7; i++)
		ck_assert_int_ne(idx[i], 3);
	/* a forced entry (+inf) and the top 2 of the rest */
	float f[8];
	memcpy(f, s, sizeof f);
	f[2] = INFINITY;
	ck_assert_int_eq(attn__route_topk(f, 8, 3, idx), 3);
	ck_assert_int_eq(idx[0], 1);
	ck_assert_int_eq(idx[1], 2);
	ck_assert_int_eq(idx[2], 5);
}
END_TEST

/* Against a brute force on random scores with many ties, k from 1 to n. */
START_TEST(topk_random)
{
	enum { N = 97 };
	float s[N];
	int32_t idx[N];
	for (int i = 0; i < N; i++)
		s[i] = floorf(8.0f * unif(5, (uint64_t)i)); /* 16 values: ties everywhere */
	for (int k = 1; k <= N; k++) {
		ck_assert_int_eq(attn__route_topk(s, N, k, idx), k);
		/* i is kept iff fewer than k entries come before it */
		int kept[N] = {0};
		for (int j = 0; j < k; j++) {
			if (j > 0)
				ck_assert_int_lt(idx[j - 1], idx[j]);
			kept[idx[j]] = 1;
		}
		for (int i = 0; i < N; i++) {
			int before = 0;
			for (int j = 0; j < N; j++)
				before += s[j] > s[i] || (s[j] == s[i] && j < i);
			ck_assert_int_eq(kept[i], before < k);
		}
	}
}
END_TEST

START_TEST(pool_and_scores)
{
	/* x (5, 2), b = 2: blocks {0, 1}, {2, 3}, {4} */
	const float x[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	float p[6];
	attn__route_pool_mean(x, 5, 2, 2, p);
	const float want[] = {2, 3, 6, 7, 9, 10};
	for (int i = 0; i < 6; i++)
		ck_assert_float_eq(p[i], want[i]);
	/* s = p pᵀ (3, 3) */
	float s[9], scratch[6];
	attn__route_scores(p, 3, p, 3, 2, s, scratch);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			ck_assert_float_eq_tol(
			    s[i * 3 + j], p[2 * i] * p[2 * j] + p[2 * i + 1] * p[2 * j + 1], 1e-5);
}
END_TEST

START_TEST(quest_bound_is_upper)
{
	enum { N = 300, D = 24, B = 16, PAGES = (N + B - 1) / B };
	float *k = malloc(sizeof(float) * N * D);
	float kmin[PAGES * D], kmax[PAGES * D], q[D], bound[PAGES];
	ck_assert_ptr_nonnull(k);
	for (int i = 0; i < N * D; i++)
		k[i] = 3.0f * unif(1, (uint64_t)i);
	attn__route_page_minmax(k, N, D, B, kmin, kmax);
	for (int t = 0; t < 20; t++) {
		for (int c = 0; c < D; c++)
			q[c] = unif(2 + (uint64_t)t, (uint64_t)c);
		attn__route_quest_bound(q, kmin, kmax, PAGES, D, bound);
		for (int p = 0; p < PAGES; p++) {
			float best = -INFINITY;
			for (int j = p * B; j < N && j < (p + 1) * B; j++)
				best = fmaxf(best, attn__dot(q, k + j * D, D));
			ck_assert_msg(bound[p] >= best - 1e-5f * (1.0f + fabsf(best)),
			              "page %d: bound %g below the max score %g", p, bound[p],
			              best);
		}
	}
	/* a page of one key: the bound is that key's score */
	attn__route_page_minmax(k, 1, D, B, kmin, kmax);
	attn__route_quest_bound(q, kmin, kmax, 1, D, bound);
	ck_assert_float_eq_tol(bound[0], attn__dot(q, k, D), 1e-5);
	free(k);
}
END_TEST

START_TEST(lsh_hash_and_sort)
{
	enum { N = 500, D = 16 };
	float x[N * D], y[N * D], r[D * 8], scratch[8];
	int32_t h[N], h2[N], perm[N], start[17];
	for (int i = 0; i < N * D; i++) {
		x[i] = unif(3, (uint64_t)i);
		y[i] = 2.5f * x[i];
	}
	for (int64_t buckets = 1; buckets <= 16; buckets++) {
		const int64_t cols = attn__route_lsh_cols(buckets);
		attn__route_lsh_rotation(9, D, cols, r);
		attn__route_lsh_hash(x, N, D, r, buckets, h, scratch);
		attn__route_lsh_hash(y, N, D, r, buckets, h2, scratch);
		int used[16] = {0};
		for (int i = 0; i < N; i++) {
			ck_assert(h[i] >= 0 && h[i] < buckets);
			/* a positive scale keeps the argmax */
			ck_assert_int_eq(h[i], h2[i]);
			used[h[i]] = 1;
		}
		/* random rotations spread 500 random rows over every bucket */
		for (int c = 0; c < buckets; c++)
			ck_assert_msg(used[c], "buckets %lld: bucket %d empty", (long long)buckets,
			              c);
		/* stable: by bucket, then by position; start[] delimits the buckets */
		attn__route_sort_by_key(h, N, buckets, perm, start);
		ck_assert_int_eq(start[0], 0);
		ck_assert_int_eq(start[buckets], N);
		for (int64_t c = 0; c < buckets; c++)
			for (int32_t rk = start[c]; rk < start[c + 1]; rk++) {
				ck_assert_int_eq(h[perm[rk]], c);
				if (rk > start[c])
					ck_assert_int_lt(perm[rk - 1], perm[rk]);
			}
	}
}
END_TEST

/*
 * Four clusters far apart (centres ±10 on two axes, points within ±1),
 * their points interleaved along the sequence: k-means with 4 centroids
 * puts each cluster's points together, alone, whatever the seed, and its
 * centroids on the clusters' means.
 */
START_TEST(kmeans_separated)
{
	enum { N = 400, D = 8, C = 4 };
	float x[N * D], cent[C * D], mean[C * D] = {0};
	int32_t assign[N];
	float *scratch = malloc(attn__route_kmeans_scratch(N, D, C) * sizeof(float));
	ck_assert_ptr_nonnull(scratch);
	for (int i = 0; i < N; i++) {
		const int c = (i * 7) % C;
		for (int e = 0; e < D; e++) {
			float centre = e == 0   ? (c & 1 ? 10.0f : -10.0f)
			               : e == 1 ? (c & 2 ? 10.0f : -10.0f)
			                        : 0.0f;
			x[i * D + e] = centre + unif(4, (uint64_t)(i * D + e));
			mean[c * D + e] += x[i * D + e] / (N / C);
		}
	}
	for (uint64_t seed = 1; seed <= 5; seed++) {
		attn__route_kmeans(x, N, D, C, 10, seed, cent, assign, scratch);
		int map[C] = {-1, -1, -1, -1};
		for (int i = 0; i < N; i++) {
			const int c = (i * 7) % C;
			if (map[c] < 0)
				map[c] = assign[i];
			ck_assert_int_eq(assign[i], map[c]);
		}
		for (int c = 0; c < C; c++) {
			for (int c2 = 0; c2 < c; c2++)
				ck_assert_int_ne(map[c], map[c2]);
			for (int e = 0; e < D; e++)
				ck_assert_float_eq_tol(cent[map[c] * D + e], mean[c * D + e], 1e-4);
		}
	}
	/* one cluster: its centroid is the mean of everything */
	attn__route_kmeans(x, N, D, 1, 3, 1, cent, assign, scratch);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(assign[i], 0);
	for (int e = 0; e < D; e++) {
		float m = 0.0f;
		for (int c = 0; c < C; c++)
			m += mean[c * D + e] / C;
		ck_assert_float_eq_tol(cent[e], m, 1e-4);
	}
	free(scratch);
}
END_TEST

/* ---- the methods ------------------------------------------------------------- */

/*
 * Parameters of each method that drop blocks at b = 16..32 and N ~ 300
 * (index `which` into methods[]), and ones that keep everything.
 */
static const struct attn_method *const methods[] = {
    &attn_method_block_topk, &attn_method_moba, &attn_method_quest,
    &attn_method_nsa,        &attn_method_lsh,  &attn_method_kmeans,
};
#define N_METHODS ((int)(sizeof methods / sizeof *methods))

static struct attn_params params_of(const struct attn_method *m, const double *v, int n)
{
	struct attn_params p;
	attn_params_default(m, &p);
	for (int i = 0; i < n && i < m->n_params; i++)
		p.v[i] = v[i];
	return p;
}

/* Sparse settings: b, then topk / buckets / clusters, then the rest. */
static struct attn_params sparse_params(const struct attn_method *m, int64_t b)
{
	const char *n = m->name;
	if (!strcmp(n, "nsa")) {
		const double v[] = {(double)b, 2, 40, 1.0 / 3.0};
		return params_of(m, v, 4);
	}
	if (!strcmp(n, "lsh")) {
		const double v[] = {(double)b, 4, 7};
		return params_of(m, v, 3);
	}
	if (!strcmp(n, "kmeans")) {
		const double v[] = {(double)b, 5, 3, 2};
		return params_of(m, v, 4);
	}
	if (!strcmp(n, "moba")) {
		const double v[] = {(double)b, 2, 0};
		return params_of(m, v, 3);
	}
	const double v[] = {(double)b, 2};
	return params_of(m, v, 2);
}

/* Settings that keep every key (for N <= 1024). */
static struct attn_params full_params(const struct attn_method *m, int64_t N)
{
	const char *n = m->name;
	if (!strcmp(n, "nsa")) {
		const double v[] = {16, (double)N, (double)N, 0.0};
		return params_of(m, v, 4);
	}
	if (!strcmp(n, "lsh")) {
		const double v[] = {1024, 1, 1};
		return params_of(m, v, 3);
	}
	if (!strcmp(n, "kmeans")) {
		const double v[] = {16, 1, 2, 1};
		return params_of(m, v, 4);
	}
	const double v[] = {16, (double)N};
	return params_of(m, v, 2);
}

static int is_supported(const struct attn_method *m, const struct attn_shape *s,
                        const struct attn_params *p)
{
	return attn_call_supports(m, s, p, NULL, 0) == ATTN_OK;
}

/* m against its oracle over N, D, GQA, causal and not, prefill and decode, b 16 and 32. */
START_TEST(methods_match_oracle)
{
	const struct attn_method *m = methods[_i];
	static const int64_t ns[] = {1, 47, 200, 333};
	double worst = 0.0;
	char where[256] = "";
	int ran = 0;
	for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
		for (int64_t b = 16; b <= 32; b *= 2)
			for (int causal = 0; causal < 2; causal++)
				for (int mode = 0; mode < 2; mode++)
					for (int64_t kvh = 2; kvh >= 1; kvh--) {
						struct attn_shape s = mk_shape(
						    1, 4, kvh, ns[ni], b == 16 ? 24 : 64, causal,
						    mode ? ATTN_MODE_DECODE : ATTN_MODE_PREFILL);
						struct attn_params p = sparse_params(m, b);
						if (!is_supported(m, &s, &p))
							continue;
						struct attn_workload wl;
						ck_assert_int_eq(
						    attn_workload_alloc(&s, 0, ATTN_DIST_GAUSSIAN,
						                        5, &wl),
						    ATTN_OK);
						float *out = run_method(m, &s, &p, &wl.in, 1);
						double *ref = run_oracle(m, &s, &p, &wl.in);
						const double e = rel_err_d(out, ref, out_count(&s));
						if (e > worst || isnan(e)) {
							worst = isnan(e) ? INFINITY : e;
							snprintf(where, sizeof where,
							         "N=%lld b=%lld causal=%d mode=%d "
							         "kvh=%lld",
							         (long long)s.n, (long long)b,
							         causal, mode, (long long)kvh);
						}
						ran++;
						free(out);
						free(ref);
						attn_workload_free(&wl);
					}
	ck_assert_msg(ran > 0, "%s ran nothing", m->name);
	ck_assert_msg(worst <= 1e-5, "%s: error %g against its oracle at %s", m->name, worst,
	              where);
}
END_TEST

/* Keeping every key, m is exact softmax attention. */
START_TEST(keep_everything_is_softmax)
{
	const struct attn_method *m = methods[_i];
	static const int64_t ns[] = {1, 100, 257};
	double worst = 0.0;
	for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
		for (int causal = 0; causal < 2; causal++)
			for (int mode = 0; mode < 2; mode++) {
				struct attn_shape s =
				    mk_shape(2, 4, 2, ns[ni], 32, causal,
				             mode ? ATTN_MODE_DECODE : ATTN_MODE_PREFILL);
				struct attn_params p = full_params(m, ns[ni]);
				if (!is_supported(m, &s, &p))
					continue;
				struct attn_workload wl;
				ck_assert_int_eq(
				    attn_workload_alloc(&s, 0, ATTN_DIST_GAUSSIAN, 8, &wl),
				    ATTN_OK);
				float *out = run_method(m, &s, &p, &wl.in, 1);
				double *ref = run_softmax_ref(&s, &wl.in);
				worst = fmax(worst, rel_err_d(out, ref, out_count(&s)));
				free(out);
				free(ref);
				attn_workload_free(&wl);
			}
	ck_assert_msg(worst <= 1e-5, "%s: keeping everything, error %g against softmax", m->name,
	              worst);
}
END_TEST

/* Two threads give the same bits as one, prefill and decode, causal. */
START_TEST(threads_bit_identical)
{
	const struct attn_method *m = methods[_i];
	for (int mode = 0; mode < 2; mode++) {
		struct attn_shape s =
		    mk_shape(2, 4, 2, 300, 32, 1, mode ? ATTN_MODE_DECODE : ATTN_MODE_PREFILL);
		struct attn_params p = sparse_params(m, 16);
		if (!is_supported(m, &s, &p))
			continue;
		struct attn_workload wl;
		ck_assert_int_eq(attn_workload_alloc(&s, 0, ATTN_DIST_LOCAL, 4, &wl), ATTN_OK);
		float *one = run_method(m, &s, &p, &wl.in, 1);
		float *two = run_method(m, &s, &p, &wl.in, 2);
		ck_assert_msg(memcmp(one, two, out_count(&s) * sizeof(float)) == 0,
		              "%s mode=%d: 2 threads differ from 1", m->name, mode);
		free(one);
		free(two);
		attn_workload_free(&wl);
	}
}
END_TEST

/* ---- what the methods keep, read back through the ctx callbacks ------------------- */

/*
 * block_topk and moba on planted blocks: N = 1024, b = 64 (16 blocks),
 * every query of block 12 shares a direction u with every key of block 5
 * (and nothing else does), so block 5 tops query block 12's pooled scores;
 * with topk = 1, row 12 keeps exactly 5 and 12 (and 0, block_topk's sink).
 * The reported density is the count of the kept pairs of the lists.
 */
START_TEST(planted_block_is_selected)
{
	const int64_t N = 1024, D = 32, b = 64;
	struct attn_shape s = mk_shape(1, 1, 1, N, D, 1, ATTN_MODE_PREFILL);
	struct seen seen;
	struct attn_workload wl;
	ck_assert_int_eq(attn_workload_alloc(&s, 0, ATTN_DIST_GAUSSIAN, 6, &wl), ATTN_OK);
	float *q = (float *)wl.in.q, *k = (float *)wl.in.k;
	for (int64_t t = 12 * b; t < 13 * b; t++)
		q[t * D] += 8.0f;
	for (int64_t j = 5 * b; j < 6 * b; j++)
		k[j * D] += 8.0f;
	for (int mi = 0; mi < 2; mi++) {
		const struct attn_method *m = mi ? &attn_method_moba : &attn_method_block_topk;
		const double v[] = {(double)b, 1, 0};
		struct attn_params p = params_of(m, v, 3);
		free(run_seen(m, &s, &p, &wl.in, 1, &seen));
		ck_assert_int_eq(seen.nqb, 16);
		ck_assert_int_eq(seen.nkb, 16);
		for (int64_t j = 0; j < 16; j++)
			ck_assert_int_eq(seen.mask[12 * 16 + j] != 0,
			                 j == 5 || j == 12 || (j == 0 && mi == 0));
		/* a block below the diagonal is whole; the diagonal keeps its causal half */
		ck_assert_int_eq(seen.mask[12 * 16 + 5], 255);
		ck_assert_int_eq(seen.mask[12 * 16 + 12], 2 + 252 * (b * (b + 1) / 2) / (b * b));
		/*
		 * count the kept pairs from the mask: whole blocks, the diagonal
		 * halved; the tiles computed are the kept blocks, whole
		 */
		double kept = 0.0, tiles = 0.0;
		for (int64_t i = 0; i < 16; i++)
			for (int64_t j = 0; j <= i; j++)
				if (seen.mask[i * 16 + j]) {
					kept += j < i ? (double)(b * b) : (double)(b * (b + 1) / 2);
					tiles += 1.0;
				}
		ck_assert_double_eq_tol(seen.density, kept / (double)(N * (N + 1) / 2), 1e-12);
		ck_assert_double_eq_tol(seen.tile_density,
		                        tiles * (double)(b * b) / (double)(N * (N + 1) / 2), 1e-12);
		ck_assert(seen.density < 0.3);
		ck_assert(seen.routing_ns > 0.0);
		ck_assert(seen.flops >= 4.0 * (double)D * kept);
	}
	attn_workload_free(&wl);
}
END_TEST

/*
 * nsa's mask is its two engine branches together: every query block keeps
 * its own block and, through the window of 64, the block before; the
 * selection adds at most topk = 1 more.
 */
START_TEST(nsa_mask_has_both_branches)
{
	const int64_t N = 1024, D = 32, b = 64;
	struct attn_shape s = mk_shape(1, 1, 1, N, D, 1, ATTN_MODE_PREFILL);
	struct seen seen;
	struct attn_workload wl;
	ck_assert_int_eq(attn_workload_alloc(&s, 0, ATTN_DIST_LOCAL, 6, &wl), ATTN_OK);
	const double v[] = {(double)b, 1, 64, 1.0 / 3.0};
	struct attn_params p = params_of(&attn_method_nsa, v, 4);
	free(run_seen(&attn_method_nsa, &s, &p, &wl.in, 1, &seen));
	ck_assert_int_eq(seen.nqb, 16);
	for (int64_t i = 0; i < 16; i++) {
		int kept = 0;
		for (int64_t j = 0; j < 16; j++)
			kept += seen.mask[i * 16 + j] != 0;
		ck_assert(seen.mask[i * 16 + i]);
		ck_assert(i == 0 || seen.mask[i * 16 + i - 1]);
		ck_assert_int_le(kept, 3);
	}
	attn_workload_free(&wl);
}
END_TEST

/*
 * nsa's density is the union of the pairs its selected and window branches
 * keep, over the causal score matrix, so at most 1; each branch's figure
 * under its own name. Counted here from the definition:
 *  - topk = 0 (only the query's own block) and w = 100, b = 64: row t keeps
 *    keys min(64 ⌊t/64⌋, t - 99) .. t, prefill at N = 1024 and decode at
 *    N = 1000 (row 999: keys 900..999, the own block 960..999 inside);
 *  - topk = nkb (every block selected): the union is every causal pair, 1,
 *    where the two branches' sum is above 1;
 *  - the defaults at N = 256 (the case that reported 2.0): at most 1, at
 *    least either branch, at most their sum.
 * density_cmp: the compressed branch's (query, complete block) scores,
 * Σ_t ⌊(t + 1) / b⌋ over the pairs.
 */
START_TEST(nsa_density_is_the_union)
{
	const int64_t b = 64, w = 100;
	struct seen sn;
	for (int mode = 0; mode < 2; mode++) {
		const int64_t N = mode ? 1000 : 1024;
		struct attn_shape s =
		    mk_shape(1, 2, 1, N, 16, 1, mode ? ATTN_MODE_DECODE : ATTN_MODE_PREFILL);
		struct attn_workload wl;
		ck_assert_int_eq(attn_workload_alloc(&s, 0, ATTN_DIST_GAUSSIAN, 3, &wl), ATTN_OK);
		const double v0[] = {(double)b, 0, (double)w, 1.0 / 3.0};
		struct attn_params p = params_of(&attn_method_nsa, v0, 4);
		free(run_seen(&attn_method_nsa, &s, &p, &wl.in, 1, &sn));
		double kept = 0.0, cmp = 0.0;
		for (int64_t t = mode ? N - 1 : 0; t < N; t++) {
			const int64_t own = b * (t / b), lo = t - w + 1 > own ? own : t - w + 1;
			kept += (double)(t - (lo > 0 ? lo : 0) + 1);
			cmp += (double)((t + 1) / b);
		}
		const double pairs = mode ? (double)N : (double)(N * (N + 1) / 2);
		ck_assert_msg(fabs(sn.density - kept / pairs) < 1e-12,
		              "mode %d: density %g, want %g", mode, sn.density, kept / pairs);
		ck_assert_double_eq_tol(sn.density_cmp, cmp / pairs, 1e-12);
		ck_assert(sn.density_win > 0.0 && sn.density_sel > 0.0);

		const double v1[] = {(double)b, (double)(N / b + 1), (double)w, 1.0 / 3.0};
		p = params_of(&attn_method_nsa, v1, 4);
		free(run_seen(&attn_method_nsa, &s, &p, &wl.in, 1, &sn));
		ck_assert_msg(fabs(sn.density - 1.0) < 1e-12, "mode %d, all selected: density %g",
		              mode, sn.density);
		ck_assert_double_eq_tol(sn.density_sel, 1.0, 1e-12);
		ck_assert(sn.density_sel + sn.density_win > 1.0);
		attn_workload_free(&wl);
	}
	struct attn_shape s = mk_shape(1, 2, 1, 256, 16, 1, ATTN_MODE_PREFILL);
	struct attn_workload wl;
	ck_assert_int_eq(attn_workload_alloc(&s, 0, ATTN_DIST_GAUSSIAN, 3, &wl), ATTN_OK);
	const double vd[] = {64, 16, 512, 1.0 / 3.0};
	const struct attn_params pd = params_of(&attn_method_nsa, vd, 4);
	free(run_seen(&attn_method_nsa, &s, &pd, &wl.in, 1, &sn));
	ck_assert_msg(sn.density <= 1.0 + 1e-12 && sn.density >= sn.density_sel - 1e-12 &&
	                  sn.density >= sn.density_win - 1e-12 &&
	                  sn.density <= sn.density_sel + sn.density_win + 1e-12,
	              "defaults: density %g, sel %g, win %g", sn.density, sn.density_sel,
	              sn.density_win);
	attn_workload_free(&wl);
}
END_TEST

/*
 * nsa's dumped mask is the union of its branches, as its density is: with
 * w = 100 and topk = 1 at b = 64 every diagonal block is kept by both the
 * selection and the window, so a count of both would fill it. Decoded
 * (byte v of a partial block: f in [(v - 2) / 252, (v - 1) / 252)), the
 * mask's kept pairs bracket density times the causal pairs, and the
 * diagonal blocks read as the causal half they are, not whole.
 */
START_TEST(nsa_mask_is_the_union)
{
	const int64_t N = 1024, D = 16, b = 64, nb = N / b;
	struct attn_shape s = mk_shape(1, 1, 1, N, D, 1, ATTN_MODE_PREFILL);
	struct seen sn;
	struct attn_workload wl;
	ck_assert_int_eq(attn_workload_alloc(&s, 0, ATTN_DIST_LOCAL, 4, &wl), ATTN_OK);
	const double v[] = {(double)b, 1, 100, 1.0 / 3.0};
	struct attn_params p = params_of(&attn_method_nsa, v, 4);
	free(run_seen(&attn_method_nsa, &s, &p, &wl.in, 1, &sn));
	ck_assert_int_eq(sn.nqb, nb);
	double lo = 0.0, hi = 0.0;
	const double area = (double)(b * b);
	for (int64_t i = 0; i < nb * nb; i++) {
		const uint8_t m = sn.mask[i];
		ck_assert_msg(m == 0 || m == 255 || (m >= 2 && m <= 253), "byte %d", m);
		lo += m == 255 ? area : m ? area * (m - 2) / 252.0 : 0.0;
		hi += m == 255 ? area : m ? area * (m - 1) / 252.0 : 0.0;
	}
	const double kept = sn.density * (double)(N * (N + 1) / 2);
	ck_assert_msg(lo <= kept + 1e-9 && kept < hi, "mask holds %g..%g pairs, density %g pairs",
	              lo, hi, kept);
	for (int64_t i = 0; i < nb; i++) {
		const uint8_t m = sn.mask[i * nb + i];
		const double f = (m - 2) / 252.0, half = (double)(b + 1) / (double)(2 * b);
		ck_assert_msg(m != 255 && f <= half && half < f + 1.0 / 252.0, "diagonal %lld: %d",
		              (long long)i, m);
	}
	attn_workload_free(&wl);
}
END_TEST

/*
 * What a method chose itself is reported as param.NAME (method.h), and only
 * then: kmeans' clusters = 0 at N = 256 is ⌈√256⌉ = 16, and runs the same
 * bits as clusters = 16 given, which reports nothing; quest's topk = 0 at
 * 4096 keys in pages of 64 is ⌈64 / 16⌉ - 1 = 3 pages besides the last,
 * which is what its mask keeps, and a topk past the pages is cut to them.
 */
START_TEST(resolved_params_reported)
{
	struct seen sn;
	struct attn_workload wl;
	struct attn_shape s = mk_shape(1, 2, 1, 256, 16, 1, ATTN_MODE_PREFILL);
	ck_assert_int_eq(attn_workload_alloc(&s, 0, ATTN_DIST_LOCAL, 5, &wl), ATTN_OK);
	const double va[] = {32, 0}, vg[] = {32, 16};
	struct attn_params pa = params_of(&attn_method_kmeans, va, 2),
	                   pg = params_of(&attn_method_kmeans, vg, 2);
	float *oa = run_seen(&attn_method_kmeans, &s, &pa, &wl.in, 1, &sn);
	ck_assert_int_eq(sn.n_param, 1);
	ck_assert_double_eq(seen_param(&sn, "clusters"), ceil(sqrt(256.0)));
	float *og = run_seen(&attn_method_kmeans, &s, &pg, &wl.in, 1, &sn);
	ck_assert_int_eq(sn.n_param, 0);
	ck_assert(memcmp(oa, og, out_count(&s) * sizeof(float)) == 0);
	free(oa);
	free(og);
	attn_workload_free(&wl);

	const int64_t N = 4096, b = 64, pages = N / b;
	s = mk_shape(1, 1, 1, N, 16, 1, ATTN_MODE_DECODE);
	ck_assert_int_eq(attn_workload_alloc(&s, 0, ATTN_DIST_GAUSSIAN, 5, &wl), ATTN_OK);
	const double vq[] = {(double)b, 0}, vbig[] = {(double)b, 1000}, vq2[] = {(double)b, 2};
	struct attn_params pq = params_of(&attn_method_quest, vq, 2);
	free(run_seen(&attn_method_quest, &s, &pq, &wl.in, 1, &sn));
	const double topk = seen_param(&sn, "topk");
	ck_assert_double_eq(topk, (double)((pages + 15) / 16 - 1));
	int kept = 0;
	for (int64_t j = 0; j < pages; j++)
		kept += sn.mask[j] != 0;
	ck_assert_int_eq(kept, (int)topk + 1);
	pq = params_of(&attn_method_quest, vbig, 2);
	free(run_seen(&attn_method_quest, &s, &pq, &wl.in, 1, &sn));
	ck_assert_double_eq(seen_param(&sn, "topk"), (double)(pages - 1));
	pq = params_of(&attn_method_quest, vq2, 2);
	free(run_seen(&attn_method_quest, &s, &pq, &wl.in, 1, &sn));
	ck_assert(isnan(seen_param(&sn, "topk")));
	attn_workload_free(&wl);
}
END_TEST

/*
 * quest on a needle: context 4096, pages of 64, one key of page 37 is the
 * query's direction scaled up; the default keeps 4 pages (1/16), and page
 * 37 and the last page are among them.
 */
START_TEST(quest_finds_the_needle)
{
	const int64_t N = 4096, D = 64, b = 64;
	struct attn_shape s = mk_shape(1, 1, 1, N, D, 1, ATTN_MODE_DECODE);
	struct seen seen;
	struct attn_workload wl;
	ck_assert_int_eq(attn_workload_alloc(&s, 0, ATTN_DIST_GAUSSIAN, 2, &wl), ATTN_OK);
	float *k = (float *)wl.in.k;
	for (int64_t c = 0; c < D; c++)
		k[(37 * b + 11) * D + c] = 4.0f * wl.in.q[c];
	const double v[] = {(double)b, 0};
	struct attn_params p = params_of(&attn_method_quest, v, 2);
	free(run_seen(&attn_method_quest, &s, &p, &wl.in, 1, &seen));
	ck_assert_int_eq(seen.nqb, 1);
	ck_assert_int_eq(seen.nkb, 64);
	int kept = 0;
	for (int64_t j = 0; j < 64; j++)
		kept += seen.mask[j] != 0;
	ck_assert_int_eq(kept, 4);
	ck_assert(seen.mask[37] && seen.mask[63]);
	ck_assert_double_eq_tol(seen.density, 4.0 * (double)b / (double)N, 1e-12);
	attn_workload_free(&wl);
}
END_TEST

/*
 * moba's token route is exact MoBA: against its oracle, deterministic
 * across threads, and its tiles (the union of its tokens' choices) cover
 * more than the pairs it keeps.
 */
START_TEST(moba_token_route)
{
	double worst = 0.0;
	for (int causal = 0; causal < 2; causal++) {
		struct attn_shape s = mk_shape(1, 2, 1, 500, 32, causal, ATTN_MODE_PREFILL);
		struct seen seen;
		struct attn_workload wl;
		ck_assert_int_eq(attn_workload_alloc(&s, 0, ATTN_DIST_LOCAL, 3, &wl), ATTN_OK);
		const double vt[] = {32, 3, 1};
		struct attn_params pt = params_of(&attn_method_moba, vt, 3);
		float *out = run_seen(&attn_method_moba, &s, &pt, &wl.in, 1, &seen);
		const double dens_token = seen.density, tiles_token = seen.tile_density;
		double *ref = run_oracle(&attn_method_moba, &s, &pt, &wl.in);
		worst = fmax(worst, rel_err_d(out, ref, out_count(&s)));
		free(out);
		free(ref);
		ck_assert(dens_token > 0.0 && dens_token < 1.0);
		/* PARTIAL tiles: the union computed is more than each token keeps */
		ck_assert(tiles_token > dens_token);
		float *two = run_method(&attn_method_moba, &s, &pt, &wl.in, 2);
		float *one = run_method(&attn_method_moba, &s, &pt, &wl.in, 1);
		ck_assert(memcmp(one, two, out_count(&s) * sizeof(float)) == 0);
		free(one);
		free(two);
		attn_workload_free(&wl);
	}
	ck_assert_msg(worst <= 1e-5, "moba token route: error %g against its oracle", worst);
}
END_TEST

/* Chunk of b = 16 of position pos, and key j visible to it: chunks ⌊pos/16⌋ - 1 and ⌊pos/16⌋. */
static int lsh_one_bucket_vis(const void *arg, int64_t bh, int64_t pos, int64_t j)
{
	(void)arg, (void)bh;
	return j / 16 >= pos / 16 - 1 && j / 16 <= pos / 16;
}

/*
 * lsh with one bucket sorts nothing: chunk c of positions attends to chunks
 * c - 1 and c, which a float64 reference built from that rule alone (no
 * lists) confirms; causal and not.
 */
START_TEST(lsh_one_bucket_is_local)
{
	for (int causal = 0; causal < 2; causal++) {
		struct attn_shape s = mk_shape(1, 2, 1, 200, 32, causal, ATTN_MODE_PREFILL);
		struct attn_workload wl;
		ck_assert_int_eq(attn_workload_alloc(&s, 0, ATTN_DIST_GAUSSIAN, 9, &wl), ATTN_OK);
		const double v[] = {16, 1, 1};
		struct attn_params p = params_of(&attn_method_lsh, v, 3);
		float *out = run_method(&attn_method_lsh, &s, &p, &wl.in, 1);
		double *ref = malloc(out_count(&s) * sizeof(double));
		ck_assert_ptr_nonnull(ref);
		ck_assert_int_eq(attn__bs_reference_vis(lsh_one_bucket_vis, NULL, &s, &wl.in, ref),
		                 ATTN_OK);
		const double e = rel_err_d(out, ref, out_count(&s));
		ck_assert_msg(e <= 1e-5, "causal=%d: error %g", causal, e);
		free(out);
		free(ref);
		attn_workload_free(&wl);
	}
}
END_TEST

/* quest refuses prefill with a reason; nsa refuses non-causal. */
START_TEST(refusals)
{
	char msg[256] = "";
	struct attn_shape s = mk_shape(1, 1, 1, 256, 32, 1, ATTN_MODE_PREFILL);
	ck_assert_int_eq(attn_call_supports(&attn_method_quest, &s, NULL, msg, sizeof msg),
	                 ATTN_ERR_UNSUPPORTED);
	ck_assert(strstr(msg, "decode") != NULL);
	s.causal = 0;
	ck_assert_int_eq(attn_call_supports(&attn_method_nsa, &s, NULL, msg, sizeof msg),
	                 ATTN_ERR_UNSUPPORTED);
	ck_assert(strstr(msg, "causal") != NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("route");
	TCase *tc = tcase_create("selection");
	tcase_add_test(tc, topk_order);
	tcase_add_test(tc, topk_random);
	tcase_add_test(tc, pool_and_scores);
	tcase_add_test(tc, quest_bound_is_upper);
	tcase_add_test(tc, lsh_hash_and_sort);
	tcase_add_test(tc, kmeans_separated);
	suite_add_tcase(s, tc);
	TCase *tm = tcase_create("methods");
	tcase_add_loop_test(tm, methods_match_oracle, 0, N_METHODS);
	tcase_add_loop_test(tm, keep_everything_is_softmax, 0, N_METHODS);
	tcase_add_loop_test(tm, threads_bit_identical, 0, N_METHODS);
	tcase_add_test(tm, planted_block_is_selected);
	tcase_add_test(tm, nsa_mask_has_both_branches);
	tcase_add_test(tm, nsa_density_is_the_union);
	tcase_add_test(tm, nsa_mask_is_the_union);
	tcase_add_test(tm, resolved_params_reported);
	tcase_add_test(tm, quest_finds_the_needle);
	tcase_add_test(tm, moba_token_route);
	tcase_add_test(tm, lsh_one_bucket_is_local);
	tcase_add_test(tm, refusals);
	tcase_set_timeout(tm, 120);
	suite_add_tcase(s, tm);
	return attn_test_run(s, CK_NORMAL);
}
