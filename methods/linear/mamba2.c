/*
 * `mamba2`: the state-space duality (SSD) layer of Mamba-2 (Dao and Gu
 * 2024), the scalar-gate row of the survey's Table 1:
 *
 *     S_t = α_t S_{t-1} + k_t v_tᵀ,   o_t = S_tᵀ q_t / √D,   α_t = e^{log_gate[t]}
 *
 * In SSD's names k is B, q is C, v is x and log α_t = Δ_t A; the Δ_t that
 * also scales x, the skip connection D x and the gating around the layer
 * are left out (they are not the attention-like mixing). The log gates come
 * from the workload (ATTN_INPUT_LOG_GATE, one per query head and step, in
 * [-0.1, -0.0001)). The 1/√D keeps scores in the range of the other
 * methods (flash-linear-attention's default scale for this recurrence).
 *
 * Causal only. The engine (methods/engines/linattn.c) computes the three
 * forms; the chunk form is SSD's block decomposition (diagonal blocks as
 * masked products, off-diagonal through the carried state).
 */
#include "engines/linattn.h"
#include "kernels/kernels.h"

static const struct attn_param_spec mamba2_params[] = {
    ATTN__LIN_PARAM_FORM,
    ATTN__LIN_PARAM_CHUNK,
};

static void mamba2_spec(const struct attn_params *p, struct attn__lin_spec *ls)
{
	*ls = (struct attn__lin_spec){
	    .gate = ATTN__LIN_GATE_SCALAR,
	    .feature = ATTN__LIN_FEATURE_IDENTITY,
	    .normalize = 0,
	    .noncausal_ok = 0,
	    .scale_sqrt_d = 1,
	    .name = "mamba2",
	};
	attn__lin_spec_params(ls, p);
}

static const struct attn__lin_method mamba2_data = {.spec = mamba2_spec};

const struct attn_method attn_method_mamba2 = {
    ATTN__LIN_METHOD_COMMON,
    .data = &mamba2_data,
    .name = "mamba2",
    .category = "gates",
    .summary = "Mamba-2 SSD: data-dependent scalar decay per head and step",
    .citation = "Dao and Gu 2024, Transformers are SSMs (Mamba-2), arXiv 2405.21060",
    .inputs = ATTN_INPUT_LOG_GATE,
    .n_params = 2,
    .params = mamba2_params,
};
