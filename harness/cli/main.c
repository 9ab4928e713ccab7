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
#include "attnbench/forms.h"
#include "attnbench/instance.h"
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
    "  list     the registered methods: family, exactness, complexity, support\n"
    "           (causal, full-mask, decode, GQA, forms), parameters\n"
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

/*
 * The support matrix: what supports() says of small probe shapes (B 1, H 4,
 * N 4096, d 64): prefill causal, prefill full-mask, decode (causal: the one
 * query sees every key), and grouped-query attention (KVH 2 of H 4) in any
 * of the three. Asked per form for a method with a form parameter, with the
 * other parameters at their defaults.
 */
enum { SUP_CAUSAL, SUP_FULL, SUP_DECODE, SUP_GQA, N_SUP };
static const char *const sup_key[N_SUP] = {"causal", "full", "decode", "gqa"};

struct support {
	int ok[N_SUP];
	char why[N_SUP][160]; /* supports()'s reason where not ok */
};

static void probe_support(const struct attn_method *m, const struct attn_params *p,
                          struct support *r)
{
	const struct attn_shape base = {.batch = 1, .heads = 4, .kv_heads = 4, .n = 4096, .d = 64};
	struct attn_shape s[3] = {base, base, base};
	s[SUP_CAUSAL].causal = 1;
	s[SUP_FULL].causal = 0;
	s[SUP_DECODE].causal = 1;
	s[SUP_DECODE].mode = ATTN_MODE_DECODE;
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < 3; i++)
		r->ok[i] = attn_call_supports(m, &s[i], p, r->why[i], sizeof(r->why[i])) == ATTN_OK;
	for (int i = 0; i < 3 && !r->ok[SUP_GQA]; i++) {
		struct attn_shape g = s[i];
		g.kv_heads = 2;
		r->ok[SUP_GQA] = attn_call_supports(m, &g, p, r->why[SUP_GQA],
		                                    sizeof(r->why[SUP_GQA])) == ATTN_OK;
	}
	for (int i = 0; i < N_SUP; i++)
		if (r->ok[i] || !r->why[i][0])
			snprintf(r->why[i], sizeof(r->why[i]), "%s", r->ok[i] ? "" : "declined");
}

/* A method's forms: 0 without a form parameter, else their count (at most max). */
static int method_forms(const struct attn_method *m, int *fi, int max)
{
	*fi = attn_method_form_param(m);
	if (*fi < 0)
		return 0;
	int n = 1;
	for (const char *c = m->params[*fi].choices; c && *c; c++)
		n += *c == '|';
	return n < max ? n : max;
}

/* Per form (or once, at the defaults, without forms): sup[0..n). Returns n >= 1. */
static int method_support(const struct attn_method *m, struct support *sup, int max, int *fi,
                          int *n_forms)
{
	struct attn_params p;
	attn_params_default(m, &p);
	*n_forms = method_forms(m, fi, max);
	if (*n_forms == 0) {
		probe_support(m, &p, &sup[0]);
		return 1;
	}
	for (int f = 0; f < *n_forms; f++) {
		p.v[*fi] = f;
		probe_support(m, &p, &sup[f]);
	}
	return *n_forms;
}

/* "yes" (every form), "no" (none) or "some" (some forms), for key k. */
static const char *support_word(const struct support *sup, int n, int k)
{
	int yes = 0;
	for (int f = 0; f < n; f++)
		yes += sup[f].ok[k];
	return yes == n ? "yes" : yes == 0 ? "no" : "some";
}

static void json_param(FILE *f, const struct attn_param_spec *p)
{
	fputs("{\"name\": ", f);
	cli_json_str(f, p->name);
	fprintf(f, ", \"type\": \"%s\"",
	        p->type == ATTN_PARAM_ENUM  ? "enum"
	        : p->type == ATTN_PARAM_INT ? "int"
	                                    : "real");
	if (p->type == ATTN_PARAM_ENUM) {
		char def[64];
		attn_param_choice_name(p, (int)p->def, def, sizeof(def));
		fputs(", \"choices\": ", f);
		cli_json_str(f, p->choices);
		fputs(", \"default\": ", f);
		cli_json_str(f, def);
	} else {
		cli_json_real(f, "default", p->def);
		cli_json_real(f, "min", p->min);
		cli_json_real(f, "max", p->max);
	}
	fputs(", \"help\": ", f);
	cli_json_str(f, p->help);
	fputc('}', f);
}

/* {"causal": true, ...} and, where not, {"decode": "why"}. */
static void json_support(FILE *f, const struct support *s)
{
	fputs("\"support\": {", f);
	for (int k = 0; k < N_SUP; k++)
		fprintf(f, "%s\"%s\": %s", k ? ", " : "", sup_key[k], s->ok[k] ? "true" : "false");
	fputs("}, \"unsupported\": {", f);
	for (int k = 0, n = 0; k < N_SUP; k++) {
		if (s->ok[k])
			continue;
		fprintf(f, "%s\"%s\": ", n++ ? ", " : "", sup_key[k]);
		cli_json_str(f, s->why[k]);
	}
	fputc('}', f);
}

