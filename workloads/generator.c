/*
 * Seeded input generation: Q, K, V and the extra inputs a method asks for,
 * filled so that the same (shape, distribution, seed) gives the same bytes
 * on every machine, whatever the thread count.
 *
 * The generator is counter-based, so any element can be computed on its own
 * and the fill parallelises without changing a bit:
 *     key(seed, stream) = mix(mix(seed) ^ stream * M)
 *     bits(i)           = mix(key + (i + 1) * GOLDEN)      (splitmix64 at step i)
 *     uniform(i)        = (bits(i) >> 11) * 2^-53           in [0, 1)
 * Each tensor has its own stream and indexes its elements by their position
 * in the prefill tensor, so Q does not change when a method asks for
 * gate_vec, and decode Q is exactly the prefill query at position N - 1.
 *
 * A "gaussian" is an Irwin-Hall sum of four uniforms, centred and scaled to
 * unit variance: g = (u1 + u2 + u3 + u4 - 2) * sqrt(3), in [-2 sqrt 3, 2 sqrt 3].
 * The four uniforms are the 32-bit halves of bits(2e) and bits(2e + 1) for
 * element e, taken at their midpoints (h + 1/2) 2^-32: the sum is then an
 * exact integer times 2^-32 and only the final * sqrt(3) rounds. 32 bits per
 * uniform is far more than a float32 result can show.
 *
 * Only +, -, *, / and sqrt touch floating point (IEEE 754 rounds them the
 * same everywhere), in double, with one final rounding to float; this file
 * is compiled with -ffp-contract=off so no FMA changes a rounding. It also
 * assumes SSE-style double arithmetic (x86-64, AArch64), not x87.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "attnbench/status.h"
#include "attnbench/workload.h"
#include "internal.h"

/* splitmix64's Weyl increment, 2^64 / golden ratio (odd). */
#define GOLDEN_GAMMA 0x9e3779b97f4a7c15ull
/* Spreads stream ids before they meet the mixed seed. */
#define STREAM_MULT 0xd1b54a32d192ed03ull

#define SQRT3 1.7320508075688772 /* sqrt(3) */

/*
 * local: the positional signal is an AR(1) walk with correlation RHO per
 * step, p_t = RHO p_{t-1} + sqrt(1 - RHO^2) g_t, stationary with unit
 * variance, so corr(p_i, p_j) = RHO^|i - j| (0.52 at distance 32).
 * q = alpha p + beta noise_q, k = alpha p + beta noise_k with
 * alpha^2 = min(LOCAL_MAX_A2, LOCAL_PEAK / sqrt(D)) and beta^2 = 1 - alpha^2:
 * elements keep unit variance, and the expected score of a query with the
 * key at its own position, alpha^2 D / sqrt(D), is LOCAL_PEAK for every
 * D >= 61 (0.9 sqrt(D) below), against scores of unit spread far off the
 * diagonal. The cap keeps some independent noise, so q_t != k_t. At D = 64,
 * N = 1024 a row puts on average 83% of its softmax mass within +-32 of the
 * diagonal, 60% or more in 95% of rows (less at larger N: the window is
 * fixed while the far keys grow in number).
 */
#define AR_RHO       0.98
#define AR_INNOV     0.1989974874213242 /* sqrt(1 - 0.98^2) */
#define LOCAL_PEAK   7.0
#define LOCAL_MAX_A2 0.9

/*
 * needle: u is a unit direction per (b, kv head). Every query gets
 * + NEEDLE_SHIFT u; max(1, N / NEEDLE_EVERY) keys per (b, kv head), at
 * positions drawn from the generator (two draws may coincide), are replaced
 * by c u with c = NEEDLE_GAIN sqrt(D). A needle's score is then
 * c (NEEDLE_SHIFT + z) / sqrt(D) = NEEDLE_GAIN (NEEDLE_SHIFT + z) = 8 +- 2
 * (z = the query's gaussian part along u) whatever D, against ordinary scores
 * of spread sqrt(1 + NEEDLE_SHIFT^2 / D). With one needle per 256 keys the
 * needles take about 85% of a median query's softmax mass, at any N.
 */
#define NEEDLE_SHIFT 4.0
#define NEEDLE_GAIN  2.0
#define NEEDLE_EVERY 256

