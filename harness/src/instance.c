/*
 * A method bound to a shape, written once (see instance.h): the inputs,
 * the output and the workspace with their guards, the ctx the method is
 * handed and what it reports through it, the checks after each phase with
 * the sentences the runner's protocol carries, and the descriptor's
 * callbacks themselves (attn_call_*), which nothing else in the harness
 * calls but the registry's probe.
 *
 * The timed path is attn_instance_forward(): everything it needs is
 * resolved at creation, so the loop it runs is the same loop of forward()
 * calls the runner ran before it had instances.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/instance.h"
#include "attnbench/spec.h"
#include "attnbench/status.h"
#include "internal.h"
#include "kernels/kernels.h"
#include "peer.h"

#define CANARY 0xA5
#define POISON 0xFF

/* ---- the descriptor's callbacks (the one place they are called) -------- */

int attn_call_supports(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p, char *msg, size_t msglen)
{
	return m->supports ? m->supports(m, s, p, msg, msglen) : ATTN_OK;
}

size_t attn_call_workspace_bytes(const struct attn_method *m, const struct attn_shape *s,
                                 const struct attn_params *p, int threads)
{
	return m->workspace_bytes ? m->workspace_bytes(m, s, p, threads) : 0;
}

double attn_call_flops(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p)
{
	return m->flops ? m->flops(m, s, p) : 0.0;
}

double attn_call_bytes(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p)
{
	return m->bytes ? m->bytes(m, s, p) : 0.0;
}

int attn_call_prepare(const struct attn_method *m, const struct attn_shape *s,
                      const struct attn_params *p, const struct attn_inputs *in, void *ws,
                      const struct attn_ctx *ctx)
{
	return m->prepare ? m->prepare(m, s, p, in, ws, ctx) : ATTN_OK;
}

int attn_call_forward(const struct attn_method *m, const struct attn_shape *s,
                      const struct attn_params *p, const struct attn_inputs *in, float *out,
                      void *ws, const struct attn_ctx *ctx)
{
	return m->forward(m, s, p, in, out, ws, ctx);
}

int attn_call_oracle(const struct attn_method *m, const struct attn_shape *s,
                     const struct attn_params *p, const struct attn_inputs *in, double *out,
                     const struct attn_ctx *ctx)
{
	return m->oracle ? m->oracle(m, s, p, in, out, ctx) : ATTN_ERR_UNSUPPORTED;
}

/* ---- buffers ------------------------------------------------------------ */

/*
 * One buffer in the instance's guard mode: a mapping of its own (pages),
 * or a 64-byte aligned block followed by ATTN_GUARD_SPAN canaries (bytes)
 * or by nothing (none).
 */
struct buf {
	struct attn__guarded g; /* ATTN_GUARD_PAGES */
	void *heap;             /* the others */
	void *p;
	size_t bytes;
	size_t mapped;
};

static int buf_alloc(struct buf *b, size_t bytes, enum attn_guard mode)
{
	memset(b, 0, sizeof(*b));
	if (bytes == SIZE_MAX)
		return -1;
	if (mode == ATTN_GUARD_PAGES) {
		if (attn__guarded_alloc(&b->g, bytes, 0))
			return -1;
		b->p = b->g.p;
		b->mapped = b->g.map_bytes;
	} else {
		size_t span = mode == ATTN_GUARD_BYTES ? ATTN_GUARD_SPAN : 0;
		if (bytes > SIZE_MAX - span - 64 || !(b->heap = attn__alloc(bytes + span)))
			return -1;
		memset((char *)b->heap + bytes, CANARY, span);
		b->p = b->heap;
		b->mapped = (bytes + span + 63) & ~(size_t)63;
	}
	b->bytes = bytes;
	return 0;
}

static void buf_free(struct buf *b)
{
	attn__guarded_free(&b->g);
	attn__free(b->heap);
	memset(b, 0, sizeof(*b));
}

