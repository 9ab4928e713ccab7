/*
 * attnbench compare: the CI regression gate. Reads a baseline and a current
 * run (two databases, or two runs of one), pairs their ok cases by method,
 * params and shape, normalises every time by the roof its run measured (so
 * a machine that is slower today is not a regression), and per pair tests
 * for a change (Mann–Whitney U, Benjamini–Hochberg across the grid) and
 * sizes it (ratio of medians with a bootstrap CI). The gate itself is the
 * library's (harness/src/gate.c, its statistics in harness/src/compare.c);
 * this verb parses the options, opens the two databases, prints the
 * report as a table, Markdown or JSON and sets the exit code the CI job
 * reads.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/compare.h"
#include "attnbench/gate.h"
#include "attnbench/status.h"
#include "attnbench/store.h"
#include "cli.h"

static const char *help_text =
    "usage: attnbench compare --baseline A.db --current B.db [--baseline-run ID]\n"
    "                         [--current-run ID] [--threshold 5%] [--alpha 0.05]\n"
    "                         [--format text|markdown|json] [--verbose]\n"
    "                         [--allow-other-machine] [--allow-build-mismatch]\n"
    "\n"
    "The regression gate: is the current run slower than the baseline beyond\n"
    "the noise? Runs default to the newest run of each file with ok cases (A\n"
    "and B may be the same file with two --*-run ids). Ok cases are paired by\n"
    "method, params and shape (batch, heads, kv_heads, n, d, causal, mode, dist,\n"
    "threads); cases of one side only are counted, not errors.\n"
    "\n"
    "Every time is normalised by its run's own roof, so that a machine that is\n"
    "slower as a whole is not a regression: when every sample of both cases has\n"
    "the sgemm time measured beside it (samples.roof_ns, sweep --roof-probe),\n"
    "each sample is divided by the median roof_ns of its shape's window (the\n"
    "interleaved repetitions of all methods at that shape); else, when both runs\n"
    "measured the sgemm roof at the case's thread count, ns x sgemm GFLOP/s;\n"
    "else raw ns (said). Before that, where a window holds three methods or\n"
    "more, each sample is divided by its round's speed: the median over the\n"
    "window's methods of their sample in that round over their median. The\n"
    "rounds of one window run within a second, and a neighbour's load moves\n"
    "them all; one method's change moves one of the many.\n"
    "Per pair, on the normalised samples:\n"
    "  ratio  median(current) / median(baseline), with a 95% percentile\n"
    "         bootstrap CI (2000 resamples of each side, fixed seed)\n"
    "  p      two-sided Mann-Whitney U (exact for <= 50 untied samples a side,\n"
    "         else normal with tie and continuity corrections)\n"
    "  q      p adjusted by Benjamini-Hochberg over all pairs (FDR control)\n"
    "A pair REGRESSED when q < alpha and ratio > 1 + threshold, IMPROVED when\n"
    "q < alpha and ratio < 1 / (1 + threshold), and its method agrees: over\n"
    "the method's pairs (same parameters), each pair's ratio relative to the\n"
    "median ratio of all methods at its shape is beyond the threshold the same\n"
    "way at the median, and beyond half the threshold at every shape. A change in the code moves a "
    "method at all its\n"
    "shapes and against the methods measured beside it; one slow process, or\n"
    "a neighbour on the memory bus, does not. A flagged pair whose method\n"
    "disagrees is ISOLATED; a pair whose shape's window ran 2.5 times off\n"
    "the run's usual speed (the probe says so) is UNRELIABLE. Both are\n"
    "reported and neither fails the gate. --threshold takes \"5%\" or a\n"
    "fraction (0.05). Where both cases have counter:PAPI_TOT_INS, the ratio of\n"
    "instructions is a second, deterministic column; a time regression whose\n"
    "instructions did not move is pointed out. Each flagged case comes with the\n"
    "`attnbench plot` command that draws it.\n"
    "\n"
    "Curves: both runs are fitted (as `attnbench fit`) and a method whose time\n"
    "exponent moved so far that the two 95% CIs do not overlap is reported\n"
    "(\"`window` went from N^1.00 to N^1.30\"). It does not change the exit code:\n"
    "a steeper curve already shows as regressed cases at large N, which the\n"
    "per-case test judges with FDR control, while the fit's CI holds only the\n"
    "noise within each N, not drift between them, and is not corrected for the\n"
    "number of curves.\n"
    "\n"
    "Machine class: the runs' cpu_model, cores and openblas_core must agree;\n"
    "--allow-other-machine compares anyway (the roof normalisation then carries\n"
    "the whole burden). A run made with ATTNBENCH_INJECT_SLOWDOWN is named.\n"
    "Build: the runs' build_type, compiler and cflags must agree too, since a\n"
    "Debug or sanitizer build is slower everywhere for reasons that are not the\n"
    "code's; --allow-build-mismatch compares anyway, with a warning on stderr,\n"
    "and the report (json: build_mismatch) says what differed.\n"
    "\n"
    "--verbose lists every pair, not only the flagged ones; json always does.\n"
    "\n"
    "exit: 0 no regression (improvements allowed); 1 a case regressed; 2 bad\n"
    "usage, a database that cannot be read (not attnbench's, corrupt or of a\n"
    "newer schema), a missing run, no matching cases, a different machine or a\n"
    "different build.\n";

/* ---- the report --------------------------------------------------------------- */

