/*
 * The roofs a run's figures are read against (see calib.h), measured on the
 * machine itself so that "42% of peak" means this CPU at this clock with
 * this many threads, not a datasheet.
 *
 * Three measurements share one timing scheme (median_rate below): grow the
 * repetition count until one batch takes a measurable fraction of the
 * budget, scale it so that a warm-up and every trial fill the budget, then
 * report the median of the trials. The median, not the best, because the
 * roof should be what the machine sustains in the same conditions the
 * cases meet (a shared, sometimes throttled host), and not the mean, because
 * a single descheduled trial would drag it.
 *
 *  - FMA peak: per thread, `accs` independent accumulator registers each
 *    updated acc = acc * m + c. A fused multiply-add has a latency of ~4
 *    cycles and two issue ports, so at least 8 chains must be in flight to
 *    keep both ports busy; 12-16 leave margin. There is no memory access in
 *    the loop. The kernel is picked at run time from CPUID (AVX-512, AVX2 +
 *    FMA, SSE mul + add, portable C), BLIS-style, and can be forced with
 *    ATTNBENCH_FMA_ISA=avx512|avx2|sse|scalar (an ISA the CPU lacks falls
 *    back to the best it has; `isa` says what ran).
 *  - sgemm: OpenBLAS C = A B on square n x n matrices, 2 n^3 flops a call.
 *  - triad: STREAM's a[i] = b[i] + s c[i] with OpenMP static schedule, the
 *    arrays first touched by the same threads in the same partition (so on
 *    a NUMA machine each thread streams from its own node). Bytes count as
 *    STREAM counts them, 3 x 4 per element: the write-allocate read of a[i]
 *    that a cache actually performs is not counted, so the figure is
 *    comparable with published STREAM results and with methods' analytic
 *    byte counts, which also count each array once.
 *
 * The per-measurement functions return their figure (> 0), or a negative
 * enum attn_status cast to double on failure (ATTN_ERR_INVALID for a bad
 * argument, ATTN_ERR_NOMEM when buffers cannot be allocated), so a caller
 * tests `x > 0`.
 */
#include <cblas.h>
#include <hwloc.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "attnbench/calib.h"
#include "attnbench/method.h"
#include "attnbench/stats.h"
#include "attnbench/status.h"
#include "attnbench/sysinfo.h"
#include "internal.h"

/*
 * The roofs must be right in every build: at -O0 (Debug) the FMA kernels
 * keep their accumulators in memory and the triad moves a float at a time,
 * so a tenth of the machine would be recorded as its roof. CMake compiles
 * this file with -O3 whatever the build type.
 */

/*
 * attn_roof_measure's default budget (budget_s = 0), split in thirds. A
 * full roof at one thread then takes ~2.5-3 s on this project's machine
 * (300 MiB L3): the triad cannot go below its first touch and six passes
 * over 3 x 600 MiB (~1.3 s at one thread), whatever its share says.
 */
#define ROOF_DEFAULT_BUDGET_S 2.0

/*
 * The sgemm shape attn_roof_measure uses. At n = 2048 the n^3 work dwarfs
 * OpenBLAS's n^2 packing and thread start-up, so the figure is on the
 * plateau of its efficiency curve; the operands (48 MiB) stream through the
 * caches as attention's QK^T and PV products at N = 1k-8k do; and one call
 * at one thread takes ~0.1 s, so several trials fit in the budget.
 */
#define ROOF_SGEMM_N 2048

/* The triad's arrays: at least this, and at least twice the LLC each. */
#define ROOF_TRIAD_MIN_BYTES ((size_t)64 << 20)

/*
 * Trials are never shorter than MIN_TRIAL_S, five 4 ms scheduler ticks, so
 * a tick lost to another thread costs a trial at most a fifth. A pilot
 * batch of SETTLED_S is long enough to estimate the rate from even when
 * waits have stretched it.
 */
#define MIN_TRIAL_S 0.02
#define SETTLED_S   0.05

#define FMA_TRIALS   5
#define SGEMM_TRIALS 3
#define TRIAD_TRIALS 5
#define MAX_TRIALS   16

/* Keeps results the compiler would otherwise prove dead. */
static volatile float roof_sink;

