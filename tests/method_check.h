/*
 * What the suites of a method family share to run a method and judge its
 * output: a shape builder, run_method() (an instance of instance.h: prepare
 * + forward with a NaN-filled workspace and output, guard bytes after both,
 * every output finite),
 * run_method_ctx() (the same with the caller's ctx) and run_seen() (with
 * the harness's callbacks recorded), the method's float64 oracle and the
 * float64 softmax reference, relative errors, the worst error of a loop
 * with where it happened (so that a test asserts once at its end), and the
 * checks every linear suite runs: all forms against the oracle over a grid
 * of shapes and chunk sizes, and decode against the last prefill row.
 * The form checks are for methods whose first parameter is `form` and
 * second, where they have one, `C` (the linear family's convention, see
 * methods/engines/linattn.h), as in test_linear.c, test_wkv.c and
 * test_delta.c; run_method() and the error helpers serve every family.
 */
#ifndef ATTN_TEST_METHOD_CHECK_H
#define ATTN_TEST_METHOD_CHECK_H

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/instance.h"
#include "attnbench/method.h"
#include "attnbench/spec.h"
#include "attnbench/workload.h"
#include "guard.h"
#include "kernels/kernels.h"

static const char *const form_names[] = {"parallel", "recurrent", "chunk"};

static inline struct attn_shape mk_shape(int64_t B, int64_t H, int64_t KVH, int64_t N, int64_t D,
                                         int causal, enum attn_mode mode)
{
	return (struct attn_shape){.batch = B,
	                           .heads = H,
	                           .kv_heads = KVH,
	                           .n = N,
	                           .d = D,
	                           .causal = causal,
	                           .mode = mode};
}

static inline size_t out_count(const struct attn_shape *s)
{
	return (size_t)(s->batch * s->heads * attn_shape_nq(s) * s->d);
}

/*
 * One call of m in steps, for a test that acts between them (run_seen()
 * runs forward twice): method_run_begin() makes an instance (instance.h)
 * with supports() asked, a NaN-filled workspace and output with guard
 * bytes after both, and runs prepare and forward; method_run_end() fails
 * the test on a broken guard or a non-finite output element, frees the
 * instance and returns a copy of the output (the caller frees it).
 */
struct method_run {
	const struct attn_method *m;
	const struct attn_shape *s;
	const struct attn_params *p;
	struct attn_instance *inst;
};

static inline void method_run_forward(struct method_run *r)
{
	ck_assert_int_eq(attn_instance_forward(r->inst, 1, NULL, 0), ATTN_OK);
}

static inline void method_run_begin(struct method_run *r, const struct attn_method *m,
                                    const struct attn_shape *s, const struct attn_params *p,
                                    const struct attn_inputs *in, const struct attn_ctx *ctx)
{
	char msg[256] = "";
	struct attn_instance_opts io;
	attn_instance_opts_default(&io);
	io.guard = ATTN_GUARD_BYTES;
	io.poison = 1;
	io.inputs = in;
	io.ctx = ctx;
	*r = (struct method_run){.m = m, .s = s, .p = p};
	ck_assert_msg(attn_instance_create(m, s, p, &io, &r->inst, msg, sizeof msg) == ATTN_OK,
	              "%s: unsupported: %s", m->name, msg);
	ck_assert_int_eq(attn_instance_prepare(r->inst, NULL, 0), ATTN_OK);
	method_run_forward(r);
}