/*
 * Extra inputs, uniform in these ranges: log gates in [-0.1, -0.0001), i.e.
 * forget gates a = e^log_gate in [0.9048, 0.9999); beta in [0.05, 0.95).
 */
#define LOG_GATE_LO -0.1
#define LOG_GATE_HI -0.0001
#define BETA_LO     0.05
#define BETA_HI     0.95

/* One stream per tensor; never renumber (it would change every workload). */
enum stream {
	STREAM_Q = 1,
	STREAM_K = 2,
	STREAM_V = 3,
	STREAM_LOG_GATE = 4,
	STREAM_GATE_VEC = 5,
	STREAM_BETA = 6,
	STREAM_SIGNAL = 7,     /* local: the AR(1) innovations */
	STREAM_NEEDLE_DIR = 8, /* needle: the direction u */
	STREAM_NEEDLE_POS = 9  /* needle: the needle positions */
};

static const char *const dist_names[ATTN_DIST_COUNT] = {"gaussian", "local", "needle"};

const char *attn_dist_name(enum attn_dist d)
{
	if ((int)d < 0 || (int)d >= ATTN_DIST_COUNT)
		return "unknown";
	return dist_names[d];
}

int attn_dist_parse(const char *name, enum attn_dist *out, char *err, size_t errlen)
{
	char known[128] = "";

	for (int i = 0; i < ATTN_DIST_COUNT; i++) {
		if (name && strcmp(name, dist_names[i]) == 0) {
			if (out)
				*out = (enum attn_dist)i;
			return ATTN_OK;
		}
	}
	for (int i = 0; i < ATTN_DIST_COUNT; i++) {
		size_t used = strlen(known);
		snprintf(known + used, sizeof(known) - used, "%s%s", i ? ", " : "", dist_names[i]);
	}
	return attn_errf(err, errlen, ATTN_ERR_INVALID, "unknown distribution '%s' (known: %s)",
	                 name ? name : "(null)", known);
}

/* --- the generator ------------------------------------------------------ */

/*
 * Streams start at unrelated points of the Weyl sequence (the key is a
 * non-linear function of seed and stream), so two streams never read the
 * same bits unless their keys fall within a tensor's length of each other.
 */
static uint64_t stream_key(uint64_t seed, uint64_t stream)
{
	return attn__mix64(attn__mix64(seed) ^ (stream * STREAM_MULT));
}

static inline uint64_t rng_bits(uint64_t key, uint64_t index)
{
	return attn__mix64(key + (index + 1) * GOLDEN_GAMMA);
}

static inline double bits_to_uniform(uint64_t bits)
{
	return (double)(bits >> 11) * 0x1p-53;
}

double attn_rng_uniform(uint64_t seed, uint64_t stream, uint64_t index)
{
	return bits_to_uniform(rng_bits(stream_key(seed, stream), index));
}

/* Unit-variance Irwin-Hall gaussian number e of the stream (see the top). */
static inline double rng_gauss(uint64_t key, uint64_t e)
{
	uint64_t a = rng_bits(key, 2 * e);
	uint64_t b = rng_bits(key, 2 * e + 1);
	/* sum of the four halves h_i: < 2^34, exact in int64 and in double */
	int64_t s = (int64_t)((a >> 32) + (a & 0xffffffffu) + (b >> 32) + (b & 0xffffffffu));
	/* sum of (h_i + 1/2) 2^-32, minus 2, is (s + 2 - 2^33) 2^-32, exactly */
	return (double)(s + 2 - ((int64_t)1 << 33)) * 0x1p-32 * SQRT3;
}

/* --- sizes ------------------------------------------------------------- */

static int shape_ok(const struct attn_shape *s)
{
	if (!s || s->batch < 1 || s->heads < 1 || s->kv_heads < 1 || s->n < 1 || s->d < 1)
		return 0;
	if (s->heads % s->kv_heads != 0)
		return 0;
	return s->mode == ATTN_MODE_PREFILL || s->mode == ATTN_MODE_DECODE;
}

static size_t to_size(int64_t x)
{
	return (uint64_t)x > SIZE_MAX ? SIZE_MAX : (size_t)x;
}