/* ---- timing -------------------------------------------------------------- */

/*
 * Run `reps` repetitions of one measurement back to back and return the
 * nanoseconds they took. The work times itself so that the OpenMP ones can
 * start the clock at a barrier every thread has reached: starting a parallel
 * region takes milliseconds at times on a busy VM host (a worker's vCPU has
 * to be scheduled), which is no part of an FMA or bandwidth figure.
 */
typedef uint64_t (*roof_work_fn)(void *ctx, int64_t reps);

static double time_work(roof_work_fn fn, void *ctx, int64_t reps)
{
	double t = (double)fn(ctx, reps) * 1e-9;
	/* a clock that did not tick would give an infinite rate */
	return t > 1e-9 ? t : 1e-9;
}

/*
 * Median repetitions per second over `trials` trials of ~seconds / (trials
 * + 1.5) each, and at least MIN_TRIAL_S.
 *
 * The pilot doubles reps from 1 until a batch takes an eighth of a trial
 * (the doublings cost about a quarter of a trial) and doubling reps has
 * about doubled the time, unless the batch is already SETTLED_S long. The
 * second test matters: when other threads (another process, or OpenBLAS's
 * workers, which spin for ~0.1 s after a call) crowd two threads onto one
 * CPU, every batch, however short, waits out a 4 ms scheduler tick at the
 * closing barrier, and a rate estimated from that wait would size trials a
 * thousand times too short.
 *
 * A full-length warm-up follows unless the pilot's last batch was already
 * half a trial long: it brings up the threads, faults in pages and lets the
 * clock settle (AVX-512 licence). Trials are sized from the faster of the
 * two batches' rates: interruptions only ever slow a batch down, so the
 * faster estimate is the less disturbed one.
 *
 * A repetition longer than a trial is still run `trials` times: the budget
 * bounds the count, never below the minimum.
 */
static double median_rate(roof_work_fn fn, void *ctx, double seconds, int trials)
{
	const double target = fmax(seconds / (trials + 1.5), MIN_TRIAL_S);
	const double max_reps = (double)(INT64_MAX >> 2);
	int64_t reps = 1;
	double t = time_work(fn, ctx, reps), prev = 0;

	for (;;) {
		int small = t < target / 8;
		int unsettled = t < SETTLED_S && (prev == 0 || t < 1.5 * prev);
		if (!(small || unsettled) || reps >= (INT64_MAX >> 3))
			break;
		prev = t;
		reps *= 2;
		t = time_work(fn, ctx, reps);
	}
	double best = (double)reps / t;
	double scaled = fmin(best * target, max_reps);
	if (t < target / 2) {
		int64_t warm = scaled < 1.0 ? 1 : (int64_t)scaled;
		best = fmax(best, (double)warm / time_work(fn, ctx, warm));
		scaled = fmin(best * target, max_reps);
	}
	int64_t per = scaled < 1.0 ? 1 : (int64_t)scaled;

	double rate[MAX_TRIALS];
	for (int i = 0; i < trials; i++)
		rate[i] = (double)per / time_work(fn, ctx, per);
	return attn_stats_median_inplace(rate, trials);
}

/* ---- FMA peak ------------------------------------------------------------ */

/*
 * Each kernel runs `iters` steps of `accs` independent chains
 * acc = acc * m + c on vectors of `lanes` floats and returns the sum of the
 * accumulators. With m < 1 every chain converges to c / (1 - m) = 1: no
 * overflow, no denormals, so no slow paths. The accumulators are named
 * variables, not an array, so they stay in registers.
 */
#define ROOF_M 0.9990234375f /* 1 - 2^-10 */
#define ROOF_C 0.0009765625f /* 2^-10 */

#define REP12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define REP16(X) REP12(X) X(12) X(13) X(14) X(15)

#if defined(__x86_64__)

