/*
 * The linear-attention engine (see linattn.h for what it computes): the
 * parallel, recurrent and chunkwise forms of
 *
 *     S_t = Diag(a_t) S_{t-1} + k_t v_tᵀ,   o_t = S_tᵀ q_t   [/ (q_t · z_t + ε)]
 *
 * for one head at a time, OpenMP over (batch, head), each thread in its own
 * slice of the workspace. Below, q and k already went through φ (and q
 * through the method's scale), so they are F-vectors and S is F x D;
 * g_t = log a_t (an F-vector, a scalar, or 0; vector gates have F = D).
 *
 * Recurrent (O(N F D), the decode path). Per step, one pass over the rows
 * of S does both the update and the output, so S is read once per step:
 *     S[r, :] = a_t[r] S[r, :] + k_t[r] v_t          (r = feature dimension)
 *     o_t    += q_t[r] S[r, :]
 *
 * Chunkwise (O(N C (F + D) + N F D), the fast prefill path; Yang et al.
 * 2024, GLA, §3-4; Sun et al. 2023, RetNet, §2.2). Steps are taken a chunk
 * [t, t + c) at a time, c <= C, with the cumulative log decay *inside* the
 * chunk
 *     G_i = Σ_{s = t+1}^{t+i} g_s        (G_0 = 0; per feature dimension)
 * so that, with S' = Diag(a_t) S_{t-1} (the carried state moved through
 * the chunk's first gate),
 *     S_{t+i} = Diag(e^{G_i}) S' + Σ_{j <= i} Diag(e^{G_i - G_j}) k_j v_jᵀ.
 * Folding the decays into the operands,
 *     Q̃_i = q_i ⊙ e^{G_i}   (<= 1)      K̃_j = k_j ⊙ e^{-G_j}   (>= 1)
 *     K̂_j = k_j ⊙ e^{G_{c-1} - G_j}     (<= 1)
 * the chunk is four GEMM-shaped products:
 *     pass 1  O   = Q̃ S'                          inter-chunk      (c, F)·(F, D)
 *     pass 2  A   = tril(Q̃ K̃ᵀ)                     intra scores     (c, F)·(F, c)
 *     pass 3  O  += A V                            intra output     (c, c)·(c, D)
 *     pass 4  S   = Diag(e^{G_{c-1}}) S' + K̂ᵀ V    state update     (F, c)·(c, D)
 * (normalised: den_i = Q̃_i · z' + Σ_j A_ij and z = e^{G_{c-1}} z' + Σ_j K̂_j).
 * Passes 2 and 3 run in bands of 32 rows, each band only against the
 * columns up to its diagonal, so the causal upper triangle costs at most the
 * diagonal 32 x 32 tiles. Scalar and head gates fold a factor per row
 * instead of per element. S' is never formed: pass 1 reads Q̃ ⊙ a_t
 * against S (a c x F scaling instead of F x D) and pass 4 scales S once,
 * by a_t e^{G_{c-1}}; K̂ is K̃ ⊙ e^{G_{c-1}} (no second exponential), and
 * K̃ is built row-major and transposed for pass 2 by attn__transpose.
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
 * Parallel (O(N² (F + D)), the reference form). Query blocks of LIN_BQ rows
 * against every visible key, LIN_BK keys at a time, as in flash (Sᵀ = K Qᵀ,
 * then O += P V reading Pᵀ in place), with the decay mask D_ij = e^{B_i - B_j}, B the cumulative
 * log decay of the whole head kept in float64 (in float32 B would lose the
 * exponent's low bits at large N). Scalar gates: one e^x per visible pair,
 * x = B_i - B_j <= 0, so it underflows to 0 and never overflows. Vector
 * gates cannot be a mask; block rows fold their decay relative to the
 * block's first row i0 (Q ⊙ e^{B_i - B_{i0}} <= 1, and keys before the
 * block K ⊙ e^{B_{i0} - B_j} <= 1), and the diagonal block, whose factors
 * would exceed 1, is summed element-wise with e^{B_i - B_j} per term.
 *
 * Decode: prepare() runs the chunk form over the context 0..N-2 to leave
 * (S, z, key shift) per head in the workspace; forward() takes the one
 * step at N - 1 without touching it:
 *     o = S_{N-1}ᵀ q = Sᵀ (a_{N-1} ⊙ q) + v_{N-1} (k_{N-1} · q).
 *
 * Feature maps. Every form gets φ through feat_rows(), a block of rows at
 * a time. The element-wise maps (identity, elu + 1) stay inline loops
 * there, row by row, as fast as before F existed. A block map
 * (spec->fmap) gets, per block, the projection U = X Ωᵀ as one GEMM
 * (rows, D)·(D, m) - at m = 256 the largest product of the chunk - then
 * one call that turns U into φ. Ω is drawn once, in prepare(), into the
 * front of the workspace (proj_fill(); the oracle draws the same floats).
 * A map that shifts its keys (Performer: e^{-c}, c the largest exponent
 * seen) may raise the shift while a head runs; everything summed so far -
 * S and z - is then multiplied by e^{old - new} (<= 1): once per chunk in
 * the chunk form, folded into the decay a_t of the step in the recurrent
 * form, as a scalar on the prepared state in decode (which must not change
 * it), and per query block in the causal parallel form (to the keys
 * before the block; not causal, it maps all keys at once under their max).
 * Since numerator and denominator carry the same factor, the shift cancels.
 *
 * HGRN-2 (key_from_gate): the key of step t is 1 - a_t, made from the gate
 * where every form, decode and the oracle would read φ(K[t]) (key_row());
 * nothing else changes.
 *
 * Non-causal (no gates): S = Σ_j k_j v_jᵀ over all keys (recurrent or
 * chunked), then O = Q S row by row or as one GEMM per chunk; the parallel
 * form lets every query see every key.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "attnbench/status.h"
#include "attnbench/workload.h"
#include "engines/linattn.h"
#include "kernels/kernels.h"

/* Bound on |G| inside a chunk (see the top): folded factors stay in [e^-20, e^20]. */
#define LIN_SPAN 20.0f
/* Rows per band of the chunk's intra products: the GEMM tile's width. */
#define LIN_BAND ATTN__GEMM_NR
/*
 * The parallel form's decay factors below e^LIN_FLUSH are taken as 0: they
 * weigh a key 1e-28 below a neighbour of weight ~1, far under float32's
 * resolution, while the subnormal products they would make (e^-87 times a
 * score) run GEMMs several times slower - the parallel form's time per pair
 * doubled from N = 2048 to 4096 under retnet's decays before this.
 */
#define LIN_FLUSH -64.0f

static inline float decay_exp(float x)
{
	return x < LIN_FLUSH ? 0.0f : attn__expf(x);
}

/* Query rows per block of the parallel form, and keys per block of its scores. */
#define LIN_BQ 64
#define LIN_BK 512
/* Largest feature dimension F a block map may ask for. */
#define LIN_FMAX 8192

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

void attn__lin_spec_proj(struct attn__lin_spec *ls, const struct attn_params *p,
                         const struct attn_param_spec *params, enum attn__lin_proj kind)
{
	ls->proj = attn__param_int(p, ATTN__LIN_P_M, (int64_t)params[ATTN__LIN_P_M].def);
	ls->seed =
	    (uint64_t)attn__param_int(p, ATTN__LIN_P_SEED, (int64_t)params[ATTN__LIN_P_SEED].def);
	ls->proj_kind = kind;
}

/* The factor on φ(q): 1/√D or 1. */
static double q_scale(const struct attn__lin_spec *ls, int64_t D)
{
	return ls->scale_sqrt_d ? 1.0 / sqrt((double)D) : 1.0;
}

