/*
 * The instance API (harness/src/instance.c): a method bound to a shape.
 * Small descriptors made here misbehave one way each - write past the
 * output or the workspace, write into an input, return an error, produce a
 * NaN, refuse the shape - and the instance must say so with the sentence
 * the runner's protocol carries; guard pages name a far write, read-only
 * inputs fault on the first write (in a forked child), and the ctx
 * plumbing (figures, one mask) reaches the caller.
 */
#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attnbench/instance.h"
#include "attnbench/status.h"
#include "attnbench/workload.h"
#include "check_main.h"
#include "kernels/kernels.h"

static const struct attn_shape shape = {
    .batch = 1, .heads = 2, .kv_heads = 1, .n = 16, .d = 8, .causal = 0, .mode = ATTN_MODE_PREFILL};

#define WS_BYTES 100

/* What the test descriptors do wrong, chosen per test. */
static enum {
	DO_GOOD,
	DO_OVERRUN_OUT,
	DO_OVERRUN_WS,
	DO_WRITE_INPUT,
	DO_FAIL_PREPARE,
	DO_FAIL_FORWARD,
	DO_NAN,
	DO_REPORT_MASK
} behaviour;
static int forward_calls;

static size_t out_count(const struct attn_shape *s)
{
	return (size_t)(s->batch * s->heads * attn_shape_nq(s) * s->d);
}

static int t_supports(const struct attn_method *m, const struct attn_shape *s,
                      const struct attn_params *p, char *msg, size_t msglen)
{
	(void)m;
	(void)p;
	if (s->n > 64) {
		snprintf(msg, msglen, "n %lld > 64", (long long)s->n);
		return ATTN_ERR_UNSUPPORTED;
	}
	return ATTN_OK;
}

static size_t t_ws(const struct attn_method *m, const struct attn_shape *s,
                   const struct attn_params *p, int threads)
{
	(void)m;
	(void)s, (void)p, (void)threads;
	return WS_BYTES;
}

static size_t t_ws_huge(const struct attn_method *m, const struct attn_shape *s,
                        const struct attn_params *p, int threads)
{
	(void)m;
	(void)s, (void)p, (void)threads;
	return SIZE_MAX;
}

static double t_cost(const struct attn_method *m, const struct attn_shape *s,
                     const struct attn_params *p)
{
	(void)m;
	(void)s, (void)p;
	return 1.0;
}

static int t_prepare(const struct attn_method *m, const struct attn_shape *s,
                     const struct attn_params *p, const struct attn_inputs *in, void *ws,
                     const struct attn_ctx *ctx)
{
	(void)m;
	(void)s, (void)p, (void)in, (void)ctx;
	memset(ws, 0, WS_BYTES);
	return behaviour == DO_FAIL_PREPARE ? ATTN_ERR_INVALID : ATTN_OK;
}

/* Softmax attention in float32 (exact: its oracle is the harness's reference). */
static int t_forward(const struct attn_method *m, const struct attn_shape *s,
                     const struct attn_params *p, const struct attn_inputs *in, float *out,
                     void *ws, const struct attn_ctx *ctx)
{
	(void)m;
	(void)p;
	forward_calls++;
	double ref[1024];
	attn_reference_softmax(s, in, ref);
	for (size_t i = 0; i < out_count(s); i++)
		out[i] = (float)ref[i];
	switch (behaviour) {
	case DO_OVERRUN_OUT: out[out_count(s)] = 1.0f; break;
	case DO_OVERRUN_WS: ((char *)ws)[WS_BYTES + 2] = 1; break;
	case DO_WRITE_INPUT: ((float *)in->k)[3] += 1.0f; break;
	case DO_FAIL_FORWARD: return ATTN_ERR_UNSUPPORTED;
	case DO_NAN:
		out[5] = NAN;
		out[9] = INFINITY;
		break;
	case DO_REPORT_MASK: {
		static const uint8_t mask[6] = {1, 0, 1, 1, 0, 1};
		if (ctx->report) {
			ctx->report(ctx, "density", forward_calls, "1");
			ctx->report(ctx, "Bad Name", 1.0, "1");
		}
		if (ctx->dump_mask) {
			ctx->dump_mask(ctx, 1, 2, 3, mask); /* not head 0: ignored */
			ctx->dump_mask(ctx, 0, 2, 3, mask);
			ctx->dump_mask(ctx, 0, 2, 3, mask); /* a second: not offered */
		}
		break;
	}
	default: break;
	}
	return ATTN_OK;
}

