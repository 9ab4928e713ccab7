/*
 * The forms of one method against each other: the "verified" half of the
 * survey's Table 1. A method with several forms (an enum parameter named
 * "form", e.g. "parallel|recurrent|chunk") computes one function in each of
 * them, so on the same inputs they may differ by rounding only. Here every
 * form runs on one seeded workload and the largest difference between any
 * two of them is the figure; attn_store_form_diff() (store.h) keeps it in
 * the `form_diffs` table.
 *
 * This runs in the calling process, untimed, with no fork and no guard
 * bytes: the conformance tests check the forms one by one, this compares
 * them with each other.
 */
#ifndef ATTNBENCH_FORMS_H
#define ATTNBENCH_FORMS_H

#include <stddef.h>
#include <stdint.h>

#include "attnbench/method.h"
#include "attnbench/workload.h"

/* The index of m's form parameter (an ENUM named "form") in m->params, or -1. */
int attn_method_form_param(const struct attn_method *m);

struct attn_forms_diff {
	double max_rel;    /* see attn_forms_diff(); NAN unless it returned ATTN_OK */
	char forms[128];   /* the forms that ran, in enum order: "parallel,recurrent,chunk" */
	char worst[64];    /* the pair that gave max_rel: "parallel/chunk" */
	char skipped[128]; /* the forms supports() refused for this shape: "chunk" */
};

/*
 * Run every form of method m (its enum parameter "form"; the other
 * parameters at their defaults) on one seeded workload of shape s (dist,
 * seed), prepare() then forward() with `threads` threads (handed to the
 * method in its attn_ctx; OpenMP's and OpenBLAS's global counts are left
 * alone), and compare the outputs pairwise:
 *
 *   max_rel = max over pairs a < b (in enum order) of
 *             max_i |o_a[i] - o_b[i]| / max_i |o_a[i]|
 *
 * the largest element-wise difference relative to the largest magnitude of
 * the pair's earlier form (the parallel one, the reference, when it runs).
 * A pair whose o_a is all zeros counts 0 if o_b is too and +inf if not; a
 * pair with a non-finite element in either output counts +inf, so max_rel
 * is never NaN and never hides a broken form.
 *
 * Forms the method refuses for this shape (supports() != ATTN_OK) are
 * skipped and listed in `skipped`. Returns ATTN_OK; ATTN_ERR_UNSUPPORTED
 * when fewer than two forms run (err says which ran and why each other was
 * refused); ATTN_ERR_INVALID when m has no form parameter, threads < 1 or
 * the shape or dist is invalid; ATTN_ERR_NOMEM; or the status prepare() or
 * forward() returned, with the form named in err. *out is filled as far as
 * it got (forms, skipped) in every case.
 */
int attn_forms_diff(const struct attn_method *m, const struct attn_shape *s, enum attn_dist dist,
                    uint64_t seed, int threads, struct attn_forms_diff *out, char *err,
                    size_t errlen);

#endif /* ATTNBENCH_FORMS_H */