static inline float *method_run_end(struct method_run *r)
{
	const struct attn_method *m = r->m;
	const struct attn_shape *s = r->s;
	size_t over_out, over_ws;
	attn_instance_overruns(r->inst, &over_out, &over_ws);
	ck_assert_msg(over_ws == 0, "%s: workspace overrun", m->name);
	ck_assert_msg(over_out == 0, "%s: output overrun", m->name);
	const float *o = attn_instance_output(r->inst);
	size_t bad = 0;
	for (size_t i = 0; i < out_count(s); i++)
		bad += !isfinite(o[i]);
	char ptext[160];
	attn_params_format(m, r->p, ptext, sizeof ptext);
	ck_assert_msg(bad == 0, "%s N=%lld D=%lld %s: %zu non-finite outputs", m->name,
	              (long long)s->n, (long long)s->d, ptext, bad);
	float *out = malloc(out_count(s) * sizeof(float));
	ck_assert_ptr_nonnull(out);
	memcpy(out, o, out_count(s) * sizeof(float));
	attn_instance_free(r->inst);
	r->inst = NULL;
	return out;
}

/*
 * Run m on the inputs `in` with the ctx `ctx` (threads, seed, the harness's
 * callbacks): prepare + forward into a fresh output (the caller frees it),
 * with the checks of method_run_begin() and method_run_end().
 */
static inline float *run_method_ctx(const struct attn_method *m, const struct attn_shape *s,
                                    const struct attn_params *p, const struct attn_inputs *in,
                                    const struct attn_ctx *ctx)
{
	struct method_run r;
	method_run_begin(&r, m, s, p, in, ctx);
	return method_run_end(&r);
}

/* run_method_ctx() on `threads` threads, seed 1, no callbacks. */
static inline float *run_method(const struct attn_method *m, const struct attn_shape *s,
                                const struct attn_params *p, const struct attn_inputs *in,
                                int threads)
{
	const struct attn_ctx ctx = {.threads = threads, .seed = 1};
	return run_method_ctx(m, s, p, in, &ctx);
}

/* What a run reported through the harness's ctx callbacks (run_seen()). */
struct seen {
	double density, tile_density, flops, tiles, routing_ns;
	double density_sel, density_win, density_cmp; /* nsa's branches */
	char param_name[8][32];                       /* "param.NAME" figures: NAME */
	double param_value[8];
	int n_param;
	int dumps;
	int64_t nqb, nkb, kept_blocks;
	uint8_t mask[64 * 64]; /* the dumped block mask of head 0, row-major */
};

static inline void seen_report(const struct attn_ctx *ctx, const char *name, double value,
                               const char *unit)
{
	struct seen *sn = ctx->harness;
	if (strcmp(name, "density") == 0)
		sn->density = value;
	else if (strcmp(name, "tile_density") == 0)
		sn->tile_density = value;
	else if (strcmp(name, "flops_computed") == 0)
		sn->flops = value;
	else if (strcmp(name, "tiles") == 0)
		sn->tiles = value;
	else if (strcmp(name, "routing_ns") == 0)
		sn->routing_ns = value;
	else if (strcmp(name, "density_sel") == 0)
		sn->density_sel = value;
	else if (strcmp(name, "density_win") == 0)
		sn->density_win = value;
	else if (strcmp(name, "density_cmp") == 0)
		sn->density_cmp = value;
	else if (strncmp(name, "param.", 6) == 0) {
		int i = 0;
		while (i < sn->n_param && strcmp(sn->param_name[i], name + 6) != 0)
			i++;
		ck_assert_int_lt(i, 8);
		ck_assert_str_eq(unit, "1");
		snprintf(sn->param_name[i], sizeof(sn->param_name[i]), "%s", name + 6);
		sn->param_value[i] = value;
		sn->n_param += i == sn->n_param;
	}
}

/* The value m reported as "param.NAME" in sn, NAN when it reported none. */
static inline double seen_param(const struct seen *sn, const char *name)
{
	for (int i = 0; i < sn->n_param; i++)
		if (strcmp(sn->param_name[i], name) == 0)
			return sn->param_value[i];
	return NAN;
}

