/*
 * `rfa`: Random Feature Attention (Peng et al. 2021), softmax attention
 * approximated by random Fourier features of unit-normalised queries and
 * keys. With x̂ = x / ‖x‖ (x = 0 maps to 0) and W (m, D) Gaussian,
 *
 *     φ(x) = √(1/m) [sin(W x̂), cos(W x̂)]                    (F = 2m)
 *     φ(q) · φ(k) = (1/m) Σ_r cos(w_rᵀ(q̂ - k̂))
 *                 ≈ e^{-‖q̂ - k̂‖²/2} = e^{q̂ᵀk̂ - 1},
 *     o_t = Σ_j φ(q_t) · φ(k_j) v_j / Σ_j φ(q_t) · φ(k_j)      (j <= t causal)
 *
 * The paper's W has rows w_r ~ N(0, σ² I) with σ learned; here σ = 1, so the
 * kernel is softmax of q̂ᵀk̂ at temperature 1, and W is iid N(0, 1) from the
 * `seed` parameter (one W for all heads), drawn once in prepare(); `m` its
 * rows (default 128).
 *
 * The denominator. Unlike Performer's positive features, sin/cos features
 * give a kernel estimate of either sign, so Σ_j φ(q) · φ(k_j) may come near
 * 0 or below it, where the ratio is meaningless. σ = 1 is what keeps it
 * away: each key's term has mean e^{q̂ᵀk̂ - 1} and a standard deviation
 * below 0.7/√m (0.06 at m = 128). Random q̂ and k̂ are nearly orthogonal
 * (q̂ᵀk̂ ~ N(0, 1/D)), mean ≈ e^{-1} ≈ 0.37, about 7σ from 0 for a single
 * key; a key opposite to the query has mean e^{-2} ≈ 0.14, only about 2σ,
 * so a lone opposing key can give a non-positive denominator, and more
 * visible keys make it less likely. A larger σ sharpens the kernel but its
 * mean e^{-σ²(1 - q̂ᵀk̂)} sinks below that noise (at σ² = √D, e^{-8} for
 * D = 64). We do not clamp the denominator:
 * a clamp would make the forms disagree wherever they straddle it, and the
 * plain formula is the one the paper defines; the forms agree with this
 * oracle to rounding, its error against softmax is a recorded result. A
 * small m (say 8) does make near-zero denominators likely.
 *
 * Causal and not. The engine (methods/engines/linattn.c) computes the three
 * forms; the projection X Wᵀ is one GEMM per chunk, then a vectorised
 * sincos per element.
 */
#include <math.h>

#include "engines/linattn.h"
#include "kernels/kernels.h"

static const struct attn_param_spec rfa_params[] = {
    ATTN__LIN_PARAM_FORM,
    ATTN__LIN_PARAM_CHUNK,
    ATTN__LIN_PARAM_M(128),
    ATTN__LIN_PARAM_SEED,
};

static int64_t rfa_dim(const struct attn__lin_spec *ls, int64_t D)
{
	(void)D;
	return 2 * ls->proj;
}

/*
 * sin x and cos x in float32, branch-free so the loop that calls it
 * vectorises (libm's sinf would be a call per element). x = n π/2 + r with
 * |r| <= π/4 and π/2 split in three (Cody and Waite: n π/2 is exact for
 * |n| < 2^15, far beyond RFA's |w_rᵀx̂| <= ‖w_r‖, a few tens), then the
 * minimax polynomials of Cephes sinf and cosf on |r| <= π/4 (about 1 ulp),
 * swapped and negated by the quadrant n mod 4:
 *   n ≡ 0: ( sin r,  cos r)   1: ( cos r, -sin r)
 *       2: (-sin r, -cos r)   3: (-cos r,  sin r)
 */
