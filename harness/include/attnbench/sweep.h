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
 * A spec file may also hold sweep settings, one key per option of
 * `attnbench sweep` that changes how a case is measured (attn_sweep_setting_keys,
 * the option's name with '_' for '-'):
 *   timeout = 120   max_call_time = 60   warmup = 0.05   min_time = 0.2
 *   min_reps = 5    max_reps = 1000      min_sample = 0.0005
 *   check_max_flops = 2e9   mem_limit = 8G   counters = perf::TASK-CLOCK
 *   bind = compact  roof_budget = 3
 *   cold_cache, dump_mask, interleave, roof_probe = 0 or 1
 * They are checked as they are read (the message names file and line) and
 * kept apart from the spec's keys, in sp->setting: the canonical text leaves
 * them out. The command line's options override them. The old
 * `options = --min-reps 15 ...` line is refused, saying what to write.
 * The canonical text lists every key in this order with its value as given;
 * it is stored on the run and is what --resume re-expands.
 */
#ifndef ATTNBENCH_SWEEP_H
#define ATTNBENCH_SWEEP_H

#include <stddef.h>

#include "attnbench/registry.h"
#include "attnbench/runner.h"

#define ATTN_SWEEP_KEYS 11

/*
 * The measurement protocol: every setting of a sweep that changes how a
 * case is measured, beyond the spec that says which cases there are. It is
 * stored with the run, one run_info key per field (attn_protocol_keys) and
 * ATTN_PROTOCOL_KEY = ATTN_PROTOCOL_VERSION to say it is there, so that
 * --resume measures the rest of a run the way its first part was measured.
 * Each field is one sweep option (attn_protocol_options), except
 * spec_options: the settings of the spec file the run was started with,
 * as the options they stand for (attn_sweep_spec_options).
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

/* The settings a spec file may hold: every protocol field but spec_options. */
#define ATTN_SWEEP_SETTINGS ATTN_PROTO_SPEC_OPTIONS

struct attn_sweep_spec {
	char *value[ATTN_SWEEP_KEYS]; /* malloc'd text per key, in sweep_keys order */
	/* Each setting's text as written (malloc'd), by protocol field; NULL: not set. */
	char *setting[ATTN_SWEEP_SETTINGS];
	/* The settings in the order they were first set, for spec_options. */
	int order[ATTN_SWEEP_SETTINGS];
	int n_settings;
};

/* The key names, in canonical order. */
extern const char *const attn_sweep_keys[ATTN_SWEEP_KEYS];

/* A spec with every key at its default. */
int attn_sweep_spec_init(struct attn_sweep_spec *sp);
void attn_sweep_spec_free(struct attn_sweep_spec *sp);

/* The settings' keys ("min_reps"), by protocol field. */
extern const char *const attn_sweep_setting_keys[ATTN_SWEEP_SETTINGS];

/*
 * Set one key ("kv-heads" and "kv_heads" both name kv_heads): a spec key,
 * kept as text and checked by attn_sweep_expand, or a setting, checked
 * now (attn_sweep_setting_parse).
 */
int attn_sweep_spec_set(struct attn_sweep_spec *sp, const char *key, const char *value, char *err,
                        size_t errlen);

/* Read settings from a spec file (or canonical text) on top of sp. */
int attn_sweep_spec_load_text(struct attn_sweep_spec *sp, const char *text, const char *origin,
                              char *err, size_t errlen);
int attn_sweep_spec_load_file(struct attn_sweep_spec *sp, const char *path, char *err,
                              size_t errlen);

/* Canonical text (malloc'd). */
char *attn_sweep_spec_text(const struct attn_sweep_spec *sp);

/*
 * The settings sp holds as the sweep options they stand for, in the order
 * they were set ("--min-reps 15 --roof-probe"; a flag at 0 is left out,
 * but interleave = 0 is --no-interleave): what a run records as
 * spec_options, the same text the options line of a spec file used to
 * give (so that a run recorded before resumes with the same file). NULL
 * when sp holds no settings or memory runs out (*nomem set).
 */
char *attn_sweep_spec_options(const struct attn_sweep_spec *sp, int *nomem);

/*
 * A one-line description of a case for progress lines: "flash[bq=64] n=256
 * d=64 h=1/1 b=1 prefill t=1 gaussian".
 */
void attn_case_describe(const struct attn_case *c, char *buf, size_t len);

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
	const char *options; /* the spec file's settings as options (spec_options); NULL: none */
	/*
	 * --cold-cache as given: the sweep sets ro.flush_bytes from the
	 * last-level cache when it starts. Not a field of its own: the record
	 * is cold_cache_bytes.
	 */
	int cold_cache;
};

/* The run_info key of each field ("min_reps") and the option that sets it ("--min-reps"). */
extern const char *const attn_protocol_keys[ATTN_PROTO_COUNT];
extern const char *const attn_protocol_options[ATTN_PROTO_COUNT];

/*
 * The text of one field as stored: reals in the shortest form that reads
 * back to the same double, counters "default" for NULL, bind by name,
 * spec_options "" for none. Returns the length it needed, like snprintf.
 */
int attn_protocol_format(const struct attn_sweep_protocol *p, enum attn_protocol_field f, char *buf,
                         size_t len);

/*
 * Set setting f of p from text as a user writes it (on the command line,
 * or in a spec file): reals, counts and sizes ("8G") checked against the
 * option's range, flags 0 or 1 (cold_cache sets p->cold_cache), the
 * message naming `name` ("--min-reps" or "min_reps") and the text, e.g.
 * "--min-reps 'zz': expected a whole number in 1..1000000". ro.counters
 * points into `text`, which must outlive it.
 */
int attn_sweep_setting_parse(struct attn_sweep_protocol *p, enum attn_protocol_field f,
                             const char *text, const char *name, char *err, size_t errlen);

/*
 * Set one field from its stored text; err names the key and the text when
 * it does not parse. ro.counters and options point into `text`, which must
 * outlive them.
 */
int attn_protocol_parse(struct attn_sweep_protocol *p, enum attn_protocol_field f, const char *text,
                        char *err, size_t errlen);

/*
 * A plugin's identity for the record: "fnv1a64:" and 16 hex digits, the
 * 64-bit FNV-1a hash of the shared object's bytes, which changes when the
 * plugin is rebuilt from other code. ATTN_ERR_IO when it cannot be read.
 */
int attn_plugin_fingerprint(const char *path, char *buf, size_t len, char *err, size_t errlen);

#endif /* ATTNBENCH_SWEEP_H */
