/*
 * The routing computations of the data-dependent sparse methods: pooling,
 * block scores, top-k, Quest's page bounds, Reformer's hash and sort, and
 * k-means. See route.h for what each computes; here are the reasons for
 * how. All of it is float32, single-threaded per call and free of
 * data-dependent summation orders, so a method's forward() and its oracle
 * (which call the same functions) select the same keys, and one thread or
 * two give the same bits.
 */
#include <math.h>
#include <stdlib.h>

#include "attnbench/workload.h"
#include "engines/route.h"
#include "internal.h" /* attn__now_ns */
#include "kernels/kernels.h"

void attn__route_pool_mean(const float *x, int64_t n, int64_t d, int64_t b, float *out)
{
	const int64_t nb = attn__route_blocks(n, b);
	for (int64_t j = 0; j < nb; j++) {
		const int64_t r0 = j * b, r1 = attn__min64(n, r0 + b);
		float *o = out + j * d; /* (d) */
		memcpy(o, x + r0 * d, (size_t)d * sizeof(float));
		for (int64_t r = r0 + 1; r < r1; r++)
			attn__axpy(o, 1.0f, x + r * d, d);
		attn__scale(o, 1.0f / (float)(r1 - r0), d);
	}
}

void attn__route_scores(const float *a, int64_t m, const float *b, int64_t n, int64_t d, float *s,
                        float *scratch)
{
	/* attn__gemm reads its B row-major: bᵀ (d, n) is packed once. */
	attn__transpose(scratch, n, b, d, n, d);
	attn__gemm(m, n, d, a, d, 1, scratch, n, s, n, 0);
}

/* ---- top-k ------------------------------------------------------------------- */

/* The score that orders entry i: NaN sorts last, as -inf. */
static inline float topk_key(const float *score, int32_t i)
{
	return isnan(score[i]) ? -INFINITY : score[i];
}

/* 1 when entry i comes before entry j: larger score, or equal and lower index. */
static inline int topk_before(const float *score, int32_t i, int32_t j)
{
	const float a = topk_key(score, i), b = topk_key(score, j);
	return a > b || (a == b && i < j);
}

/*
 * Restore the heap below slot `at`: the heap keeps the worst kept entry (the
 * last in the order) at its root, so a candidate only has to beat the root.
 */
static void topk_sift_down(const float *score, int32_t *heap, int64_t size, int64_t at)
{
	for (;;) {
		int64_t worst = at;
		const int64_t l = 2 * at + 1, r = l + 1;
		if (l < size && topk_before(score, heap[worst], heap[l]))
			worst = l;
		if (r < size && topk_before(score, heap[worst], heap[r]))
			worst = r;
		if (worst == at)
			return;
		const int32_t t = heap[at];
		heap[at] = heap[worst];
		heap[worst] = t;
		at = worst;
	}
}

