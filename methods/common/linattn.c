/*
 * The linear-attention engine (see linattn.h for what it computes): the
 * parallel, recurrent and chunkwise forms of
 *
 *     S_t = Diag(a_t) S_{t-1} + k_t v_tᵀ,   o_t = S_tᵀ q_t   [/ (q_t · z_t)]
 *
 * for one head at a time, OpenMP over (batch, head), each thread in its own
 * slice of the workspace. Below, q and k already went through φ (and q
 * through the method's scale); g_t = log a_t (a D-vector, a scalar, or 0).
 *
 * Recurrent (O(N D²), the decode path). Per step, one pass over the rows of
 * S does both the update and the output, so S is read once per step:
 *     S[r, :] = a_t[r] S[r, :] + k_t[r] v_t          (r = key dimension)
 *     o_t    += q_t[r] S[r, :]
 *
 * Chunkwise (O(N C D + N D²), the fast prefill path; Yang et al. 2024, GLA,
 * §3-4; Sun et al. 2023, RetNet, §2.2). Steps are taken a chunk [t, t + c)
 * at a time, c <= C, with the cumulative log decay *inside* the chunk
 *     G_i = Σ_{s = t+1}^{t+i} g_s        (G_0 = 0; per key dimension)
 * so that, with S' = Diag(a_t) S_{t-1} (the carried state moved through
 * the chunk's first gate),
 *     S_{t+i} = Diag(e^{G_i}) S' + Σ_{j <= i} Diag(e^{G_i - G_j}) k_j v_jᵀ.
 * Folding the decays into the operands,
 *     Q̃_i = q_i ⊙ e^{G_i}   (<= 1)      K̃_j = k_j ⊙ e^{-G_j}   (>= 1)
 *     K̂_j = k_j ⊙ e^{G_{c-1} - G_j}     (<= 1)
 * the chunk is four GEMM-shaped products:
 *     pass 1  O   = Q̃ S'                          inter-chunk      (c, D)·(D, D)
 *     pass 2  A   = tril(Q̃ K̃ᵀ)                     intra scores     (c, D)·(D, c)
 *     pass 3  O  += A V                            intra output     (c, c)·(c, D)
 *     pass 4  S   = Diag(e^{G_{c-1}}) S' + K̂ᵀ V    state update     (D, c)·(c, D)
 * (normalised: den_i = Q̃_i · z' + Σ_j A_ij and z = e^{G_{c-1}} z' + Σ_j K̂_j).
 * Passes 2 and 3 run in bands of 32 rows, each band only against the
 * columns up to its diagonal, so the causal upper triangle costs at most the
 * diagonal 32 x 32 tiles. Scalar and head gates fold a factor per row
 * instead of per element.
 *
 * Numerics. Decays are products of gates in (0, 1]: over long spans they
 * underflow to 0, which is the right answer, but e^{-G_j} grows, and a
 * product e^{G_i} · e^{-G_j} with one factor 0 and the other inf is NaN. So
 * the fold is always *relative to the chunk*: G starts at 0 inside every
 * chunk (the chunk's first gate goes to the carried state as a plain
 * multiplier that may underflow harmlessly), and a chunk ends early - before
 * C steps - where some G_i would fall below -LIN_SPAN (= -20). Every folded
 * factor then lies in [e^-20, e^20]: nothing overflows, nothing of size
 * leaves the normal range, and the carried state only ever shrinks. With
 * the workload's gates (log a >= -0.1 per step) a chunk is cut only when
 * C > 200; with strong gates chunks get short (one step at worst), which is
 * slower but exact. The same holds across chunks at any N: the state is
 * multiplied by gates <= 1, so N = 10⁶ steps of γ = 0.9 just decay it.
 *
 * Parallel (O(N² D), the reference form). Query blocks of LIN_BQ rows
 * against every visible key, as in flash (Sᵀ = K Qᵀ, then O = P V reading Pᵀ
 * in place), with the decay mask D_ij = e^{B_i - B_j}, B the cumulative
 * log decay of the whole head kept in float64 (in float32 B would lose the
 * exponent's low bits at large N). Scalar gates: one e^x per visible pair,
 * x = B_i - B_j <= 0, so it underflows to 0 and never overflows. Vector
 * gates cannot be a mask; block rows fold their decay relative to the
 * block's first row i0 (Q ⊙ e^{B_i - B_{i0}} <= 1, and keys before the
 * block K ⊙ e^{B_{i0} - B_j} <= 1), and the diagonal block, whose factors
 * would exceed 1, is summed element-wise with e^{B_i - B_j} per term.
 *
 * Decode: prepare() runs the chunk form over the context 0..N-2 to leave
 * (S, z) per head at the front of the workspace; forward() takes the one
 * step at N - 1 without touching it:
 *     o = S_{N-1}ᵀ q = Sᵀ (a_{N-1} ⊙ q) + v_{N-1} (k_{N-1} · q).
 *
 * HGRN-2 (key_from_gate): the key of step t is 1 - a_t, made from the gate
 * where every form, decode and the oracle would read φ(K[t]) (key_row());
 * nothing else changes.
 *
 * Non-causal (linear_elu only, no gates): S = Σ_j k_j v_jᵀ over all keys
 * (recurrent or chunked), then O = Q S row by row or as one GEMM per chunk;
 * the parallel form lets every query see every key.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "attnbench/status.h"
#include "common/common.h"
#include "common/linattn.h"

/* Bound on |G| inside a chunk (see the top): folded factors stay in [e^-20, e^20]. */
#define LIN_SPAN 20.0f
/* Rows per band of the chunk's intra products: the GEMM tile's width. */
#define LIN_BAND ATTN__GEMM_NR
/* Query rows per block of the parallel form. */
#define LIN_BQ 64

static const struct attn_param_spec lin_form_spec = ATTN__LIN_PARAM_FORM;
static const struct attn_param_spec lin_chunk_spec = ATTN__LIN_PARAM_CHUNK;


