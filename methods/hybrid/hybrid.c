/*
 * `hybrid`: a stack of attention layers mixing methods, as the hybrid models
 * of the survey's Fig. 4 do, run as L layers of the same shape on the same
 * inputs:
 *
 *   minimax   lightning x 7 + softmax x 1   (MiniMax-01)
 *   jamba     mamba2 x 7    + softmax x 1   (Jamba)
 *   gemma3    window x 5    + softmax x 1   (Gemma-3's 5 local : 1 global, w = 1024)
 *
 * with `full=1` the same depth of softmax layers only, the stack each hybrid
 * is measured against. Softmax layers are `flash`; each layer is the
 * registered method with its default parameters (window: w = 1024).
 *
 * What it computes: O = Σ_l attn_l(Q, K, V), the sum of the layers' outputs
 * (a residual stream without the projections, which are not attention), so
 * its oracle is the sum of the layers' oracles and every layer's work is
 * really done. Time is the sum of the layers'; in decode, one token through
 * every layer.
 *
 * What a hybrid saves is memory held at context N, reported per call as
 * `kv_state_bytes`: a softmax layer keeps its K and V (2 KVH N D floats per
 * batch), a window layer the last w of them, a linear layer its state (H D²
 * floats per batch, plus a normaliser of H D). The workspace holds every
 * layer's own (decode: its prepared state or cache) one after another, plus
 * one output buffer for the sum.
 */
#include <stdlib.h>
#include <string.h>

#include "attnbench/status.h"
#include "kernels/kernels.h"

extern const struct attn_method attn_method_flash;
extern const struct attn_method attn_method_lightning;
extern const struct attn_method attn_method_mamba2;
extern const struct attn_method attn_method_window;

enum { HYB_P_STACK = 0, HYB_P_FULL = 1 };
enum { HYB_MINIMAX = 0, HYB_JAMBA = 1, HYB_GEMMA3 = 2 };
#define HYB_MAX_LAYERS 8
#define HYB_WINDOW     1024

static const struct attn_param_spec hybrid_params[] = {
    {"stack", ATTN_PARAM_ENUM, HYB_MINIMAX, 0, 2, "minimax|jamba|gemma3",
     "minimax: lightning*7+softmax; jamba: mamba2*7+softmax; gemma3: window*5+softmax"},
    {"full", ATTN_PARAM_INT, 0, 0, 1, NULL,
     "1: the same depth of softmax layers only (the baseline a hybrid saves against)"},
};

/* One layer: its method and parameters. */
struct hyb_layer {
	const struct attn_method *m;
	struct attn_params p;
};

/* The stack p names, into l (HYB_MAX_LAYERS); returns its depth. */
static int hyb_layers(const struct attn_params *p, struct hyb_layer *l)
{
	const int stack = (int)attn__param_int(p, HYB_P_STACK, HYB_MINIMAX);
	const int full = (int)attn__param_int(p, HYB_P_FULL, 0);
	const struct attn_method *local = stack == HYB_MINIMAX ? &attn_method_lightning
	                                  : stack == HYB_JAMBA ? &attn_method_mamba2
	                                                       : &attn_method_window;
	const int depth = stack == HYB_GEMMA3 ? 6 : 8;
	for (int i = 0; i < depth; i++) {
		l[i].m = full || i == depth - 1 ? &attn_method_flash : local;
		l[i].p = (struct attn_params){.count = l[i].m->n_params};
		for (int k = 0; k < l[i].m->n_params; k++)
			l[i].p.v[k] = l[i].m->params[k].def;
		if (l[i].m == &attn_method_window)
			l[i].p.v[0] = HYB_WINDOW; /* window's first parameter is w */
	}
	return depth;
}

static size_t out_bytes(const struct attn_shape *s)
{
	return (size_t)(s->batch * s->heads * attn_shape_nq(s) * s->d) * sizeof(float);
}

/* Layer i's workspace sits at offsets[i]; the summing buffer after them all. */
static size_t hyb_plan(const struct attn_shape *s, const struct hyb_layer *l, int depth,
                       int threads, size_t *offsets)
{
	size_t off = 0;
	for (int i = 0; i < depth; i++) {
		offsets[i] = off;
		off += (l[i].m->workspace_bytes(l[i].m, s, &l[i].p, threads) + 63) & ~(size_t)63;
	}
	return off;
}

static int hybrid_supports(const struct attn_method *m, const struct attn_shape *s,
                           const struct attn_params *p, char *msg, size_t msglen)
{
	(void)m;
	struct hyb_layer l[HYB_MAX_LAYERS];
	const int depth = hyb_layers(p, l);
	for (int i = 0; i < depth; i++) {
		char why[256] = "";
		if (l[i].m->supports &&
		    l[i].m->supports(l[i].m, s, &l[i].p, why, sizeof why) != ATTN_OK)
			return attn_errf(msg, msglen, ATTN_ERR_UNSUPPORTED, "layer %d (%s): %s", i,
			                 l[i].m->name, why);
	}
	return ATTN_OK;
}

static size_t hybrid_workspace_bytes(const struct attn_method *m, const struct attn_shape *s,
                                     const struct attn_params *p, int threads)
{
	(void)m;
	struct hyb_layer l[HYB_MAX_LAYERS];
	size_t offsets[HYB_MAX_LAYERS];
	const int depth = hyb_layers(p, l);
	return hyb_plan(s, l, depth, threads, offsets) + out_bytes(s);
}

static double hybrid_flops(const struct attn_method *m, const struct attn_shape *s,
                           const struct attn_params *p)
{
	(void)m;
	struct hyb_layer l[HYB_MAX_LAYERS];
	const int depth = hyb_layers(p, l);
	double f = 0;
	for (int i = 0; i < depth; i++)
		f += l[i].m->flops(l[i].m, s, &l[i].p);
	return f + (double)depth * (double)(out_bytes(s) / sizeof(float)); /* the sums */
}