static inline void rfa_sincos(float x, float *sn, float *cs)
{
	const float t = x * 0.636619772367581343f + 0x1.8p23f; /* round(x 2/π) + 1.5·2²³ */
	const float n = t - 0x1.8p23f;
	const uint32_t q = attn__f32_bits(t) - attn__f32_bits(0x1.8p23f); /* n mod 2³² */
	float r = x - n * 1.5703125f;
	r = r - n * 4.837512969970703125e-4f;
	r = r - n * 7.54978995489188216e-8f;
	const float z = r * r;

	float ps = -1.9515295891e-4f;
	ps = attn__fmaf(ps, z, 8.3321608736e-3f);
	ps = attn__fmaf(ps, z, -1.6666654611e-1f);
	const float sr = attn__fmaf(ps * z, r, r);
	float pc = 2.443315711809948e-5f;
	pc = attn__fmaf(pc, z, -1.388731625493765e-3f);
	pc = attn__fmaf(pc, z, 4.166664568298827e-2f);
	const float cr = attn__fmaf(pc * z, z, attn__fmaf(-0.5f, z, 1.0f));

	const float s = (q & 1u) ? cr : sr, c = (q & 1u) ? sr : cr;
	*sn = (q & 2u) ? -s : s;
	*cs = ((q + 1u) & 2u) ? -c : c;
}

/*
 * dst (n, ldf) holds u = W x per row in columns 0..m-1; leave
 *   φ = √(1/m) [sin(u / ‖x‖), cos(u / ‖x‖)]
 * (the cosines first into columns m..2m-1, which u does not occupy).
 */
static void rfa_apply(const struct attn__lin_spec *ls, const struct attn__lin_rows *r, float *dst,
                      int64_t ldf, float *kshift)
{
	(void)kshift;
	const int64_t m = ls->proj, D = r->D;
	const float amp = (float)(1.0 / sqrt((double)m));

	for (int64_t i = 0; i < r->n; i++) {
		const float *x = r->x + i * D;
		float *row = dst + i * ldf;
		const float nx = sqrtf(attn__dot(x, x, D));
		const float inv = nx > 0.0f ? 1.0f / nx : 0.0f;
		for (int64_t j = 0; j < m; j++) {
			float sn, cs;
			rfa_sincos(row[j] * inv, &sn, &cs);
			row[j] = amp * sn;
			row[m + j] = amp * cs;
		}
	}
}

/* The oracle's map: the same in float64 with libm's sin and cos. */
static void rfa_apply_d(const struct attn__lin_spec *ls, const struct attn__lin_rows *r,
                        double *dst, int64_t ldf, double *kshift)
{
	(void)kshift;
	const int64_t m = ls->proj, D = r->D;
	const double amp = 1.0 / sqrt((double)m);

	for (int64_t i = 0; i < r->n; i++) {
		const float *x = r->x + i * D;
		double *row = dst + i * ldf, nx = 0.0;
		for (int64_t d = 0; d < D; d++)
			nx += (double)x[d] * (double)x[d];
		nx = sqrt(nx);
		for (int64_t j = 0; j < m; j++) {
			const double u = nx > 0.0 ? row[j] / nx : 0.0;
			row[j] = amp * sin(u);
			row[m + j] = amp * cos(u);
		}
	}
}

static const struct attn__lin_fmap rfa_fmap = {
    .dim = rfa_dim,
    .apply = rfa_apply,
    .apply_d = rfa_apply_d,
};

static void rfa_spec(const struct attn_params *p, struct attn__lin_spec *ls)
{
	*ls = (struct attn__lin_spec){
	    .gate = ATTN__LIN_GATE_NONE,
	    .normalize = 1,
	    .noncausal_ok = 1,
	    .scale_sqrt_d = 0,
	    .fmap = &rfa_fmap,
	    .name = "rfa",
	};
	attn__lin_spec_params(ls, p);
	attn__lin_spec_proj(ls, p, rfa_params, ATTN__LIN_PROJ_GAUSSIAN);
}

static const struct attn__lin_method rfa_data = {.spec = rfa_spec};

const struct attn_method attn_method_rfa = {
    ATTN__LIN_METHOD_COMMON,
    .data = &rfa_data,
    .name = "rfa",
    .category = "softmax approximator",
    .summary = "Random Feature Attention: sin/cos random Fourier features of unit q, k, normalised",
    .citation = "Peng et al. 2021, Random Feature Attention, arXiv 2103.02143",
    .inputs = 0,
    .n_params = 4,
    .params = rfa_params,
};
