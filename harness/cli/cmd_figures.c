/*
 * attnbench figures: the survey's figures, measured, in one command.
 *
 * A figure set (workloads/figures/quick.txt or full.txt) names four sweeps
 * and their spec files. figures runs them into one database, tagging each
 * run in run_info (key "figures", value "SET/NAME") so that --no-sweep finds
 * them again; fits the complexity run and compares the forms of every
 * method that has several (Table 1), storing both; then draws every figure
 * from the database, as PNG and SVG, and writes index.html with the PNGs
 * embedded, so the page is one file that can be mailed or archived.
 *
 * The fits, the form comparisons, the figures and the page are the report
 * layer's (harness/report/figures.c, report.h); this verb parses the
 * options, runs and tags the sweeps, finds the tagged runs, and prints.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/query.h"
#include "attnbench/registry.h"
#include "attnbench/report.h"
#include "attnbench/runner.h"
#include "attnbench/store.h"
#include "attnbench/sweep.h"
#include "cli.h"
#include "sweep_cli.h"

static const char *help_text =
    "usage: attnbench figures [--quick | --full | --set NAME] [--db FILE] [--out DIR]\n"
    "                         [--no-sweep] [--quiet]\n"
    "\n"
    "Regenerates the survey's figures from measurements: runs the sweeps of a\n"
    "figure set (workloads/figures/quick.txt, the default, about four minutes;\n"
    "or full.txt, the paper-quality set, about ten minutes) into one database, fits\n"
    "the curves, checks that the forms of every linear method agree, and draws:\n"
    "  fig1_taxonomy          the survey's taxonomy, each leaf with its plugin\n"
    "  fig2_dualform_*        parallel vs recurrent vs chunk: time, memory vs N\n"
    "  fig3_masks             block masks of the sparse methods, as heat maps\n"
    "  fig4_hybrid_*          hybrid stacks: KV/state bytes and decode time vs N\n"
    "  fig5_time_FAMILY       complexity curves per branch, fitted exponents\n"
    "  fig6_memory_FAMILY     workspace vs N per branch\n"
    "  fig7_accuracy          error against exact softmax vs time\n"
    "  fig8_roofline          GFLOP/s vs arithmetic intensity under the roofs\n"
    "each as DIR/NAME.png and .svg, and DIR/index.html: every figure with its\n"
    "caption and provenance, Table 1 verified and the fit and crossover table.\n"
    "\n"
    "  --quick      the quick set (default)\n"
    "  --full       the full set\n"
    "  --set NAME   the set workloads/figures/NAME.txt (the suite uses `test`)\n"
    "  --db FILE    the database (default results/figures-SET.db)\n"
    "  --out DIR    where the figures go (default plots/figures)\n"
    "  --no-sweep   draw from the set's newest runs already in --db\n"
    "  --shard I/N  run shard I of N of each of the set's sweeps into --db and\n"
    "               draw nothing: run every shard (e.g. as a Slurm array,\n"
    "               scripts/slurm/submit.sh), `attnbench merge` their databases,\n"
    "               then `figures --no-sweep --db MERGED`. Run again, it resumes\n"
    "               the shard's unfinished sweep and skips the complete ones\n"
    "  --sweep-id NAME  with --shard: the sweeps' ids are NAME/complexity, ...\n"
    "               (default: each spec's hash and N)\n"
    "  --quiet      no sweep progress\n"
    "\n"
    "exit: 0 every figure drawn from all-ok sweeps; 1 drawn, but some case\n"
    "failed; 2 bad usage, nothing to draw or gnuplot missing; 3 database error;\n"
    "130 interrupted (the finished cases are kept).\n";

enum { SW_COMPLEXITY, SW_FORMS, SW_MASKS, SW_HYBRID, N_SWEEPS };
static const char *const sweep_names[N_SWEEPS] = {"complexity", "forms", "masks", "hybrid"};

struct sweep_def {
	char spec[512]; /* path of the spec file (it holds the sweep's settings) */
	long run;       /* the run drawn from */
};

/* The manifest's lines are split as the report layer splits its files. */
static int fig_split_fields(char *line, char **field, int max)
{
	return attn_report_split_fields(line, field, max);
}

