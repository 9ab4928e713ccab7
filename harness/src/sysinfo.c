/*
 * Provenance of a run. Topology and caches come from hwloc, the BLAS's own
 * view of itself from OpenBLAS, versions from each library at run time (not
 * the headers we compiled against, which may differ), the rest from the
 * kernel. Nothing here fails a run: what cannot be read says "unknown".
 */
#include <cblas.h>
#include <hwloc.h>
#include <omp.h>
#ifdef ATTN_HAVE_PAPI
#include <papi.h>
#endif
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "attnbench/sysinfo.h"
#include "build_info.h"
#include "internal.h"

#define put attn_sysinfo_put

void attn_sysinfo_put(struct attn_sysinfo *si, const char *key, const char *fmt, ...)
{
	if (si->n >= ATTN_SYSINFO_MAX)
		return;
	size_t room = sizeof(si->text) - si->used;
	size_t klen = strlen(key) + 1;
	if (room < klen + 2)
		return;
	char *k = si->text + si->used;
	memcpy(k, key, klen);
	char *v = k + klen;
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(v, room - klen, fmt, ap);
	va_end(ap);
	if (w < 0)
		return;
	if ((size_t)w >= room - klen)
		w = (int)(room - klen - 1);
	si->used += klen + (size_t)w + 1;
	si->kv[si->n].key = k;
	si->kv[si->n].value = v;
	si->n++;
}

const char *attn_sysinfo_get(const struct attn_sysinfo *si, const char *key)
{
	for (int i = 0; i < si->n; i++)
		if (strcmp(si->kv[i].key, key) == 0)
			return si->kv[i].value;
	return NULL;
}

size_t attn__proc_kb_field(const char *path, const char *field)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char line[256];
	size_t kb = 0, len = strlen(field);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, len) == 0 && line[len] == ':') {
			kb = strtoull(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kb * 1024;
}

static size_t meminfo(const char *field)
{
	return attn__proc_kb_field("/proc/meminfo", field);
}

/*
 * OpenBLAS picks its kernels once, when it loads, from the CPU model. Builds
 * older than the CPU (Debian 12's 0.3.21 on Sapphire/Emerald Rapids) do not
 * know the model and fall back to the generic Prescott kernels: an sgemm
 * about 9x below what the same library reaches with its AVX-512 kernels.
 * Every BLAS-backed figure and the sgemm roof would then describe a
 * misconfiguration, not the machine. So when OpenBLAS fell back although
 * the CPU has AVX-512 (or AVX2 and FMA), name the matching kernel set in
 * OPENBLAS_CORETYPE and start again; the run records what OpenBLAS had
 * detected. A user's own OPENBLAS_CORETYPE is always respected.
 */
void attn_openblas_core_fixup(char **argv)
{
	if (getenv("OPENBLAS_CORETYPE") || getenv("ATTNBENCH_OPENBLAS_DETECTED"))
		return;
	const char *core = openblas_get_corename();
	if (!core || (strcmp(core, "Prescott") != 0 && strcmp(core, "Core2") != 0 &&
	              strcmp(core, "Nehalem") != 0))
		return;
	const char *want = NULL;
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vl"))
		want = "SkylakeX";
	else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		want = "Haswell";
	if (!want)
		return;
	setenv("OPENBLAS_CORETYPE", want, 1);
	setenv("ATTNBENCH_OPENBLAS_DETECTED", core, 1);
	execv("/proc/self/exe", argv);
	/* If the exec fails we go on with what OpenBLAS chose. */
	unsetenv("OPENBLAS_CORETYPE");
}

size_t attn_mem_available(void)
{
	return meminfo("MemAvailable");
}

static void put_cpu_model(struct attn_sysinfo *si, hwloc_topology_t topo)
{
	hwloc_obj_t pkg = topo ? hwloc_get_obj_by_type(topo, HWLOC_OBJ_PACKAGE, 0) : NULL;
	const char *model = pkg ? hwloc_obj_get_info_by_name(pkg, "CPUModel") : NULL;
	if (model) {
		put(si, "cpu_model", "%s", model);
		return;
	}
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "model name", 10) == 0) {
			char *c = strchr(line, ':');
			if (c) {
				c[strcspn(c, "\n")] = 0;
				put(si, "cpu_model", "%s", c + 2);
				fclose(f);
				return;
			}
		}
	if (f)
		fclose(f);
	put(si, "cpu_model", "unknown");
}

