/*
 * The attnbench method plugin ABI, version 2.
 *
 * An attention method is one constant `struct attn_method` descriptor, in the
 * way SQLite describes a VFS: a version field, a unique name, what the method
 * is (family, exactness, complexity), a `data` pointer for the method's own
 * configuration and a handful of function pointers the harness calls, each
 * handed the descriptor it belongs to (as every sqlite3_vfs callback gets its
 * sqlite3_vfs*). So one set of functions serves many methods - an engine's
 * callbacks read which variant they run from m->data - and a method built on
 * an engine is a descriptor that names the engine's functions and its data. Built-in methods live
 * in methods/<family>/<name>.c and export `attn_method_<name>`; external plugins are shared objects
 * that export ATTN_PLUGIN_ENTRY (see the bottom of this file).
 *
 * This header is self-contained on purpose: an external plugin compiles
 * against it alone and links against nothing of attnbench.
 *
 * Conventions every function here relies on:
 *  - Tensors are float32, row-major. Q and O are (B, H, NQ, D); K and V are
 *    (B, KVH, N, D), where KVH divides H (grouped-query attention: query head
 *    h reads key/value head h / (H / KVH)).
 *  - Prefill: NQ == N, query i sits at position i. Decode: NQ == 1 and the
 *    single query sits at position N - 1, after a context of N keys that the
 *    method may digest into a cache or state in prepare() (untimed).
 *  - Causal masks key j for query at position i when j > i. Scores are scaled
 *    by 1/sqrt(D).
 *  - The harness owns every buffer. forward() never allocates: the scratch
 *    it needs is declared exactly by workspace_bytes() and handed in as `ws`
 *    (64-byte aligned).
 */
#ifndef ATTNBENCH_METHOD_H
#define ATTNBENCH_METHOD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Version 2 (this header) differs from version 1 in two things only: every
 * callback takes `const struct attn_method *m`, the descriptor, first; and
 * the descriptor has `data` (after `params`, before the callbacks). Version 1
 * plugins still load: the harness wraps each of their descriptors in a
 * version 2 one (see "Compatibility" at the bottom of this file).
 */
#define ATTN_ABI_VERSION 2

/* The survey's branches (Fig. 1); `full` is exact softmax attention. */
enum attn_family {
	ATTN_FAMILY_FULL = 0,
	ATTN_FAMILY_LINEAR = 1,
	ATTN_FAMILY_SPARSE = 2,
	ATTN_FAMILY_HYBRID = 3
};

enum attn_mode { ATTN_MODE_PREFILL = 0, ATTN_MODE_DECODE = 1 };

/* Status codes shared by plugins and the harness: 0 ok, negative error. */
enum attn_status {
	ATTN_OK = 0,
	ATTN_ERR_INVALID = -1,     /* a bad argument or value */
	ATTN_ERR_UNSUPPORTED = -2, /* a shape or parameter the method cannot take */
	ATTN_ERR_NOMEM = -3,       /* an allocation failed */
	ATTN_ERR_IO = -4,          /* a file could not be read or written */
	ATTN_ERR_FORMAT = -5,      /* a file or text is malformed */
	ATTN_ERR_NOTFOUND = -6,    /* no such method, file, run or symbol */
	ATTN_ERR_ABI = -7,         /* a plugin built for another ABI version */
	ATTN_ERR_DUPLICATE = -8,   /* a name already registered */
	ATTN_ERR_DB = -9,          /* the database refused (locked, corrupt, full) */
	ATTN_ERR_INTERNAL = -10    /* a bug: please report it */
};

/* One case's shape. */
struct attn_shape {
	int64_t batch;    /* B */
	int64_t heads;    /* H, query heads */
	int64_t kv_heads; /* KVH, divides H */
	int64_t n;        /* N, keys (and queries in prefill) */
	int64_t d;        /* D, head dimension of Q, K and V */
	int causal;       /* 1: key j hidden from the query at position i < j */
	enum attn_mode mode;
};

/* Number of query rows per head: N in prefill, 1 in decode. */
static inline int64_t attn_shape_nq(const struct attn_shape *s)
{
	return s->mode == ATTN_MODE_DECODE ? 1 : s->n;
}

enum attn_param_type {
	ATTN_PARAM_INT = 0,  /* a whole number in [min, max] */
	ATTN_PARAM_REAL = 1, /* a real number in [min, max] */
	ATTN_PARAM_ENUM = 2  /* one of `choices`, stored as its index */
};

#define ATTN_MAX_PARAMS 16

/*
 * A tunable parameter. `choices` lists an enum's values separated by '|'
 * ("parallel|recurrent|chunk"); min and max are then ignored.
 * A parameter named "form" is the method's form: sweeps record it in its own
 * column so forms are compared like methods.
 */
struct attn_param_spec {
	const char *name;
	enum attn_param_type type;
	double def;
	double min;
	double max;
	const char *choices;
	const char *help;
};