/* Bytes of a float tensor a*b*c*d, rounded up to 64 so the next one is aligned. */
static size_t tensor_bytes(int64_t a, int64_t b, int64_t c, int64_t d)
{
	size_t x = attn__mul_sat(to_size(a), to_size(b));
	x = attn__mul_sat(x, to_size(c));
	x = attn__mul_sat(x, to_size(d));
	x = attn__mul_sat(x, sizeof(float));
	x = attn__add_sat(x, 63);
	if (x == SIZE_MAX)
		return SIZE_MAX;
	return x & ~(size_t)63;
}

/* Per-tensor bytes in layout order: q, k, v, log_gate, gate_vec, beta. */
static void layout(const struct attn_shape *s, unsigned inputs, size_t sz[6])
{
	int64_t b = s->batch, h = s->heads, kvh = s->kv_heads, n = s->n, d = s->d;

	sz[0] = tensor_bytes(b, h, attn_shape_nq(s), d);
	sz[1] = tensor_bytes(b, kvh, n, d);
	sz[2] = sz[1];
	sz[3] = inputs & ATTN_INPUT_LOG_GATE ? tensor_bytes(b, h, n, 1) : 0;
	sz[4] = inputs & ATTN_INPUT_GATE_VEC ? tensor_bytes(b, h, n, d) : 0;
	sz[5] = inputs & ATTN_INPUT_BETA ? tensor_bytes(b, h, n, 1) : 0;
}

size_t attn_workload_bytes(const struct attn_shape *s, unsigned inputs)
{
	size_t sz[6], total = 0;

	if (!shape_ok(s))
		return SIZE_MAX;
	layout(s, inputs, sz);
	for (int i = 0; i < 6; i++)
		total = attn__add_sat(total, sz[i]);
	return total;
}

/* --- fills ------------------------------------------------------------- */

/*
 * Row r of a (rows = B*H*nq, D) tensor is row prefill_row(r) of the same
 * tensor with nq = N: the identity in prefill, the last position in decode.
 */
static inline int64_t prefill_row(int64_t r, int64_t nq, int64_t n)
{
	return (r / nq) * n + (n - nq) + r % nq;
}

/* x (rows, D), rows = groups * nq: gaussian numbers of the stream `key`. */
static void fill_gauss(float *x, int64_t rows, int64_t nq, int64_t n, int64_t d, uint64_t key)
{
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
	for (int64_t r = 0; r < rows; r++) {
		uint64_t e0 = (uint64_t)(prefill_row(r, nq, n) * d);
		float *row = x + r * d;
		for (int64_t j = 0; j < d; j++)
			row[j] = (float)rng_gauss(key, e0 + (uint64_t)j);
	}
}

/* x (count): uniform in [lo, hi). */
static void fill_uniform(float *x, int64_t count, uint64_t key, double lo, double hi)
{
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
	for (int64_t e = 0; e < count; e++)
		x[e] = (float)(lo + (hi - lo) * bits_to_uniform(rng_bits(key, (uint64_t)e)));
}

/*
 * The kv head group that query row r (of a (B, H, nq) layout) belongs to,
 * as b * KVH + h / (H / KVH), and the row's position t in the sequence.
 */
static inline int64_t query_group(const struct attn_shape *s, int64_t r, int64_t *t)
{
	int64_t prow = prefill_row(r, attn_shape_nq(s), s->n);
	int64_t bh = prow / s->n;
	int64_t b = bh / s->heads, h = bh % s->heads;

	*t = prow % s->n;
	return b * s->kv_heads + h / (s->heads / s->kv_heads);
}

/*
 * local. sig (B, KVH, N, D) is scratch (V's buffer, refilled afterwards):
 *   pass 1: the AR(1) walk p_t per (b, kv head), sequential along t;
 *   pass 2: k = alpha p + beta noise_k, row by row;
 *   pass 3: q = alpha p + beta noise_q, from the signal of the query's group.
 */
