/*
 * The element-wise engine (see wkv.h for what it computes): the recurrent
 * and parallel forms of
 *
 *     o_t = σ(q_t) ⊙ Σ_j e^{k_j + w_tj} v_j / Σ_j e^{k_j + w_tj}     (per channel)
 *
 * for one head at a time, OpenMP over (batch, head), each thread in its own
 * slice of the workspace. Everything is element-wise in the channel c, so
 * every loop below runs over the D channels of a row, vectorised.
 *
 * The state (RWKV's (a, b, p) trick; Peng et al. 2023, RWKV-4's CUDA
 * kernel). After the keys 0..t the unscaled sums Σ_j e^{E_j} v_j and
 * Σ_j e^{E_j}, E_j = k_j + (decay from j to t), overflow float32 for keys
 * above 88 and vanish below -87; a long decay underflows them too. So each
 * channel keeps p, the largest exponent seen, and the sums scaled by e^{-p}:
 *     a = Σ_j e^{E_j - p} v_j,   b = Σ_j e^{E_j - p}   (b >= 1: its largest term is 1)
 * Adding token (k, v) after a decay e^{-w} per step (w = 0: AFT):
 *     p' = max(p - w, k),  a' = e^{p - w - p'} a + e^{k - p'} v,  b' = ... + e^{k - p'}
 * and the output of query t from the state of the keys before it plus its
 * own key with the bonus u (u = 0: AFT's causal sum, the j = t term):
 *     m = max(p, u + k),
 *     o = σ(q) ⊙ (e^{p - m} a + e^{u + k - m} v) / (e^{p - m} b + e^{u + k - m}).
 * Every exponent is <= 0 and one of each pair is exactly 0, so nothing
 * overflows, the denominators are >= 1, and a term that underflows to 0 is
 * one below 2^-125 of the largest: the right answer at any key size and any
 * N. Where one factor of a pair is 1, the other is e^{-|d|}, d the
 * difference of the two exponents: one exp for both.
 *
 * With a decay, p' = fl(p - w) is rounded, and a p that drifted by an ulp
 * each step would change the decay the state sees (at |p| = 60 and
 * w = e^-5, an ulp is 6e-4 of w). So the decay factor is computed as
 * e^{(p - p') - w}: p - p' is exact when p' = fl(p - w) (Sterbenz), and so
 * is (p - p') - w, which is then the rounding error r itself. p may drift;
 * the value it scales does not. Where the state keeps the max, e^r is 1 + r
 * to float precision (|r| <= half an ulp of p), so the update still takes
 * one exp.
 *
 * Recurrent (O(N D), the default form and the decode path): the state per
 * head in three D-vectors, one step per token. AFT updates, then outputs
 * σ(q) ⊙ a / b (its causal sum includes j = t, with no bonus); RWKV outputs
 * from the state before the step, with the bonus, then updates. AFT not
 * causal: the state of all N keys, summed in blocks (blocked_run()), then
 * o_t = σ(q_t) ⊙ a / b for every t.
 *
 * Parallel (O(N² D), the quadratic form the survey contrasts): for each
 * query row t, the explicit sum over its visible keys, shifted by m_t, the
 * largest exponent of the row in each channel:
 *     pass 1 (O(D) per row): m_t from a running max: AFT causal, the prefix
 *            max of k; AFT not causal, the max over all N (once); RWKV,
 *            max(r, u + k_t) with r = max_{j<t} (k_j - (t-1-j) w), carried
 *            as r' = max(r - w, k_t). A shift need not be the exact max, only
 *            near it: r may drift by an ulp per step, and e^{E - m} then stays
 *            near 1 at most (never overflows).
 *     pass 2 (O(t D)): num = Σ_j e^{E_tj - m_t} v_j, den = Σ_j e^{E_tj - m_t}
 *            with E_tj = k_j - (t-1-j) w for j < t (one fma) and u + k_t.
 *     o_t = σ(q_t) ⊙ num / den.
 * Nothing of size N is stored: the sums accumulate in the slice's vectors.
 *
 * Decode: prepare() runs the recurrent form over the context 0..N-2 (AFT's
 * in blocks) into the state of each head (and fills its w and u) at the
 * front of the workspace;
 * forward() outputs the step at N - 1 from it, without writing it (forward
 * is timed many times over the same prepared state): O(D) per head,
 * independent of N. For AFT, not causal or causal is the same in decode (the
 * one query at N - 1 sees every key).
 *
 * GQA: the state depends on K, V and the decays. RWKV's decays belong to the
 * query head (as RWKV-4's to a layer), so every query head has its own
 * state. AFT's state is the same for the heads of a group; it is still
 * computed per query head, which keeps heads independent units of parallel
 * work (and results independent of the thread count) at G times the scan's
 * cost, where the output's σ(q) is per head anyway.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/status.h"
#include "engines/wkv.h"
#include "kernels/kernels.h"

/* Keys per block of the non-causal recurrent form's summation (≈ √10⁶). */
#define WKV_BLOCK 1024