#define COLS     10
#define CELL_LEN 320
static const char *const col_names[COLS] = {"verdict", "method",         "params",
                                            "shape",   "ratio [95% CI]", "p",
                                            "q",       "instructions",   "baseline -> current",
                                            "norm"};

static void shape_text(const struct attn_gate_case *c, char *buf, size_t len)
{
	snprintf(buf, len, "n=%lld d=%lld h=%lld/%lld b=%lld %s %s t=%d %s", (long long)c->n,
	         (long long)c->d, (long long)c->heads, (long long)c->kv_heads, (long long)c->batch,
	         c->causal ? "causal" : "full", c->mode, c->threads, c->dist);
}

static void pair_cells(const struct attn_gate_pair *p, char cells[COLS][CELL_LEN])
{
	char t1[32], t2[32];
	snprintf(cells[0], CELL_LEN, "%s", attn_compare_verdict_name(p->v));
	snprintf(cells[1], CELL_LEN, "%s", p->b->method);
	snprintf(cells[2], CELL_LEN, "%s", p->b->params[0] ? p->b->params : "-");
	shape_text(p->b, cells[3], CELL_LEN);
	snprintf(cells[4], CELL_LEN, "%.3f [%.3f, %.3f]", p->ratio, p->lo, p->hi);
	snprintf(cells[5], CELL_LEN, "%.2g", p->p);
	snprintf(cells[6], CELL_LEN, "%.2g", p->q);
	if (isfinite(p->ins_ratio))
		snprintf(cells[7], CELL_LEN, "%.3f", p->ins_ratio);
	else
		snprintf(cells[7], CELL_LEN, "-");
	snprintf(cells[8], CELL_LEN, "%s -> %s", cli_fmt_ns(p->med_b, t1, sizeof(t1)),
	         cli_fmt_ns(p->med_c, t2, sizeof(t2)));
	snprintf(cells[9], CELL_LEN, "%s", attn_gate_norm_name(p->norm));
}

static void plot_command(const struct attn_gate_pair *p, const char *path,
                         const struct attn_gate_run *cur, char *buf, size_t len)
{
	snprintf(
	    buf, len,
	    "attnbench plot --db %s --run %lld --methods %s --causal %d --mode %s --threads %d "
	    "--d %lld",
	    path, (long long)cur->id, p->c->method, p->c->causal, p->c->mode, p->c->threads,
	    (long long)p->c->d);
}