static int cmp_int32(const void *a, const void *b)
{
	const int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

int64_t attn__route_topk(const float *score, int64_t n, int64_t k, int32_t *idx)
{
	if (k > n)
		k = n;
	if (k <= 0)
		return 0;
	int64_t size = 0;
	for (int32_t i = 0; i < (int32_t)n; i++) {
		if (size < k) {
			/* sift up: the new entry rises while it is worse than its parent */
			int64_t at = size++;
			idx[at] = i;
			while (at > 0 && topk_before(score, idx[(at - 1) / 2], idx[at])) {
				const int32_t t = idx[at];
				idx[at] = idx[(at - 1) / 2];
				idx[(at - 1) / 2] = t;
				at = (at - 1) / 2;
			}
		} else if (topk_before(score, i, idx[0])) {
			idx[0] = i;
			topk_sift_down(score, idx, size, 0);
		}
	}
	qsort(idx, (size_t)k, sizeof *idx, cmp_int32);
	return k;
}

int64_t attn__route_pick(const float *score, int64_t avail, int64_t topk, const int64_t *forced,
                         int nforced, float *tmp, int32_t *out)
{
	memcpy(tmp, score, (size_t)avail * sizeof(float));
	/* forced blocks first in the order (+inf), counted once each */
	int64_t extra = 0;
	for (int f = 0; f < nforced; f++)
		if (forced[f] < avail && tmp[forced[f]] != INFINITY) {
			tmp[forced[f]] = INFINITY;
			extra++;
		}
	return attn__route_topk(tmp, avail, topk + extra, out);
}

double attn__route_nominal_pairs(const struct attn_shape *s, int64_t b, int64_t kb)
{
	const int64_t N = s->n;
	double pairs = 0.0;
	if (s->mode == ATTN_MODE_DECODE) {
		pairs = (double)attn__min64(N, kb * b);
	} else if (!s->causal) {
		pairs = (double)N * (double)attn__min64(N, kb * b);
	} else {
		/* block i: up to kb - 1 whole blocks before it, and its own lower triangle */
		for (int64_t i = 0; i * b < N; i++) {
			const double r = (double)attn__min64(b, N - i * b);
			pairs +=
			    (double)attn__min64(kb - 1, i) * (double)b * r + r * (r + 1.0) / 2.0;
		}
	}
	return pairs * (double)(s->batch * s->heads);
}

double attn__route_nominal_bytes(const struct attn_shape *s, int64_t b, double pairs,
                                 double extra_bytes)
{
	const double rows = s->mode == ATTN_MODE_DECODE ? 1.0 : (double)b;
	const double qo = 2.0 * (double)(s->batch * s->heads * attn_shape_nq(s) * s->d);
	return sizeof(float) * (qo + 2.0 * (double)s->d * pairs / rows) + extra_bytes;
}

size_t attn__route_pooled_scratch(const struct attn_shape *s, int64_t b)
{
	const int64_t nqb = attn__route_blocks(attn_shape_nq(s), b);
	const int64_t nkb = attn__route_blocks(s->n, b), D = s->d;
	/* q̄ (nqb, D), k̄ (nkb, D), k̄ᵀ (D, nkb), S̄ (nqb, nkb), a row (nkb) */
	return sizeof(float) * (size_t)(nqb * D + 2 * nkb * D + nqb * nkb + nkb);
}

double attn__route_pooled_flops(const struct attn_shape *s, int64_t b)
{
	const int64_t NQ = attn_shape_nq(s);
	const double nqb = (double)attn__route_blocks(NQ, b);
	const double nkb = (double)attn__route_blocks(s->n, b);
	return (double)(s->batch * s->heads) *
	       ((double)(NQ + s->n) * (double)s->d + 2.0 * nqb * nkb * (double)s->d);
}

void attn__route_pooled(const struct attn__route_spec *rs, const struct attn_shape *s,
                        const struct attn_inputs *in, int64_t bh, char *region, void *scratch,
                        int64_t topk, int sink)
{
	const int64_t N = s->n, D = s->d, NQ = attn_shape_nq(s), b = rs->b;
	const int64_t nqb = attn__route_blocks(NQ, b), nkb = attn__route_blocks(N, b);
	const float *q = in->q + bh * NQ * D;                  /* (NQ, D) */
	const float *k = in->k + attn__kv_head(s, bh) * N * D; /* (N, D) */
	int64_t *row = (int64_t *)(region + rs->lo.off_row);   /* (nqb + 1) */
	int32_t *col = (int32_t *)(region + rs->lo.off_col);   /* (cap) */
	float *qp = scratch;                                   /* (nqb, D) */
	float *kp = qp + nqb * D;                              /* (nkb, D) */
	float *kt = kp + nkb * D;                              /* (D, nkb) */
	float *sc = kt + D * nkb;                              /* (nqb, nkb) */
	float *tmp = sc + nqb * nkb;                           /* (nkb) */

	/* S̄ = q̄ k̄ᵀ: an (N/b)×(N/b)×D product; in decode q̄ is the one query */
	attn__route_pool_mean(q, NQ, D, b, qp);
	attn__route_pool_mean(k, N, D, b, kp);
	attn__route_scores(qp, nqb, kp, nkb, D, sc, kt);

	row[0] = 0;
	for (int64_t i = 0; i < nqb; i++) {
		const int64_t diag = s->mode == ATTN_MODE_DECODE ? (N - 1) / b : i;
		const int64_t avail = s->causal ? diag + 1 : nkb;
		const int64_t forced[2] = {diag, 0};
		row[i + 1] = row[i] + attn__route_pick(sc + i * nkb, avail, topk, forced,
		                                       sink ? 2 : 1, tmp, col + row[i]);
	}
}

double attn__route_pooled_bytes(const struct attn_shape *s)
{
	return sizeof(float) * (double)(s->batch * s->heads * (attn_shape_nq(s) + s->n) * s->d);
}

double attn__route_flops(const struct attn__route_spec *rs, const struct attn_shape *s)
{
	return 4.0 * (double)s->d * rs->nominal_pairs + rs->routing_flops;
}

double attn__route_bytes(const struct attn__route_spec *rs, const struct attn_shape *s)
{
	return attn__route_nominal_bytes(s, rs->b, rs->nominal_pairs, rs->routing_bytes);
}

/* ---- Quest ------------------------------------------------------------------- */

void attn__route_page_minmax(const float *k, int64_t n, int64_t d, int64_t b, float *kmin,
                             float *kmax)
{
	const int64_t pages = attn__route_blocks(n, b);
	for (int64_t p = 0; p < pages; p++) {
		const int64_t r0 = p * b, r1 = attn__min64(n, r0 + b);
		float *lo = kmin + p * d, *hi = kmax + p * d; /* (d) each */
		memcpy(lo, k + r0 * d, (size_t)d * sizeof(float));
		memcpy(hi, k + r0 * d, (size_t)d * sizeof(float));
		for (int64_t r = r0 + 1; r < r1; r++) {
			const float *kr = k + r * d;
#pragma omp simd
			for (int64_t c = 0; c < d; c++) {
				lo[c] = kr[c] < lo[c] ? kr[c] : lo[c];
				hi[c] = kr[c] > hi[c] ? kr[c] : hi[c];
			}
		}
	}
}

void attn__route_quest_bound(const float *q, const float *kmin, const float *kmax, int64_t pages,
                             int64_t d, float *bound)
{
	for (int64_t p = 0; p < pages; p++) {
		const float *lo = kmin + p * d, *hi = kmax + p * d;
		float u = 0.0f;
#pragma omp simd reduction(+ : u)
		for (int64_t c = 0; c < d; c++) {
			const float a = q[c] * hi[c], b = q[c] * lo[c];
			u += a > b ? a : b;
		}
		bound[p] = u;
	}
}

/* ---- LSH --------------------------------------------------------------------- */

/* The attn_rng_uniform stream of the rotation's entries ("ROTN"). */
#define LSH_STREAM 0x524f544eu

void attn__route_lsh_rotation(uint64_t seed, int64_t d, int64_t cols, float *r)
{
	/* Box-Muller: √(-2 ln(1 - u1)) cos(2π u2) ~ N(0, 1) for u1, u2 uniform in [0, 1). */
	for (int64_t i = 0; i < d * cols; i++) {
		const double u1 = attn_rng_uniform(seed, LSH_STREAM, 2 * (uint64_t)i);
		const double u2 = attn_rng_uniform(seed, LSH_STREAM, 2 * (uint64_t)i + 1);
		r[i] = (float)(sqrt(-2.0 * log1p(-u1)) * cos(6.283185307179586 * u2));
	}
}

void attn__route_lsh_hash(const float *x, int64_t n, int64_t d, const float *r, int64_t buckets,
                          int32_t *bucket, float *scratch)
{
	const int64_t cols = attn__route_lsh_cols(buckets);
	float *y = scratch; /* (cols) */
	for (int64_t i = 0; i < n; i++) {
		if (cols == 0) {
			bucket[i] = 0;
			continue;
		}
		/* y = x_i R, accumulated a row of R at a time (R is (d, cols)) */
		memset(y, 0, (size_t)cols * sizeof(float));
		for (int64_t c = 0; c < d; c++)
			attn__axpy(y, x[i * d + c], r + c * cols, cols);
		/* argmax over [y, -y], the first `buckets` entries, first on ties */
		int32_t best = 0;
		float top = y[0];
		for (int64_t e = 1; e < buckets; e++) {
			const float v = e < cols ? y[e] : -y[e - cols];
			if (v > top) {
				top = v;
				best = (int32_t)e;
			}
		}
		bucket[i] = best;
	}
}

void attn__route_sort_by_key(const int32_t *key, int64_t n, int64_t nkeys, int32_t *perm,
                             int32_t *start)
{
	/* counts, then exclusive prefix sums: start[c] = Σ_{c' < c} count(c') */
	memset(start, 0, (size_t)(nkeys + 1) * sizeof(*start));
	for (int64_t i = 0; i < n; i++)
		start[key[i] + 1]++;
	for (int64_t c = 0; c < nkeys; c++)
		start[c + 1] += start[c];
	/*
	 * Placing positions in increasing order keeps equal keys in position
	 * order (stability); start[c] is used as the cursor of key c and so ends
	 * at start[c + 1]: shift back afterwards.
	 */
	for (int64_t i = 0; i < n; i++)
		perm[start[key[i]]++] = (int32_t)i;
	for (int64_t c = nkeys; c > 0; c--)
		start[c] = start[c - 1];
	start[0] = 0;
}

/* ---- k-means ----------------------------------------------------------------- */

/* The attn_rng_uniform stream of k-means++ draws ("KMPP"). */
#define KMEANS_STREAM 0x4b4d5050u

/* Rows scored against the centroids per GEMM in attn__route_nearest. */
#define NEAREST_ROWS 64

size_t attn__route_kmeans_scratch(int64_t n, int64_t d, int64_t clusters)
{
	/* μᵀ (d, clusters), ‖μ‖²/2 (clusters), dots (NEAREST_ROWS, clusters), then
	 * k-means++'s distances (n) or Lloyd's counts (clusters) */
	return (size_t)(d * clusters + clusters + NEAREST_ROWS * clusters +
	                (n > clusters ? n : clusters));
}

void attn__route_nearest(const float *x, int64_t n, int64_t d, const float *cent, int64_t clusters,
                         int32_t *assign, float *scratch)
{
	float *ct = scratch;             /* (d, clusters) */
	float *half = ct + d * clusters; /* (clusters) */
	float *dots = half + clusters;   /* (NEAREST_ROWS, clusters) */
	attn__transpose(ct, clusters, cent, d, clusters, d);
	for (int64_t c = 0; c < clusters; c++)
		half[c] = 0.5f * attn__dot(cent + c * d, cent + c * d, d);

	/* ‖x - μ‖² = ‖x‖² - 2 (x · μ - ‖μ‖²/2): the nearest has the largest bracket */
	for (int64_t r0 = 0; r0 < n; r0 += NEAREST_ROWS) {
		const int64_t rows = attn__min64(NEAREST_ROWS, n - r0);
		attn__gemm(rows, clusters, d, x + r0 * d, d, 1, ct, clusters, dots, clusters, 0);
		for (int64_t i = 0; i < rows; i++) {
			const float *di = dots + i * clusters;
			int32_t best = 0;
			float top = di[0] - half[0];
			for (int64_t c = 1; c < clusters; c++) {
				const float v = di[c] - half[c];
				if (v > top) {
					top = v;
					best = (int32_t)c;
				}
			}
			assign[r0 + i] = best;
		}
	}
}

/* ‖a - b‖² over (d). */
static float sq_dist(const float *a, const float *b, int64_t d)
{
	float s = 0.0f;
#pragma omp simd reduction(+ : s)
	for (int64_t c = 0; c < d; c++)
		s += (a[c] - b[c]) * (a[c] - b[c]);
	return s;
}

/*
 * Rows per centroid that k-means++ seeds from: the seeding walks its rows
 * once per centroid, a matrix-vector pass bound by memory bandwidth, so it
 * takes every (n / (KMEANS_SEED_ROWS · clusters))-th row only; a few dozen
 * rows per cluster still find every well-separated cluster, and the Lloyd
 * steps then use all rows. Without it the seeding of 32768 keys into 182
 * clusters cost more than the attention it routes.
 */
#define KMEANS_SEED_ROWS 32

/*
 * k-means++ seeding into cent (clusters, d) from rows 0, stride, 2 stride,
 * ... of x (m of them); mind (m) scratch. Each new centroid only lowers
 * the distances, so one pass per centroid keeps mind current:
 * O(m · clusters · d) in all.
 */
static void kmeans_seed(const float *x, int64_t m, int64_t stride, int64_t d, int64_t clusters,
                        uint64_t seed, float *cent, float *mind)
{
	int64_t pick = (int64_t)(attn_rng_uniform(seed, KMEANS_STREAM, 0) * (double)m);
	for (int64_t c = 0; c < clusters; c++) {
		memcpy(cent + c * d, x + pick * stride * d, (size_t)d * sizeof(float));
		double total = 0.0;
		for (int64_t i = 0; i < m; i++) {
			const float dist = sq_dist(x + i * stride * d, cent + c * d, d);
			mind[i] = c == 0 || dist < mind[i] ? dist : mind[i];
			total += mind[i];
		}
		/* the next pick: the first row where the running sum passes u · total */
		const double u = attn_rng_uniform(seed, KMEANS_STREAM, (uint64_t)c + 1);
		if (total > 0.0) {
			double run = 0.0;
			const double target = u * total;
			for (pick = 0; pick < m - 1; pick++) {
				run += mind[pick];
				if (run > target && mind[pick] > 0.0f)
					break;
			}
		} else {
			/* every row sits on a centroid: any row will do */
			pick = (int64_t)(u * (double)m);
		}
	}
}

void attn__route_kmeans(const float *x, int64_t n, int64_t d, int64_t clusters, int64_t iters,
                        uint64_t seed, float *cent, int32_t *assign, float *scratch)
{
	float *tail = scratch + d * clusters + clusters + NEAREST_ROWS * clusters;
	const int64_t stride =
	    n > KMEANS_SEED_ROWS * clusters ? n / (KMEANS_SEED_ROWS * clusters) : 1;
	kmeans_seed(x, (n + stride - 1) / stride, stride, d, clusters, seed, cent, tail);

	for (int64_t it = 0; it < iters; it++) {
		attn__route_nearest(x, n, d, cent, clusters, assign, scratch);
		/* μ_c = mean of the rows assigned to c; a centroid with none stays */
		float *count = tail; /* (clusters) */
		memset(count, 0, (size_t)clusters * sizeof(float));
		for (int64_t i = 0; i < n; i++)
			count[assign[i]] += 1.0f;
		for (int64_t c = 0; c < clusters; c++)
			if (count[c] > 0.0f)
				memset(cent + c * d, 0, (size_t)d * sizeof(float));
		for (int64_t i = 0; i < n; i++)
			attn__axpy(cent + assign[i] * d, 1.0f, x + i * d, d);
		for (int64_t c = 0; c < clusters; c++)
			if (count[c] > 0.0f)
				attn__scale(cent + c * d, 1.0f / count[c], d);
	}
	attn__route_nearest(x, n, d, cent, clusters, assign, scratch);
}

/* ---- the driver -------------------------------------------------------------- */

void attn__route_layout_init(struct attn__route_layout *lo, const struct attn_shape *s, int64_t b,
                             int64_t cap, int has_kind, int has_qidx, int has_kidx,
                             size_t aux_bytes)
{
	const int64_t NQ = attn_shape_nq(s);
	memset(lo, 0, sizeof *lo);
	lo->nqb = attn__route_blocks(NQ, b);
	lo->cap = cap;
	lo->has_kind = has_kind;
	lo->has_qidx = has_qidx && s->mode != ATTN_MODE_DECODE;
	lo->has_kidx = has_kidx;
	lo->off_row = 0;
	lo->off_col = lo->off_row + attn__bytes64((size_t)(lo->nqb + 1) * sizeof(int64_t));
	lo->off_kind = lo->off_col + attn__bytes64((size_t)cap * sizeof(int32_t));
	lo->off_qidx = lo->off_kind + (has_kind ? attn__bytes64((size_t)cap) : 0);
	lo->off_kidx =
	    lo->off_qidx + (lo->has_qidx ? attn__bytes64((size_t)NQ * sizeof(int32_t)) : 0);
	lo->off_aux = lo->off_kidx + (has_kidx ? attn__bytes64((size_t)s->n * sizeof(int32_t)) : 0);
	lo->bytes = lo->off_aux + attn__bytes64(aux_bytes);
}

void attn__route_head_cb(const void *arg, int pass, int64_t bh, struct attn__bs_head *hd)
{
	const struct attn__route_run *run = (const struct attn__route_run *)arg;
	const struct attn__route_layout *lo = &run->rs->lo;
	const char *region = attn__route_region(arg, bh);
	(void)pass;
	*hd = (struct attn__bs_head){
	    .nq = attn_shape_nq(run->s),
	    .nk = run->s->n,
	    .qidx = lo->has_qidx ? (const int32_t *)(region + lo->off_qidx) : NULL,
	    .qstride = 1,
	    .kidx = lo->has_kidx ? (const int32_t *)(region + lo->off_kidx) : NULL,
	    .kstride = 1,
	    .row = (const int64_t *)(region + lo->off_row),
	    .col = (const int32_t *)(region + lo->off_col),
	    .kind = lo->has_kind ? (const uint8_t *)(region + lo->off_kind) : NULL,
	};
}

void attn__route_ws_init(struct attn__route_ws *w, const struct attn__route_spec *rs,
                         const struct attn_shape *s, int threads)
{
	if (threads < 1)
		threads = 1;
	attn__bs_plan_init(&w->pl, s, rs->b, 1, threads);
	w->threads = threads;
	w->off_flag = attn__bytes64(w->pl.total);
	w->off_shared = w->off_flag + 64;
	w->off_heads = w->off_shared + attn__bytes64(rs->shared_bytes);
	w->off_scratch = w->off_heads + (size_t)(s->batch * s->heads) * rs->lo.bytes;
	w->total = w->off_scratch + (size_t)threads * attn__bytes64(rs->scratch_bytes);
}

int attn__route_prepare(const struct attn__route_spec *rs, const struct attn_shape *s,
                        const struct attn_inputs *in, void *ws, int threads)
{
	struct attn__route_ws w;
	attn__route_ws_init(&w, rs, s, threads);
	*((char *)ws + w.off_flag) = 0;
	if (rs->prep)
		rs->prep(rs, s, in, (char *)ws + w.off_shared);
	return ATTN_OK;
}

void attn__route_report(const struct attn_ctx *ctx, const struct attn_shape *s, int64_t b,
                        const struct attn__bs_stats *st, double routing_flops, double routing_ns)
{
	attn__bs_report(ctx, s, st, routing_flops, routing_ns);
	if (!ctx || !ctx->report)
		return;
	const double rows = s->mode == ATTN_MODE_DECODE ? 1.0 : (double)b;
	ctx->report(ctx, "tile_density",
	            (double)st->tiles * rows * (double)b / attn__softmax_pairs(s), "1");
}

/* Route heads [0, B·H) into `heads`, the scratch of thread i at scratch + i·sb. */
static void route_heads(const struct attn__route_spec *rs, const struct attn_shape *s,
                        const struct attn_inputs *in, const void *shared, char *heads,
                        char *scratch, int threads)
{
	const int64_t heads_n = s->batch * s->heads;
	const size_t sb = attn__bytes64(rs->scratch_bytes);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1)
	for (int64_t bh = 0; bh < heads_n; bh++)
		rs->route(rs, s, in, shared, bh, heads + (size_t)bh * rs->lo.bytes,
		          scratch + (size_t)attn__thread_id() * sb);
}

