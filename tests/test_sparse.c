/*
 * Tests of the sparse family: the block-sparse engine
 * (methods/engines/blocksparse.c) and the fixed-pattern methods on it
 * (methods/sparse, through methods/engines/bsfixed.c).
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
 *  - bad parameters are refused with a reason; flops() is the kept pairs';
 *  - strided's automatic w and r are reported (param.w, param.r) and run
 *    as those values given.
 * Loops collect the worst error and assert once at the end.
 */
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/method.h"
#include "attnbench/spec.h"
#include "attnbench/workload.h"
#include "check_main.h"
#include "engines/blocksparse.h"
#include "kernels/kernels.h"
#include "method_check.h"

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
	if (!p || tp->nmem == 512)
		ck_abort_msg("tp_alloc: out of memory or slots");
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
	size_t bad = 0;
	for (size_t i = 0; i < out_count(s); i++)
		bad += !isfinite(out[i]);
	ck_assert_msg(bad == 0, "engine: %zu non-finite outputs", bad);
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
		double *ref = run_softmax_ref(&s, &wl.in);
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

/* ---- the fixed-pattern methods ----------------------------------------------------- */

extern const struct attn_method attn_method_window;
extern const struct attn_method attn_method_streaming;
extern const struct attn_method attn_method_strided;
extern const struct attn_method attn_method_dilated;
extern const struct attn_method attn_method_longformer;
extern const struct attn_method attn_method_bigbird;

/* m's defaults with the named ones replaced: "w", 16, "b", 8, ..., NULL. */
static struct attn_params mparams(const struct attn_method *m, ...)
{
	struct attn_params p;
	attn_params_default(m, &p);
	va_list ap;
	va_start(ap, m);
	for (const char *name; (name = va_arg(ap, const char *));) {
		const double v = va_arg(ap, double);
		int i = 0;
		while (i < m->n_params && strcmp(m->params[i].name, name) != 0)
			i++;
		ck_assert_msg(i < m->n_params, "%s has no parameter %s", m->name, name);
		p.v[i] = v;
	}
	va_end(ap);
	return p;
}

/*
 * Each method with parameters that make every kind of pair appear at small
 * N: windows and segments shorter than b and longer, sinks and globals not
 * multiples of b, strides that do not divide N.
 */
struct mcase {
	const struct attn_method *m;
	struct attn_params p;
};

static int mcases(struct mcase *c)
{
	int n = 0;
	const struct attn_method *w = &attn_method_window, *st = &attn_method_streaming,
	                         *sd = &attn_method_strided, *dl = &attn_method_dilated,
	                         *lf = &attn_method_longformer, *bb = &attn_method_bigbird;
	c[n++] = (struct mcase){w, mparams(w, "w", 5.0, "b", 16.0, NULL)};
	c[n++] = (struct mcase){w, mparams(w, "w", 40.0, "b", 16.0, NULL)};
	c[n++] = (struct mcase){w, mparams(w, "w", 1.0, "b", 8.0, NULL)};
	c[n++] = (struct mcase){st, mparams(st, "s", 3.0, "w", 20.0, "b", 16.0, NULL)};
	c[n++] = (struct mcase){st, mparams(st, "s", 0.0, "w", 9.0, "b", 8.0, NULL)};
	c[n++] = (struct mcase){sd, mparams(sd, "b", 16.0, NULL)};
	c[n++] = (struct mcase){sd, mparams(sd, "w", 7.0, "r", 5.0, "b", 8.0, NULL)};
	c[n++] = (struct mcase){dl, mparams(dl, "w", 8.0, "r", 4.0, "b", 16.0, NULL)};
	c[n++] = (struct mcase){dl, mparams(dl, "w", 5.0, "r", 2.0, "b", 8.0, NULL)};
	c[n++] = (struct mcase){lf, mparams(lf, "w", 10.0, "g", 3.0, "b", 16.0, NULL)};
	c[n++] = (struct mcase){bb, mparams(bb, "w", 16.0, "g", 5.0, "r", 2.0, "b", 16.0, NULL)};
	c[n++] = (struct mcase){bb, mparams(bb, "w", 8.0, "g", 0.0, "r", 3.0, "b", 8.0, NULL)};
	return n;
}
#define MAX_MCASES 16

static void mnote(struct worst *w, double err, const struct mcase *c, const char *what,
                  const struct attn_shape *s)
{
	char buf[120];
	snprintf(buf, sizeof buf, "%s[%g,%g,%g] %s", c->m->name, c->p.v[0], c->p.v[1],
	         c->m->n_params > 2 ? c->p.v[2] : 0.0, what);
	note(w, err, buf, s);
}