/* ---- parameters ---------------------------------------------------------------- */

double attn__lin_param_real(const struct attn_params *p, int idx, double def)
{
	if (!p || idx < 0 || idx >= p->count)
		return def;
	return p->v[idx];
}

void attn__lin_spec_params(struct attn__lin_spec *ls, const struct attn_params *p)
{
	ls->form = (enum attn__lin_form)attn__param_int(p, ATTN__LIN_P_FORM, ATTN__LIN_FORM_CHUNK);
	ls->chunk = attn__param_int(p, ATTN__LIN_P_CHUNK, 64);
}

/* The factor on φ(q): 1/√D or 1. */
static double q_scale(const struct attn__lin_spec *ls, int64_t D)
{
	return ls->scale_sqrt_d ? 1.0 / sqrt((double)D) : 1.0;
}

/* Floats of gate per step: 0 (none), 1 (head, scalar) or D (vector). */
static int64_t gate_dims(const struct attn__lin_spec *ls, int64_t D)
{
	switch (ls->gate) {
	case ATTN__LIN_GATE_HEAD:
	case ATTN__LIN_GATE_SCALAR: return 1;
	case ATTN__LIN_GATE_VEC: return D;
	default: return 0;
	}
}

int attn__lin_supports(const struct attn__lin_spec *ls, const struct attn_shape *s, char *msg,
                       size_t msglen)
{
	int rc = attn__check_shape(s, msg, msglen);
	if (rc != ATTN_OK)
		return rc;
	if (ls->form < ATTN__LIN_FORM_PARALLEL || ls->form > ATTN__LIN_FORM_CHUNK)
		return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED, "form %d is not one of %s",
		                 (int)ls->form, lin_form_spec.choices);
	if (ls->chunk < (int64_t)lin_chunk_spec.min || ls->chunk > (int64_t)lin_chunk_spec.max)
		return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED, "C %lld outside %g..%g",
		                 (long long)ls->chunk, lin_chunk_spec.min, lin_chunk_spec.max);
	if (!s->causal && (!ls->noncausal_ok || ls->gate != ATTN__LIN_GATE_NONE))
		return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED, "%s is causal only",
		                 ls->name ? ls->name : "this method");
	return ATTN_OK;
}

/* ---- the workspace ------------------------------------------------------------- */

/*
 * How the workspace is carved; workspace_bytes(), prepare() and forward()
 * all build it from the same (spec, shape, threads).
 *
 * Decode: the state of every head first, (S (D, ldd), z (ldd)) each, then
 * the slices. Each of `threads` slices holds, by form:
 *   chunk (also decode, whose prepare() runs the chunk form):
 *     qb (C, ldd) Q̃   kbt (D, ldc) K̃ᵀ   kc (C, ldd) K̂   a (C, ldc) scores
 *     g (C, gd) G     vb (C, ldd) V      s (D, ldd) S    z, a0, el (ldd)
 *     den (C)    tmp (ldd)
 *   recurrent: s (D, ldd), z, qv, kv, av (ldd)
 *   parallel:  bc (N, gd) doubles B   kf (N, ldd) φ(K)   kt (N, ldd) folded
 *     keys (vector gates only)   qt (D, ldq) Qᵀ   qf (BQ, ldd)   st (N, ldq)
 *     Sᵀ   acc (BQP, D)   pden (BQP)
 * Row strides are padded (ldd = D rounded to 16 plus 16 floats, ldc and ldq
 * likewise) so that no GEMM operand walks down a column at a multiple of
 * 512 bytes (L1 set conflicts; see attn__gemm).
 */
struct lin_plan {
	int threads;
	int64_t N, D, C, gd;
	int64_t ldd, ldc, ldq, bqp;
	size_t head_state; /* floats of one head's (S, z) */
	size_t state;      /* bytes of all heads' states (decode) */
	size_t slice, total;
	size_t o_qb, o_kbt, o_kc, o_a, o_g, o_vb, o_s, o_z, o_a0, o_el, o_den, o_tmp;
	size_t o_qv, o_kv, o_av;
	size_t o_bc, o_kf, o_kt, o_qt, o_qf, o_st, o_acc, o_pden;
};

/* Reserve `bytes` (rounded up to 64) at *off; return where it starts. */
static size_t carve(size_t *off, size_t bytes)
{
	size_t at = *off;
	*off += (bytes + 63) & ~(size_t)63;
	return at;
}

