/*
 * The figures of `attnbench figures` that are not charts of one metric
 * (those go through plot_chart in plot.h): the taxonomy and the masks.
 */
#ifndef ATTNBENCH_FIGURES_H
#define ATTNBENCH_FIGURES_H

#include <sqlite3.h>
#include <stddef.h>

#include "attnbench/registry.h"

int fig_taxonomy(const struct attn_registry *reg, const char *taxonomy_path, const char *dir,
                 const char *name, const char *format, char *caption, size_t caption_len);

int fig_masks(sqlite3 *db, const char *db_path, long run, const char *dir, const char *name,
              const char *format, char *caption, size_t caption_len);

#endif /* ATTNBENCH_FIGURES_H */
