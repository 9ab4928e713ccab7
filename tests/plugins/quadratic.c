/*
 * A plugin whose workspace grows as N^2 (a full score matrix) and which
 * really touches all of it, so the three memory figures - declared
 * workspace, harness-tracked peak and the child's peak RSS - must all show
 * the quadratic growth. Its output (each query's own V row) is not softmax
 * attention, so it is flagged approximate and brings an oracle of that.
 */
#include <string.h>

#include "common_plugin.h"

static size_t nsq(const struct attn_method *m, const struct attn_shape *s,
                  const struct attn_params *p, int threads)
{
	(void)m;
	(void)p, (void)threads;
	return (size_t)s->n * (size_t)s->n * sizeof(float);
}

/* The V row at the position of query i of head (b, h): this plugin's "output". */
static const float *own_v(const struct attn_shape *s, const struct attn_inputs *in, int64_t b,
                          int64_t h, int64_t i)
{
	int64_t pos = s->mode == ATTN_MODE_DECODE ? s->n - 1 : i;
	return in->v + ((b * s->kv_heads + h / (s->heads / s->kv_heads)) * s->n + pos) * s->d;
}

static int forward(const struct attn_method *m, const struct attn_shape *s,
                   const struct attn_params *p, const struct attn_inputs *in, float *out, void *ws,
                   const struct attn_ctx *ctx)
{
	(void)m;
	(void)p, (void)ctx;
	memset(ws, 1, (size_t)s->n * (size_t)s->n * sizeof(float));
	int64_t nq = attn_shape_nq(s);
	for (int64_t bh = 0; bh < s->batch * s->heads; bh++)
		for (int64_t i = 0; i < nq; i++)
			memcpy(out + (bh * nq + i) * s->d,
			       own_v(s, in, bh / s->heads, bh % s->heads, i),
			       (size_t)s->d * sizeof(float));
	return 0;
}

static int oracle(const struct attn_method *m, const struct attn_shape *s,
                  const struct attn_params *p, const struct attn_inputs *in, double *out,
                  const struct attn_ctx *ctx)
{
	(void)m;
	(void)p, (void)ctx;
	int64_t nq = attn_shape_nq(s);
	for (int64_t bh = 0; bh < s->batch * s->heads; bh++)
		for (int64_t i = 0; i < nq; i++) {
			const float *v = own_v(s, in, bh / s->heads, bh % s->heads, i);
			for (int64_t k = 0; k < s->d; k++)
				out[(bh * nq + i) * s->d + k] = v[k];
		}
	return 0;
}

static const struct attn_method quadratic = {
    .abi_version = ATTN_ABI_VERSION,
    .name = "quadratic_plugin",
    .family = ATTN_FAMILY_FULL,
    .category = "test",
    .summary = "test plugin: an N^2 workspace, fully touched",
    .time_exp = 2,
    .mem_exp = 2,
    .tolerance = 1e-6,
    .workspace_bytes = nsq,
    .flops = tp_zero,
    .bytes = tp_zero,
    .forward = forward,
    .oracle = oracle,
};

const struct attn_method *const *attn_plugin_methods(void);
const struct attn_method *const *attn_plugin_methods(void)
{
	static const struct attn_method *const list[] = {&quadratic, NULL};
	return list;
}
