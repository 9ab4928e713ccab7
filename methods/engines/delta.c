/*
 * The delta-rule engine (see delta.h for what it computes): the parallel,
 * recurrent and chunkwise forms of
 *
 *     S_t = a_t (I - b_t k_t k_tᵀ) S_{t-1} + b_t k_t v_tᵀ,      o_t = S_tᵀ q_t
 *
 * and of TTT-Linear's mini-batch version, for one head at a time, OpenMP
 * over (batch, head), each thread in its own slice of the workspace.
 *
 * Normalisation. k and q are divided by sqrt(x · x + 1e-6) (the l2norm of
 * flash-linear-attention, as in the DeltaNet and Gated DeltaNet papers), and
 * q is then multiplied by 1/√D (fla's default scale). Unit keys make
 * I - b k kᵀ a contraction for b in [0, 2] (eigenvalues 1 - b and 1), so
 * with the workload's b in (0, 1) and gates a <= 1 the state never grows
 * beyond the sum of the values written into it; b = 1 projects k out
 * exactly, and then o_t with q_t = k_t returns v_t / √D (a test).
 * TTT's η_t = beta[t] / C makes the batch step I - Σ η_s k_s k_sᵀ a
 * contraction too (‖Σ η_s k_s k_sᵀ‖ <= max beta < 1 for any C and D); with
 * η_t = beta[t] the step would diverge once C outgrows D.
 *
 * Every form below rests on one identity. Write the u_t of a step as
 *     S_t = a_t S_{t-1} + k_t u_tᵀ,    u_t = b_t (v_t - a_t R_tᵀ k_t),
 * R_t the matrix the error is read from: S_{t-1} for the delta rule, W_b
 * (the state at the start of t's mini-batch) for TTT (a = 1, b = η).
 *
 * Recurrent (O(N D²), the decode path). Per step, two passes over the rows
 * of S, each a run of row axpys that vectorise:
 *     pass 1   u = R_tᵀ k_t                       (row r adds k_r R[r, :])
 *              w = b_t (v_t - a_t u)
 *     pass 2   S[r, :] = a_t S[r, :] + k_r w,    o_t += q_r S[r, :]
 * TTT copies S into W_b when a mini-batch starts.
 *
 * Chunkwise (the fast prefill path; the WY representation / UT transform of
 * Yang et al. 2024, "Parallelizing Linear Transformers with the Delta Rule
 * over Sequence Length", §3, with the decays of Gated DeltaNet, §3.3).
 * Steps are taken a chunk [t, t + c) at a time, c <= C. The chunk's first
 * gate goes to the carried state as a plain multiplier, S' = a_t S, and
 * inside the chunk the cumulative log gate is relative to its start,
 *     G_i = Σ_{t < s <= t+i} log a_s        (G_0 = 0; 0 when not gated).
 * Unrolling the identity above inside the chunk, its u (the rows of U',
 * (c, D)) solve one lower triangular system,
 *     (I + A) U' = Y,    Y = diag(b) V - diag(b) K̃ S',
 *     A_ij = b_i e^{G_i - G_j} k_i · k_j  (j < i; 0 on and above the diagonal),
 * K̃_i = e^{G_i} k_i. The WY form of the paper writes this with
 * T = (I + A)⁻¹, W = T diag(b) K̃ and U = T diag(b) V as U' = U - W S'.
 * We apply T after the state product instead, U' = T Y: the same
 * (c, D)(D, D) product, but T acts on D columns instead of 2D and is never
 * formed (a forward substitution with the GEMM doing most of it), which
 * measured 20% faster. The chunk:
 *     pass 1  -A = tril(-diag(b) K̃ K̆ᵀ, -1)     K̆_j = e^{-G_j} k_j     (c, D)(D, c)
 *     pass 2  Y = diag(b) V - diag(b) K̃ S'                             (c, D)(D, D)
 *     pass 3  U' = (I + A)⁻¹ Y, blocked forward substitution           (c, c)(c, D)
 *     pass 4  O = Q̃ S'                    Q̃_i = e^{G_i} q_i           (c, D)(D, D)
 *     pass 5  O += tril(Q̃ K̆ᵀ) U'                                 (c, D)(D, c), (c, c)(c, D)
 *     pass 6  S = e^{G_{c-1}} S' + K̂ᵀ U'  K̂_j = e^{G_{c-1} - G_j} k_j  (D, c)(c, D)
 * all GEMM-shaped (attn__gemm); the triangular products of passes 1 and 5
 * run in bands of 32 rows against the columns up to their diagonal.
 * TTT is the same chunk with A = 0 (no error inside a mini-batch depends on
 * another: they all read W_b = the chunk's S), so passes 1 and 3 drop out;
 * its chunks are exactly its mini-batches, [0, C), [C, 2C), ..., which is
 * why its C is a parameter of the model.
 *
 * Numerics. The gate folds e^{G_i} (<= 1) and e^{-G_j} (>= 1) are those
 * of linattn.c, relative to the chunk: a chunk ends early - before C steps
 * - where G_i would fall below -DELTA_SPAN (= -20), so every folded factor
 * lies in [e^-20, e^20] and, as important, G itself keeps ~1e-6 absolute
 * precision in float32 (at G ~ -2000 its rounding alone would move e^{G_i -
 * G_j} by 1e-4). Strong gates cut chunks to a few steps: slower, exact.
 * The forward substitution is stable here: its solution rows are the u_t
 * of the recurrence, bounded by the values because every step is a
 * contraction, so (I + A)⁻¹ stays small (b = 1 and c equal keys, A all
 * ones below the diagonal and (I + A)⁻¹ the bidiagonal with 1 and -1, is
 * the worst case a test runs).
 *
 * Parallel (O(N² D) time, N² floats; the reference form). The same
 * identity over the whole sequence with S_0 = 0, the UT transform with
 * one chunk of N but without forming T (which would cost N³):
 *     (I + A) U = diag(b) V,    A_ij = b_i e^{B_i - B_j} k_i · k_j   for j < i,
 *     O = (tril(Q Kᵀ) ⊙ e^{B_i - B_j}) U,
 * B the cumulative log gate of the whole head in float64 (one e^x per pair,
 * x <= 0: it underflows and never overflows; below e^-64 it is flushed to
 * 0, see decay_row()). For TTT the error of step i
 * reads W_b of i's mini-batch, so A_ij = η_i k_i · k_j for j before that
 * batch's start instead, and B = 0. U comes by the chunk's blocked forward
 * substitution. The N x N score buffer holds -A, then the output scores.
 *
 * Decode: prepare() runs the chunk form over the context 0..N-2 and leaves
 * each head's S at the front of the workspace (TTT: also W_b of the batch
 * containing N - 1, i.e. the state at ⌊(N-1)/C⌋ C, which is where the
 * mini-batches fall); forward() takes the step at N - 1 without writing it:
 *     o = a Sᵀ q + (k · q) b (v - a R_{N-1}ᵀ k).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/status.h"
#include "engines/delta.h"
#include "kernels/kernels.h"

/* Bound on |G| inside a chunk (see the top): folded factors stay in [e^-20, e^20]. */
#define DELTA_SPAN 20.0f
/* Rows per band of the chunk's triangular products: the GEMM tile's width. */
#define DELTA_BAND ATTN__GEMM_NR
/* Rows per block of the parallel form. */
#define DELTA_BQ 64
/* The l2norm's ε (fla's): x / sqrt(x · x + ε). */
#define DELTA_EPS 1e-6