/* 16 zmm chains (of 32 registers): 2 ports x 4 cycles = 8 needed. */
__attribute__((target("avx512f,fma"))) static float fma_avx512(int64_t iters)
{
	const __m512 m = _mm512_set1_ps(ROOF_M), c = _mm512_set1_ps(ROOF_C);
#define DECL(i) __m512 a##i = _mm512_set1_ps(0.01f * (i));
#define STEP(i) a##i = _mm512_fmadd_ps(a##i, m, c);
#define FOLD(i) s = _mm512_add_ps(s, a##i);
	REP16(DECL)
	for (int64_t k = 0; k < iters; k++) {
		REP16(STEP)
	}
	__m512 s = _mm512_setzero_ps();
	REP16(FOLD)
#undef DECL
#undef STEP
#undef FOLD
	return _mm512_reduce_add_ps(s);
}

/*
 * 12 ymm chains: AVX2 has 16 registers and the constants take two; 12
 * covers 2 ports x 5 cycles (Haswell's latency).
 */
__attribute__((target("avx2,fma"))) static float fma_avx2(int64_t iters)
{
	const __m256 m = _mm256_set1_ps(ROOF_M), c = _mm256_set1_ps(ROOF_C);
#define DECL(i) __m256 a##i = _mm256_set1_ps(0.01f * (i));
#define STEP(i) a##i = _mm256_fmadd_ps(a##i, m, c);
#define FOLD(i) s = _mm256_add_ps(s, a##i);
	REP12(DECL)
	for (int64_t k = 0; k < iters; k++) {
		REP12(STEP)
	}
	__m256 s = _mm256_setzero_ps();
	REP12(FOLD)
#undef DECL
#undef STEP
#undef FOLD
	float v[8];
	_mm256_storeu_ps(v, s);
	return v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
}

/*
 * No FMA before AVX2: a multiply and a dependent add, 2 flops per lane as
 * well, 12 xmm chains for the 8-cycle mul + add latency.
 */
static float muladd_sse(int64_t iters)
{
	const __m128 m = _mm_set1_ps(ROOF_M), c = _mm_set1_ps(ROOF_C);
#define DECL(i) __m128 a##i = _mm_set1_ps(0.01f * (i));
#define STEP(i) a##i = _mm_add_ps(_mm_mul_ps(a##i, m), c);
#define FOLD(i) s = _mm_add_ps(s, a##i);
	REP12(DECL)
	for (int64_t k = 0; k < iters; k++) {
		REP12(STEP)
	}
	__m128 s = _mm_setzero_ps();
	REP12(FOLD)
#undef DECL
#undef STEP
#undef FOLD
	float v[4];
	_mm_storeu_ps(v, s);
	return v[0] + v[1] + v[2] + v[3];
}

static int cpu_has_avx512(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
}