static void plan_init(struct lin_plan *pl, const struct attn__lin_spec *ls,
                      const struct attn_shape *s, int threads)
{
	const int64_t N = s->n, D = s->d;
	const int64_t C = attn__min64(ls->chunk > 0 ? ls->chunk : 1, N);
	size_t off = 0;

	memset(pl, 0, sizeof *pl);
	pl->threads = threads < 1 ? 1 : threads;
	pl->N = N;
	pl->D = D;
	pl->C = C;
	pl->gd = gate_dims(ls, D);
	pl->ldd = attn__round_up(D, 16) + 16;
	pl->ldc = attn__round_up(C, 32) + 16;
	pl->bqp = attn__round_up(attn__min64(LIN_BQ, N), 32);
	pl->ldq = pl->bqp + 16;

	const size_t f = sizeof(float);
	const int64_t gd1 = pl->gd > 0 ? pl->gd : 1;
	if (s->mode == ATTN_MODE_DECODE || ls->form == ATTN__LIN_FORM_CHUNK) {
		pl->o_qb = carve(&off, (size_t)(C * pl->ldd) * f);
		pl->o_kbt = carve(&off, (size_t)(D * pl->ldc) * f);
		pl->o_kc = carve(&off, (size_t)(C * pl->ldd) * f);
		pl->o_a = carve(&off, (size_t)(C * pl->ldc) * f);
		pl->o_g = carve(&off, (size_t)(C * gd1) * f);
		pl->o_vb = carve(&off, (size_t)(C * pl->ldd) * f);
		pl->o_s = carve(&off, (size_t)(D * pl->ldd) * f);
		pl->o_z = carve(&off, (size_t)pl->ldd * f);
		pl->o_a0 = carve(&off, (size_t)pl->ldd * f);
		pl->o_el = carve(&off, (size_t)pl->ldd * f);
		pl->o_den = carve(&off, (size_t)C * f);
		pl->o_tmp = carve(&off, (size_t)pl->ldd * f);
	} else if (ls->form == ATTN__LIN_FORM_RECURRENT) {
		pl->o_s = carve(&off, (size_t)(D * pl->ldd) * f);
		pl->o_z = carve(&off, (size_t)pl->ldd * f);
		pl->o_qv = carve(&off, (size_t)pl->ldd * f);
		pl->o_kv = carve(&off, (size_t)pl->ldd * f);
		pl->o_av = carve(&off, (size_t)pl->ldd * f);
	} else {
		pl->o_bc = carve(&off, (size_t)(N * pl->gd) * sizeof(double));
		pl->o_kf = carve(&off, (size_t)(N * pl->ldd) * f);
		pl->o_kt = carve(&off, (size_t)(pl->gd > 1 ? N * pl->ldd : 0) * f);
		pl->o_qt = carve(&off, (size_t)(D * pl->ldq) * f);
		pl->o_qf = carve(&off, (size_t)(LIN_BQ * pl->ldd) * f);
		pl->o_st = carve(&off, (size_t)(N * pl->ldq) * f);
		pl->o_acc = carve(&off, (size_t)(pl->bqp * D) * f);
		pl->o_pden = carve(&off, (size_t)pl->bqp * f);
	}
	pl->slice = off;

	if (s->mode == ATTN_MODE_DECODE) {
		pl->head_state = (size_t)((D + 1) * pl->ldd); /* a multiple of 16 floats */
		pl->state = (size_t)(s->batch * s->heads) * pl->head_state * f;
	}
	pl->total = pl->state + (size_t)pl->threads * pl->slice;
}

size_t attn__lin_workspace_bytes(const struct attn__lin_spec *ls, const struct attn_shape *s,
                                 int threads)
{
	struct lin_plan pl;
	plan_init(&pl, ls, s, threads);
	return pl.total;
}

/* ---- cost ---------------------------------------------------------------------- */

/*
 * FLOPs, counting a multiply-add as 2 and leaving out the O(N D) work
 * (feature maps, folding exponentials, normalisation), per head:
 *   decode     2 D² (Sᵀ (a ⊙ q)) + 4 D (k · q and the v update)
 *   recurrent  4 N D²: per step 2 D² for the rank-1 update, 2 D² for Sᵀ q
 *   chunk      4 N D² (passes 1 and 4) + 4 D · pairs (passes 2 and 3, over
 *              the causal triangle of each chunk: pairs = Σ c (c + 1) / 2 for
 *              chunks of C; this is the useful work, like flash's count, so
 *              the brief's upper bound 4 N C D + 4 N D² is the square's);
 *              not causal: 4 N D² (state, then Q S)
 *   parallel   4 D · pairs over visible (query, key) pairs, as softmax
 * A chunk cut short by strong gates (see the top) does less than this.
 */
double attn__lin_flops(const struct attn__lin_spec *ls, const struct attn_shape *s)
{
	const double heads = (double)s->batch * (double)s->heads;
	const double N = (double)s->n, D = (double)s->d;

	if (s->mode == ATTN_MODE_DECODE)
		return heads * (2.0 * D * D + 4.0 * D);
	switch (ls->form) {
	case ATTN__LIN_FORM_RECURRENT: return heads * 4.0 * N * D * D;
	case ATTN__LIN_FORM_CHUNK: {
		if (!s->causal)
			return heads * 4.0 * N * D * D;
		const int64_t C = attn__min64(ls->chunk, s->n);
		const double full = (double)(s->n / C), r = (double)(s->n % C);
		const double pairs = full * (double)C * (double)(C + 1) / 2.0 + r * (r + 1.0) / 2.0;
		return heads * (4.0 * N * D * D + 4.0 * D * pairs);
	}
	default: return attn__softmax_flops(s);
	}
}

/*
 * Compulsory traffic: Q, K, V read and O written once, plus the gates
 * (B H N floats, or B H N D for vector gates). Decode reads one row of K,
 * V and gates and the state (D² + D floats per head) instead. The parallel
 * form adds its score blocks as softmax does (written, read and rewritten by
 * the mask pass, read by P V: 4 floats per pair). The chunk and recurrent
 * forms' state and tiles stay in cache. With key_from_gate K is not read.
 */
double attn__lin_bytes(const struct attn__lin_spec *ls, const struct attn_shape *s)
{
	const double f = sizeof(float);
	const double heads = (double)s->batch * (double)s->heads;
	const double D = (double)s->d, gd = (double)gate_dims(ls, s->d);
	const double gate_in = ls->gate == ATTN__LIN_GATE_HEAD ? 0.0 : gd;
	const double kv_in = ls->key_from_gate ? 1.0 : 2.0; /* K and V, or V only */

	if (s->mode == ATTN_MODE_DECODE)
		return f * (heads * (2.0 * D + D * D + D + gate_in) +
		            kv_in * (double)s->batch * (double)s->kv_heads * D);
	double b = attn__qkvo_bytes(s) + f * heads * (double)s->n * gate_in;
	if (ls->key_from_gate)
		b -= f * (double)s->batch * (double)s->kv_heads * (double)s->n * D;
	if (ls->form == ATTN__LIN_FORM_PARALLEL)
		b += 4.0 * f * attn__softmax_pairs(s);
	return b;
}

/* ---- one head ------------------------------------------------------------------ */

