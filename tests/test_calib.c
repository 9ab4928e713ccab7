/*
 * Tests of the roofs (harness/src/calib.c). Speed is the machine's, and this
 * one is shared and noisy, so nothing here is a speed target: every figure
 * must be positive and finite, and the orderings physics guarantees must
 * hold (no sgemm beats the FMA peak it is built from). Budgets are tiny.
 * Under CTest OpenBLAS runs its Prescott kernels (no OPENBLAS_CORETYPE), so
 * sgemm is far below the peak here; the inequality holds all the more.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/calib.h"
#include "attnbench/method.h"
#include "check_main.h"

#define BUDGET 0.05

static int known_isa(const char *isa)
{
	return strcmp(isa, "avx512") == 0 || strcmp(isa, "avx2") == 0 || strcmp(isa, "sse") == 0 ||
	       strcmp(isa, "scalar") == 0;
}

static void assert_figure(double x, const char *what, int threads)
{
	ck_assert_msg(x > 0 && isfinite(x), "%s at %d threads: %g", what, threads, x);
}

START_TEST(test_fma)
{
	for (int t = 1; t <= 2; t++) {
		char isa[16] = "junk";
		double g = attn_roof_fma_gflops(t, BUDGET, isa, sizeof(isa));
		assert_figure(g, "FMA peak", t);
		ck_assert_msg(known_isa(isa), "isa %s", isa);
	}
	/* isa may be left out */
	assert_figure(attn_roof_fma_gflops(1, BUDGET, NULL, 0), "FMA peak", 1);
}
END_TEST

/* The widest kernel the CPU has is the default; each can be forced. */
START_TEST(test_fma_forced)
{
	static const char *const isas[] = {"avx512", "avx2", "sse", "scalar"};
	char isa[16];

	for (size_t i = 0; i < sizeof(isas) / sizeof(isas[0]); i++) {
		int have = strcmp(isas[i], "scalar") == 0;
#if defined(__x86_64__)
		__builtin_cpu_init();
		if (strcmp(isas[i], "avx512") == 0)
			have = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
		else if (strcmp(isas[i], "avx2") == 0)
			have = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
		else if (strcmp(isas[i], "sse") == 0)
			have = 1;
#endif
		setenv("ATTNBENCH_FMA_ISA", isas[i], 1);
		double g = attn_roof_fma_gflops(1, BUDGET, isa, sizeof(isa));
		assert_figure(g, isas[i], 1);
		if (have)
			ck_assert_str_eq(isa, isas[i]);
		else
			ck_assert_msg(known_isa(isa), "%s fell back to %s", isas[i], isa);
	}
	/* an unknown name falls back to the default */
	setenv("ATTNBENCH_FMA_ISA", "mmx", 1);
	assert_figure(attn_roof_fma_gflops(1, BUDGET, isa, sizeof(isa)), "mmx", 1);
	ck_assert(known_isa(isa));
	unsetenv("ATTNBENCH_FMA_ISA");
}
END_TEST

/* A short isa buffer is cut, not overrun. */
START_TEST(test_fma_isa_short)
{
	char isa[8];
	memset(isa, 'x', sizeof(isa));
	assert_figure(attn_roof_fma_gflops(1, BUDGET, isa, 3), "FMA peak", 1);
	ck_assert_int_le(strlen(isa), 2);
	ck_assert_int_eq(isa[3], 'x');
}
END_TEST

START_TEST(test_sgemm)
{
	for (int t = 1; t <= 2; t++) {
		assert_figure(attn_roof_sgemm_gflops(t, 128, BUDGET), "sgemm n=128", t);
		/* odd sizes take OpenBLAS's edge paths */
		assert_figure(attn_roof_sgemm_gflops(t, 67, BUDGET), "sgemm n=67", t);
	}
	assert_figure(attn_roof_sgemm_gflops(1, 1, BUDGET), "sgemm n=1", 1);
}
END_TEST

/*
 * The FMA peak bounds sgemm at the same threads. Noise can hit either
 * measurement, so the peak is the better of two taken around the sgemm,
 * and 10% is allowed. On a machine shared with other work a 2-thread
 * measurement can lose one of its threads for most of its 0.1 s (CI saw a
 * "peak" of 0.17 GFLOP/s), so the property must hold in one of five tries:
 * a broken peak kernel fails all five, a descheduled thread only one.
 */
START_TEST(test_fma_bounds_sgemm)
{
	for (int t = 1; t <= 2; t++) {
		double f = 0, s = 0;
		for (int attempt = 0; attempt < 5; attempt++) {
			double f1 = attn_roof_fma_gflops(t, 0.1, NULL, 0);
			s = attn_roof_sgemm_gflops(t, 512, 0.2);
			double f2 = attn_roof_fma_gflops(t, 0.1, NULL, 0);
			assert_figure(s, "sgemm", t);
			f = fmax(f1, f2);
			if (f >= 0.9 * s)
				break;
		}
		ck_assert_msg(f >= 0.9 * s, "%d threads: FMA peak %g < sgemm %g in 5 tries", t, f,
		              s);
	}
}
END_TEST

START_TEST(test_triad)
{
	for (int t = 1; t <= 2; t++) {
		assert_figure(attn_roof_triad_gbps(t, (size_t)1 << 20, BUDGET), "triad 1 MiB", t);
		/* fewer elements than a cache line per thread, and a ragged end */
		assert_figure(attn_roof_triad_gbps(t, 64, BUDGET), "triad 64 B", t);
		assert_figure(attn_roof_triad_gbps(t, 4000 * 4 + 12, BUDGET), "triad 4003", t);
	}
}
END_TEST