static const struct attn_method tm = {.abi_version = ATTN_ABI_VERSION,
                                      .name = "tm",
                                      .family = ATTN_FAMILY_FULL,
                                      .category = "softmax",
                                      .summary = "a test method",
                                      .citation = "none",
                                      .flags = ATTN_METHOD_EXACT,
                                      .tolerance = 1e-5,
                                      .supports = t_supports,
                                      .workspace_bytes = t_ws,
                                      .flops = t_cost,
                                      .bytes = t_cost,
                                      .prepare = t_prepare,
                                      .forward = t_forward};

static struct attn_instance *make(enum attn_guard guard, const struct attn_method *m)
{
	struct attn_instance_opts o;
	attn_instance_opts_default(&o);
	o.guard = guard;
	o.seed = 5;
	struct attn_instance *inst;
	char err[256];
	ck_assert_msg(attn_instance_create(m, &shape, NULL, &o, &inst, err, sizeof err) == ATTN_OK,
	              "%s", err);
	return inst;
}

/* Create, prepare and forward once, then check; the check's status and its sentence. */
static int run_checked(enum attn_guard guard, char *err, size_t errlen)
{
	forward_calls = 0;
	struct attn_instance *inst = make(guard, &tm);
	ck_assert_int_eq(attn_instance_prepare(inst, err, errlen), ATTN_OK);
	ck_assert_int_eq(attn_instance_check(inst, "prepare()", err, errlen), ATTN_OK);
	ck_assert_int_eq(attn_instance_forward(inst, 1, err, errlen), ATTN_OK);
	int rc = attn_instance_check(inst, "forward()", err, errlen);
	attn_instance_free(inst);
	return rc;
}

START_TEST(a_good_method_passes_every_check)
{
	static const enum attn_guard guards[] = {ATTN_GUARD_NONE, ATTN_GUARD_BYTES,
	                                         ATTN_GUARD_PAGES};
	char err[256];
	behaviour = DO_GOOD;
	for (int g = 0; g < 3; g++) {
		struct attn_instance *inst = make(guards[g], &tm);
		ck_assert_int_eq(attn_instance_prepare(inst, err, sizeof err), ATTN_OK);
		forward_calls = 0;
		ck_assert_int_eq(attn_instance_forward(inst, 3, err, sizeof err), ATTN_OK);
		ck_assert_int_eq(forward_calls, 3);
		ck_assert_int_eq(attn_instance_check(inst, "forward()", err, sizeof err), ATTN_OK);
		ck_assert_int_eq(attn_instance_check_finite(inst, err, sizeof err), ATTN_OK);
		struct attn_instance_sizes sz;
		attn_instance_sizes(inst, &sz);
		ck_assert_uint_eq(sz.ws_bytes, WS_BYTES);
		ck_assert_uint_eq(sz.out_bytes, out_count(&shape) * sizeof(float));
		ck_assert_uint_eq(sz.in_bytes, attn_workload_bytes(&shape, 0));
		ck_assert_uint_ge(sz.mapped_bytes, sz.in_bytes + sz.out_bytes + sz.ws_bytes);
		/* The oracle of an exact method is the softmax reference: the output is its
		 * rounding. */
		double ref[1024];
		ck_assert_int_eq(attn_instance_oracle(inst, ref, err, sizeof err), ATTN_OK);
		const float *out = attn_instance_output(inst);
		for (size_t i = 0; i < out_count(&shape); i++)
			ck_assert_float_eq(out[i], (float)ref[i]);
		attn_instance_free(inst);
	}
}
END_TEST