static const struct attn_param_spec wkv_form_spec = ATTN__WKV_PARAM_FORM;

/* ---- the spec and supports ------------------------------------------------------ */

void attn__wkv_spec_init(struct attn__wkv_spec *sp, const struct attn_params *p, const char *name,
                         void (*decay)(int64_t h, int64_t heads, int64_t D, float *w, float *u))
{
	sp->decay = decay;
	sp->form =
	    (enum attn__lin_form)attn__param_int(p, ATTN__WKV_P_FORM, ATTN__LIN_FORM_RECURRENT);
	sp->name = name;
}

static int wkv_supports(const struct attn__wkv_spec *sp, const struct attn_shape *s, char *msg,
                        size_t msglen)
{
	int rc = attn__check_shape(s, msg, msglen);
	if (rc != ATTN_OK)
		return rc;
	if (sp->form == ATTN__LIN_FORM_CHUNK)
		return attn_errf(
		    msg, msglen, ATTN_ERR_UNSUPPORTED,
		    "%s has no chunk form: its recurrence is already O(N D) element-wise",
		    sp->name);
	if (sp->form != ATTN__LIN_FORM_PARALLEL && sp->form != ATTN__LIN_FORM_RECURRENT)
		return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED, "form %d is not one of %s",
		                 (int)sp->form, wkv_form_spec.choices);
	if (!s->causal && sp->decay)
		return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED, "%s is causal only", sp->name);
	return ATTN_OK;
}

/* ---- the workspace ------------------------------------------------------------- */

/*
 * The D-vectors of one head's computation, each ldd floats (D rounded up to
 * 16, so every vector starts on a cache line):
 *   w, u  RWKV's decay and bonus (absent for AFT)
 *   a, b  numerator and denominator (the parallel form: num and den)
 *   p     the running max exponent (the parallel form: its running max r)
 *   m     the parallel form's shift of the row (RWKV only: AFT's is p)
 * Decode keeps w, u, a, b, p of every head at the front of the workspace;
 * prefill gives each thread a slice of the vectors its form uses. Where AFT
 * sums all keys before any output (the non-causal recurrent form, and the
 * decode state in prepare()), the slice also has an a, b, p for one block
 * (blocked_run()).
 */
struct wkv_vecs {
	float *w, *u, *a, *b, *p, *m;
};

static int vecs_count(int decay, int with_m)
{
	return (decay ? 2 : 0) + 3 + (with_m ? 1 : 0);
}

static void vecs_carve(struct wkv_vecs *v, float *base, int64_t ldd, int decay, int with_m)
{
	float *x = base;
	v->w = decay ? x : NULL;
	x += decay ? ldd : 0;
	v->u = decay ? x : NULL;
	x += decay ? ldd : 0;
	v->a = x;
	v->b = x + ldd;
	v->p = x + 2 * ldd;
	v->m = with_m ? x + 3 * ldd : NULL;
}

/* How workspace_bytes(), prepare() and forward() all see the workspace. */
struct wkv_plan {
	int threads, decay, with_m, with_blk;
	int64_t ldd;
	size_t head_state; /* floats of one head's decode state */
	size_t state;      /* bytes of all heads' states (decode) */
	size_t slice;      /* bytes of one thread's vectors (prefill) */
	size_t total;
};

