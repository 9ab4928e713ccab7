/*
 * The real counter backends behind attn_counters_open() (counters.c): the
 * kernel's perf_event_open (counters_perf.c) and PAPI (counters_papi.c, a
 * stub that refuses every event when built with -DATTNBENCH_PAPI=OFF).
 *
 * Each *_backend() fills in a struct attn_counter_backend with a freshly
 * allocated state; the backend's close() closes every handle it opened and
 * frees that state, so one call of close() per init is the whole lifetime.
 */
#ifndef ATTNBENCH_COUNTERS_BACKEND_H
#define ATTNBENCH_COUNTERS_BACKEND_H

#include <stddef.h>

#include "attnbench/counters.h"

/* The longest event name a list may hold (the buffers keep one more byte). */
#define ATTN__COUNTER_NAME_MAX 127

int attn__counters_perf_backend(struct attn_counter_backend *b, char *err, size_t errlen);
int attn__counters_papi_backend(struct attn_counter_backend *b, char *err, size_t errlen);

/*
 * 1 if perf_event counts `event` as one of the kernel's software events
 * (perf::TASK-CLOCK, perf::CONTEXT-SWITCHES, ...), which PAPI leaves to it.
 */
int attn__counters_perf_is_software(const char *event);

#endif /* ATTNBENCH_COUNTERS_BACKEND_H */
