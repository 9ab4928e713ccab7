/*
 * The perf_event counter backend: the kernel's perf_event_open(2), called
 * directly, for the software events PAPI cannot count on a machine without
 * a hardware PMU (its perf_event component disables itself there, and with
 * it every perf:: name), and as the fallback for the two PAPI presets whose
 * meaning the kernel's generic hardware events match exactly.
 *
 * Every event is opened on its own (no PERF_FORMAT_GROUP: the kernel refuses
 * it together with inherit), enabled from the start, and read as a running
 * total with the times it was enabled and running, so the caller takes
 * deltas and sees multiplexing. inherit = 1 makes the kernel copy the event
 * into every thread (and process) created afterwards and sum them on read:
 * OpenMP workers are counted when, and only when, they are created after the
 * open - so the runner opens before the method's first parallel region.
 *
 * Counting domain. Software events count kernel activity as well
 * (exclude_kernel = 0): a context switch or a migration is noticed inside
 * the scheduler, so in user mode only it would silently read 0. The kernel
 * allows that to root or CAP_PERFMON, or when kernel.perf_event_paranoid is
 * below 2. Without the permission, the clocks and page-fault counts are
 * retried in user mode only, where they keep their meaning (a clock is a
 * clock; only the rare faults the kernel itself takes on user pages, as in
 * read(2) into a fresh buffer, go uncounted), and the scheduler events are
 * unavailable with the reason. Hardware events count user mode only
 * (exclude_kernel = exclude_hv = 1), PAPI's default domain, so a number
 * means the same whichever backend produced it.
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "attnbench/status.h"
#include "counters_backend.h"

enum perf_kind {
	PERF_KIND_USER_OK, /* software; means the same when counted in user mode only */
	PERF_KIND_KERNEL,  /* software, noticed in kernel context: user mode alone reads 0 */
	PERF_KIND_HW       /* a PMU event, counted in user mode (PAPI's default domain) */
};

/*
 * The events this backend knows, under every name it accepts (case does not
 * matter). To add one, add a row: its libpfm4-style perf:: name, the
 * PERF_COUNT_* spelling, and a PAPI preset only when the kernel's generic
 * event means exactly that preset on every CPU; then its type, config and
 * kind. (The kernel's cache-misses is the last level on Intel but L2 on
 * some AMD parts, so it is perf::CACHE-MISSES and never PAPI_L3_TCM.)
 */
static const struct perf_name {
	const char *names[3];
	uint32_t type;
	uint64_t config;
	enum perf_kind kind;
} perf_names[] = {
    {{"perf::TASK-CLOCK", "perf::PERF_COUNT_SW_TASK_CLOCK", NULL},
     PERF_TYPE_SOFTWARE,
     PERF_COUNT_SW_TASK_CLOCK,
     PERF_KIND_USER_OK},
    {{"perf::CPU-CLOCK", "perf::PERF_COUNT_SW_CPU_CLOCK", NULL},
     PERF_TYPE_SOFTWARE,
     PERF_COUNT_SW_CPU_CLOCK,
     PERF_KIND_USER_OK},
    {{"perf::PAGE-FAULTS", "perf::PERF_COUNT_SW_PAGE_FAULTS", "perf::FAULTS"},
     PERF_TYPE_SOFTWARE,
     PERF_COUNT_SW_PAGE_FAULTS,
     PERF_KIND_USER_OK},
    {{"perf::MINOR-FAULTS", "perf::PERF_COUNT_SW_PAGE_FAULTS_MIN", NULL},
     PERF_TYPE_SOFTWARE,
     PERF_COUNT_SW_PAGE_FAULTS_MIN,
     PERF_KIND_USER_OK},
    {{"perf::MAJOR-FAULTS", "perf::PERF_COUNT_SW_PAGE_FAULTS_MAJ", NULL},
     PERF_TYPE_SOFTWARE,
     PERF_COUNT_SW_PAGE_FAULTS_MAJ,
     PERF_KIND_USER_OK},
    {{"perf::CONTEXT-SWITCHES", "perf::PERF_COUNT_SW_CONTEXT_SWITCHES", "perf::CS"},
     PERF_TYPE_SOFTWARE,
     PERF_COUNT_SW_CONTEXT_SWITCHES,
     PERF_KIND_KERNEL},
    {{"perf::CPU-MIGRATIONS", "perf::PERF_COUNT_SW_CPU_MIGRATIONS", "perf::MIGRATIONS"},
     PERF_TYPE_SOFTWARE,
     PERF_COUNT_SW_CPU_MIGRATIONS,
     PERF_KIND_KERNEL},
    {{"PAPI_TOT_INS", "perf::INSTRUCTIONS", "perf::PERF_COUNT_HW_INSTRUCTIONS"},
     PERF_TYPE_HARDWARE,
     PERF_COUNT_HW_INSTRUCTIONS,
     PERF_KIND_HW},
    {{"PAPI_TOT_CYC", "perf::CPU-CYCLES", "perf::PERF_COUNT_HW_CPU_CYCLES"},
     PERF_TYPE_HARDWARE,
     PERF_COUNT_HW_CPU_CYCLES,
     PERF_KIND_HW},
    {{"perf::CYCLES", NULL, NULL}, PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES, PERF_KIND_HW},
    {{"perf::CACHE-REFERENCES", "perf::PERF_COUNT_HW_CACHE_REFERENCES", NULL},
     PERF_TYPE_HARDWARE,
     PERF_COUNT_HW_CACHE_REFERENCES,
     PERF_KIND_HW},
    {{"perf::CACHE-MISSES", "perf::PERF_COUNT_HW_CACHE_MISSES", NULL},
     PERF_TYPE_HARDWARE,
     PERF_COUNT_HW_CACHE_MISSES,
     PERF_KIND_HW},
    {{"perf::BRANCH-INSTRUCTIONS", "perf::PERF_COUNT_HW_BRANCH_INSTRUCTIONS", NULL},
     PERF_TYPE_HARDWARE,
     PERF_COUNT_HW_BRANCH_INSTRUCTIONS,
     PERF_KIND_HW},
    {{"perf::BRANCH-MISSES", "perf::PERF_COUNT_HW_BRANCH_MISSES", NULL},
     PERF_TYPE_HARDWARE,
     PERF_COUNT_HW_BRANCH_MISSES,
     PERF_KIND_HW},
};

