/*
 * A plugin that reports figures and a block mask through its attn_ctx, as
 * the sparse methods do: the runner must store the mean of each figure over
 * the timed calls, ignore names the line protocol cannot carry, and keep
 * head 0's mask. Its output is zeros (run it without the oracle check).
 */
#include <string.h>

#include "common_plugin.h"

static int forward(const struct attn_method *m, const struct attn_shape *s,
                   const struct attn_params *p, const struct attn_inputs *in, float *out, void *ws,
                   const struct attn_ctx *ctx)
{
	(void)m;
	(void)p, (void)in, (void)ws;
	memset(out, 0, (size_t)(s->batch * s->heads * attn_shape_nq(s) * s->d) * sizeof(float));
	if (ctx->report) {
		ctx->report(ctx, "density", 0.25, "1");
		ctx->report(ctx, "routing_ns", 1000.0, "ns");
		ctx->report(ctx, "flops_computed", 4e6, "flop");
		ctx->report(ctx, "Bad Name", 1.0, "1"); /* not a protocol word: dropped */
	}
	if (ctx->dump_mask) {
		static const uint8_t m0[6] = {1, 0, 0, 1, 1, 0}, m1[6] = {1, 1, 1, 1, 1, 1};
		ctx->dump_mask(ctx, 1, 2, 3, m1); /* not head 0: ignored */
		ctx->dump_mask(ctx, 0, 2, 3, m0);
	}
	return 0;
}

TP_METHOD(report_method, "report_plugin", forward, tp_workspace)