/* Floats of gate per step: 0 (none), 1 (head, scalar) or F (vector, where F = D). */
static int64_t gate_dims(const struct attn__lin_spec *ls, int64_t F)
{
	switch (ls->gate) {
	case ATTN__LIN_GATE_HEAD:
	case ATTN__LIN_GATE_SCALAR: return 1;
	case ATTN__LIN_GATE_VEC: return F;
	default: return 0;
	}
}

/* F, the feature (key) dimension: D for the element-wise maps. */
static int64_t feat_dim(const struct attn__lin_spec *ls, int64_t D)
{
	return ls->fmap ? ls->fmap->dim(ls, D) : D;
}

/* Rows of the random projection Ω (m): 0 without a block map. */
static int64_t proj_rows(const struct attn__lin_spec *ls)
{
	return ls->fmap && ls->proj > 0 ? ls->proj : 0;
}

/* Row stride of Ωᵀ (D, ldm), padded like the other strides (see plan_init). */
static int64_t proj_ld(const struct attn__lin_spec *ls)
{
	return attn__round_up(proj_rows(ls), 16) + 16;
}

static int lin_supports(const struct attn__lin_spec *ls, const struct attn_shape *s, char *msg,
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
	if (ls->fmap) {
		const int64_t F = feat_dim(ls, s->d);
		if (F < 1 || F > LIN_FMAX || ls->proj < 0 || ls->proj > F)
			return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED,
			                 "feature dimension %lld (projection %lld) outside 1..%d",
			                 (long long)F, (long long)ls->proj, LIN_FMAX);
		/* a vector gate would need F = D, and k = 1 - a bypasses φ */
		if (ls->gate == ATTN__LIN_GATE_VEC || ls->key_from_gate)
			return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED,
			                 "%s: a block feature map takes no vector gate",
			                 ls->name ? ls->name : "this method");
	}
	return ATTN_OK;
}

/* ---- the workspace ------------------------------------------------------------- */

/*
 * How the workspace is carved; workspace_bytes(), prepare() and forward()
 * all build it from the same (spec, shape, threads).
 *
 * First Ωᵀ (D, ldm), the block map's projection (if any), written by
 * prepare(). Decode: then the state of every head, (S (F, ldd), z (ldf),
 * key shift (16 floats, one used)) each. Then the slices. Each of
 * `threads` slices holds, by form:
 *   chunk (also decode, whose prepare() runs the chunk form):
 *     qb (C, ldf) Q̃   kbt (F, ldc) K̃ᵀ   kc (C, ldf) K̂   a (C, ldc) scores
 *     g (C, gd) G     vb (C, ldd) V      s (F, ldd) S    z, a0, el (ldf)
 *     den (C)    tmp (ldf)
 *   recurrent: s (F, ldd), z, qv, kv, av (ldf)
 *   parallel:  bc (N, gd) doubles B   kf (N, ldf) φ(K)   kt (N, ldf) folded
 *     keys (vector gates only)   qt (F, ldq) Qᵀ   qf (BQ, ldf)   st (BK, ldq)
 *     Sᵀ   acc (BQP, D)   pden (BQP)
 * Row strides are padded (ldd = D rounded to 16 plus 16 floats, ldf, ldc,
 * ldq and ldm likewise) so that no GEMM operand walks down a column at a
 * multiple of 512 bytes (L1 set conflicts; see attn__gemm).
 */
struct lin_plan {
	int threads;
	int64_t N, D, F, C, gd, proj;
	int64_t ldd, ldf, ldc, ldq, ldm, bqp;
	size_t proj_bytes; /* Ωᵀ at the front */
	size_t head_state; /* floats of one head's (S, z, shift) */
	size_t state;      /* bytes of all heads' states (decode), after Ωᵀ */
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
	const int64_t N = s->n, D = s->d, F = feat_dim(ls, D);
	const int64_t C = attn__min64(ls->chunk > 0 ? ls->chunk : 1, N);
	size_t off = 0;

	memset(pl, 0, sizeof *pl);
	pl->threads = threads < 1 ? 1 : threads;
	pl->N = N;
	pl->D = D;
	pl->F = F;
	pl->C = C;
	pl->gd = gate_dims(ls, F);
	pl->proj = proj_rows(ls);
	pl->ldd = attn__round_up(D, 16) + 16;
	pl->ldf = attn__round_up(F, 16) + 16;
	pl->ldc = attn__round_up(C, 32) + 16;
	pl->ldm = proj_ld(ls);
	pl->bqp = attn__round_up(attn__min64(LIN_BQ, N), 32);
	pl->ldq = pl->bqp + 16;

	const size_t f = sizeof(float);
	const int64_t gd1 = pl->gd > 0 ? pl->gd : 1;
	if (s->mode == ATTN_MODE_DECODE || ls->form == ATTN__LIN_FORM_CHUNK) {
		pl->o_qb = carve(&off, (size_t)(C * pl->ldf) * f);
		pl->o_kbt = carve(&off, (size_t)(F * pl->ldc) * f);
		pl->o_kc = carve(&off, (size_t)(C * pl->ldf) * f);
		pl->o_a = carve(&off, (size_t)(C * pl->ldc) * f);
		pl->o_g = carve(&off, (size_t)(C * gd1) * f);
		pl->o_vb = carve(&off, (size_t)(C * pl->ldd) * f);
		pl->o_s = carve(&off, (size_t)(F * pl->ldd) * f);
		pl->o_z = carve(&off, (size_t)pl->ldf * f);
		pl->o_a0 = carve(&off, (size_t)pl->ldf * f);
		pl->o_el = carve(&off, (size_t)pl->ldf * f);
		pl->o_den = carve(&off, (size_t)C * f);
		pl->o_tmp = carve(&off, (size_t)(C * pl->ldf) * f);
	} else if (ls->form == ATTN__LIN_FORM_RECURRENT) {
		pl->o_s = carve(&off, (size_t)(F * pl->ldd) * f);
		pl->o_z = carve(&off, (size_t)pl->ldf * f);
		pl->o_qv = carve(&off, (size_t)pl->ldf * f);
		pl->o_kv = carve(&off, (size_t)pl->ldf * f);
		pl->o_av = carve(&off, (size_t)pl->ldf * f);
	} else {
		pl->o_bc = carve(&off, (size_t)(N * pl->gd) * sizeof(double));
		pl->o_kf = carve(&off, (size_t)(N * pl->ldf) * f);
		pl->o_kt = carve(&off, (size_t)(pl->gd > 1 ? N * pl->ldf : 0) * f);
		pl->o_qt = carve(&off, (size_t)(F * pl->ldq) * f);
		pl->o_qf = carve(&off, (size_t)(LIN_BQ * pl->ldf) * f);
		pl->o_st = carve(&off, (size_t)(attn__min64(N, LIN_BK) * pl->ldq) * f);
		pl->o_acc = carve(&off, (size_t)(pl->bqp * D) * f);
		pl->o_pden = carve(&off, (size_t)pl->bqp * f);
	}
	pl->slice = off;

	pl->proj_bytes = pl->proj > 0 ? attn__floats64(D * pl->ldm) : 0;
	if (s->mode == ATTN_MODE_DECODE) {
		/* S, z, shift: a multiple of 16 floats, so every head starts 64-byte aligned */
		pl->head_state = (size_t)(F * pl->ldd + pl->ldf + 16);
		pl->state = (size_t)(s->batch * s->heads) * pl->head_state * f;
	}
	pl->total = pl->proj_bytes + pl->state + (size_t)pl->threads * pl->slice;
}

/* Ωᵀ (D, ldm) at the front of ws; NULL without a projection. */
static float *plan_proj(const struct lin_plan *pl, void *ws)
{
	return pl->proj > 0 ? (float *)ws : NULL;
}

