/*
 * Shared pieces of the attnbench command line: the verbs, exit codes, and
 * the option helpers every verb uses. Only the CLI prints and exits.
 */
#ifndef ATTNBENCH_CLI_H
#define ATTNBENCH_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "attnbench/registry.h"

/* Exit codes, documented in `attnbench --help` and the README. */
enum cli_exit {
	EXIT_OK = 0,           /* everything ran and passed */
	EXIT_CASES = 1,        /* a case crashed, timed out, failed or failed its check */
	EXIT_USAGE = 2,        /* a bad option, spec, method, file or plugin */
	EXIT_DB = 3,           /* the database is locked, corrupt, foreign or unwritable */
	EXIT_INCOMPLETE = 4,   /* merge: merged, but a sharded sweep lacks shards or cases */
	EXIT_INTERRUPTED = 130 /* stopped by SIGINT or SIGTERM; finished cases are kept */
};

int cmd_list(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_fit(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_figures(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_merge(int argc, char **argv);

/* Print "attnbench VERB: message" to stderr. */
void cli_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The registry with the built-ins, the ATTNBENCH_PLUGIN_PATH plugins and the
 * --plugin files given (NULL-terminated); NULL after printing the error.
 */
struct attn_registry *cli_registry(const char *verb, char **plugins, int n_plugins);

/* Parse a number with an optional k/M/G (powers of 1024) suffix. */
int cli_parse_size(const char *text, size_t *out);
/* Parse a non-negative real ("0.5"); -1 on error. */
int cli_parse_real(const char *text, double *out);
int cli_parse_int(const char *text, long lo, long hi, long *out);
/* Parse --run ID (>= 1); -1 after printing "attnbench VERB: --run ...". */
int cli_parse_run(const char *verb, const char *text, long *run);

/*
 * ATTNBENCH_INJECT_SLOWDOWN=method:factor, for testing the regression gate
 * only: the method must be registered and the factor a real in (1, 10].
 * Puts it into ro->inject_method/inject_factor and prints one warning line;
 * `value` (if non-NULL) receives the variable's text, NULL when unset.
 * 0 when unset or valid, -1 after printing the error (exit 2).
 */
struct attn_run_opts;
int cli_inject_slowdown(const char *verb, const struct attn_registry *reg, struct attn_run_opts *ro,
                        const char **value);

/* Human-readable duration ("1.23 ms"). */
const char *cli_fmt_ns(double ns, char *buf, size_t len);
const char *cli_fmt_bytes(double b, char *buf, size_t len);

/*
 * A table: the head's cols names, then n rows of cols cells, each cell_len
 * bytes (row-major in `cells`); columns padded to their widest cell,
 * separated by two spaces, or as a Markdown table.
 */
void cli_table_print(const char *const *head, int cols, const char *cells, size_t cell_len, int n,
                     int markdown);

/* s as a JSON string literal (null for NULL). */
void cli_json_str(FILE *f, const char *s);
/* `, "name": v` as a JSON member, null for a NaN or infinite v. */
void cli_json_real(FILE *f, const char *name, double v);

/*
 * The newest run of st with an ok case, or `run` if it has one (run 0: any);
 * 0 when there is none, -1 when the query fails (the store's connection has
 * the message). The query is attn_query_latest_ok_run's.
 */
struct attn_store;
long cli_latest_ok_run(struct attn_store *st, long run);

/* The folder holding workloads/ (ATTNBENCH_DATA_DIR or the source tree). */
const char *cli_data_dir(void);

#endif /* ATTNBENCH_CLI_H */
