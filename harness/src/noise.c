/*
 * Noise provenance (see noise.h): the kernel's and the build's settings that
 * change how steady or how representative timings are, read from /proc and
 * /sys at the start of a run. Every file is read through one root prefix so
 * that the tests can lay out a fake /proc and /sys and check each parser and
 * each warning deterministically; only CPUID, which has no file, is skipped
 * under a fake root.
 *
 * Nothing here fails: a file that cannot be read is recorded as "unknown"
 * and warns about nothing, since a wrong warning would teach users to
 * ignore the right ones.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "attnbench/method.h"
#include "attnbench/sysinfo.h"
#include "build_info.h"
#include "noise.h"

#define put attn_sysinfo_put

/* Where the files are and where the warnings go. */
struct noise {
	struct attn_sysinfo *si;
	const char *root; /* "" for the real machine */
	char (*warnings)[ATTN_NOISE_WARNING_LEN];
	int max_warnings;
	int n_warnings;
};

static void warn(struct noise *ns, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append one warning; those beyond max_warnings are dropped. */
static void warn(struct noise *ns, const char *fmt, ...)
{
	if (ns->n_warnings >= ns->max_warnings)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ns->warnings[ns->n_warnings], ATTN_NOISE_WARNING_LEN, fmt, ap);
	va_end(ap);
	ns->n_warnings++;
}

/* root + path; a path too long for buf becomes "" and fails to open. */
static void path_of(const struct noise *ns, const char *rel, char *buf, size_t len)
{
	int w = snprintf(buf, len, "%s%s", ns->root, rel);
	if (w < 0 || (size_t)w >= len)
		buf[0] = '\0';
}

/* The first line of root + rel without trailing white space; -1 if unreadable. */
static int read_line(const struct noise *ns, const char *rel, char *buf, size_t len)
{
	char path[4096];
	path_of(ns, rel, path, sizeof(path));
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char *ok = fgets(buf, (int)len, f);
	fclose(f);
	if (!ok)
		return -1;
	size_t n = strlen(buf);
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		buf[--n] = '\0';
	return 0;
}

static int exists(const struct noise *ns, const char *rel)
{
	char path[4096];
	path_of(ns, rel, path, sizeof(path));
	return access(path, F_OK) == 0;
}

/* Record a file's first line under `key` as it is, or "unknown". */
static void put_raw(struct noise *ns, const char *key, const char *rel)
{
	char buf[256];
	put(ns->si, key, "%s",
	    read_line(ns, rel, buf, sizeof(buf)) == 0 && buf[0] ? buf : "unknown");
}

/* ---- CPU frequency governor ---------------------------------------------- */

#define MAX_GOVERNORS 8

