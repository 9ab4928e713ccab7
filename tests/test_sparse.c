/*
 * Tests of the sparse family: the block-sparse engine
 * (methods/common/blocksparse.c) and the fixed-pattern methods on it
 * (methods/sparse, through methods/common/bsfixed.c).
 *
 * The engine, on hand-made patterns (random per-head lists, random FULL and
 * PARTIAL pairs, masks from a hash of the original (row, key)):
 *  - every pair FULL equals exact softmax (attn_reference_softmax), causal
 *    and not, prefill and decode, GQA, N not a multiple of b;
 *  - random lists equal the float64 list reference (attn__bs_reference),
 *    also through permutations of rows and keys (causality on the original
 *    positions), strided maps and several passes mixed by denominators;
 *  - the tile counter equals the pairs listed, the kept counter the pairs
 *    the reference keeps; two threads give the bits of one.
 * The methods:
 *  - each against its oracle (a per-element statement of its pattern, in
 *    float64) at several N (around b), D, causal and not where defined,
 *    prefill and decode, GQA, to 1e-5; decode equals the last prefill row;
 *    two threads give the bits of one;
 *  - parameters that keep everything (w >= N, ...) equal exact softmax;
 *  - work is proportional to density: window at N = 4096 computes as many
 *    tiles as its lists name, and w = 256 about a quarter of w = 1024's;
 *  - bad parameters are refused with a reason; flops() is the kept pairs'.
 * Loops collect the worst error and assert once at the end.
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
#include "common/blocksparse.h"
#include "common/common.h"
#include "method_run.h"

/* ---- hand-made patterns for the engine ---------------------------------------- */

static uint64_t mix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

/*
 * A test pattern: per (pass, head) a random list over random (or identity)
 * maps. How it is drawn:
 *   dense:  every pair FULL (then the pattern is exact softmax)
 *   perm:   rows and keys each in a random order (arrays)
 *   stride: pass 1 takes rows and keys 3 apart (affine maps)
 * Masks keep (row, key) unless a hash of its original indices is 0 mod 4.
 */
struct tpat {
	struct attn__bs_pattern pat;
	int64_t heads;
	struct attn__bs_head *hd; /* (passes, heads) */
	void *mem[512];           /* what to free */
	int nmem;
	int64_t listed; /* pairs over every list */
};