/* Bytes past the end that were written (the furthest changed canary), 0 if none. */
static size_t buf_overrun(const struct buf *b, enum attn_guard mode)
{
	if (mode == ATTN_GUARD_PAGES)
		return attn__guarded_overrun(&b->g);
	if (mode == ATTN_GUARD_NONE || !b->heap)
		return 0;
	const unsigned char *c = (const unsigned char *)b->p + b->bytes;
	for (size_t i = ATTN_GUARD_SPAN; i > 0; i--)
		if (c[i - 1] != CANARY)
			return i;
	return 0;
}

/* ---- the instance -------------------------------------------------------- */

#define N_TENSORS 6
static const char *const tensor_names[N_TENSORS] = {"q", "k", "v", "log_gate", "gate_vec", "beta"};

/*
 * What a method reports through its attn_ctx (method.h): per-call figures,
 * averaged over the calls since the last reset. Names and units are words
 * the runner's line protocol can carry; others are dropped.
 */
#define MAX_FIGURES 8
struct figures {
	int n;
	char name[MAX_FIGURES][48];
	char unit[MAX_FIGURES][16];
	double sum[MAX_FIGURES];
	long count[MAX_FIGURES];
};

struct attn_instance {
	const struct attn_method *m;
	struct attn_shape s;
	struct attn_params p;
	enum attn_guard guard;
	struct attn_ctx ctx;      /* prepare() and forward() */
	struct attn_ctx mask_ctx; /* attn_instance_forward_mask() */
	struct buf in, out, ws;   /* `in` only when the instance holds the inputs */
	struct attn_inputs view;  /* the inputs, borrowed or pointers into `in` */
	const float *t[N_TENSORS];
	size_t t_bytes[N_TENSORS];
	uint64_t t_hash[N_TENSORS];
	int hashed;   /* t_hash holds the inputs' hashes at creation */
	int readonly; /* the inputs are mprotect'ed */
	struct figures fig;
	int (*on_mask)(void *arg, int64_t nqb, int64_t nkb, const uint8_t *mask);
	void *mask_arg;
	int mask_sent;
};

void attn_instance_opts_default(struct attn_instance_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->threads = 1;
	o->seed = 1;
	o->guard = ATTN_GUARD_NONE;
	o->dist = ATTN_DIST_GAUSSIAN;
}

static size_t out_elems(const struct attn_shape *s)
{
	return attn__mul_sat(attn__mul_sat((size_t)s->batch, (size_t)s->heads),
	                     attn__mul_sat((size_t)attn_shape_nq(s), (size_t)s->d));
}

/* The input tensors' sizes in bytes, (B,H,NQ,D) (B,KVH,N,D) x2 (B,H,N) (B,H,N,D) (B,H,N). */
static void tensor_sizes(const struct attn_shape *s, const struct attn_inputs *in,
                         size_t sz[N_TENSORS])
{
	size_t kv = (size_t)s->batch * s->kv_heads * s->n * s->d * sizeof(float);
	size_t bhn = (size_t)s->batch * s->heads * s->n * sizeof(float);
	sz[0] = out_elems(s) * sizeof(float);
	sz[1] = sz[2] = kv;
	sz[3] = in->log_gate ? bhn : 0;
	sz[4] = in->gate_vec ? bhn * (size_t)s->d : 0;
	sz[5] = in->beta ? bhn : 0;
}