/* Parameter values, in the order of the descriptor's `params` array. */
struct attn_params {
	int count;
	double v[ATTN_MAX_PARAMS];
};

/*
 * Extra inputs a method may ask the workload for, as a bit set in
 * `attn_method.inputs`; absent ones are NULL. Values are seeded and
 * generated in realistic ranges by the harness, never learned.
 */
enum attn_input_flag {
	ATTN_INPUT_LOG_GATE = 1u << 0, /* (B, H, N): log forget gate, < 0 */
	ATTN_INPUT_GATE_VEC = 1u << 1, /* (B, H, N, D): per-key-dim log gates, < 0 */
	ATTN_INPUT_BETA = 1u << 2      /* (B, H, N): delta-rule step in (0, 1) */
};

struct attn_inputs {
	const float *q;        /* (B, H, NQ, D) */
	const float *k;        /* (B, KVH, N, D) */
	const float *v;        /* (B, KVH, N, D) */
	const float *log_gate; /* (B, H, N) or NULL */
	const float *gate_vec; /* (B, H, N, D) or NULL */
	const float *beta;     /* (B, H, N) or NULL */
};

/*
 * What the harness hands forward() besides the data. The fields after seed
 * were added within ABI version 1 (the harness owns this struct; a plugin
 * that does not know them never reads them): callbacks through which a
 * method may hand the harness figures that only it knows. Each may be NULL.
 *   report:    a figure of this call, stored as a metric of the case (the
 *              mean over the timed calls): "density" (kept fraction of the
 *              causal or full score matrix, unit "1"), "flops_computed"
 *              (FLOPs of the work actually done, "flop"), "routing_ns" (time
 *              spent choosing what to compute, "ns"); and "param.NAME"
 *              (unit "1"), the value a method used for its parameter NAME
 *              when the given one meant "choose" (0: auto) or was cut to
 *              the shape (kmeans' clusters=0 reports param.clusters 16 at
 *              N = 256), so that titles and exports show what ran. Names
 *              are [a-z0-9_.], units [a-zA-Z0-9_/]; others are dropped.
 *   dump_mask: the kept-block mask of head bh, (nqb, nkb) bytes, 0 skipped,
 *              else kept: 255 whole, 2..253 a partial block's kept fraction
 *              f as 2 + 252·f, 1 kept with the fraction unknown; set only
 *              on an untimed call when the user asked for masks.
 * Call them from the thread that called forward(), outside any parallel
 * region: they are not thread-safe.
 */
struct attn_ctx {
	int threads;   /* threads the method may use (OpenMP or its own) */
	uint64_t seed; /* the case's seed, for anything random */
	/* Optional figures of this call (NULL when not collected): see the harness. */
	void (*report)(const struct attn_ctx *ctx, const char *name, double value,
	               const char *unit);
	void (*dump_mask)(const struct attn_ctx *ctx, int64_t bh, int64_t nqb, int64_t nkb,
	                  const uint8_t *mask);
	void *harness; /* the harness's, for the callbacks */
};

/* Descriptor flags. */
enum attn_method_flag {
	ATTN_METHOD_EXACT = 1u << 0,       /* equals softmax attention up to rounding */
	ATTN_METHOD_ORACLE_ONLY = 1u << 1, /* a reference: not in default sweeps */
	ATTN_METHOD_USES_BLAS = 1u << 2    /* threads come from OpenBLAS, not OpenMP */
};

struct attn_method {
	int abi_version;  /* ATTN_ABI_VERSION; stays the first field in every version */
	const char *name; /* unique, [a-z0-9_]+ */
	enum attn_family family;
	const char *category; /* the survey's sub-category, e.g. "softmax" */
	const char *summary;  /* one line */
	const char *citation; /* paper or system it reproduces */
	unsigned flags;       /* enum attn_method_flag */
	double time_exp;      /* theoretical prefill time is O(N^time_exp) */
	double mem_exp;       /* theoretical extra memory is O(N^mem_exp) */
	double tolerance;     /* relative error bound against its oracle */
	unsigned inputs;      /* enum attn_input_flag */
	int n_params;
	const struct attn_param_spec *params;

	/*
	 * The method's own, for its callbacks (which get m): an engine's
	 * configuration, a variant, anything constant. The harness never reads
	 * it. May be NULL.
	 */
	const void *data;

	/*
	 * Can the method run this case? On no, return ATTN_ERR_UNSUPPORTED and
	 * write the reason ("window 512 > N 256") into msg. NULL: always.
	 */
	int (*supports)(const struct attn_method *m, const struct attn_shape *s,
	                const struct attn_params *p, char *msg, size_t msglen);

	/* Exact scratch bytes forward() and prepare() need, for all heads. */
	size_t (*workspace_bytes)(const struct attn_method *m, const struct attn_shape *s,
	                          const struct attn_params *p, int threads);

