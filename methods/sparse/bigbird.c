/*
 * `bigbird`: BigBird's pattern (Zaheer et al. 2020): a sliding window, g
 * global tokens (the first g positions, which see every key and are seen by
 * every query) and r random key blocks per query block:
 *
 *     query t keeps key j  iff  t < g  or  j < g  or  |t - j| < w
 *                               or  ⌊j / b⌋ ∈ R_h(⌊t / b⌋)
 *
 * (causal: also j <= t). R_h(q) is r distinct key blocks drawn uniformly,
 * per head h and query block q, from the blocks before q (causal) or all
 * of them (not causal), all of them when there are no more than r; drawn
 * by Floyd's algorithm from splitmix64 of (seed, h, q), so the pattern is
 * a fixed function of the `seed` parameter (not of the case's seed: it is
 * the same in flops(), forward() and the oracle, so flops() is exact).
 * Softmax over the kept set, exactly; a random block inside the window
 * counts once. Each head has its own list. Prefill O(N·(w + g + r b)·D),
 * decode O((w + g + r b)·D). Runs on methods/engines/bsfixed.c.
 */
#include "engines/blocksparse.h"
#include "engines/bsfixed.h"
#include "kernels/kernels.h"

/* Random blocks at most: with the window and the globals, <= ATTN__BSF_MAX_IV intervals. */
#define BIGBIRD_MAX_R 16

static const struct attn_param_spec bigbird_params[] = {
    {"w", ATTN_PARAM_INT, 192, 1, 2147483647.0, NULL,
     "window: |t - j| < w (t - w < j <= t when causal)"},
    {"g", ATTN_PARAM_INT, 64, 0, 2147483647.0, NULL,
     "global tokens: the first g positions see and are seen by all"},
    {"r", ATTN_PARAM_INT, 3, 0, BIGBIRD_MAX_R, NULL, "random key blocks per query block"},
    {"seed", ATTN_PARAM_INT, 1, 0, 4294967295.0, NULL, "seed of the random blocks"},
    ATTN__BSF_PARAM_B,
};

static uint64_t bigbird_mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

/*
 * R_h(qb) into blk (up to r entries, unordered); returns how many. Floyd:
 * for x = M - r .. M - 1, draw y in [0, x]; take y unless already taken,
 * then x. Uniform over r-subsets, O(r²).
 */
static int bigbird_random(const struct attn__bsf_spec *sp, const struct attn_shape *s, int64_t h,
                          int64_t qb, int64_t *blk)
{
	const int64_t M = s->causal ? qb : (s->n + sp->b - 1) / sp->b;
	int n = 0;
	if (M <= sp->r) {
		for (int64_t x = 0; x < M; x++)
			blk[n++] = x;
		return n;
	}
	const uint64_t key =
	    bigbird_mix(sp->seed ^ bigbird_mix((uint64_t)h ^ bigbird_mix((uint64_t)qb)));
	for (int64_t x = M - sp->r; x < M; x++) {
		int64_t y = (int64_t)(bigbird_mix(key + (uint64_t)x) % (uint64_t)(x + 1));
		for (int i = 0; i < n; i++)
			if (blk[i] == y) {
				y = x;
				break;
			}
		blk[n++] = y;
	}
	return n;
}

static int64_t bigbird_lists(const struct attn__bsf_spec *sp, const struct attn_shape *s, int pass)
{
	(void)sp;
	(void)pass;
	return s->heads;
}

static int bigbird_row(const struct attn__bsf_spec *sp, const struct attn_shape *s, int pass,
                       int64_t list, int64_t pos, int64_t *lo, int64_t *hi)
{
	(void)pass;
	/* a global row keeps everything already (one interval) */
	const int local = attn__bsf_local_row(sp->g, sp->w, sp->g, s->n, pos, lo, hi);
	if (pos < sp->g)
		return local;
	int64_t blk[BIGBIRD_MAX_R];
	const int n = bigbird_random(sp, s, list, pos / sp->b, blk);
	for (int i = 0; i < n; i++) {
		lo[local + i] = blk[i] * sp->b;
		hi[local + i] = lo[local + i] + sp->b;
	}
	return local + n;
}

static int bigbird_vis(const struct attn__bsf_spec *sp, const struct attn_shape *s, int64_t h,
                       int64_t pos, int64_t j)
{
	if (attn__bsf_local_vis(sp->g, sp->w, sp->g, pos, j))
		return 1;
	int64_t blk[BIGBIRD_MAX_R];
	const int n = bigbird_random(sp, s, h, pos / sp->b, blk);
	for (int i = 0; i < n; i++)
		if (blk[i] == j / sp->b)
			return 1;
	return 0;
}

static const struct attn__bsf_def bigbird_def = {
    .params = bigbird_params,
    .n_params = ATTN__COUNT(bigbird_params),
    .passes = 1,
    .lists = bigbird_lists,
    .row = bigbird_row,
    .vis = bigbird_vis,
};

const struct attn_method attn_method_bigbird = {
    ATTN__BSF_METHOD_COMMON(bigbird),
    .name = "bigbird",
    .category = "window + global + random",
    .summary = "BigBird: window w, g global tokens and r random key blocks per query block",
    .citation = "Zaheer et al. 2020, Big Bird: Transformers for Longer Sequences",
    .time_exp = 1.0,
};