static void plan_init(struct wkv_plan *pl, const struct attn__wkv_spec *sp,
                      const struct attn_shape *s, int threads)
{
	memset(pl, 0, sizeof *pl);
	pl->threads = threads < 1 ? 1 : threads;
	pl->decay = sp->decay != NULL;
	pl->ldd = attn__round_up(s->d, 16);
	if (s->mode == ATTN_MODE_DECODE) {
		pl->head_state = (size_t)(vecs_count(pl->decay, 0) * pl->ldd);
		pl->state = (size_t)(s->batch * s->heads) * pl->head_state * sizeof(float);
		pl->with_blk = !pl->decay;
		pl->slice = (size_t)(3 * pl->with_blk * pl->ldd) * sizeof(float);
	} else {
		pl->with_m = pl->decay && sp->form == ATTN__LIN_FORM_PARALLEL;
		pl->with_blk = !s->causal && sp->form == ATTN__LIN_FORM_RECURRENT;
		pl->slice =
		    (size_t)((vecs_count(pl->decay, pl->with_m) + 3 * pl->with_blk) * pl->ldd) *
		    sizeof(float);
	}
	pl->total = pl->state + (size_t)pl->threads * pl->slice;
}

static size_t wkv_workspace_bytes(const struct attn__wkv_spec *sp, const struct attn_shape *s,
                                  int threads)
{
	struct wkv_plan pl;
	plan_init(&pl, sp, s, threads);
	return pl.total;
}

/* ---- cost ---------------------------------------------------------------------- */

/*
 * FLOPs per channel, counting every add, multiply, divide, max and exp as 1
 * (an fma as 2, a select or a sign flip as 0), as the kernels below do them:
 *   AFT update  d, e^{-|d|}, e1 a + e2 v, e1 b + e2                       7
 *   RWKV update p - w, max, (p - p') - w, k - p', exp, 1 + r, a', b'      12
 *   output      (+ u), d, e^{-|d|}, num, den, σ (exp, add), mul, div  11 (+1)
 *   AFT ratio   σ (exp, add), mul, div                                 4
 * so per step and channel: recurrent AFT 11, RWKV 24; decode one output
 * (AFT 11, RWKV 12). Parallel, per visible (query, key) pair and channel:
 * the exponent minus the shift (AFT 1; RWKV 3 with the decay's fma), exp,
 * num (fma, 2), den (1): AFT 5, RWKV 7; plus per query row and channel the
 * shift (AFT 1, RWKV 4) and the ratio (4).
 */
#define WKV_FLOPS_AFT_STEP  11.0
#define WKV_FLOPS_RWKV_STEP 24.0
#define WKV_FLOPS_AFT_PAIR  5.0
#define WKV_FLOPS_RWKV_PAIR 7.0
#define WKV_FLOPS_AFT_ROW   5.0
#define WKV_FLOPS_RWKV_ROW  8.0

static double wkv_flops(const struct attn__wkv_spec *sp, const struct attn_shape *s)
{
	const int decay = sp->decay != NULL;
	const double heads = (double)s->batch * (double)s->heads;
	const double N = (double)s->n, D = (double)s->d;

	if (s->mode == ATTN_MODE_DECODE)
		return heads * D * (decay ? 12.0 : 11.0);
	if (sp->form == ATTN__LIN_FORM_PARALLEL)
		return D * (attn__softmax_pairs(s) *
		                (decay ? WKV_FLOPS_RWKV_PAIR : WKV_FLOPS_AFT_PAIR) +
		            heads * N * (decay ? WKV_FLOPS_RWKV_ROW : WKV_FLOPS_AFT_ROW));
	return heads * N * D * (decay ? WKV_FLOPS_RWKV_STEP : WKV_FLOPS_AFT_STEP);
}

/*
 * Compulsory traffic: Q, K, V read and O written once (both forms: the
 * parallel form rereads a head's K and V for every row, from cache as long as
 * 2 N D floats fit). Decode reads one row of q, k and v, writes one of o, and
 * reads each head's state (a, b, p, and w, u for RWKV).
 */
