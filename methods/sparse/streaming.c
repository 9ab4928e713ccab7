/*
 * `streaming`: StreamingLLM (Xiao et al. 2023): the first s keys ("attention
 * sinks", which trained models park attention on) plus a sliding window of
 * the w most recent keys:
 *
 *     query t keeps key j  iff  j < s  or  t - w < j <= t
 *
 * (not causal: j < s or |t - j| < w). Softmax over the kept set, exactly;
 * a sink inside the window counts once. Two intervals per row: the sinks'
 * key blocks (PARTIAL when s is not a multiple of b) and the window's.
 * Prefill O(N·(s + w)·D), decode O((s + w)·D) whatever the context: the
 * point of the method. It is methods/engines/bsfixed.c's local pattern with
 * s sinks: the method is its parameters.
 */
#include "engines/bsfixed.h"

static const struct attn_param_spec streaming_params[] = {
    {"s", ATTN_PARAM_INT, 4, 0, 2147483647.0, NULL, "sink tokens: the first s keys, always kept"},
    {"w", ATTN_PARAM_INT, 512, 1, 2147483647.0, NULL,
     "window: the w most recent keys (t - w < j <= t), |t - j| < w when not causal"},
    ATTN__BSF_PARAM_B,
};

static const struct attn__bsf_def streaming_def = {
    .params = streaming_params,
    .n_params = ATTN__COUNT(streaming_params),
    .passes = 1,
};

const struct attn_method attn_method_streaming = {
    ATTN__BSF_METHOD_COMMON(streaming),
    .name = "streaming",
    .category = "fixed",
    .summary = "StreamingLLM: s attention sinks plus a window of w keys, exact on them",
    .citation = "Xiao et al. 2023, Efficient Streaming Language Models with Attention Sinks",
    .time_exp = 1.0,
};