/* Head bh's decode state (S (F, ldd), then z (ldf), then the key shift). */
static float *plan_head_state(const struct lin_plan *pl, void *ws, int64_t bh)
{
	return (float *)((char *)ws + pl->proj_bytes) + (size_t)bh * pl->head_state;
}

/* The calling thread's slice. */
static char *plan_slice(const struct lin_plan *pl, void *ws)
{
	return (char *)ws + pl->proj_bytes + pl->state + (size_t)attn__thread_id() * pl->slice;
}

static size_t lin_workspace_bytes(const struct attn__lin_spec *ls, const struct attn_shape *s,
                                  int threads)
{
	struct lin_plan pl;
	plan_init(&pl, ls, s, threads);
	return pl.total;
}

/* ---- cost ---------------------------------------------------------------------- */

/*
 * FLOPs, counting a multiply-add as 2 and leaving out the O(N F) work
 * (element-wise maps, folding exponentials, normalisation), per head:
 *   decode     2 F D (Sᵀ (a ⊙ q)) + 2 F (k · q) + 2 D (the v update)
 *   recurrent  4 N F D: per step 2 F D for the rank-1 update, 2 F D for Sᵀ q
 *   chunk      4 N F D (passes 1 and 4) + 2 (F + D) · pairs (passes 2 and 3,
 *              over the causal triangle of each chunk: pairs = Σ c (c + 1) / 2
 *              for chunks of C; this is the useful work, like flash's count,
 *              so the brief's upper bound 4 N C D + 4 N D² is the square's);
 *              not causal: 4 N F D (state, then Q S)
 *   parallel   2 (F + D) · pairs over visible (query, key) pairs, as softmax
 * plus, with a projection Ω (m, D), 2 D m per mapped row: 2 N rows in
 * prefill (every query and key once), 2 in decode (the query and the new
 * key). A chunk cut short by strong gates (see the top) does less than this.
 */
static double lin_flops(const struct attn__lin_spec *ls, const struct attn_shape *s)
{
	const double heads = (double)s->batch * (double)s->heads;
	const double N = (double)s->n, D = (double)s->d, F = (double)feat_dim(ls, s->d);
	const double row = 2.0 * D * (double)proj_rows(ls);

	if (s->mode == ATTN_MODE_DECODE)
		return heads * (2.0 * F * D + 2.0 * F + 2.0 * D + 2.0 * row);
	const double maps = heads * 2.0 * N * row;
	switch (ls->form) {
	case ATTN__LIN_FORM_RECURRENT: return heads * 4.0 * N * F * D + maps;
	case ATTN__LIN_FORM_CHUNK: {
		if (!s->causal)
			return heads * 4.0 * N * F * D + maps;
		const int64_t C = attn__min64(ls->chunk, s->n);
		const double full = (double)(s->n / C), r = (double)(s->n % C);
		const double pairs = full * (double)C * (double)(C + 1) / 2.0 + r * (r + 1.0) / 2.0;
		return heads * (4.0 * N * F * D + 2.0 * (F + D) * pairs) + maps;
	}
	default: return 2.0 * (F + D) * attn__softmax_pairs(s) + maps;
	}
}

/*
 * Compulsory traffic: Q, K, V read and O written once, plus the gates
 * (B H N floats, or B H N D for vector gates) and Ω (m D floats, shared by
 * all heads). Decode reads one row of K, V and gates and the state
 * (F D + F floats per head) instead. The parallel form adds its score
 * blocks as softmax does (written, read and rewritten by the mask pass,
 * read by P V: 4 floats per pair). The chunk and recurrent forms' state and
 * tiles stay in cache. With key_from_gate K is not read.
 */
static double lin_bytes(const struct attn__lin_spec *ls, const struct attn_shape *s)
{
	const double f = sizeof(float);
	const double heads = (double)s->batch * (double)s->heads;
	const double D = (double)s->d, gd = (double)gate_dims(ls, s->d);
	const double F = (double)feat_dim(ls, s->d);
	const double gate_in = ls->gate == ATTN__LIN_GATE_HEAD ? 0.0 : gd;
	const double kv_in = ls->key_from_gate ? 1.0 : 2.0; /* K and V, or V only */
	const double omega = f * D * (double)proj_rows(ls);

	if (s->mode == ATTN_MODE_DECODE)
		return f * (heads * (2.0 * D + F * D + F + gate_in) +
		            kv_in * (double)s->batch * (double)s->kv_heads * D) +
		       omega;
	double b = attn__qkvo_bytes(s) + f * heads * (double)s->n * gate_in + omega;
	if (ls->key_from_gate)
		b -= f * (double)s->batch * (double)s->kv_heads * (double)s->n * D;
	if (ls->form == ATTN__LIN_FORM_PARALLEL)
		b += 4.0 * f * attn__softmax_pairs(s);
	return b;
}

/* ---- one head ------------------------------------------------------------------ */

/* One head's data: pointers into the inputs and the output, and its gate. */
struct lin_head {
	const float *q;  /* (NQ, D) */
	const float *k;  /* (N, D), the K/V head of this query head */
	const float *v;  /* (N, D) */
	float *o;        /* (NQ, D) */
	const float *wt; /* (D, ldm) Ωᵀ, the block map's projection; NULL if none */
	const float *g;  /* log gate of step t: g + t * gstride, gd floats; NULL if none */
	int64_t gstride;
	float hg; /* a head gate's value, which g then points at (stride 0) */
};

