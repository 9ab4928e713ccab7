/*
 * Tests of the noise provenance (harness/src/noise.c). Each test lays out a
 * fake /proc and /sys in a temporary directory, so every parser and every
 * warning is checked against known file contents whatever machine runs the
 * suite; the last test runs the real collection and checks that every key
 * is recorded.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attnbench/method.h"
#include "attnbench/sysinfo.h"
#include "check_main.h"
#include "noise.h"
#include "tmpdir.h"

#define MAX_W 16

static const char *const keys[] = {
    "noise_governor",    "noise_turbo",       "noise_smt_active",          "noise_smt_control",
    "noise_aslr",        "noise_thp",         "noise_perf_event_paranoid", "noise_loadavg",
    "noise_runnable",    "noise_debug_build", "noise_hypervisor",          "noise_cpu_mhz_min",
    "noise_cpu_mhz_max",
};
#define N_KEYS (int)(sizeof(keys) / sizeof(keys[0]))

/* One fake machine: its root directory, sysinfo and the warnings it gave. */
static char root[TMPDIR_LEN];
static struct attn_sysinfo si;
static char warnings[MAX_W][ATTN_NOISE_WARNING_LEN];
static int n_warnings;

/* A Release build on 2 cores, as attn_sysinfo_collect would leave it. */
static void setup(void)
{
	tmpdir_make(root, "noise");
	memset(&si, 0, sizeof(si));
	si.cores = 2;
	attn_sysinfo_put(&si, "build_type", "Release");
	n_warnings = -1;
}

static void teardown(void)
{
	tmpdir_remove(root);
}

/* Create root + rel with `text`, making its directories. */
static void put_file(const char *rel, const char *text)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s%s", root, rel);
	for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void put_dir(const char *rel)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s%s/x", root, rel);
	for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
}

static void collect(void)
{
	ck_assert_int_eq(attn__noise_collect_root(&si, root, warnings, MAX_W, &n_warnings),
	                 ATTN_OK);
}

static const char *get(const char *key)
{
	const char *v = attn_sysinfo_get(&si, key);
	ck_assert_msg(v != NULL, "%s not recorded", key);
	return v;
}

/* How many warnings contain `needle`. */
static int warned(const char *needle)
{
	int n = 0;
	for (int i = 0; i < n_warnings; i++)
		n += strstr(warnings[i], needle) != NULL;
	return n;
}