/* One head's data: pointers into the inputs and the output, and its gate. */
struct lin_head {
	const float *q; /* (NQ, D) */
	const float *k; /* (N, D), the K/V head of this query head */
	const float *v; /* (N, D) */
	float *o;       /* (NQ, D) */
	const float *g; /* log gate of step t: g + t * gstride, gd floats; NULL if none */
	int64_t gstride;
	float hg; /* a head gate's value, which g then points at (stride 0) */
};

/* Call once per head, in place (g may point into *hd). */
static void head_init(struct lin_head *hd, const struct attn__lin_spec *ls,
                      const struct attn_shape *s, const struct attn_inputs *in, float *out,
                      int64_t bh)
{
	const int64_t H = s->heads, KVH = s->kv_heads, N = s->n, D = s->d;
	const int64_t NQ = attn_shape_nq(s);
	const int64_t b = bh / H, h = bh % H, kvh = h / (H / KVH);

	hd->q = in->q + bh * NQ * D;
	hd->k = in->k + (b * KVH + kvh) * N * D;
	hd->v = in->v + (b * KVH + kvh) * N * D;
	hd->o = out ? out + bh * NQ * D : NULL;
	hd->g = NULL;
	hd->gstride = 0;
	hd->hg = 0.0f;
	switch (ls->gate) {
	case ATTN__LIN_GATE_HEAD:
		hd->hg = (float)ls->head_log_decay(h, H, ls->gamma);
		hd->g = &hd->hg;
		break;
	case ATTN__LIN_GATE_SCALAR:
		hd->g = in->log_gate + bh * N;
		hd->gstride = 1;
		break;
	case ATTN__LIN_GATE_VEC:
		hd->g = in->gate_vec + bh * N * D;
		hd->gstride = D;
		break;
	default: break;
	}
}

static inline const float *gate_row(const struct lin_head *hd, int64_t t)
{
	return hd->g + t * hd->gstride;
}

/* dst (D) = φ(x) · scale, x (D). elu(x) + 1 is x + 1 above 0 and e^x below. */
static void feat_row(float *dst, const float *x, int64_t D, enum attn__lin_feature feature,
                     float scale)
{
	if (feature == ATTN__LIN_FEATURE_ELU1) {
		for (int64_t d = 0; d < D; d++) {
			const float e = attn__expf(x[d]);
			dst[d] = (x[d] > 0.0f ? x[d] + 1.0f : e) * scale;
		}
	} else {
		for (int64_t d = 0; d < D; d++)
			dst[d] = x[d] * scale;
	}
}

/*
 * dst (D) = the key of step t: φ(k_t), or, with ls->key_from_gate (HGRN-2),
 * 1 - a_t = -expm1(g_t) (expm1 keeps 1 - a exact for a near 1). Every form,
 * decode and the float keys go through here; the oracle has its own.
 */
static void key_row(float *dst, const struct attn__lin_spec *ls, const struct lin_head *hd,
                    int64_t t, int64_t D)
{
	if (ls->key_from_gate) {
		const float *gt = gate_row(hd, t);
		const int vec = ls->gate == ATTN__LIN_GATE_VEC;
		for (int64_t d = 0; d < D; d++)
			dst[d] = -expm1f(gt[vec ? d : 0]);
	} else {
		feat_row(dst, hd->k + t * D, D, ls->feature, 1.0f);
	}
}

/* x (n) *= e^{g} element-wise (g (n) log factors). */
static void mul_exp(float *x, const float *g, int64_t n)
{
	for (int64_t d = 0; d < n; d++)
		x[d] *= attn__expf(g[d]);
}

/* S (D, ldd) rows and z (D) scaled by f (gd == 1: f[0] for all; gd == D: f[r] for row r). */
static void scale_state(float *S, float *z, const float *f, int64_t gd, int64_t D, int64_t ldd)
{
	for (int64_t r = 0; r < D; r++) {
		const float fr = gd == 1 ? f[0] : f[r];
		attn__scale(S + r * ldd, fr, D);
		if (z)
			z[r] *= fr;
	}
}

/*
 * The chunk form over steps [t0, t1) of one head, carrying (S, z) in and
 * out (see the top of the file). With `with_out`, rows [t0, t1) of the
 * head's output are written; without, only the state advances.
 *   S (D, ldd), z (D) or NULL when not normalising; slice: the thread's.
 */
