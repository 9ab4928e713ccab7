/*
 * `gated_deltanet`: Gated DeltaNet (Yang, Kautz and Hatamizadeh 2024), the
 * delta rule with Mamba-2's scalar forget gate:
 *
 *     S_t = α_t (I - β_t k_t k_tᵀ) S_{t-1} + β_t k_t v_tᵀ,   o_t = S_tᵀ q_t,
 *     α_t = e^{log_gate[t]}
 *
 * The gate decays the whole memory at once (forgetting), the delta rule
 * edits it along k_t (overwriting). k and q are L2-normalised per row, q
 * scaled by 1/√D, as for deltanet. The log gates (ATTN_INPUT_LOG_GATE, per
 * query head and step, in [-0.1, -0.0001)) and β (ATTN_INPUT_BETA, in
 * [0.05, 0.95)) come from the workload, not from learned projections.
 *
 * Causal only. The engine (methods/engines/delta.c) computes the three
 * forms; the chunk form folds the cumulative gate relative to each chunk
 * into its tiles (the paper's Γ matrices) and cuts a chunk where the fold
 * would leave [e^-20, 1].
 */
#include "engines/delta.h"

static const struct attn__delta_method gated_deltanet_data = {.kind = ATTN__DELTA_GATED};

const struct attn_method attn_method_gated_deltanet = {
    ATTN__DELTA_METHOD_COMMON,
    .data = &gated_deltanet_data,
    .name = "gated_deltanet",
    .category = "delta rule",
    .summary = "Gated DeltaNet: delta rule under a scalar forget gate per head and step",
    .citation = "Yang, Kautz and Hatamizadeh 2024, Gated Delta Networks: Improving Mamba2 "
                "with Delta Rule, arXiv 2412.06464",
    .inputs = ATTN_INPUT_BETA | ATTN_INPUT_LOG_GATE,
    .params = attn__delta_params,
};