static double wkv_bytes(const struct attn__wkv_spec *sp, const struct attn_shape *s)
{
	const double f = sizeof(float), D = (double)s->d;
	const double heads = (double)s->batch * (double)s->heads;

	if (s->mode == ATTN_MODE_DECODE)
		return f * D *
		       (heads * (2.0 + (double)vecs_count(sp->decay != NULL, 0)) +
		        2.0 * (double)s->batch * (double)s->kv_heads);
	return attn__qkvo_bytes(s);
}

/* ---- the step kernels (one row of D channels) ------------------------------------ */

/* a, b = 0 and p = -inf: the state of no keys (e^{p} a = 0 whatever a). */
static void state_clear(const struct wkv_vecs *st, int64_t D)
{
	memset(st->a, 0, (size_t)D * sizeof(float));
	memset(st->b, 0, (size_t)D * sizeof(float));
	for (int64_t c = 0; c < D; c++)
		st->p[c] = -INFINITY;
}

struct wkv_ab {
	float a, b;
};

/*
 * (a, b) ⊕ (a', b') of one channel, d the exponent of the scale of (a, b)
 * minus that of (a', b'): both rescaled to the larger, whose factor is 1 and
 * the other's e^{-|d|}, one exp. Inline, or the simd loops that call it
 * would not vectorise; by value, as through pointers GCC gave step_out's
 * loop no vector epilogue.
 */
static inline struct wkv_ab state_merge(float d, float a, float b, float a2, float b2)
{
	const float e = attn__expf(-fabsf(d));
	const float e1 = d >= 0.0f ? 1.0f : e, e2 = d >= 0.0f ? e : 1.0f;
	return (struct wkv_ab){attn__fmaf(e1, a, e2 * a2), attn__fmaf(e1, b, e2 * b2)};
}

/*
 * The state absorbs the token (k, v) (D each), decaying by e^{-w} first
 * (has_w: st->w; else no decay). See the top of the file for the formulas.
 * has_w is a constant at every call, so each caller gets its own loop.
 */
static inline void step_update(const struct wkv_vecs *st, const float *k, const float *v, int has_w,
                               int64_t D)
{
	float *restrict a = st->a, *restrict b = st->b, *restrict p = st->p;
	const float *w = st->w;

	if (has_w) {
#pragma omp simd
		for (int64_t c = 0; c < D; c++) {
			/* old: the decayed state keeps the max, else the key sets it */
			const int old = p[c] - w[c] > k[c];
			const float pn = old ? p[c] - w[c] : k[c];
			const float r = (p[c] - pn) - w[c]; /* old: the rounding of pn */
			const float e = attn__expf(old ? k[c] - pn : r);
			const float e1 = old ? 1.0f + r : e, e2 = old ? e : 1.0f;
			a[c] = attn__fmaf(e1, a[c], e2 * v[c]);
			b[c] = attn__fmaf(e1, b[c], e2);
			p[c] = pn;
		}
	} else {
#pragma omp simd
		for (int64_t c = 0; c < D; c++) {
			/* d >= 0: the state keeps its scale (e1 = 1), else the key sets it */
			const float d = p[c] - k[c];
			const struct wkv_ab r = state_merge(d, a[c], b[c], v[c], 1.0f);
			a[c] = r.a;
			b[c] = r.b;
			p[c] = d >= 0.0f ? p[c] : k[c];
		}
	}
}

/*
 * o (D) = σ(q) ⊙ (e^{p} a + e^{u + k} v) / (e^{p} b + e^{u + k}): the output
 * of the query at the token (k, v) from the state of the keys before it,
 * its own key with the bonus u (has_u: st->u; else 0). σ(q) y / z is
 * computed as y / (z (1 + e^{-q})): one divide, and finite for any q.
 */
