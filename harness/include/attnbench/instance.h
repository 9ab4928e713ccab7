/*
 * A method instance: one method bound to a shape, its parameters, a thread
 * count and its inputs, with the output and the workspace the harness owns
 * for it. Every front end that runs a method - the case child of the
 * runner, the form comparison, the bench programs, the test suites - goes
 * through this one lifecycle:
 *
 *     attn_instance_create()    supports(), workspace_bytes(), the inputs,
 *                               the output and the workspace (guarded)
 *     attn_instance_prepare()   prepare(), untimed
 *     attn_instance_forward()   forward(), as many calls as asked
 *     attn_instance_check()     guards intact? inputs untouched?
 *     attn_instance_oracle()    the function it computes, in float64
 *     attn_instance_free()
 *
 * It is also the one place (with the registry's probe) that calls a
 * descriptor's function pointers: attn_call_*() below are those calls, one
 * line each, so that a change of the plugin ABI's callback signatures is a
 * change of these lines only.
 */
#ifndef ATTNBENCH_INSTANCE_H
#define ATTNBENCH_INSTANCE_H

#include <stddef.h>
#include <stdint.h>

#include "attnbench/method.h"
#include "attnbench/workload.h"

/* How the output and the workspace (and inputs the instance holds) are guarded. */
enum attn_guard {
	/* Plain 64-byte aligned, zeroed buffers: nothing is checked. */
	ATTN_GUARD_NONE = 0,
	/* ATTN_GUARD_SPAN canary bytes after the output and the workspace. */
	ATTN_GUARD_BYTES = 1,
	/*
	 * Each buffer in a mapping of its own (guard.c): canaries after it and
	 * PROT_NONE pages around it, so a far overrun faults at its first byte
	 * (attn_instance_fault() names the buffer).
	 */
	ATTN_GUARD_PAGES = 2
};

#define ATTN_GUARD_SPAN 64

struct attn_instance_opts {
	int threads;   /* >= 1, handed to the method in its attn_ctx */
	uint64_t seed; /* the ctx's seed, and the generated inputs' */
	enum attn_guard guard;
	/*
	 * The inputs: `inputs` borrowed as they are; with copy_inputs, copied
	 * into the instance's memory (each tensor 64-byte aligned); NULL: the
	 * instance generates them from (dist, seed) for the method's `inputs`.
	 */
	const struct attn_inputs *inputs;
	int copy_inputs;
	enum attn_dist dist;
	/*
	 * With ATTN_GUARD_PAGES and inputs the instance holds: mprotect them
	 * read-only from creation on, so that a write faults at once (only
	 * where a fault handler can name it: a child). Inputs that are not
	 * read-only are hashed at creation and compared by attn_instance_check()
	 * when guard is not ATTN_GUARD_NONE.
	 */
	int readonly_inputs;
	/* Fill the output and the workspace with 0xFF (NaN) bytes: reading before writing shows. */
	int poison;
	/* The caller asked supports() already (the runner's preflight): do not ask again. */
	int skip_supports;
	/* Collect what the method report()s (attn_instance_figure()); off, report is NULL. */
	int figures;
	/*
	 * Where attn_instance_forward_mask() hands the kept-block mask of head
	 * 0, (nqb, nkb) bytes; 0 when it took it, and then no later one is
	 * offered (a mask per case).
	 */
	int (*on_mask)(void *arg, int64_t nqb, int64_t nkb, const uint8_t *mask);
	void *mask_arg;
	/*
	 * A ctx of the caller's, handed to prepare() and forward() as it is
	 * (its threads and seed win over the fields above): a test that
	 * records the callbacks itself. NULL: the instance's own.
	 */
	const struct attn_ctx *ctx;
};

struct attn_instance;

/* Sizes of what the instance holds, for the case's metrics. */
struct attn_instance_sizes {
	size_t in_bytes;     /* the inputs it holds (0 when borrowed) */
	size_t out_bytes;    /* (B, H, NQ, D) floats */
	size_t ws_bytes;     /* what workspace_bytes() asked */
	size_t mapped_bytes; /* every byte mapped or allocated for the three, guards included */
};

/* threads 1, seed 1, no guard, generated gaussian inputs, nothing else. */
void attn_instance_opts_default(struct attn_instance_opts *o);

/*
 * Bind m with parameters p (NULL: the defaults) to shape s. Checks the
 * shape and the thread count (ATTN_ERR_INVALID, the value named), asks
 * supports() (ATTN_ERR_UNSUPPORTED with the method's reason in err, as it
 * wrote it), makes or copies the inputs, asks workspace_bytes() and
 * allocates the output and the workspace (ATTN_ERR_NOMEM, naming what could
 * not be had). *out is NULL on failure.
 */