static void chunk_run(const struct attn__lin_spec *ls, const struct lin_plan *pl,
                      const struct lin_head *hd, int64_t t0, int64_t t1, int with_out, float *S,
                      float *z, char *slice)
{
	const int64_t D = pl->D, C = pl->C, gd = pl->gd, ldd = pl->ldd, ldc = pl->ldc;
	float *qb = (float *)(slice + pl->o_qb);   /* (C, ldd)  Q̃ */
	float *kbt = (float *)(slice + pl->o_kbt); /* (D, ldc)  K̃ᵀ */
	float *kc = (float *)(slice + pl->o_kc);   /* (C, ldd)  K̂ */
	float *a = (float *)(slice + pl->o_a);     /* (C, ldc)  intra scores */
	float *g = (float *)(slice + pl->o_g);     /* (C, gd)   G */
	float *vb = (float *)(slice + pl->o_vb);   /* (C, ldd)  V, padded rows */
	float *a0 = (float *)(slice + pl->o_a0);   /* (gd)      e^{g_t}: first gate */
	float *el = (float *)(slice + pl->o_el);   /* (gd)      e^{G_{c-1}} */
	float *den = (float *)(slice + pl->o_den); /* (C)       normaliser */
	float *tmp = (float *)(slice + pl->o_tmp); /* (D)       one folded key */
	const float qscale = (float)q_scale(ls, D);

	for (int64_t t = t0; t < t1;) {
		/*
		 * pass 0a: the chunk's length c and G_i = Σ_{t < s <= t+i} g_s,
		 * stopping before any G_i drops below -LIN_SPAN (the first step
		 * is always taken: G_0 = 0).
		 */
		const int64_t cmax = attn__min64(C, t1 - t);
		int64_t c = cmax;
		if (gd > 0) {
			memset(g, 0, (size_t)gd * sizeof(float));
			for (int64_t i = 1; i < cmax; i++) {
				const float *gi = gate_row(hd, t + i);
				float *Gi = g + i * gd, *Gp = g + (i - 1) * gd;
				int below =
				    0; /* an OR, not a min: it vectorises without fast-math */
				for (int64_t d = 0; d < gd; d++) {
					Gi[d] = Gp[d] + gi[d];
					below |= Gi[d] < -LIN_SPAN;
				}
				if (below) {
					c = i;
					break;
				}
			}
			const float *g0 = gate_row(hd, t);
			for (int64_t d = 0; d < gd; d++) {
				a0[d] = attn__expf(g0[d]);
				el[d] = attn__expf(g[(c - 1) * gd + d]);
			}
		}

		/*
		 * pass 0b: operands. K̂_j = φ(k_j) e^{G_{c-1} - G_j} and
		 * K̃ᵀ[:, j] = φ(k_j) e^{-G_j}; Q̃_i = φ(q_i) · scale · e^{G_i};
		 * V copied to padded rows.
		 */
		for (int64_t j = 0; j < c; j++) {
			float *kr = kc + j * ldd;
			key_row(kr, ls, hd, t + j, D);
			memcpy(vb + j * ldd, hd->v + (t + j) * D, (size_t)D * sizeof(float));
			if (with_out) {
				if (gd == 0) {
					for (int64_t d = 0; d < D; d++)
						kbt[d * ldc + j] = kr[d];
				} else if (gd == 1) {
					const float f = attn__expf(-g[j]);
					for (int64_t d = 0; d < D; d++)
						kbt[d * ldc + j] = kr[d] * f;
				} else {
					/* exp in a contiguous loop (it vectorises), then the
					 * strided stores */
					const float *Gj = g + j * gd;
					for (int64_t d = 0; d < D; d++)
						tmp[d] = kr[d] * attn__expf(-Gj[d]);
					for (int64_t d = 0; d < D; d++)
						kbt[d * ldc + j] = tmp[d];
				}
				float *qr = qb + j * ldd;
				feat_row(qr, hd->q + (t + j) * D, D, ls->feature, qscale);
				if (gd == 1)
					attn__scale(qr, attn__expf(g[j]), D);
				else if (gd > 1)
					mul_exp(qr, g + j * gd, D);
			}
			if (gd == 1) {
				attn__scale(kr, attn__expf(g[c - 1] - g[j]), D);
			} else if (gd > 1) {
				const float *Gj = g + j * gd, *Gl = g + (c - 1) * gd;
				for (int64_t d = 0; d < D; d++)
					kr[d] *= attn__expf(Gl[d] - Gj[d]);
			}
		}

		/* S' = Diag(a_t) S, z' = a_t ⊙ z */
		if (gd > 0)
			scale_state(S, z, a0, gd, D, ldd);

		if (with_out) {
			float *o = hd->o + t * D; /* (c, D) */

			/* pass 1: O = Q̃ S'  (c, D) */
			attn__gemm(c, D, D, qb, ldd, 1, S, ldd, o, D, 0);

			/*
			 * passes 2 and 3, by bands of rows [r0, r0 + mr), each
			 * against columns [0, r0 + mr): A = Q̃ K̃ᵀ, masked above
			 * the diagonal; O += A V.
			 */
			for (int64_t r0 = 0; r0 < c; r0 += LIN_BAND) {
				const int64_t mr = attn__min64(LIN_BAND, c - r0), nc = r0 + mr;
				float *ab = a + r0 * ldc;
				attn__gemm(mr, nc, D, qb + r0 * ldd, ldd, 1, kbt, ldc, ab, ldc, 0);
				for (int64_t i = 0; i < mr; i++) {
					float *row = ab + i * ldc;
					const int64_t vis = r0 + i + 1; /* columns 0..r0+i */
					memset(row + vis, 0, (size_t)(nc - vis) * sizeof(float));
					if (ls->normalize) {
						float sum = 0.0f;
						for (int64_t j = 0; j < vis; j++)
							sum += row[j];
						den[r0 + i] = sum;
					}
				}
				attn__gemm(mr, D, nc, ab, ldc, 1, vb, ldd, o + r0 * D, D, 1);
			}

			/* O_i /= Q̃_i · z' + Σ_j A_ij */
			if (ls->normalize) {
				for (int64_t i = 0; i < c; i++) {
					const float dn = den[i] + attn__dot(qb + i * ldd, z, D);
					attn__scale(o + i * D, 1.0f / dn, D);
				}
			}
		}

		/* pass 4: S = Diag(e^{G_{c-1}}) S' + K̂ᵀ V, z = e^{G_{c-1}} z' + Σ_j K̂_j */
		if (gd > 0)
			scale_state(S, z, el, gd, D, ldd);
		attn__gemm(D, D, c, kc, 1, ldd, vb, ldd, S, ldd, 1);
		if (z)
			for (int64_t j = 0; j < c; j++)
				attn__axpy(z, 1.0f, kc + j * ldd, D);

		t += c;
	}
}

/*
 * O = φ(Q) S [/ φ(Q) · z] for every row of the head: the output of the
 * non-causal forms once S holds all keys. Chunk form: one GEMM per C rows
 * (uses the chunk slice's qb); recurrent form: row by row (qv).
 */
static void apply_state(const struct attn__lin_spec *ls, const struct lin_plan *pl,
                        const struct lin_head *hd, const float *S, const float *z, int gemm,
                        char *slice)
{
	const int64_t N = pl->N, D = pl->D, ldd = pl->ldd;
	const int64_t rows = gemm ? pl->C : 1;
	float *qb = (float *)(slice + (gemm ? pl->o_qb : pl->o_qv)); /* (rows, ldd) */

	for (int64_t t = 0; t < N; t += rows) {
		const int64_t c = attn__min64(rows, N - t);
		float *o = hd->o + t * D;
		for (int64_t i = 0; i < c; i++)
			feat_row(qb + i * ldd, hd->q + (t + i) * D, D, ls->feature,
			         (float)q_scale(ls, D));
		attn__gemm(c, D, D, qb, ldd, 1, S, ldd, o, D, 0);
		if (ls->normalize)
			for (int64_t i = 0; i < c; i++)
				attn__scale(o + i * D, 1.0f / attn__dot(qb + i * ldd, z, D), D);
	}
}