static void fill_local(const struct attn_shape *s, uint64_t seed, float *q, float *k, float *sig)
{
	int64_t n = s->n, d = s->d, nq = attn_shape_nq(s);
	int64_t groups = s->batch * s->kv_heads;
	uint64_t key_sig = stream_key(seed, STREAM_SIGNAL);
	uint64_t key_k = stream_key(seed, STREAM_K), key_q = stream_key(seed, STREAM_Q);
	double a2 = LOCAL_PEAK / sqrt((double)d);
	if (a2 > LOCAL_MAX_A2)
		a2 = LOCAL_MAX_A2;
	double alpha = sqrt(a2), beta = sqrt(1.0 - a2);

	/* pass 1: p_0 = g_0, p_t = RHO p_{t-1} + sqrt(1 - RHO^2) g_t */
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
	for (int64_t g = 0; g < groups; g++) {
		float *p = sig + g * n * d;
		for (int64_t t = 0; t < n; t++) {
			uint64_t e0 = (uint64_t)((g * n + t) * d);
			for (int64_t j = 0; j < d; j++) {
				double gt = rng_gauss(key_sig, e0 + (uint64_t)j);
				double prev = t > 0 ? (double)p[(t - 1) * d + j] : 0.0;
				p[t * d + j] = (float)(t > 0 ? AR_RHO * prev + AR_INNOV * gt : gt);
			}
		}
	}

	/* pass 2: K has the signal's shape, row for row */
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
	for (int64_t r = 0; r < groups * n; r++) {
		uint64_t e0 = (uint64_t)(r * d);
		for (int64_t j = 0; j < d; j++) {
			double noise = rng_gauss(key_k, e0 + (uint64_t)j);
			k[r * d + j] = (float)(alpha * (double)sig[r * d + j] + beta * noise);
		}
	}

	/* pass 3: query head h reads the signal of kv head h / (H / KVH) */
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
	for (int64_t r = 0; r < s->batch * s->heads * nq; r++) {
		int64_t t, g = query_group(s, r, &t);
		const float *p = sig + (g * n + t) * d;
		uint64_t e0 = (uint64_t)(prefill_row(r, nq, n) * d);
		for (int64_t j = 0; j < d; j++) {
			double noise = rng_gauss(key_q, e0 + (uint64_t)j);
			q[r * d + j] = (float)(alpha * (double)p[j] + beta * noise);
		}
	}
}

/*
 * needle. dir (B*KVH, D) is scratch (the start of V's buffer):
 *   pass 1: u = g / |g| per (b, kv head);
 *   pass 2: q = gaussian + NEEDLE_SHIFT u;
 *   pass 3: k = gaussian, then the needle rows k = NEEDLE_GAIN sqrt(D) u.
 */
static void fill_needle(const struct attn_shape *s, uint64_t seed, float *q, float *k, float *dir)
{
	int64_t n = s->n, d = s->d, nq = attn_shape_nq(s);
	int64_t groups = s->batch * s->kv_heads;
	int64_t needles = n / NEEDLE_EVERY > 1 ? n / NEEDLE_EVERY : 1;
	uint64_t key_dir = stream_key(seed, STREAM_NEEDLE_DIR);
	uint64_t key_pos = stream_key(seed, STREAM_NEEDLE_POS);
	uint64_t key_q = stream_key(seed, STREAM_Q);
	double c = NEEDLE_GAIN * sqrt((double)d);

	/* pass 1: sum the squares in index order, then normalise */
	for (int64_t g = 0; g < groups; g++) {
		uint64_t e0 = (uint64_t)(g * d);
		double ss = 0.0;
		for (int64_t j = 0; j < d; j++) {
			double x = rng_gauss(key_dir, e0 + (uint64_t)j);
			ss += x * x;
		}
		double norm = sqrt(ss);
		for (int64_t j = 0; j < d; j++) {
			double x = rng_gauss(key_dir, e0 + (uint64_t)j);
			/* |g| = 0 needs D exact zeros: never, but stay finite */
			dir[g * d + j] = norm > 0.0 ? (float)(x / norm) : (float)(j == 0);
		}
	}

	/* pass 2 */
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
	for (int64_t r = 0; r < s->batch * s->heads * nq; r++) {
		int64_t t, g = query_group(s, r, &t);
		const float *u = dir + g * d;
		uint64_t e0 = (uint64_t)(prefill_row(r, nq, n) * d);
		for (int64_t j = 0; j < d; j++) {
			double x = rng_gauss(key_q, e0 + (uint64_t)j);
			q[r * d + j] = (float)(x + NEEDLE_SHIFT * (double)u[j]);
		}
	}

	/* pass 3: needle i of group g sits at floor(uniform(g * needles + i) * N) */
	fill_gauss(k, groups * n, n, n, d, stream_key(seed, STREAM_K));
	for (int64_t g = 0; g < groups; g++) {
		for (int64_t i = 0; i < needles; i++) {
			uint64_t e = (uint64_t)(g * needles + i);
			int64_t t = (int64_t)(bits_to_uniform(rng_bits(key_pos, e)) * (double)n);
			if (t >= n)
				t = n - 1;
			for (int64_t j = 0; j < d; j++)
				k[(g * n + t) * d + j] = (float)(c * (double)dir[g * d + j]);
		}
	}
}