int attn_instance_create(const struct attn_method *m, const struct attn_shape *s,
                         const struct attn_params *p, const struct attn_instance_opts *o,
                         struct attn_instance **out, char *err, size_t errlen);
void attn_instance_free(struct attn_instance *inst);

/* prepare() (nothing when the method has none); err: "prepare() returned ...". */
int attn_instance_prepare(struct attn_instance *inst, char *err, size_t errlen);

/*
 * `calls` >= 1 forward() calls back to back, nothing else between them, so
 * that a caller times them with its clock outside. Returns the OR of their
 * statuses (0 when every one succeeded); err: "forward() returned ...".
 */
int attn_instance_forward(struct attn_instance *inst, long calls, char *err, size_t errlen);

/*
 * One untimed forward() whose ctx asks for the kept-block mask (dump_mask)
 * and not for figures; the mask of head 0 goes to opts.on_mask, at most
 * once per instance.
 */
int attn_instance_forward_mask(struct attn_instance *inst, char *err, size_t errlen);

/*
 * After `phase` ("prepare()", "forward()") ran: a write past the end of
 * the output or the workspace ("forward() wrote 4 bytes past the end of its
 * output (4096 bytes)") or into an input that is not read-only ("forward()
 * wrote into its input k; inputs are const") is ATTN_ERR_INVALID with that
 * sentence in err. ATTN_OK when nothing shows (ATTN_GUARD_NONE: always).
 */
int attn_instance_check(struct attn_instance *inst, const char *phase, char *err, size_t errlen);

/* Bytes written past the end of the output and the workspace (0: none), for a test's own text. */
void attn_instance_overruns(const struct attn_instance *inst, size_t *out, size_t *ws);

/* ATTN_ERR_INVALID when an output element is not finite: "3 non-finite outputs, the first ...". */
int attn_instance_check_finite(const struct attn_instance *inst, char *err, size_t errlen);

/*
 * The method's oracle (or, for a method without one, the float64 softmax
 * reference) on the instance's inputs: ref (B, H, NQ, D) doubles, the
 * caller's. err: "the oracle failed: ...".
 */
int attn_instance_oracle(const struct attn_instance *inst, double *ref, char *err, size_t errlen);

float *attn_instance_output(const struct attn_instance *inst); /* (B, H, NQ, D) */
const struct attn_inputs *attn_instance_inputs(const struct attn_instance *inst);
void attn_instance_sizes(const struct attn_instance *inst, struct attn_instance_sizes *sz);

/*
 * The figures report()ed since creation or the last reset: figure i's
 * name, unit and mean over the calls that reported it. 0 when i is out of
 * range or figure i has no report since the reset.
 */
int attn_instance_figure(const struct attn_instance *inst, int i, const char **name,
                         const char **unit, double *mean);
int attn_instance_figure_count(const struct attn_instance *inst);
void attn_instance_figures_reset(struct attn_instance *inst);

/*
 * For a SIGSEGV/SIGBUS handler while `phase` runs: the sentence that names
 * what the method touched at addr ("forward() wrote past the end of its
 * output (4096 bytes): at byte 4100, a guard page", "prepare() wrote into
 * its input q (element 3); inputs are const"), written into buf (verb:
 * "wrote", "read" or "touched"). Returns its length, or 0 when addr is none
 * of the instance's (the fault is someone else's). Calls no allocator.
 */
int attn_instance_fault(const struct attn_instance *inst, const void *addr, const char *phase,
                        const char *verb, char *buf, size_t len);

/*
 * The descriptor's callbacks, called from here only. NULL callbacks:
 * supports() says ATTN_OK, prepare() does nothing (ATTN_OK), flops() and
 * bytes() are 0; oracle() is ATTN_ERR_UNSUPPORTED.
 */
int attn_call_supports(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p, char *msg, size_t msglen);
size_t attn_call_workspace_bytes(const struct attn_method *m, const struct attn_shape *s,
                                 const struct attn_params *p, int threads);
double attn_call_flops(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p);
double attn_call_bytes(const struct attn_method *m, const struct attn_shape *s,
                       const struct attn_params *p);
int attn_call_prepare(const struct attn_method *m, const struct attn_shape *s,
                      const struct attn_params *p, const struct attn_inputs *in, void *ws,
                      const struct attn_ctx *ctx);
int attn_call_forward(const struct attn_method *m, const struct attn_shape *s,
                      const struct attn_params *p, const struct attn_inputs *in, float *out,
                      void *ws, const struct attn_ctx *ctx);
int attn_call_oracle(const struct attn_method *m, const struct attn_shape *s,
                     const struct attn_params *p, const struct attn_inputs *in, double *out,
                     const struct attn_ctx *ctx);

#endif /* ATTNBENCH_INSTANCE_H */