/*
 * The recurrent form over steps [t0, t1) of one head, carrying (S, z); with
 * `with_out` row t of the output is written after step t.
 */
static void recurrent_run(const struct attn__lin_spec *ls, const struct lin_plan *pl,
                          const struct lin_head *hd, int64_t t0, int64_t t1, int with_out, float *S,
                          float *z, char *slice)
{
	const int64_t D = pl->D, gd = pl->gd, ldd = pl->ldd;
	float *qv = (float *)(slice + pl->o_qv); /* (D) φ(q_t) · scale */
	float *kv = (float *)(slice + pl->o_kv); /* (D) φ(k_t) */
	float *av = (float *)(slice + pl->o_av); /* (D) a_t */

	for (int64_t t = t0; t < t1; t++) {
		const float *v = hd->v + t * D;
		float *o = with_out ? hd->o + t * D : NULL;
		key_row(kv, ls, hd, t, D);
		if (with_out) {
			feat_row(qv, hd->q + t * D, D, ls->feature, (float)q_scale(ls, D));
			memset(o, 0, (size_t)D * sizeof(float));
		}
		if (gd == 1) {
			const float a = attn__expf(gate_row(hd, t)[0]);
			for (int64_t r = 0; r < D; r++)
				av[r] = a;
		} else if (gd > 1) {
			const float *gt = gate_row(hd, t);
			for (int64_t r = 0; r < D; r++)
				av[r] = attn__expf(gt[r]);
		} else {
			for (int64_t r = 0; r < D; r++)
				av[r] = 1.0f;
		}

		/* per row r of S: S[r] = a_r S[r] + k_r v;  o += q_r S[r] */
		for (int64_t r = 0; r < D; r++) {
			float *sr = S + r * ldd;
			const float ar = av[r], kr = kv[r];
			for (int64_t c = 0; c < D; c++)
				sr[c] = attn__fmaf(ar, sr[c], kr * v[c]);
			if (with_out)
				attn__axpy(o, qv[r], sr, D);
		}
		if (z)
			for (int64_t r = 0; r < D; r++)
				z[r] = attn__fmaf(av[r], z[r], kv[r]);
		if (with_out && ls->normalize)
			attn__scale(o, 1.0f / attn__dot(qv, z, D), D);
	}
}

/* The parallel form of one head, prefill (see the top of the file). */
static void parallel_head(const struct attn__lin_spec *ls, const struct lin_plan *pl,
                          const struct lin_head *hd, int causal, char *slice)
{
	const int64_t N = pl->N, D = pl->D, gd = pl->gd, ldd = pl->ldd, ldq = pl->ldq;
	const int64_t bqp = pl->bqp;
	double *bc = (double *)(slice + pl->o_bc);   /* (N, gd) B, cumulative log decay */
	float *kf = (float *)(slice + pl->o_kf);     /* (N, ldd) φ(K) */
	float *kt = (float *)(slice + pl->o_kt);     /* (N, ldd) keys folded to block start */
	float *qt = (float *)(slice + pl->o_qt);     /* (D, ldq) the block's Qᵀ, folded */
	float *qf = (float *)(slice + pl->o_qf);     /* (BQ, ldd) the block's φ(Q) · scale */
	float *st = (float *)(slice + pl->o_st);     /* (N, ldq) Sᵀ, then Pᵀ */
	float *acc = (float *)(slice + pl->o_acc);   /* (bqp, D) */
	float *pden = (float *)(slice + pl->o_pden); /* (bqp) */
	const float qscale = (float)q_scale(ls, D);

	/* pass 0: B_t = Σ_{s <= t} g_s in float64, and φ(K) */
	if (gd > 0) {
		for (int64_t d = 0; d < gd; d++)
			bc[d] = (double)gate_row(hd, 0)[d];
		for (int64_t t = 1; t < N; t++) {
			const float *gt = gate_row(hd, t);
			for (int64_t d = 0; d < gd; d++)
				bc[t * gd + d] = bc[(t - 1) * gd + d] + (double)gt[d];
		}
	}
	for (int64_t j = 0; j < N; j++)
		key_row(kf + j * ldd, ls, hd, j, D);

	for (int64_t i0 = 0; i0 < N; i0 += LIN_BQ) {
		const int64_t mb = attn__min64(LIN_BQ, N - i0), i1 = i0 + mb;
		const int64_t kend = causal ? i1 : N;
		/* keys the GEMM covers: vector gates leave the diagonal block to pass 2b */
		const int64_t kgemm = gd > 1 ? i0 : kend;

		/* pass 1: the block's φ(Q) · scale, folded (vector gates) and transposed */
		for (int64_t i = 0; i < mb; i++) {
			float *qr = qf + i * ldd;
			feat_row(qr, hd->q + (i0 + i) * D, D, ls->feature, qscale);
			for (int64_t d = 0; d < D; d++) {
				float x = qr[d];
				if (gd > 1)
					x *= attn__expf(
					    (float)(bc[(i0 + i) * gd + d] - bc[i0 * gd + d]));
				qt[d * ldq + i] = x;
			}
		}
		for (int64_t d = 0; d < D; d++)
			memset(qt + d * ldq + mb, 0, (size_t)(bqp - mb) * sizeof(float));

		/* pass 2: Sᵀ (kgemm, bqp) = keys Qᵀ; vector gates fold keys to i0 first */
		const float *keys = kf;
		if (gd > 1) {
			for (int64_t j = 0; j < i0; j++)
				for (int64_t d = 0; d < D; d++)
					kt[j * ldd + d] =
					    kf[j * ldd + d] *
					    attn__expf((float)(bc[i0 * gd + d] - bc[j * gd + d]));
			keys = kt;
		}
		if (kgemm > 0)
			attn__gemm(kgemm, bqp, D, keys, ldd, 1, qt, ldq, st, ldq, 0);

		/*
		 * pass 2b: the diagonal block under vector gates, term by term:
		 * S_ij = Σ_d q_id k_jd e^{B_id - B_jd} for j <= i, 0 above.
		 */
		if (gd > 1) {
			for (int64_t j = i0; j < i1; j++) {
				float *row = st + j * ldq;
				const double *bj = bc + j * gd;
				for (int64_t i = 0; i < bqp; i++) {
					if (i >= mb || i0 + i < j) {
						row[i] = 0.0f;
						continue;
					}
					const double *bi = bc + (i0 + i) * gd;
					const float *qr = qf + i * ldd, *kr = kf + j * ldd;
					float sum = 0.0f;
					for (int64_t d = 0; d < D; d++)
						sum += qr[d] * kr[d] *
						       attn__expf((float)(bi[d] - bj[d]));
					row[i] = sum;
				}
			}
		}

		/*
		 * pass 3: the mask. Scalar gates: S_ij *= e^{B_i - B_j} (<= 1) for
		 * j <= i; causal: 0 above the diagonal (the padding columns are
		 * 0 from the GEMM already, but the mask must not read B beyond N).
		 */
		if (gd == 1) {
			for (int64_t j = 0; j < kend; j++) {
				float *row = st + j * ldq;
				const int64_t lo = j > i0 ? j - i0 : 0; /* first row that sees j */
				for (int64_t i = 0; i < lo; i++)
					row[i] = 0.0f;
				for (int64_t i = lo; i < mb; i++)
					row[i] *= attn__expf((float)(bc[i0 + i] - bc[j]));
			}
		} else if (gd == 0 && causal) {
			for (int64_t j = i0 + 1; j < i1; j++)
				memset(st + j * ldq, 0, (size_t)(j - i0) * sizeof(float));
		}

		/* pass 4: O_block (bqp, D) = P V, reading Pᵀ in place; row sums */
		attn__gemm(bqp, D, kend, st, 1, ldq, hd->v, D, acc, D, 0);
		if (ls->normalize) {
			memset(pden, 0, (size_t)bqp * sizeof(float));
			for (int64_t j = 0; j < kend; j++)
				attn__axpy(pden, 1.0f, st + j * ldq, bqp);
		}
		for (int64_t i = 0; i < mb; i++) {
			float *o = hd->o + (i0 + i) * D;
			memcpy(o, acc + i * D, (size_t)D * sizeof(float));
			if (ls->normalize)
				attn__scale(o, 1.0f / pden[i], D);
		}
	}
}