static inline void step_out(float *o, const float *q, const float *k, const float *v,
                            const struct wkv_vecs *st, int has_u, int64_t D)
{
	const float *a = st->a, *b = st->b, *p = st->p, *u = st->u;

#pragma omp simd
	for (int64_t c = 0; c < D; c++) {
		const float uk = has_u ? u[c] + k[c] : k[c];
		const struct wkv_ab r = state_merge(p[c] - uk, a[c], b[c], v[c], 1.0f);
		o[c] = r.a / (r.b * (1.0f + attn__expf(-q[c])));
	}
}

/* o (D) = σ(q) ⊙ num / den, num and den (D) any common scale, den > 0. */
static void ratio_out(float *o, const float *q, const float *num, const float *den, int64_t D)
{
#pragma omp simd
	for (int64_t c = 0; c < D; c++)
		o[c] = num[c] / (den[c] * (1.0f + attn__expf(-q[c])));
}

/* ---- one head ------------------------------------------------------------------ */

/* One head's rows: the query head's q and o, its K/V head's k and v. */
struct wkv_head {
	const float *q; /* (NQ, D) */
	const float *k; /* (N, D) */
	const float *v; /* (N, D) */
	float *o;       /* (NQ, D), NULL in prepare() */
	int64_t h;      /* query head, for the decays */
};

static void head_init(struct wkv_head *hd, const struct attn_shape *s, const struct attn_inputs *in,
                      float *out, int64_t bh)
{
	const int64_t H = s->heads, N = s->n, D = s->d, NQ = attn_shape_nq(s);
	const int64_t kv = attn__kv_head(s, bh) * N * D;

	hd->q = in->q + bh * NQ * D;
	hd->k = in->k + kv;
	hd->v = in->v + kv;
	hd->o = out ? out + bh * NQ * D : NULL;
	hd->h = bh % H;
}

/*
 * The recurrent form over the tokens [t0, t1) of one head, carrying the
 * state st; with_out writes o_t for each.
 */
static void recurrent_run(const struct wkv_head *hd, const struct wkv_vecs *st, int64_t t0,
                          int64_t t1, int with_out, int64_t D)
{
	for (int64_t t = t0; t < t1; t++) {
		const float *k = hd->k + t * D, *v = hd->v + t * D;
		if (st->w) {
			/* RWKV: o_t from the keys before t plus k_t with the bonus */
			if (with_out)
				step_out(hd->o + t * D, hd->q + t * D, k, v, st, 1, D);
			step_update(st, k, v, 1, D);
		} else {
			/* AFT: o_t over the keys up to t, the state after step t */
			step_update(st, k, v, 0, D);
			if (with_out)
				ratio_out(hd->o + t * D, hd->q + t * D, st->a, st->b, D);
		}
	}
}

/*
 * st = the state of the keys [0, t1) of a head (no decay), summed a block of
 * WKV_BLOCK keys at a time into blk and merged (the two-level summation of
 * Higham, Accuracy and Stability of Numerical Algorithms, §4.2). A float32
 * running sum of 10⁶ terms that are mostly far smaller than itself loses the
 * rounding of each small term, biased (round-to-nearest drops terms below
 * half an ulp): 1.2e-4 of the sum with keys in [-60, 60]. Blocks keep the
 * sums short. Only where no output needs the state before the end: the
 * non-causal form and the decode state; causal outputs need it at every
 * step, and a decay keeps RWKV's sums short anyway.
 */
static void blocked_run(const struct wkv_head *hd, const struct wkv_vecs *st,
                        const struct wkv_vecs *blk, int64_t t1, int64_t D)
{
	float *restrict a = st->a, *restrict b = st->b, *restrict p = st->p;
	state_clear(st, D);
	for (int64_t t0 = 0; t0 < t1; t0 += WKV_BLOCK) {
		state_clear(blk, D);
		recurrent_run(hd, blk, t0, attn__min64(t0 + WKV_BLOCK, t1), 0, D);
		/* (a, b, p) ⊕ (a', b', p'): both rescaled to max(p, p'), one exp */
#pragma omp simd
		for (int64_t c = 0; c < D; c++) {
			const float d = p[c] - blk->p[c];
			const struct wkv_ab r = state_merge(d, a[c], b[c], blk->a[c], blk->b[c]);
			a[c] = r.a;
			b[c] = r.b;
			p[c] = d >= 0.0f ? p[c] : blk->p[c];
		}
	}
}