static void summary_line(const struct attn_gate_report *r, char *buf, size_t len)
{
	snprintf(buf, len,
	         "compared %d cases: %d regressed, %d improved, %d unchanged, %d isolated, %d "
	         "unreliable (threshold %g%%, alpha %g, FDR by Benjamini–Hochberg)",
	         r->n, r->n_reg, r->n_imp, r->n - r->n_reg - r->n_imp - r->n_iso - r->n_unrel,
	         r->n_iso, r->n_unrel, 100 * r->threshold, r->alpha);
}

/* A merged sweep's side names all its shards' runs, commits and hosts (the gate joins them). */
static void run_line(const char *role, const char *path, const struct attn_gate_run *r, int md)
{
	if (r->n_runs > 1)
		printf("%s%s: %s runs %s (%d shards of one sweep; commits %s%s%s, started %s)%s\n",
		       md ? "- " : "", role, path, r->run_ids, r->n_runs,
		       r->commit[0] ? r->commit : "?", r->host[0] ? " on " : "", r->host,
		       r->started, r->inject[0] ? " — a gate test" : "");
	else
		printf("%s%s: %s run %lld (commit %.12s%s%s, started %s)%s\n", md ? "- " : "", role,
		       path, (long long)r->id, r->commit[0] ? r->commit : "?",
		       r->host[0] ? " on " : "", r->host, r->started,
		       r->inject[0] ? " — a gate test" : "");
}

static void print_notes(const struct attn_gate_report *r, const char *const path[2], int md)
{
	const char *li = md ? "- " : "";
	printf("%snormalisation: %d by the sgemm probes of their window (roof_ns), %d by the "
	       "run's sgemm roof, %d raw; samples corrected by their round's speed where a "
	       "window holds three methods or more\n",
	       li, r->n_norm[ATTN_GATE_NORM_GROUP_ROOF], r->n_norm[ATTN_GATE_NORM_RUN_ROOF],
	       r->n_norm[ATTN_GATE_NORM_RAW]);
	printf("%sall cases together: median ratio %.3f normalised, %.3f as measured (a build "
	       "that moves every method alike is judged by these, not by the gate)\n",
	       li, r->grid, r->grid_raw);
	if (r->n_norm[ATTN_GATE_NORM_RAW] && !r->base->any_roof_ns && !r->cur->any_roof_ns &&
	    !r->base->n_roofs && !r->cur->n_roofs)
		printf("%sneither run measured a roof: raw times are compared, and a machine that "
		       "is slower as a whole shows only in the median ratio of all cases\n",
		       li);
	printf("%sunmatched: %d cases only in the baseline, %d only in the current run\n", li,
	       r->only_base, r->only_cur);
	if (r->machine[0])
		printf("%sother machine (--allow-other-machine): %s\n", li, r->machine);
	if (r->build[0])
		printf("%sWARNING: other build (--allow-build-mismatch): %s; a change of the build "
		       "moves every case, so the ratios say as much about the build as about the "
		       "code\n",
		       li, r->build);
	const struct attn_gate_run *runs[2] = {r->base, r->cur};
	for (int i = 0; i < 2; i++)
		if (runs[i]->inject[0])
			printf("%snote: %s run %lld was a gate test: inject_slowdown=%s\n", li,
			       path[i], (long long)runs[i]->id, runs[i]->inject);
	for (int i = 0; i < r->n; i++) {
		const struct attn_gate_pair *p = &r->pairs[i];
		if (!attn_gate_same_work(p))
			continue;
		char shape[256];
		shape_text(p->c, shape, sizeof(shape));
		printf("%snote: %s %s %s is slower by time but executed the same instructions "
		       "(x%.3f): suspect the machine or memory behaviour before the code\n",
		       li, p->c->method, p->c->params, shape, p->ins_ratio);
	}
}

static void print_curves(const struct attn_gate_report *r, int md)
{
	if (r->curve_note[0])
		printf("%s%s\n", md ? "- " : "", r->curve_note);
	for (int i = 0; i < r->n_curves; i++) {
		const struct attn_gate_curve *c = &r->curves[i];
		printf("%s`%s`%s%s%s went from N^%.2f to N^%.2f (95%% CIs [%.2f, %.2f] and [%.2f, "
		       "%.2f]; %s)\n",
		       md ? "- " : "  ", c->method, c->params[0] ? " (" : "", c->params,
		       c->params[0] ? ")" : "", c->e_b, c->e_c, c->lo_b, c->hi_b, c->lo_c, c->hi_c,
		       c->family);
	}
}