/*
 * Parse the figure set's manifest: "name | spec" lines. The sweep settings
 * of each sweep are keys of its spec file; a third column (the extra sweep
 * options the sets used to carry) is refused, saying where they go now.
 */
static int load_set(const char *path, struct sweep_def sw[N_SWEEPS])
{
	FILE *f = fopen(path, "r");
	if (!f) {
		cli_error("figures", "%s: %s", path, strerror(errno));
		return -1;
	}
	char line[1024];
	int lineno = 0, seen = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		char *p = line + strspn(line, " \t");
		if (*p == '#' || *p == '\n' || !*p)
			continue;
		char *field[3] = {NULL, NULL, NULL};
		fig_split_fields(p, field, 3);
		int k = -1;
		for (int i = 0; i < N_SWEEPS; i++)
			if (strcmp(field[0], sweep_names[i]) == 0)
				k = i;
		if (k < 0 || !field[1] || !*field[1]) {
			cli_error("figures",
			          "%s:%d: expected 'NAME | SPEC' with NAME one of "
			          "complexity, forms, masks, hybrid",
			          path, lineno);
			fclose(f);
			return -1;
		}
		if (field[2] && *field[2]) {
			cli_error(
			    "figures",
			    "%s:%d: '%s': sweep options are settings of the spec file now; "
			    "write them into %s as keys, e.g. `min_reps = 3` for --min-reps 3 "
			    "and `dump_mask = 1` for --dump-mask",
			    path, lineno, field[2], field[1]);
			fclose(f);
			return -1;
		}
		snprintf(sw[k].spec, sizeof(sw[k].spec), "%s/workloads/figures/%s", cli_data_dir(),
		         field[1]);
		seen |= 1 << k;
	}
	fclose(f);
	for (int i = 0; i < N_SWEEPS; i++)
		if (!(seen & (1 << i))) {
			cli_error("figures", "%s: no '%s' sweep", path, sweep_names[i]);
			return -1;
		}
	return 0;
}

/* A sharded run of the set: shard I/N of each sweep, with these ids. */
struct shard_args {
	struct attn_sweep_options opt; /* shard_index, shard_count */
	const char *sweep_id;          /* --sweep-id, or NULL */
};

/*
 * Run one sweep of the set with the sweep driver, printing as `sweep` does;
 * its exit code, and *run the run it recorded into (or found complete).
 */
static int run_sweep(const struct sweep_def *sw, const char *name, const char *db, int quiet,
                     const struct shard_args *sh, int64_t *run)
{
	struct attn_sweep_spec spec;
	struct attn_sweep_options opt = {.spec_from_file = 1};
	char id[300], shard[64] = "";
	if (sh->opt.shard_count) {
		opt.shard_index = sh->opt.shard_index;
		opt.shard_count = sh->opt.shard_count;
		opt.resume = ATTN_RESUME_SHARD;
		snprintf(shard, sizeof(shard), " --shard %d/%d", opt.shard_index, opt.shard_count);
		if (sh->sweep_id) {
			snprintf(id, sizeof(id), "%s/%s", sh->sweep_id, name);
			opt.sweep_id = id;
		}
	}
	struct attn_registry *reg = NULL;
	char err[2048], *cmd = NULL;
	attn_run_opts_default(&opt.proto.ro);
	opt.proto.interleave = 1;
	opt.proto.roof_budget = 3.0;
	if (attn_sweep_spec_init(&spec)) {
		cli_error("sweep", "out of memory");
		return EXIT_USAGE;
	}
	int rc = EXIT_USAGE;
	if (attn_sweep_spec_load_file(&spec, sw->spec, err, sizeof(err)))
		cli_error("sweep", "%s", err);
	else if (asprintf(&cmd, "attnbench sweep --spec %s --db %s%s%s%s%s", sw->spec, db, shard,
	                  opt.sweep_id ? " --sweep-id " : "", opt.sweep_id ? opt.sweep_id : "",
	                  quiet ? " --quiet" : "") < 0)
		cli_error("sweep", "out of memory");
	else if ((reg = cli_registry("sweep", NULL, 0)) &&
	         !cli_inject_slowdown("sweep", reg, &opt.proto.ro, &opt.inject)) {
		opt.command = cmd;
		rc = cli_sweep_run(&spec, &opt, reg, db, quiet, run);
	}
	free(cmd);
	attn_registry_free(reg);
	attn_sweep_spec_free(&spec);
	return rc;
}