static inline void seen_dump(const struct attn_ctx *ctx, int64_t bh, int64_t nqb, int64_t nkb,
                             const uint8_t *mask)
{
	struct seen *sn = ctx->harness;
	ck_assert_int_eq(bh, 0);
	ck_assert(nqb * nkb <= (int64_t)sizeof sn->mask);
	sn->dumps++;
	sn->nqb = nqb;
	sn->nkb = nkb;
	memcpy(sn->mask, mask, (size_t)(nqb * nkb));
	sn->kept_blocks = 0;
	for (int64_t i = 0; i < nqb * nkb; i++)
		sn->kept_blocks += mask[i] != 0;
}

/*
 * run_method_ctx() with callbacks recording into sn what m reports, and
 * then a second forward, which must report the same and not dump the mask
 * again (once per prepare: the harness's dump allocates).
 */
static inline float *run_seen(const struct attn_method *m, const struct attn_shape *s,
                              const struct attn_params *p, const struct attn_inputs *in,
                              int threads, struct seen *sn)
{
	memset(sn, 0, sizeof *sn);
	const struct attn_ctx ctx = {.threads = threads,
	                             .seed = 1,
	                             .report = seen_report,
	                             .dump_mask = seen_dump,
	                             .harness = sn};
	struct method_run r;
	method_run_begin(&r, m, s, p, in, &ctx);
	const struct seen first = *sn;
	method_run_forward(&r);
	ck_assert_msg(sn->density == first.density && sn->tile_density == first.tile_density &&
	                  sn->flops == first.flops && sn->tiles == first.tiles &&
	                  sn->n_param == first.n_param &&
	                  !memcmp(sn->param_value, first.param_value, sizeof(first.param_value)),
	              "%s: a second forward reports otherwise", m->name);
	ck_assert_msg(sn->dumps == 1, "%s: %d mask dumps, not 1", m->name, sn->dumps);
	ck_assert(sn->routing_ns >= 0.0);
	return method_run_end(&r);
}

/* m's float64 oracle on `in` (the caller frees it). */
static inline double *run_oracle(const struct attn_method *m, const struct attn_shape *s,
                                 const struct attn_params *p, const struct attn_inputs *in)
{
	double *ref = malloc(out_count(s) * sizeof(double));
	ck_assert_ptr_nonnull(ref);
	struct attn_ctx ctx = {.threads = 1, .seed = 1};
	ck_assert_int_eq(attn_call_oracle(m, s, p, in, ref, &ctx), ATTN_OK);
	return ref;
}

/* The float64 softmax reference on `in` (the caller frees it). */
static inline double *run_softmax_ref(const struct attn_shape *s, const struct attn_inputs *in)
{
	double *ref = malloc(out_count(s) * sizeof(double));
	ck_assert_ptr_nonnull(ref);
	ck_assert_int_eq(attn_reference_softmax(s, in, ref), ATTN_OK);
	return ref;
}

