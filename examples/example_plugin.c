/*
 * An external attnbench plugin, written the way a third party would: one
 * self-contained C file that includes only attnbench/method.h and libc/libm,
 * built as a shared object and loaded at run time:
 *
 *   cc -O2 -shared -fPIC -I<attnbench>/harness/include example_plugin.c \
 *      -o example_plugin.so -lm
 *   attnbench list --plugin ./example_plugin.so
 *   attnbench run  --plugin ./example_plugin.so --method naive_ext --n 1024
 *   (or put its path, or its folder, in ATTNBENCH_PLUGIN_PATH)
 *
 * It adds one method, `naive_ext`: exact softmax attention in plain float32
 * loops, one query row at a time, with a two-pass softmax (scores and their
 * max first, then exp and sum). It is slow on purpose; read it as the
 * template for your own method. What matters is the contract:
 *
 *  1. Describe the method in one constant `struct attn_method` (name, family,
 *     what it reproduces, complexity, tolerance, parameters, functions).
 *  2. Never allocate in forward(): declare the exact scratch you need in
 *     workspace_bytes(); the harness allocates it (64-byte aligned), outside
 *     the timed region, and hands it to forward() as `ws`.
 *  3. Export `attn_plugin_methods` (ATTN_PLUGIN_ENTRY), returning a
 *     NULL-terminated array of your descriptors. The harness checks each
 *     one's abi_version against its own and refuses names it already has.
 *
 * The harness runs every case in a forked child with a time limit, so a bug
 * here costs one case, not the sweep; and it checks the output of an EXACT
 * method against its float64 reference, so a wrong answer is reported as
 * failed_check, never as a fast time.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include "attnbench/method.h"

/*
 * supports(): say no, with a reason, to any case you cannot run. The
 * harness records the reason and moves on. Here: any well-formed shape.
 */
static int naive_supports(const struct attn_method *m, const struct attn_shape *s,
                          const struct attn_params *p, char *msg, size_t msglen)
{
	(void)m;
	(void)p;
	if (s->batch < 1 || s->heads < 1 || s->n < 1 || s->d < 1) {
		snprintf(msg, msglen, "every dimension must be >= 1");
		return ATTN_ERR_UNSUPPORTED;
	}
	if (s->kv_heads < 1 || s->heads % s->kv_heads != 0) {
		snprintf(msg, msglen, "kv_heads %lld does not divide heads %lld",
		         (long long)s->kv_heads, (long long)s->heads);
		return ATTN_ERR_UNSUPPORTED;
	}
	return ATTN_OK;
}

/*
 * workspace_bytes(): the exact scratch forward() uses, for the whole case.
 * Here one row of N scores, reused for every query row (forward() runs on
 * one thread, so `threads` does not change it).
 */
static size_t naive_workspace_bytes(const struct attn_method *m, const struct attn_shape *s,
                                    const struct attn_params *p, int threads)
{
	(void)m;
	(void)p;
	(void)threads;
	return (size_t)s->n * sizeof(float);
}

/*
 * Visible keys of the query in row i: prefill puts query i at position i,
 * decode puts its one query at N - 1, after the whole context. Causal hides
 * keys after the query's position.
 */
static long long visible_keys(const struct attn_shape *s, long long i)
{
	long long pos = s->mode == ATTN_MODE_DECODE ? s->n - 1 : i;
	return s->causal ? pos + 1 : s->n;
}

/*
 * flops() and bytes(): the analytic work of one forward(), which the harness
 * divides by the measured time for GFLOP/s and GB/s. Exact attention's
 * convention: 2·D FLOPs per visible (query, key) pair for Q Kᵀ and 2·D for
 * P V; the softmax itself is not counted.
 */
static double naive_flops(const struct attn_method *m, const struct attn_shape *s,
                          const struct attn_params *p)
{
	(void)m;
	(void)p;
	double nq = s->mode == ATTN_MODE_DECODE ? 1.0 : (double)s->n;
	double pairs = nq * (double)s->n;
	if (s->causal && s->mode == ATTN_MODE_PREFILL)
		pairs = (double)s->n * ((double)s->n + 1.0) / 2.0;
	return 4.0 * (double)s->d * pairs * (double)s->batch * (double)s->heads;
}

/* Q, K, V read and O written once, in float32. */
static double naive_bytes(const struct attn_method *m, const struct attn_shape *s,
                          const struct attn_params *p)
{
	(void)m;
	(void)p;
	double nq = s->mode == ATTN_MODE_DECODE ? 1.0 : (double)s->n;
	double qo = 2.0 * (double)s->batch * (double)s->heads * nq;
	double kv = 2.0 * (double)s->batch * (double)s->kv_heads * (double)s->n;
	return (qo + kv) * (double)s->d * sizeof(float);
}

