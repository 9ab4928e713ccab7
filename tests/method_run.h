/*
 * Running a method the way the method suites check it, for the suites of the
 * linear family (test_linear.c, test_wkv.c): prepare() and forward() into a
 * NaN-filled workspace and output with guard bytes after both, then the
 * status, the guards and every output element checked; the method's float64
 * oracle; relative errors; decode checked against prefill.
 */
#ifndef ATTN_TEST_METHOD_RUN_H
#define ATTN_TEST_METHOD_RUN_H

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/method.h"
#include "attnbench/workload.h"
#include "guard.h"

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
 * Run m on the inputs `in`: prepare + forward into a fresh output, with a
 * NaN-filled workspace and output and guards after both. Fails the test on
 * an error status, a broken guard or a non-finite output element.
 */
static inline float *run(const struct attn_method *m, const struct attn_shape *s,
                         const struct attn_params *p, const struct attn_inputs *in, int threads)
{
	char msg[256] = "";
	ck_assert_msg(m->supports(s, p, msg, sizeof msg) == ATTN_OK, "%s: unsupported: %s", m->name,
	              msg);
	size_t ws_bytes = m->workspace_bytes(s, p, threads);
	size_t out_bytes = out_count(s) * sizeof(float);
	void *ws = guarded_alloc(ws_bytes, 0xFF);
	float *out = guarded_alloc(out_bytes, 0xFF);
	struct attn_ctx ctx = {.threads = threads, .seed = 1};
	ck_assert_int_eq(m->prepare(s, p, in, ws, &ctx), ATTN_OK);
	ck_assert_int_eq(m->forward(s, p, in, out, ws, &ctx), ATTN_OK);
	ck_assert_msg(guard_intact(ws, ws_bytes), "%s: workspace overrun", m->name);
	ck_assert_msg(guard_intact(out, out_bytes), "%s: output overrun", m->name);
	size_t bad = 0;
	for (size_t i = 0; i < out_count(s); i++)
		bad += !isfinite(out[i]);
	ck_assert_msg(bad == 0, "%s N=%lld D=%lld form=%g: %zu non-finite outputs", m->name,
	              (long long)s->n, (long long)s->d, p->v[0], bad);
	free(ws);
	return out;
}

static inline double *oracle(const struct attn_method *m, const struct attn_shape *s,
                             const struct attn_params *p, const struct attn_inputs *in)
{
	double *ref = malloc(out_count(s) * sizeof(double));
	ck_assert_ptr_nonnull(ref);
	struct attn_ctx ctx = {.threads = 1, .seed = 1};
	ck_assert_int_eq(m->oracle(s, p, in, ref, &ctx), ATTN_OK);
	return ref;
}

/* ||a - b|| / ||b|| over n elements (b in float64 or float32). */
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
	double *ref = oracle(m, &sd, p0, &wd.in);
	float *pre = run(m, sp, p, &wp.in, 1);
	float *pre2 = run(m, sp, p, &wp.in, 2);
	float *dec = run(m, &sd, p, &wd.in, 1);
	float *dec2 = run(m, &sd, p, &wd.in, 2);
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

#endif /* ATTN_TEST_METHOD_RUN_H */