static int cmp_str(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* Is `name` a "cpu<digits>" directory entry? */
static int is_cpu_dir(const char *name)
{
	if (strncmp(name, "cpu", 3) != 0 || !name[3])
		return 0;
	for (const char *p = name + 3; *p; p++)
		if (!isdigit((unsigned char)*p))
			return 0;
	return 1;
}

/*
 * Every CPU's scaling_governor: the distinct values go into noise_governor,
 * and any CPU not on "performance" (it picks its clock from the load, so the
 * first repetitions of a case run slower than the rest) is a warning.
 */
static void governor(struct noise *ns)
{
	char path[4096], rel[320], gov[MAX_GOVERNORS][64], buf[64];
	int n_gov = 0, n_cpus = 0, n_freq = 0, n_slow = 0, unreadable = 0;

	path_of(ns, "/sys/devices/system/cpu", path, sizeof(path));
	DIR *d = opendir(path);
	if (!d) {
		put(ns->si, "noise_governor", "unknown");
		return;
	}
	for (struct dirent *e; (e = readdir(d));) {
		if (!is_cpu_dir(e->d_name))
			continue;
		n_cpus++;
		snprintf(rel, sizeof(rel), "/sys/devices/system/cpu/%s/cpufreq", e->d_name);
		if (!exists(ns, rel))
			continue;
		n_freq++;
		snprintf(rel, sizeof(rel), "/sys/devices/system/cpu/%s/cpufreq/scaling_governor",
		         e->d_name);
		if (read_line(ns, rel, buf, sizeof(buf)) != 0 || !buf[0]) {
			unreadable = 1;
			continue;
		}
		if (strcmp(buf, "performance") != 0)
			n_slow++;
		int seen = 0;
		for (int i = 0; i < n_gov; i++)
			seen |= strcmp(gov[i], buf) == 0;
		if (!seen && n_gov < MAX_GOVERNORS)
			snprintf(gov[n_gov++], sizeof(gov[0]), "%s", buf);
	}
	closedir(d);

	if (n_freq == 0) {
		put(ns->si, "noise_governor", n_cpus > 0 ? "none" : "unknown");
		return;
	}
	if (n_gov == 0 || unreadable) {
		/* a partial list would claim more than we know */
		put(ns->si, "noise_governor", "unknown");
	} else {
		char list[MAX_GOVERNORS * 64] = "";
		qsort(gov, (size_t)n_gov, sizeof(gov[0]), cmp_str);
		for (int i = 0; i < n_gov; i++) {
			if (i)
				strcat(list, ",");
			strcat(list, gov[i]);
		}
		put(ns->si, "noise_governor", "%s", list);
	}
	if (n_slow > 0)
		warn(ns,
		     "warning: the CPU frequency governor is not \"performance\" on %d of %d CPUs, "
		     "so clocks and timings will vary; run `sudo cpupower frequency-set -g "
		     "performance` before measuring.",
		     n_slow, n_freq);
}

/* ---- turbo, SMT, ASLR, THP, perf ----------------------------------------- */

/*
 * intel_pstate says no_turbo = 1 when boost is off; acpi-cpufreq and
 * amd-pstate say boost = 1 when it is on. Turbo makes the clock depend on
 * temperature and on how many cores are busy: thread sweeps and long runs
 * drift. A note, not a warning: most machines run with it.
 */
static void turbo(struct noise *ns)
{
	char buf[64];
	const char *state = "unknown";

	if (read_line(ns, "/sys/devices/system/cpu/intel_pstate/no_turbo", buf, sizeof(buf)) == 0)
		state = strcmp(buf, "0") == 0 ? "on" : strcmp(buf, "1") == 0 ? "off" : "unknown";
	else if (read_line(ns, "/sys/devices/system/cpu/cpufreq/boost", buf, sizeof(buf)) == 0)
		state = strcmp(buf, "1") == 0 ? "on" : strcmp(buf, "0") == 0 ? "off" : "unknown";
	put(ns->si, "noise_turbo", "%s", state);
	if (strcmp(state, "on") == 0)
		warn(ns,
		     "note: turbo boost is on, so the clock depends on temperature and on how many "
		     "cores are busy; turn it off in /sys/devices/system/cpu for the steadiest "
		     "thread sweeps.");
}

/*
 * Address-space randomisation moves buffers from run to run, and with them
 * their cache-set and page alignment; only a note, since the harness aligns
 * its buffers to 64 bytes and the effect is a few percent at most.
 */
static void aslr(struct noise *ns)
{
	char buf[64];

	if (read_line(ns, "/proc/sys/kernel/randomize_va_space", buf, sizeof(buf)) != 0 ||
	    !buf[0]) {
		put(ns->si, "noise_aslr", "unknown");
		return;
	}
	put(ns->si, "noise_aslr", "%s", buf);
	if (strcmp(buf, "0") != 0)
		warn(ns,
		     "note: address-space randomisation is on (randomize_va_space=%s), so buffer "
		     "alignment varies a little between runs; compare medians over repeated "
		     "runs, or run under `setarch -R` to fix it.",
		     buf);
}

/* "always [madvise] never" -> "madvise". */
static void thp(struct noise *ns)
{
	char buf[256];

	if (read_line(ns, "/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof(buf)) == 0) {
		char *lb = strchr(buf, '['), *rb = lb ? strchr(lb, ']') : NULL;
		if (rb && rb > lb + 1) {
			*rb = '\0';
			put(ns->si, "noise_thp", "%s", lb + 1);
			return;
		}
	}
	put(ns->si, "noise_thp", "unknown");
}

/* ---- load ---------------------------------------------------------------- */

/* The cores to judge the load against: sysinfo's count, else the online CPUs. */
static int core_count(const struct noise *ns)
{
	if (ns->si->cores > 0)
		return ns->si->cores;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

/*
 * /proc/loadavg: "0.39 1.23 1.41 2/79 14101", the 1, 5 and 15 minute
 * averages, runnable/total scheduling entities, the last pid. The 1-minute
 * average is the one that describes the run about to start; over half a
 * load per core, other work will take CPUs from the measured threads.
 */
static void load(struct noise *ns)
{
	char buf[256];
	double l1, l5, l15;
	int running, total;

	if (read_line(ns, "/proc/loadavg", buf, sizeof(buf)) != 0 ||
	    sscanf(buf, "%lf %lf %lf %d/%d", &l1, &l5, &l15, &running, &total) != 5) {
		put(ns->si, "noise_loadavg", "unknown");
		put(ns->si, "noise_runnable", "unknown");
		return;
	}
	put(ns->si, "noise_loadavg", "%.2f %.2f %.2f", l1, l5, l15);
	put(ns->si, "noise_runnable", "%d", running);
	int cores = core_count(ns);
	if (l1 > 0.5 * cores)
		warn(ns,
		     "warning: the 1-minute load average is %.2f on %d cores (over 0.5 per core) "
		     "before the run, so other work will compete for the CPUs; wait for the "
		     "machine to go quiet or stop the other work.",
		     l1, cores);
}

/* ---- build --------------------------------------------------------------- */

/*
 * Debug builds (-O0) time the compiler's output, not the algorithm. An empty
 * CMAKE_BUILD_TYPE adds no -O flag at all, so it counts as Debug too.
 */
static void debug_build(struct noise *ns)
{
	const char *bt = attn_sysinfo_get(ns->si, "build_type");
	if (!bt)
		bt = ATTN_BUILD_TYPE;
	int debug = bt[0] == '\0' || strcasecmp(bt, "Debug") == 0;

	put(ns->si, "noise_debug_build", "%s", debug ? "yes" : "no");
	if (debug)
		warn(ns,
		     "warning: this attnbench was built %s%s, without optimisation, so its timings "
		     "are not representative; rebuild with -DCMAKE_BUILD_TYPE=Release.",
		     bt[0] ? "as " : "with no build type", bt);
}

/* ---- hypervisor ---------------------------------------------------------- */

/*
 * CPUID leaf 1 ECX bit 31 is set by every hypervisor; leaf 0x40000000
 * names it in 12 bytes. 1: a hypervisor, named in `name`; 0: none; -1: no
 * CPUID to ask (not x86).
 */
static int cpuid_hypervisor(char *name, size_t len)
{
#if defined(__x86_64__) || defined(__i386__)
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return -1;
	if (!(c & (1u << 31)))
		return 0;
	static const struct {
		const char *sig, *name;
	} known[] = {
	    {"KVMKVMKVM", "kvm"},      {"Microsoft Hv", "hyperv"}, {"VMwareVMware", "vmware"},
	    {"XenVMMXenVMM", "xen"},   {"TCGTCGTCGTCG", "qemu"},   {"ACRNACRNACRN", "acrn"},
	    {"bhyve bhyve ", "bhyve"}, {"QNXQVMBSQG", "qnx"},      {"VBoxVBoxVBox", "virtualbox"},
	};
	char sig[13] = "";
	__cpuid(0x40000000, a, b, c, d);
	memcpy(sig, &b, 4);
	memcpy(sig + 4, &c, 4);
	memcpy(sig + 8, &d, 4);
	sig[12] = '\0';
	snprintf(name, len, "yes");
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strncmp(sig, known[i].sig, strlen(known[i].sig)) == 0)
			snprintf(name, len, "%s", known[i].name);
	return 1;
#else
	(void)name;
	(void)len;
	return -1;
#endif
}

/* Does /proc/cpuinfo list the "hypervisor" flag? -1: unreadable. */
static int cpuinfo_hypervisor(const struct noise *ns)
{
	char path[4096], line[4096];
	int found = 0;

	path_of(ns, "/proc/cpuinfo", path, sizeof(path));
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (!found && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (strncmp(line, "flags", 5) != 0 || !colon)
			continue;
		for (char *tok = strtok(colon + 1, " \t\n"); tok; tok = strtok(NULL, " \t\n"))
			if (strcmp(tok, "hypervisor") == 0)
				found = 1;
	}
	fclose(f);
	return found;
}

/*
 * A guest shares its host: steal time, a neighbour's memory traffic and
 * vCPUs that are hyperthreads of one core all show up as noise, and
 * hardware counters may be missing. A note: often there is no other choice.
 */
static void hypervisor(struct noise *ns)
{
	char name[64] = "", buf[64];
	/* -1 until some source has answered */
	int vm = ns->root[0] ? -1 : cpuid_hypervisor(name, sizeof(name));

	if (vm != 1 && read_line(ns, "/sys/hypervisor/type", buf, sizeof(buf)) == 0 && buf[0]) {
		vm = 1;
		snprintf(name, sizeof(name), "%s", buf);
	}
	if (vm != 1) {
		int flag = cpuinfo_hypervisor(ns);
		if (flag > 0)
			snprintf(name, sizeof(name), "yes");
		if (flag >= 0 && vm < 1)
			vm = flag;
	}
	if (vm < 0) {
		put(ns->si, "noise_hypervisor", "unknown");
		return;
	}
	put(ns->si, "noise_hypervisor", "%s", vm ? name : "no");
	if (vm)
		warn(ns,
		     "note: running under a hypervisor (%s), so the host's other guests and steal "
		     "time can slow some repetitions; compare results from the same machine only.",
		     name);
}

/* ---- clock spread -------------------------------------------------------- */

/*
 * Each CPU's current clock: "cpu MHz" lines of /proc/cpuinfo (x86), else
 * cpufreq's scaling_cur_freq in kHz. A wide spread at rest is what a
 * powersave governor or a throttled package looks like.
 */
static void cpu_mhz(struct noise *ns)
{
	char path[4096], line[512];
	double lo = 0, hi = 0;
	int n = 0;

	path_of(ns, "/proc/cpuinfo", path, sizeof(path));
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':');
		double mhz;
		if (strncmp(line, "cpu MHz", 7) != 0 || !c || sscanf(c + 1, "%lf", &mhz) != 1)
			continue;
		lo = n == 0 || mhz < lo ? mhz : lo;
		hi = n == 0 || mhz > hi ? mhz : hi;
		n++;
	}
	if (f)
		fclose(f);

	if (n == 0) {
		path_of(ns, "/sys/devices/system/cpu", path, sizeof(path));
		DIR *d = opendir(path);
		for (struct dirent *e; d && (e = readdir(d));) {
			char rel[320], buf[64];
			if (!is_cpu_dir(e->d_name))
				continue;
			snprintf(rel, sizeof(rel),
			         "/sys/devices/system/cpu/%s/cpufreq/scaling_cur_freq", e->d_name);
			if (read_line(ns, rel, buf, sizeof(buf)) != 0)
				continue;
			double mhz = strtod(buf, NULL) / 1000.0;
			lo = n == 0 || mhz < lo ? mhz : lo;
			hi = n == 0 || mhz > hi ? mhz : hi;
			n++;
		}
		if (d)
			closedir(d);
	}
	if (n == 0) {
		put(ns->si, "noise_cpu_mhz_min", "unknown");
		put(ns->si, "noise_cpu_mhz_max", "unknown");
		return;
	}
	put(ns->si, "noise_cpu_mhz_min", "%.0f", lo);
	put(ns->si, "noise_cpu_mhz_max", "%.0f", hi);
}