int attn_workload_alloc(const struct attn_shape *s, unsigned inputs, enum attn_dist dist,
                        uint64_t seed, struct attn_workload *out)
{
	if (!out)
		return ATTN_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	size_t total = attn_workload_bytes(s, inputs);
	if (total == SIZE_MAX)
		return shape_ok(s) ? ATTN_ERR_NOMEM : ATTN_ERR_INVALID;
	char *base = attn__alloc(total);
	if (!base)
		return ATTN_ERR_NOMEM;
	int rc = attn_workload_fill(s, inputs, dist, seed, base, out);
	if (rc) {
		attn__free(base);
		return rc;
	}
	out->base = base;
	return ATTN_OK;
}

int attn_workload_fill(const struct attn_shape *s, unsigned inputs, enum attn_dist dist,
                       uint64_t seed, void *block, struct attn_workload *out)
{
	const unsigned known = ATTN_INPUT_LOG_GATE | ATTN_INPUT_GATE_VEC | ATTN_INPUT_BETA;
	size_t sz[6], total;
	float *t[6];
	char *base = block;

	if (!out)
		return ATTN_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	if (!shape_ok(s) || (inputs & ~known) || (int)dist < 0 || (int)dist >= ATTN_DIST_COUNT)
		return ATTN_ERR_INVALID;
	total = attn_workload_bytes(s, inputs);
	if (total == SIZE_MAX)
		return ATTN_ERR_NOMEM;

	/* carve the block; absent tensors have 0 bytes and stay NULL */
	layout(s, inputs, sz);
	for (size_t off = 0, i = 0; i < 6; off += sz[i], i++)
		t[i] = sz[i] ? (float *)(base + off) : NULL;

	int64_t b = s->batch, h = s->heads, kvh = s->kv_heads, n = s->n, d = s->d;
	int64_t nq = attn_shape_nq(s);
	float *q = t[0], *k = t[1], *v = t[2];

	/* Q and K first: local and needle borrow V's buffer as scratch */
	switch (dist) {
	case ATTN_DIST_LOCAL: fill_local(s, seed, q, k, v); break;
	case ATTN_DIST_NEEDLE: fill_needle(s, seed, q, k, v); break;
	case ATTN_DIST_GAUSSIAN:
	default:
		fill_gauss(q, b * h * nq, nq, n, d, stream_key(seed, STREAM_Q));
		fill_gauss(k, b * kvh * n, n, n, d, stream_key(seed, STREAM_K));
		break;
	}
	fill_gauss(v, b * kvh * n, n, n, d, stream_key(seed, STREAM_V));
	if (t[3])
		fill_uniform(t[3], b * h * n, stream_key(seed, STREAM_LOG_GATE), LOG_GATE_LO,
		             LOG_GATE_HI);
	if (t[4])
		fill_uniform(t[4], b * h * n * d, stream_key(seed, STREAM_GATE_VEC), LOG_GATE_LO,
		             LOG_GATE_HI);
	if (t[5])
		fill_uniform(t[5], b * h * n, stream_key(seed, STREAM_BETA), BETA_LO, BETA_HI);

	out->in.q = q;
	out->in.k = k;
	out->in.v = v;
	out->in.log_gate = t[3];
	out->in.gate_vec = t[4];
	out->in.beta = t[5];
	out->base = NULL;
	out->bytes = total;
	return ATTN_OK;
}

void attn_workload_free(struct attn_workload *w)
{
	if (!w)
		return;
	attn__free(w->base);
	memset(w, 0, sizeof(*w));
}
