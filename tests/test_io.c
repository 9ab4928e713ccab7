/*
 * What a user analyses results with, end to end through the CLI: list's
 * support matrix (text and JSON, plugins included), info --format json,
 * export's parameter columns, units and provenance and its refusal of a run
 * that is not there, and plot's --dist and --params filters. The JSON is
 * read back with /usr/bin/python3's json module, so it is checked as a
 * consumer parses it, not by substrings.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attnbench/report.h"
#include "check_main.h"
#include "cli_run.h"
#include "tmpdir.h"

static char dir[TMPDIR_LEN];

static void setup(void)
{
	tmpdir_make(dir, "io");
	setenv("ATTNBENCH_DATA_DIR", ATTN_SOURCE_DIR, 1);
	unsetenv("ATTNBENCH_PLUGIN_PATH");
	unsetenv("ATTNBENCH_INJECT_SLOWDOWN");
}

static void teardown(void)
{
	tmpdir_remove(dir);
}

/*
 * `attnbench ARGS` piped into python3 running `script` (asserts; exit 0 when
 * they hold). Returns python3's exit code (a CLI failure shows as JSON it cannot
 * parse), its output in `out`.
 */
static int py_check(const char *args, const char *script)
{
	char path[TMPDIR_LEN + 16];
	snprintf(path, sizeof(path), "%s/check.py", dir);
	FILE *f = fopen(path, "w");
	ck_assert(f != NULL);
	fprintf(f, "import json, sys\nd = json.load(sys.stdin)\n%s\n", script);
	ck_assert_int_eq(fclose(f), 0);
	char cmd[8192];
	snprintf(cmd, sizeof(cmd), "%s %s | /usr/bin/python3 %s 2>&1", ATTN_CLI, args, path);
	FILE *p = popen(cmd, "r");
	ck_assert(p != NULL);
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = 0;
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- list ---------------------------------------------------------------------------- */

START_TEST(list_support_matrix)
{
	ck_assert_int_eq(cli("list"), 0);
	ck_assert_msg(strstr(out, " causal ") && strstr(out, " full ") && strstr(out, " decode ") &&
	                  strstr(out, " gqa ") && strstr(out, " forms "),
	              "%s", out);
	/* quest selects for one decode query: prefill is refused, and the table says so */
	const char *q = strstr(out, "\nquest ");
	ck_assert_msg(q != NULL, "%s", out);
	char row[256];
	snprintf(row, sizeof(row), "%.*s", (int)strcspn(q + 1, "\n"), q + 1);
	ck_assert_msg(strstr(row, " no     no     yes    yes "), "%s", row);
	/* --verbose gives the method's reason */
	ck_assert_int_eq(cli("list --verbose"), 0);
	ck_assert_msg(strstr(out, "no causal quest selects pages for one decode query"), "%s", out);
	ck_assert_msg(strstr(out, "no full   form=chunk: aft has no chunk form"), "%s", out);
	ck_assert_int_eq(cli("list --format xml"), 2);
	ck_assert_msg(strstr(out, "--format 'xml'"), "%s", out);
}
END_TEST

START_TEST(list_json)
{
	int rc = py_check(
	    "list --format json --plugin " ATTN_EXAMPLE_PLUGIN,
	    "m = {x['name']: x for x in d['methods']}\n"
	    "keys = {'name', 'family', 'category', 'exact', 'oracle_only', 'time_exp', "
	    "'mem_exp', 'origin', 'summary', 'citation', 'matrix', 'forms', 'support', "
	    "'unsupported', 'params'}\n"
	    "for x in d['methods']:\n"
	    "    assert set(x) == keys, (x['name'], set(x) ^ keys)\n"
	    "    assert set(x['matrix']) == {'causal', 'full', 'decode', 'gqa'}\n"
	    "    assert all(v in ('yes', 'no', 'some') for v in x['matrix'].values())\n"
	    "assert m['flash']['exact'] and m['flash']['matrix'] == dict(causal='yes', "
	    "full='yes', decode='yes', gqa='yes')\n"
	    "assert m['flash']['forms'] == [] and m['flash']['unsupported'] == {}\n"
	    "qs = m['quest']\n"
	    "assert qs['support'] == dict(causal=False, full=False, decode=True, gqa=True), qs\n"
	    "assert 'decode query' in qs['unsupported']['causal']\n"
	    "a = m['aft']\n"
	    "assert [f['form'] for f in a['forms']] == ['parallel', 'recurrent', 'chunk']\n"
	    "ch = a['forms'][2]\n"
	    "assert ch['support']['causal'] is False and 'chunk' in ch['unsupported']['causal']\n"
	    "assert a['matrix']['causal'] == 'some'\n"
	    "assert sum(f['default'] for f in a['forms']) == 1\n"
	    "w = [p for p in m['window']['params'] if p['name'] == 'w'][0]\n"
	    "assert w['type'] == 'int' and w['default'] == 512, w\n"
	    "assert m['reference']['oracle_only'] is True\n"
	    "assert 'naive_ext' in m and m['naive_ext']['origin'] != 'built-in', m['naive_ext']\n"
	    "print('ok')");
	ck_assert_msg(rc == 0, "%s", out);
}
END_TEST

START_TEST(info_json)
{
	int rc = py_check("info --format json",
	                  "assert set(d) == {'system', 'mem_available_bytes', 'warnings', "
	                  "'counters'}, set(d)\n"
	                  "assert 'openblas_core' in d['system'] and d['mem_available_bytes'] > 0\n"
	                  "c = d['counters']\n"
	                  "assert 'available' in c and isinstance(c['events'], list)\n"
	                  "for e in c['events']:\n"
	                  "    assert set(e) == {'name', 'available', 'source', 'reason'}, e\n"
	                  "    assert (e['source'] is None) != e['available']\n"
	                  "    assert (e['reason'] is None) == e['available']\n"
	                  "assert not c['available'] or any(e['name'] == 'PAPI_TOT_INS' "
	                  "for e in c['events'])\n"
	                  "print('ok')");
	ck_assert_msg(rc == 0, "%s", out);
	ck_assert_int_eq(cli("info --format yaml"), 2);
	ck_assert_int_eq(cli("info --help"), 0);
	ck_assert_msg(strstr(out, "--format json"), "%s", out);
}
END_TEST

/* ---- export and plot, on one small sweep ---------------------------------------------- */

static char db[TMPDIR_LEN + 16];

static void sweep_small(void)
{
	setup();
	snprintf(db, sizeof(db), "%s/io.db", dir);
	int rc = cli("sweep --db %s --methods 'flash,window[w=16],performer[m=16]' --n 32,64 --d 8 "
	             "--causal=1 --dist gaussian,local --quiet --roof-budget 0",
	             db);
	ck_assert_msg(rc == 0, "%s", out);
}

static void swept_remove(void)
{
	teardown();
}

/* The header's columns, split at commas (none of them quoted). */
static int header_col(const char *csv, const char *name)
{
	char head[16384];
	snprintf(head, sizeof(head), "%.*s", (int)strcspn(csv, "\n"), csv);
	int i = 0;
	for (char *t = strtok(head, ","); t; t = strtok(NULL, ","), i++)
		if (strcmp(t, name) == 0)
			return i;
	return -1;
}

START_TEST(export_columns_units_provenance)
{
	ck_assert_msg(cli("export --db %s", db) == 0, "%s", out);
	/* each parameter its own column, the metrics with their units, the run's provenance */
	ck_assert_msg(strncmp(out, "id,run_id,method,", 17) == 0, "%.300s", out);
	ck_assert_msg(strstr(out, ",message,info,hostname,cpu_model,shard,git_commit,"), "%.600s",
	              out);
	int w = header_col(out, "param_w"), m = header_col(out, "param_m");
	ck_assert_msg(w > 0 && m > 0, "%.1500s", out);
	ck_assert_msg(header_col(out, "param_bq") > 0, "%.1500s", out);
	ck_assert_msg(header_col(out, "median_ns[ns]") > 0 && header_col(out, "density[1]") > 0,
	              "%.3000s", out);
	ck_assert_msg(header_col(out, "median_ns") < 0, "%.3000s", out);
	/* a window row has its w and no m; a performer row its m and no w */
	int rows = 0, seen_w = 0, seen_m = 0;
	for (const char *l = strchr(out, '\n') + 1; *l; l = strchr(l, '\n') + 1, rows++) {
		char line[8192], *cell[512];
		snprintf(line, sizeof(line), "%.*s", (int)strcspn(l, "\n"), l);
		/* cells can be empty and params is quoted: split by hand, quotes respected */
		int n = 0, inq = 0;
		cell[n++] = line;
		for (char *p = line; *p && n < 512; p++) {
			if (*p == '"')
				inq = !inq;
			else if (*p == ',' && !inq)
				*p = 0, cell[n++] = p + 1;
		}
		ck_assert_int_gt(n, m);
		if (strcmp(cell[2], "window") == 0) {
			ck_assert_str_eq(cell[w], "16");
			ck_assert_str_eq(cell[m], "");
			seen_w++;
		} else if (strcmp(cell[2], "performer") == 0) {
			ck_assert_str_eq(cell[m], "16");
			ck_assert_str_eq(cell[w], "");
			seen_m++;
		}
	}
	ck_assert_int_eq(rows, 12);
	ck_assert_int_eq(seen_w, 4);
	ck_assert_int_eq(seen_m, 4);

	/* JSON: param as an object of typed values, one units map */
	char args[512];
	snprintf(args, sizeof(args), "export --format json --db %s", db);
	int rc = py_check(
	    args, "assert set(d) == {'runs', 'cases', 'units'}, set(d)\n"
	          "assert d['units']['median_ns'] == 'ns' and d['units']['density'] == '1'\n"
	          "for c in d['cases']:\n"
	          "    assert set(c['metrics']) <= set(d['units'])\n"
	          "    if c['method'] == 'window': assert c['param']['w'] == 16, c['param']\n"
	          "    if c['method'] == 'performer':\n"
	          "        assert c['param']['m'] == 16 and c['param']['form'] == 'chunk', c\n"
	          "assert all(r['git_commit'] for r in d['runs'])\n"
	          "print('ok')");
	ck_assert_msg(rc == 0, "%s", out);
}
END_TEST

START_TEST(export_missing_run)
{
	ck_assert_int_eq(cli("export --db %s --run 99", db), 2);
	ck_assert_msg(strstr(out, "--run 99") && strstr(out, "no run 99"), "%s", out);
	ck_assert_int_eq(cli("export --db %s --run 99 --format json", db), 2);
	/* nothing was written for it */
	char path[TMPDIR_LEN + 16];
	snprintf(path, sizeof(path), "%s/x.csv", dir);
	ck_assert_int_eq(cli("export --db %s --run 99 --out %s", db, path), 2);
	ck_assert_int_ne(access(path, F_OK), 0);
	ck_assert_int_eq(cli("export --db %s --run 1", db), 0);
}
END_TEST

/*
 * An error figure that is missing says why, in CSV (one missing_why column)
 * and JSON (missing_why: {figure: reason}), from what the database holds:
 * an exact method has no softmax figures, a case above --check-max-flops
 * has sampled rows only, a run without an oracle says so, and a case that
 * did not run says its status. A reason is given exactly where a figure is
 * missing.
 */
START_TEST(export_missing_why)
{
	char mdb[TMPDIR_LEN + 16];
	snprintf(mdb, sizeof(mdb), "%s/why.db", dir);
	/* N = 64: the full check (4 N^2 d = 1.3e5 flops) fits; N = 1024 (3.4e7) gets rows */
	ck_assert_msg(cli("sweep --db %s --methods 'flash,window[w=16],quest' --n 64,1024 --d 8 "
	                  "--causal=1 --quiet --roof-budget 0 --check-max-flops 3e5",
	                  mdb) == 0,
	              "%s", out);
	ck_assert_msg(cli("sweep --db %s --methods 'window[w=8]' --n 64 --d 8 --causal=1 --quiet "
	                  "--roof-budget 0 --check-max-flops 0",
	                  mdb) == 0,
	              "%s", out);
	ck_assert_msg(cli("export --db %s", mdb) == 0, "%s", out);
	ck_assert_msg(strstr(out, ",missing_why\n"), "%.3000s", out);
	ck_assert_msg(strstr(out, "rel_err_softmax, max_abs_err_softmax: not computed: flash is "
	                          "exact"),
	              "%s", out);
	char args[512];
	snprintf(args, sizeof(args), "export --format json --db %s", mdb);
	int rc = py_check(
	    args,
	    "errs = ['rel_err', 'max_abs_err', 'rel_err_softmax', 'max_abs_err_softmax']\n"
	    "seen = set()\n"
	    "for c in d['cases']:\n"
	    "    why, m = c['missing_why'], c['metrics']\n"
	    "    for e in errs:\n"
	    "        assert (m.get(e) is None) == (e in why), (c['method'], c['n'], e, why)\n"
	    "    key = (c['method'], c['params'], c['n'])\n"
	    "    if c['method'] == 'flash':\n"
	    "        assert set(why) == set(errs[2:]) and 'exact' in why['rel_err_softmax'], why\n"
	    "    elif c['method'] == 'quest':\n"
	    "        assert set(why) == set(errs) and 'unsupported' in why['rel_err'], why\n"
	    "    elif c['param'].get('w') == 8:\n"
	    "        assert set(why) == set(errs) and '--check-max-flops 0' in why['rel_err'], "
	    "why\n"
	    "    elif c['n'] == 64:\n"
	    "        assert why == {}, why\n"
	    "    else:\n"
	    "        assert set(why) == set(errs[:2]), why\n"
	    "        assert 'sampled' in why['rel_err'] and '3e+05' in why['rel_err'], why\n"
	    "    seen.add(key)\n"
	    "assert len(seen) == 7, seen\n"
	    "print('ok')");
	ck_assert_msg(rc == 0, "%s", out);
}
END_TEST

/* The number of series plot reports ("... : N series from run R"). */
static int series(void)
{
	const char *s = strstr(out, ".png: ");
	return s ? atoi(s + 6) : -1;
}

START_TEST(plot_dist_params_filters)
{
	char pd[TMPDIR_LEN + 16];
	snprintf(pd, sizeof(pd), "%s/plots", dir);
	ck_assert_msg(cli("plot --db %s --out %s", db, pd) == 0, "%s", out);
	int all = series();
	ck_assert_msg(all == 6, "%s", out); /* 3 methods x 2 distributions */
	ck_assert_msg(cli("plot --db %s --out %s --dist local", db, pd) == 0, "%s", out);
	ck_assert_msg(series() == 3, "%s", out);
	/* numbers compare as numbers; methods without the parameter drop out */
	ck_assert_msg(cli("plot --db %s --out %s --params w=16.0", db, pd) == 0, "%s", out);
	ck_assert_msg(series() == 2, "%s", out);
	ck_assert_msg(
	    cli("plot --db %s --out %s --params form=chunk,m=16 --dist gaussian", db, pd) == 0,
	    "%s", out);
	ck_assert_msg(series() == 1, "%s", out);
	/* the kept series' data is performer's only */
	char gp[TMPDIR_LEN + 32];
	snprintf(gp, sizeof(gp), "%s/time.gp", pd);
	FILE *f = fopen(gp, "r");
	ck_assert(f != NULL);
	static char text[65536];
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = 0;
	fclose(f);
	ck_assert_msg(strstr(text, "performer") && !strstr(text, "window"), "%s", text);
	/* a filter that keeps nothing, and bad values, exit 2 naming them */
	ck_assert_int_eq(cli("plot --db %s --out %s --params w=17", db, pd), 2);
	ck_assert_msg(strstr(out, "nothing to plot") && strstr(out, "of that shape"), "%s", out);
	ck_assert_int_eq(cli("plot --db %s --out %s --params w", db, pd), 2);
	ck_assert_msg(strstr(out, "--params 'w'"), "%s", out);
	ck_assert_int_eq(cli("plot --db %s --out %s --params w=16,", db, pd), 2);
	ck_assert_int_eq(cli("plot --db %s --out %s --dist uniform", db, pd), 2);
	ck_assert_msg(strstr(out, "--dist 'uniform'") && strstr(out, "needle"), "%s", out);
	ck_assert_int_eq(cli("plot --help"), 0);
	ck_assert_msg(strstr(out, "--dist") && strstr(out, "--params"), "%s", out);
}
END_TEST

/* ---- plot: panels of at most eight methods ------------------------------------------ */

static const char *const twelve[] = {"flash",     "softmax", "linear_elu", "performer",
                                     "cosformer", "rfa",     "retnet",     "gla",
                                     "window",    "dilated", "streaming",  "strided"};

static void sweep_twelve(void)
{
	setup();
	snprintf(db, sizeof(db), "%s/twelve.db", dir);
	char list[512] = "";
	for (int i = 0; i < 12; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? "," : "",
		         twelve[i]);
	int rc = cli("sweep --db %s --methods %s --n 32,64 --d 8 --causal=1 --quiet "
	             "--roof-budget 0 --min-time 0 --min-reps 2",
	             db, list);
	ck_assert_msg(rc == 0, "%s", out);
}

/*
 * A chart of twelve methods: several panels, each of at most eight methods
 * in distinct colours, and every method in exactly one of them. Read from
 * the script: each `plot` is a panel, each of its entries names a data file
 * (whose first line names the method) and its colour.
 */
START_TEST(plot_splits_panels)
{
	char pd[TMPDIR_LEN + 16], path[TMPDIR_LEN + 128];
	snprintf(pd, sizeof(pd), "%s/plots", dir);
	ck_assert_msg(cli("plot --db %s --out %s", db, pd) == 0, "%s", out);
	snprintf(path, sizeof(path), "%s/time.gp", pd);
	FILE *f = fopen(path, "r");
	ck_assert(f != NULL);
	static char gp[1 << 17];
	size_t n = fread(gp, 1, sizeof(gp) - 1, f);
	gp[n] = 0;
	fclose(f);
	ck_assert_ptr_nonnull(strstr(gp, "set multiplot"));
	int panel_of[12], panels = 0;
	for (int i = 0; i < 12; i++)
		panel_of[i] = -1;
	for (const char *pl = strstr(gp, "\nplot "); pl; pl = strstr(pl + 1, "\nplot ")) {
		const char *end = strstr(pl + 1, "\nset ");
		end = end ? end : pl + strlen(pl);
		char colour[8][8];
		int methods = 0;
		for (const char *e = strstr(pl, "'time_"); e && e < end;
		     e = strstr(e + 1, "'time_")) {
			char dat[64], head[256] = "", *lc = strstr(e, "lc rgb '");
			snprintf(dat, sizeof(dat), "%.*s", (int)strcspn(e + 1, "'"), e + 1);
			snprintf(path, sizeof(path), "%s/%s", pd, dat);
			FILE *d = fopen(path, "r");
			ck_assert_msg(d != NULL, "%s", path);
			ck_assert_ptr_nonnull(fgets(head, sizeof(head), d));
			fclose(d);
			int m = -1;
			for (int i = 0; i < 12; i++)
				if (strncmp(head + 2, twelve[i], strlen(twelve[i])) == 0 &&
				    head[2 + strlen(twelve[i])] == ' ')
					m = i;
			ck_assert_msg(m >= 0, "%s: %s", dat, head);
			ck_assert_msg(panel_of[m] < 0, "%s in panels %d and %d", twelve[m],
			              panel_of[m], panels);
			panel_of[m] = panels;
			ck_assert_int_lt(methods, 8);
			ck_assert(lc && lc < end);
			snprintf(colour[methods], 8, "%.7s", lc + 8);
			for (int j = 0; j < methods; j++)
				ck_assert_msg(strcmp(colour[j], colour[methods]) != 0,
				              "panel %d: colour %s twice", panels, colour[j]);
			methods++;
		}
		ck_assert_int_gt(methods, 0);
		panels++;
	}
	ck_assert_int_eq(panels, 2); /* twelve methods: ceil(12 / 8) panels */
	for (int i = 0; i < 12; i++)
		ck_assert_msg(panel_of[i] >= 0, "%s is in no panel", twelve[i]);
	/* one image, every series counted */
	ck_assert_msg(strstr(out, "time.png: 12 series"), "%s", out);
}
END_TEST

/* The text of a gnuplot single-quoted string at q (after its quote), into buf. */
static size_t gp_string(const char *q, char *buf, size_t len)
{
	size_t n = 0;
	for (; *q && n + 1 < len; q++) {
		if (*q == '\'' && q[1] != '\'')
			break;
		buf[n++] = *q;
		q += *q == '\'';
	}
	buf[n] = 0;
	return n;
}

/*
 * A memory chart of twelve methods: a column of panels per measure (its
 * titles name them), a row per group of methods, and under each row one
 * legend that lies inside the image and below the row's x axis, judged by
 * the width estimate the chart uses (report.h): as many columns as its
 * maxrows makes, each as wide as its longest label, fit the image's width,
 * and its rows fit above the image's bottom.
 */
START_TEST(plot_memory_legend_inside)
{
	char pd[TMPDIR_LEN + 16], path[TMPDIR_LEN + 128];
	snprintf(pd, sizeof(pd), "%s/mem", dir);
	ck_assert_msg(cli("plot --db %s --metric memory --out %s", db, pd) == 0, "%s", out);
	snprintf(path, sizeof(path), "%s/memory.gp", pd);
	FILE *f = fopen(path, "r");
	ck_assert(f != NULL);
	static char gp[1 << 18];
	size_t n = fread(gp, 1, sizeof(gp) - 1, f);
	gp[n] = 0;
	fclose(f);
	double w = 0, h = 0;
	const char *t = strstr(gp, "pngcairo noenhanced size ");
	ck_assert(t && sscanf(t, "pngcairo noenhanced size %lf,%lf", &w, &h) == 2);
	const char *measures[] = {"declared workspace", "measured: tracked peak",
	                          "measured: RSS growth"};
	for (int m = 0; m < 3; m++)
		ck_assert_msg(strstr(gp, measures[m]), "no panel titled %s", measures[m]);
	int keys = 0;
	for (const char *k = strstr(gp, "set key at screen "); k;
	     k = strstr(k + 1, "set key at screen ")) {
		double x, y;
		int maxrows;
		ck_assert(sscanf(k, "set key at screen %lf,screen %lf center top maxrows %d", &x,
		                 &y, &maxrows) == 3);
		/* the plot's bottom edge, set just before its key */
		const char *b = k;
		while (b > gp && strncmp(b, "set bmargin at screen ", 22) != 0)
			b--;
		double bottom = 0;
		ck_assert(sscanf(b, "set bmargin at screen %lf", &bottom) == 1);
		const char *pl = strstr(k, "\nplot ");
		ck_assert(pl != NULL);
		const char *end = strstr(pl + 1, "\nset ");
		end = end ? end : pl + strlen(pl);
		int entries = 0;
		size_t widest = 0;
		for (const char *e = strstr(pl, " title '"); e && e < end;
		     e = strstr(e + 1, " title '")) {
			char label[512];
			size_t len = gp_string(e + 8, label, sizeof(label));
			widest = len > widest ? len : widest;
			entries++;
		}
		ck_assert_int_gt(entries, 0);
		int cols = (entries + maxrows - 1) / maxrows;
		double key_w = cols * (widest * ATTN_CHART_CHAR_PX + ATTN_CHART_KEY_COL_PX);
		ck_assert_msg(x * w - key_w / 2 >= 0 && x * w + key_w / 2 <= w,
		              "legend of %d columns of %zu characters (%.0f px) outside %.0f px",
		              cols, widest, key_w, w);
		ck_assert_msg(y < bottom, "legend top %.3f over the plot (bottom %.3f)", y, bottom);
		ck_assert_msg(y * h - maxrows * ATTN_CHART_KEY_ROW_PX >= 0,
		              "legend of %d rows below the image", maxrows);
		keys++;
	}
	ck_assert_int_eq(keys, 2); /* a legend per row: twelve methods, two rows */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("io");
	TCase *tc = tcase_create("list and info");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, list_support_matrix);
	tcase_add_test(tc, list_json);
	tcase_add_test(tc, info_json);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	tc = tcase_create("export and plot");
	tcase_add_unchecked_fixture(tc, sweep_small, swept_remove);
	tcase_add_test(tc, export_columns_units_provenance);
	tcase_add_test(tc, export_missing_run);
	tcase_add_test(tc, export_missing_why);
	tcase_add_test(tc, plot_dist_params_filters);
	tcase_set_timeout(tc, 240);
	suite_add_tcase(s, tc);
	tc = tcase_create("panels");
	tcase_add_unchecked_fixture(tc, sweep_twelve, swept_remove);
	tcase_add_test(tc, plot_splits_panels);
	tcase_add_test(tc, plot_memory_legend_inside);
	tcase_set_timeout(tc, 240);
	suite_add_tcase(s, tc);
	return attn_test_run(s, CK_NORMAL);
}