static void list_json(const struct attn_registry *reg)
{
	FILE *f = stdout;
	fputs("{\"methods\": [", f);
	for (int i = 0; i < attn_registry_count(reg); i++) {
		const struct attn_method *m = attn_registry_at(reg, i);
		struct support sup[32];
		int fi, nf, n = method_support(m, sup, 32, &fi, &nf);
		fputs(i ? ",\n  {\"name\": " : "\n  {\"name\": ", f);
		cli_json_str(f, m->name);
		fputs(", \"family\": ", f);
		cli_json_str(f, attn_family_name(m->family));
		fputs(", \"category\": ", f);
		cli_json_str(f, m->category);
		fprintf(f, ", \"exact\": %s, \"oracle_only\": %s",
		        (m->flags & ATTN_METHOD_EXACT) ? "true" : "false",
		        (m->flags & ATTN_METHOD_ORACLE_ONLY) ? "true" : "false");
		cli_json_real(f, "time_exp", m->time_exp);
		cli_json_real(f, "mem_exp", m->mem_exp);
		fputs(", \"origin\": ", f);
		cli_json_str(f, attn_registry_origin(reg, i));
		fputs(", \"summary\": ", f);
		cli_json_str(f, m->summary);
		fputs(", \"citation\": ", f);
		cli_json_str(f, m->citation);
		fputs(", \"matrix\": {", f);
		for (int k = 0; k < N_SUP; k++)
			fprintf(f, "%s\"%s\": \"%s\"", k ? ", " : "", sup_key[k],
			        support_word(sup, n, k));
		fputs("}, \"forms\": [", f);
		for (int k = 0; k < nf; k++) {
			char name[64];
			attn_param_choice_name(&m->params[fi], k, name, sizeof(name));
			fputs(k ? ", {\"form\": " : "{\"form\": ", f);
			cli_json_str(f, name);
			fprintf(f, ", \"default\": %s, ",
			        (int)m->params[fi].def == k ? "true" : "false");
			json_support(f, &sup[k]);
			fputc('}', f);
		}
		fputs("], ", f);
		json_support(f, &sup[nf ? (int)m->params[fi].def : 0]);
		fputs(", \"params\": [", f);
		for (int k = 0; k < m->n_params; k++) {
			fputs(k ? ", " : "", f);
			json_param(f, &m->params[k]);
		}
		fputs("]}", f);
	}
	fputs("\n]}\n", f);
}

static void list_text(const struct attn_registry *reg, int verbose)
{
	printf("%-16s %-7s %-21s %-7s %-8s %-8s %-6s %-6s %-6s %-6s %-26s %s\n", "method", "family",
	       "category", "exact", "time", "memory", "causal", "full", "decode", "gqa", "forms",
	       "origin");
	for (int i = 0; i < attn_registry_count(reg); i++) {
		const struct attn_method *m = attn_registry_at(reg, i);
		struct support sup[32];
		int fi, nf, n = method_support(m, sup, 32, &fi, &nf);
		char t[16], mm[16], forms[128] = "-";
		snprintf(t, sizeof(t), "N^%g", m->time_exp);
		snprintf(mm, sizeof(mm), "N^%g", m->mem_exp);
		if (nf)
			snprintf(forms, sizeof(forms), "%s", m->params[fi].choices);
		printf("%-16s %-7s %-21s %-7s %-8s %-8s %-6s %-6s %-6s %-6s %-26s %s%s\n", m->name,
		       attn_family_name(m->family), m->category ? m->category : "-",
		       (m->flags & ATTN_METHOD_EXACT) ? "exact" : "approx", t, mm,
		       support_word(sup, n, SUP_CAUSAL), support_word(sup, n, SUP_FULL),
		       support_word(sup, n, SUP_DECODE), support_word(sup, n, SUP_GQA), forms,
		       attn_registry_origin(reg, i),
		       (m->flags & ATTN_METHOD_ORACLE_ONLY) ? " (oracle; not in `all`)" : "");
		if (!verbose)
			continue;
		printf("      %s\n      %s\n", m->summary ? m->summary : "",
		       m->citation ? m->citation : "");
		for (int k = 0; k < m->n_params; k++)
			print_param(&m->params[k]);
		/* what is not supported, and why, per form */
		for (int f = 0; f < n; f++) {
			char name[64] = "";
			if (nf)
				attn_param_choice_name(&m->params[fi], f, name, sizeof(name));
			for (int k = 0; k < N_SUP; k++)
				if (!sup[f].ok[k])
					printf("      no %-6s %s%s%s%s\n", sup_key[k],
					       nf ? "form=" : "", name, nf ? ": " : "",
					       sup[f].why[k]);
		}
	}
}