START_TEST(test_governor_powersave)
{
	put_file("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "powersave\n");
	put_file("/sys/devices/system/cpu/cpu1/cpufreq/scaling_governor", "powersave\n");
	collect();
	ck_assert_str_eq(get("noise_governor"), "powersave");
	ck_assert_int_eq(warned("governor"), 1);
	ck_assert_int_eq(warned("on 2 of 2 CPUs"), 1);
	ck_assert_int_eq(warned("warning: "), 1);
}
END_TEST

START_TEST(test_governor_performance)
{
	put_file("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "performance\n");
	put_file("/sys/devices/system/cpu/cpu1/cpufreq/scaling_governor", "performance\n");
	collect();
	ck_assert_str_eq(get("noise_governor"), "performance");
	ck_assert_int_eq(warned("governor"), 0);
}
END_TEST

/* One slow CPU is enough to warn; the record lists each governor once, sorted. */
START_TEST(test_governor_mixed)
{
	put_file("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "performance\n");
	put_file("/sys/devices/system/cpu/cpu1/cpufreq/scaling_governor", "schedutil\n");
	put_file("/sys/devices/system/cpu/cpu2/cpufreq/scaling_governor", "performance\n");
	/* not CPUs: must be skipped */
	put_dir("/sys/devices/system/cpu/cpufreq");
	put_dir("/sys/devices/system/cpu/cpuidle");
	collect();
	ck_assert_str_eq(get("noise_governor"), "performance,schedutil");
	ck_assert_int_eq(warned("on 1 of 3 CPUs"), 1);
}
END_TEST

/* CPUs without cpufreq (a VM, a fixed-clock board): nothing to warn about. */
START_TEST(test_governor_none)
{
	put_dir("/sys/devices/system/cpu/cpu0");
	put_dir("/sys/devices/system/cpu/cpu1");
	collect();
	ck_assert_str_eq(get("noise_governor"), "none");
	ck_assert_int_eq(warned("governor"), 0);
}
END_TEST

/* A cpufreq directory whose governor cannot be read is not "none". */
START_TEST(test_governor_unreadable)
{
	put_file("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "performance\n");
	put_dir("/sys/devices/system/cpu/cpu1/cpufreq");
	collect();
	ck_assert_str_eq(get("noise_governor"), "unknown");
	ck_assert_int_eq(warned("governor"), 0);
}
END_TEST

START_TEST(test_thp)
{
	put_file("/sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never\n");
	collect();
	ck_assert_str_eq(get("noise_thp"), "madvise");
}
END_TEST

START_TEST(test_thp_always_and_garbage)
{
	put_file("/sys/kernel/mm/transparent_hugepage/enabled", "[always] madvise never\n");
	collect();
	ck_assert_str_eq(get("noise_thp"), "always");

	memset(&si, 0, sizeof(si));
	put_file("/sys/kernel/mm/transparent_hugepage/enabled", "always madvise never\n");
	collect();
	ck_assert_str_eq(get("noise_thp"), "unknown");
}
END_TEST

START_TEST(test_loadavg_quiet)
{
	put_file("/proc/loadavg", "0.39 1.23 1.41 2/79 14101\n");
	collect();
	ck_assert_str_eq(get("noise_loadavg"), "0.39 1.23 1.41");
	ck_assert_str_eq(get("noise_runnable"), "2");
	/* 0.39 <= 0.5 x 2 cores; the older averages do not count */
	ck_assert_int_eq(warned("load average"), 0);
}
END_TEST

START_TEST(test_loadavg_busy)
{
	put_file("/proc/loadavg", "1.50 0.20 0.10 3/120 999\n");
	collect();
	ck_assert_str_eq(get("noise_loadavg"), "1.50 0.20 0.10");
	ck_assert_str_eq(get("noise_runnable"), "3");
	ck_assert_int_eq(warned("load average is 1.50 on 2 cores"), 1);
}
END_TEST

/* Without sysinfo's core count the online CPUs stand in. */
START_TEST(test_loadavg_cores_fallback)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	char text[64];

	si.cores = 0;
	snprintf(text, sizeof(text), "%ld.00 0.00 0.00 1/10 5\n", cpus);
	put_file("/proc/loadavg", text);
	collect();
	ck_assert_int_eq(warned("load average"), 1);
}
END_TEST

START_TEST(test_loadavg_malformed)
{
	put_file("/proc/loadavg", "not a load average\n");
	collect();
	ck_assert_str_eq(get("noise_loadavg"), "unknown");
	ck_assert_str_eq(get("noise_runnable"), "unknown");
	ck_assert_int_eq(warned("load average"), 0);
}
END_TEST

START_TEST(test_debug_build)
{
	memset(&si, 0, sizeof(si));
	attn_sysinfo_put(&si, "build_type", "Debug");
	collect();
	ck_assert_str_eq(get("noise_debug_build"), "yes");
	ck_assert_int_eq(warned("built as Debug, without optimisation"), 1);
	ck_assert_int_eq(warned("-DCMAKE_BUILD_TYPE=Release"), 1);
}
END_TEST

/* No build type means no -O flag: as slow as Debug. Release is fine. */
START_TEST(test_build_types)
{
	memset(&si, 0, sizeof(si));
	attn_sysinfo_put(&si, "build_type", "%s", "");
	collect();
	ck_assert_str_eq(get("noise_debug_build"), "yes");
	ck_assert_int_eq(warned("built with no build type, without optimisation"), 1);

	memset(&si, 0, sizeof(si));
	attn_sysinfo_put(&si, "build_type", "RelWithDebInfo");
	collect();
	ck_assert_str_eq(get("noise_debug_build"), "no");
	ck_assert_int_eq(warned("optimisation"), 0);
}
END_TEST

START_TEST(test_turbo)
{
	put_file("/sys/devices/system/cpu/intel_pstate/no_turbo", "0\n");
	collect();
	ck_assert_str_eq(get("noise_turbo"), "on");
	ck_assert_int_eq(warned("note: turbo"), 1);

	memset(&si, 0, sizeof(si));
	put_file("/sys/devices/system/cpu/intel_pstate/no_turbo", "1\n");
	collect();
	ck_assert_str_eq(get("noise_turbo"), "off");
	ck_assert_int_eq(warned("turbo"), 0);
}
END_TEST

START_TEST(test_boost)
{
	put_file("/sys/devices/system/cpu/cpufreq/boost", "1\n");
	collect();
	ck_assert_str_eq(get("noise_turbo"), "on");

	memset(&si, 0, sizeof(si));
	put_file("/sys/devices/system/cpu/cpufreq/boost", "0\n");
	collect();
	ck_assert_str_eq(get("noise_turbo"), "off");
}
END_TEST

START_TEST(test_smt_aslr_perf)
{
	put_file("/sys/devices/system/cpu/smt/active", "1\n");
	put_file("/sys/devices/system/cpu/smt/control", "on\n");
	put_file("/proc/sys/kernel/randomize_va_space", "2\n");
	put_file("/proc/sys/kernel/perf_event_paranoid", "-1\n");
	collect();
	ck_assert_str_eq(get("noise_smt_active"), "1");
	ck_assert_str_eq(get("noise_smt_control"), "on");
	ck_assert_str_eq(get("noise_aslr"), "2");
	ck_assert_str_eq(get("noise_perf_event_paranoid"), "-1");
	/* ASLR is a note, not a warning */
	ck_assert_int_eq(warned("note: address-space randomisation"), 1);
	ck_assert_int_eq(warned("warning: "), 0);

	memset(&si, 0, sizeof(si));
	put_file("/proc/sys/kernel/randomize_va_space", "0\n");
	collect();
	ck_assert_str_eq(get("noise_aslr"), "0");
	ck_assert_int_eq(warned("randomisation"), 0);
}
END_TEST

START_TEST(test_hypervisor_type_file)
{
	put_file("/sys/hypervisor/type", "xen\n");
	collect();
	ck_assert_str_eq(get("noise_hypervisor"), "xen");
	ck_assert_int_eq(warned("note: running under a hypervisor (xen)"), 1);
}
END_TEST

START_TEST(test_hypervisor_cpuinfo)
{
	put_file("/proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu sse2 hypervisor avx512f\n"
	                          "cpu MHz\t\t: 2100.000\n\n");
	collect();
	ck_assert_str_eq(get("noise_hypervisor"), "yes");
	ck_assert_int_eq(warned("hypervisor"), 1);

	/* a flag that merely contains the word does not count */
	memset(&si, 0, sizeof(si));
	put_file("/proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu nothypervisor sse2\n");
	collect();
	ck_assert_str_eq(get("noise_hypervisor"), "no");
	ck_assert_int_eq(warned("hypervisor"), 0);
}
END_TEST

START_TEST(test_cpu_mhz)
{
	put_file("/proc/cpuinfo", "processor\t: 0\ncpu MHz\t\t: 3400.400\n\n"
	                          "processor\t: 1\ncpu MHz\t\t: 800.000\n\n"
	                          "processor\t: 2\ncpu MHz\t\t: 2100.000\n\n");
	collect();
	ck_assert_str_eq(get("noise_cpu_mhz_min"), "800");
	ck_assert_str_eq(get("noise_cpu_mhz_max"), "3400");
}
END_TEST

/* No "cpu MHz" lines (ARM): cpufreq's current clocks in kHz. */
START_TEST(test_cpu_mhz_cpufreq)
{
	put_file("/proc/cpuinfo", "processor\t: 0\nBogoMIPS\t: 50.00\n\n");
	put_file("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", "1200000\n");
	put_file("/sys/devices/system/cpu/cpu1/cpufreq/scaling_cur_freq", "2400000\n");
	collect();
	ck_assert_str_eq(get("noise_cpu_mhz_min"), "1200");
	ck_assert_str_eq(get("noise_cpu_mhz_max"), "2400");
}
END_TEST

/* An empty root: every key says "unknown", and nothing is guessed into a warning. */
START_TEST(test_empty_root)
{
	collect();
	for (int i = 0; i < N_KEYS; i++) {
		if (strcmp(keys[i], "noise_debug_build") == 0)
			ck_assert_str_eq(get(keys[i]), "no");
		else
			ck_assert_msg(strcmp(get(keys[i]), "unknown") == 0, "%s = %s", keys[i],
			              get(keys[i]));
	}
	ck_assert_int_eq(n_warnings, 0);
}
END_TEST

/* Warnings beyond max_warnings are dropped, not overrun. */
START_TEST(test_max_warnings)
{
	char two[3][ATTN_NOISE_WARNING_LEN];
	memset(two, 0x5a, sizeof(two));
	put_file("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "powersave\n");
	put_file("/proc/loadavg", "9.00 9.00 9.00 9/99 1\n");
	put_file("/proc/sys/kernel/randomize_va_space", "2\n");
	put_file("/sys/hypervisor/type", "xen\n");
	ck_assert_int_eq(attn__noise_collect_root(&si, root, two, 2, &n_warnings), ATTN_OK);
	ck_assert_int_eq(n_warnings, 2);
	ck_assert_int_eq(two[2][0], 0x5a);
	ck_assert_int_eq(attn__noise_collect_root(&si, root, NULL, 0, &n_warnings), ATTN_OK);
	ck_assert_int_eq(n_warnings, 0);
}
END_TEST

START_TEST(test_invalid)
{
	ck_assert_int_eq(attn__noise_collect_root(NULL, root, warnings, MAX_W, &n_warnings),
	                 ATTN_ERR_INVALID);
	ck_assert_int_eq(n_warnings, 0);
	ck_assert_int_eq(attn__noise_collect_root(&si, root, warnings, MAX_W, NULL),
	                 ATTN_ERR_INVALID);
	ck_assert_int_eq(attn__noise_collect_root(&si, root, warnings, -1, &n_warnings),
	                 ATTN_ERR_INVALID);
	ck_assert_int_eq(attn__noise_collect_root(&si, root, NULL, 4, &n_warnings),
	                 ATTN_ERR_INVALID);
	ck_assert_int_eq(attn_noise_collect(NULL, warnings, MAX_W, &n_warnings), ATTN_ERR_INVALID);
}
END_TEST

/* This machine: runs, records every key, and every warning reads as one. */
START_TEST(test_real_machine)
{
	ck_assert_int_eq(attn_sysinfo_collect(&si), 0);
	ck_assert_int_eq(attn_noise_collect(&si, warnings, MAX_W, &n_warnings), ATTN_OK);
	for (int i = 0; i < N_KEYS; i++)
		ck_assert_msg(get(keys[i])[0] != '\0', "%s is empty", keys[i]);
	ck_assert_int_ge(n_warnings, 0);
	ck_assert_int_le(n_warnings, MAX_W);
	for (int i = 0; i < n_warnings; i++) {
		size_t len = strlen(warnings[i]);
		ck_assert_msg(strncmp(warnings[i], "warning: ", 9) == 0 ||
		                  strncmp(warnings[i], "note: ", 6) == 0,
		              "%s", warnings[i]);
		/* one whole sentence, not cut off by the buffer */
		ck_assert_msg(len > 0 && len < ATTN_NOISE_WARNING_LEN - 1 &&
		                  warnings[i][len - 1] == '.',
		              "%s", warnings[i]);
	}
	/* a Release build of the suite must not call itself Debug */
	if (strcmp(attn_sysinfo_get(&si, "build_type"), "Release") == 0)
		ck_assert_str_eq(get("noise_debug_build"), "no");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("noise");
	TCase *tc = tcase_create("fake_root");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_governor_powersave);
	tcase_add_test(tc, test_governor_performance);
	tcase_add_test(tc, test_governor_mixed);
	tcase_add_test(tc, test_governor_none);
	tcase_add_test(tc, test_governor_unreadable);
	tcase_add_test(tc, test_thp);
	tcase_add_test(tc, test_thp_always_and_garbage);
	tcase_add_test(tc, test_loadavg_quiet);
	tcase_add_test(tc, test_loadavg_busy);
	tcase_add_test(tc, test_loadavg_cores_fallback);
	tcase_add_test(tc, test_loadavg_malformed);
	tcase_add_test(tc, test_debug_build);
	tcase_add_test(tc, test_build_types);
	tcase_add_test(tc, test_turbo);
	tcase_add_test(tc, test_boost);
	tcase_add_test(tc, test_smt_aslr_perf);
	tcase_add_test(tc, test_hypervisor_type_file);
	tcase_add_test(tc, test_hypervisor_cpuinfo);
	tcase_add_test(tc, test_cpu_mhz);
	tcase_add_test(tc, test_cpu_mhz_cpufreq);
	tcase_add_test(tc, test_empty_root);
	tcase_add_test(tc, test_max_warnings);
	tcase_add_test(tc, test_invalid);
	suite_add_tcase(s, tc);

	TCase *real = tcase_create("real");
	tcase_add_test(real, test_real_machine);
	suite_add_tcase(s, real);
	return s;
}

int main(void)
{
	return attn_test_run(suite(), CK_NORMAL);
}