/*
 * C defaults to 32 for the delta rules, not the family's 64: their chunk
 * carries the same 6 D² per row as the recurrence plus 4 C D of triangles,
 * so the smaller chunk is the faster one here (N = 16384, D = 128, 1
 * thread, interleaved: deltanet 42.7 ms at C = 32 against 47.5 at 64).
 */
const struct attn_param_spec attn__delta_params[2] = {
    ATTN__LIN_PARAM_FORM,
    {"C", ATTN_PARAM_INT, 32, 1, 1024, NULL, "chunk length of the chunkwise form (at most)"},
};
const struct attn_param_spec attn__ttt_params[2] = {
    ATTN__LIN_PARAM_FORM,
    {"C", ATTN_PARAM_INT, 64, 1, 1024, NULL,
     "mini-batch size of the inner gradient descent (part of the model: every form uses it)"},
};

/* What one call computes: the variant and the parameters. */
struct delta_cfg {
	enum attn__lin_form form;
	int64_t C; /* the C parameter: the chunk (delta) or the mini-batch (TTT) */
	int gated; /* a_t = e^{log_gate[t]} */
	int ttt;   /* the error reads W_b, frozen per mini-batch; b_t = beta[t] / C */
	const char *name;
};

static struct delta_cfg cfg_init(const struct attn__delta_spec *sp)
{
	static const char *const names[] = {"deltanet", "gated_deltanet", "ttt_linear"};
	return (struct delta_cfg){
	    .form =
	        (enum attn__lin_form)attn__param_int(sp->p, ATTN__LIN_P_FORM, ATTN__LIN_FORM_CHUNK),
	    .C = attn__param_int(
	        sp->p, ATTN__LIN_P_CHUNK,
	        (int64_t)(sp->kind == ATTN__DELTA_TTT ? attn__ttt_params : attn__delta_params)[1]
	            .def),
	    .gated = sp->kind == ATTN__DELTA_GATED,
	    .ttt = sp->kind == ATTN__DELTA_TTT,
	    .name = names[sp->kind],
	};
}

static int delta_supports(const struct attn__delta_spec *sp, const struct attn_shape *s, char *msg,
                          size_t msglen)
{
	const struct attn_param_spec *ps =
	    sp->kind == ATTN__DELTA_TTT ? attn__ttt_params : attn__delta_params;
	int rc = attn__check_shape(s, msg, msglen);
	if (rc == ATTN_OK)
		rc = attn__check_param_int(sp->p, &ps[0], ATTN__LIN_P_FORM, msg, msglen);
	if (rc == ATTN_OK)
		rc = attn__check_param_int(sp->p, &ps[1], ATTN__LIN_P_CHUNK, msg, msglen);
	if (rc != ATTN_OK)
		return rc;
	const struct delta_cfg cf = cfg_init(sp);
	if (!s->causal)
		return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED, "%s is causal only", cf.name);
	if (s->mode == ATTN_MODE_PREFILL && cf.form == ATTN__LIN_FORM_PARALLEL &&
	    s->n > ATTN__DELTA_PARALLEL_MAX_N) {
		const double bytes = (double)s->n * (double)s->n * sizeof(float);
		return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED,
		                 "parallel form needs N x N = %lld x %lld floats = %.0f bytes of "
		                 "scores per thread (N at most %d)",
		                 (long long)s->n, (long long)s->n, bytes,
		                 ATTN__DELTA_PARALLEL_MAX_N);
	}
	return ATTN_OK;
}

/* ---- the workspace ------------------------------------------------------------- */

/*
 * How the workspace is carved; workspace_bytes(), prepare() and forward()
 * all build it from the same (cfg, shape, threads).
 *
 * Decode: the state of every head first (S (D, ldd); TTT also W_b (D,
 * ldd)), then the slices. Each of `threads` slices holds, by form:
 *   chunk (also decode, whose prepare() runs it without qf, s, and for
 *   TTT without kt and a):
 *     kn (C, ldd) unit keys, then K̂    qf (C, ldd) Q̃    kt (D, ldc) K̆ᵀ
 *     bw (C, ldw) [-b K̃ | b V], then U' in the right half
 *     a (C, ldc) -A, then scores       g, fi (C) G and e^{-G}
 *     s (D, ldd) S
 *   recurrent: s (D, ldd) S, sb (D, ldd) W_b (TTT)
 *   parallel:  kn, qf (N, ldd) unit keys and queries   kt (D, ldn) Kᵀ
 *     u (N, ldd) U    sc (N, ldn) -A, then scores    bc (N) doubles B (gated)
 * and, for the recurrent form and decode, the vectors qv, kv, uv, yv (ldd)
 * of one step. Row strides are padded (ldd = D rounded to 16 plus 16 floats, and
 * likewise ldc, ldw = 2D.., ldn) so that no GEMM operand walks down a
 * column at a multiple of 512 bytes (L1 set conflicts; see attn__gemm).
 */
struct delta_plan {
	int threads;
	int64_t N, D, C; /* C: rows of the chunk buffers, min(C parameter, N) */
	int64_t ldd, ldc, ldw, ldn;
	size_t head_state; /* floats of one head's decode state */
	size_t state;      /* bytes of all heads' states (decode) */
	size_t slice, total;
	size_t o_kn, o_qf, o_kt, o_bw, o_a, o_g, o_fi, o_s, o_sb;
	size_t o_u, o_sc, o_bc, o_qv, o_kv, o_uv, o_yv;
};