/* The sweeps' runs and where they go. */
struct ctx {
	const char *db_path;
	struct sweep_def sw[N_SWEEPS];
};

/* The newest run of the database; 0 if none, -1 (err set) when the query fails. */
static long newest_run(struct attn_store *st, char *err, size_t errlen)
{
	int64_t id;
	return attn_query_newest_run(st, &id, err, errlen) ? -1 : (long)id;
}

/* Warnings always; the figures' progress unless --quiet (ctx points at quiet). */
static void print_note(void *ctx, enum attn_report_note kind, const char *msg)
{
	if (kind == ATTN_REPORT_WARNING)
		fprintf(stderr, "attnbench figures: %s\n", msg);
	else if (!*(const int *)ctx)
		fprintf(stderr, "figures: %s\n", msg);
}

/* Find the newest tagged run of every sweep, fit, compare and draw; an exit code. */
static int draw_set(struct ctx *cx, const char *set, const char *dir, int quiet)
{
	struct attn_store *st;
	char err[4096];
	if (attn_store_open(cx->db_path, 0, &st, err, sizeof(err))) {
		cli_error("figures", "%s", err);
		return EXIT_DB;
	}
	struct attn_registry *reg = cli_registry("figures", NULL, 0);
	int rc = reg ? EXIT_OK : EXIT_USAGE;
	struct attn_figures_req q = {.st = st,
	                             .db_name = cx->db_path,
	                             .reg = reg,
	                             .set = set,
	                             .data_dir = cli_data_dir(),
	                             .dir = dir,
	                             .note = print_note,
	                             .note_ctx = &quiet};
	for (int i = 0; rc == EXIT_OK && i < N_SWEEPS; i++) {
		char tag[64];
		snprintf(tag, sizeof(tag), "%s/%s", set, sweep_names[i]);
		if (attn_query_tagged_run(st, "figures", tag, &q.runs[i], err, sizeof(err))) {
			cli_error("figures", "%s: %s", cx->db_path, err);
			rc = EXIT_DB;
		} else if (q.runs[i] == 0) {
			cli_error("figures",
			          "%s has no run of the '%s' sweep with an ok case; run `attnbench "
			          "figures --%s --db %s` without --no-sweep",
			          cx->db_path, tag, set, cx->db_path);
			rc = EXIT_USAGE;
		}
		cx->sw[i].run = (long)q.runs[i];
	}
	struct attn_figures_result res;
	int st_rc = rc == EXIT_OK ? attn_figures_draw(&q, &res, err, sizeof(err)) : ATTN_OK;
	if (st_rc != ATTN_OK) {
		cli_error("figures", "%s", err);
		rc = st_rc == ATTN_ERR_DB ? EXIT_DB : EXIT_USAGE;
	}
	if (rc == EXIT_OK)
		printf("%s/index.html: %d figures, Table 1 and %d fitted curves\n", dir,
		       res.n_figures, res.n_fits);
	if (reg)
		attn_registry_free(reg);
	attn_store_close(st);
	return rc;
}