START_TEST(overruns_are_named_with_their_bytes)
{
	char err[256];
	behaviour = DO_OVERRUN_OUT;
	ck_assert_int_eq(run_checked(ATTN_GUARD_BYTES, err, sizeof err), ATTN_ERR_INVALID);
	ck_assert_str_eq(err, "forward() wrote 4 bytes past the end of its output (1024 bytes)");
	ck_assert_int_eq(run_checked(ATTN_GUARD_PAGES, err, sizeof err), ATTN_ERR_INVALID);
	ck_assert_str_eq(err, "forward() wrote 4 bytes past the end of its output (1024 bytes)");
	behaviour = DO_OVERRUN_WS;
	ck_assert_int_eq(run_checked(ATTN_GUARD_BYTES, err, sizeof err), ATTN_ERR_INVALID);
	ck_assert_str_eq(err, "forward() wrote 3 bytes past the end of its workspace (100 bytes)");
	ck_assert_int_eq(run_checked(ATTN_GUARD_PAGES, err, sizeof err), ATTN_ERR_INVALID);
	ck_assert_str_eq(err, "forward() wrote 3 bytes past the end of its workspace (100 bytes)");
	/* Without guards nothing is checked (the benches, the form comparison). */
	behaviour = DO_GOOD;
	ck_assert_int_eq(run_checked(ATTN_GUARD_NONE, err, sizeof err), ATTN_OK);
}
END_TEST

START_TEST(a_write_into_an_input_is_named)
{
	char err[256];
	behaviour = DO_WRITE_INPUT;
	ck_assert_int_eq(run_checked(ATTN_GUARD_PAGES, err, sizeof err), ATTN_ERR_INVALID);
	ck_assert_str_eq(err, "forward() wrote into its input k; inputs are const");
	ck_assert_int_eq(run_checked(ATTN_GUARD_BYTES, err, sizeof err), ATTN_ERR_INVALID);
	ck_assert_str_eq(err, "forward() wrote into its input k; inputs are const");
}
END_TEST

/* Read-only inputs: the same write faults at once (in a child: the fault ends it). */
START_TEST(readonly_inputs_fault_on_the_first_write)
{
	behaviour = DO_WRITE_INPUT;
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		struct attn_instance_opts o;
		attn_instance_opts_default(&o);
		o.guard = ATTN_GUARD_PAGES;
		o.readonly_inputs = 1;
		struct attn_instance *inst;
		char err[256];
		if (attn_instance_create(&tm, &shape, NULL, &o, &inst, err, sizeof err) != ATTN_OK)
			_exit(2);
		attn_instance_forward(inst, 1, err, sizeof err);
		_exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "status %d", st);
}
END_TEST

