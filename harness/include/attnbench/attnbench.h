/*
 * libattnbench's public API in one include, for front ends (the CLI is one):
 *   method.h    the plugin ABI (a plugin needs nothing else)
 *   registry.h  the methods: built-in, plugins, ABI v1 adapted
 *   instance.h  one method on one shape: plan, guard, prepare, call, check
 *   spec.h, sweep.h, driver.h
 *               a sweep: its grammar, its cases, attn_sweep_run
 *   runner.h    one case in an isolated child, timed and counted
 *   store.h     the SQLite results file (writes, migration)
 *   query.h     every read of it
 *   gate.h      the regression gate (compare.h: its statistical tests)
 *   fit.h       exponents and crossovers
 *   report.h    charts, the figure set and its page
 * and what those hand around (status.h, workload.h, calib.h, counters.h,
 * forms.h, bind.h, stats.h, sysinfo.h). Installed with `cmake --install`;
 * found with `pkg-config attnbench`.
 */
#ifndef ATTNBENCH_ATTNBENCH_H
#define ATTNBENCH_ATTNBENCH_H

#include "attnbench/bind.h"
#include "attnbench/calib.h"
#include "attnbench/compare.h"
#include "attnbench/counters.h"
#include "attnbench/driver.h"
#include "attnbench/fit.h"
#include "attnbench/forms.h"
#include "attnbench/gate.h"
#include "attnbench/instance.h"
#include "attnbench/method.h"
#include "attnbench/query.h"
#include "attnbench/registry.h"
#include "attnbench/report.h"
#include "attnbench/runner.h"
#include "attnbench/spec.h"
#include "attnbench/stats.h"
#include "attnbench/status.h"
#include "attnbench/store.h"
#include "attnbench/sweep.h"
#include "attnbench/sysinfo.h"
#include "attnbench/workload.h"

#endif /* ATTNBENCH_ATTNBENCH_H */
