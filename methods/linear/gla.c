/*
 * `gla`: Gated Linear Attention (Yang et al. 2024), the data-dependent,
 * per-key-dimension gate row of the survey's Table 1:
 *
 *     S_t = Diag(a_t) S_{t-1} + k_t v_tᵀ,   o_t = S_tᵀ q_t / √D,
 *     a_t = e^{gate_vec[t]} in (0, 1)^D
 *
 * The log gates come from the workload (ATTN_INPUT_GATE_VEC, one D-vector
 * per query head and step, in [-0.1, -0.0001): the range of a trained
 * log-sigmoid gate with its temperature), not from a learned projection.
 * The 1/√D on q is GLA's (and flash-linear-attention's) default scale.
 *
 * Causal only. The engine (methods/engines/linattn.c) computes the three
 * forms; the chunk form folds e^{cumulative gate} into the columns of q and
 * k relative to each chunk (GLA §4, secondary chunking being replaced by
 * cutting chunks where the fold would leave [e^-20, e^20]).
 */
#include "engines/linattn.h"
#include "kernels/kernels.h"

static const struct attn_param_spec gla_params[] = {
    ATTN__LIN_PARAM_FORM,
    ATTN__LIN_PARAM_CHUNK,
};

static void gla_spec(const struct attn_params *p, struct attn__lin_spec *ls)
{
	*ls = (struct attn__lin_spec){
	    .gate = ATTN__LIN_GATE_VEC,
	    .feature = ATTN__LIN_FEATURE_IDENTITY,
	    .normalize = 0,
	    .noncausal_ok = 0,
	    .scale_sqrt_d = 1,
	    .name = "gla",
	};
	attn__lin_spec_params(ls, p);
}

static const struct attn__lin_method gla_data = {.spec = gla_spec};

const struct attn_method attn_method_gla = {
    ATTN__LIN_METHOD_COMMON,
    .data = &gla_data,
    .name = "gla",
    .category = "gates",
    .summary = "gated linear attention: data-dependent decay per key dimension",
    .citation = "Yang et al. 2024, Gated Linear Attention Transformers, arXiv 2312.06635",
    .inputs = ATTN_INPUT_GATE_VEC,
    .n_params = 2,
    .params = gla_params,
};