static int cpu_has_avx2(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

static int cpu_has_sse(void)
{
	return 1; /* SSE2 is part of x86-64 */
}

#endif /* __x86_64__ */

/*
 * Portable C for every other CPU. The compiler may vectorise the 16 chains
 * (then it reports more than one lane's worth); the flop count stays right.
 */
static float muladd_scalar(int64_t iters)
{
	float a[16];
	for (int i = 0; i < 16; i++)
		a[i] = 0.01f * (float)i;
	for (int64_t k = 0; k < iters; k++)
		for (int i = 0; i < 16; i++)
			a[i] = a[i] * ROOF_M + ROOF_C;
	float s = 0.0f;
	for (int i = 0; i < 16; i++)
		s += a[i];
	return s;
}

static int cpu_has_scalar(void)
{
	return 1;
}

/*
 * The kernels, widest first: dispatch takes the first the CPU supports. To
 * add one, write the kernel and its CPUID test above (inside the x86 guard
 * if it uses x86 intrinsics) and add a row here with its accumulator count
 * and float lanes; calib.h's `fma_isa` holds names up to 15 characters.
 */
struct fma_impl {
	const char *isa;
	float (*kernel)(int64_t iters);
	int (*supported)(void);
	int accs;
	int lanes;
};

static const struct fma_impl fma_impls[] = {
#if defined(__x86_64__)
    {"avx512", fma_avx512, cpu_has_avx512, 16, 16},
    {"avx2", fma_avx2, cpu_has_avx2, 12, 8},
    {"sse", muladd_sse, cpu_has_sse, 12, 4},
#endif
    {"scalar", muladd_scalar, cpu_has_scalar, 16, 1},
};

#define N_FMA_IMPLS (sizeof(fma_impls) / sizeof(fma_impls[0]))

/* The forced kernel if ATTNBENCH_FMA_ISA names a supported one, else the widest. */
static const struct fma_impl *fma_pick(void)
{
	const char *want = getenv("ATTNBENCH_FMA_ISA");

	if (want && *want)
		for (size_t i = 0; i < N_FMA_IMPLS; i++)
			if (strcmp(fma_impls[i].isa, want) == 0 && fma_impls[i].supported())
				return &fma_impls[i];
	for (size_t i = 0; i < N_FMA_IMPLS; i++)
		if (fma_impls[i].supported())
			return &fma_impls[i];
	return &fma_impls[N_FMA_IMPLS - 1];
}

struct fma_ctx {
	const struct fma_impl *impl;
	int threads; /* asked for */
	int got;     /* what OpenMP gave, for the flop count */
};

static uint64_t fma_work(void *p, int64_t reps)
{
	struct fma_ctx *c = p;
	float sum = 0.0f;
	int got = 1;
	uint64_t t0 = 0, t1 = 0;

#pragma omp parallel num_threads(c->threads) reduction(+ : sum)
	{
#pragma omp barrier
		if (omp_get_thread_num() == 0) {
			got = omp_get_num_threads();
			t0 = attn__now_ns();
		}
		sum += c->impl->kernel(reps);
#pragma omp barrier
		if (omp_get_thread_num() == 0)
			t1 = attn__now_ns();
	}
	c->got = got;
	roof_sink = sum;
	return t1 - t0;
}

double attn_roof_fma_gflops(int threads, double seconds, char *isa, size_t isalen)
{
	if (isa && isalen > 0)
		isa[0] = '\0';
	if (threads < 1 || !(seconds > 0) || !isfinite(seconds))
		return ATTN_ERR_INVALID;

	struct fma_ctx c = {fma_pick(), threads, threads};
	if (isa && isalen > 0)
		snprintf(isa, isalen, "%s", c.impl->isa);
	double iters_per_s = median_rate(fma_work, &c, seconds, FMA_TRIALS);
	/* flops = threads x iters x accs x lanes x 2 (multiply and add) */
	return iters_per_s * c.got * c.impl->accs * c.impl->lanes * 2.0 * 1e-9;
}

/* ---- sgemm --------------------------------------------------------------- */

struct sgemm_ctx {
	int n;
	const float *a, *b;
	float *c;
};

uint64_t attn__sgemm_reps(int n, const float *a, const float *b, float *c, int64_t reps)
{
	uint64_t t0 = attn__now_ns();
	for (int64_t r = 0; r < reps; r++)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n,
		            0.0f, c, n);
	uint64_t t1 = attn__now_ns();
	roof_sink = c[0];
	return t1 - t0;
}

static uint64_t sgemm_work(void *p, int64_t reps)
{
	struct sgemm_ctx *s = p;
	return attn__sgemm_reps(s->n, s->a, s->b, s->c, reps);
}

/*
 * Deterministic values in [0.25, 1.25): a multiplicative hash of the index
 * keeps them irregular (no structure a kernel could exploit) while never
 * zero or denormal, and the products' sums stay far from overflow.
 */
void attn__fill_operand(float *x, size_t count, uint32_t salt)
{
	for (size_t i = 0; i < count; i++) {
		uint32_t h = ((uint32_t)i + salt) * 2654435761u;
		x[i] = 0.25f + (float)(h >> 22) / 1024.0f;
	}
}

double attn_roof_sgemm_gflops(int threads, int64_t n, double seconds)
{
	/* n * n must fit OpenBLAS's int leading dimensions and index products */
	if (threads < 1 || n < 1 || n > 46340 || !(seconds > 0) || !isfinite(seconds))
		return ATTN_ERR_INVALID;

	size_t count = (size_t)n * (size_t)n;
	size_t bytes = attn__mul_sat(count, sizeof(float));
	float *a = attn__alloc(bytes), *b = attn__alloc(bytes), *c = attn__alloc(bytes);
	if (!a || !b || !c) {
		attn__free(a);
		attn__free(b);
		attn__free(c);
		return ATTN_ERR_NOMEM;
	}
	attn__fill_operand(a, count, 1);
	attn__fill_operand(b, count, 7);

	/* OpenBLAS's thread count is global: restore it for whoever runs next */
	int before = openblas_get_num_threads();
	openblas_set_num_threads(threads);
	struct sgemm_ctx s = {(int)n, a, b, c};
	double calls_per_s = median_rate(sgemm_work, &s, seconds, SGEMM_TRIALS);
	openblas_set_num_threads(before);

	attn__free(a);
	attn__free(b);
	attn__free(c);
	/* flops = 2 n^3: n^3 multiply-adds */
	return calls_per_s * 2.0 * (double)n * (double)n * (double)n * 1e-9;
}

