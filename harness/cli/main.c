/*
 * attnbench: the command line. Dispatches to one function per verb (the
 * helpers they share are in cli.c) and holds the two verbs that only read
 * the registry and the machine (list, info).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attnbench/counters.h"
#include "attnbench/spec.h"
#include "attnbench/sysinfo.h"
#include "build_info.h"
#include "cli.h"
#include "noise.h"

static const char *usage_text =
    "usage: attnbench VERB [options]   (attnbench VERB --help for a verb's options)\n"
    "\n"
    "Benchmarks and reproduces efficient attention mechanisms of LLMs.\n"
    "\n"
    "verbs:\n"
    "  list     the registered methods: family, exactness, complexity, parameters\n"
    "  info     this machine: CPU, topology, caches, OpenBLAS, library versions\n"
    "  run      one case, from .npy inputs or a generated workload\n"
    "  sweep    a grid of cases into a SQLite database, with progress and ETA\n"
    "  check    every method against its float64 oracle over a grid of shapes\n"
    "  export   a database's results as CSV or JSON\n"
    "  fit      time exponents, cost terms and crossovers against flash, per method\n"
    "  plot     charts from a database with gnuplot: time, memory, roofline, error\n"
    "  figures  the survey's figures, measured: sweeps, fits, charts, index.html\n"
    "  compare  baseline vs current database: the CI regression gate (exit 1 on a\n"
    "           significant slowdown)\n"
    "  merge    databases of a sharded sweep's tasks or of several machines into one\n"
    "\n"
    "exit codes: 0 ok; 1 a case crashed, timed out or failed its check; 2 bad\n"
    "usage, spec, method, file or plugin; 3 database locked, corrupt or foreign;\n"
    "4 (merge) a sharded sweep lacks shards or cases; 130 interrupted (finished\n"
    "cases are kept; `sweep --resume` continues).\n"
    "\n"
    "environment: ATTNBENCH_PLUGIN_PATH  ':'-separated plugin .so files or folders\n"
    "             ATTNBENCH_DATA_DIR     the folder holding workloads/ (presets)\n";

/* ---- list ---------------------------------------------------------------- */

static void print_param(const struct attn_param_spec *p)
{
	if (p->type == ATTN_PARAM_ENUM) {
		char def[64];
		attn_param_choice_name(p, (int)p->def, def, sizeof(def));
		printf("      %-10s %s (default %s)  %s\n", p->name, p->choices, def,
		       p->help ? p->help : "");
	} else {
		printf("      %-10s %s in [%g, %g] (default %g)  %s\n", p->name,
		       p->type == ATTN_PARAM_INT ? "int" : "real", p->min, p->max, p->def,
		       p->help ? p->help : "");
	}
}

