/*
 * `hgrn2`: HGRN-2 (Qin et al. 2024, Gated Linear RNNs with State
 * Expansion), the data-dependent gate row of the survey's Table 1 whose key
 * is tied to the forget gate:
 *
 *     S_t = Diag(a_t) S_{t-1} + (1 - a_t) v_tᵀ,   o_t = S_tᵀ q_t,
 *     a_t = e^{gate_vec[t]} in (0, 1)^D
 *
 * (the paper's h_t = Diag(f_t) h_{t-1} + (1 - f_t) ⊗ i_t, o_t = h_tᵀ q_t,
 * with f = forget gate, i = input, q = output gate). The K input is not
 * used: the engine builds k_t = 1 - a_t from the gate (`key_from_gate`),
 * so the workload's K tensor is allocated but never read. The log gates
 * come from the workload (ATTN_INPUT_GATE_VEC, one D-vector per query head
 * and step, in [-0.1, -0.0001), as for gla), not from the paper's learned,
 * lower-bounded projection. No 1/√D on q: the paper's recurrence has none.
 *
 * Causal only. The engine (methods/engines/linattn.c) computes the three
 * forms exactly as for gla (GLA's chunk form, which HGRN-2 itself uses);
 * `form` picks one, chunk by default.
 */
#include "engines/linattn.h"
#include "kernels/kernels.h"

static const struct attn_param_spec hgrn2_params[] = {
    ATTN__LIN_PARAM_FORM,
    ATTN__LIN_PARAM_CHUNK,
};

static void hgrn2_spec(const struct attn_params *p, struct attn__lin_spec *ls)
{
	*ls = (struct attn__lin_spec){
	    .gate = ATTN__LIN_GATE_VEC,
	    .feature = ATTN__LIN_FEATURE_IDENTITY,
	    .normalize = 0,
	    .noncausal_ok = 0,
	    .scale_sqrt_d = 0,
	    .key_from_gate = 1,
	    .name = "hgrn2",
	};
	attn__lin_spec_params(ls, p);
}

static const struct attn__lin_method hgrn2_data = {.spec = hgrn2_spec};

const struct attn_method attn_method_hgrn2 = {
    ATTN__LIN_METHOD_COMMON,
    .data = &hgrn2_data,
    .name = "hgrn2",
    .category = "gates",
    .summary = "HGRN-2: gated linear RNN, key tied to 1 - forget gate (per key dimension)",
    .citation = "Qin et al. 2024, HGRN2: Gated Linear RNNs with State Expansion, arXiv 2404.07904",
    .inputs = ATTN_INPUT_GATE_VEC,
    .n_params = 2,
    .params = hgrn2_params,
};
