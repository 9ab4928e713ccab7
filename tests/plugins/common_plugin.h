/*
 * Shared scaffolding of the misbehaving test plugins: a descriptor whose
 * callbacks are harmless, so each plugin file only states its one defect.
 * Included by exactly one plugin per shared object.
 *
 * The hostile plugins (hostile_*.c) misbehave after doing the right thing:
 * tp_attention() is a plain softmax attention (no libm, so the plugins link
 * against nothing), so that a verdict can only come from the one defect
 * each adds; tp_note_pid() appends the caller's pid to the file named by
 * ATTN_HOSTILE_PIDFILE, so that a suite can check that every process a
 * plugin started is gone after the verb returned.
 */
#ifndef ATTN_TEST_PLUGIN_H
#define ATTN_TEST_PLUGIN_H

#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attnbench/method.h"

static inline size_t tp_workspace(const struct attn_method *m, const struct attn_shape *s,
                                  const struct attn_params *p, int threads)
{
	(void)m;
	(void)s, (void)p, (void)threads;
	return 0;
}

static inline double tp_zero(const struct attn_method *m, const struct attn_shape *s,
                             const struct attn_params *p)
{
	(void)m;
	(void)s, (void)p;
	return 1;
}

/* e^x for x <= 0 (all softmax needs): 2^k e^r with |r| <= ln2 / 2, r's series to 14 terms. */
static inline double tp_exp(double x)
{
	if (x < -700)
		return 0;
	double kf = x / 0.6931471805599453;
	int k = (int)(kf < 0 ? kf - 0.5 : kf + 0.5);
	double r = x - k * 0.6931471805599453, term = 1, sum = 1;
	for (int i = 1; i < 14; i++)
		sum += term *= r / i;
	for (; k < 0; k++)
		sum *= 0.5;
	for (; k > 0; k--)
		sum *= 2;
	return sum;
}

static inline double tp_sqrt(double x)
{
	double y = x > 1 ? x : 1;
	for (int i = 0; i < 60 && x > 0; i++)
		y = 0.5 * (y + x / y);
	return x > 0 ? y : 0;
}

/*
 * out (B, H, NQ, D) = softmax(Q K^T / sqrt(D)) V, causal or not, prefill or
 * decode, with grouped-query heads: the harness's definition, in double.
 */
static inline void tp_attention(const struct attn_shape *s, const struct attn_inputs *in,
                                float *out)
{
	int64_t nq = attn_shape_nq(s), d = s->d, n = s->n, g = s->heads / s->kv_heads;
	double scale = 1 / tp_sqrt((double)d);
	for (int64_t b = 0; b < s->batch; b++)
		for (int64_t h = 0; h < s->heads; h++) {
			const float *q = in->q + (b * s->heads + h) * nq * d;
			const float *k = in->k + (b * s->kv_heads + h / g) * n * d;
			const float *v = in->v + (b * s->kv_heads + h / g) * n * d;
			float *o = out + (b * s->heads + h) * nq * d;
			for (int64_t i = 0; i < nq; i++) {
				int64_t pos = s->mode == ATTN_MODE_DECODE ? n - 1 : i;
				int64_t last = s->causal ? pos : n - 1;
				/* pass 1: the largest score, subtracted for stability */
				double mx = -1e300;
				for (int64_t j = 0; j <= last; j++) {
					double dot = 0;
					for (int64_t c = 0; c < d; c++)
						dot += (double)q[i * d + c] * k[j * d + c];
					mx = dot * scale > mx ? dot * scale : mx;
				}
				/* pass 2: weights and the weighted sum of V */
				double acc[1024] = {0}, den = 0;
				for (int64_t j = 0; j <= last; j++) {
					double dot = 0;
					for (int64_t c = 0; c < d; c++)
						dot += (double)q[i * d + c] * k[j * d + c];
					double w = tp_exp(dot * scale - mx);
					den += w;
					for (int64_t c = 0; c < d && c < 1024; c++)
						acc[c] += w * v[j * d + c];
				}
				for (int64_t c = 0; c < d; c++)
					o[i * d + c] = (float)(c < 1024 ? acc[c] / den : 0);
			}
		}
}

/* Append "pid\n" to $ATTN_HOSTILE_PIDFILE (if set), in one write. */
static inline void tp_note_pid(void)
{
	const char *f = getenv("ATTN_HOSTILE_PIDFILE");
	if (!f || !*f)
		return;
	int fd = open(f, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (fd < 0)
		return;
	char line[32];
	int n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	if (write(fd, line, (size_t)n) != n) {
		/* nothing to do: the suite then finds the process by its environment */
	}
	close(fd);
}

/* Elements of O: B * H * NQ * D. */
static inline int64_t tp_out_count(const struct attn_shape *s)
{
	return s->batch * s->heads * attn_shape_nq(s) * s->d;
}

/*
 * A descriptor `var` named name_ with forward fwd and workspace ws, whose
 * supports, flops and bytes are sup, fl and by (tp_zero for harmless ones).
 */
#define TP_DESCRIPTOR(var, name_, fwd, ws, sup, fl, by)                                            \
	static const struct attn_method var = {                                                    \
	    .abi_version = ATTN_ABI_VERSION,                                                       \
	    .name = name_,                                                                         \
	    .family = ATTN_FAMILY_FULL,                                                            \
	    .category = "test",                                                                    \
	    .summary = "a deliberately broken test plugin",                                        \
	    .flags = ATTN_METHOD_EXACT,                                                            \
	    .time_exp = 2,                                                                         \
	    .mem_exp = 0,                                                                          \
	    .tolerance = 1e-5,                                                                     \
	    .supports = sup,                                                                       \
	    .workspace_bytes = ws,                                                                 \
	    .flops = fl,                                                                           \
	    .bytes = by,                                                                           \
	    .forward = fwd,                                                                        \
	};

/* The entry point, returning the descriptors given (addresses, then NULL). */
#define TP_ENTRY(...)                                                                              \
	const struct attn_method *const *attn_plugin_methods(void);                                \
	const struct attn_method *const *attn_plugin_methods(void)                                 \
	{                                                                                          \
		static const struct attn_method *const list[] = {__VA_ARGS__, NULL};               \
		return list;                                                                       \
	}

#define TP_METHOD(var, name_, fwd, ws)                                                             \
	TP_DESCRIPTOR(var, name_, fwd, ws, NULL, tp_zero, tp_zero)                                 \
	TP_ENTRY(&var)

#endif /* ATTN_TEST_PLUGIN_H */
