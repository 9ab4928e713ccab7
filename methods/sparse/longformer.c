/*
 * `longformer`: Longformer's pattern (Beltagy et al. 2020): a sliding window
 * plus g global tokens, the first g positions, which attend to every key and
 * which every query attends to:
 *
 *     query t keeps key j  iff  t < g  or  j < g  or  |t - j| < w
 *
 * (causal: also j <= t, so a global row sees every earlier key). Softmax
 * over the kept set, exactly. A global row's list is every key block; the
 * others have the global keys' blocks and the window's. Prefill
 * O(N·(w + g)·D + g·N·D), decode O((w + g)·D). (Longformer gives global
 * tokens their own projections; here they share Q, K, V: the pattern is
 * what is measured.) It is methods/engines/bsfixed.c's local pattern with g
 * global keys and rows: the method is its parameters.
 */
#include "engines/bsfixed.h"

static const struct attn_param_spec longformer_params[] = {
    {"w", ATTN_PARAM_INT, 256, 1, 2147483647.0, NULL,
     "window: |t - j| < w (t - w < j <= t when causal)"},
    {"g", ATTN_PARAM_INT, 16, 0, 2147483647.0, NULL,
     "global tokens: the first g positions see and are seen by all"},
    ATTN__BSF_PARAM_B,
};

static const struct attn__bsf_def longformer_def = {
    .params = longformer_params,
    .n_params = ATTN__COUNT(longformer_params),
    .passes = 1,
};

const struct attn_method attn_method_longformer = {
    ATTN__BSF_METHOD_COMMON(longformer),
    .name = "longformer",
    .category = "window + global",
    .summary = "Longformer: window w plus g global tokens that see and are seen by all",
    .citation = "Beltagy et al. 2020, Longformer: The Long-Document Transformer",
    .time_exp = 1.0,
};