/* Reserve n floats (rounded up to 64 bytes) at *off; return where they start. */
static size_t take(size_t *off, int64_t n)
{
	const size_t at = *off;
	*off += attn__floats64(n);
	return at;
}

static void plan_init(struct delta_plan *pl, const struct delta_cfg *cf, const struct attn_shape *s,
                      int threads)
{
	const int64_t N = s->n, D = s->d;
	const int64_t C = attn__min64(cf->C > 0 ? cf->C : 1, N);
	size_t off = 0;

	*pl = (struct delta_plan){
	    .threads = threads < 1 ? 1 : threads,
	    .N = N,
	    .D = D,
	    .C = C,
	    .ldd = attn__round_up(D, 16) + 16,
	    .ldc = attn__round_up(C, 32) + 16,
	    .ldw = attn__round_up(2 * D, 16) + 16,
	    .ldn = attn__round_up(N, 32) + 16,
	};

	const int decode = s->mode == ATTN_MODE_DECODE;
	if (decode || cf->form == ATTN__LIN_FORM_CHUNK) {
		/* decode's prepare() writes no output and keeps S in the state */
		const int out = !decode, tiles = out || !cf->ttt;
		pl->o_kn = take(&off, C * pl->ldd);
		pl->o_qf = take(&off, out ? C * pl->ldd : 0);
		pl->o_kt = take(&off, tiles ? D * pl->ldc : 0);
		pl->o_bw = take(&off, C * pl->ldw);
		pl->o_a = take(&off, tiles ? C * pl->ldc : 0);
		pl->o_g = take(&off, C);
		pl->o_fi = take(&off, C);
		pl->o_s = take(&off, out ? D * pl->ldd : 0);
	} else if (cf->form == ATTN__LIN_FORM_RECURRENT) {
		pl->o_s = take(&off, D * pl->ldd);
		pl->o_sb = take(&off, cf->ttt ? D * pl->ldd : 0);
	} else {
		pl->o_kn = take(&off, N * pl->ldd);
		pl->o_qf = take(&off, N * pl->ldd);
		pl->o_kt = take(&off, D * pl->ldn);
		pl->o_u = take(&off, N * pl->ldd);
		pl->o_sc = take(&off, N * pl->ldn);
		pl->o_bc = take(&off, cf->gated ? 2 * N : 0); /* N doubles */
	}
	if (decode || cf->form == ATTN__LIN_FORM_RECURRENT) {
		pl->o_qv = take(&off, pl->ldd);
		pl->o_kv = take(&off, pl->ldd);
		pl->o_uv = take(&off, pl->ldd);
		pl->o_yv = take(&off, pl->ldd);
	}
	pl->slice = off;

	if (decode) {
		pl->head_state = (size_t)((cf->ttt ? 2 : 1) * D * pl->ldd); /* multiples of 16 */
		pl->state = (size_t)(s->batch * s->heads) * pl->head_state * sizeof(float);
	}
	pl->total = pl->state + (size_t)pl->threads * pl->slice;
}

static size_t delta_workspace_bytes(const struct attn__delta_spec *sp, const struct attn_shape *s,
                                    int threads)
{
	const struct delta_cfg cf = cfg_init(sp);
	struct delta_plan pl;
	plan_init(&pl, &cf, s, threads);
	return pl.total;
}

/* ---- cost ---------------------------------------------------------------------- */

/*
 * FLOPs of one chunk of c rows, a multiply-add counted as 2, leaving out
 * the O(c D) work (normalisation, folds, row scalings):
 *   pass 1  -A over the c(c-1)/2 pairs j < i              D c (c - 1)
 *   pass 2, 4, 6  three (c, D)(D, D)-sized products       6 c D²
 *   pass 3  row i subtracts the i rows before it           D c (c - 1)
 *   pass 5  scores and P U' over the pairs j <= i         2 D c (c + 1)
 * so 6 c D² + 4 D c² per chunk (131 k per row at C = 64, D = 128, against
 * the recurrent form's 6 D² = 98 k); TTT has no passes 1 and 3:
 * 6 c D² + 2 D c (c + 1). This is the useful work (the triangles, not the
 * bands' squares). Chunks cut short by strong gates do less.
 */
static double chunk_flops(const struct delta_cfg *cf, double c, double D)
{
	const double common = 6.0 * c * D * D + 2.0 * D * c * (c + 1.0);
	return cf->ttt ? common : common + 2.0 * D * c * (c - 1.0);
}

/*
 * Per head:
 *   decode     4 D² (Rᵀ k and Sᵀ q in one pass) + 4 D (k · q and the output)
 *   recurrent  6 N D²: per step 2 D² each for Rᵀ k, the update and Sᵀ q
 *   chunk      chunk_flops() over N / C chunks of C and one of N % C
 *   parallel   2 D per pair of -A and of the solve (the pairs j < i, or for
 *              TTT j before i's mini-batch) and 2 D per pair j <= i of the
 *              scores and of P U; 4 D N² for the delta rules.
 */
static double delta_flops(const struct attn__delta_spec *sp, const struct attn_shape *s)
{
	const struct delta_cfg cf = cfg_init(sp);
	const double heads = (double)s->batch * (double)s->heads;
	const double N = (double)s->n, D = (double)s->d;

	if (s->mode == ATTN_MODE_DECODE)
		return heads * (4.0 * D * D + 4.0 * D);
	switch (cf.form) {
	case ATTN__LIN_FORM_RECURRENT: return heads * 6.0 * N * D * D;
	case ATTN__LIN_FORM_CHUNK: {
		const int64_t C = attn__min64(cf.C, s->n);
		const double full = (double)(s->n / C), r = (double)(s->n % C);
		return heads * (full * chunk_flops(&cf, (double)C, D) + chunk_flops(&cf, r, D));
	}
	default: {
		/* pairs of -A: Σ_i i, or for TTT Σ_i C ⌊i / C⌋ */
		double pa = N * (N - 1.0) / 2.0;
		if (cf.ttt) {
			const double C = (double)cf.C, nb = (double)(s->n / cf.C);
			const double r = (double)(s->n % cf.C);
			pa = C * C * nb * (nb - 1.0) / 2.0 + r * C * nb;
		}
		return heads * (4.0 * D * pa + 4.0 * D * N * (N + 1.0) / 2.0);
	}
	}
}

