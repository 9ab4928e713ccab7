/*
 * `deltanet`: the delta rule (Schlag et al. 2021; parallelised over the
 * sequence by Yang et al. 2024), the first in-context-learner row of the
 * survey's Table 1:
 *
 *     S_t = (I - β_t k_t k_tᵀ) S_{t-1} + β_t k_t v_tᵀ,      o_t = S_tᵀ q_t
 *
 * S_t is the state after one step of online regression of v on k: it first
 * erases what S held along k_t (β_t of it), then writes v_t there. As in
 * the paper, k and q are L2-normalised per row inside the method (so
 * I - β k kᵀ is a contraction and the state stays bounded), and q is
 * scaled by 1/√D (flash-linear-attention's default). β_t comes from the
 * workload (ATTN_INPUT_BETA, per query head and step, in [0.05, 0.95)).
 *
 * Causal only. The engine (methods/engines/delta.c) computes the parallel,
 * recurrent and chunkwise (WY / UT transform) forms.
 */
#include "engines/delta.h"

static const struct attn__delta_method deltanet_data = {.kind = ATTN__DELTA_PLAIN};

const struct attn_method attn_method_deltanet = {
    ATTN__DELTA_METHOD_COMMON,
    .data = &deltanet_data,
    .name = "deltanet",
    .category = "delta rule",
    .summary = "DeltaNet: the delta rule, S = (I - b k k^T) S + b k v^T, unit keys",
    .citation = "Schlag et al. 2021, Linear Transformers Are Secretly Fast Weight Programmers, "
                "arXiv 2102.11174; Yang et al. 2024, Parallelizing Linear Transformers with "
                "the Delta Rule over Sequence Length, arXiv 2406.06484",
    .inputs = ATTN_INPUT_BETA,
    .params = attn__delta_params,
};
