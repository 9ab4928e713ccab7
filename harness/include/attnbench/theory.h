/*
 * A method's theoretical exponents over N, per form and mode: the one
 * answer that `plot`'s legends ("(theory 1)"), `fit`'s theory column and
 * the figure set's page quote. Built-in and plugin methods alike: the base
 * figures are the descriptor's time_exp and mem_exp (method.h: prefill, the
 * default form), and the rules below adapt them.
 */
#ifndef ATTNBENCH_THEORY_H
#define ATTNBENCH_THEORY_H

#include "attnbench/method.h"

/*
 * *time_exp, *mem_exp: m's exponents for the parameter string `params`
 * (as stored: "form=parallel,C=64"; NULL or "" for the defaults) in prefill
 * (decode 0) or one decode step (decode 1):
 *   - time: the descriptor's time_exp, for its default form; a "form" of
 *     "parallel" other than the default is 2 (it forms the N x N score
 *     product, as softmax does) and a non-default "recurrent" or "chunk"
 *     form of a method whose default is parallel is 1;
 *   - decode: one step costs the derivative of the prefill cost, one power
 *     of N less, never below 0 (softmax N^1, window and recurrences N^0,
 *     moba's routing N^1);
 *   - memory: the descriptor's mem_exp for its default form, in either
 *     mode; NAN for another form, whose memory depends on how it is built
 *     (tiles of scores, O(N), or an N x N solve).
 * Either pointer may be NULL. Returns 0, or -1 (both NAN) for a NULL m.
 */
int attn_method_theory(const struct attn_method *m, const char *params, int decode,
                       double *time_exp, double *mem_exp);

/* 1 when a case's shape or family text ("d=64 h=8/8 ... causal decode ...") is decode. */
int attn_theory_is_decode(const char *shape);

#endif