/*
 * One method case on shape s: against its oracle, two threads against one
 * (bit for bit).
 */
static void method_case(const struct mcase *c, const struct attn_shape *s, struct worst *w)
{
	struct attn_workload wl;
	ck_assert_int_eq(attn_workload_alloc(s, 0, ATTN_DIST_GAUSSIAN, 21, &wl), ATTN_OK);
	double *ref = run_oracle(c->m, s, &c->p, &wl.in);
	float *o1 = run_method(c->m, s, &c->p, &wl.in, 1);
	float *o2 = run_method(c->m, s, &c->p, &wl.in, 2);
	mnote(w, rel_err_d(o1, ref, out_count(s)), c, "vs oracle", s);
	ck_assert_msg(memcmp(o1, o2, out_count(s) * sizeof(float)) == 0,
	              "%s N=%lld: 2 threads differ from 1", c->m->name, (long long)s->n);
	free(o1);
	free(o2);
	free(ref);
	attn_workload_free(&wl);
}

/* N around b (8, 16) and beyond, D 8 and 64, GQA, causal and not, prefill and decode. */
START_TEST(methods_match_oracle)
{
	static const int64_t ns[] = {1, 17, 64, 100, 203};
	struct mcase cs[MAX_MCASES];
	const int nc = mcases(cs);
	struct worst w = {0, ""};
	for (int ci = 0; ci < nc; ci++)
		for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
			for (int64_t D = 8; D <= 64; D *= 8)
				for (int causal = 0; causal < 2; causal++)
					for (int mode = 0; mode < 2; mode++) {
						struct attn_shape s = mk_shape(
						    2, 4, D == 8 ? 1 : 2, ns[ni], D, causal,
						    mode ? ATTN_MODE_DECODE : ATTN_MODE_PREFILL);
						method_case(&cs[ci], &s, &w);
					}
	ck_assert_msg(w.err <= 1e-5, "worst %g at %s", w.err, w.where);
}
END_TEST

/* Decode (the query at N - 1) equals the last row of causal prefill. */
START_TEST(decode_is_last_prefill_row)
{
	static const int64_t ns[] = {1, 33, 150};
	struct mcase cs[MAX_MCASES];
	const int nc = mcases(cs);
	struct worst w = {0, ""};
	for (int ci = 0; ci < nc; ci++)
		for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++) {
			struct attn_shape s = mk_shape(2, 4, 2, ns[ni], 32, 1, ATTN_MODE_PREFILL);
			struct decode_errs e = decode_check(cs[ci].m, &cs[ci].p, &cs[ci].p, &s, 4);
			mnote(&w, e.vs_prefill, &cs[ci], "decode vs prefill", &s);
			mnote(&w, e.vs_oracle, &cs[ci], "decode vs oracle", &s);
			ck_assert_msg(e.threads == 0.0, "%s: 2 threads differ from 1",
			              cs[ci].m->name);
		}
	ck_assert_msg(w.err <= 1e-5, "worst %g at %s", w.err, w.where);
}
END_TEST

/* Parameters that keep every key make each method exact softmax attention. */
START_TEST(keep_everything_is_softmax)
{
	const int64_t N = 150;
	const struct attn_method *w = &attn_method_window, *st = &attn_method_streaming,
	                         *sd = &attn_method_strided, *dl = &attn_method_dilated,
	                         *lf = &attn_method_longformer, *bb = &attn_method_bigbird;
	const struct mcase all[] = {
	    {w, mparams(w, "w", (double)N, "b", 16.0, NULL)},
	    {st, mparams(st, "s", 2.0, "w", 1000.0, "b", 16.0, NULL)},
	    {sd, mparams(sd, "w", (double)N, "r", 7.0, "b", 16.0, NULL)},
	    {dl, mparams(dl, "w", (double)N, "r", 1.0, "b", 16.0, NULL)},
	    {lf, mparams(lf, "w", (double)N, "g", 4.0, "b", 16.0, NULL)},
	    {bb, mparams(bb, "w", (double)N, "g", 3.0, "r", 1.0, "b", 16.0, NULL)},
	    /*
	     * every block random (more than there are; causal: the earlier ones)
	     * and a window of one block for the query's own
	     */
	    {bb, mparams(bb, "w", 16.0, "g", 0.0, "r", 16.0, "b", 16.0, NULL)},
	};
	struct worst e = {0, ""};
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		for (int causal = 0; causal < 2; causal++)
			for (int mode = 0; mode < 2; mode++) {
				struct attn_shape s =
				    mk_shape(1, 2, 1, N, 32, causal,
				             mode ? ATTN_MODE_DECODE : ATTN_MODE_PREFILL);
				struct attn_workload wl;
				ck_assert_int_eq(
				    attn_workload_alloc(&s, 0, ATTN_DIST_GAUSSIAN, 8, &wl), 0);
				double *ref = run_softmax_ref(&s, &wl.in);
				float *o = run_method(all[i].m, &s, &all[i].p, &wl.in, 2);
				mnote(&e, rel_err_d(o, ref, out_count(&s)), &all[i], "vs softmax",
				      &s);
				free(o);
				free(ref);
				attn_workload_free(&wl);
			}
	ck_assert_msg(e.err <= 1e-5, "worst %g at %s", e.err, e.where);
}
END_TEST