/*
 * Compulsory traffic: Q, K, V read and O written once, plus beta (and the
 * log gates): B H N floats each. Decode reads one row of each and the state
 * (D² floats per head, TTT 2 D²) instead. The parallel form adds its
 * scores: -A written and read, the output scores written and read, 4
 * floats per causal pair. The other forms' state and tiles stay in cache.
 */
static double delta_bytes(const struct attn__delta_spec *sp, const struct attn_shape *s)
{
	const struct delta_cfg cf = cfg_init(sp);
	const double f = sizeof(float);
	const double heads = (double)s->batch * (double)s->heads;
	const double N = (double)s->n, D = (double)s->d;
	const double per_step = cf.gated ? 2.0 : 1.0; /* beta, log gate */

	if (s->mode == ATTN_MODE_DECODE)
		return f * (heads * (2.0 * D + (cf.ttt ? 2.0 : 1.0) * D * D + per_step) +
		            2.0 * (double)s->batch * (double)s->kv_heads * D);
	double b = attn__qkvo_bytes(s) + f * heads * N * per_step;
	if (cf.form == ATTN__LIN_FORM_PARALLEL)
		b += 4.0 * f * heads * N * (N + 1.0) / 2.0;
	return b;
}

/* ---- one head ------------------------------------------------------------------ */

/* One head's data: pointers into the inputs and the output. */
struct delta_head {
	const float *q;    /* (NQ, D) */
	const float *k;    /* (N, D), the K/V head of this query head */
	const float *v;    /* (N, D) */
	const float *beta; /* (N) */
	const float *g;    /* (N) log gates, or NULL when not gated */
	float *o;          /* (NQ, D), or NULL */
	float bscale;      /* b_t = beta[t] · bscale: 1, or 1 / C for TTT */
};

static void head_init(struct delta_head *hd, const struct delta_cfg *cf, const struct attn_shape *s,
                      const struct attn_inputs *in, float *out, int64_t bh)
{
	const int64_t N = s->n, D = s->d, NQ = attn_shape_nq(s);
	const int64_t kv = attn__kv_head(s, bh) * N * D;

	hd->q = in->q + bh * NQ * D;
	hd->k = in->k + kv;
	hd->v = in->v + kv;
	hd->beta = in->beta + bh * N;
	hd->g = cf->gated ? in->log_gate + bh * N : NULL;
	hd->o = out ? out + bh * NQ * D : NULL;
	hd->bscale = cf->ttt ? 1.0f / (float)cf->C : 1.0f;
}

/*
 * x · x over x (D), in 64 lanes summed as a tree at the end. attn__dot's one
 * accumulator and sequential tail take ~100 cycles at D = 128, which twice
 * per row of the chunk form measured 5% of it; this takes about a third.
 */
static float sum_squares(const float *x, int64_t D)
{
	float acc[64] = {0.0f};
	int64_t d = 0;
	for (; d + 64 <= D; d += 64)
		for (int l = 0; l < 64; l++)
			acc[l] = attn__fmaf(x[d + l], x[d + l], acc[l]);
	for (int l = 0; d + l < D; l++)
		acc[l] = attn__fmaf(x[d + l], x[d + l], acc[l]);
	for (int l = 0; l < 32; l++)
		acc[l] += acc[l + 32];
	for (int l = 0; l < 16; l++)
		acc[l] += acc[l + 16];
	for (int l = 0; l < 8; l++)
		acc[l] += acc[l + 8];
	for (int l = 0; l < 4; l++)
		acc[l] += acc[l + 4];
	return (acc[0] + acc[2]) + (acc[1] + acc[3]);
}

/* dst (D) = x / sqrt(x · x + ε) · scale, x (D): the l2norm of the top. */
static void unit_row(float *dst, const float *x, int64_t D, float scale)
{
	const float r = scale / sqrtf(sum_squares(x, D) + (float)DELTA_EPS);
	for (int64_t d = 0; d < D; d++)
		dst[d] = x[d] * r;
}

static float q_scale(int64_t D)
{
	return (float)(1.0 / sqrt((double)D));
}

/*
 * Zero the upper triangle of rows [r0, r0 + mr) of a (.., ld), up to column
 * nc: row r keeps columns j < r (keep_diag 0) or j <= r (keep_diag 1).
 */
static void mask_upper(float *a, int64_t ld, int64_t r0, int64_t mr, int64_t nc, int keep_diag)
{
	for (int64_t i = 0; i < mr; i++) {
		const int64_t vis = r0 + i + keep_diag;
		memset(a + (r0 + i) * ld + vis, 0, (size_t)(nc - vis) * sizeof(float));
	}
}

/*
 * Solve (I + A) X = Y in place, X and Y (c, D) with row stride ldx, -A in
 * na (c, ldc) strictly lower (read below the diagonal only). Forward
 * substitution by blocks of `blk` rows: the rows solved before a block
 * enter by one GEMM, X_blk += -A[blk, :r0] X[:r0], then the block's own rows
 * in order, X_i += Σ_{r0 <= j < i} -A_ij X_j.
 */
static void solve_unit_lower(const float *na, int64_t ldc, int64_t c, float *x, int64_t ldx,
                             int64_t D, int64_t blk)
{
	for (int64_t r0 = 0; r0 < c; r0 += blk) {
		const int64_t mr = attn__min64(blk, c - r0);
		if (r0 > 0)
			attn__gemm(mr, D, r0, na + r0 * ldc, ldc, 1, x, ldx, x + r0 * ldx, ldx, 1);
		for (int64_t i = r0 + 1; i < r0 + mr; i++)
			for (int64_t j = r0; j < i; j++)
				attn__axpy(x + i * ldx, na[i * ldc + j], x + j * ldx, D);
	}
}

/*
 * The chunk form over steps [t0, t1) of one head, carrying S (D, ldd) in
 * and out (see the top of the file). With `with_out`, rows [t0, t1) of the
 * head's output are written; without, only the state advances. For TTT, t0
 * must be a multiple of C (chunks are its mini-batches). slice: the thread's.
 */