/*
 * The decode step of one head from its prepared (S, z):
 *   o = Sᵀ (a ⊙ q) + v (k · q)   [/ ((a ⊙ q) · z + k · q)]
 * with q, k, v, a those of position N - 1. qv, kv (D) scratch.
 */
static void decode_head(const struct attn__lin_spec *ls, const struct lin_plan *pl,
                        const struct lin_head *hd, const float *S, const float *z, float *qv,
                        float *kv)
{
	const int64_t N = pl->N, D = pl->D, gd = pl->gd, ldd = pl->ldd;
	const float *v = hd->v + (N - 1) * D;
	float *o = hd->o;

	feat_row(qv, hd->q, D, ls->feature, (float)q_scale(ls, D));
	key_row(kv, ls, hd, N - 1, D);
	const float kq = attn__dot(kv, qv, D);
	if (gd == 1)
		attn__scale(qv, attn__expf(gate_row(hd, N - 1)[0]), D);
	else if (gd > 1)
		mul_exp(qv, gate_row(hd, N - 1), D);

	for (int64_t c = 0; c < D; c++)
		o[c] = kq * v[c];
	for (int64_t r = 0; r < D; r++)
		attn__axpy(o, qv[r], S + r * ldd, D);
	if (ls->normalize)
		attn__scale(o, 1.0f / (attn__dot(qv, z, D) + kq), D);
}

/* ---- entry points -------------------------------------------------------------- */

static int inputs_ok(const struct attn__lin_spec *ls, const struct attn_inputs *in)
{
	if (!in || !in->q || !in->k || !in->v)
		return 0;
	if (ls->gate == ATTN__LIN_GATE_SCALAR && !in->log_gate)
		return 0;
	if (ls->gate == ATTN__LIN_GATE_VEC && !in->gate_vec)
		return 0;
	if (ls->gate == ATTN__LIN_GATE_HEAD && !ls->head_log_decay)
		return 0;
	/* k = 1 - a needs a per-step gate */
	if (ls->key_from_gate && ls->gate != ATTN__LIN_GATE_SCALAR &&
	    ls->gate != ATTN__LIN_GATE_VEC)
		return 0;
	return 1;
}

int attn__lin_prepare(const struct attn__lin_spec *ls, const struct attn_shape *s,
                      const struct attn_inputs *in, void *ws, int threads)
{
	if (attn__lin_supports(ls, s, NULL, 0) != ATTN_OK)
		return ATTN_ERR_UNSUPPORTED;
	if (!inputs_ok(ls, in))
		return ATTN_ERR_INVALID;
	if (s->mode != ATTN_MODE_DECODE)
		return ATTN_OK;

	struct lin_plan pl;
	plan_init(&pl, ls, s, threads);
	const int64_t heads = s->batch * s->heads;

#pragma omp parallel for schedule(dynamic, 1) num_threads(pl.threads)
	for (int64_t bh = 0; bh < heads; bh++) {
		struct lin_head hd;
		head_init(&hd, ls, s, in, NULL, bh);
		float *S = (float *)ws + (size_t)bh * pl.head_state; /* (D, ldd) */
		float *z = S + pl.D * pl.ldd;                        /* (ldd) */
		char *slice = (char *)ws + pl.state + (size_t)attn__thread_id() * pl.slice;
		memset(S, 0, pl.head_state * sizeof(float));
		chunk_run(ls, &pl, &hd, 0, s->n - 1, 0, S, ls->normalize ? z : NULL, slice);
	}
	return ATTN_OK;
}

