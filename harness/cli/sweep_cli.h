/*
 * The sweep driver behind a command line: the part of `attnbench sweep`
 * that `figures` shares, so that a figure set's sweeps print, stop on
 * Ctrl-C and exit like `sweep` itself.
 */
#ifndef ATTNBENCH_SWEEP_CLI_H
#define ATTNBENCH_SWEEP_CLI_H

#include <stdint.h>

#include "attnbench/driver.h"

/*
 * Open (or create) db_path, run the sweep with the progress printed as
 * `sweep` prints it (quiet: warnings and the summary of a stopped sweep
 * only), SIGINT/SIGTERM stopping it once the run is recorded; with
 * opt->dry_run, print the cases instead. The exit code (cli.h); *run_id
 * (when non-NULL) the run it recorded into, 0 if none.
 */
int cli_sweep_run(const struct attn_sweep_spec *spec, struct attn_sweep_options *opt,
                  const struct attn_registry *reg, const char *db_path, int quiet, int64_t *run_id);

/* --shard I/N's text into opt; 0, or -1 after the error naming it. */
int cli_shard_arg(const char *verb, const char *text, struct attn_sweep_options *opt);

#endif /* ATTNBENCH_SWEEP_CLI_H */