int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, 0, 'h'},
	                                     {"plugin", required_argument, 0, 'p'},
	                                     {"verbose", no_argument, 0, 'v'},
	                                     {0, 0, 0, 0}};
	char *plugins[64];
	int np = 0, verbose = 0, c;
	while ((c = getopt_long(argc, argv, "hp:v", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("usage: attnbench list [--verbose] [--plugin FILE.so]...\n\n"
			       "The registered methods: name, family, category, exact or "
			       "approximate,\n"
			       "theoretical time and memory exponents in N, and where each comes "
			       "from.\n"
			       "--verbose adds summaries, citations and parameters with their "
			       "ranges.\n");
			return EXIT_OK;
		case 'p':
			if (np < 64)
				plugins[np++] = optarg;
			break;
		case 'v': verbose = 1; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_error("list", "unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	struct attn_registry *reg = cli_registry("list", plugins, np);
	if (!reg)
		return EXIT_USAGE;
	printf("%-16s %-7s %-21s %-7s %-8s %-8s %s\n", "method", "family", "category", "exact",
	       "time", "memory", "origin");
	for (int i = 0; i < attn_registry_count(reg); i++) {
		const struct attn_method *m = attn_registry_at(reg, i);
		char t[16], mm[16];
		snprintf(t, sizeof(t), "N^%g", m->time_exp);
		snprintf(mm, sizeof(mm), "N^%g", m->mem_exp);
		printf("%-16s %-7s %-21s %-7s %-8s %-8s %s%s\n", m->name,
		       attn_family_name(m->family), m->category ? m->category : "-",
		       (m->flags & ATTN_METHOD_EXACT) ? "exact" : "approx", t, mm,
		       attn_registry_origin(reg, i),
		       (m->flags & ATTN_METHOD_ORACLE_ONLY) ? " (oracle; not in `all`)" : "");
		if (verbose) {
			printf("      %s\n      %s\n", m->summary ? m->summary : "",
			       m->citation ? m->citation : "");
			for (int k = 0; k < m->n_params; k++)
				print_param(&m->params[k]);
		}
	}
	attn_registry_free(reg);
	return EXIT_OK;
}

/* ---- info ---------------------------------------------------------------- */

int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			printf("usage: attnbench info\n\n"
			       "This machine and build as a run records them: CPU, topology and\n"
			       "caches (hwloc), memory, OpenBLAS configuration, library versions,\n"
			       "what affects timing (governor, turbo, SMT, THP, ASLR, load), and\n"
			       "which counters (PAPI events, perf software events) work here.\n");
			return EXIT_OK;
		}
		return EXIT_USAGE;
	}
	if (optind < argc) {
		cli_error("info", "unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	struct attn_sysinfo si;
	char warnings[16][256];
	int n_warn = 0;
	attn_sysinfo_collect(&si);
	attn_noise_collect(&si, warnings, 16, &n_warn);
	for (int i = 0; i < si.n; i++)
		printf("%-22s %s\n", si.kv[i].key, si.kv[i].value);
	char b[32];
	printf("%-22s %s\n", "mem_available",
	       cli_fmt_bytes((double)attn_mem_available(), b, sizeof(b)));
	for (int i = 0; i < n_warn; i++)
		printf("%s\n", warnings[i]);

	/* What this machine can count: the default set and a few more. */
	struct attn_counters *ctr;
	char err[512];
	if (attn_counters_open(ATTN_COUNTERS_DEFAULT ",perf::CPU-CLOCK,perf::MAJOR-FAULTS,"
	                                             "PAPI_FP_OPS",
	                       &ctr, err, sizeof(err)) != ATTN_OK) {
		printf("%-22s unavailable (%s)\n", "counters", err);
		return EXIT_OK;
	}
	printf("counters (start+stop overhead %.0f ns):\n", attn_counters_overhead_ns(ctr, 101));
	for (int i = 0; i < attn_counters_count(ctr); i++) {
		const char *why = NULL, *src = NULL;
		int ok = attn_counters_available(ctr, i, &why, &src);
		if (ok)
			printf("  %-24s available (%s)\n", attn_counters_name(ctr, i), src);
		else
			printf("  %-24s unavailable: %s\n", attn_counters_name(ctr, i),
			       why ? why : "?");
	}
	attn_counters_close(ctr);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	attn_openblas_core_fixup(argv);
	if (argc < 2) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	const char *verb = argv[1];
	if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0 || strcmp(verb, "help") == 0) {
		fputs(usage_text, stdout);
		return EXIT_OK;
	}
	if (strcmp(verb, "--version") == 0) {
		printf("attnbench %s (%s, %s)\n", ATTN_VERSION, ATTN_GIT_COMMIT, ATTN_BUILD_TYPE);
		return EXIT_OK;
	}
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} verbs[] = {{"list", cmd_list},       {"info", cmd_info},   {"run", cmd_run},
	             {"sweep", cmd_sweep},     {"check", cmd_check}, {"export", cmd_export},
	             {"fit", cmd_fit},         {"plot", cmd_plot},   {"figures", cmd_figures},
	             {"compare", cmd_compare}, {"merge", cmd_merge}};
	for (size_t i = 0; i < sizeof(verbs) / sizeof(*verbs); i++)
		if (strcmp(verb, verbs[i].name) == 0)
			return verbs[i].fn(argc - 1, argv + 1);
	fprintf(stderr,
	        "attnbench: unknown verb '%s'; one of list, info, run, sweep, check, export, fit, "
	        "plot, figures, compare, merge\n",
	        verb);
	return EXIT_USAGE;
}