static size_t cache_size(hwloc_topology_t topo, hwloc_obj_type_t type)
{
	hwloc_obj_t o = hwloc_get_obj_by_type(topo, type, 0);
	return o && o->attr ? (size_t)o->attr->cache.size : 0;
}

int attn_sysinfo_collect(struct attn_sysinfo *si)
{
	memset(si, 0, sizeof(*si));
	put(si, "attnbench_version", "%s", ATTN_VERSION);
	put(si, "git_commit", "%s", ATTN_GIT_COMMIT);
	put(si, "build_type", "%s", ATTN_BUILD_TYPE);
	put(si, "compiler", "%s", ATTN_COMPILER);
	put(si, "cflags", "%s", ATTN_CFLAGS);

	char host[256] = "unknown";
	gethostname(host, sizeof(host) - 1);
	put(si, "hostname", "%s", host);
	struct utsname u;
	if (uname(&u) == 0)
		put(si, "os", "%s %s %s", u.sysname, u.release, u.machine);

	hwloc_topology_t topo = NULL;
	if (hwloc_topology_init(&topo) == 0 && hwloc_topology_load(topo) != 0) {
		hwloc_topology_destroy(topo);
		topo = NULL;
	}
	put_cpu_model(si, topo);
	if (topo) {
		si->cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
		si->pus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
		si->l1d_bytes = cache_size(topo, HWLOC_OBJ_L1CACHE);
		si->l2_bytes = cache_size(topo, HWLOC_OBJ_L2CACHE);
		si->l3_bytes = cache_size(topo, HWLOC_OBJ_L3CACHE);
		put(si, "packages", "%d", hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE));
		put(si, "cores", "%d", si->cores);
		put(si, "pus", "%d", si->pus);
		put(si, "numa_nodes", "%d", hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE));
		put(si, "l1d_bytes", "%zu", si->l1d_bytes);
		put(si, "l2_bytes", "%zu", si->l2_bytes);
		put(si, "l3_bytes", "%zu", si->l3_bytes);
		hwloc_topology_destroy(topo);
	} else {
		si->cores = si->pus = (int)sysconf(_SC_NPROCESSORS_ONLN);
		put(si, "cores", "unknown");
	}
	unsigned hv = hwloc_get_api_version();
	put(si, "hwloc_version", "%u.%u.%u", hv >> 16, (hv >> 8) & 0xff, hv & 0xff);
	put(si, "mem_total_bytes", "%zu", meminfo("MemTotal"));

	put(si, "openblas_config", "%s", openblas_get_config());
	put(si, "openblas_core", "%s", openblas_get_corename());
	put(si, "openblas_threads", "%d", openblas_get_num_threads());
	put(si, "openmp_max_threads", "%d", omp_get_max_threads());
	put(si, "sqlite_version", "%s", sqlite3_libversion());
#ifdef ATTN_HAVE_PAPI
	put(si, "papi_version", "%d.%d.%d", PAPI_VERSION_MAJOR(PAPI_VERSION),
	    PAPI_VERSION_MINOR(PAPI_VERSION), PAPI_VERSION_REVISION(PAPI_VERSION));
#else
	put(si, "papi_version", "missing (built with -DATTNBENCH_PAPI=OFF)");
#endif
	const char *ct = getenv("OPENBLAS_CORETYPE");
	const char *det = getenv("ATTNBENCH_OPENBLAS_DETECTED");
	put(si, "env_openblas_coretype", "%s", ct ? ct : "");
	if (det)
		put(si, "openblas_detected_core", "%s (replaced by OPENBLAS_CORETYPE=%s)", det,
		    ct ? ct : "?");
	return 0;
}
