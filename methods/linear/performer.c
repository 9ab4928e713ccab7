/*
 * `performer`: FAVOR+ (Choromanski et al. 2021, "Rethinking Attention with
 * Performers"), softmax attention approximated by positive orthogonal
 * random features. With x' = x / D^{1/4} and Ω (m, D),
 *
 *     φ(x)_r = e^{ω_rᵀx' - ‖x'‖²/2 - c} / √m,        r = 1..m  (F = m),
 *
 * E[φ(q) · φ(k)] = e^{q'ᵀk'} e^{-c_q - c_k} = e^{qᵀk / √D} e^{-c_q - c_k},
 * the softmax kernel, and the method is normalised:
 *
 *     o_t = Σ_j φ(q_t) · φ(k_j) v_j / Σ_j φ(q_t) · φ(k_j)     (j <= t causal)
 *
 * Ω: blocks of D orthogonal rows (Gram-Schmidt of a Gaussian matrix), each
 * row rescaled to a chi(D)-distributed norm - the length of an independent
 * Gaussian D-vector - as the paper's reference code does by default. One Ω
 * for all heads (the reference code draws one per layer), from the `seed`
 * parameter, drawn once in prepare(); `m` its rows (default 256).
 *
 * Stabilisation, which cancels in the ratio (numerator and denominator
 * carry the same e^{-c}): a query row subtracts its own largest exponent
 * (so ‖x'‖²/2, common to the row, drops out and its largest feature is
 * 1/√m: no overflow at any ‖q‖); keys subtract one constant per head, the
 * largest exponent over the keys mapped so far - in the chunk form it rises
 * chunk by chunk and the engine rescales the state by e^{old - new}, in
 * decode the new key may raise it above the prepared one (the prepared
 * state is scaled by that scalar, not rewritten). The oracle maps a head's
 * keys in one go under their maximum. At huge ‖k‖ the features of all but
 * the largest keys still underflow, in float32 sooner than in float64: that
 * is the estimator, not the shift.
 *
 * It approximates softmax attention: its error against softmax is a
 * recorded result, and shrinks as m grows; its oracle is the formula above
 * in float64 with the same Ω. Causal and not. The engine
 * (methods/engines/linattn.c) computes the three forms; the projection
 * X Ωᵀ is one GEMM per chunk, the largest product at m = 256.
 */
#include <math.h>

#include "engines/linattn.h"
#include "kernels/kernels.h"

static const struct attn_param_spec performer_params[] = {
    ATTN__LIN_PARAM_FORM,
    ATTN__LIN_PARAM_CHUNK,
    ATTN__LIN_PARAM_M(256),
    ATTN__LIN_PARAM_SEED,
};

static int64_t performer_dim(const struct attn__lin_spec *ls, int64_t D)
{
	(void)D;
	return ls->proj;
}

/* b = s mu - s² ‖x‖² / 2, the largest exponent of a key row x (D) whose max u is mu. */
static double performer_top(float mu, const float *x, int64_t D, double s)
{
	return s * (double)mu - 0.5 * s * s * (double)attn__dot(x, x, D);
}

/*
 * dst (n, ldf) holds u = Ω x per row; leave φ(x). With s = D^{-1/4}, the
 * exponent of feature r is e_r = s u_r - s² ‖x‖² / 2, and
 *   query:  φ_r = e^{s (u_r - max u) - ln √m}        (c = the row's largest e_r)
 *   key:    φ_r = e^{s (u_r - max u) + (b - c) - ln √m},
 *           b = s max u - s² ‖x‖² / 2 the row's largest e_r, c = max(c, max b)
 * The row's max leaves u before the exponent is formed, so the large terms
 * of e_r (s u_r and ‖x'‖²/2, each thousands at large ‖x‖) never meet in
 * float32: only the per-row scalar b - c is rounded. Keys take two passes,
 * since their shift must first cover the whole block.
 */
static void performer_apply(const struct attn__lin_spec *ls, const struct attn__lin_rows *r,
                            float *dst, int64_t ldf, float *kshift)
{
	const int64_t m = ls->proj, D = r->D;
	const double s = pow((double)D, -0.25);
	const float sf = (float)s, lm = (float)(0.5 * log((double)m));

	if (!r->is_query) {
		double c = (double)*kshift;
		for (int64_t i = 0; i < r->n; i++) {
			const double b =
			    performer_top(attn__max(dst + i * ldf, m), r->x + i * D, D, s);
			c = b > c ? b : c;
		}
		*kshift = (float)c;
	}
	for (int64_t i = 0; i < r->n; i++) {
		float *row = dst + i * ldf;
		const float mu = attn__max(row, m);
		float beta = -lm;
		if (!r->is_query)
			beta =
			    (float)(performer_top(mu, r->x + i * D, D, s) - (double)*kshift) - lm;
		for (int64_t j = 0; j < m; j++)
			row[j] = attn__expf(attn__fmaf(sf, row[j] - mu, beta));
	}
}

/*
 * The oracle's map, in float64 and the formula's own order:
 *   e_r = s u_r - s² ‖x‖² / 2,  φ_r = e^{e_r - c} / √m,
 * c = the row's max (query) or the max over all the rows (keys).
 */
static void performer_apply_d(const struct attn__lin_spec *ls, const struct attn__lin_rows *r,
                              double *dst, int64_t ldf, double *kshift)
{
	const int64_t m = ls->proj, D = r->D;
	const double s = pow((double)D, -0.25);
	double c = -INFINITY;

	for (int64_t i = 0; i < r->n; i++) {
		const float *x = r->x + i * D;
		double *row = dst + i * ldf;
		double h = 0.0;
		for (int64_t d = 0; d < D; d++)
			h += (double)x[d] * (double)x[d];
		h *= 0.5 * s * s;
		for (int64_t j = 0; j < m; j++) {
			row[j] = s * row[j] - h;
			c = row[j] > c ? row[j] : c;
		}
		if (r->is_query) {
			for (int64_t j = 0; j < m; j++)
				row[j] = exp(row[j] - c) / sqrt((double)m);
			c = -INFINITY;
		}
	}
	if (r->is_query)
		return;
	*kshift = c > *kshift ? c : *kshift;
	for (int64_t i = 0; i < r->n; i++)
		for (int64_t j = 0; j < m; j++)
			dst[i * ldf + j] = exp(dst[i * ldf + j] - *kshift) / sqrt((double)m);
}

static const struct attn__lin_fmap performer_fmap = {
    .dim = performer_dim,
    .apply = performer_apply,
    .apply_d = performer_apply_d,
};

static void performer_spec(const struct attn_params *p, struct attn__lin_spec *ls)
{
	*ls = (struct attn__lin_spec){
	    .gate = ATTN__LIN_GATE_NONE,
	    .normalize = 1,
	    .noncausal_ok = 1,
	    .scale_sqrt_d = 0,
	    .fmap = &performer_fmap,
	    .name = "performer",
	};
	attn__lin_spec_params(ls, p);
	attn__lin_spec_proj(ls, p, performer_params, ATTN__LIN_PROJ_ORTHOGONAL);
}

static const struct attn__lin_method performer_data = {.spec = performer_spec};

const struct attn_method attn_method_performer = {
    ATTN__LIN_METHOD_COMMON,
    .data = &performer_data,
    .name = "performer",
    .category = "softmax approximator",
    .summary = "Performer FAVOR+: positive orthogonal random features, normalised, causal or not",
    .citation = "Choromanski et al. 2021, Rethinking Attention with Performers, arXiv 2009.14794",
    .inputs = 0,
    .n_params = 4,
    .params = performer_params,
};