int attn__lin_forward(const struct attn__lin_spec *ls, const struct attn_shape *s,
                      const struct attn_inputs *in, float *out, void *ws, int threads)
{
	if (attn__lin_supports(ls, s, NULL, 0) != ATTN_OK)
		return ATTN_ERR_UNSUPPORTED;
	if (!inputs_ok(ls, in) || !out || !ws)
		return ATTN_ERR_INVALID;

	struct lin_plan pl;
	plan_init(&pl, ls, s, threads);
	const int64_t heads = s->batch * s->heads, N = s->n;
	const int decode = s->mode == ATTN_MODE_DECODE;

#pragma omp parallel for schedule(dynamic, 1) num_threads(pl.threads)
	for (int64_t bh = 0; bh < heads; bh++) {
		struct lin_head hd;
		head_init(&hd, ls, s, in, out, bh);
		char *slice = (char *)ws + pl.state + (size_t)attn__thread_id() * pl.slice;

		if (decode) {
			const float *S = (const float *)ws + (size_t)bh * pl.head_state;
			decode_head(ls, &pl, &hd, S, S + pl.D * pl.ldd, (float *)(slice + pl.o_qb),
			            (float *)(slice + pl.o_kc));
			continue;
		}
		if (ls->form == ATTN__LIN_FORM_PARALLEL) {
			parallel_head(ls, &pl, &hd, s->causal, slice);
			continue;
		}

		float *S = (float *)(slice + pl.o_s);                        /* (D, ldd) */
		float *z = ls->normalize ? (float *)(slice + pl.o_z) : NULL; /* (D) */
		memset(S, 0, (size_t)(pl.D * pl.ldd) * sizeof(float));
		if (z)
			memset(z, 0, (size_t)pl.D * sizeof(float));
		const int chunk = ls->form == ATTN__LIN_FORM_CHUNK;
		if (s->causal) {
			if (chunk)
				chunk_run(ls, &pl, &hd, 0, N, 1, S, z, slice);
			else
				recurrent_run(ls, &pl, &hd, 0, N, 1, S, z, slice);
		} else {
			/* every query sees every key: the state of all N, then Q S */
			if (chunk)
				chunk_run(ls, &pl, &hd, 0, N, 0, S, z, slice);
			else
				recurrent_run(ls, &pl, &hd, 0, N, 0, S, z, slice);
			apply_state(ls, &pl, &hd, S, z, chunk, slice);
		}
	}
	return ATTN_OK;
}

/* φ in float64. */
static double feat_d(double x, enum attn__lin_feature feature)
{
	if (feature == ATTN__LIN_FEATURE_ELU1)
		return x > 0.0 ? x + 1.0 : exp(x);
	return x;
}

int attn__lin_oracle(const struct attn__lin_spec *ls, const struct attn_shape *s,
                     const struct attn_inputs *in, double *out)
{
	if (attn__lin_supports(ls, s, NULL, 0) != ATTN_OK)
		return ATTN_ERR_UNSUPPORTED;
	if (!inputs_ok(ls, in) || !out)
		return ATTN_ERR_INVALID;

	const int64_t N = s->n, D = s->d, NQ = attn_shape_nq(s);
	const int64_t heads = s->batch * s->heads, gd = gate_dims(ls, D);
	const int decode = s->mode == ATTN_MODE_DECODE;
	double *buf = malloc((size_t)(3 * D) * sizeof(double));
	if (!buf)
		return ATTN_ERR_NOMEM;
	double *r = buf;          /* (D) log decay from key j to the query */
	double *qf = buf + D;     /* (D) φ(q) · scale */
	double *kw = buf + 2 * D; /* (D) decay of each key dimension */

	for (int64_t bh = 0; bh < heads; bh++) {
		struct lin_head hd;
		head_init(&hd, ls, s, in, NULL, bh);
		for (int64_t i = 0; i < NQ; i++) {
			const int64_t pos = decode ? N - 1 : i;
			const int64_t jhi = (s->causal || decode) ? pos : N - 1;
			double *o = out + (bh * NQ + i) * D;
			double den = 0.0;
			for (int64_t d = 0; d < D; d++) {
				qf[d] = feat_d(hd.q[i * D + d], ls->feature) * q_scale(ls, D);
				r[d] = 0.0;
				kw[d] = 1.0;
				o[d] = 0.0;
			}
			/* o = Σ_j (q ⊙ w_j) · φ(k_j) v_j, w_j = e^{Σ_{j < s <= pos} g_s} */
			for (int64_t j = jhi; j >= 0; j--) {
				double w = 0.0;
				for (int64_t d = 0; d < D; d++) {
					/* φ(k_j), or 1 - a_j (key_from_gate) */
					const double kd =
					    ls->key_from_gate
					        ? -expm1((double)gate_row(&hd, j)[gd == 1 ? 0 : d])
					        : feat_d(hd.k[j * D + d], ls->feature);
					w += qf[d] * kd * kw[d];
				}
				for (int64_t d = 0; d < D; d++)
					o[d] += w * hd.v[j * D + d];
				den += w;
				if (gd > 0 && j > 0) {
					const float *gj = gate_row(&hd, j);
					for (int64_t d = 0; d < D; d++) {
						r[d] += (double)gj[gd == 1 ? 0 : d];
						kw[d] = exp(r[d]);
					}
				}
			}
			if (ls->normalize)
				for (int64_t d = 0; d < D; d++)
					o[d] /= den;
		}
	}
	free(buf);
	return ATTN_OK;
}
