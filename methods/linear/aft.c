/*
 * `aft`: AFT-simple (Zhai et al. 2021, An Attention Free Transformer, §3.2),
 * the element-wise row of the survey's linear family:
 *
 *     o_t = σ(q_t) ⊙ Σ_j e^{k_j} ⊙ v_j / Σ_j e^{k_j}     (per channel)
 *
 * a softmax over positions in each channel, the key its logit, no query-key
 * product and no position bias (AFT-full's learned w_tj is left out: it
 * would be a learned N x N table, and AFT-simple is the variant that is
 * linear in N). Not causal, j runs over all N keys; causal, over j <= t.
 *
 * The engine (methods/engines/wkv.c) computes both forms: recurrent by
 * default (time O(N D), a state of 3 D floats per head: numerator,
 * denominator and their running max exponent), parallel as the explicit
 * O(N² D) sum. There is no chunk form. Stable at any key size and N (no
 * overflow, no NaN).
 */
#include "engines/wkv.h"
#include "kernels/kernels.h"

static const struct attn__wkv_method aft_data = {.decay = NULL};

const struct attn_method attn_method_aft = {
    ATTN__WKV_METHOD_COMMON,
    .name = "aft",
    .data = &aft_data,
    .summary = "AFT-simple: a softmax over positions per channel, keys as logits, gated by σ(q)",
    .citation = "Zhai et al. 2021, An Attention Free Transformer, arXiv 2105.14103",
};