int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, 0, 'h'},
	                                     {"plugin", required_argument, 0, 'p'},
	                                     {"verbose", no_argument, 0, 'v'},
	                                     {"format", required_argument, 0, 'f'},
	                                     {0, 0, 0, 0}};
	char *plugins[64];
	const char *format = "text";
	int np = 0, verbose = 0, c;
	while ((c = getopt_long(argc, argv, "hp:v", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("usage: attnbench list [--verbose] [--format text|json] [--plugin "
			       "FILE.so]...\n\n"
			       "The registered methods: name, family, category, exact or "
			       "approximate,\n"
			       "theoretical time and memory exponents in N, where each comes "
			       "from, and\n"
			       "a support matrix: whether the method runs causal prefill, "
			       "full-mask\n"
			       "(non-causal) prefill, decode, and grouped-query attention "
			       "(kv-heads <\n"
			       "heads), as its supports() answers for a probe shape (B 1, H 4, N "
			       "4096,\n"
			       "d 64): yes, no, or some (some of its forms only), with its forms.\n"
			       "--verbose adds summaries, citations, parameters with their ranges, "
			       "and\n"
			       "each unsupported case with the method's reason.\n"
			       "--format json writes {\"methods\": [...]} with the keys documented "
			       "in the\n"
			       "README (section Listing methods).\n");
			return EXIT_OK;
		case 'p':
			if (np < 64)
				plugins[np++] = optarg;
			break;
		case 'v': verbose = 1; break;
		case 'f': format = optarg; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_error("list", "unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0) {
		cli_error("list", "--format '%s': expected text or json", format);
		return EXIT_USAGE;
	}
	struct attn_registry *reg = cli_registry("list", plugins, np);
	if (!reg)
		return EXIT_USAGE;
	if (format[0] == 'j')
		list_json(reg);
	else
		list_text(reg, verbose);
	attn_registry_free(reg);
	return EXIT_OK;
}

/* ---- info ---------------------------------------------------------------- */

/* info as JSON: {"system": {...}, "mem_available_bytes", "warnings", "counters"}. */
static void info_json(const struct attn_sysinfo *si, char (*warnings)[256], int n_warn)
{
	FILE *f = stdout;
	fputs("{\"system\": {", f);
	for (int i = 0; i < si->n; i++) {
		fputs(i ? ", " : "", f);
		cli_json_str(f, si->kv[i].key);
		fputs(": ", f);
		cli_json_str(f, si->kv[i].value);
	}
	fprintf(f, "},\n\"mem_available_bytes\": %.0f,\n\"warnings\": [",
	        (double)attn_mem_available());
	for (int i = 0; i < n_warn; i++) {
		fputs(i ? ", " : "", f);
		cli_json_str(f, warnings[i]);
	}
	fputs("],\n\"counters\": ", f);
	struct attn_counters *ctr;
	char err[512];
	if (attn_counters_open(ATTN_COUNTERS_DEFAULT ",perf::CPU-CLOCK,perf::MAJOR-FAULTS,"
	                                             "PAPI_FP_OPS",
	                       &ctr, err, sizeof(err)) != ATTN_OK) {
		fputs("{\"available\": false, \"reason\": ", f);
		cli_json_str(f, err);
		fputs(", \"events\": []}}\n", f);
		return;
	}
	fputs("{\"available\": true", f);
	cli_json_real(f, "overhead_ns", attn_counters_overhead_ns(ctr, 101));
	fputs(", \"events\": [", f);
	for (int i = 0; i < attn_counters_count(ctr); i++) {
		const char *why = NULL, *src = NULL;
		int ok = attn_counters_available(ctr, i, &why, &src);
		fputs(i ? ",\n  {\"name\": " : "\n  {\"name\": ", f);
		cli_json_str(f, attn_counters_name(ctr, i));
		fprintf(f, ", \"available\": %s, \"source\": ", ok ? "true" : "false");
		cli_json_str(f, ok ? src : NULL);
		fputs(", \"reason\": ", f);
		cli_json_str(f, ok ? NULL : (why ? why : "?"));
		fputc('}', f);
	}
	fputs("\n]}}\n", f);
	attn_counters_close(ctr);
}

int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, 0, 'h'}, {"format", required_argument, 0, 'f'}, {0, 0, 0, 0}};
	const char *format = "text";
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			printf("usage: attnbench info [--format text|json]\n\n"
			       "This machine and build as a run records them: CPU, topology and\n"
			       "caches (hwloc), memory, OpenBLAS configuration, library versions,\n"
			       "what affects timing (governor, turbo, SMT, THP, ASLR, load), and\n"
			       "which counters (PAPI events, perf software events) work here.\n"
			       "--format json writes {\"system\", \"mem_available_bytes\", "
			       "\"warnings\",\n"
			       "\"counters\"} (keys documented in the README, section Listing "
			       "methods).\n");
			return EXIT_OK;
		}
		if (c == 'f') {
			format = optarg;
			continue;
		}
		return EXIT_USAGE;
	}
	if (optind < argc) {
		cli_error("info", "unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0) {
		cli_error("info", "--format '%s': expected text or json", format);
		return EXIT_USAGE;
	}
	struct attn_sysinfo si;
	char warnings[16][256];
	int n_warn = 0;
	attn_sysinfo_collect(&si);
	attn_noise_collect(&si, warnings, 16, &n_warn);
	if (format[0] == 'j') {
		info_json(&si, warnings, n_warn);
		return EXIT_OK;
	}
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
