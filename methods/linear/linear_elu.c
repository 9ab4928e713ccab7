/*
 * `linear_elu`: the Linear Transformer (Katharopoulos et al. 2020,
 * "Transformers are RNNs"), the kernelised softmax approximator with
 * φ(x) = elu(x) + 1 applied to queries and keys:
 *
 *   causal      o_t = S_tᵀ φ(q_t) / (φ(q_t) · z_t),
 *               S_t = S_{t-1} + φ(k_t) v_tᵀ,  z_t = z_{t-1} + φ(k_t)
 *   not causal  O = φ(Q) (φ(K)ᵀ V) / φ(Q) (φ(K)ᵀ 1)
 *
 * No decay, no 1/√D (it would cancel in the ratio only for the identity map;
 * the paper applies φ to the raw projections). φ > 0, so the denominator is
 * positive. The paper adds ε = 1e-6 to it; we do not, so that the oracle is
 * the plain formula above. It approximates softmax attention: its error
 * against softmax is a result, not a failure; its oracle is its own formula.
 *
 * The engine (methods/engines/linattn.c) computes the three forms; `form`
 * picks one, chunk by default (time O(N)); the parallel form is O(N²).
 */
#include "engines/linattn.h"
#include "kernels/kernels.h"

static const struct attn_param_spec linear_elu_params[] = {
    ATTN__LIN_PARAM_FORM,
    ATTN__LIN_PARAM_CHUNK,
};

static void linear_elu_spec(const struct attn_params *p, struct attn__lin_spec *ls)
{
	*ls = (struct attn__lin_spec){
	    .gate = ATTN__LIN_GATE_NONE,
	    .feature = ATTN__LIN_FEATURE_ELU1,
	    .normalize = 1,
	    .noncausal_ok = 1,
	    .scale_sqrt_d = 0,
	    .name = "linear_elu",
	};
	attn__lin_spec_params(ls, p);
}

static const struct attn__lin_method linear_elu_data = {.spec = linear_elu_spec};

const struct attn_method attn_method_linear_elu = {
    ATTN__LIN_METHOD_COMMON,
    .data = &linear_elu_data,
    .name = "linear_elu",
    .category = "softmax approximator",
    .summary = "Linear Transformer: phi = elu + 1 kernel, normalised, causal or not",
    .citation = "Katharopoulos et al. 2020, Transformers are RNNs, arXiv 2006.16236",
    .inputs = 0,
    .n_params = 2,
    .params = linear_elu_params,
};