static void chunk_run(const struct delta_cfg *cf, const struct delta_plan *pl,
                      const struct delta_head *hd, int64_t t0, int64_t t1, int with_out, float *S,
                      char *slice)
{
	const int64_t D = pl->D, C = pl->C, ldd = pl->ldd, ldc = pl->ldc, ldw = pl->ldw;
	float *kn = (float *)(slice + pl->o_kn); /* (C, ldd)  unit keys, then K̂ */
	float *qf = (float *)(slice + pl->o_qf); /* (C, ldd)  Q̃ */
	float *kt = (float *)(slice + pl->o_kt); /* (D, ldc)  K̆ᵀ */
	float *bw = (float *)(slice + pl->o_bw); /* (C, ldw)  [-b K̃ | b V], then [.. | U'] */
	float *a = (float *)(slice + pl->o_a);   /* (C, ldc)  -A, then scores */
	float *g = (float *)(slice + pl->o_g);   /* (C)       G */
	float *fi = (float *)(slice + pl->o_fi); /* (C)       e^{-G} */
	float *up = bw + D;                      /* (c, D)    Y, then U', row stride ldw */
	const float qs = q_scale(D);
	/* K̆ is read by pass 1 (not in TTT) and pass 5 (with output) */
	const int need_kt = !cf->ttt || with_out;

	for (int64_t t = t0; t < t1;) {
		/*
		 * pass 0a: the chunk's length c and G_i = Σ_{t < s <= t+i} g_s,
		 * stopping before any G_i drops below -DELTA_SPAN (the first
		 * step is always taken: G_0 = 0).
		 */
		const int64_t cmax = attn__min64(C, t1 - t);
		int64_t c = cmax;
		float a0 = 1.0f;
		g[0] = 0.0f;
		if (cf->gated) {
			for (int64_t i = 1; i < cmax; i++) {
				g[i] = g[i - 1] + hd->g[t + i];
				if (g[i] < -DELTA_SPAN) {
					c = i;
					break;
				}
			}
			a0 = attn__expf(hd->g[t]);
		}

		/*
		 * pass 0b: operands. Unit keys kn; K̆ᵀ[:, j] = k_j e^{-G_j};
		 * bw_j = [-b_j e^{G_j} k_j | b_j v_j]; Q̃_j = q_j / ‖q_j‖ · e^{G_j} / √D.
		 */
		for (int64_t j = 0; j < c; j++) {
			float *kr = kn + j * ldd, *bj = bw + j * ldw;
			const float *vj = hd->v + (t + j) * D;
			const float b = hd->beta[t + j] * hd->bscale;
			const float fj = cf->gated ? attn__expf(g[j]) : 1.0f;
			unit_row(kr, hd->k + (t + j) * D, D, 1.0f);
			for (int64_t d = 0; d < D; d++) {
				bj[d] = -b * fj * kr[d];
				bj[D + d] = b * vj[d];
			}
			if (with_out)
				unit_row(qf + j * ldd, hd->q + (t + j) * D, D, qs * fj);
			fi[j] = cf->gated ? attn__expf(-g[j]) : 1.0f;
		}
		/* K̆ᵀ row by row: contiguous stores, the strided side being loads */
		if (need_kt)
			for (int64_t d = 0; d < D; d++)
				for (int64_t j = 0; j < c; j++)
					kt[d * ldc + j] = kn[j * ldd + d] * fi[j];

		/* S' = a_t S */
		if (cf->gated)
			for (int64_t r = 0; r < D; r++)
				attn__scale(S + r * ldd, a0, D);

		/* pass 1: -A = tril(-diag(b) K̃ K̆ᵀ, -1), band by band (TTT: A = 0) */
		if (!cf->ttt) {
			for (int64_t r0 = 0; r0 < c; r0 += DELTA_BAND) {
				const int64_t mr = attn__min64(DELTA_BAND, c - r0), nc = r0 + mr;
				attn__gemm(mr, nc, D, bw + r0 * ldw, ldw, 1, kt, ldc, a + r0 * ldc,
				           ldc, 0);
				mask_upper(a, ldc, r0, mr, nc, 0);
			}
		}

		/* pass 2: Y = diag(b) V - diag(b) K̃ S', over b V in place */
		attn__gemm(c, D, D, bw, ldw, 1, S, ldd, up, ldw, 1);

		/* pass 3: U' = (I + A)⁻¹ Y (TTT: U' = Y) */
		if (!cf->ttt)
			solve_unit_lower(a, ldc, c, up, ldw, D, ATTN__GEMM_MR);

		if (with_out) {
			float *o = hd->o + t * D; /* (c, D) */
			/* pass 4: O = Q̃ S' */
			attn__gemm(c, D, D, qf, ldd, 1, S, ldd, o, D, 0);
			/*
			 * pass 5: O += tril(Q̃ K̆ᵀ) U'. Scores band by band (their
			 * columns come in tiles of 32), the product by blocks of MR
			 * rows, each only as deep as its diagonal.
			 */
			for (int64_t r0 = 0; r0 < c; r0 += DELTA_BAND) {
				const int64_t mr = attn__min64(DELTA_BAND, c - r0), nc = r0 + mr;
				attn__gemm(mr, nc, D, qf + r0 * ldd, ldd, 1, kt, ldc, a + r0 * ldc,
				           ldc, 0);
				mask_upper(a, ldc, r0, mr, nc, 1);
			}
			for (int64_t i = 0; i < c; i += ATTN__GEMM_MR) {
				const int64_t mi = attn__min64(ATTN__GEMM_MR, c - i);
				attn__gemm(mi, D, i + mi, a + i * ldc, ldc, 1, up, ldw, o + i * D,
				           D, 1);
			}
		}

		/* pass 6: S = e^{G_{c-1}} S' + K̂ᵀ U', K̂_j = k_j e^{G_{c-1} - G_j} */
		if (cf->gated) {
			const float el = attn__expf(g[c - 1]);
			for (int64_t j = 0; j < c - 1; j++)
				attn__scale(kn + j * ldd, el * fi[j], D);
			for (int64_t r = 0; r < D; r++)
				attn__scale(S + r * ldd, el, D);
		}
		attn__gemm(D, D, c, kn, 1, ldd, up, ldw, S, ldd, 1);

		t += c;
	}
}

/* The step's gate a_t and coefficient b_t. */
static void step_coef(const struct delta_head *hd, int64_t t, float *at, float *bt)
{
	*at = hd->g ? attn__expf(hd->g[t]) : 1.0f;
	*bt = hd->beta[t] * hd->bscale;
}

