/*
 * The survey's figures, each drawn by gnuplot from a results database by
 * `attnbench figures`. Every function writes DIR/NAME.gp with its data
 * files, runs gnuplot to DIR/NAME.FORMAT (png or svg), fills `caption` with
 * the figure's caption and returns an exit code (cli.h), having printed why.
 */
#ifndef ATTNBENCH_FIGURES_H
#define ATTNBENCH_FIGURES_H

#include <sqlite3.h>
#include <stddef.h>

/*
 * Draw survey Fig. 3: the kept-block masks stored by `sweep --dump-mask` in run `run`, one heat map
 * per (method, params) — the largest N of the run that has a mask, prefill, causal preferred —
 * in a grid (multiplot), each titled with the method, its parameters, N, block grid and the density
 * (metric "density" when stored, else the kept fraction of the mask's blocks, saying which).
 * Writes DIR/NAME.gp, one DIR/NAME_XX.dat matrix per panel, runs gnuplot to DIR/NAME.FORMAT.
 * Fills caption. EXIT_OK, EXIT_USAGE (no masks in the run: say so and how to get them), EXIT_DB.
 */
int fig_masks(sqlite3 *db, const char *db_path, long run, const char *dir, const char *name,
              const char *format, char *caption, size_t caption_len);

#endif /* ATTNBENCH_FIGURES_H */