/* FNV-1a over 8-byte words, mixed: any change to a tensor changes it. */
static uint64_t tensor_hash(const float *p, size_t bytes)
{
	uint64_t h = 0xcbf29ce484222325ull;
	const unsigned char *b = (const unsigned char *)p;
	size_t i = 0;
	for (; i + 8 <= bytes; i += 8) {
		uint64_t w;
		memcpy(&w, b + i, 8);
		h = (h ^ w) * 0x100000001b3ull;
	}
	for (; i < bytes; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return attn__mix64(h);
}

static void inputs_hash(const struct attn_instance *inst, uint64_t h[N_TENSORS])
{
	for (int i = 0; i < N_TENSORS; i++)
		h[i] = inst->t[i] ? tensor_hash(inst->t[i], inst->t_bytes[i]) : 0;
}

/*
 * Given inputs copied into the instance's memory, each tensor 64-byte
 * aligned as the workload generator lays them out.
 */
static int inputs_copy(struct attn_instance *inst, const struct attn_inputs *given)
{
	const float *src[N_TENSORS] = {given->q,        given->k,        given->v,
	                               given->log_gate, given->gate_vec, given->beta};
	size_t sz[N_TENSORS], off[N_TENSORS], total = 0;
	tensor_sizes(&inst->s, given, sz);
	for (int i = 0; i < N_TENSORS; i++) {
		off[i] = total;
		total += (sz[i] + 63) & ~(size_t)63;
	}
	if (buf_alloc(&inst->in, total, inst->guard))
		return -1;
	const float **dst[N_TENSORS] = {&inst->view.q,        &inst->view.k,
	                                &inst->view.v,        &inst->view.log_gate,
	                                &inst->view.gate_vec, &inst->view.beta};
	for (int i = 0; i < N_TENSORS; i++) {
		if (!src[i] || !sz[i])
			continue;
		float *d = (float *)((char *)inst->in.p + off[i]);
		memcpy(d, src[i], sz[i]);
		*dst[i] = d;
	}
	return 0;
}

/* A word the line protocol can carry: [a-z0-9_], or for units also "/" and capitals. */
static int protocol_word(const char *w, size_t max, int unit)
{
	size_t n = strlen(w);
	if (n == 0 || n >= max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((w[i] >= 'a' && w[i] <= 'z') || (w[i] >= '0' && w[i] <= '9') || w[i] == '_' ||
		      (unit && (w[i] == '/' || (w[i] >= 'A' && w[i] <= 'Z')))))
			return 0;
	return 1;
}

static void ctx_report(const struct attn_ctx *ctx, const char *name, double value, const char *unit)
{
	struct attn_instance *inst = ctx->harness;
	if (!inst || !name || !isfinite(value))
		return;
	struct figures *fg = &inst->fig;
	int i = 0;
	while (i < fg->n && strcmp(fg->name[i], name) != 0)
		i++;
	/* A name already held passed the checks; a repeat's unit is not used. */
	if (i == fg->n) {
		if (fg->n == MAX_FIGURES || !unit || !protocol_word(name, sizeof(fg->name[0]), 0) ||
		    !protocol_word(unit, sizeof(fg->unit[0]), 1))
			return;
		snprintf(fg->name[i], sizeof(fg->name[i]), "%s", name);
		snprintf(fg->unit[i], sizeof(fg->unit[i]), "%s", unit);
		fg->n++;
	}
	fg->sum[i] += value;
	fg->count[i]++;
}

static void ctx_dump_mask(const struct attn_ctx *ctx, int64_t bh, int64_t nqb, int64_t nkb,
                          const uint8_t *mask)
{
	struct attn_instance *inst = ctx->harness;
	if (!inst || !inst->on_mask || inst->mask_sent || bh != 0 || nqb < 1 || nkb < 1 || !mask)
		return;
	if (inst->on_mask(inst->mask_arg, nqb, nkb, mask) == 0)
		inst->mask_sent = 1;
}

int attn_instance_create(const struct attn_method *m, const struct attn_shape *s,
                         const struct attn_params *p, const struct attn_instance_opts *o,
                         struct attn_instance **out, char *err, size_t errlen)
{
	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	const int threads = o->ctx ? o->ctx->threads : o->threads;
	const uint64_t seed = o->ctx ? o->ctx->seed : o->seed;
	if (s->batch < 1 || s->heads < 1 || s->kv_heads < 1 || s->n < 1 || s->d < 1)
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "shape b=%lld h=%lld kvh=%lld n=%lld d=%lld: every dimension "
		                 "must be at least 1",
		                 (long long)s->batch, (long long)s->heads, (long long)s->kv_heads,
		                 (long long)s->n, (long long)s->d);
	if (s->heads % s->kv_heads != 0)
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "kv_heads %lld does not divide heads %lld", (long long)s->kv_heads,
		                 (long long)s->heads);
	if (threads < 1)
		return attn_errf(err, errlen, ATTN_ERR_INVALID, "threads %d is not at least 1",
		                 threads);
	if (o->guard < ATTN_GUARD_NONE || o->guard > ATTN_GUARD_PAGES)
		return attn_errf(err, errlen, ATTN_ERR_INVALID, "guard mode %d is not one of 0..2",
		                 (int)o->guard);

	struct attn_instance *inst = attn__alloc(sizeof(*inst));
	if (!inst)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory for an instance");
	inst->m = m;
	inst->s = *s;
	if (p)
		inst->p = *p;
	else
		attn_params_default(m, &inst->p);
	inst->guard = o->guard;
	inst->on_mask = o->on_mask;
	inst->mask_arg = o->mask_arg;
	if (o->ctx)
		inst->ctx = *o->ctx;
	else
		inst->ctx = (struct attn_ctx){.threads = threads,
		                              .seed = seed,
		                              .report = o->figures ? ctx_report : NULL,
		                              .harness = inst};
	inst->mask_ctx = (struct attn_ctx){
	    .threads = threads, .seed = seed, .dump_mask = ctx_dump_mask, .harness = inst};

	int rc = ATTN_OK;
	if (!o->skip_supports &&
	    (rc = attn_call_supports(m, s, &inst->p, err, errlen)) != ATTN_OK) {
		if (err && errlen)
			err[errlen - 1] = '\0';
		attn_instance_free(inst);
		return ATTN_ERR_UNSUPPORTED;
	}

	/* The inputs: borrowed, generated or copied. */
	if (o->inputs && !o->copy_inputs) {
		inst->view = *o->inputs;
	} else if (o->inputs) {
		if (inputs_copy(inst, o->inputs)) {
			attn_instance_free(inst);
			return attn_errf(err, errlen, ATTN_ERR_NOMEM,
			                 "cannot allocate a copy of the given inputs");
		}
	} else {
		size_t in_bytes = attn_workload_bytes(s, m->inputs);
		struct attn_workload w;
		rc = buf_alloc(&inst->in, in_bytes, inst->guard)
		         ? ATTN_ERR_NOMEM
		         : attn_workload_fill(s, m->inputs, o->dist, seed, inst->in.p, &w);
		if (rc) {
			attn_instance_free(inst);
			return attn_errf(err, errlen, rc,
			                 "cannot allocate the inputs (%zu bytes): %s", in_bytes,
			                 attn_status_str(rc));
		}
		inst->view = w.in;
	}
	const struct attn_inputs *in = &inst->view;
	const float *t[N_TENSORS] = {in->q, in->k, in->v, in->log_gate, in->gate_vec, in->beta};
	tensor_sizes(s, in, inst->t_bytes);
	for (int i = 0; i < N_TENSORS; i++)
		inst->t[i] = t[i];

	/* The output and the workspace, exactly what workspace_bytes() asks. */
	const size_t ws_bytes = attn_call_workspace_bytes(m, s, &inst->p, threads);
	if (ws_bytes == SIZE_MAX || buf_alloc(&inst->out, out_elems(s) * sizeof(float), o->guard) ||
	    buf_alloc(&inst->ws, ws_bytes, o->guard)) {
		attn_instance_free(inst);
		return attn_errf(err, errlen, ATTN_ERR_NOMEM,
		                 "cannot allocate the output and a workspace of %zu bytes",
		                 ws_bytes);
	}
	if (o->poison) {
		memset(inst->out.p, POISON, inst->out.bytes);
		memset(inst->ws.p, POISON, inst->ws.bytes);
	}
	if (o->guard == ATTN_GUARD_PAGES && o->readonly_inputs && inst->in.g.map)
		inst->readonly = attn__guarded_readonly(&inst->in.g, 1) == 0;
	if (o->guard != ATTN_GUARD_NONE && !inst->readonly) {
		inputs_hash(inst, inst->t_hash);
		inst->hashed = 1;
	}
	*out = inst;
	return ATTN_OK;
}