/*
 * The recurrent form over all N steps of one head, from S = 0 (see the top):
 * two passes over S's rows per step. S (D, ldd); Sb (D, ldd) W_b for TTT,
 * NULL for the delta rules (whose error reads S itself).
 */
static void recurrent_run(const struct delta_cfg *cf, const struct delta_plan *pl,
                          const struct delta_head *hd, float *S, float *Sb, char *slice)
{
	const int64_t N = pl->N, D = pl->D, ldd = pl->ldd;
	float *qv = (float *)(slice + pl->o_qv); /* (D) unit q_t / √D */
	float *kv = (float *)(slice + pl->o_kv); /* (D) unit k_t */
	float *uv = (float *)(slice + pl->o_uv); /* (D) u, then w */
	const float qs = q_scale(D);
	const float *R = Sb ? Sb : S;

	for (int64_t t = 0; t < N; t++) {
		const float *v = hd->v + t * D;
		float *o = hd->o + t * D;
		float at, bt;
		if (Sb && t % cf->C == 0)
			memcpy(Sb, S, (size_t)(D * ldd) * sizeof(float));
		step_coef(hd, t, &at, &bt);
		unit_row(kv, hd->k + t * D, D, 1.0f);
		unit_row(qv, hd->q + t * D, D, qs);

		/* pass 1: u = Rᵀ k, w = b (v - a u) */
		memset(uv, 0, (size_t)D * sizeof(float));
		for (int64_t r = 0; r < D; r++)
			attn__axpy(uv, kv[r], R + r * ldd, D);
		for (int64_t c = 0; c < D; c++)
			uv[c] = bt * (v[c] - at * uv[c]);

		/* pass 2: S[r] = a S[r] + k_r w;  o += q_r S[r] */
		memset(o, 0, (size_t)D * sizeof(float));
		for (int64_t r = 0; r < D; r++) {
			float *sr = S + r * ldd;
			const float kr = kv[r];
#pragma omp simd
			for (int64_t c = 0; c < D; c++)
				sr[c] = attn__fmaf(at, sr[c], kr * uv[c]);
			attn__axpy(o, qv[r], sr, D);
		}
	}
}

/*
 * row[j] *= e^{B_i - B_j} for j < n: the decay from key j to query i (<= 1).
 * Decays below e^-64 become 0: scores of 1e-28 cannot move a float sum,
 * while e^-87 times a score would be subnormal, and subnormals in the GEMMs
 * that follow made the gated parallel form 4x slower (measured).
 */
static void decay_row(float *row, const double *bc, int64_t i, int64_t n)
{
	const double bi = bc[i];
#pragma omp simd
	for (int64_t j = 0; j < n; j++) {
		const float x = (float)(bi - bc[j]);
		row[j] *= x < -64.0f ? 0.0f : attn__expf(x);
	}
}

/*
 * The parallel form of one head, prefill (see the top of the file): the
 * UT transform over the whole sequence, by blocks of DELTA_BQ rows.
 */
static void parallel_head(const struct delta_cfg *cf, const struct delta_plan *pl,
                          const struct delta_head *hd, char *slice)
{
	const int64_t N = pl->N, D = pl->D, ldd = pl->ldd, ldn = pl->ldn;
	float *kn = (float *)(slice + pl->o_kn);   /* (N, ldd) unit keys */
	float *qn = (float *)(slice + pl->o_qf);   /* (N, ldd) unit queries / √D */
	float *kt = (float *)(slice + pl->o_kt);   /* (D, ldn) Kᵀ */
	float *u = (float *)(slice + pl->o_u);     /* (N, ldd) U */
	float *sc = (float *)(slice + pl->o_sc);   /* (N, ldn) -A, then scores */
	double *bc = (double *)(slice + pl->o_bc); /* (N) B, cumulative log gate */
	const float qs = q_scale(D);

	/* pass 0: unit K and Q, Kᵀ, B_t = Σ_{s <= t} g_s in float64 */
	for (int64_t j = 0; j < N; j++) {
		unit_row(kn + j * ldd, hd->k + j * D, D, 1.0f);
		unit_row(qn + j * ldd, hd->q + j * D, D, qs);
		for (int64_t d = 0; d < D; d++)
			kt[d * ldn + j] = kn[j * ldd + d];
		if (cf->gated)
			bc[j] = (j > 0 ? bc[j - 1] : 0.0) + (double)hd->g[j];
	}

	/*
	 * pass 1: -A, by blocks of rows: -b_i k_i · k_j e^{B_i - B_j} for the
	 * columns j < lim(i) whose error step i reads - j < i, or for TTT j
	 * before i's mini-batch - and 0 from lim(i) to the block's end. U = b V.
	 */
	for (int64_t i0 = 0; i0 < N; i0 += DELTA_BQ) {
		const int64_t i1 = attn__min64(i0 + DELTA_BQ, N);
		attn__gemm(i1 - i0, i1, D, kn + i0 * ldd, ldd, 1, kt, ldn, sc + i0 * ldn, ldn, 0);
		for (int64_t i = i0; i < i1; i++) {
			float *row = sc + i * ldn;
			const int64_t lim = cf->ttt ? i / cf->C * cf->C : i;
			const float nb = -hd->beta[i] * hd->bscale;
			if (cf->gated)
				decay_row(row, bc, i, lim);
			attn__scale(row, nb, lim);
			memset(row + lim, 0, (size_t)(i1 - lim) * sizeof(float));
			for (int64_t d = 0; d < D; d++)
				u[i * ldd + d] = -nb * hd->v[i * D + d];
		}
	}

	/* pass 2: U = (I + A)⁻¹ diag(b) V */
	solve_unit_lower(sc, ldn, N, u, ldd, D, DELTA_BQ);

	/* pass 3: scores P_ij = q_i · k_j e^{B_i - B_j} (j <= i), then O = P U */
	for (int64_t i0 = 0; i0 < N; i0 += DELTA_BQ) {
		const int64_t mb = attn__min64(DELTA_BQ, N - i0), i1 = i0 + mb;
		attn__gemm(mb, i1, D, qn + i0 * ldd, ldd, 1, kt, ldn, sc + i0 * ldn, ldn, 0);
		for (int64_t i = i0; i < i1; i++) {
			float *row = sc + i * ldn;
			if (cf->gated)
				decay_row(row, bc, i, i + 1);
			memset(row + i + 1, 0, (size_t)(i1 - i - 1) * sizeof(float));
		}
		attn__gemm(mb, D, i1, sc + i0 * ldn, ldn, 1, u, ldd, hd->o + i0 * D, D, 0);
	}
}