/* One fd per handle; a counters object opens at most ATTN_MAX_COUNTERS events. */
struct perf_state {
	int n;
	int fd[ATTN_MAX_COUNTERS];
};

static const struct perf_name *perf_lookup(const char *event)
{
	for (size_t i = 0; i < sizeof(perf_names) / sizeof(*perf_names); i++)
		for (int k = 0; k < 3; k++)
			if (perf_names[i].names[k] &&
			    strcasecmp(perf_names[i].names[k], event) == 0)
				return &perf_names[i];
	return NULL;
}

int attn__counters_perf_is_software(const char *event)
{
	const struct perf_name *p = perf_lookup(event);
	return p && p->kind != PERF_KIND_HW;
}

static int perf_event_open_self(uint32_t type, uint64_t config, int user_only)
{
	struct perf_event_attr a;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = type;
	a.config = config;
	a.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
	a.inherit = 1;
	a.exclude_kernel = (unsigned)user_only;
	a.exclude_hv = (unsigned)user_only;
	/* pid 0, cpu -1: this process and its future threads, on any CPU. */
	return (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

static int paranoid_level(void)
{
	int level = -99;
	FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
	if (f) {
		if (fscanf(f, "%d", &level) != 1)
			level = -99;
		fclose(f);
	}
	return level;
}

/* The errno of a failed open as a reason, with the likely cause where it is known. */
static int perf_refuse(int e, enum perf_kind kind, char *why, size_t whylen)
{
	if (e == EACCES || e == EPERM) {
		int level = paranoid_level();
		if (level != -99)
			return attn_errf(why, whylen, ATTN_ERR_UNSUPPORTED,
			                 "%s (kernel.perf_event_paranoid is %d: kernel-side "
			                 "counts need root or CAP_PERFMON)",
			                 strerror(e), level);
	}
	if (kind == PERF_KIND_HW && (e == ENOENT || e == EOPNOTSUPP || e == ENODEV))
		return attn_errf(why, whylen, ATTN_ERR_UNSUPPORTED,
		                 "%s (no hardware PMU event for it here, as in a VM without a "
		                 "virtual PMU)",
		                 strerror(e));
	return attn_errf(why, whylen, ATTN_ERR_UNSUPPORTED, "%s", strerror(e));
}

static int perf_open(void *state, const char *event, char *why, size_t whylen)
{
	struct perf_state *s = state;
	const struct perf_name *p = perf_lookup(event);

	if (!p) {
		if (strncmp(event, "PAPI_", 5) == 0)
			return attn_errf(why, whylen, ATTN_ERR_UNSUPPORTED,
			                 "no kernel generic event means exactly this preset");
		return attn_errf(why, whylen, ATTN_ERR_UNSUPPORTED,
		                 "not a software or generic hardware event it knows");
	}
	if (s->n >= ATTN_MAX_COUNTERS)
		return attn_errf(why, whylen, ATTN_ERR_INVALID, "more than %d events",
		                 ATTN_MAX_COUNTERS);

	int fd = perf_event_open_self(p->type, p->config, p->kind == PERF_KIND_HW);
	if (fd < 0 && (errno == EACCES || errno == EPERM) && p->kind == PERF_KIND_USER_OK)
		fd = perf_event_open_self(p->type, p->config, 1);
	if (fd < 0)
		return perf_refuse(errno, p->kind, why, whylen);
	s->fd[s->n] = fd;
	return s->n++;
}

static int perf_read(void *state, int handle, uint64_t *count, uint64_t *enabled, uint64_t *running)
{
	struct perf_state *s = state;
	uint64_t v[3]; /* PERF_FORMAT_TOTAL_TIME_ENABLED | _RUNNING: value, enabled, running */
	ssize_t got;

	if (handle < 0 || handle >= s->n)
		return ATTN_ERR_INVALID;
	do {
		got = read(s->fd[handle], v, sizeof(v));
	} while (got < 0 && errno == EINTR);
	if (got != (ssize_t)sizeof(v))
		return ATTN_ERR_IO;
	*count = v[0];
	*enabled = v[1];
	*running = v[2];
	return ATTN_OK;
}

static void perf_close(void *state)
{
	struct perf_state *s = state;

	if (!s)
		return;
	for (int i = 0; i < s->n; i++)
		close(s->fd[i]);
	free(s);
}

int attn__counters_perf_backend(struct attn_counter_backend *b, char *err, size_t errlen)
{
	struct perf_state *s = calloc(1, sizeof(*s));

	if (!s)
		return attn_errf(err, errlen, ATTN_ERR_NOMEM, "counters: out of memory");
	b->name = "perf_event";
	b->open = perf_open;
	b->read = perf_read;
	b->close = perf_close;
	b->state = s;
	return ATTN_OK;
}