double attn__route_all(const struct attn__route_spec *rs, const struct attn_shape *s,
                       const struct attn_inputs *in, void *ws, int threads)
{
	struct attn__route_ws w;
	attn__route_ws_init(&w, rs, s, threads);
	char *base = ws;
	const uint64_t t0 = attn__now_ns();
	route_heads(rs, s, in, rs->shared_bytes ? base + w.off_shared : NULL, base + w.off_heads,
	            base + w.off_scratch, w.threads);
	return (double)(attn__now_ns() - t0);
}

int attn__route_forward(const struct attn__route_spec *rs, const struct attn_shape *s,
                        const struct attn_inputs *in, float *out, void *ws,
                        const struct attn_ctx *ctx)
{
	const int threads = ctx ? ctx->threads : 1;
	struct attn__route_ws w;
	attn__route_ws_init(&w, rs, s, threads);
	const double ns = attn__route_all(rs, s, in, ws, threads);

	const struct attn__route_run run = {rs, s, (char *)ws + w.off_heads};
	const struct attn__bs_pattern pat = {
	    .b = rs->b, .passes = 1, .head = attn__route_head_cb, .mask = rs->mask, .arg = &run};
	struct attn__bs_stats st;
	attn__bs_run(&w.pl, &pat, s, in, out, ws, &st);
	attn__route_report(ctx, s, rs->b, &st, rs->routing_flops, ns);
	attn__bs_report_params(ctx, rs->resolved, rs->n_resolved);
	attn__bs_dump(ctx, &pat, s, 0, (uint8_t *)ws + w.off_flag);
	return ATTN_OK;
}