static double hybrid_bytes(const struct attn_method *m, const struct attn_shape *s,
                           const struct attn_params *p)
{
	(void)m;
	struct hyb_layer l[HYB_MAX_LAYERS];
	const int depth = hyb_layers(p, l);
	double b = 0;
	for (int i = 0; i < depth; i++)
		b += l[i].m->bytes(l[i].m, s, &l[i].p);
	return b;
}

/*
 * The memory the stack holds at context N (see the top): K and V for
 * softmax layers, the last w of them for window layers, the state for
 * linear ones.
 */
static double hybrid_state_bytes(const struct attn_shape *s, const struct hyb_layer *l, int depth)
{
	const double f = sizeof(float), B = (double)s->batch, D = (double)s->d;
	double b = 0;
	for (int i = 0; i < depth; i++) {
		if (l[i].m == &attn_method_flash)
			b += 2.0 * B * (double)s->kv_heads * (double)s->n * D * f;
		else if (l[i].m == &attn_method_window)
			b += 2.0 * B * (double)s->kv_heads *
			     (double)attn__min64(s->n, (int64_t)l[i].p.v[0]) * D * f;
		else
			b += B * (double)s->heads * (D * D + D) * f;
	}
	return b;
}

static int hybrid_prepare(const struct attn_method *m, const struct attn_shape *s,
                          const struct attn_params *p, const struct attn_inputs *in, void *ws,
                          const struct attn_ctx *ctx)
{
	(void)m;
	struct hyb_layer l[HYB_MAX_LAYERS];
	size_t offsets[HYB_MAX_LAYERS];
	const int depth = hyb_layers(p, l);
	hyb_plan(s, l, depth, ctx ? ctx->threads : 1, offsets);
	for (int i = 0; i < depth; i++) {
		int rc = l[i].m->prepare
		             ? l[i].m->prepare(l[i].m, s, &l[i].p, in, (char *)ws + offsets[i], ctx)
		             : ATTN_OK;
		if (rc != ATTN_OK)
			return rc;
	}
	return ATTN_OK;
}

/* out = Σ_l attn_l: the first layer writes out, the others go through the buffer. */
static int hybrid_forward(const struct attn_method *m, const struct attn_shape *s,
                          const struct attn_params *p, const struct attn_inputs *in, float *out,
                          void *ws, const struct attn_ctx *ctx)
{
	(void)m;
	struct hyb_layer l[HYB_MAX_LAYERS];
	size_t offsets[HYB_MAX_LAYERS];
	const int depth = hyb_layers(p, l);
	const size_t total = hyb_plan(s, l, depth, ctx ? ctx->threads : 1, offsets);
	float *buf = (float *)((char *)ws + total); /* (B, H, NQ, D) */
	const int64_t n = (int64_t)(out_bytes(s) / sizeof(float));
	/* the layers' own ctx: figures they report are theirs, not the stack's */
	struct attn_ctx lctx = {.threads = ctx ? ctx->threads : 1, .seed = ctx ? ctx->seed : 0};
	for (int i = 0; i < depth; i++) {
		int rc = l[i].m->forward(l[i].m, s, &l[i].p, in, i ? buf : out,
		                         (char *)ws + offsets[i], &lctx);
		if (rc != ATTN_OK)
			return rc;
		if (i)
			attn__axpy(out, 1.0f, buf, n);
	}
	if (ctx && ctx->report)
		ctx->report(ctx, "kv_state_bytes", hybrid_state_bytes(s, l, depth), "B");
	return ATTN_OK;
}

static int hybrid_oracle(const struct attn_method *m, const struct attn_shape *s,
                         const struct attn_params *p, const struct attn_inputs *in, double *out,
                         const struct attn_ctx *ctx)
{
	(void)m;
	struct hyb_layer l[HYB_MAX_LAYERS];
	const int depth = hyb_layers(p, l);
	const size_t n = out_bytes(s) / sizeof(float);
	double *one = malloc(n * sizeof(double));
	if (!one)
		return ATTN_ERR_NOMEM;
	memset(out, 0, n * sizeof(double));
	int rc = ATTN_OK;
	for (int i = 0; i < depth && rc == ATTN_OK; i++) {
		rc = l[i].m->oracle ? l[i].m->oracle(l[i].m, s, &l[i].p, in, one, ctx)
		                    : attn_reference_softmax(s, in, one);
		for (size_t k = 0; rc == ATTN_OK && k < n; k++)
			out[k] += one[k];
	}
	free(one);
	return rc;
}

const struct attn_method attn_method_hybrid = {
    .abi_version = ATTN_ABI_VERSION,
    .name = "hybrid",
    .family = ATTN_FAMILY_HYBRID,
    .category = "linear + full, local + global",
    .summary = "a stack of layers mixing methods (MiniMax-01, Jamba, Gemma-3); output the sum "
               "of the layers'",
    .citation = "MiniMax 2025 (MiniMax-01); Lieber et al. 2024 (Jamba); Gemma Team 2025 "
                "(Gemma 3)",
    .flags = 0,
    .time_exp = 2.0,
    .mem_exp = 1.0,
    .tolerance = 1e-4,
    .inputs = ATTN_INPUT_LOG_GATE,
    .n_params = 2,
    .params = hybrid_params,
    .supports = hybrid_supports,
    .workspace_bytes = hybrid_workspace_bytes,
    .flops = hybrid_flops,
    .bytes = hybrid_bytes,
    .prepare = hybrid_prepare,
    .forward = hybrid_forward,
    .oracle = hybrid_oracle,
};