	/* Analytic floating-point operations and bytes moved by one forward(). */
	double (*flops)(const struct attn_method *m, const struct attn_shape *s,
	                const struct attn_params *p);
	double (*bytes)(const struct attn_method *m, const struct attn_shape *s,
	                const struct attn_params *p);

	/*
	 * Untimed set-up: random features, hash planes, a decode cache or state.
	 * Writes only into ws. NULL: nothing to do.
	 */
	int (*prepare)(const struct attn_method *m, const struct attn_shape *s,
	               const struct attn_params *p, const struct attn_inputs *in, void *ws,
	               const struct attn_ctx *ctx);

	/* The timed work: out (B, H, NQ, D) from in. Never allocates. */
	int (*forward)(const struct attn_method *m, const struct attn_shape *s,
	               const struct attn_params *p, const struct attn_inputs *in, float *out,
	               void *ws, const struct attn_ctx *ctx);

	/*
	 * The function this method computes, in float64 and obvious loops:
	 * out (B, H, NQ, D). NULL for exact methods, whose oracle is the
	 * harness's float64 softmax reference.
	 */
	int (*oracle)(const struct attn_method *m, const struct attn_shape *s,
	              const struct attn_params *p, const struct attn_inputs *in, double *out,
	              const struct attn_ctx *ctx);
};

/*
 * An external plugin exports this function. It returns a NULL-terminated
 * array of descriptors that live as long as the shared object (version 2
 * ones, or version 1 ones: see below; every one's first field says which).
 *
 * The harness first loads a plugin in a probe process - its initialisers
 * and this function run there, each descriptor is validated, it is unloaded
 * - and only then loads it, and calls this function again, in its own
 * process. So this function must return the same descriptors every time,
 * return within 10 s, and start no process; a plugin that crashes, hangs,
 * exits or starts a process here is refused. Descriptor strings are shown on
 * one line in logs, tables and files: name 1-48 characters of [a-z0-9_];
 * parameter names 1-24 of [A-Za-z0-9_], starting with a letter; enum
 * choices 1-48 of [A-Za-z0-9_.+-] each, at most 64; category (at most 64
 * bytes), summary, citation and help (at most 256 bytes each) printable
 * UTF-8 with no control characters (no newline, no tab). A descriptor that
 * breaks any of these is refused, with the field named.
 *
 * The harness calls every other function pointer (supports, workspace_bytes,
 * flops, bytes, prepare, forward) in a child process of the case, under
 * the case's timeout: one that crashes, hangs or exits costs that case
 * (crashed, timeout, failed), never the sweep; flops() and bytes() must be
 * finite and >= 0; the harness reads at most msglen bytes of supports()'s
 * reason.
 */
#define ATTN_PLUGIN_ENTRY "attn_plugin_methods"
typedef const struct attn_method *const *(*attn_plugin_entry_fn)(void);

/*
 * ---- Compatibility: ABI version 1 ---------------------------------------
 *
 * The layout of a version 1 descriptor, kept so that plugins built against
 * it keep loading; write new plugins against `struct attn_method`. A
 * version 1 descriptor has no `data` and its callbacks do not get the
 * descriptor; every other field, and what each function means, is as
 * above. The harness validates it by the same rules and registers in its
 * place a version 2 descriptor of its own whose data points at it and whose
 * callbacks call its callbacks. A version 1 plugin returns its
 * `struct attn_method_v1` pointers from ATTN_PLUGIN_ENTRY as the array of
 * `const struct attn_method *` (abi_version, the first field of both, tells
 * them apart).
 */
#define ATTN_ABI_VERSION_1 1

struct attn_method_v1 {
	int abi_version; /* ATTN_ABI_VERSION_1 */
	const char *name;
	enum attn_family family;
	const char *category;
	const char *summary;
	const char *citation;
	unsigned flags;
	double time_exp;
	double mem_exp;
	double tolerance;
	unsigned inputs;
	int n_params;
	const struct attn_param_spec *params;
	int (*supports)(const struct attn_shape *s, const struct attn_params *p, char *msg,
	                size_t msglen);
	size_t (*workspace_bytes)(const struct attn_shape *s, const struct attn_params *p,
	                          int threads);
	double (*flops)(const struct attn_shape *s, const struct attn_params *p);
	double (*bytes)(const struct attn_shape *s, const struct attn_params *p);
	int (*prepare)(const struct attn_shape *s, const struct attn_params *p,
	               const struct attn_inputs *in, void *ws, const struct attn_ctx *ctx);
	int (*forward)(const struct attn_shape *s, const struct attn_params *p,
	               const struct attn_inputs *in, float *out, void *ws,
	               const struct attn_ctx *ctx);
	int (*oracle)(const struct attn_shape *s, const struct attn_params *p,
	              const struct attn_inputs *in, double *out, const struct attn_ctx *ctx);
};

#ifdef __cplusplus
}
#endif

#endif /* ATTNBENCH_METHOD_H */