/* ||a - b|| / ||b|| over n elements, b in float64. */
static inline double rel_err_d(const float *a, const double *b, size_t n)
{
	double num = 0.0, den = 0.0;
	for (size_t i = 0; i < n; i++) {
		double e = (double)a[i] - b[i];
		num += e * e;
		den += b[i] * b[i];
	}
	return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

/* ||a - b|| / ||b|| over n elements, b in float32. */
static inline double rel_err_f(const float *a, const float *b, size_t n)
{
	double num = 0.0, den = 0.0;
	for (size_t i = 0; i < n; i++) {
		double e = (double)a[i] - (double)b[i];
		num += e * e;
		den += (double)b[i] * (double)b[i];
	}
	return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

/* How far decode is from what it must equal (decode_check()). */
struct decode_errs {
	double vs_prefill; /* against the last row of each head of causal prefill */
	double vs_oracle;  /* against the oracle (with params p0) of the decode shape */
	double threads;    /* 2 threads against 1, prefill or decode, the larger: must be 0 */
};

/*
 * Decode from a prepared state against prefill: m with params p on the
 * causal prefill shape sp and its decode twin (one query at N - 1 after the
 * context of N keys), gaussian inputs with `seed`, 1 and 2 threads each.
 */
static inline struct decode_errs decode_check(const struct attn_method *m,
                                              const struct attn_params *p,
                                              const struct attn_params *p0,
                                              const struct attn_shape *sp, uint64_t seed)
{
	struct attn_shape sd = *sp;
	sd.mode = ATTN_MODE_DECODE;
	const int64_t N = sp->n, D = sp->d, BH = sp->batch * sp->heads;
	const size_t nd = (size_t)(BH * D);
	struct attn_workload wp, wd;
	ck_assert_int_eq(attn_workload_alloc(sp, m->inputs, ATTN_DIST_GAUSSIAN, seed, &wp), 0);
	ck_assert_int_eq(attn_workload_alloc(&sd, m->inputs, ATTN_DIST_GAUSSIAN, seed, &wd), 0);
	double *ref = run_oracle(m, &sd, p0, &wd.in);
	float *pre = run_method(m, sp, p, &wp.in, 1);
	float *pre2 = run_method(m, sp, p, &wp.in, 2);
	float *dec = run_method(m, &sd, p, &wd.in, 1);
	float *dec2 = run_method(m, &sd, p, &wd.in, 2);
	float *last = malloc(nd * sizeof(float));
	ck_assert_ptr_nonnull(last);
	for (int64_t bh = 0; bh < BH; bh++)
		memcpy(last + bh * D, pre + (bh * N + N - 1) * D, (size_t)D * sizeof(float));
	struct decode_errs e = {
	    .vs_prefill = rel_err_f(dec, last, nd),
	    .vs_oracle = rel_err_d(dec, ref, nd),
	    .threads = fmax(rel_err_f(pre2, pre, out_count(sp)), rel_err_f(dec2, dec, nd))};
	free(pre);
	free(pre2);
	free(dec);
	free(dec2);
	free(last);
	free(ref);
	attn_workload_free(&wp);
	attn_workload_free(&wd);
	return e;
}

/* The worst error seen so far, and where. */
struct worst {
	double err;
	char where[256];
};

/* Note err of m on s with p (form, and C where p has one) as `what`. */
static inline void worst_note(struct worst *w, double err, const struct attn_method *m,
                              const struct attn_shape *s, const struct attn_params *p,
                              const char *what)
{
	if (err > w->err || isnan(err)) {
		char ptext[160];
		attn_params_format(m, p, ptext, sizeof ptext);
		w->err = isnan(err) ? INFINITY : err;
		snprintf(w->where, sizeof w->where,
		         "%s %s B=%lld N=%lld D=%lld KVH=%lld causal=%d %s %s", m->name, what,
		         (long long)s->batch, (long long)s->n, (long long)s->d,
		         (long long)s->kv_heads, s->causal,
		         s->mode == ATTN_MODE_DECODE ? "decode" : "prefill", ptext);
	}
}

/* ---- checks ------------------------------------------------------------------ */

/*
 * How a suite parameterises its methods: `params` gives m's parameters at
 * (form, C), the rest being the suite's choice; the forms run are 0 .. n - 1
 * (3: parallel, recurrent, chunk; 2 for a row of the family without a chunk
 * form), and oracles run at the last of them.
 */
struct form_set {
	struct attn_params (*params)(const struct attn_method *m, int form, int64_t C);
	int n;
};

/*
 * Every form of m on `in` against m's oracle, for each C in cs (the chunk
 * form's C; where C is part of the model, as for ttt_linear, every form's
 * and the oracle's, so the oracle runs per C). Updates w.
 */
static inline void check_forms_on(const struct attn_method *m, const struct attn_shape *s,
                                  const struct attn_inputs *in, const int64_t *cs, int ncs,
                                  const struct form_set *fs, struct worst *w, const char *what)
{
	for (int ci = 0; ci < ncs; ci++) {
		struct attn_params p0 = fs->params(m, fs->n - 1, cs[ci]);
		double *ref = run_oracle(m, s, &p0, in);
		for (int form = 0; form < fs->n; form++) {
			struct attn_params p = fs->params(m, form, cs[ci]);
			float *out = run_method(m, s, &p, in, 1);
			worst_note(w, rel_err_d(out, ref, out_count(s)), m, s, &p, what);
			free(out);
		}
		free(ref);
	}
}

/* check_forms_on() on the generator's gaussian inputs with m's `inputs`. */
static inline void check_forms(const struct attn_method *m, const struct attn_shape *s,
                               const int64_t *cs, int ncs, const struct form_set *fs,
                               struct worst *w)
{
	struct attn_workload wl;
	ck_assert_int_eq(attn_workload_alloc(s, m->inputs, ATTN_DIST_GAUSSIAN, 7, &wl), ATTN_OK);
	check_forms_on(m, s, &wl.in, cs, ncs, fs, w, "vs oracle");
	attn_workload_free(&wl);
}

/*
 * The forms at C = 64 over N in {1, 63, 64, 65, 200} (around C), D in
 * {16, 64}, H = 4 over KVH = 2 and 1 (GQA), causal prefill.
 */
static inline void check_forms_grid(const struct attn_method *m, const struct form_set *fs,
                                    struct worst *w)
{
	static const int64_t ns[] = {1, 63, 64, 65, 200};
	static const int64_t ds[] = {16, 64};
	static const int64_t kvhs[] = {2, 1};
	static const int64_t c64[] = {64};
	for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
		for (size_t di = 0; di < sizeof ds / sizeof *ds; di++)
			for (size_t ki = 0; ki < sizeof kvhs / sizeof *kvhs; ki++) {
				struct attn_shape s =
				    mk_shape(1, 4, kvhs[ki], ns[ni], ds[di], 1, ATTN_MODE_PREFILL);
				check_forms(m, &s, c64, 1, fs, w);
			}
}

/* C in {1, 16, 64, 100} at N = 200 (no C divides it but 1), D in {16, 64}. */
static inline void check_chunk_sizes(const struct attn_method *m, const struct form_set *fs,
                                     struct worst *w)
{
	static const int64_t cs[] = {1, 16, 64, 100};
	for (int64_t D = 16; D <= 64; D *= 4) {
		struct attn_shape s = mk_shape(1, 4, 2, 200, D, 1, ATTN_MODE_PREFILL);
		check_forms(m, &s, cs, 4, fs, w);
	}
}

/*
 * Decode from a prepared state equals the last row of causal prefill and
 * the oracle of the decode shape, for each form at chunk C, over the
 * context lengths ns (nn of them); B = 2, H = 4, KVH = 2, D = 32, gaussian
 * inputs of seed 3. Two threads must give the same bits as one, in prefill
 * and decode.
 */
static inline void check_decode(const struct attn_method *m, const int64_t *ns, int nn, int64_t C,
                                const struct form_set *fs, struct worst *w)
{
	for (int ni = 0; ni < nn; ni++) {
		const struct attn_shape sp = mk_shape(2, 4, 2, ns[ni], 32, 1, ATTN_MODE_PREFILL);
		struct attn_shape sd = sp;
		sd.mode = ATTN_MODE_DECODE;
		const struct attn_params p0 = fs->params(m, fs->n - 1, C);
		for (int form = 0; form < fs->n; form++) {
			const struct attn_params p = fs->params(m, form, C);
			const struct decode_errs e = decode_check(m, &p, &p0, &sp, 3);
			worst_note(w, e.vs_prefill, m, &sd, &p, "decode vs prefill");
			worst_note(w, e.vs_oracle, m, &sd, &p, "decode vs oracle");
			ck_assert_msg(e.threads == 0.0,
			              "%s N=%lld form=%s: 2 threads differ from 1", m->name,
			              (long long)ns[ni], form_names[form]);
		}
	}
}

#endif /* ATTN_TEST_METHOD_CHECK_H */
