/*
 * `lightning`: Lightning Attention (Qin et al. 2024, Lightning Attention-2),
 * the linear attention with a fixed decay per head of TransNormerLLM and
 * MiniMax-01, a data-independent decay row of the survey's Table 1:
 *
 *     S_t = λ_h S_{t-1} + k_t v_tᵀ,   o_t = S_tᵀ q_t
 *
 * equal to O = (Q Kᵀ ⊙ M) V with M_ij = λ^(i-j) for j <= i. No 1/√D: the
 * Lightning Attention-2 kernels take q and k as given (TransNormerLLM
 * normalises the output instead, a layer after attention).
 *
 * The decay follows the released code (OpenNLPLab/lightning-attention,
 * lightning_attn/utils/utils.py `_build_slope_tensor`, also used by
 * MiniMax-01): ALiBi slopes s_h, decay λ_h = e^{-s_h}, with, for H a power
 * of two,
 *     s_h = 2^(-8 (h + 1) / H)                            (h = 0..H-1)
 * and otherwise (ALiBi's rule) the P = 2^⌊log2 H⌋ slopes above for the
 * first P heads and s_h = 2^(-4 (2 (h - P) + 1) / P) for the rest. Head 0
 * forgets fastest: for H = 8, λ runs from e^{-1/2} (head 0) to e^{-1/256}
 * (head 7). MiniMax-01 and TransNormerLLM also shrink s by a per-layer
 * factor (1 - l/(L-1)); one layer is benchmarked here, at factor 1 (l = 0).
 *
 * Lightning Attention-2's intra-block (masked Q Kᵀ V) / inter-block (Q S)
 * split is the engine's chunk form (methods/engines/linattn.c), with `C` the
 * block size; `form` picks parallel, recurrent or chunk (default). Causal
 * only.
 */
#include <math.h>

#include "engines/linattn.h"
#include "kernels/kernels.h"

static const struct attn_param_spec lightning_params[] = {
    ATTN__LIN_PARAM_FORM,
    ATTN__LIN_PARAM_CHUNK,
};

/* log λ_h = -s_h, the ALiBi slope of head h of `heads` (see the top). */
static double lightning_log_decay(int64_t h, int64_t heads, double gamma)
{
	(void)gamma;
	int64_t p = 1; /* the largest power of two <= heads */
	while (p * 2 <= heads)
		p *= 2;
	if (h < p)
		return -exp2(-8.0 * (double)(h + 1) / (double)p);
	return -exp2(-4.0 * (double)(2 * (h - p) + 1) / (double)p);
}

static void lightning_spec(const struct attn_params *p, struct attn__lin_spec *ls)
{
	*ls = (struct attn__lin_spec){
	    .gate = ATTN__LIN_GATE_HEAD,
	    .feature = ATTN__LIN_FEATURE_IDENTITY,
	    .normalize = 0,
	    .noncausal_ok = 0,
	    .scale_sqrt_d = 0,
	    .head_log_decay = lightning_log_decay,
	    .gamma = 0.0,
	    .name = "lightning",
	};
	attn__lin_spec_params(ls, p);
}

static const struct attn__lin_method lightning_data = {.spec = lightning_spec};

const struct attn_method attn_method_lightning = {
    ATTN__LIN_METHOD_COMMON,
    .data = &lightning_data,
    .name = "lightning",
    .category = "decay",
    .summary = "lightning attention: linear attention with a fixed ALiBi-slope decay per head",
    .citation = "Qin et al. 2024, Lightning Attention-2, arXiv 2401.04658",
    .inputs = 0,
    .n_params = 2,
    .params = lightning_params,
};
