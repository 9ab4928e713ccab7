/*
 * `ttt_linear`: TTT-Linear (Sun et al. 2024), a layer whose state is the
 * weight W of a linear inner model f_W(k) = Wᵀk, trained while it reads
 * the sequence by gradient descent on ½‖Wᵀk_t - v_t‖², in mini-batches of
 * C tokens. Inside a mini-batch every gradient is taken at W_b, the weight
 * at the batch's start (which is what makes a batch parallel):
 *
 *     W_t = W_b - Σ_{b <= s <= t} η_s k_s (W_bᵀ k_s - v_s)ᵀ,     o_t = W_tᵀ q_t,
 *
 * and the next batch starts from W after its last token. Batches fall at
 * [0, C), [C, 2C), ... of the sequence, so C (the `C` parameter) is part
 * of the model: different C, different outputs, in every form. Decode
 * continues the batch that holds position N - 1.
 *
 * Choices where the paper has learned parts: k and q are L2-normalised per
 * row and q scaled by 1/√D (as in deltanet), and the step is η_t = β_t / C,
 * β from the workload (ATTN_INPUT_BETA, in [0.05, 0.95)): the loss is the
 * mean over the mini-batch, which keeps each batch's step a contraction
 * for any C and D (the paper scales its learned rate by 1/D and by the
 * token's index in the batch for the same reason). The paper's LayerNorm
 * and residual inside f are left out: the inner model is linear. With
 * C = 1 this is deltanet exactly (a test checks it).
 *
 * Causal only. The engine (methods/engines/delta.c) runs it as the delta
 * rule's chunk form with T = I (one chunk per mini-batch), a recurrent
 * form that keeps W_b frozen step by step, and a parallel form.
 */
#include "engines/delta.h"

static const struct attn__delta_method ttt_linear_data = {.kind = ATTN__DELTA_TTT};

const struct attn_method attn_method_ttt_linear = {
    ATTN__DELTA_METHOD_COMMON,
    .data = &ttt_linear_data,
    .name = "ttt_linear",
    .category = "test-time regression",
    .summary = "TTT-Linear: mini-batch gradient descent on a linear model of k -> v",
    .citation = "Sun et al. 2024, Learning to (Learn at Test Time): RNNs with Expressive "
                "Hidden States, arXiv 2407.04620",
    .inputs = ATTN_INPUT_BETA,
    .params = attn__ttt_params,
};
