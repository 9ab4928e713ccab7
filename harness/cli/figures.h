/*
 * The survey's figures that are not a chart of one metric (those go through
 * plot_chart in plot.h), each drawn by gnuplot for `attnbench figures`.
 * Every function reads its data and writes its data files once, then for
 * each of `formats` (png or svg) writes DIR/NAME.gp and runs gnuplot to
 * DIR/NAME.FORMAT; it fills `caption` with the figure's caption and returns
 * an exit code (cli.h), having printed why.
 */
#ifndef ATTNBENCH_FIGURES_H
#define ATTNBENCH_FIGURES_H

#include <sqlite3.h>
#include <stddef.h>
#include <string.h>

#include "attnbench/registry.h"

/*
 * Split a line of the workloads/figures files ("a | b | c") in place: the
 * first max - 1 fields at their bars, the last stored one holding the rest
 * of the line; each stored field is trimmed of blanks and the line end.
 * Returns how many fields the line has (bars + 1), which may exceed max.
 */
static inline int fig_split_fields(char *line, char **field, int max)
{
	int n = 1;
	for (const char *q = line; (q = strchr(q, '|')); q++)
		n++;
	char *p = line;
	for (int i = 0; i < max && i < n; i++) {
		char *bar = i < max - 1 ? strchr(p, '|') : NULL;
		if (bar)
			*bar = 0;
		field[i] = p + strspn(p, " \t");
		size_t len = strlen(field[i]);
		while (len && strchr(" \t\r\n", field[i][len - 1]))
			field[i][--len] = 0;
		p = bar ? bar + 1 : p;
	}
	return n;
}

/*
 * Survey Fig. 1 from the taxonomy file (branch | sub-category | example |
 * plugin lines) and the registry: a leaf whose plugin is registered is
 * marked with it, one whose plugin is '-' or not registered says "not
 * implemented", and registered methods no line names are added under their
 * family. EXIT_USAGE for a malformed file, naming the file and line.
 */
int fig_taxonomy(const struct attn_registry *reg, const char *taxonomy_path, const char *dir,
                 const char *name, const char *const *formats, int n_formats, char *caption,
                 size_t caption_len);

/*
 * Survey Fig. 3: the kept-block masks stored by `sweep --dump-mask` in run
 * `run`, one heat map per (method, params) — the largest N of the run that
 * has a mask, prefill, causal preferred — in a grid, each titled with the
 * method, its parameters, N, block grid and density (metric "density" when
 * stored, else the kept fraction of the mask's blocks, saying which).
 * EXIT_USAGE when the run has no masks (saying how to get them), EXIT_DB.
 */
int fig_masks(sqlite3 *db, const char *db_path, long run, const char *dir, const char *name,
              const char *const *formats, int n_formats, char *caption, size_t caption_len);

#endif /* ATTNBENCH_FIGURES_H */