/* ---- triad --------------------------------------------------------------- */

struct triad_ctx {
	int threads;
	int64_t n;
	float *a;
	const float *b, *c;
};

static uint64_t triad_work(void *p, int64_t reps)
{
	struct triad_ctx *t = p;
	float *restrict a = t->a;
	const float *restrict b = t->b;
	const float *restrict c = t->c;
	const float s = 3.0f;
	const int64_t n = t->n;
	uint64_t t0 = 0, t1 = 0;

	/*
	 * a = b + s c, `reps` passes. One parallel region per batch, the same
	 * static partition in every pass as in the first touch, so each thread
	 * streams the pages it placed. The clock runs from a barrier every
	 * thread has reached to the end of the last pass (see time_work).
	 */
#pragma omp parallel num_threads(t->threads)
	{
#pragma omp barrier
		if (omp_get_thread_num() == 0)
			t0 = attn__now_ns();
		for (int64_t r = 0; r < reps; r++) {
#pragma omp for schedule(static)
			for (int64_t i = 0; i < n; i++)
				a[i] = b[i] + s * c[i];
		}
		if (omp_get_thread_num() == 0)
			t1 = attn__now_ns();
	}
	roof_sink = a[n / 2];
	return t1 - t0;
}

double attn_roof_triad_gbps(int threads, size_t bytes_per_array, double seconds)
{
	if (threads < 1 || bytes_per_array < 64 || !(seconds > 0) || !isfinite(seconds))
		return ATTN_ERR_INVALID;

	int64_t n = (int64_t)(bytes_per_array / sizeof(float));
	/*
	 * Not attn__alloc: it zeroes on the calling thread, which would place
	 * every page before the threads could touch their own. Aligned to and
	 * sized in 2 MiB so that transparent huge pages can back the arrays
	 * whole: asked for with madvise (a no-op when THP is "never"), they cut
	 * the page faults of the first touch of 3 x 600 MiB from ~1.1 s to
	 * ~0.4 s here, and change the triad's figure by less than its noise.
	 */
	const size_t huge = (size_t)2 << 20;
	size_t bytes = ((size_t)n * sizeof(float) + huge - 1) & ~(huge - 1);
	if (bytes < bytes_per_array)
		return ATTN_ERR_NOMEM;
	float *a = aligned_alloc(huge, bytes), *b = aligned_alloc(huge, bytes);
	float *c = aligned_alloc(huge, bytes);
	if (!a || !b || !c) {
		free(a);
		free(b);
		free(c);
		return ATTN_ERR_NOMEM;
	}
#ifdef MADV_HUGEPAGE
	madvise(a, bytes, MADV_HUGEPAGE);
	madvise(b, bytes, MADV_HUGEPAGE);
	madvise(c, bytes, MADV_HUGEPAGE);
#endif

	/* first touch, in the partition the triad will use (see triad_work) */
#pragma omp parallel for schedule(static) num_threads(threads)
	for (int64_t i = 0; i < n; i++) {
		a[i] = 0.0f;
		b[i] = 1.0f + (float)(i & 1023) / 1024.0f;
		c[i] = 0.5f;
	}

	struct triad_ctx t = {threads, n, a, b, c};
	double passes_per_s = median_rate(triad_work, &t, seconds, TRIAD_TRIALS);
	free(a);
	free(b);
	free(c);
	/* bytes = 3 arrays x 4 bytes x n per pass (STREAM's count, see the top) */
	return passes_per_s * 3.0 * sizeof(float) * (double)n * 1e-9;
}