void attn_instance_free(struct attn_instance *inst)
{
	if (!inst)
		return;
	/* A peer's program is stopped and its folder removed while its state is still there. */
	if (attn__method_is_peer(inst->m) && inst->ws.p)
		attn__peer_close(inst->ws.p);
	buf_free(&inst->in);
	buf_free(&inst->out);
	buf_free(&inst->ws);
	attn__free(inst);
}

int attn_instance_prepare(struct attn_instance *inst, char *err, size_t errlen)
{
	int rc =
	    attn_call_prepare(inst->m, &inst->s, &inst->p, &inst->view, inst->ws.p, &inst->ctx);
	if (rc != ATTN_OK)
		return attn_errf(err, errlen, rc, "prepare() returned %d (%s)", rc,
		                 attn_status_str(rc));
	return ATTN_OK;
}

int attn_instance_forward(struct attn_instance *inst, long calls, char *err, size_t errlen)
{
	/* Resolved once, so the loop is nothing but the calls. */
	const struct attn_method *m = inst->m;
	const struct attn_shape *s = &inst->s;
	const struct attn_params *p = &inst->p;
	const struct attn_inputs *in = &inst->view;
	float *out = inst->out.p;
	void *ws = inst->ws.p;
	const struct attn_ctx *ctx = &inst->ctx;
	int rc = 0;
	for (long i = 0; i < calls; i++)
		rc |= attn_call_forward(m, s, p, in, out, ws, ctx);
	if (rc)
		attn_errf(err, errlen, rc, "forward() returned %d (%s)", rc, attn_status_str(rc));
	return rc;
}