/*
 * The decode step of one head from its prepared state, not writing it:
 *   o = a Sᵀ q + (k · q) b (v - a Rᵀ k),
 * with q that of the single query and k, v, a, b those of position N - 1.
 * S (D, ldd); R = S, or W_b (TTT). One pass reads both.
 */
static void decode_head(const struct delta_plan *pl, const struct delta_head *hd, const float *S,
                        const float *R, char *slice)
{
	const int64_t N = pl->N, D = pl->D, ldd = pl->ldd;
	float *qv = (float *)(slice + pl->o_qv); /* (D) unit q / √D */
	float *kv = (float *)(slice + pl->o_kv); /* (D) unit k */
	float *uv = (float *)(slice + pl->o_uv); /* (D) Rᵀ k */
	float *yv = (float *)(slice + pl->o_yv); /* (D) Sᵀ q */
	const float *v = hd->v + (N - 1) * D;
	float at, bt;

	step_coef(hd, N - 1, &at, &bt);
	unit_row(kv, hd->k + (N - 1) * D, D, 1.0f);
	unit_row(qv, hd->q, D, q_scale(D));
	memset(uv, 0, (size_t)D * sizeof(float));
	memset(yv, 0, (size_t)D * sizeof(float));
	for (int64_t r = 0; r < D; r++) {
		attn__axpy(uv, kv[r], R + r * ldd, D);
		attn__axpy(yv, qv[r], S + r * ldd, D);
	}
	const float kq = attn__dot(kv, qv, D);
	for (int64_t c = 0; c < D; c++)
		hd->o[c] = at * yv[c] + kq * bt * (v[c] - at * uv[c]);
}

/* ---- entry points -------------------------------------------------------------- */

static int inputs_ok(const struct delta_cfg *cf, const struct attn_inputs *in)
{
	if (!in || !in->q || !in->k || !in->v || !in->beta)
		return 0;
	return !cf->gated || in->log_gate;
}

static int delta_prepare(const struct attn__delta_spec *sp, const struct attn_shape *s,
                         const struct attn_inputs *in, void *ws, int threads)
{
	if (delta_supports(sp, s, NULL, 0) != ATTN_OK)
		return ATTN_ERR_UNSUPPORTED;
	const struct delta_cfg cf = cfg_init(sp);
	if (!inputs_ok(&cf, in))
		return ATTN_ERR_INVALID;
	if (s->mode != ATTN_MODE_DECODE)
		return ATTN_OK;
	if (!ws)
		return ATTN_ERR_INVALID;

	struct delta_plan pl;
	plan_init(&pl, &cf, s, threads);
	const int64_t heads = s->batch * s->heads, N = s->n;

#pragma omp parallel for schedule(dynamic, 1) num_threads(pl.threads)
	for (int64_t bh = 0; bh < heads; bh++) {
		struct delta_head hd;
		head_init(&hd, &cf, s, in, NULL, bh);
		float *S = (float *)ws + (size_t)bh * pl.head_state; /* (D, ldd) */
		char *slice = (char *)ws + pl.state + (size_t)attn__thread_id() * pl.slice;
		memset(S, 0, pl.head_state * sizeof(float));
		if (cf.ttt) {
			/* whole mini-batches up to b0, W_b = S there, then the part before N - 1 */
			const int64_t b0 = (N - 1) / cf.C * cf.C;
			float *Wb = S + pl.D * pl.ldd;
			chunk_run(&cf, &pl, &hd, 0, b0, 0, S, slice);
			memcpy(Wb, S, (size_t)(pl.D * pl.ldd) * sizeof(float));
			chunk_run(&cf, &pl, &hd, b0, N - 1, 0, S, slice);
		} else {
			chunk_run(&cf, &pl, &hd, 0, N - 1, 0, S, slice);
		}
	}
	return ATTN_OK;
}

static int delta_forward(const struct attn__delta_spec *sp, const struct attn_shape *s,
                         const struct attn_inputs *in, float *out, void *ws, int threads)
{
	if (delta_supports(sp, s, NULL, 0) != ATTN_OK)
		return ATTN_ERR_UNSUPPORTED;
	const struct delta_cfg cf = cfg_init(sp);
	if (!inputs_ok(&cf, in) || !out || !ws)
		return ATTN_ERR_INVALID;

	struct delta_plan pl;
	plan_init(&pl, &cf, s, threads);
	const int64_t heads = s->batch * s->heads;
	const int decode = s->mode == ATTN_MODE_DECODE;

#pragma omp parallel for schedule(dynamic, 1) num_threads(pl.threads)
	for (int64_t bh = 0; bh < heads; bh++) {
		struct delta_head hd;
		head_init(&hd, &cf, s, in, out, bh);
		char *slice = (char *)ws + pl.state + (size_t)attn__thread_id() * pl.slice;

		if (decode) {
			const float *S = (const float *)ws + (size_t)bh * pl.head_state;
			decode_head(&pl, &hd, S, cf.ttt ? S + pl.D * pl.ldd : S, slice);
			continue;
		}
		if (cf.form == ATTN__LIN_FORM_PARALLEL) {
			parallel_head(&cf, &pl, &hd, slice);
			continue;
		}
		float *S = (float *)(slice + pl.o_s); /* (D, ldd) */
		memset(S, 0, (size_t)(pl.D * pl.ldd) * sizeof(float));
		if (cf.form == ATTN__LIN_FORM_CHUNK)
			chunk_run(&cf, &pl, &hd, 0, s->n, 1, S, slice);
		else
			recurrent_run(&cf, &pl, &hd, S, cf.ttt ? (float *)(slice + pl.o_sb) : NULL,
			              slice);
	}
	return ATTN_OK;
}

/* dst (D) = x / sqrt(x · x + ε) · scale in float64, x (D) float32. */
static void unit_row_d(double *dst, const float *x, int64_t D, double scale)
{
	double ss = 0.0;
	for (int64_t d = 0; d < D; d++)
		ss += (double)x[d] * (double)x[d];
	const double r = scale / sqrt(ss + DELTA_EPS);
	for (int64_t d = 0; d < D; d++)
		dst[d] = (double)x[d] * r;
}