char *attn__route_select(const struct attn__route_spec *rs, const struct attn_shape *s,
                         const struct attn_inputs *in, char **shared, char **heads)
{
	struct attn__route_ws w;
	attn__route_ws_init(&w, rs, s, 1);
	/* the method's part only: the engine's tiles are not used by a reference */
	char *mem = aligned_alloc(64, w.total - w.off_shared);
	if (!mem)
		return NULL;
	*shared = mem;
	*heads = mem + (w.off_heads - w.off_shared);
	if (rs->prep)
		rs->prep(rs, s, in, *shared);
	route_heads(rs, s, in, rs->shared_bytes ? *shared : NULL, *heads,
	            mem + (w.off_scratch - w.off_shared), 1);
	return mem;
}

int attn__route_oracle(const struct attn__route_spec *rs, const struct attn_shape *s,
                       const struct attn_inputs *in, double *out)
{
	char *shared, *heads;
	char *mem = attn__route_select(rs, s, in, &shared, &heads);
	if (!mem)
		return ATTN_ERR_NOMEM;
	const struct attn__route_run run = {rs, s, heads};
	const struct attn__bs_pattern pat = {
	    .b = rs->b, .passes = 1, .head = attn__route_head_cb, .mask = rs->mask, .arg = &run};
	const int rc = attn__bs_reference(&pat, s, in, out);
	free(mem);
	return rc;
}