int attn_instance_forward_mask(struct attn_instance *inst, char *err, size_t errlen)
{
	int rc = attn_call_forward(inst->m, &inst->s, &inst->p, &inst->view, inst->out.p,
	                           inst->ws.p, &inst->mask_ctx);
	if (rc)
		return attn_errf(err, errlen, rc, "forward() returned %d (%s)", rc,
		                 attn_status_str(rc));
	return ATTN_OK;
}

void attn_instance_overruns(const struct attn_instance *inst, size_t *out, size_t *ws)
{
	*out = buf_overrun(&inst->out, inst->guard);
	*ws = buf_overrun(&inst->ws, inst->guard);
}

int attn_instance_check(struct attn_instance *inst, const char *phase, char *err, size_t errlen)
{
	size_t o, w;
	attn_instance_overruns(inst, &o, &w);
	if (o || w)
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "%s wrote %zu bytes past the end of its %s (%zu bytes)", phase,
		                 o ? o : w, o ? "output" : "workspace",
		                 o ? inst->out.bytes : inst->ws.bytes);
	if (inst->hashed) {
		uint64_t now[N_TENSORS];
		inputs_hash(inst, now);
		for (int i = 0; i < N_TENSORS; i++)
			if (now[i] != inst->t_hash[i])
				return attn_errf(err, errlen, ATTN_ERR_INVALID,
				                 "%s wrote into its input %s; inputs are const",
				                 phase, tensor_names[i]);
	}
	return ATTN_OK;
}

int attn_instance_check_finite(const struct attn_instance *inst, char *err, size_t errlen)
{
	const float *out = inst->out.p;
	size_t nonfinite = 0, first = 0, n = inst->out.bytes / sizeof(float);
	for (size_t i = 0; i < n; i++)
		if (!isfinite(out[i]) && nonfinite++ == 0)
			first = i;
	if (nonfinite)
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "%zu non-finite outputs, the first at element %zu (%g)", nonfinite,
		                 first, (double)out[first]);
	return ATTN_OK;
}

int attn_instance_oracle(const struct attn_instance *inst, double *ref, char *err, size_t errlen)
{
	const struct attn_ctx ctx = {.threads = inst->ctx.threads, .seed = inst->ctx.seed};
	int rc = inst->m->oracle
	             ? attn_call_oracle(inst->m, &inst->s, &inst->p, &inst->view, ref, &ctx)
	             : attn_reference_softmax(&inst->s, &inst->view, ref);
	if (rc)
		return attn_errf(err, errlen, rc, "the oracle failed: %s", attn_status_str(rc));
	return ATTN_OK;
}