/* Call once per head, in place (g may point into *hd). wt: Ωᵀ or NULL. */
static void head_init(struct lin_head *hd, const struct attn__lin_spec *ls,
                      const struct attn_shape *s, const struct attn_inputs *in, float *out,
                      const float *wt, int64_t bh)
{
	const int64_t H = s->heads, N = s->n, D = s->d;
	const int64_t NQ = attn_shape_nq(s);
	const int64_t h = bh % H, kv = attn__kv_head(s, bh) * N * D;

	hd->q = in->q + bh * NQ * D;
	hd->k = in->k + kv;
	hd->v = in->v + kv;
	hd->o = out ? out + bh * NQ * D : NULL;
	hd->wt = wt;
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
 * dst (D) = the key of step t under an element-wise map: φ(k_t), or, with
 * ls->key_from_gate (HGRN-2), 1 - a_t = -expm1(g_t) (expm1 keeps 1 - a
 * exact for a near 1; attn__expm1f, as libm's would not vectorise). The
 * oracle has its own.
 */
static void key_row(float *dst, const struct attn__lin_spec *ls, const struct lin_head *hd,
                    int64_t t, int64_t D)
{
	if (ls->key_from_gate) {
		const float *gt = gate_row(hd, t);
		if (ls->gate == ATTN__LIN_GATE_VEC) {
			for (int64_t d = 0; d < D; d++)
				dst[d] = -attn__expm1f(gt[d]);
		} else {
			const float k = -attn__expm1f(gt[0]);
			for (int64_t d = 0; d < D; d++)
				dst[d] = k;
		}
	} else {
		feat_row(dst, hd->k + t * D, D, ls->feature, 1.0f);
	}
}

/*
 * dst (n, ldf) = φ of rows [pos, pos + n) of the head's queries (times the
 * query scale; x (n, D) their rows, which in decode sit at pos = N - 1) or
 * keys (x = K[pos]). Every form, decode and the non-causal output get φ
 * here. Element-wise maps run row by row in inlined loops; a block map
 * gets U = X Ωᵀ by one GEMM into dst, then one call (see the top).
 * kshift: the head's running key shift (keys only; NULL for queries).
 */
static void feat_rows(const struct attn__lin_spec *ls, const struct lin_plan *pl,
                      const struct lin_head *hd, int is_query, const float *x, int64_t pos,
                      int64_t n, float *dst, float *kshift)
{
	const int64_t D = pl->D, ldf = pl->ldf;
	const float qscale = (float)q_scale(ls, D);

	if (!ls->fmap) {
		for (int64_t i = 0; i < n; i++) {
			if (is_query)
				feat_row(dst + i * ldf, x + i * D, D, ls->feature, qscale);
			else
				key_row(dst + i * ldf, ls, hd, pos + i, D);
		}
		return;
	}
	if (pl->proj > 0)
		attn__gemm(n, pl->proj, D, x, D, 1, hd->wt, pl->ldm, dst, ldf, 0);
	const struct attn__lin_rows r = {
	    .x = x, .n = n, .pos = pos, .N = pl->N, .D = D, .is_query = is_query};
	ls->fmap->apply(ls, &r, dst, ldf, is_query ? NULL : kshift);
	if (is_query && qscale != 1.0f)
		for (int64_t i = 0; i < n; i++)
			attn__scale(dst + i * ldf, qscale, pl->F);
}

/*
 * e^{old - now}: the factor on what was summed under key shift `old` once
 * the shift has risen to `now`; 1 when it has not, or before any key.
 */
static float shift_factor(float old, float now)
{
	return (now == old || old == -INFINITY) ? 1.0f : attn__expf(old - now);
}

/* x (n) *= e^{g} element-wise (g (n) log factors). */
static void mul_exp(float *x, const float *g, int64_t n)
{
	for (int64_t d = 0; d < n; d++)
		x[d] *= attn__expf(g[d]);
}

/* S (F, ldd) rows and z (F) scaled by f (gd == 1: f[0] for all; gd == F: f[r] for row r). */
static void scale_state(float *S, float *z, const float *f, int64_t gd, int64_t F, int64_t D,
                        int64_t ldd)
{
	for (int64_t r = 0; r < F; r++) {
		const float fr = gd == 1 ? f[0] : f[r];
		attn__scale(S + r * ldd, fr, D);
		if (z)
			z[r] *= fr;
	}
}

/*
 * The chunk form over steps [t0, t1) of one head, carrying (S, z) and the
 * key shift in and out (see the top of the file). With `with_out`, rows
 * [t0, t1) of the head's output are written; without, only the state
 * advances.
 *   S (F, ldd), z (F) or NULL when not normalising; slice: the thread's.
 */
static void chunk_run(const struct attn__lin_spec *ls, const struct lin_plan *pl,
                      const struct lin_head *hd, int64_t t0, int64_t t1, int with_out, float *S,
                      float *z, float *kshift, char *slice)
{
	const int64_t D = pl->D, F = pl->F, C = pl->C, gd = pl->gd;
	const int64_t ldd = pl->ldd, ldf = pl->ldf, ldc = pl->ldc;
	float *qb = (float *)(slice + pl->o_qb);   /* (C, ldf)  Q̃ */
	float *kbt = (float *)(slice + pl->o_kbt); /* (F, ldc)  K̃ᵀ */
	float *kc = (float *)(slice + pl->o_kc);   /* (C, ldf)  K̂ */
	float *a = (float *)(slice + pl->o_a);     /* (C, ldc)  intra scores */
	float *g = (float *)(slice + pl->o_g);     /* (C, gd)   G */
	float *vb = (float *)(slice + pl->o_vb);   /* (C, ldd)  V, padded rows */
	float *a0 = (float *)(slice + pl->o_a0);   /* (gd)      e^{g_t}: first gate */
	float *el = (float *)(slice + pl->o_el);   /* (gd)      e^{G_{c-1}} */
	float *den = (float *)(slice + pl->o_den); /* (C)       normaliser */
	float *kt = (float *)(slice + pl->o_tmp);  /* (C, ldf)  K̃, then Q̃ ⊙ a_t */

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
		 * pass 0b: φ(K) into K̂'s rows (which may raise the key shift)
		 * and φ(Q) · scale into Q̃'s, then the folds: K̂_j = φ(k_j)
		 * e^{G_{c-1} - G_j}, K̃ᵀ[:, j] = φ(k_j) e^{-G_j},
		 * Q̃_i = φ(q_i) · scale · e^{G_i}; V copied to padded rows. A
		 * block map maps the chunk at once (its GEMM); an element-wise
		 * one row by row inside the fold loop, while the row is in L1.
		 */
		const float ks0 = *kshift;
		const int64_t cb = ls->fmap ? c : 0; /* rows mapped up front */
		feat_rows(ls, pl, hd, 0, hd->k + t * D, t, cb, kc, kshift);
		if (with_out)
			feat_rows(ls, pl, hd, 1, hd->q + t * D, t, cb, qb, NULL);
		const float kf = shift_factor(ks0, *kshift);
		for (int64_t j = 0; j < c; j++) {
			float *kr = kc + j * ldf;
			if (j >= cb)
				feat_rows(ls, pl, hd, 0, hd->k + (t + j) * D, t + j, 1, kr, kshift);
			memcpy(vb + j * ldd, hd->v + (t + j) * D, (size_t)D * sizeof(float));
			if (with_out) {
				/* K̃_j, row-major: transposed below, a block at a time */
				float *kk = kt + j * ldf;
				if (gd == 0) {
					memcpy(kk, kr, (size_t)F * sizeof(float));
				} else if (gd == 1) {
					const float f = attn__expf(-g[j]);
					for (int64_t d = 0; d < F; d++)
						kk[d] = kr[d] * f;
				} else {
					const float *Gj = g + j * gd;
					for (int64_t d = 0; d < F; d++)
						kk[d] = kr[d] * attn__expf(-Gj[d]);
				}
				float *qr = qb + j * ldf;
				if (j >= cb)
					feat_rows(ls, pl, hd, 1, hd->q + (t + j) * D, t + j, 1, qr,
					          NULL);
				if (gd == 1)
					attn__scale(qr, attn__expf(g[j]), F);
				else if (gd > 1)
					mul_exp(qr, g + j * gd, F);
			}
			/* K̂_j = φ(k_j) e^{G_{c-1} - G_j}: from K̃_j when there is one */
			if (gd == 1) {
				attn__scale(kr, attn__expf(g[c - 1] - g[j]), F);
			} else if (gd > 1 && with_out) {
				const float *kk = kt + j * ldf;
				for (int64_t d = 0; d < F; d++)
					kr[d] = kk[d] * el[d];
			} else if (gd > 1) {
				const float *Gj = g + j * gd, *Gl = g + (c - 1) * gd;
				for (int64_t d = 0; d < F; d++)
					kr[d] *= attn__expf(Gl[d] - Gj[d]);
			}
		}
		if (with_out)
			attn__transpose(kbt, ldc, kt, ldf, c, F);

		/*
		 * S' = Diag(a_t) S e^{old shift - new}, z' likewise. The key
		 * shift's factor is applied to S; a_t is not: pass 1 reads
		 * Q̃ ⊙ a_t instead (c x F, where S is F x D), and pass 4 scales S
		 * once by a_t e^{G_{c-1}}.
		 */
		if (kf != 1.0f)
			scale_state(S, z, &kf, 1, F, D, ldd);
		if (gd > 0 && z)
			for (int64_t r = 0; r < F; r++)
				z[r] *= a0[gd == 1 ? 0 : r];

		if (with_out) {
			float *o = hd->o + t * D; /* (c, D) */

			/* pass 1: O = Q̃ S' = (Q̃ ⊙ a_t) S  (c, D); kt is free again */
			const float *qa = qb;
			if (gd > 0) {
				for (int64_t i = 0; i < c; i++)
					for (int64_t d = 0; d < F; d++)
						kt[i * ldf + d] =
						    qb[i * ldf + d] * a0[gd == 1 ? 0 : d];
				qa = kt;
			}
			attn__gemm(c, D, F, qa, ldf, 1, S, ldd, o, D, 0);

			/*
			 * passes 2 and 3, by bands of rows [r0, r0 + mr), each
			 * against columns [0, r0 + mr): A = Q̃ K̃ᵀ, masked above
			 * the diagonal; O += A V.
			 */
			for (int64_t r0 = 0; r0 < c; r0 += LIN_BAND) {
				const int64_t mr = attn__min64(LIN_BAND, c - r0), nc = r0 + mr;
				float *ab = a + r0 * ldc;
				attn__gemm(mr, nc, F, qb + r0 * ldf, ldf, 1, kbt, ldc, ab, ldc, 0);
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

			/* O_i /= Q̃_i · z' + Σ_j A_ij + ε */
			if (ls->normalize) {
				for (int64_t i = 0; i < c; i++) {
					const float dn =
					    den[i] + attn__dot(qb + i * ldf, z, F) + ls->den_eps;
					attn__scale(o + i * D, 1.0f / dn, D);
				}
			}
		}

		/*
		 * pass 4: S = Diag(a_t e^{G_{c-1}}) S + K̂ᵀ V (S' never formed),
		 * z = e^{G_{c-1}} z' + Σ_j K̂_j
		 */
		if (gd > 0) {
			for (int64_t d = 0; d < gd; d++)
				a0[d] *= el[d];
			scale_state(S, NULL, a0, gd, F, D, ldd);
			if (z)
				for (int64_t r = 0; r < F; r++)
					z[r] *= el[gd == 1 ? 0 : r];
		}
		attn__gemm(F, D, c, kc, 1, ldf, vb, ldd, S, ldd, 1);
		if (z)
			for (int64_t j = 0; j < c; j++)
				attn__axpy(z, 1.0f, kc + j * ldf, F);

		t += c;
	}
}

/*
 * O = φ(Q) S [/ (φ(Q) · z + ε)] for every row of the head: the output of
 * the non-causal forms once S holds all keys. Chunk form: one GEMM per C
 * rows (uses the chunk slice's qb); recurrent form: row by row (qv).
 */
static void apply_state(const struct attn__lin_spec *ls, const struct lin_plan *pl,
                        const struct lin_head *hd, const float *S, const float *z, int gemm,
                        char *slice)
{
	const int64_t N = pl->N, D = pl->D, F = pl->F, ldd = pl->ldd, ldf = pl->ldf;
	const int64_t rows = gemm ? pl->C : 1;
	float *qb = (float *)(slice + (gemm ? pl->o_qb : pl->o_qv)); /* (rows, ldf) */

	for (int64_t t = 0; t < N; t += rows) {
		const int64_t c = attn__min64(rows, N - t);
		float *o = hd->o + t * D;
		feat_rows(ls, pl, hd, 1, hd->q + t * D, t, c, qb, NULL);
		attn__gemm(c, D, F, qb, ldf, 1, S, ldd, o, D, 0);
		if (ls->normalize)
			for (int64_t i = 0; i < c; i++)
				attn__scale(o + i * D,
				            1.0f / (attn__dot(qb + i * ldf, z, F) + ls->den_eps),
				            D);
	}
}

/*
 * The recurrent form over steps [t0, t1) of one head, carrying (S, z) and
 * the key shift; with `with_out` row t of the output is written after step t.
 */
static void recurrent_run(const struct attn__lin_spec *ls, const struct lin_plan *pl,
                          const struct lin_head *hd, int64_t t0, int64_t t1, int with_out, float *S,
                          float *z, float *kshift, char *slice)
{
	const int64_t D = pl->D, F = pl->F, gd = pl->gd, ldd = pl->ldd;
	float *qv = (float *)(slice + pl->o_qv); /* (F) φ(q_t) · scale */
	float *kv = (float *)(slice + pl->o_kv); /* (F) φ(k_t) */
	float *av = (float *)(slice + pl->o_av); /* (F) a_t, times the shift's factor */

	for (int64_t t = t0; t < t1; t++) {
		const float *v = hd->v + t * D;
		float *o = with_out ? hd->o + t * D : NULL;
		const float ks0 = *kshift;
		feat_rows(ls, pl, hd, 0, hd->k + t * D, t, 1, kv, kshift);
		if (with_out) {
			feat_rows(ls, pl, hd, 1, hd->q + t * D, t, 1, qv, NULL);
			memset(o, 0, (size_t)D * sizeof(float));
		}
		if (gd == 1) {
			const float a = attn__expf(gate_row(hd, t)[0]);
			for (int64_t r = 0; r < F; r++)
				av[r] = a;
		} else if (gd > 1) {
			const float *gt = gate_row(hd, t);
			for (int64_t r = 0; r < F; r++)
				av[r] = attn__expf(gt[r]);
		} else {
			for (int64_t r = 0; r < F; r++)
				av[r] = 1.0f;
		}
		/* a raised key shift scales the old state like a decay would */
		const float kf = shift_factor(ks0, *kshift);
		if (kf != 1.0f)
			attn__scale(av, kf, F);

		/* per row r of S: S[r] = a_r S[r] + k_r v;  o += q_r S[r] */
		for (int64_t r = 0; r < F; r++) {
			float *sr = S + r * ldd;
			const float ar = av[r], kr = kv[r];
			for (int64_t c = 0; c < D; c++)
				sr[c] = attn__fmaf(ar, sr[c], kr * v[c]);
			if (with_out)
				attn__axpy(o, qv[r], sr, D);
		}
		if (z)
			for (int64_t r = 0; r < F; r++)
				z[r] = attn__fmaf(av[r], z[r], kv[r]);
		if (with_out && ls->normalize)
			attn__scale(o, 1.0f / (attn__dot(qv, z, F) + ls->den_eps), D);
	}
}

/* The parallel form of one head, prefill (see the top of the file). */
static void parallel_head(const struct attn__lin_spec *ls, const struct lin_plan *pl,
                          const struct lin_head *hd, int causal, char *slice)
{
	const int64_t N = pl->N, D = pl->D, F = pl->F, gd = pl->gd;
	const int64_t ldf = pl->ldf, ldq = pl->ldq, bqp = pl->bqp;
	double *bc = (double *)(slice + pl->o_bc);   /* (N, gd) B, cumulative log decay */
	float *kf = (float *)(slice + pl->o_kf);     /* (N, ldf) φ(K) */
	float *kt = (float *)(slice + pl->o_kt);     /* (N, ldf) keys folded to block start */
	float *qt = (float *)(slice + pl->o_qt);     /* (F, ldq) the block's Qᵀ, folded */
	float *qf = (float *)(slice + pl->o_qf);     /* (BQ, ldf) the block's φ(Q) · scale */
	float *st = (float *)(slice + pl->o_st);     /* (BK, ldq) Sᵀ, then Pᵀ */
	float *acc = (float *)(slice + pl->o_acc);   /* (bqp, D) */
	float *pden = (float *)(slice + pl->o_pden); /* (bqp) */

	/* pass 0: B_t = Σ_{s <= t} g_s in float64; not causal, φ(K) under one shift */
	if (gd > 0) {
		for (int64_t d = 0; d < gd; d++)
			bc[d] = (double)gate_row(hd, 0)[d];
		for (int64_t t = 1; t < N; t++) {
			const float *gt = gate_row(hd, t);
			for (int64_t d = 0; d < gd; d++)
				bc[t * gd + d] = bc[(t - 1) * gd + d] + (double)gt[d];
		}
	}
	float kshift = -INFINITY;
	if (!causal)
		feat_rows(ls, pl, hd, 0, hd->k, 0, N, kf, &kshift);

	for (int64_t i0 = 0; i0 < N; i0 += LIN_BQ) {
		const int64_t mb = attn__min64(LIN_BQ, N - i0), i1 = i0 + mb;
		const int64_t kend = causal ? i1 : N;
		/* keys the GEMM covers: vector gates leave the diagonal block to pass 2b */
		const int64_t kgemm = gd > 1 ? i0 : kend;

		/*
		 * pass 0b, causal: φ of the block's keys under the running key
		 * shift, as in the chunk form, and the earlier keys follow it
		 * down: the block's queries never see a key that underflowed
		 * only because a later one was large.
		 */
		if (causal) {
			const float ks0 = kshift;
			feat_rows(ls, pl, hd, 0, hd->k + i0 * D, i0, mb, kf + i0 * ldf, &kshift);
			const float f = shift_factor(ks0, kshift);
			if (f != 1.0f)
				for (int64_t j = 0; j < i0; j++)
					attn__scale(kf + j * ldf, f, F);
		}

		/*
		 * pass 1: the block's φ(Q) · scale, transposed, then folded (vector
		 * gates) in qt only: pass 2b reads qf unfolded
		 */
		feat_rows(ls, pl, hd, 1, hd->q + i0 * D, i0, mb, qf, NULL);
		attn__pack_qt(qt, ldq, qf, ldf, mb, bqp, F, 1.0f);
		if (gd > 1)
			for (int64_t d = 0; d < F; d++)
				for (int64_t i = 0; i < mb; i++)
					qt[d * ldq + i] *= attn__expf(
					    (float)(bc[(i0 + i) * gd + d] - bc[i0 * gd + d]));

		/* vector gates fold the keys before the block to i0 first */
		const float *keys = kf;
		if (gd > 1) {
			for (int64_t j = 0; j < i0; j++)
				for (int64_t d = 0; d < F; d++)
					kt[j * ldf + d] =
					    kf[j * ldf + d] *
					    decay_exp((float)(bc[i0 * gd + d] - bc[j * gd + d]));
			keys = kt;
		}

		/*
		 * passes 2 to 4 by blocks of LIN_BK keys [j0, j1), so that the
		 * score block Sᵀ (j1 - j0, bqp) stays in cache from the GEMM that
		 * writes it to the one that reads it (over all N at once it would
		 * not, and time per pair would grow with N). Key j's row of Sᵀ
		 * is st's row j - j0.
		 */
		if (ls->normalize)
			memset(pden, 0, (size_t)bqp * sizeof(float));
		for (int64_t j0 = 0; j0 < kend; j0 += LIN_BK) {
			const int64_t j1 = attn__min64(j0 + LIN_BK, kend);

			/* pass 2: Sᵀ = keys Qᵀ over the keys the GEMM covers (vector
			 * gates leave the diagonal block to pass 2b) */
			const int64_t g1 = attn__min64(j1, kgemm);
			if (g1 > j0)
				attn__gemm(g1 - j0, bqp, F, keys + j0 * ldf, ldf, 1, qt, ldq, st,
				           ldq, 0);

			/*
			 * pass 2b: the diagonal block under vector gates, term by term:
			 * S_ij = Σ_d q_id k_jd e^{B_id - B_jd} for j <= i, 0 above.
			 */
			for (int64_t j = j0 > kgemm ? j0 : kgemm; gd > 1 && j < j1; j++) {
				float *row = st + (j - j0) * ldq;
				const double *bj = bc + j * gd;
				for (int64_t i = 0; i < bqp; i++) {
					if (i >= mb || i0 + i < j) {
						row[i] = 0.0f;
						continue;
					}
					const double *bi = bc + (i0 + i) * gd;
					const float *qr = qf + i * ldf, *kr = kf + j * ldf;
					float sum = 0.0f;
					for (int64_t d = 0; d < F; d++)
						sum += qr[d] * kr[d] *
						       decay_exp((float)(bi[d] - bj[d]));
					row[i] = sum;
				}
			}

			/*
			 * pass 3: the mask. Scalar gates: S_ij *= e^{B_i - B_j} (<= 1)
			 * for j <= i; causal: 0 above the diagonal (the padding
			 * columns are 0 from the GEMM already, but the mask must not
			 * read B beyond N).
			 */
			if (gd == 1) {
				for (int64_t j = j0; j < j1; j++) {
					float *row = st + (j - j0) * ldq;
					const int64_t lo =
					    j > i0 ? j - i0 : 0; /* first row that sees j */
					for (int64_t i = 0; i < lo; i++)
						row[i] = 0.0f;
					for (int64_t i = lo; i < mb; i++)
						row[i] *= decay_exp((float)(bc[i0 + i] - bc[j]));
				}
			} else if (gd == 0 && causal) {
				for (int64_t j = (j0 > i0 + 1 ? j0 : i0 + 1); j < j1; j++)
					memset(st + (j - j0) * ldq, 0,
					       (size_t)(j - i0) * sizeof(float));
			}

			/* pass 4: O_block (bqp, D) (+)= P V, reading Pᵀ in place; row sums */
			attn__gemm(bqp, D, j1 - j0, st, 1, ldq, hd->v + j0 * D, D, acc, D, j0 > 0);
			if (ls->normalize)
				for (int64_t j = j0; j < j1; j++)
					attn__axpy(pden, 1.0f, st + (j - j0) * ldq, bqp);
		}
		for (int64_t i = 0; i < mb; i++) {
			float *o = hd->o + (i0 + i) * D;
			memcpy(o, acc + i * D, (size_t)D * sizeof(float));
			if (ls->normalize)
				attn__scale(o, 1.0f / (pden[i] + ls->den_eps), D);
		}
	}
}

/*
 * The decode step of one head from its prepared (S, z) under key shift
 * `kshift`:
 *   o = f Sᵀ (a ⊙ q) + v (k · q)   [/ (f (a ⊙ q) · z + k · q + ε)]
 * with q, k, v, a those of position N - 1 and f = e^{kshift - c} when the
 * new key raises the shift to c (1 otherwise): the prepared state stays as
 * it is, for the next call. qv, kv (F) scratch.
 */
static void decode_head(const struct attn__lin_spec *ls, const struct lin_plan *pl,
                        const struct lin_head *hd, const float *S, const float *z, float kshift,
                        float *qv, float *kv)
{
	const int64_t N = pl->N, D = pl->D, F = pl->F, gd = pl->gd, ldd = pl->ldd;
	const float *v = hd->v + (N - 1) * D;
	float *o = hd->o;
	float ks = kshift;

	feat_rows(ls, pl, hd, 1, hd->q, N - 1, 1, qv, NULL);
	feat_rows(ls, pl, hd, 0, hd->k + (N - 1) * D, N - 1, 1, kv, &ks);
	const float kq = attn__dot(kv, qv, F);
	if (gd == 1)
		attn__scale(qv, attn__expf(gate_row(hd, N - 1)[0]), F);
	else if (gd > 1)
		mul_exp(qv, gate_row(hd, N - 1), F);
	const float kf = shift_factor(kshift, ks);
	if (kf != 1.0f)
		attn__scale(qv, kf, F);

	for (int64_t c = 0; c < D; c++)
		o[c] = kq * v[c];
	for (int64_t r = 0; r < F; r++)
		attn__axpy(o, qv[r], S + r * ldd, D);
	if (ls->normalize)
		attn__scale(o, 1.0f / (attn__dot(qv, z, F) + kq + ls->den_eps), D);
}

/* ---- the random projection ----------------------------------------------------- */

/* Streams of attn_rng_uniform for Ω's entries and for its row norms. */
#define PROJ_STREAM_ENTRY 0x4f4d4547u /* "OMEG" */
#define PROJ_STREAM_NORM  0x4e4f524du /* "NORM" */

/* A standard normal number by Box-Muller from two uniforms of (seed, stream). */
static double proj_gauss(uint64_t seed, uint64_t stream, uint64_t i)
{
	const double u1 = attn_rng_uniform(seed, stream, 2 * i);
	const double u2 = attn_rng_uniform(seed, stream, 2 * i + 1);
	return sqrt(-2.0 * log1p(-u1)) * cos(6.283185307179586 * u2); /* u1 < 1 */
}

/* Row r of Ω, column r of wt (D, ldm), scaled to length `len`. */
static void proj_row_scale(float *wt, int64_t ldm, int64_t D, int64_t r, double len)
{
	double sq = 0.0;
	for (int64_t d = 0; d < D; d++)
		sq += (double)wt[d * ldm + r] * (double)wt[d * ldm + r];
	const double f = len / sqrt(sq);
	for (int64_t d = 0; d < D; d++)
		wt[d * ldm + r] = (float)((double)wt[d * ldm + r] * f);
}

/*
 * wt (D, ldm) = Ωᵀ, Ω (m, D) the spec's projection drawn from ls->seed,
 * the same for every head; prepare() writes it into the workspace and the
 * oracle into its own buffer, so both use the same float32 numbers.
 *   gaussian:   Ω_rd ~ N(0, 1), independent.
 *   orthogonal: rows in blocks of D (the last cut to m), each block the
 *               rows of a Gaussian matrix made orthonormal by Gram-Schmidt
 *               (run twice, sums in float64, so the rows stay orthogonal to
 *               float precision), then row r scaled to the length of an
 *               independent Gaussian D-vector: chi(D)-distributed like an
 *               unconstrained Gaussian row's (FAVOR+'s default).
 * Untimed (prepare): strided column access is fine here.
 */
static void proj_fill(const struct attn__lin_spec *ls, int64_t D, float *wt, int64_t ldm)
{
	const int64_t m = proj_rows(ls);
	for (int64_t r = 0; r < m; r++)
		for (int64_t d = 0; d < D; d++)
			wt[d * ldm + r] =
			    (float)proj_gauss(ls->seed, PROJ_STREAM_ENTRY, (uint64_t)(r * D + d));
	if (ls->proj_kind != ATTN__LIN_PROJ_ORTHOGONAL)
		return;
	/* rows made orthonormal within their block (against unit rows: lengths come after) */
	for (int64_t r = 0; r < m; r++) {
		const int64_t b0 = r - r % D; /* first row of r's block */
		for (int pass = 0; pass < 2; pass++)
			for (int64_t p = b0; p < r; p++) {
				double dot = 0.0;
				for (int64_t d = 0; d < D; d++)
					dot += (double)wt[d * ldm + r] * (double)wt[d * ldm + p];
				for (int64_t d = 0; d < D; d++)
					wt[d * ldm + r] = (float)((double)wt[d * ldm + r] -
					                          dot * (double)wt[d * ldm + p]);
			}
		proj_row_scale(wt, ldm, D, r, 1.0);
	}
	/* then each row's length: that of a Gaussian D-vector */
	for (int64_t r = 0; r < m; r++) {
		double chi = 0.0;
		for (int64_t d = 0; d < D; d++) {
			const double g =
			    proj_gauss(ls->seed, PROJ_STREAM_NORM, (uint64_t)(r * D + d));
			chi += g * g;
		}
		proj_row_scale(wt, ldm, D, r, sqrt(chi));
	}
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

static int lin_prepare(const struct attn__lin_spec *ls, const struct attn_shape *s,
                       const struct attn_inputs *in, void *ws, int threads)
{
	if (lin_supports(ls, s, NULL, 0) != ATTN_OK)
		return ATTN_ERR_UNSUPPORTED;
	if (!inputs_ok(ls, in) || !ws)
		return ATTN_ERR_INVALID;

	struct lin_plan pl;
	plan_init(&pl, ls, s, threads);
	float *wt = plan_proj(&pl, ws);
	if (wt)
		proj_fill(ls, pl.D, wt, pl.ldm);
	if (s->mode != ATTN_MODE_DECODE)
		return ATTN_OK;
	const int64_t heads = s->batch * s->heads;

#pragma omp parallel for schedule(dynamic, 1) num_threads(pl.threads)
	for (int64_t bh = 0; bh < heads; bh++) {
		struct lin_head hd;
		head_init(&hd, ls, s, in, NULL, wt, bh);
		float *S = plan_head_state(&pl, ws, bh); /* (F, ldd) */
		float *z = S + pl.F * pl.ldd;            /* (ldf) */
		float *kshift = z + pl.ldf;
		memset(S, 0, pl.head_state * sizeof(float));
		*kshift = -INFINITY;
		chunk_run(ls, &pl, &hd, 0, s->n - 1, 0, S, ls->normalize ? z : NULL, kshift,
		          plan_slice(&pl, ws));
	}
	return ATTN_OK;
}

static int lin_forward(const struct attn__lin_spec *ls, const struct attn_shape *s,
                       const struct attn_inputs *in, float *out, void *ws, int threads)
{
	if (lin_supports(ls, s, NULL, 0) != ATTN_OK)
		return ATTN_ERR_UNSUPPORTED;
	if (!inputs_ok(ls, in) || !out || !ws)
		return ATTN_ERR_INVALID;

	struct lin_plan pl;
	plan_init(&pl, ls, s, threads);
	const int64_t heads = s->batch * s->heads, N = s->n;
	const int decode = s->mode == ATTN_MODE_DECODE;
	const float *wt = plan_proj(&pl, ws);

#pragma omp parallel for schedule(dynamic, 1) num_threads(pl.threads)
	for (int64_t bh = 0; bh < heads; bh++) {
		struct lin_head hd;
		head_init(&hd, ls, s, in, out, wt, bh);
		char *slice = plan_slice(&pl, ws);

		if (decode) {
			const float *S = plan_head_state(&pl, ws, bh);
			const float *z = S + pl.F * pl.ldd;
			decode_head(ls, &pl, &hd, S, z, z[pl.ldf], (float *)(slice + pl.o_qb),
			            (float *)(slice + pl.o_kc));
			continue;
		}
		if (ls->form == ATTN__LIN_FORM_PARALLEL) {
			parallel_head(ls, &pl, &hd, s->causal, slice);
			continue;
		}

		float *S = (float *)(slice + pl.o_s);                        /* (F, ldd) */
		float *z = ls->normalize ? (float *)(slice + pl.o_z) : NULL; /* (F) */
		float kshift = -INFINITY;
		memset(S, 0, (size_t)(pl.F * pl.ldd) * sizeof(float));
		if (z)
			memset(z, 0, (size_t)pl.F * sizeof(float));
		const int chunk = ls->form == ATTN__LIN_FORM_CHUNK;
		if (s->causal) {
			if (chunk)
				chunk_run(ls, &pl, &hd, 0, N, 1, S, z, &kshift, slice);
			else
				recurrent_run(ls, &pl, &hd, 0, N, 1, S, z, &kshift, slice);
		} else {
			/* every query sees every key: the state of all N, then Q S */
			if (chunk)
				chunk_run(ls, &pl, &hd, 0, N, 0, S, z, &kshift, slice);
			else
				recurrent_run(ls, &pl, &hd, 0, N, 0, S, z, &kshift, slice);
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

/*
 * The oracle's feat_rows: dst (n, F) in float64 = φ of rows [pos, pos + n)
 * of the queries (times the scale; x their rows) or the keys (x = K[pos]),
 * with u = Ω x as plain float64 dot products for a block map. Keys are
 * mapped under one shift, the largest over the n rows.
 */
static void oracle_rows(const struct attn__lin_spec *ls, const struct lin_head *hd, const float *wt,
                        int is_query, const float *x, int64_t pos, int64_t n, int64_t N, int64_t D,
                        double *dst)
{
	const int64_t F = feat_dim(ls, D), m = proj_rows(ls), ldm = proj_ld(ls);
	const double scale = is_query ? q_scale(ls, D) : 1.0;

	if (!ls->fmap) {
		const int64_t gd = gate_dims(ls, D);
		for (int64_t i = 0; i < n; i++)
			for (int64_t d = 0; d < D; d++)
				/* φ(k_j), or 1 - a_j (key_from_gate) */
				dst[i * F + d] =
				    !is_query && ls->key_from_gate
				        ? -expm1((double)gate_row(hd, pos + i)[gd == 1 ? 0 : d])
				        : feat_d(x[i * D + d], ls->feature) * scale;
		return;
	}
	for (int64_t i = 0; i < n; i++)
		for (int64_t r = 0; r < m; r++) {
			double u = 0.0;
			for (int64_t d = 0; d < D; d++)
				u += (double)wt[d * ldm + r] * (double)x[i * D + d];
			dst[i * F + r] = u;
		}
	const struct attn__lin_rows rows = {
	    .x = x, .n = n, .pos = pos, .N = N, .D = D, .is_query = is_query};
	double kshift = -INFINITY;
	ls->fmap->apply_d(ls, &rows, dst, F, is_query ? NULL : &kshift);
	if (scale != 1.0)
		for (int64_t i = 0; i < n * F; i++)
			dst[i] *= scale;
}

static int lin_oracle(const struct attn__lin_spec *ls, const struct attn_shape *s,
                      const struct attn_inputs *in, double *out)
{
	if (lin_supports(ls, s, NULL, 0) != ATTN_OK)
		return ATTN_ERR_UNSUPPORTED;
	if (!inputs_ok(ls, in) || !out)
		return ATTN_ERR_INVALID;

	const int64_t N = s->n, D = s->d, NQ = attn_shape_nq(s), F = feat_dim(ls, D);
	const int64_t heads = s->batch * s->heads, gd = gate_dims(ls, F);
	const int decode = s->mode == ATTN_MODE_DECODE;
	/* ungated: φ(K) transposed and the weights of one query (see below) */
	const int64_t extra = gd == 0 ? N * F + N : 0;
	double *buf = malloc((size_t)(N * F + 3 * F + extra) * sizeof(double));
	float *wt = proj_rows(ls) ? malloc((size_t)(D * proj_ld(ls)) * sizeof(float)) : NULL;
	if (!buf || (proj_rows(ls) && !wt)) {
		free(buf);
		free(wt);
		return ATTN_ERR_NOMEM;
	}
	if (wt)
		proj_fill(ls, D, wt, proj_ld(ls));
	double *kf = buf;        /* (N, F) φ(K) of the head */
	double *r = kf + N * F;  /* (F) log decay from key j to the query */
	double *qf = r + F;      /* (F) φ(q) · scale */
	double *kw = qf + F;     /* (F) decay of each feature dimension */
	double *kt = kw + F;     /* (F, N) φ(K)ᵀ, ungated */
	double *wq = kt + N * F; /* (N) w_j of one query, ungated */

	for (int64_t bh = 0; bh < heads; bh++) {
		struct lin_head hd;
		head_init(&hd, ls, s, in, NULL, NULL, bh);
		oracle_rows(ls, &hd, wt, 0, hd.k, 0, N, N, D, kf);
		if (gd == 0)
			for (int64_t j = 0; j < N; j++)
				for (int64_t d = 0; d < F; d++)
					kt[d * N + j] = kf[j * F + d];
		for (int64_t i = 0; i < NQ; i++) {
			const int64_t pos = decode ? N - 1 : i;
			const int64_t jhi = (s->causal || decode) ? pos : N - 1;
			double *o = out + (bh * NQ + i) * D;
			double den = 0.0;
			oracle_rows(ls, &hd, wt, 1, hd.q + i * D, pos, 1, N, D, qf);
			for (int64_t d = 0; d < F; d++) {
				r[d] = 0.0;
				kw[d] = 1.0;
			}
			for (int64_t d = 0; d < D; d++)
				o[d] = 0.0;
			/*
			 * Ungated, every decay is 1: the weights q · φ(k_j) of all
			 * keys at once, keys innermost (the same sums, in the
			 * same order of d, as below; it vectorises).
			 */
			if (gd == 0) {
				memset(wq, 0, (size_t)(jhi + 1) * sizeof(double));
				for (int64_t d = 0; d < F; d++)
					for (int64_t j = 0; j <= jhi; j++)
						wq[j] += qf[d] * kt[d * N + j];
			}
			/* o = Σ_j (q ⊙ w_j) · φ(k_j) v_j, w_j = e^{Σ_{j < s <= pos} g_s} */
			for (int64_t j = jhi; j >= 0; j--) {
				double w = 0.0;
				if (gd == 0)
					w = wq[j];
				else
					for (int64_t d = 0; d < F; d++)
						w += qf[d] * kf[j * F + d] * kw[d];
				for (int64_t d = 0; d < D; d++)
					o[d] += w * hd.v[j * D + d];
				den += w;
				if (gd > 0 && j > 0) {
					const float *gj = gate_row(&hd, j);
					for (int64_t d = 0; d < F; d++) {
						r[d] += (double)gj[gd == 1 ? 0 : d];
						kw[d] = exp(r[d]);
					}
				}
			}
			if (ls->normalize)
				for (int64_t d = 0; d < D; d++)
					o[d] /= den + (double)ls->den_eps;
		}
	}
	free(wt);
	free(buf);
	return ATTN_OK;
}

/*
 * ---- The descriptor callbacks (ABI v2) --------------------------------------
 *
 * A method on this engine is a descriptor whose callbacks are these and
 * whose data says which variant it is; each builds the spec from m->data
 * and the call's parameters, then runs the entry point above.
 */

int attn__lin_supports(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p, char *msg, size_t msglen)
{
	struct attn__lin_spec sp;
	((const struct attn__lin_method *)m->data)->spec(p, &sp);
	return lin_supports(&sp, s, msg, msglen);
}

size_t attn__lin_workspace_bytes(const struct attn_method *m, const struct attn_shape *s,
                                 const struct attn_params *p, int threads)
{
	struct attn__lin_spec sp;
	((const struct attn__lin_method *)m->data)->spec(p, &sp);
	return lin_workspace_bytes(&sp, s, threads);
}

double attn__lin_flops(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p)
{
	struct attn__lin_spec sp;
	((const struct attn__lin_method *)m->data)->spec(p, &sp);
	return lin_flops(&sp, s);
}

double attn__lin_bytes(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p)
{
	struct attn__lin_spec sp;
	((const struct attn__lin_method *)m->data)->spec(p, &sp);
	return lin_bytes(&sp, s);
}

int attn__lin_prepare(const struct attn_method *m, const struct attn_shape *s,
                      const struct attn_params *p, const struct attn_inputs *in, void *ws,
                      const struct attn_ctx *ctx)
{
	struct attn__lin_spec sp;
	((const struct attn__lin_method *)m->data)->spec(p, &sp);
	return lin_prepare(&sp, s, in, ws, ctx ? ctx->threads : 1);
}

int attn__lin_forward(const struct attn_method *m, const struct attn_shape *s,
                      const struct attn_params *p, const struct attn_inputs *in, float *out,
                      void *ws, const struct attn_ctx *ctx)
{
	struct attn__lin_spec sp;
	((const struct attn__lin_method *)m->data)->spec(p, &sp);
	return lin_forward(&sp, s, in, out, ws, ctx ? ctx->threads : 1);
}

int attn__lin_oracle(const struct attn_method *m, const struct attn_shape *s,
                     const struct attn_params *p, const struct attn_inputs *in, double *out,
                     const struct attn_ctx *ctx)
{
	struct attn__lin_spec sp;
	(void)ctx;
	((const struct attn__lin_method *)m->data)->spec(p, &sp);
	return lin_oracle(&sp, s, in, out);
}