/* The parallel form of one head, prefill (see the top of the file). */
static void parallel_head(const struct wkv_head *hd, const struct wkv_vecs *st, int causal,
                          int64_t N, int64_t D)
{
	float *num = st->a, *den = st->b, *r = st->p;
	const float *w = st->w, *u = st->u;
	/* RWKV's shift is m = max(r, u + k_t); AFT's is r itself */
	float *m = w ? st->m : st->p;

	for (int64_t c = 0; c < D; c++)
		r[c] = -INFINITY;
	if (!causal)
		for (int64_t j = 0; j < N; j++)
			attn__max_into(r, hd->k + j * D, D);

	for (int64_t t = 0; t < N; t++) {
		const float *kt = hd->k + t * D;

		/* pass 1: the shift m_t, near the row's largest exponent per channel */
		if (w) {
			for (int64_t c = 0; c < D; c++)
				m[c] = r[c] > u[c] + kt[c] ? r[c] : u[c] + kt[c];
		} else if (causal) {
			attn__max_into(r, kt, D);
		}

		/* pass 2: num = Σ_j e^{E_tj - m} v_j, den = Σ_j e^{E_tj - m} */
		memset(num, 0, (size_t)D * sizeof(float));
		memset(den, 0, (size_t)D * sizeof(float));
		if (w) {
			/* E_tj = k_j - (t-1-j) w for j < t */
			for (int64_t j = 0; j < t; j++) {
				const float *kj = hd->k + j * D, *vj = hd->v + j * D;
				const float dist = (float)(t - 1 - j);
#pragma omp simd
				for (int64_t c = 0; c < D; c++) {
					const float e =
					    attn__expf(attn__fmaf(-dist, w[c], kj[c] - m[c]));
					num[c] = attn__fmaf(e, vj[c], num[c]);
					den[c] += e;
				}
			}
			/* E_tt = u + k_t; then r takes k_t in, for the next row */
			const float *vt = hd->v + t * D;
			for (int64_t c = 0; c < D; c++) {
				const float e = attn__expf(u[c] + kt[c] - m[c]);
				num[c] = attn__fmaf(e, vt[c], num[c]);
				den[c] += e;
				r[c] = r[c] - w[c] > kt[c] ? r[c] - w[c] : kt[c];
			}
		} else {
			/* E_tj = k_j, for j <= t (causal) or every j */
			const int64_t jend = causal ? t + 1 : N;
			for (int64_t j = 0; j < jend; j++) {
				const float *kj = hd->k + j * D, *vj = hd->v + j * D;
#pragma omp simd
				for (int64_t c = 0; c < D; c++) {
					const float e = attn__expf(kj[c] - m[c]);
					num[c] = attn__fmaf(e, vj[c], num[c]);
					den[c] += e;
				}
			}
		}
		ratio_out(hd->o + t * D, hd->q + t * D, num, den, D);
	}
}

/* ---- entry points -------------------------------------------------------------- */

static int inputs_ok(const struct attn_inputs *in)
{
	return in && in->q && in->k && in->v;
}

static int wkv_prepare(const struct attn__wkv_spec *sp, const struct attn_shape *s,
                       const struct attn_inputs *in, void *ws, int threads)
{
	if (wkv_supports(sp, s, NULL, 0) != ATTN_OK)
		return ATTN_ERR_UNSUPPORTED;
	if (!inputs_ok(in))
		return ATTN_ERR_INVALID;
	if (s->mode != ATTN_MODE_DECODE)
		return ATTN_OK;
	if (!ws)
		return ATTN_ERR_INVALID;

	struct wkv_plan pl;
	plan_init(&pl, sp, s, threads);
	const int64_t heads = s->batch * s->heads, D = s->d;

#pragma omp parallel for schedule(static) num_threads(pl.threads)
	for (int64_t bh = 0; bh < heads; bh++) {
		struct wkv_head hd;
		struct wkv_vecs st;
		head_init(&hd, s, in, NULL, bh);
		vecs_carve(&st, (float *)ws + (size_t)bh * pl.head_state, pl.ldd, pl.decay, 0);
		if (sp->decay) {
			sp->decay(hd.h, s->heads, D, st.w, st.u);
			state_clear(&st, D);
			recurrent_run(&hd, &st, 0, s->n - 1, 0, D);
		} else {
			struct wkv_vecs blk;
			char *slice = (char *)ws + pl.state + (size_t)attn__thread_id() * pl.slice;
			vecs_carve(&blk, (float *)slice, pl.ldd, 0, 0);
			blocked_run(&hd, &st, &blk, s->n - 1, D);
		}
	}
	return ATTN_OK;
}