/*
 * forward(): the timed work. Layouts (row-major float32, from method.h):
 *   in->q (B, H, NQ, D), in->k and in->v (B, KVH, N, D), out (B, H, NQ, D),
 * with NQ = N in prefill and 1 in decode; query head h reads K/V head
 * h / (H / KVH) (grouped-query attention). For each query row:
 *
 *   s_j = q · k_j / √D              for the visible keys j
 *   o   = Σ_j e^(s_j - max s) v_j / Σ_j e^(s_j - max s)
 *
 * Subtracting the max before exp keeps every exponent <= 0: without it a
 * score above ~88 overflows float to inf and the output turns to NaN.
 */
static int naive_forward(const struct attn_method *m, const struct attn_shape *s,
                         const struct attn_params *p, const struct attn_inputs *in, float *out,
                         void *ws, const struct attn_ctx *ctx)
{
	(void)m;
	(void)p;
	(void)ctx; /* one thread; a method may use fewer threads than offered */
	const long long B = s->batch, H = s->heads, KVH = s->kv_heads, N = s->n, D = s->d;
	const long long NQ = s->mode == ATTN_MODE_DECODE ? 1 : N;
	const float scale = 1.0f / sqrtf((float)D);
	float *scores = ws; /* (N): our declared workspace */

	for (long long b = 0; b < B; b++) {
		for (long long h = 0; h < H; h++) {
			const long long kvh = h / (H / KVH);
			const float *q = in->q + (b * H + h) * NQ * D;    /* (NQ, D) */
			const float *k = in->k + (b * KVH + kvh) * N * D; /* (N, D) */
			const float *v = in->v + (b * KVH + kvh) * N * D; /* (N, D) */
			float *o = out + (b * H + h) * NQ * D;            /* (NQ, D) */

			for (long long i = 0; i < NQ; i++) {
				const long long nk = visible_keys(s, i);
				const float *qi = q + i * D;
				float *oi = o + i * D;

				/* pass 1: scores and their max */
				float max = -INFINITY;
				for (long long j = 0; j < nk; j++) {
					float dot = 0.0f;
					for (long long c = 0; c < D; c++)
						dot += qi[c] * k[j * D + c];
					scores[j] = dot * scale;
					if (scores[j] > max)
						max = scores[j];
				}

				/* pass 2: weights e^(s - max) and their sum (>= 1) */
				float sum = 0.0f;
				for (long long j = 0; j < nk; j++) {
					scores[j] = expf(scores[j] - max);
					sum += scores[j];
				}

				/* output: the weighted mean of the visible values */
				for (long long c = 0; c < D; c++)
					oi[c] = 0.0f;
				for (long long j = 0; j < nk; j++)
					for (long long c = 0; c < D; c++)
						oi[c] += scores[j] * v[j * D + c];
				for (long long c = 0; c < D; c++)
					oi[c] /= sum;
			}
		}
	}
	return ATTN_OK;
}

/*
 * The descriptor. Unset function pointers are allowed where method.h says
 * so (supports, prepare, oracle): an exact method's oracle is the harness's
 * own float64 softmax reference.
 */
static const struct attn_method naive_ext = {
    .abi_version = ATTN_ABI_VERSION, /* the ABI this file was compiled against */
    .name = "naive_ext",             /* unique, [a-z0-9_]+ */
    .family = ATTN_FAMILY_FULL,
    .category = "softmax",
    .summary = "example external plugin: exact attention in plain float32 loops",
    .citation = "Vaswani et al. 2017, Attention Is All You Need",
    .flags = ATTN_METHOD_EXACT, /* checked against softmax attention */
    .time_exp = 2.0,            /* O(N^2) time in prefill */
    .mem_exp = 1.0,             /* one row of N scores */
    /*
     * Relative Frobenius error allowed against the reference: float32 sums
     * over up to N terms in sequence.
     */
    .tolerance = 1e-5,
    .inputs = 0, /* needs nothing beyond Q, K, V */
    .n_params = 0,
    .params = NULL,
    .supports = naive_supports,
    .workspace_bytes = naive_workspace_bytes,
    .flops = naive_flops,
    .bytes = naive_bytes,
    .prepare = NULL,
    .forward = naive_forward,
    .oracle = NULL,
};

/* The entry point the harness looks up with dlsym: a NULL-terminated list. */
const struct attn_method *const *attn_plugin_methods(void);

const struct attn_method *const *attn_plugin_methods(void)
{
	static const struct attn_method *const methods[] = {&naive_ext, NULL};
	return methods;
}
