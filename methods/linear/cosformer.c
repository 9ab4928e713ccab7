/*
 * `cosformer`: cosFormer (Qin et al. 2022, "cosFormer: Rethinking Softmax
 * in Attention"), a ReLU kernel with a cos re-weighting that favours near
 * positions, normalised:
 *
 *     o_i = Σ_j s_ij v_j / (Σ_j s_ij + ε),
 *     s_ij = ReLU(q_i) · ReLU(k_j) cos(π (i - j) / 2M)          (j <= i causal)
 *
 * Since cos(a - b) = cos a cos b + sin a sin b, the weight splits into two
 * linear attentions, one feature map of dimension F = 2D:
 *
 *     φ(x_i) = [ReLU(x_i) cos(π i / 2M), ReLU(x_i) sin(π i / 2M)]
 *
 * for queries and keys alike, i the row's position. M is the sequence
 * length N, so |i - j| < M and every weight is >= 0: in prefill the N of
 * the shape, in decode the context's N as well (the query sits at N - 1),
 * so decode equals the last row of prefill. No 1/√D (it cancels in the
 * ratio).
 *
 * The denominator is 0 whenever no visible key shares a positive dimension
 * with the query (a query with no positive entry, or only such keys so far),
 * and then so is the numerator. ε = 1e-6 is added to it, the same in every
 * form, decode and the oracle: those rows are 0, and the others move by
 * about ε / Σ_j s_ij, orders below the tolerance (Σ_j s_ij is about D / 2π
 * per visible key for unit-variance inputs).
 *
 * It is not softmax: its error against softmax is a recorded result; its
 * oracle is the formula above. Causal and not. The engine
 * (methods/engines/linattn.c) computes the three forms.
 */
#include <math.h>

#include "engines/linattn.h"
#include "kernels/kernels.h"

#define COSFORMER_EPS 1e-6f

static const struct attn_param_spec cosformer_params[] = {
    ATTN__LIN_PARAM_FORM,
    ATTN__LIN_PARAM_CHUNK,
};

static int64_t cosformer_dim(const struct attn__lin_spec *ls, int64_t D)
{
	(void)ls;
	return 2 * D;
}

/* θ = π i / 2M of position i in a sequence of M = N. */
static double cosformer_angle(int64_t i, int64_t N)
{
	return 1.5707963267948966 * (double)i / (double)N;
}

/* dst (n, ldf) = [ReLU(x) cos θ_i, ReLU(x) sin θ_i] row by row. */
static void cosformer_apply(const struct attn__lin_spec *ls, const struct attn__lin_rows *r,
                            float *dst, int64_t ldf, float *kshift)
{
	(void)ls;
	(void)kshift;
	const int64_t D = r->D;
	for (int64_t i = 0; i < r->n; i++) {
		const double th = cosformer_angle(r->pos + i, r->N);
		const float c = (float)cos(th), s = (float)sin(th);
		const float *x = r->x + i * D;
		float *row = dst + i * ldf;
		for (int64_t d = 0; d < D; d++) {
			const float y = x[d] > 0.0f ? x[d] : 0.0f;
			row[d] = y * c;
			row[D + d] = y * s;
		}
	}
}

/* The oracle's map: the same in float64. */
static void cosformer_apply_d(const struct attn__lin_spec *ls, const struct attn__lin_rows *r,
                              double *dst, int64_t ldf, double *kshift)
{
	(void)ls;
	(void)kshift;
	const int64_t D = r->D;
	for (int64_t i = 0; i < r->n; i++) {
		const double th = cosformer_angle(r->pos + i, r->N);
		for (int64_t d = 0; d < D; d++) {
			const double y = r->x[i * D + d] > 0.0f ? (double)r->x[i * D + d] : 0.0;
			dst[i * ldf + d] = y * cos(th);
			dst[i * ldf + D + d] = y * sin(th);
		}
	}
}

static const struct attn__lin_fmap cosformer_fmap = {
    .dim = cosformer_dim,
    .apply = cosformer_apply,
    .apply_d = cosformer_apply_d,
};

static void cosformer_spec(const struct attn_params *p, struct attn__lin_spec *ls)
{
	*ls = (struct attn__lin_spec){
	    .gate = ATTN__LIN_GATE_NONE,
	    .normalize = 1,
	    .noncausal_ok = 1,
	    .scale_sqrt_d = 0,
	    .fmap = &cosformer_fmap,
	    .den_eps = COSFORMER_EPS,
	    .name = "cosformer",
	};
	attn__lin_spec_params(ls, p);
}

static const struct attn__lin_method cosformer_data = {.spec = cosformer_spec};

const struct attn_method attn_method_cosformer = {
    ATTN__LIN_METHOD_COMMON,
    .data = &cosformer_data,
    .name = "cosformer",
    .category = "softmax approximator",
    .summary = "cosFormer: ReLU kernel re-weighted by cos(pi (i - j) / 2N), normalised",
    .citation = "Qin et al. 2022, cosFormer: Rethinking Softmax in Attention, arXiv 2202.08791",
    .inputs = 0,
    .n_params = 2,
    .params = cosformer_params,
};