static void print_table_of(const struct attn_gate_report *r, int verbose, int md)
{
	char(*cells)[COLS][CELL_LEN] = malloc((size_t)(r->n ? r->n : 1) * sizeof(*cells));
	if (!cells)
		return;
	int k = 0;
	for (int i = 0; i < r->n; i++)
		if (verbose || r->pairs[i].v != ATTN_COMPARE_UNCHANGED)
			pair_cells(&r->pairs[i], cells[k++]);
	if (k)
		cli_table_print(col_names, COLS, &cells[0][0][0], CELL_LEN, k, md);
	else
		printf("no case flagged\n");
	free(cells);
}

static void print_report(const struct attn_gate_report *r, const char *const path[2], int verbose,
                         int md)
{
	char line[512];
	summary_line(r, line, sizeof(line));
	printf(md ? "**%s**\n\n" : "%s\n", line);
	run_line("baseline", path[0], r->base, md);
	run_line("current", path[1], r->cur, md);
	print_notes(r, path, md);
	putchar('\n');
	print_table_of(r, verbose, md);
	/* one line per figure, naming the flagged N it shows */
	int figs = 0;
	for (int i = 0; i < r->n; i++) {
		char cmd[1024], other[1024], ns[256] = "";
		if (r->pairs[i].v == ATTN_COMPARE_UNCHANGED)
			continue;
		plot_command(&r->pairs[i], path[1], r->cur, cmd, sizeof(cmd));
		int seen = 0;
		for (int j = 0; j < r->n && !seen; j++) {
			if (r->pairs[j].v == ATTN_COMPARE_UNCHANGED)
				continue;
			plot_command(&r->pairs[j], path[1], r->cur, other, sizeof(other));
			if (strcmp(cmd, other) != 0)
				continue;
			if (j < i) {
				seen = 1;
				continue;
			}
			const struct attn_gate_pair *p = &r->pairs[j];
			size_t l = strlen(ns);
			snprintf(ns + l, sizeof(ns) - l, "%sn=%lld %s x%.3f", l ? ", " : "",
			         (long long)p->c->n, attn_compare_verdict_name(p->v), p->ratio);
		}
		if (seen)
			continue;
		if (!figs++)
			printf("\nfigures to look at:\n%s", md ? "\n" : "");
		printf(md ? "- %s (%s): `%s`\n" : "  %s (%s):\n    %s\n", r->pairs[i].c->method, ns,
		       cmd);
	}
	if (r->n_curves || r->curve_note[0]) {
		printf("\ncurves whose exponent moved beyond its CI (reported, not gating):\n%s",
		       md ? "\n" : "");
		print_curves(r, md);
	}
}

static void json_run(const char *role, const char *path, const struct attn_gate_run *r)
{
	printf("\"%s\": {\"path\": ", role);
	cli_json_str(stdout, path);
	printf(", \"run\": %lld, ", (long long)r->id);
	if (r->n_runs > 1) {
		fputs("\"runs\": [", stdout);
		fputs(r->run_ids, stdout);
		fputs("], \"hostname\": ", stdout);
		cli_json_str(stdout, r->host);
		fputs(", ", stdout);
	}
	fputs("\"commit\": ", stdout);
	cli_json_str(stdout, r->commit);
	fputs(", \"cpu_model\": ", stdout);
	cli_json_str(stdout, r->cpu_model);
	fputs(", \"inject_slowdown\": ", stdout);
	cli_json_str(stdout, r->inject[0] ? r->inject : NULL);
	fputs("}", stdout);
}