/*
 * ---- The descriptor callbacks (ABI v2) --------------------------------------
 *
 * Each builds the method's spec from m->data into a frame-local rs and cfg,
 * then runs the driver above.
 */

/* Room for a method's cfg, aligned for whatever it holds. */
union route_cfg {
	max_align_t align;
	unsigned char bytes[ATTN__ROUTE_CFG_MAX];
};

static void routed_spec(const struct attn_method *m, const struct attn_shape *s,
                        const struct attn_params *p, struct attn__route_spec *rs,
                        union route_cfg *c)
{
	const struct attn__route_method *rm = m->data;
	rm->spec(s, p, rs, c);
}

double attn__routed_flops(const struct attn_method *m, const struct attn_shape *s,
                          const struct attn_params *p)
{
	struct attn__route_spec rs;
	union route_cfg c;
	routed_spec(m, s, p, &rs, &c);
	return attn__route_flops(&rs, s);
}

double attn__routed_bytes(const struct attn_method *m, const struct attn_shape *s,
                          const struct attn_params *p)
{
	struct attn__route_spec rs;
	union route_cfg c;
	routed_spec(m, s, p, &rs, &c);
	return attn__route_bytes(&rs, s);
}

int attn__routed_prepare(const struct attn_method *m, const struct attn_shape *s,
                         const struct attn_params *p, const struct attn_inputs *in, void *ws,
                         const struct attn_ctx *ctx)
{
	struct attn__route_spec rs;
	union route_cfg c;
	routed_spec(m, s, p, &rs, &c);
	return attn__route_prepare(&rs, s, in, ws, ctx ? ctx->threads : 1);
}