float *attn_instance_output(const struct attn_instance *inst)
{
	return inst->out.p;
}

const struct attn_inputs *attn_instance_inputs(const struct attn_instance *inst)
{
	return &inst->view;
}

void attn_instance_sizes(const struct attn_instance *inst, struct attn_instance_sizes *sz)
{
	sz->in_bytes = inst->in.bytes;
	sz->out_bytes = inst->out.bytes;
	sz->ws_bytes = inst->ws.bytes;
	sz->mapped_bytes = inst->in.mapped + inst->out.mapped + inst->ws.mapped;
}

int attn_instance_figure_count(const struct attn_instance *inst)
{
	return inst->fig.n;
}

int attn_instance_figure(const struct attn_instance *inst, int i, const char **name,
                         const char **unit, double *mean)
{
	const struct figures *fg = &inst->fig;
	if (i < 0 || i >= fg->n || !fg->count[i])
		return 0;
	*name = fg->name[i];
	*unit = fg->unit[i];
	*mean = fg->sum[i] / (double)fg->count[i];
	return 1;
}

void attn_instance_figures_reset(struct attn_instance *inst)
{
	for (int i = 0; i < inst->fig.n; i++)
		inst->fig.sum[i] = 0, inst->fig.count[i] = 0;
}

int attn_instance_fault(const struct attn_instance *inst, const void *addr, const char *phase,
                        const char *verb, char *buf, size_t len)
{
	int n = 0;
	size_t off = 0;
	if (!inst || !addr)
		return 0;
	const char *a = addr;
	for (int i = 0; i < N_TENSORS && !n; i++) {
		const char *t = (const char *)inst->t[i];
		if (t && a >= t && a < t + inst->t_bytes[i])
			n = snprintf(buf, len,
			             "%s wrote into its input %s (element %zu); inputs are const",
			             phase, tensor_names[i], (size_t)(a - t) / sizeof(float));
	}
	const struct attn__guarded *g[2] = {&inst->out.g, &inst->ws.g};
	const char *gname[2] = {"output", "workspace"};
	for (int i = 0; i < 2 && !n; i++) {
		int w = attn__guarded_where(g[i], addr, &off);
		if (w == ATTN__GUARD_AFTER)
			n = snprintf(
			    buf, len,
			    "%s %s past the end of its %s (%zu bytes): at byte %zu, a guard "
			    "page",
			    phase, verb, gname[i], g[i]->bytes, off);
		else if (w == ATTN__GUARD_BEFORE)
			n = snprintf(buf, len,
			             "%s %s %zu bytes before the start of its %s, a guard page",
			             phase, verb, off, gname[i]);
	}
	if (!n && attn__guarded_where(&inst->in.g, addr, &off) != ATTN__GUARD_OUTSIDE)
		n = snprintf(buf, len, "%s %s past its inputs, a guard page", phase, verb);
	if (n < 0)
		return 0;
	return (size_t)n >= len ? (int)len - 1 : n;
}

/* ---- peers (peer.h): the state of the conversation is the workspace ---- */

int attn__instance_is_peer(const struct attn_instance *inst)
{
	return attn__method_is_peer(inst->m);
}

int attn__instance_peer_run(struct attn_instance *inst, long iters, int flush, int roof,
                            struct attn__peer_sample *out)
{
	return attn__peer_run(inst->ws.p, iters, flush, roof, out);
}

int attn__instance_peer_output(struct attn_instance *inst)
{
	return attn__peer_output(inst->ws.p, &inst->s, inst->out.p);
}

const char *attn__instance_peer_info(const struct attn_instance *inst)
{
	return attn__peer_info(inst->ws.p);
}

const char *attn__instance_peer_error(const struct attn_instance *inst, enum attn__peer_fail *kind)
{
	return attn__peer_error(inst->ws.p, kind);
}
