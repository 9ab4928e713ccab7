/*
 * `window`: sliding-window attention, the w most recent keys (the local
 * pattern of the Sparse Transformer, Longformer and Mistral's SWA):
 *
 *     causal:      query t keeps key j  iff  t - w < j <= t
 *     not causal:  query t keeps key j  iff  |t - j| < w
 *
 * softmax over the kept keys only, exactly. One interval per row,
 * [t - w + 1, t + w) (causality cuts it to [t - w + 1, t]); on blocks of b
 * that is about w/b + 1 key blocks per query block (2w/b + 1 not causal),
 * the edge blocks PARTIAL. Prefill O(N·w·D), decode O(w·D). w >= N keeps
 * everything (exact softmax). It is methods/engines/bsfixed.c's local
 * pattern with no sinks or globals: the method is its parameters.
 */
#include "engines/bsfixed.h"

static const struct attn_param_spec window_params[] = {
    {"w", ATTN_PARAM_INT, 512, 1, 2147483647.0, NULL,
     "window: the w most recent keys (t - w < j <= t), |t - j| < w when not causal"},
    ATTN__BSF_PARAM_B,
};

static const struct attn__bsf_def window_def = {
    .params = window_params,
    .n_params = ATTN__COUNT(window_params),
    .passes = 1,
};

const struct attn_method attn_method_window = {
    ATTN__BSF_METHOD_COMMON(window),
    .name = "window",
    .category = "fixed",
    .summary = "sliding window: the w most recent keys (|t - j| < w not causal), exact on them",
    .citation = "Child et al. 2019, Sparse Transformer; Beltagy et al. 2020, Longformer",
    .time_exp = 1.0,
};