/* ---- entry points -------------------------------------------------------- */

int attn__noise_collect_root(struct attn_sysinfo *si, const char *root,
                             char warnings[][ATTN_NOISE_WARNING_LEN], int max_warnings,
                             int *n_warnings)
{
	if (n_warnings)
		*n_warnings = 0;
	if (!si || !n_warnings || max_warnings < 0 || (max_warnings > 0 && !warnings))
		return ATTN_ERR_INVALID;

	struct noise ns = {si, root ? root : "", warnings, max_warnings, 0};
	/* "/" would give "//proc/..." : harmless, but say it the usual way */
	if (strcmp(ns.root, "/") == 0)
		ns.root = "";

	governor(&ns);
	turbo(&ns);
	put_raw(&ns, "noise_smt_active", "/sys/devices/system/cpu/smt/active");
	put_raw(&ns, "noise_smt_control", "/sys/devices/system/cpu/smt/control");
	aslr(&ns);
	thp(&ns);
	put_raw(&ns, "noise_perf_event_paranoid", "/proc/sys/kernel/perf_event_paranoid");
	load(&ns);
	debug_build(&ns);
	hypervisor(&ns);
	cpu_mhz(&ns);

	*n_warnings = ns.n_warnings;
	return ATTN_OK;
}

int attn_noise_collect(struct attn_sysinfo *si, char warnings[][ATTN_NOISE_WARNING_LEN],
                       int max_warnings, int *n_warnings)
{
	return attn__noise_collect_root(si, NULL, warnings, max_warnings, n_warnings);
}
