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

/*
 * The measurement protocol: every setting of a sweep that changes how a
 * case is measured, beyond the spec that says which cases there are. It is
 * stored with the run, one run_info key per field (attn_protocol_keys) and
 * ATTN_PROTOCOL_KEY = ATTN_PROTOCOL_VERSION to say it is there, so that
 * --resume measures the rest of a run the way its first part was measured.
 * Each field is one sweep option (attn_protocol_options), except
 * spec_options: the options line of the spec file the run was started
 * with, kept as written.
 */
enum attn_protocol_field {
	ATTN_PROTO_TIMEOUT,
	ATTN_PROTO_MAX_CALL,
	ATTN_PROTO_WARMUP,
	ATTN_PROTO_MIN_TIME,
	ATTN_PROTO_MIN_REPS,
	ATTN_PROTO_MAX_REPS,
	ATTN_PROTO_MIN_SAMPLE,
	ATTN_PROTO_CHECK_MAX_FLOPS,
	ATTN_PROTO_MEM_LIMIT,
	ATTN_PROTO_COUNTERS,
	ATTN_PROTO_BIND,
	ATTN_PROTO_COLD_CACHE,
	ATTN_PROTO_DUMP_MASK,
	ATTN_PROTO_INTERLEAVE,
	ATTN_PROTO_ROOF_PROBE,
	ATTN_PROTO_ROOF_BUDGET,
	ATTN_PROTO_SPEC_OPTIONS,
	ATTN_PROTO_COUNT
};

#define ATTN_PROTOCOL_KEY     "protocol_version"
#define ATTN_PROTOCOL_VERSION "1"

struct attn_sweep_protocol {
	/*
	 * The runner's options; the protocol is their timeout_s, max_call_s,
	 * warmup_s, min_time_s, min_reps, max_reps, min_sample_s,
	 * check_max_flops, mem_limit (0: 90% of MemAvailable), counters (NULL:
	 * the default set), bind, flush_bytes (--cold-cache: the bytes
	 * touched), dump_mask and roof_probe.
	 */
	struct attn_run_opts ro;
	int interleave;      /* 1: --interleave, 0: --no-interleave */
	double roof_budget;  /* --roof-budget seconds */
	const char *options; /* the spec file's options line; NULL: none */
};

/* The run_info key of each field ("min_reps") and the option that sets it ("--min-reps"). */
extern const char *const attn_protocol_keys[ATTN_PROTO_COUNT];
extern const char *const attn_protocol_options[ATTN_PROTO_COUNT];

/*
 * The text of one field as stored: reals in the shortest form that reads
 * back to the same double, counters "default" for NULL, bind by name,
 * spec_options "" for none. Returns the length it needed, like snprintf.
 */
int attn_protocol_format(const struct attn_sweep_protocol *p, enum attn_protocol_field f,
			 char *buf, size_t len);

/*
 * Set one field from its stored text; err names the key and the text when
 * it does not parse. ro.counters and options point into `text`, which must
 * outlive them.
 */
int attn_protocol_parse(struct attn_sweep_protocol *p, enum attn_protocol_field f,
			const char *text, char *err, size_t errlen);

/*
 * A plugin's identity for the record: "fnv1a64:" and 16 hex digits, the
 * 64-bit FNV-1a hash of the shared object's bytes, which changes when the
 * plugin is rebuilt from other code. ATTN_ERR_IO when it cannot be read.
 */
int attn_plugin_fingerprint(const char *path, char *buf, size_t len, char *err, size_t errlen);

#endif /* ATTNBENCH_SWEEP_H */
