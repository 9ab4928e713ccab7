/*
 * `retnet`: retention (Sun et al. 2023, RetNet), the data-independent decay
 * row of the survey's Table 1:
 *
 *     S_t = γ_h S_{t-1} + k_t v_tᵀ,   o_t = S_tᵀ q_t / √D
 *
 * equal to the parallel form O = (Q Kᵀ / √D ⊙ D) V with D_ij = γ^(i-j) for
 * j <= i. Multi-scale, as in the paper (§2.2): head h of H decays with
 * γ_h = 1 - 2^(-5-h) (h = 0..H-1), so heads remember over 32, 64, 128, ...
 * steps; `gamma` > 0 gives every head that one γ instead. The paper's
 * xPos rotation and GroupNorm of the output are left out (rotation acts on
 * the inputs, which are given; the norm is a layer after attention), as is
 * its score normalisation, which only the parallel form can do.
 *
 * Causal only. The engine (methods/engines/linattn.c) computes the three
 * forms; `form` picks one, chunk by default (time O(N), extra memory
 * independent of N); the parallel form is the O(N²) reference.
 */
#include <math.h>

#include "engines/linattn.h"
#include "kernels/kernels.h"

enum { RETNET_P_GAMMA = 2 };

static const struct attn_param_spec retnet_params[] = {
    ATTN__LIN_PARAM_FORM,
    ATTN__LIN_PARAM_CHUNK,
    {"gamma", ATTN_PARAM_REAL, 0.0, 0.0, 1.0, NULL,
     "decay of every head; 0: the paper's multi-scale 1 - 2^(-5-h)"},
};

/* log γ_h, in float64 (log1p keeps 1 - 2^-36 distinct from 1). */
static double retnet_log_decay(int64_t h, int64_t heads, double gamma)
{
	(void)heads;
	if (gamma > 0.0)
		return log(gamma);
	return log1p(-ldexp(1.0, -5 - (int)h));
}

static void retnet_spec(const struct attn_params *p, struct attn__lin_spec *ls)
{
	*ls = (struct attn__lin_spec){
	    .gate = ATTN__LIN_GATE_HEAD,
	    .feature = ATTN__LIN_FEATURE_IDENTITY,
	    .normalize = 0,
	    .noncausal_ok = 0,
	    .scale_sqrt_d = 1,
	    .head_log_decay = retnet_log_decay,
	    .gamma = attn__lin_param_real(p, RETNET_P_GAMMA, 0.0),
	    .name = "retnet",
	};
	attn__lin_spec_params(ls, p);
}

static const struct attn__lin_method retnet_data = {.spec = retnet_spec};

const struct attn_method attn_method_retnet = {
    ATTN__LIN_METHOD_COMMON,
    .data = &retnet_data,
    .name = "retnet",
    .category = "decay",
    .summary = "retention: linear attention with a fixed multi-scale decay per head",
    .citation = "Sun et al. 2023, Retentive Network (RetNet), arXiv 2307.08621",
    .inputs = 0,
    .n_params = 3,
    .params = retnet_params,
};