START_TEST(test_invalid)
{
	char isa[16] = "junk";
	const double bad_s[] = {0.0, -1.0, NAN, INFINITY};

	ck_assert(attn_roof_fma_gflops(0, BUDGET, isa, sizeof(isa)) == ATTN_ERR_INVALID);
	ck_assert_str_eq(isa, "");
	ck_assert(attn_roof_fma_gflops(-3, BUDGET, NULL, 0) == ATTN_ERR_INVALID);
	ck_assert(attn_roof_sgemm_gflops(0, 64, BUDGET) == ATTN_ERR_INVALID);
	ck_assert(attn_roof_sgemm_gflops(1, 0, BUDGET) == ATTN_ERR_INVALID);
	ck_assert(attn_roof_sgemm_gflops(1, -64, BUDGET) == ATTN_ERR_INVALID);
	ck_assert(attn_roof_sgemm_gflops(1, 100000, BUDGET) == ATTN_ERR_INVALID);
	ck_assert(attn_roof_triad_gbps(0, 1 << 20, BUDGET) == ATTN_ERR_INVALID);
	ck_assert(attn_roof_triad_gbps(1, 0, BUDGET) == ATTN_ERR_INVALID);
	ck_assert(attn_roof_triad_gbps(1, 63, BUDGET) == ATTN_ERR_INVALID);
	for (size_t i = 0; i < sizeof(bad_s) / sizeof(bad_s[0]); i++) {
		ck_assert(attn_roof_fma_gflops(1, bad_s[i], NULL, 0) == ATTN_ERR_INVALID);
		ck_assert(attn_roof_sgemm_gflops(1, 64, bad_s[i]) == ATTN_ERR_INVALID);
		ck_assert(attn_roof_triad_gbps(1, 1 << 20, bad_s[i]) == ATTN_ERR_INVALID);
	}

	struct attn_roof r;
	char err[256] = "";
	memset(&r, 0x5a, sizeof(r));
	ck_assert_int_eq(attn_roof_measure(0, 0.1, 0, &r, err, sizeof(err)), ATTN_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err, "threads"));
	ck_assert_int_eq(r.threads, 0);
	ck_assert(r.fma_gflops == 0);
	err[0] = '\0';
	ck_assert_int_eq(attn_roof_measure(1, -1.0, 0, &r, err, sizeof(err)), ATTN_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err, "budget"));
	ck_assert_int_eq(attn_roof_measure(1, NAN, 0, &r, err, sizeof(err)), ATTN_ERR_INVALID);
	ck_assert_int_eq(attn_roof_measure(1, 0.1, 0, NULL, err, sizeof(err)), ATTN_ERR_INVALID);
	/* no message buffer is fine */
	ck_assert_int_eq(attn_roof_measure(0, 0.1, 0, &r, NULL, 0), ATTN_ERR_INVALID);
}
END_TEST

/*
 * An LLC so large that the triad's three arrays cannot fit in memory is
 * refused with ATTN_ERR_NOMEM and a message, before allocating anything.
 */
START_TEST(test_roof_nomem)
{
	struct attn_roof r;
	char err[256] = "";

	memset(&r, 0x5a, sizeof(r));
	ck_assert_int_eq(attn_roof_measure(1, 0.1, SIZE_MAX / 4, &r, err, sizeof(err)),
	                 ATTN_ERR_NOMEM);
	ck_assert_ptr_nonnull(strstr(err, "triad"));
	ck_assert_int_eq(r.threads, 0);
	ck_assert(r.triad_gbps == 0);
}
END_TEST

/* Allocation failure inside a measurement (ASan aborts on such a request instead). */
START_TEST(test_alloc_failure)
{
#if !defined(__SANITIZE_ADDRESS__)
	ck_assert(attn_roof_triad_gbps(1, SIZE_MAX / 2, BUDGET) == ATTN_ERR_NOMEM);
#endif
}
END_TEST

/*
 * The whole roof at one thread, with a 1 MiB "LLC" so the triad uses its
 * 64 MiB minimum. sgemm is measured at the real n = 2048: a few seconds
 * with Prescott kernels.
 */
START_TEST(test_roof_measure)
{
	struct attn_roof r;
	char err[256] = "";

	ck_assert_int_eq(attn_roof_measure(1, 0.3, (size_t)1 << 20, &r, err, sizeof(err)), ATTN_OK);
	ck_assert_int_eq(r.threads, 1);
	ck_assert(known_isa(r.fma_isa));
	ck_assert_int_eq(r.sgemm_n, 2048);
	ck_assert_uint_eq(r.triad_bytes, (size_t)64 << 20);
	assert_figure(r.fma_gflops, "FMA peak", 1);
	assert_figure(r.sgemm_gflops, "sgemm", 1);
	assert_figure(r.triad_gbps, "triad", 1);
	/*
	 * No FMA >= sgemm check here: the two are measured seconds apart, and
	 * with fast OpenBLAS kernels (OPENBLAS_CORETYPE set) a slow phase of the
	 * host between them can invert them; test_fma_bounds_sgemm brackets the
	 * sgemm with two FMA measurements instead.
	 */
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("calib");
	TCase *tc = tcase_create("roof");

	tcase_add_test(tc, test_fma);
	tcase_add_test(tc, test_fma_forced);
	tcase_add_test(tc, test_fma_isa_short);
	tcase_add_test(tc, test_sgemm);
	tcase_add_test(tc, test_fma_bounds_sgemm);
	tcase_add_test(tc, test_triad);
	tcase_add_test(tc, test_invalid);
	tcase_add_test(tc, test_roof_nomem);
	tcase_add_test(tc, test_alloc_failure);
	tcase_add_test(tc, test_roof_measure);
	/* Roofs take seconds, more in the machine's slow phases. */
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return attn_test_run(suite(), CK_NORMAL);
}