/* ---- all three ----------------------------------------------------------- */

/* The last-level cache per hwloc: the first L3, else the first L2; 0 unknown. */
static size_t machine_llc_bytes(void)
{
	hwloc_topology_t topo;
	size_t llc = 0;

	if (hwloc_topology_init(&topo) != 0)
		return 0;
	if (hwloc_topology_load(topo) == 0) {
		hwloc_obj_t o = hwloc_get_obj_by_type(topo, HWLOC_OBJ_L3CACHE, 0);
		if (!o)
			o = hwloc_get_obj_by_type(topo, HWLOC_OBJ_L2CACHE, 0);
		if (o && o->attr)
			llc = (size_t)o->attr->cache.size;
	}
	hwloc_topology_destroy(topo);
	return llc;
}

/* A figure from one of the measurements above, or its status with a message. */
static int check_figure(double x, const char *what, char *err, size_t errlen)
{
	if (x > 0 && isfinite(x))
		return ATTN_OK;
	if (x == ATTN_ERR_NOMEM)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "out of memory for the %s buffers",
		                 what);
	if (x < 0 && x >= ATTN_ERR_INTERNAL)
		return attn_errf(err, errlen, (int)x, "%s measurement failed: %s", what,
		                 attn_status_str((int)x));
	return attn_errf(err, errlen, ATTN_ERR_INTERNAL, "%s measurement gave %g", what, x);
}

int attn_roof_measure(int threads, double budget_s, size_t llc_bytes, struct attn_roof *out,
                      char *err, size_t errlen)
{
	if (!out)
		return attn_errf(err, errlen, ATTN_ERR_INVALID, "no attn_roof to fill");
	memset(out, 0, sizeof(*out));
	if (threads < 1)
		return attn_errf(err, errlen, ATTN_ERR_INVALID, "threads %d < 1", threads);
	if (!(budget_s >= 0) || !isfinite(budget_s))
		return attn_errf(err, errlen, ATTN_ERR_INVALID,
		                 "budget %g s is not a non-negative number of seconds", budget_s);
	if (budget_s == 0)
		budget_s = ROOF_DEFAULT_BUDGET_S;

	if (llc_bytes == 0)
		llc_bytes = machine_llc_bytes();
	size_t triad = attn__mul_sat(llc_bytes, 2);
	if (triad < ROOF_TRIAD_MIN_BYTES)
		triad = ROOF_TRIAD_MIN_BYTES;
	triad = (triad + 63) & ~(size_t)63;
	/*
	 * Refuse up front rather than let overcommit hand out memory that the
	 * OOM killer reclaims mid-measurement.
	 */
	size_t need = attn__mul_sat(triad, 3);
	size_t avail = attn_mem_available();
	if (avail != 0 && need > avail / 10 * 9)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM,
		                 "the triad needs 3 x %zu bytes (twice the %zu-byte LLC each) "
		                 "but only %zu bytes are available",
		                 triad, llc_bytes, avail);

	out->threads = threads;
	out->sgemm_n = ROOF_SGEMM_N;
	out->triad_bytes = triad;
	double each = budget_s / 3;

	int st;
	out->fma_gflops = attn_roof_fma_gflops(threads, each, out->fma_isa, sizeof(out->fma_isa));
	if ((st = check_figure(out->fma_gflops, "FMA peak", err, errlen)) != ATTN_OK)
		goto fail;
	out->triad_gbps = attn_roof_triad_gbps(threads, triad, each);
	if ((st = check_figure(out->triad_gbps, "triad", err, errlen)) != ATTN_OK)
		goto fail;
	/*
	 * sgemm last: OpenBLAS's worker threads keep spinning for a while after
	 * a call and would take cores from the OpenMP measurements.
	 */
	out->sgemm_gflops = attn_roof_sgemm_gflops(threads, ROOF_SGEMM_N, each);
	if ((st = check_figure(out->sgemm_gflops, "sgemm", err, errlen)) != ATTN_OK)
		goto fail;
	return ATTN_OK;
fail:
	/* no half-filled roof: a caller that ignores the status stores zeros */
	memset(out, 0, sizeof(*out));
	return st;
}