/* run_seen() of m on gaussian inputs of seed 2. */
static void seen_on(const struct attn_method *m, const struct attn_shape *s,
                    const struct attn_params *p, int threads, struct seen *sn)
{
	struct attn_workload wl;
	ck_assert_int_eq(attn_workload_alloc(s, 0, ATTN_DIST_GAUSSIAN, 2, &wl), ATTN_OK);
	free(run_seen(m, s, p, &wl.in, threads, sn));
	attn_workload_free(&wl);
}

/*
 * Work proportional to what is kept: window at N = 4096 (one head, so the
 * dumped block mask is all the lists) computes exactly the block pairs its
 * lists name, and w = 256 computes about as much less than w = 1024 as it
 * keeps less.
 */
START_TEST(tiles_follow_density)
{
	const struct attn_method *m = &attn_method_window;
	const struct attn_shape s = mk_shape(1, 1, 1, 4096, 16, 1, ATTN_MODE_PREFILL);
	struct seen a, b;
	const struct attn_params pa = mparams(m, "w", 256.0, NULL);
	const struct attn_params pb = mparams(m, "w", 1024.0, NULL);
	seen_on(m, &s, &pa, 2, &a);
	seen_on(m, &s, &pb, 2, &b);
	ck_assert_int_eq(a.dumps, 1);
	ck_assert_msg(a.routing_ns > 0.0, "no list-building time reported");
	ck_assert_int_eq(a.nqb, 64);
	ck_assert_int_eq(a.nkb, 64);
	ck_assert_msg(a.tiles == (double)a.kept_blocks && b.tiles == (double)b.kept_blocks,
	              "tiles %g, %g != listed pairs %lld, %lld", a.tiles, b.tiles,
	              (long long)a.kept_blocks, (long long)b.kept_blocks);
	/* kept: Σ_t min(t + 1, w) */
	const double ka = 4096.0 * 256 - 256.0 * 255 / 2, kb = 4096.0 * 1024 - 1024.0 * 1023 / 2;
	const double pairs = 4096.0 * 4097 / 2;
	ck_assert_msg(fabs(a.density * pairs - ka) < 0.5 && fabs(b.density * pairs - kb) < 0.5,
	              "density %g, %g", a.density, b.density);
	ck_assert(a.flops == 4.0 * 16 * ka && b.flops == 4.0 * 16 * kb);
	ck_assert(a.flops == attn_call_flops(m, &s, &pa) && b.flops == attn_call_flops(m, &s, &pb));
	/* 5 blocks a row against 17: the tiles follow the kept pairs within 20% */
	const double ratio = (a.tiles / b.tiles) / (ka / kb);
	ck_assert_msg(ratio > 0.8 && ratio < 1.25, "tiles %g / %g against kept %g / %g", a.tiles,
	              b.tiles, ka, kb);
}
END_TEST

/*
 * flops() is 4·D per kept pair, the same count the engine makes while it
 * runs (reported as density and flops_computed), for every method, GQA,
 * batch 2, prefill and decode.
 */
START_TEST(flops_are_kept_pairs)
{
	struct mcase cs[MAX_MCASES];
	const int nc = mcases(cs);
	for (int ci = 0; ci < nc; ci++)
		for (int causal = 0; causal < 2; causal++)
			for (int mode = 0; mode < 2; mode++) {
				const struct attn_shape s =
				    mk_shape(2, 4, 2, 203, 16, causal,
				             mode ? ATTN_MODE_DECODE : ATTN_MODE_PREFILL);
				struct seen sn;
				seen_on(cs[ci].m, &s, &cs[ci].p, 2, &sn);
				const double want = attn_call_flops(cs[ci].m, &s, &cs[ci].p);
				ck_assert_msg(sn.flops == want,
				              "%s causal=%d mode=%d: flops %g != %g",
				              cs[ci].m->name, causal, mode, sn.flops, want);
				ck_assert(fabs(sn.density * attn__softmax_pairs(&s) * 64.0 -
				               want) <= 1e-9 * want);
				ck_assert(sn.density > 0.0);
				ck_assert_int_eq(sn.dumps, 1);
			}
}
END_TEST

