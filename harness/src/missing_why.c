/*
 * Why a case has no figure for an error metric, in words, from facts alone
 * (runner.h): the case's status, whether its method is exact, the oracle's
 * budget (--check-max-flops) and how many reference rows it checked. A
 * result in memory and a row of a database both hold these facts, so `run`,
 * `sweep` and `export` can give one reason for one missing figure.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "attnbench/runner.h"

/* The reference's cost, 4 B H NQ N D, and of one query row of every head, 4 B H N D. */
static double ref_flops(const struct attn_missing_facts *f, int one_row)
{
	double nq = one_row ? 1 : f->decode ? 1 : (double)f->n;
	return 4.0 * (double)f->batch * (double)f->heads * nq * (double)f->n * (double)f->d;
}

const char *attn_missing_why(const struct attn_missing_facts *f, const char *name, char *buf,
                             size_t len)
{
	static const char *const errs[] = {"rel_err", "max_abs_err", "rel_err_softmax",
	                                   "max_abs_err_softmax"};
	int which = -1;
	for (int i = 0; i < 4; i++)
		if (strcmp(name, errs[i]) == 0)
			which = i;
	if (which < 0)
		return NULL;
	if (f->status && strcmp(f->status, "ok") != 0)
		snprintf(buf, len, "not measured: the case is %s%s%s", f->status,
		         f->message && *f->message ? ": " : "", f->message ? f->message : "");
	else if (which >= 2 && f->exact == 1)
		snprintf(buf, len,
		         "not computed: %s is exact, rel_err is its error against softmax",
		         f->method ? f->method : "the method");
	else if (!isnan(f->check_max_flops) && !(f->check_max_flops > 0))
		snprintf(buf, len, "no oracle: --check-max-flops 0");
	else if (f->oracle_rows > 0 && !isnan(f->check_max_flops))
		snprintf(
		    buf, len,
		    "not computed: sampled rows are checked against softmax only; the method's "
		    "own oracle computes whole outputs and runs when the full check (%.3g flops) "
		    "fits --check-max-flops %.3g",
		    ref_flops(f, 0), f->check_max_flops);
	else if (f->oracle_rows > 0)
		snprintf(buf, len,
		         "not computed: sampled rows are checked against softmax only; the "
		         "method's own oracle computes whole outputs and runs when the full check "
		         "(%.3g flops) fits --check-max-flops",
		         ref_flops(f, 0));
	else if (f->oracle_rows == 0 && !isnan(f->check_max_flops))
		snprintf(buf, len,
		         "no oracle: one reference row costs %.3g flops > --check-max-flops %.3g",
		         ref_flops(f, 1), f->check_max_flops);
	else
		snprintf(buf, len, "not stored, and the run does not record why (an older run?)");
	return buf;
}