static void *tp_alloc(struct tpat *tp, size_t bytes)
{
	void *p = calloc(1, bytes ? bytes : 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_lt(tp->nmem, 512);
	tp->mem[tp->nmem++] = p;
	return p;
}

static void tp_head(const void *arg, int pass, int64_t bh, struct attn__bs_head *hd)
{
	const struct tpat *tp = arg;
	*hd = tp->hd[pass * tp->heads + bh];
}

static void tp_mask(const void *arg, int pass, int64_t bh, const struct attn__bs_head *hd,
                    int64_t r0, int64_t nq, int64_t c0, int64_t nk, uint8_t *mask)
{
	(void)arg;
	(void)pass;
	for (int64_t i = 0; i < nq; i++)
		for (int64_t j = 0; j < nk; j++) {
			uint64_t h = mix64(((uint64_t)bh << 40) ^
			                   ((uint64_t)attn__bs_qrow(hd, r0 + i) << 20) ^
			                   (uint64_t)attn__bs_key(hd, c0 + j));
			mask[i * nk + j] = h % 4 != 0;
		}
}

enum { TP_DENSE = 1, TP_PERM = 2, TP_STRIDE = 4 };

/* A random permutation of 0..n-1 from `seed`. */
static void tp_perm(int32_t *p, int64_t n, uint64_t seed)
{
	for (int64_t i = 0; i < n; i++)
		p[i] = (int32_t)i;
	for (int64_t i = n - 1; i > 0; i--) {
		int64_t j = (int64_t)(mix64(seed ^ (uint64_t)i) % (uint64_t)(i + 1));
		int32_t t = p[i];
		p[i] = p[j];
		p[j] = t;
	}
}

static void tp_init(struct tpat *tp, const struct attn_shape *s, int64_t b, int passes, int flags,
                    uint64_t seed)
{
	const int64_t N = s->n, heads = s->batch * s->heads;
	const int dec = s->mode == ATTN_MODE_DECODE;
	memset(tp, 0, sizeof *tp);
	tp->heads = heads;
	tp->pat = (struct attn__bs_pattern){
	    .b = b, .passes = passes, .head = tp_head, .mask = tp_mask, .arg = tp};
	tp->hd = tp_alloc(tp, (size_t)(passes * heads) * sizeof *tp->hd);
	for (int pass = 0; pass < passes; pass++)
		for (int64_t bh = 0; bh < heads; bh++) {
			struct attn__bs_head *hd = &tp->hd[pass * heads + bh];
			const uint64_t hs = mix64(seed ^ ((uint64_t)pass << 32) ^ (uint64_t)bh);
			hd->qstride = hd->kstride = 1;
			hd->nq = dec ? 1 : N;
			hd->nk = N;
			if ((flags & TP_STRIDE) && pass == 1) {
				/* rows and keys 1, 4, 7, ... */
				hd->kfirst = 1;
				hd->kstride = 3;
				hd->nk = N > 1 ? (N - 1 + 2) / 3 : 0;
				if (!dec) {
					hd->qfirst = 1;
					hd->qstride = 3;
					hd->nq = hd->nk;
				} else if ((N - 1 - 1) % 3 != 0 || N < 2) {
					hd->nq = 0;
				}
			}
			if (flags & TP_PERM) {
				int32_t *kp = tp_alloc(tp, (size_t)N * sizeof(int32_t));
				tp_perm(kp, N, hs ^ 1);
				hd->kidx = kp;
				if (!dec) {
					int32_t *qp = tp_alloc(tp, (size_t)N * sizeof(int32_t));
					tp_perm(qp, N, hs ^ 2);
					hd->qidx = qp;
				}
			}
			const int64_t nqb = (hd->nq + b - 1) / b, nkb = (hd->nk + b - 1) / b;
			int64_t *row = tp_alloc(tp, (size_t)(nqb + 1) * sizeof(int64_t));
			int32_t *col = tp_alloc(tp, (size_t)(nqb * nkb + 1) * sizeof(int32_t));
			uint8_t *kind = tp_alloc(tp, (size_t)(nqb * nkb + 1));
			int64_t e = 0;
			for (int64_t qb = 0; qb < nqb; qb++) {
				row[qb] = e;
				for (int64_t kb = 0; kb < nkb; kb++) {
					uint64_t h = mix64(hs ^ (uint64_t)(qb * nkb + kb) * 7919u);
					if (!(flags & TP_DENSE) && h % 3 == 0)
						continue;
					col[e] = (int32_t)kb;
					kind[e] = (flags & TP_DENSE) ? ATTN__BS_FULL : (h >> 8) % 2;
					e++;
				}
			}
			row[nqb] = e;
			hd->row = row;
			hd->col = col;
			hd->kind = kind;
			tp->listed += e;
		}
}

static void tp_free(struct tpat *tp)
{
	for (int i = 0; i < tp->nmem; i++)
		free(tp->mem[i]);
}

/* Run the engine on the pattern: a fresh output (the caller frees it). */
static float *bs_exec(const struct tpat *tp, const struct attn_shape *s,
                      const struct attn_inputs *in, int threads, struct attn__bs_stats *st)
{
	struct attn__bs_plan pl;
	attn__bs_plan_init(&pl, s, tp->pat.b, tp->pat.passes, threads);
	void *ws = guarded_alloc(pl.total, 0xFF);
	float *out = guarded_alloc(out_count(s) * sizeof(float), 0xFF);
	attn__bs_run(&pl, &tp->pat, s, in, out, ws, st);
	ck_assert_msg(guard_intact(ws, pl.total), "engine workspace overrun");
	ck_assert_msg(guard_intact(out, out_count(s) * sizeof(float)), "engine output overrun");
	for (size_t i = 0; i < out_count(s); i++)
		ck_assert_msg(isfinite(out[i]), "engine: non-finite output %zu", i);
	free(ws);
	return out;
}

/* Kept pairs the float64 reference counts, by walking every list. */
static int64_t tp_kept(const struct tpat *tp, const struct attn_shape *s)
{
	const int64_t b = tp->pat.b;
	uint8_t *mask = malloc((size_t)(b * b));
	int64_t kept = 0;
	for (int pass = 0; pass < tp->pat.passes; pass++)
		for (int64_t bh = 0; bh < tp->heads; bh++) {
			const struct attn__bs_head *hd = &tp->hd[pass * tp->heads + bh];
			for (int64_t qb = 0; qb * b < hd->nq; qb++) {
				const int64_t r0 = qb * b, mq = attn__min64(b, hd->nq - r0);
				for (int64_t e = hd->row[qb]; e < hd->row[qb + 1]; e++) {
					const int64_t c0 = hd->col[e] * b,
					              nk = attn__min64(b, hd->nk - c0);
					tp_mask(tp, pass, bh, hd, r0, mq, c0, nk, mask);
					for (int64_t i = 0; i < mq; i++)
						for (int64_t j = 0; j < nk; j++)
							kept += (hd->kind[e] == ATTN__BS_FULL ||
							         mask[i * nk + j]) &&
							        (!s->causal ||
							         attn__bs_key(hd, c0 + j) <=
							             attn__bs_qpos(s, hd, r0 + i));
				}
			}
		}
	free(mask);
	return kept;
}

struct worst {
	double err;
	char where[200];
};

static void note(struct worst *w, double err, const char *what, const struct attn_shape *s)
{
	if (err > w->err || isnan(err)) {
		w->err = isnan(err) ? INFINITY : err;
		snprintf(w->where, sizeof w->where, "%s N=%lld D=%lld KVH=%lld causal=%d %s", what,
		         (long long)s->n, (long long)s->d, (long long)s->kv_heads, s->causal,
		         s->mode == ATTN_MODE_DECODE ? "decode" : "prefill");
	}
}

/*
 * One engine case: pattern `flags` over `passes` on shape s, against the
 * list reference (and exact softmax when dense), 1 and 2 threads.
 */
static void engine_case(const struct attn_shape *s, int64_t b, int passes, int flags,
                        struct worst *w)
{
	struct attn_workload wl;
	ck_assert_int_eq(attn_workload_alloc(s, 0, ATTN_DIST_GAUSSIAN, 5, &wl), ATTN_OK);
	struct tpat tp;
	tp_init(&tp, s, b, passes, flags, 17);
	struct attn__bs_stats st1, st2;
	float *o1 = bs_exec(&tp, s, &wl.in, 1, &st1);
	float *o2 = bs_exec(&tp, s, &wl.in, 2, &st2);
	double *ref = malloc(out_count(s) * sizeof(double));
	ck_assert_ptr_nonnull(ref);
	ck_assert_int_eq(attn__bs_reference(&tp.pat, s, &wl.in, ref), ATTN_OK);
	note(w, rel_err_d(o1, ref, out_count(s)), "vs list reference", s);
	if ((flags & TP_DENSE) && passes == 1) {
		ck_assert_int_eq(attn_reference_softmax(s, &wl.in, ref), ATTN_OK);
		note(w, rel_err_d(o1, ref, out_count(s)), "dense vs softmax", s);
	}
	ck_assert_msg(memcmp(o1, o2, out_count(s) * sizeof(float)) == 0,
	              "engine N=%lld flags=%d: 2 threads differ from 1", (long long)s->n, flags);
	ck_assert_int_eq(st1.tiles, tp.listed);
	ck_assert_int_eq(st2.tiles, tp.listed);
	ck_assert_int_eq(st1.kept, tp_kept(&tp, s));
	ck_assert_int_eq(st2.kept, st1.kept);
	free(o1);
	free(o2);
	free(ref);
	tp_free(&tp);
	attn_workload_free(&wl);
}

/* N around b = 16 and 64, D 8 and 64, GQA, causal and not, prefill and decode. */
static void engine_grid(int passes, int flags)
{
	static const int64_t ns[] = {1, 15, 16, 17, 100, 200};
	static const int64_t bs[] = {16, 64};
	static const int64_t ds[] = {8, 64};
	static const int64_t kvhs[] = {4, 1};
	struct worst w = {0, ""};
	for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
		for (size_t bi = 0; bi < 2; bi++)
			for (size_t di = 0; di < 2; di++)
				for (size_t ki = 0; ki < 2; ki++)
					for (int causal = 0; causal < 2; causal++)
						for (int mode = 0; mode < 2; mode++) {
							struct attn_shape s = mk_shape(
							    2, 4, kvhs[ki], ns[ni], ds[di], causal,
							    mode ? ATTN_MODE_DECODE
							         : ATTN_MODE_PREFILL);
							engine_case(&s, bs[bi], passes, flags, &w);
						}
	ck_assert_msg(w.err <= 1e-5, "worst %g at %s", w.err, w.where);
}

START_TEST(engine_dense_is_softmax)
{
	engine_grid(1, TP_DENSE);
}
END_TEST

START_TEST(engine_random_lists)
{
	engine_grid(1, 0);
}
END_TEST

START_TEST(engine_permuted)
{
	engine_grid(1, TP_PERM);
	engine_grid(1, TP_PERM | TP_DENSE);
}
END_TEST

START_TEST(engine_passes)
{
	engine_grid(2, 0);
	engine_grid(2, TP_STRIDE);
	engine_grid(3, TP_PERM);
}
END_TEST

/* A permuted dense pattern is still exact softmax: causality on original positions. */
START_TEST(engine_permuted_dense_is_softmax)
{
	struct worst w = {0, ""};
	for (int causal = 0; causal < 2; causal++) {
		struct attn_shape s = mk_shape(1, 2, 1, 150, 32, causal, ATTN_MODE_PREFILL);
		struct attn_workload wl;
		ck_assert_int_eq(attn_workload_alloc(&s, 0, ATTN_DIST_GAUSSIAN, 9, &wl), ATTN_OK);
		struct tpat tp;
		tp_init(&tp, &s, 16, 1, TP_PERM | TP_DENSE, 3);
		float *o = bs_exec(&tp, &s, &wl.in, 2, NULL);
		double *ref = malloc(out_count(&s) * sizeof(double));
		ck_assert_int_eq(attn_reference_softmax(&s, &wl.in, ref), ATTN_OK);
		note(&w, rel_err_d(o, ref, out_count(&s)), "permuted dense vs softmax", &s);
		free(o);
		free(ref);
		tp_free(&tp);
		attn_workload_free(&wl);
	}
	ck_assert_msg(w.err <= 1e-5, "worst %g at %s", w.err, w.where);
}
END_TEST

/* An empty list gives 0 rows, not NaN; nothing is computed. */
START_TEST(engine_empty_rows)
{
	struct attn_shape s = mk_shape(1, 1, 1, 40, 16, 1, ATTN_MODE_PREFILL);
	struct attn_workload wl;
	ck_assert_int_eq(attn_workload_alloc(&s, 0, ATTN_DIST_GAUSSIAN, 9, &wl), ATTN_OK);
	static const int64_t row[] = {0, 0, 0, 0};
	struct attn__bs_head hd = {.nq = 40, .nk = 40, .qstride = 1, .kstride = 1, .row = row};
	struct tpat tp;
	memset(&tp, 0, sizeof tp);
	tp.heads = 1;
	tp.hd = &hd;
	tp.pat = (struct attn__bs_pattern){.b = 16, .passes = 1, .head = tp_head, .arg = &tp};
	struct attn__bs_stats st;
	float *o = bs_exec(&tp, &s, &wl.in, 1, &st);
	for (size_t i = 0; i < out_count(&s); i++)
		ck_assert(o[i] == 0.0f);
	ck_assert_int_eq(st.tiles, 0);
	ck_assert_int_eq(st.kept, 0);
	free(o);
	attn_workload_free(&wl);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sparse");
	TCase *te = tcase_create("engine");
	tcase_add_test(te, engine_dense_is_softmax);
	tcase_add_test(te, engine_random_lists);
	tcase_add_test(te, engine_permuted);
	tcase_add_test(te, engine_passes);
	tcase_add_test(te, engine_permuted_dense_is_softmax);
	tcase_add_test(te, engine_empty_rows);
	tcase_set_timeout(te, 300);
	suite_add_tcase(s, te);
	return attn_test_run(s, CK_NORMAL);
}