static void print_json(const struct attn_gate_report *r, const char *const path[2])
{
	char line[512];
	summary_line(r, line, sizeof(line));
	fputs("{\"summary\": ", stdout);
	cli_json_str(stdout, line);
	printf(", \"compared\": %d, \"regressed\": %d, \"improved\": %d, \"unchanged\": %d, "
	       "\"isolated\": %d, \"unreliable\": %d",
	       r->n, r->n_reg, r->n_imp, r->n - r->n_reg - r->n_imp - r->n_iso - r->n_unrel,
	       r->n_iso, r->n_unrel);
	cli_json_real(stdout, "threshold", r->threshold);
	cli_json_real(stdout, "grid_ratio", r->grid);
	cli_json_real(stdout, "grid_ratio_raw", r->grid_raw);
	cli_json_real(stdout, "alpha", r->alpha);
	printf(", \"fdr\": \"benjamini-hochberg\",\n ");
	json_run("baseline", path[0], r->base);
	fputs(",\n ", stdout);
	json_run("current", path[1], r->cur);
	printf(",\n \"normalisation\": {\"roof_ns\": %d, \"sgemm\": %d, \"raw\": %d}", r->n_norm[0],
	       r->n_norm[1], r->n_norm[2]);
	printf(", \"unmatched_baseline\": %d, \"unmatched_current\": %d, \"other_machine\": ",
	       r->only_base, r->only_cur);
	cli_json_str(stdout, r->machine[0] ? r->machine : NULL);
	fputs(", \"build_mismatch\": ", stdout);
	cli_json_str(stdout, r->build[0] ? r->build : NULL);
	fputs(",\n \"cases\": [", stdout);
	for (int i = 0; i < r->n; i++) {
		const struct attn_gate_pair *p = &r->pairs[i];
		char shape[256], cmd[1024];
		shape_text(p->c, shape, sizeof(shape));
		plot_command(p, path[1], r->cur, cmd, sizeof(cmd));
		printf("%s\n  {\"verdict\": \"%s\", \"method\": ", i ? "," : "",
		       attn_compare_verdict_name(p->v));
		cli_json_str(stdout, p->c->method);
		fputs(", \"params\": ", stdout);
		cli_json_str(stdout, p->c->params);
		fputs(", \"shape\": ", stdout);
		cli_json_str(stdout, shape);
		printf(
		    ", \"n\": %lld, \"d\": %lld, \"causal\": %d, \"mode\": \"%s\", \"threads\": %d",
		    (long long)p->c->n, (long long)p->c->d, p->c->causal, p->c->mode,
		    p->c->threads);
		cli_json_real(stdout, "ratio", p->ratio);
		cli_json_real(stdout, "ci_lo", p->lo);
		cli_json_real(stdout, "ci_hi", p->hi);
		cli_json_real(stdout, "p", p->p);
		cli_json_real(stdout, "q", p->q);
		printf(", \"exact\": %s", p->exact ? "true" : "false");
		cli_json_real(stdout, "instructions_ratio", p->ins_ratio);
		cli_json_real(stdout, "baseline_median_ns", p->med_b);
		cli_json_real(stdout, "current_median_ns", p->med_c);
		printf(", \"normalisation\": \"%s\", \"same_instructions\": %s, \"plot\": ",
		       attn_gate_norm_name(p->norm), attn_gate_same_work(p) ? "true" : "false");
		cli_json_str(stdout, cmd);
		fputs("}", stdout);
	}
	fputs("],\n \"curves\": [", stdout);
	for (int i = 0; i < r->n_curves; i++) {
		const struct attn_gate_curve *c = &r->curves[i];
		printf("%s\n  {\"method\": ", i ? "," : "");
		cli_json_str(stdout, c->method);
		fputs(", \"params\": ", stdout);
		cli_json_str(stdout, c->params);
		fputs(", \"family\": ", stdout);
		cli_json_str(stdout, c->family);
		cli_json_real(stdout, "baseline_exponent", c->e_b);
		cli_json_real(stdout, "baseline_ci_lo", c->lo_b);
		cli_json_real(stdout, "baseline_ci_hi", c->hi_b);
		cli_json_real(stdout, "current_exponent", c->e_c);
		cli_json_real(stdout, "current_ci_lo", c->lo_c);
		cli_json_real(stdout, "current_ci_hi", c->hi_c);
		fputs("}", stdout);
	}
	fputs("], \"curves_note\": ", stdout);
	cli_json_str(stdout, r->curve_note[0] ? r->curve_note : NULL);
	puts("}");
}