size_t attn__routed_workspace_bytes(const struct attn_method *m, const struct attn_shape *s,
                                    const struct attn_params *p, int threads)
{
	struct attn__route_spec rs;
	union route_cfg c;
	struct attn__route_ws w;
	routed_spec(m, s, p, &rs, &c);
	attn__route_ws_init(&w, &rs, s, threads);
	return w.total;
}

int attn__routed_forward(const struct attn_method *m, const struct attn_shape *s,
                         const struct attn_params *p, const struct attn_inputs *in, float *out,
                         void *ws, const struct attn_ctx *ctx)
{
	struct attn__route_spec rs;
	union route_cfg c;
	if (m->supports(m, s, p, NULL, 0) != ATTN_OK)
		return ATTN_ERR_UNSUPPORTED;
	routed_spec(m, s, p, &rs, &c);
	return attn__route_forward(&rs, s, in, out, ws, ctx);
}

int attn__routed_oracle(const struct attn_method *m, const struct attn_shape *s,
                        const struct attn_params *p, const struct attn_inputs *in, double *out,
                        const struct attn_ctx *ctx)
{
	struct attn__route_spec rs;
	union route_cfg c;
	(void)ctx;
	if (m->supports(m, s, p, NULL, 0) != ATTN_OK)
		return ATTN_ERR_UNSUPPORTED;
	routed_spec(m, s, p, &rs, &c);
	return attn__route_oracle(&rs, s, in, out);
}
