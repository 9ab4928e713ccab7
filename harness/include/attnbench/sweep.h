/*
 * A sweep: the grid of cases a spec describes, and the spec's canonical text.
 *
 * A spec is a set of `key = value` settings, one per line in a spec file
 * (workloads/presets/NAME.spec) and the same keys as sweep options on the
 * command line (--kv-heads sets kv_heads). '#' starts a comment. Keys:
 *   methods   method list (spec.h grammar)            default: all
 *   n         sequence lengths (axis grammar)         default: 256..4096x2
 *   d         head dimensions                         default: 64
 *   heads     query heads                             default: 1
 *   kv_heads  key/value heads; "heads" = same as heads default: heads
 *   batch     batch sizes                             default: 1
 *   threads   thread counts                           default: 1
 *   causal    0, 1 or both                            default: 0
 *   mode      prefill, decode or both                 default: prefill
 *   dist      distributions, comma-separated          default: gaussian
 *   seed      the workload seed                       default: 42
 * A spec file may also carry `options = --min-reps 15 --roof-probe ...`:
 * `attnbench sweep` options (words separated by blanks, no quoting) that
 * --preset/--spec apply as if given before the command line's own, which
 * override them. They are not part of the spec: the loader keeps them
 * apart, in sp->options, and the canonical text leaves them out.
 * The canonical text lists every key in this order with its value as given;
 * it is stored on the run and is what --resume re-expands.
 */
#ifndef ATTNBENCH_SWEEP_H
#define ATTNBENCH_SWEEP_H

#include <stddef.h>

#include "attnbench/registry.h"
#include "attnbench/runner.h"

#define ATTN_SWEEP_KEYS 11

struct attn_sweep_spec {
	char *value[ATTN_SWEEP_KEYS]; /* malloc'd text per key, in sweep_keys order */
	char *options; /* the `options` lines, joined by blanks (malloc'd); NULL: none */
};

/* The key names, in canonical order. */
extern const char *const attn_sweep_keys[ATTN_SWEEP_KEYS];

/* A spec with every key at its default. */
int attn_sweep_spec_init(struct attn_sweep_spec *sp);
void attn_sweep_spec_free(struct attn_sweep_spec *sp);

/* Set one key ("kv-heads" and "kv_heads" both name kv_heads). */
int attn_sweep_spec_set(struct attn_sweep_spec *sp, const char *key, const char *value, char *err,
			size_t errlen);

/* Read settings from a spec file (or canonical text) on top of sp. */
int attn_sweep_spec_load_text(struct attn_sweep_spec *sp, const char *text, const char *origin,
			      char *err, size_t errlen);
int attn_sweep_spec_load_file(struct attn_sweep_spec *sp, const char *path, char *err,
			      size_t errlen);

/* Canonical text (malloc'd). */
char *attn_sweep_spec_text(const struct attn_sweep_spec *sp);

struct attn_case_list {
	int count;
	struct attn_case *items; /* malloc'd */
};

/*
 * Expand the spec into its cases, validating every value first: nothing
 * runs when any part of the spec is malformed, and err names the key, the
 * offending token and what was expected.
 */
int attn_sweep_expand(const struct attn_sweep_spec *sp, const struct attn_registry *reg,
		      struct attn_case_list *out, char *err, size_t errlen);
void attn_case_list_free(struct attn_case_list *list);

#endif /* ATTNBENCH_SWEEP_H */