static int wkv_forward(const struct attn__wkv_spec *sp, const struct attn_shape *s,
                       const struct attn_inputs *in, float *out, void *ws, int threads)
{
	if (wkv_supports(sp, s, NULL, 0) != ATTN_OK)
		return ATTN_ERR_UNSUPPORTED;
	if (!inputs_ok(in) || !out || !ws)
		return ATTN_ERR_INVALID;

	struct wkv_plan pl;
	plan_init(&pl, sp, s, threads);
	const int64_t heads = s->batch * s->heads, N = s->n, D = s->d;

#pragma omp parallel for schedule(static) num_threads(pl.threads)
	for (int64_t bh = 0; bh < heads; bh++) {
		struct wkv_head hd;
		struct wkv_vecs st;
		head_init(&hd, s, in, out, bh);

		if (s->mode == ATTN_MODE_DECODE) {
			/* the step at N - 1 from the prepared state, which stays as it is */
			vecs_carve(&st, (float *)ws + (size_t)bh * pl.head_state, pl.ldd, pl.decay,
			           0);
			const float *k = hd.k + (N - 1) * D, *v = hd.v + (N - 1) * D;
			if (pl.decay)
				step_out(hd.o, hd.q, k, v, &st, 1, D);
			else
				step_out(hd.o, hd.q, k, v, &st, 0, D);
			continue;
		}

		char *slice = (char *)ws + pl.state + (size_t)attn__thread_id() * pl.slice;
		vecs_carve(&st, (float *)slice, pl.ldd, pl.decay, pl.with_m);
		if (sp->decay)
			sp->decay(hd.h, s->heads, D, st.w, st.u);
		if (sp->form == ATTN__LIN_FORM_PARALLEL) {
			parallel_head(&hd, &st, s->causal, N, D);
			continue;
		}
		state_clear(&st, D);
		if (s->causal) {
			recurrent_run(&hd, &st, 0, N, 1, D);
		} else {
			/* every query sees every key: the state of all N, then its ratio */
			struct wkv_vecs blk;
			vecs_carve(&blk, (float *)slice + vecs_count(pl.decay, pl.with_m) * pl.ldd,
			           pl.ldd, 0, 0);
			blocked_run(&hd, &st, &blk, N, D);
			for (int64_t t = 0; t < N; t++)
				ratio_out(hd.o + t * D, hd.q + t * D, st.a, st.b, D);
		}
	}
	return ATTN_OK;
}

/* E_tj = k_j + w_tj in float64: -(t-1-j) w + k_j for j < t, u + k_t, or k_j (wu NULL). */
static double oracle_exponent(const struct wkv_head *hd, const float *wu, int64_t D, int64_t t,
                              int64_t j, int64_t c)
{
	const double k = hd->k[j * D + c];
	if (!wu)
		return k;
	return j < t ? k - (double)(t - 1 - j) * wu[c] : k + wu[D + c];
}