/* ---- the verb ------------------------------------------------------------------- */

enum cmp_format { FORMAT_TEXT, FORMAT_MARKDOWN, FORMAT_JSON };

struct cmp_opts {
	const char *path[2]; /* baseline, current */
	int64_t run[2];      /* 0: the newest run with ok cases */
	struct attn_gate_options gate;
	enum cmp_format fmt;
	int verbose;
};

/* One side of the comparison: the file the user named, its store, its run. */
struct side {
	struct attn_store *st;
	struct attn_gate_run run;
};

/* "5%" or "0.05" as a fraction; -1 on error. */
static int parse_threshold(const char *text, double *out)
{
	char buf[64];
	size_t l = strlen(text);
	int pct = l > 0 && text[l - 1] == '%';
	if (l >= sizeof(buf) || l == (size_t)pct)
		return -1;
	snprintf(buf, sizeof(buf), "%.*s", (int)(l - (size_t)pct), text);
	if (cli_parse_real(buf, out))
		return -1;
	if (pct)
		*out /= 100;
	return *out < 10 ? 0 : -1;
}

/* The options into o: -1 to go on, else the exit code (after --help or the message). */
static int parse_options(int argc, char **argv, struct cmp_opts *o)
{
	static const struct option opts[] = {{"help", no_argument, 0, 'h'},
	                                     {"baseline", required_argument, 0, 'b'},
	                                     {"current", required_argument, 0, 'c'},
	                                     {"baseline-run", required_argument, 0, 'B'},
	                                     {"current-run", required_argument, 0, 'C'},
	                                     {"threshold", required_argument, 0, 't'},
	                                     {"alpha", required_argument, 0, 'a'},
	                                     {"format", required_argument, 0, 'f'},
	                                     {"verbose", no_argument, 0, 'v'},
	                                     {"allow-other-machine", no_argument, 0, 'M'},
	                                     {"allow-build-mismatch", no_argument, 0, 'A'},
	                                     {0, 0, 0, 0}};
	*o = (struct cmp_opts){.gate = ATTN_GATE_OPTIONS_INIT};
	const char *format = "text";
	int c;
	long id;
	while ((c = getopt_long(argc, argv, "hb:c:B:C:t:a:f:vMA", opts, NULL)) != -1) {
		switch (c) {
		case 'h': printf("%s", help_text); return EXIT_OK;
		case 'b': o->path[0] = optarg; break;
		case 'c': o->path[1] = optarg; break;
		case 'B':
		case 'C':
			if (cli_parse_int(optarg, 1, 0x7fffffffL, &id)) {
				cli_error("compare", "--%s-run '%s': expected a run id (>= 1)",
				          c == 'B' ? "baseline" : "current", optarg);
				return EXIT_USAGE;
			}
			o->run[c == 'B' ? 0 : 1] = id;
			break;
		case 't':
			if (parse_threshold(optarg, &o->gate.threshold)) {
				cli_error("compare",
				          "--threshold '%s': expected a percentage (5%%) or "
				          "a fraction (0.05)",
				          optarg);
				return EXIT_USAGE;
			}
			break;
		case 'a':
			if (cli_parse_real(optarg, &o->gate.alpha) ||
			    !(o->gate.alpha > 0 && o->gate.alpha < 1)) {
				cli_error("compare", "--alpha '%s': expected a number in (0, 1)",
				          optarg);
				return EXIT_USAGE;
			}
			break;
		case 'f': format = optarg; break;
		case 'v': o->verbose = 1; break;
		case 'M': o->gate.allow_other_machine = 1; break;
		case 'A': o->gate.allow_build_mismatch = 1; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_error("compare", "unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (!o->path[0] || !o->path[1]) {
		cli_error("compare", "--baseline FILE and --current FILE are required");
		return EXIT_USAGE;
	}
	o->fmt = strcmp(format, "text") == 0       ? FORMAT_TEXT
	         : strcmp(format, "markdown") == 0 ? FORMAT_MARKDOWN
	         : strcmp(format, "json") == 0     ? FORMAT_JSON
	                                           : (enum cmp_format) - 1;
	if ((int)o->fmt < 0) {
		cli_error("compare", "--format '%s': expected text, markdown or json", format);
		return EXIT_USAGE;
	}
	return -1;
}

/* Open path read-only and load its run; EXIT_OK, or EXIT_USAGE after the message. */
static int load_side(const char *role, const char *path, int64_t run, struct side *s)
{
	char err[1024];
	if (attn_store_open(path, ATTN_STORE_READONLY, &s->st, err, sizeof(err)) != ATTN_OK) {
		cli_error("compare", "%s %s: %s", role, path, err);
		s->st = NULL;
		return EXIT_USAGE;
	}
	int rc = attn_gate_load(s->st, run, &s->run, err, sizeof(err));
	if (rc == ATTN_ERR_NOMEM)
		cli_error("compare", "out of memory reading %s", path);
	else if (rc != ATTN_OK)
		cli_error("compare", "%s %s: %s", role, path, err);
	return rc == ATTN_OK ? EXIT_OK : EXIT_USAGE;
}

/* Why the gate would not compare, in the words that name the option to pass. */
static void print_refusal(const struct attn_gate_report *g, const char *err)
{
	switch (g->refused) {
	case ATTN_GATE_OTHER_MACHINE:
		cli_error("compare",
		          "the runs are from different machines (%s); compare runs of one "
		          "machine class, or pass --allow-other-machine",
		          g->machine);
		break;
	case ATTN_GATE_OTHER_BUILD:
		cli_error("compare",
		          "the runs were built differently (%s); a Debug or sanitizer "
		          "build is slower for reasons that are not the code's: compare "
		          "builds of one configuration, or pass --allow-build-mismatch",
		          g->build);
		break;
	case ATTN_GATE_NO_MATCH: cli_error("compare", "%s", err); break;
	case ATTN_GATE_ACCEPTED: cli_error("compare", "out of memory"); break;
	}
}

/* Run the gate on the two loaded sides and print its report; the exit code. */
static int gate(const struct cmp_opts *o, struct side s[2])
{
	struct attn_gate_report g;
	char err[1024];
	int rc = attn_gate_run(&s[0].run, &s[1].run, &o->gate, &g, err, sizeof(err));
	/* set only once the machines agreed, so this comes where the check is */
	if (g.build[0] && o->gate.allow_build_mismatch)
		cli_error("compare",
		          "WARNING: comparing runs built differently (%s), as "
		          "--allow-build-mismatch asks: every ratio carries the build's "
		          "difference",
		          g.build);
	if (rc != ATTN_OK) {
		print_refusal(&g, err);
		attn_gate_report_free(&g);
		return EXIT_USAGE;
	}
	if (o->fmt == FORMAT_JSON)
		print_json(&g, o->path);
	else
		print_report(&g, o->path, o->verbose, o->fmt == FORMAT_MARKDOWN);
	rc = g.n_reg ? EXIT_CASES : EXIT_OK;
	attn_gate_report_free(&g);
	return rc;
}

int cmd_compare(int argc, char **argv)
{
	struct cmp_opts o;
	int rc = parse_options(argc, argv, &o);
	if (rc >= 0)
		return rc;
	struct side s[2] = {{0}, {0}};
	rc = load_side("baseline", o.path[0], o.run[0], &s[0]);
	if (rc == EXIT_OK)
		rc = load_side("current", o.path[1], o.run[1], &s[1]);
	if (rc == EXIT_OK)
		rc = gate(&o, s);
	for (int i = 0; i < 2; i++) {
		attn_gate_run_free(&s[i].run);
		if (s[i].st)
			attn_store_close(s[i].st);
	}
	return rc;
}
