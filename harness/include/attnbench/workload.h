/*
 * Seeded, reproducible inputs: the same (shape, distribution, seed) gives the
 * same bytes on any machine. Values come from a counter-based generator
 * (splitmix64 over seed, tensor and element index) and are shaped with +, *,
 * / and sqrt only, which IEEE 754 rounds identically everywhere (no libm
 * transcendental functions, no FMA contraction).
 *
 * Distributions, chosen to give attention realistic structure:
 *  - gaussian: Q, K, V roughly N(0, 1) (Irwin-Hall sum of four uniforms).
 *  - local:    Q and K share a slowly varying positional signal (an AR(1)
 *              walk along the sequence), so each query's scores peak near
 *              the diagonal, as in trained models' local heads.
 *  - needle:   gaussian, plus a few keys aligned with a direction every query
 *              shares, so those few keys dominate every row.
 * Extra inputs are uniform: log_gate and gate_vec in [-0.1, -0.0001) (forget
 * gates e^x in [0.9048, 0.9999)), beta in [0.05, 0.95). The constants and
 * their reasons are at the top of workloads/generator.c.
 * In decode mode the single query is the one at position N - 1 of the
 * prefill inputs of the same seed, so decode output equals the last row of
 * causal prefill output.
 */
#ifndef ATTNBENCH_WORKLOAD_H
#define ATTNBENCH_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "attnbench/method.h"

enum attn_dist { ATTN_DIST_GAUSSIAN = 0, ATTN_DIST_LOCAL = 1, ATTN_DIST_NEEDLE = 2 };
#define ATTN_DIST_COUNT 3

const char *attn_dist_name(enum attn_dist d);
/* ATTN_ERR_INVALID with the known names in err for an unknown name. */
int attn_dist_parse(const char *name, enum attn_dist *out, char *err, size_t errlen);

/*
 * The inputs of one case, in one 64-byte aligned allocation: Q, K, V,
 * log_gate, gate_vec, beta in this order, each starting 64-byte aligned.
 */
struct attn_workload {
	struct attn_inputs in; /* pointers into `base` */
	void *base;
	size_t bytes;
};

/*
 * Bytes attn_workload_alloc will take for this shape and input set; SIZE_MAX
 * when the shape is invalid or the size does not fit in a size_t.
 */
size_t attn_workload_bytes(const struct attn_shape *s, unsigned inputs);

/*
 * Allocate and fill Q, K, V and the extra inputs named in `inputs`
 * (enum attn_input_flag). ATTN_ERR_INVALID for a bad shape (a dimension
 * < 1, KVH not dividing H, an unknown mode), distribution or input flag;
 * ATTN_ERR_NOMEM if the size overflows or the allocation fails. *out is
 * cleared on failure.
 */
int attn_workload_alloc(const struct attn_shape *s, unsigned inputs, enum attn_dist dist,
                        uint64_t seed, struct attn_workload *out);
void attn_workload_free(struct attn_workload *w);
/*
 * The same inputs carved from and written into `block`, attn_workload_bytes
 * of zeroed memory the caller owns (the runner's guarded, later read-only
 * mapping); out->base stays NULL, so attn_workload_free leaves block alone.
 */
int attn_workload_fill(const struct attn_shape *s, unsigned inputs, enum attn_dist dist,
                       uint64_t seed, void *block, struct attn_workload *out);

/* A uniform double in [0, 1) from (seed, stream, index): the generator itself. */
double attn_rng_uniform(uint64_t seed, uint64_t stream, uint64_t index);

#endif /* ATTNBENCH_WORKLOAD_H */