/* What a fault handler is told: the buffer, where, and the phase. */
START_TEST(a_fault_address_is_named)
{
	behaviour = DO_GOOD;
	struct attn_instance *inst = make(ATTN_GUARD_PAGES, &tm);
	char buf[256];
	const char *out = (const char *)attn_instance_output(inst);
	const struct attn_inputs *in = attn_instance_inputs(inst);
	ck_assert_int_gt(
	    attn_instance_fault(inst, out + 1024 + 8, "forward()", "wrote", buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "forward() wrote past the end of its output (1024 bytes): at byte "
	                      "1032, a guard page");
	ck_assert_int_gt(attn_instance_fault(inst, out - 16, "prepare()", "read", buf, sizeof buf),
	                 0);
	ck_assert_str_eq(buf,
	                 "prepare() read 16 bytes before the start of its output, a guard page");
	ck_assert_int_gt(
	    attn_instance_fault(inst, in->v + 2, "forward()", "wrote", buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "forward() wrote into its input v (element 2); inputs are const");
	ck_assert_int_eq(attn_instance_fault(inst, buf, "forward()", "wrote", buf, sizeof buf), 0);
	attn_instance_free(inst);
}
END_TEST

START_TEST(errors_name_the_value)
{
	struct attn_instance_opts o;
	attn_instance_opts_default(&o);
	struct attn_instance *inst = (struct attn_instance *)&o;
	char err[256];
	struct attn_shape s = shape;
	s.kv_heads = 3;
	ck_assert_int_eq(attn_instance_create(&tm, &s, NULL, &o, &inst, err, sizeof err),
	                 ATTN_ERR_INVALID);
	ck_assert_ptr_null(inst);
	ck_assert_str_eq(err, "kv_heads 3 does not divide heads 2");
	s = shape;
	s.d = 0;
	ck_assert_int_eq(attn_instance_create(&tm, &s, NULL, &o, &inst, err, sizeof err),
	                 ATTN_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err, "d=0"));
	o.threads = 0;
	ck_assert_int_eq(attn_instance_create(&tm, &shape, NULL, &o, &inst, err, sizeof err),
	                 ATTN_ERR_INVALID);
	ck_assert_str_eq(err, "threads 0 is not at least 1");
	o.threads = 1;
	/* supports()'s reason, as the method wrote it. */
	s = shape;
	s.n = 100;
	ck_assert_int_eq(attn_instance_create(&tm, &s, NULL, &o, &inst, err, sizeof err),
	                 ATTN_ERR_UNSUPPORTED);
	ck_assert_str_eq(err, "n 100 > 64");
	/* ... unless the caller asked it already. */
	o.skip_supports = 1;
	ck_assert_int_eq(attn_instance_create(&tm, &s, NULL, &o, &inst, err, sizeof err), ATTN_OK);
	attn_instance_free(inst);
	o.skip_supports = 0;
	struct attn_method huge = tm;
	huge.workspace_bytes = t_ws_huge;
	ck_assert_int_eq(attn_instance_create(&huge, &shape, NULL, &o, &inst, err, sizeof err),
	                 ATTN_ERR_NOMEM);
	ck_assert_ptr_null(inst);
	ck_assert_str_eq(err, "cannot allocate the output and a workspace of 18446744073709551615 "
	                      "bytes");

	behaviour = DO_FAIL_PREPARE;
	inst = make(ATTN_GUARD_BYTES, &tm);
	ck_assert_int_eq(attn_instance_prepare(inst, err, sizeof err), ATTN_ERR_INVALID);
	ck_assert_str_eq(err, "prepare() returned -1 (invalid argument)");
	behaviour = DO_FAIL_FORWARD;
	ck_assert_int_eq(attn_instance_forward(inst, 2, err, sizeof err), ATTN_ERR_UNSUPPORTED);
	ck_assert_str_eq(err, "forward() returned -2 (unsupported)");
	behaviour = DO_NAN;
	ck_assert_int_eq(attn_instance_forward(inst, 1, err, sizeof err), ATTN_OK);
	ck_assert_int_eq(attn_instance_check_finite(inst, err, sizeof err), ATTN_ERR_INVALID);
	ck_assert_str_eq(err, "2 non-finite outputs, the first at element 5 (nan)");
	attn_instance_free(inst);
}
END_TEST

START_TEST(poison_and_copied_inputs)
{
	struct attn_workload w;
	ck_assert_int_eq(attn_workload_alloc(&shape, 0, ATTN_DIST_GAUSSIAN, 9, &w), ATTN_OK);
	struct attn_instance_opts o;
	attn_instance_opts_default(&o);
	o.guard = ATTN_GUARD_BYTES;
	o.poison = 1;
	o.inputs = &w.in;
	struct attn_instance *inst;
	char err[256];
	/* Borrowed: the caller's pointers; the output starts as NaN. */
	ck_assert_int_eq(attn_instance_create(&tm, &shape, NULL, &o, &inst, err, sizeof err),
	                 ATTN_OK);
	ck_assert_ptr_eq(attn_instance_inputs(inst)->q, w.in.q);
	ck_assert(isnan(attn_instance_output(inst)[0]));
	attn_instance_free(inst);
	/* Copied: the instance's own memory, the same values. */
	o.copy_inputs = 1;
	o.guard = ATTN_GUARD_PAGES;
	ck_assert_int_eq(attn_instance_create(&tm, &shape, NULL, &o, &inst, err, sizeof err),
	                 ATTN_OK);
	const struct attn_inputs *in = attn_instance_inputs(inst);
	ck_assert_ptr_ne(in->k, w.in.k);
	ck_assert_int_eq(memcmp(in->k, w.in.k, 16 * 8 * sizeof(float)), 0);
	attn_instance_free(inst);
	attn_workload_free(&w);
}
END_TEST

static int masks_taken;
static int64_t mask_cells;

static int take_mask(void *arg, int64_t nqb, int64_t nkb, const uint8_t *mask)
{
	(void)arg;
	masks_taken++;
	mask_cells = nqb * nkb;
	ck_assert_int_eq(mask[2], 1);
	return 0;
}

START_TEST(figures_and_one_mask_reach_the_caller)
{
	behaviour = DO_REPORT_MASK;
	forward_calls = 0;
	struct attn_instance_opts o;
	attn_instance_opts_default(&o);
	o.figures = 1;
	o.on_mask = take_mask;
	struct attn_instance *inst;
	char err[256];
	ck_assert_int_eq(attn_instance_create(&tm, &shape, NULL, &o, &inst, err, sizeof err),
	                 ATTN_OK);
	ck_assert_int_eq(attn_instance_forward(inst, 1, err, sizeof err), ATTN_OK);
	attn_instance_figures_reset(inst);
	ck_assert_int_eq(attn_instance_forward(inst, 2, err, sizeof err), ATTN_OK);
	/* "Bad Name" is not a word the protocol carries: dropped. */
	ck_assert_int_eq(attn_instance_figure_count(inst), 1);
	const char *name, *unit;
	double mean;
	ck_assert(attn_instance_figure(inst, 0, &name, &unit, &mean));
	ck_assert_str_eq(name, "density");
	ck_assert_str_eq(unit, "1");
	ck_assert_double_eq(mean, 2.5); /* calls 2 and 3, after the reset */
	ck_assert_int_eq(masks_taken, 0);
	ck_assert_int_eq(attn_instance_forward_mask(inst, err, sizeof err), ATTN_OK);
	ck_assert_int_eq(attn_instance_forward_mask(inst, err, sizeof err), ATTN_OK);
	ck_assert_int_eq(masks_taken, 1);
	ck_assert_int_eq(mask_cells, 6);
	/* The mask calls report nothing. */
	ck_assert(attn_instance_figure(inst, 0, &name, &unit, &mean));
	ck_assert_double_eq(mean, 2.5);
	attn_instance_free(inst);

	/* Without figures the method's report is NULL, as the benches had it. */
	o.figures = 0;
	ck_assert_int_eq(attn_instance_create(&tm, &shape, NULL, &o, &inst, err, sizeof err),
	                 ATTN_OK);
	ck_assert_int_eq(attn_instance_forward(inst, 1, err, sizeof err), ATTN_OK);
	ck_assert_int_eq(attn_instance_figure_count(inst), 0);
	attn_instance_free(inst);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("instance");
	TCase *t = tcase_create("instance");
	tcase_add_test(t, a_good_method_passes_every_check);
	tcase_add_test(t, overruns_are_named_with_their_bytes);
	tcase_add_test(t, a_write_into_an_input_is_named);
	tcase_add_test(t, readonly_inputs_fault_on_the_first_write);
	tcase_add_test(t, a_fault_address_is_named);
	tcase_add_test(t, errors_name_the_value);
	tcase_add_test(t, poison_and_copied_inputs);
	tcase_add_test(t, figures_and_one_mask_reach_the_caller);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return attn_test_run(suite(), CK_NORMAL);
}
