/*
 * Tests of the routing and clustering sparse methods (methods/sparse:
 * block_topk, moba, quest, nsa, lsh, kmeans) and of their selection code
 * (methods/common/route.c).
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
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/method.h"
#include "attnbench/workload.h"
#include "check_main.h"
#include "common/common.h"
#include "common/route.h"

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
	return attn_test_run(s, CK_NORMAL);
}