static int delta_oracle(const struct attn__delta_spec *sp, const struct attn_shape *s,
                        const struct attn_inputs *in, double *out)
{
	if (delta_supports(sp, s, NULL, 0) != ATTN_OK)
		return ATTN_ERR_UNSUPPORTED;
	const struct delta_cfg cf = cfg_init(sp);
	if (!inputs_ok(&cf, in) || !out)
		return ATTN_ERR_INVALID;

	const int64_t N = s->n, D = s->d, NQ = attn_shape_nq(s);
	const int64_t heads = s->batch * s->heads;
	double *buf = malloc((size_t)(2 * D * D + 3 * D) * sizeof(double));
	if (!buf)
		return ATTN_ERR_NOMEM;
	double *S = buf;              /* (D, D) the state, W for TTT */
	double *Wb = buf + D * D;     /* (D, D) TTT: W at the mini-batch start */
	double *kd = buf + 2 * D * D; /* (D) unit k_t */
	double *qd = kd + D;          /* (D) unit q / √D */
	double *err = qd + D;         /* (D) the error of step t */

	for (int64_t bh = 0; bh < heads; bh++) {
		struct delta_head hd;
		head_init(&hd, &cf, s, in, NULL, bh);
		memset(S, 0, (size_t)(D * D) * sizeof(double));
		for (int64_t t = 0; t < N; t++) {
			const double a = cf.gated ? exp((double)hd.g[t]) : 1.0;
			const float *v = hd.v + t * D;
			unit_row_d(kd, hd.k + t * D, D, 1.0);
			if (cf.ttt) {
				/*
				 * TTT: W_b is frozen for the mini-batch; the gradient of
				 * ½‖W_bᵀk - v‖² is k (W_bᵀk - v)ᵀ and W -= η k errᵀ.
				 */
				const double eta = (double)hd.beta[t] / (double)cf.C;
				if (t % cf.C == 0)
					memcpy(Wb, S, (size_t)(D * D) * sizeof(double));
				for (int64_t c = 0; c < D; c++) {
					double y = 0.0;
					for (int64_t r = 0; r < D; r++)
						y += Wb[r * D + c] * kd[r];
					err[c] = y - (double)v[c];
				}
				for (int64_t r = 0; r < D; r++)
					for (int64_t c = 0; c < D; c++)
						S[r * D + c] -= eta * kd[r] * err[c];
			} else {
				/* S = a (I - b k kᵀ) S + b k vᵀ, as written */
				const double b = (double)hd.beta[t];
				for (int64_t c = 0; c < D; c++) {
					double ks = 0.0; /* (kᵀ S)_c */
					for (int64_t r = 0; r < D; r++)
						ks += kd[r] * S[r * D + c];
					for (int64_t r = 0; r < D; r++)
						S[r * D + c] = a * (S[r * D + c] - b * kd[r] * ks) +
						               b * kd[r] * (double)v[c];
				}
			}
			/* o_t = S_tᵀ q_t at every step (prefill) or at N - 1 (decode) */
			if (NQ == N || t == N - 1) {
				const int64_t i = NQ == N ? t : 0;
				double *o = out + (bh * NQ + i) * D;
				unit_row_d(qd, hd.q + i * D, D, 1.0 / sqrt((double)D));
				for (int64_t c = 0; c < D; c++) {
					double y = 0.0;
					for (int64_t r = 0; r < D; r++)
						y += S[r * D + c] * qd[r];
					o[c] = y;
				}
			}
		}
	}
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

int attn__delta_supports(const struct attn_method *m, const struct attn_shape *s,
                         const struct attn_params *p, char *msg, size_t msglen)
{
	struct attn__delta_spec sp;
	sp = (struct attn__delta_spec){.kind = ((const struct attn__delta_method *)m->data)->kind,
	                               .p = p};
	return delta_supports(&sp, s, msg, msglen);
}

size_t attn__delta_workspace_bytes(const struct attn_method *m, const struct attn_shape *s,
                                   const struct attn_params *p, int threads)
{
	struct attn__delta_spec sp;
	sp = (struct attn__delta_spec){.kind = ((const struct attn__delta_method *)m->data)->kind,
	                               .p = p};
	return delta_workspace_bytes(&sp, s, threads);
}

double attn__delta_flops(const struct attn_method *m, const struct attn_shape *s,
                         const struct attn_params *p)
{
	struct attn__delta_spec sp;
	sp = (struct attn__delta_spec){.kind = ((const struct attn__delta_method *)m->data)->kind,
	                               .p = p};
	return delta_flops(&sp, s);
}

double attn__delta_bytes(const struct attn_method *m, const struct attn_shape *s,
                         const struct attn_params *p)
{
	struct attn__delta_spec sp;
	sp = (struct attn__delta_spec){.kind = ((const struct attn__delta_method *)m->data)->kind,
	                               .p = p};
	return delta_bytes(&sp, s);
}

int attn__delta_prepare(const struct attn_method *m, const struct attn_shape *s,
                        const struct attn_params *p, const struct attn_inputs *in, void *ws,
                        const struct attn_ctx *ctx)
{
	struct attn__delta_spec sp;
	sp = (struct attn__delta_spec){.kind = ((const struct attn__delta_method *)m->data)->kind,
	                               .p = p};
	return delta_prepare(&sp, s, in, ws, ctx ? ctx->threads : 1);
}

int attn__delta_forward(const struct attn_method *m, const struct attn_shape *s,
                        const struct attn_params *p, const struct attn_inputs *in, float *out,
                        void *ws, const struct attn_ctx *ctx)
{
	struct attn__delta_spec sp;
	sp = (struct attn__delta_spec){.kind = ((const struct attn__delta_method *)m->data)->kind,
	                               .p = p};
	return delta_forward(&sp, s, in, out, ws, ctx ? ctx->threads : 1);
}

int attn__delta_oracle(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p, const struct attn_inputs *in, double *out,
                       const struct attn_ctx *ctx)
{
	struct attn__delta_spec sp;
	(void)ctx;
	sp = (struct attn__delta_spec){.kind = ((const struct attn__delta_method *)m->data)->kind,
	                               .p = p};
	return delta_oracle(&sp, s, in, out);
}