int cmd_figures(int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, 0, 'h'},
	                                     {"quick", no_argument, 0, 'q'},
	                                     {"full", no_argument, 0, 'F'},
	                                     {"set", required_argument, 0, 's'},
	                                     {"db", required_argument, 0, 'd'},
	                                     {"out", required_argument, 0, 'o'},
	                                     {"no-sweep", no_argument, 0, 'n'},
	                                     {"quiet", no_argument, 0, 'Q'},
	                                     {"shard", required_argument, 0, 'S'},
	                                     {"sweep-id", required_argument, 0, 'I'},
	                                     {0, 0, 0, 0}};
	const char *set = "quick", *db_arg = NULL, *dir = "plots/figures";
	int no_sweep = 0, quiet = 0, c;
	struct shard_args sh = {0};
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h': printf("%s", help_text); return EXIT_OK;
		case 'q': set = "quick"; break;
		case 'F': set = "full"; break;
		case 's':
			if (!*optarg || strspn(optarg, "abcdefghijklmnopqrstuvwxyz0123456789_-") !=
			                    strlen(optarg)) {
				cli_error("figures", "--set '%s': expected a set name like quick",
				          optarg);
				return EXIT_USAGE;
			}
			set = optarg;
			break;
		case 'd': db_arg = optarg; break;
		case 'o': dir = optarg; break;
		case 'n': no_sweep = 1; break;
		case 'Q': quiet = 1; break;
		case 'S':
			if (cli_shard_arg("figures", optarg, &sh.opt))
				return EXIT_USAGE;
			break;
		case 'I': sh.sweep_id = optarg; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_error("figures", "unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (sh.opt.shard_count && no_sweep) {
		cli_error("figures", "--shard runs sweeps and --no-sweep runs none: give one");
		return EXIT_USAGE;
	}
	if (sh.sweep_id && !sh.opt.shard_count) {
		cli_error("figures", "--sweep-id '%s' goes with --shard I/N", sh.sweep_id);
		return EXIT_USAGE;
	}
	if (!sh.opt.shard_count && !attn_report_have_gnuplot()) {
		cli_error("figures", "gnuplot not found: apt-get install gnuplot-nox");
		return EXIT_USAGE;
	}
	struct ctx cx = {0};
	char db_buf[1024], manifest[1024], err[1024];
	snprintf(db_buf, sizeof(db_buf), "results/figures-%s.db", set);
	cx.db_path = db_arg ? db_arg : db_buf;
	snprintf(manifest, sizeof(manifest), "%s/workloads/figures/%s.txt", cli_data_dir(), set);
	if (load_set(manifest, cx.sw))
		return EXIT_USAGE;
	if (attn_report_mkdirs(dir)) {
		cli_error("figures", "--out %s: %s", dir, strerror(errno));
		return EXIT_USAGE;
	}

	int worst = EXIT_OK;
	for (int i = 0; !no_sweep && i < N_SWEEPS; i++) {
		if (!quiet)
			fprintf(stderr, "figures: sweep %d/%d: %s (%s)\n", i + 1, N_SWEEPS,
			        sweep_names[i], cx.sw[i].spec);
		int64_t swept = 0;
		int rc = run_sweep(&cx.sw[i], sweep_names[i], cx.db_path, quiet, &sh, &swept);
		if (rc != EXIT_OK && rc != EXIT_CASES)
			return rc; /* its message is out; what it recorded is kept */
		worst = rc > worst ? rc : worst;
		struct attn_store *st;
		if (attn_store_open(cx.db_path, 0, &st, err, sizeof(err))) {
			cli_error("figures", "%s", err);
			return EXIT_DB;
		}
		char tag[64], id[32];
		snprintf(tag, sizeof(tag), "%s/%s", set, sweep_names[i]);
		long run = swept > 0 ? (long)swept : newest_run(st, err, sizeof(err));
		snprintf(id, sizeof(id), "%ld", run);
		struct attn_kv kv = {"figures", tag};
		int bad = run <= 0 || attn_store_run_info(st, run, &kv, 1, err, sizeof(err));
		attn_store_close(st);
		if (bad) {
			cli_error("figures", "%s: cannot tag run %s: %s", cx.db_path, id,
			          run <= 0 ? "no run" : err);
			return EXIT_DB;
		}
	}

	if (sh.opt.shard_count) {
		if (!quiet)
			fprintf(
			    stderr,
			    "figures: shard %d/%d of the %s set's sweeps is in %s; once every "
			    "shard is, merge them (attnbench merge --out ALL.db SHARD.db...) "
			    "and draw with: attnbench figures --set %s --no-sweep --db ALL.db\n",
			    sh.opt.shard_index, sh.opt.shard_count, set, cx.db_path, set);
		return worst;
	}
	int rc = draw_set(&cx, set, dir, quiet);
	return rc == EXIT_OK ? worst : rc;
}