/*
 * strided's w = 0 and r = 0 are round(√N), reported as param.w and param.r
 * (method.h's convention) and run as the same pattern as those values
 * given: the same mask and the same bits; given values report nothing. At
 * N = 300 that is 17 (√300 = 17.3).
 */
START_TEST(strided_reports_resolved)
{
	const struct attn_shape s = mk_shape(1, 2, 1, 300, 16, 1, ATTN_MODE_PREFILL);
	const double l = floor(sqrt(300.0) + 0.5);
	const struct attn_method *m = &attn_method_strided;
	const struct attn_params pa = mparams(m, "b", 16.0, NULL),
	                         pg = mparams(m, "b", 16.0, "w", l, "r", l, NULL);
	struct attn_workload wl;
	ck_assert_int_eq(attn_workload_alloc(&s, 0, ATTN_DIST_GAUSSIAN, 2, &wl), ATTN_OK);
	static struct seen sa, sg;
	float *oa = run_seen(m, &s, &pa, &wl.in, 1, &sa);
	float *og = run_seen(m, &s, &pg, &wl.in, 1, &sg);
	ck_assert_int_eq(sa.n_param, 2);
	ck_assert_double_eq(seen_param(&sa, "w"), l);
	ck_assert_double_eq(seen_param(&sa, "r"), l);
	ck_assert_int_eq(sg.n_param, 0);
	ck_assert(sa.nqb == sg.nqb && sa.nkb == sg.nkb &&
	          memcmp(sa.mask, sg.mask, (size_t)(sa.nqb * sa.nkb)) == 0);
	ck_assert(memcmp(oa, og, out_count(&s) * sizeof(float)) == 0);
	free(oa);
	free(og);
	attn_workload_free(&wl);
}
END_TEST

/* Bad parameters are refused, and say why. */
START_TEST(bad_params_refused)
{
	const struct attn_shape s = mk_shape(1, 2, 1, 100, 16, 1, ATTN_MODE_PREFILL);
	const struct {
		const struct attn_method *m;
		struct attn_params p;
		const char *why;
	} bad[] = {
	    {&attn_method_window, mparams(&attn_method_window, "w", 0.0, NULL),
	     "w 0 must be at least 1"},
	    {&attn_method_window, mparams(&attn_method_window, "b", 4.0, NULL),
	     "b 4 must be at least 8"},
	    {&attn_method_window, mparams(&attn_method_window, "w", 2.5, NULL),
	     "w 2.5 must be a whole number"},
	    {&attn_method_streaming, mparams(&attn_method_streaming, "s", -1.0, NULL),
	     "s -1 must be at least 0"},
	    {&attn_method_dilated, mparams(&attn_method_dilated, "r", 3.0, NULL),
	     "r 3 must be a power of 2"},
	    {&attn_method_bigbird, mparams(&attn_method_bigbird, "r", 17.0, NULL),
	     "r 17 must be at most 16"},
	    {&attn_method_longformer, mparams(&attn_method_longformer, "b", 2048.0, NULL),
	     "b 2048 must be at most 1024"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char msg[200] = "";
		ck_assert_int_eq(attn_call_supports(bad[i].m, &s, &bad[i].p, msg, sizeof msg),
		                 ATTN_ERR_UNSUPPORTED);
		ck_assert_msg(strstr(msg, bad[i].why), "%s: \"%s\", expected \"%s\"",
		              bad[i].m->name, msg, bad[i].why);
	}
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
	TCase *tm = tcase_create("methods");
	tcase_add_test(tm, methods_match_oracle);
	tcase_add_test(tm, decode_is_last_prefill_row);
	tcase_add_test(tm, keep_everything_is_softmax);
	tcase_add_test(tm, tiles_follow_density);
	tcase_add_test(tm, flops_are_kept_pairs);
	tcase_add_test(tm, strided_reports_resolved);
	tcase_add_test(tm, bad_params_refused);
	tcase_set_timeout(tm, 300);
	suite_add_tcase(s, tm);
	return attn_test_run(s, CK_NORMAL);
}
