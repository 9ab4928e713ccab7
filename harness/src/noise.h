/*
 * What on this machine, at the start of a run, can make its timings noisy or
 * unrepresentative, recorded with the run's provenance so that a surprising
 * figure can be traced to its conditions, and turned into warnings the CLI
 * prints (as Google Benchmark warns "CPU scaling is enabled").
 *
 * Keys added to the sysinfo table, each "unknown" when it cannot be read:
 *   noise_governor            cpufreq scaling governors of all CPUs, distinct
 *                             values sorted and comma-separated
 *                             ("performance", "performance,powersave");
 *                             "none" when the kernel has no cpufreq
 *   noise_turbo               "on" / "off" (intel_pstate no_turbo, or
 *                             cpufreq boost)
 *   noise_smt_active          /sys/devices/system/cpu/smt/active ("0", "1")
 *   noise_smt_control         .../smt/control ("on", "off", "notsupported")
 *   noise_aslr                kernel.randomize_va_space ("0", "1", "2")
 *   noise_thp                 the [selected] transparent-huge-page mode
 *   noise_perf_event_paranoid kernel.perf_event_paranoid
 *   noise_loadavg             1, 5 and 15 minute load averages ("0.39 1.23 1.41")
 *   noise_runnable            runnable threads at collection (counts the
 *                             harness itself, so 1 on an idle machine)
 *   noise_debug_build         "yes" for a Debug build (or one without a build
 *                             type, hence without optimisation), else "no"
 *   noise_hypervisor          "no", or the hypervisor ("kvm", "xen", "hyperv",
 *                             "vmware", or "yes" when only its presence shows)
 *   noise_cpu_mhz_min/_max    spread of the CPUs' current clocks, in MHz
 *
 * Warnings are one sentence each, saying what and what to do, prefixed
 * "warning: " (it distorts timings: a scaling governor other than
 * performance, a Debug build, a 1-minute load average over half the cores)
 * or "note: " (worth knowing, rarely decisive: ASLR, turbo, a hypervisor).
 */
#ifndef ATTNBENCH_NOISE_H
#define ATTNBENCH_NOISE_H

#include "attnbench/sysinfo.h"

/* Bytes of one warning, the second dimension of the `warnings` array. */
#define ATTN_NOISE_WARNING_LEN 256

/*
 * Record the noise_ keys into `si` and write up to `max_warnings` warnings
 * into warnings[0 .. *n_warnings). Call it after attn_sysinfo_collect (which
 * clears `si`, records build_type and counts the cores) and before any
 * measuring of the run's own, so the load average is the machine's, not
 * ours. Unreadable files are recorded, never an error: the status is
 * ATTN_ERR_INVALID only for bad arguments.
 */
int attn_noise_collect(struct attn_sysinfo *si, char warnings[][ATTN_NOISE_WARNING_LEN],
                       int max_warnings, int *n_warnings);

/*
 * Internal, for tests: the same, reading /proc and /sys under `root` (a
 * directory laid out like "/"; NULL or "" is the real one). CPUID is only
 * consulted for the real root, so a fake one decides the hypervisor from
 * its files alone.
 */
int attn__noise_collect_root(struct attn_sysinfo *si, const char *root,
                             char warnings[][ATTN_NOISE_WARNING_LEN], int max_warnings,
                             int *n_warnings);

#endif /* ATTNBENCH_NOISE_H */