static int wkv_oracle(const struct attn__wkv_spec *sp, const struct attn_shape *s,
                      const struct attn_inputs *in, double *out)
{
	if (wkv_supports(sp, s, NULL, 0) != ATTN_OK)
		return ATTN_ERR_UNSUPPORTED;
	if (!inputs_ok(in) || !out)
		return ATTN_ERR_INVALID;

	const int64_t N = s->n, D = s->d, NQ = attn_shape_nq(s);
	const int decode = s->mode == ATTN_MODE_DECODE;
	float *wu = NULL; /* (2 D) w, then u */
	if (sp->decay && !(wu = malloc((size_t)(2 * D) * sizeof(float))))
		return ATTN_ERR_NOMEM;

	for (int64_t bh = 0; bh < s->batch * s->heads; bh++) {
		struct wkv_head hd;
		head_init(&hd, s, in, NULL, bh);
		if (wu)
			sp->decay(hd.h, s->heads, D, wu, wu + D);
		for (int64_t i = 0; i < NQ; i++) {
			const int64_t t = decode ? N - 1 : i; /* the query's position */
			const int64_t jhi =
			    (s->causal || decode) ? t : N - 1; /* its last visible key */
			for (int64_t c = 0; c < D; c++) {
				/* the shift: the largest exponent of the row */
				double m = -INFINITY;
				for (int64_t j = 0; j <= jhi; j++)
					m = fmax(m, oracle_exponent(&hd, wu, D, t, j, c));
				double num = 0.0, den = 0.0;
				for (int64_t j = 0; j <= jhi; j++) {
					const double e =
					    exp(oracle_exponent(&hd, wu, D, t, j, c) - m);
					num += e * hd.v[j * D + c];
					den += e;
				}
				const double sig = 1.0 / (1.0 + exp(-(double)hd.q[i * D + c]));
				out[(bh * NQ + i) * D + c] = sig * num / den;
			}
		}
	}
	free(wu);
	return ATTN_OK;
}

/*
 * ---- The descriptor callbacks (ABI v2) --------------------------------------
 *
 * A method on this engine is a descriptor whose callbacks are these and
 * whose data says which variant it is; each builds the spec from m->data
 * and the call's parameters, then runs the entry point above.
 */

/* The spec of method m: its name (for messages) and its data's decay. */
static void wkv_method_spec(const struct attn_method *m, const struct attn_params *p,
                            struct attn__wkv_spec *sp)
{
	const struct attn__wkv_method *wm = m->data;
	attn__wkv_spec_init(sp, p, m->name, wm->decay);
}

int attn__wkv_supports(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p, char *msg, size_t msglen)
{
	struct attn__wkv_spec sp;
	wkv_method_spec(m, p, &sp);
	return wkv_supports(&sp, s, msg, msglen);
}

size_t attn__wkv_workspace_bytes(const struct attn_method *m, const struct attn_shape *s,
                                 const struct attn_params *p, int threads)
{
	struct attn__wkv_spec sp;
	wkv_method_spec(m, p, &sp);
	return wkv_workspace_bytes(&sp, s, threads);
}

double attn__wkv_flops(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p)
{
	struct attn__wkv_spec sp;
	wkv_method_spec(m, p, &sp);
	return wkv_flops(&sp, s);
}

double attn__wkv_bytes(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p)
{
	struct attn__wkv_spec sp;
	wkv_method_spec(m, p, &sp);
	return wkv_bytes(&sp, s);
}

int attn__wkv_prepare(const struct attn_method *m, const struct attn_shape *s,
                      const struct attn_params *p, const struct attn_inputs *in, void *ws,
                      const struct attn_ctx *ctx)
{
	struct attn__wkv_spec sp;
	wkv_method_spec(m, p, &sp);
	return wkv_prepare(&sp, s, in, ws, ctx ? ctx->threads : 1);
}

int attn__wkv_forward(const struct attn_method *m, const struct attn_shape *s,
                      const struct attn_params *p, const struct attn_inputs *in, float *out,
                      void *ws, const struct attn_ctx *ctx)
{
	struct attn__wkv_spec sp;
	wkv_method_spec(m, p, &sp);
	return wkv_forward(&sp, s, in, out, ws, ctx ? ctx->threads : 1);
}

int attn__wkv_oracle(const struct attn_method *m, const struct attn_shape *s,
                     const struct attn_params *p, const struct attn_inputs *in, double *out,
                     const struct attn_ctx *ctx)
{
	struct attn__wkv_spec sp;
	(void)ctx;
	wkv_method_spec(m, p, &sp);
	return wkv_oracle(&sp, s, in, out);
}
