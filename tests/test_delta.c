/*
 * Tests of the in-context-learner row of the linear family (deltanet,
 * gated_deltanet, ttt_linear, on the engine in methods/engines/delta.c):
 *
 *  - every method's three forms against its float64 oracle at N in
 *    {1, 63, 64, 65, 200}, D in {16, 64}, GQA (H = 4 over KVH = 2 and 1),
 *    and the chunk form at C in {1, 16, 64, 100} (N = 200: no C divides it
 *    but 1); for ttt_linear C is part of the model, so each C has its own
 *    oracle, and every form must follow it;
 *  - GQA: KVH < H equals K/V copied out to KVH = H;
 *  - decode (a state prepared from the context, one step) equals the last
 *    row of prefill, also where the decode step opens a mini-batch or ends
 *    one; two threads give the same bits as one;
 *  - hazards: β = 1 at N = 4096 (the update projects k out exactly; the
 *    forward substitution meets its worst case with repeated keys); the
 *    retrieval identity of the delta rule (β = 1, q = k gives o = v / √D);
 *    strong gates (log gates to -30 and -200) and moderate ones that cut
 *    chunks short;
 *  - ttt_linear with C = 1 is deltanet; a mini-batch worked by hand;
 *  - refusals (non-causal, the parallel form's N limit), the FLOP counts,
 *    decode's workspace flat in N.
 *
 * Inputs come from the workload generator with the method's `inputs`
 * flags; β and gates are written over its buffers where a test needs
 * them. Loops collect the worst error and assert once at the end.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/method.h"
#include "attnbench/workload.h"
#include "check_main.h"
#include "engines/delta.h"
#include "method_check.h"

extern const struct attn_method attn_method_deltanet;
extern const struct attn_method attn_method_gated_deltanet;
extern const struct attn_method attn_method_ttt_linear;

static const struct attn_method *const methods[] = {
    &attn_method_deltanet, &attn_method_gated_deltanet, &attn_method_ttt_linear};
#define N_METHODS ((int)(sizeof(methods) / sizeof(*methods)))

/* ---- helpers ------------------------------------------------------------------ */

static struct attn_params dparams(const struct attn_method *m, int form, int64_t C)
{
	(void)m; /* all three have just form and C */
	struct attn_params p = {.count = 2};
	p.v[ATTN__LIN_P_FORM] = form;
	p.v[ATTN__LIN_P_CHUNK] = (double)C;
	return p;
}

/* The three forms, at dparams(); the oracle at the chunk form's. */
static const struct form_set dforms = {dparams, 3};

/* Fill the (B, H, N) tensor x with the value v. */
static void fill(const float *x, const struct attn_shape *s, float v)
{
	float *w = (float *)x;
	for (size_t i = 0; i < (size_t)(s->batch * s->heads * s->n); i++)
		w[i] = v;
}

/* ---- forms -------------------------------------------------------------------- */

/* All three forms against the oracle: N around C, two D, GQA. */
START_TEST(forms_match_oracle)
{
	struct worst w = {0.0, ""};
	check_forms_grid(methods[_i], &dforms, &w);
	ck_assert_msg(w.err <= 1e-4, "worst %g at %s", w.err, w.where);
}
END_TEST

/* C in {1, 16, 64, 100} at N = 200. */
START_TEST(chunk_sizes_match_oracle)
{
	struct worst w = {0.0, ""};
	check_chunk_sizes(methods[_i], &dforms, &w);
	ck_assert_msg(w.err <= 1e-4, "worst %g at %s", w.err, w.where);
}
END_TEST

/*
 * Decode from a prepared state equals the last row of prefill and the
 * oracle of the decode shape, for each form; two threads equal one, bit
 * for bit. With C = 16, N = 17 and 65 decode the first step of a
 * mini-batch (ttt_linear's W_b is then the whole context's state) and
 * N = 16 its last.
 */
START_TEST(decode_is_last_prefill_row)
{
	static const int64_t ns[] = {1, 2, 16, 17, 65, 200};
	struct worst w = {0.0, ""};
	check_decode(methods[_i], ns, 6, 16, &dforms, &w);
	ck_assert_msg(w.err <= 1e-4, "worst %g at %s", w.err, w.where);
}
END_TEST

/*
 * GQA reads the right K/V head: H = 4 over KVH = 2 (B = 2) gives what
 * KVH = 4 gives with each K/V head copied to the two query heads it serves.
 * (The oracle maps heads with the engine's own code, so the forms-vs-oracle
 * tests alone would not see a wrong mapping.)
 */
START_TEST(gqa_reads_its_group)
{
	const struct attn_method *m = methods[_i];
	const int64_t B = 2, H = 4, N = 70, D = 16;
	struct attn_shape sg = mk_shape(B, H, 2, N, D, 1, ATTN_MODE_PREFILL);
	struct attn_shape sf = mk_shape(B, H, H, N, D, 1, ATTN_MODE_PREFILL);
	struct attn_workload wg, wf;
	ck_assert_int_eq(attn_workload_alloc(&sg, m->inputs, ATTN_DIST_GAUSSIAN, 4, &wg), 0);
	ck_assert_int_eq(attn_workload_alloc(&sf, m->inputs, ATTN_DIST_GAUSSIAN, 4, &wf), 0);
	const size_t row = (size_t)(N * D);
	for (int64_t b = 0; b < B; b++)
		for (int64_t h = 0; h < H; h++) {
			const size_t to = (size_t)(b * H + h) * row,
			             from = (size_t)(b * 2 + h / 2) * row;
			memcpy((float *)wf.in.k + to, wg.in.k + from, row * sizeof(float));
			memcpy((float *)wf.in.v + to, wg.in.v + from, row * sizeof(float));
		}
	/* q, beta and gates are per query head: the same in both */
	memcpy((float *)wf.in.q, wg.in.q, out_count(&sg) * sizeof(float));
	memcpy((float *)wf.in.beta, wg.in.beta, (size_t)(B * H * N) * sizeof(float));
	if (m->inputs & ATTN_INPUT_LOG_GATE)
		memcpy((float *)wf.in.log_gate, wg.in.log_gate,
		       (size_t)(B * H * N) * sizeof(float));
	for (int form = 0; form < 3; form++) {
		struct attn_params p = dparams(NULL, form, 16);
		float *og = run_method(m, &sg, &p, &wg.in, 1);
		float *of = run_method(m, &sf, &p, &wf.in, 1);
		ck_assert_msg(memcmp(og, of, out_count(&sg) * sizeof(float)) == 0,
		              "%s form=%s: KVH = 2 differs from K/V copied to KVH = 4", m->name,
		              form_names[form]);
		free(og);
		free(of);
	}
	attn_workload_free(&wg);
	attn_workload_free(&wf);
}
END_TEST

/* ---- hazards ------------------------------------------------------------------ */

/*
 * β = 1 over N = 4096: every step projects k out of the state exactly (the
 * contraction's edge). All forms stay finite and match the oracle, on
 * gaussian keys and on keys that repeat one row, where A is all ones below
 * the diagonal and T = (I + A)⁻¹ the bidiagonal with 1 and -1.
 */
START_TEST(beta_one_long)
{
	const struct attn_method *m = methods[_i];
	static const int64_t c64[] = {64};
	struct worst w = {0.0, ""};
	struct attn_shape s = mk_shape(1, 1, 1, 4096, 64, 1, ATTN_MODE_PREFILL);
	struct attn_workload wl;
	ck_assert_int_eq(attn_workload_alloc(&s, m->inputs, ATTN_DIST_GAUSSIAN, 21, &wl), 0);
	fill(wl.in.beta, &s, 1.0f);
	check_forms_on(m, &s, &wl.in, c64, 1, &dforms, &w, "beta = 1");
	float *k = (float *)wl.in.k;
	for (int64_t t = 1; t < s.n; t++)
		memcpy(k + t * s.d, k, (size_t)s.d * sizeof(float));
	check_forms_on(m, &s, &wl.in, c64, 1, &dforms, &w, "beta = 1, one key");
	attn_workload_free(&wl);
	ck_assert_msg(w.err <= 1e-4, "worst %g at %s", w.err, w.where);
}
END_TEST

/*
 * The delta rule stores what it is told: with β = 1 and q_t = k_t,
 * S_tᵀ k_t = a (S - k kᵀ S)ᵀ k + v ‖k‖² = v, so o_t = v_t / √D (up to the
 * l2norm's ε), whatever the gate. ttt_linear with C = 1 is the same rule.
 */
START_TEST(retrieval_beta_one)
{
	const struct attn_method *m = methods[_i];
	const int64_t N = 150, D = 32, C = m == &attn_method_ttt_linear ? 1 : 64;
	struct attn_shape s = mk_shape(1, 2, 2, N, D, 1, ATTN_MODE_PREFILL);
	struct attn_workload wl;
	ck_assert_int_eq(attn_workload_alloc(&s, m->inputs, ATTN_DIST_GAUSSIAN, 5, &wl), 0);
	fill(wl.in.beta, &s, 1.0f);
	memcpy((float *)wl.in.q, wl.in.k, out_count(&s) * sizeof(float));
	float *want = malloc(out_count(&s) * sizeof(float));
	ck_assert_ptr_nonnull(want);
	for (size_t i = 0; i < out_count(&s); i++)
		want[i] = wl.in.v[i] / sqrtf((float)D);
	for (int form = 0; form < 3; form++) {
		struct attn_params p = dparams(NULL, form, C);
		float *out = run_method(m, &s, &p, &wl.in, 1);
		double e = rel_err_f(out, want, out_count(&s));
		ck_assert_msg(e <= 1e-5, "%s form=%s: o = v / sqrt(D) off by %g", m->name,
		              form_names[form], e);
		free(out);
	}
	free(want);
	attn_workload_free(&wl);
}
END_TEST

/*
 * gated_deltanet under gates far stronger than the workload's: log gates
 * uniform in [-30, -0.5) with a run of -200 (products underflow within a
 * step or two; chunks are cut to a step or two), and in [-1, -0.1)
 * (chunks cut after some 20-40 steps, inside C = 64 and 100). Every form
 * and C, finite and on the oracle.
 */
START_TEST(strong_gates)
{
	const struct attn_method *m = &attn_method_gated_deltanet;
	static const int64_t cs[] = {1, 16, 64, 100};
	static const float ranges[][2] = {{-30.0f, -0.5f}, {-1.0f, -0.1f}};
	struct worst w = {0.0, ""};
	for (int ri = 0; ri < 2; ri++)
		for (int64_t D = 16; D <= 64; D *= 4) {
			struct attn_shape s = mk_shape(1, 4, 2, 200, D, 1, ATTN_MODE_PREFILL);
			struct attn_workload wl;
			ck_assert_int_eq(
			    attn_workload_alloc(&s, m->inputs, ATTN_DIST_GAUSSIAN, 9, &wl), 0);
			float *g = (float *)wl.in.log_gate;
			const size_t ng = (size_t)(s.batch * s.heads * s.n);
			for (size_t i = 0; i < ng; i++)
				g[i] = ranges[ri][1] + (ranges[ri][0] - ranges[ri][1]) *
				                           (float)attn_rng_uniform(9, 77, i);
			if (ri == 0)
				for (size_t i = ng / 2; i < ng / 2 + ng / 20; i++)
					g[i] = -200.0f;
			check_forms_on(m, &s, &wl.in, cs, 4, &dforms, &w, "strong gates");
			attn_workload_free(&wl);
		}
	ck_assert_msg(w.err <= 1e-4, "worst %g at %s", w.err, w.where);
}
END_TEST

/* ---- ttt_linear --------------------------------------------------------------- */

/* Mini-batches of one token are the delta rule; of 16 they are not. */
START_TEST(ttt_c1_is_deltanet)
{
	struct attn_shape s = mk_shape(2, 4, 2, 130, 32, 1, ATTN_MODE_PREFILL);
	struct attn_workload wl;
	ck_assert_int_eq(attn_workload_alloc(&s, ATTN_INPUT_BETA, ATTN_DIST_GAUSSIAN, 8, &wl), 0);
	struct attn_params pd = dparams(NULL, ATTN__LIN_FORM_CHUNK, 64);
	float *dn = run_method(&attn_method_deltanet, &s, &pd, &wl.in, 1);
	for (int form = 0; form < 3; form++) {
		struct attn_params p1 = dparams(NULL, form, 1), p16 = dparams(NULL, form, 16);
		float *t1 = run_method(&attn_method_ttt_linear, &s, &p1, &wl.in, 1);
		float *t16 = run_method(&attn_method_ttt_linear, &s, &p16, &wl.in, 1);
		const double e1 = rel_err_f(t1, dn, out_count(&s));
		const double e16 = rel_err_f(t16, dn, out_count(&s));
		ck_assert_msg(e1 <= 1e-5, "form=%s: C = 1 vs deltanet %g", form_names[form], e1);
		ck_assert_msg(e16 >= 1e-2, "form=%s: C = 16 vs deltanet only %g", form_names[form],
		              e16);
		free(t1);
		free(t16);
	}
	free(dn);
	attn_workload_free(&wl);
}
END_TEST

/*
 * One mini-batch by hand: D = 2, C = 2, every k and q = e_0, β = 1/2 (so
 * η = 1/4), v = e_0, e_1, 0. Batch 0 reads W_b = 0 for both steps:
 *   W_0 = η e_0 e_0ᵀ,  W_1 = W_0 + η e_0 e_1ᵀ      (the delta rule would
 *   erase first: its row 0 would be (1/4 - 1/16, 1/4));
 * batch 1 reads W_b = W_1: W_2 = W_1 - η e_0 (W_1ᵀ e_0)ᵀ, row 0 (3/16, 3/16).
 * o_t = row 0 of W_t / √2. Every form, the oracle and decode at N = 3.
 */
START_TEST(ttt_minibatch_by_hand)
{
	const struct attn_method *m = &attn_method_ttt_linear;
	const int64_t N = 3, D = 2;
	static const float kq[3][2] = {{1, 0}, {1, 0}, {1, 0}};
	static const float v[3][2] = {{1, 0}, {0, 1}, {0, 0}};
	static const float beta[3] = {0.5f, 0.5f, 0.5f};
	const double r2 = sqrt(2.0);
	const double want[3][2] = {
	    {0.25 / r2, 0.0}, {0.25 / r2, 0.25 / r2}, {0.1875 / r2, 0.1875 / r2}};
	struct attn_inputs in = {.q = &kq[0][0], .k = &kq[0][0], .v = &v[0][0], .beta = beta};
	struct attn_shape s = mk_shape(1, 1, 1, N, D, 1, ATTN_MODE_PREFILL);
	struct attn_params p0 = dparams(NULL, ATTN__LIN_FORM_CHUNK, 2);
	double *ref = run_oracle(m, &s, &p0, &in);
	for (int i = 0; i < 6; i++)
		ck_assert_msg(fabs(ref[i] - want[i / 2][i % 2]) <= 1e-6, "oracle [%d] %g, want %g",
		              i, ref[i], want[i / 2][i % 2]);
	for (int form = 0; form < 3; form++) {
		struct attn_params p = dparams(NULL, form, 2);
		float *out = run_method(m, &s, &p, &in, 1);
		for (int i = 0; i < 6; i++)
			ck_assert_msg(fabs(out[i] - want[i / 2][i % 2]) <= 1e-6,
			              "form=%s [%d] %g, want %g", form_names[form], i,
			              (double)out[i], want[i / 2][i % 2]);
		free(out);
	}
	struct attn_shape sd = mk_shape(1, 1, 1, N, D, 1, ATTN_MODE_DECODE);
	struct attn_inputs ind = in;
	ind.q = &kq[2][0];
	float *dec = run_method(m, &sd, &p0, &ind, 1);
	ck_assert(fabs(dec[0] - want[2][0]) <= 1e-6 && fabs(dec[1] - want[2][1]) <= 1e-6);
	free(dec);
	free(ref);
}
END_TEST

/* ---- descriptors, refusals, cost ---------------------------------------------- */

START_TEST(refusals)
{
	const struct attn_method *m = methods[_i];
	char msg[256] = "";
	struct attn_params p = dparams(NULL, ATTN__LIN_FORM_CHUNK, 64);
	struct attn_shape s = mk_shape(1, 4, 2, 16, 16, 0, ATTN_MODE_PREFILL);
	ck_assert_int_eq(attn_call_supports(m, &s, &p, msg, sizeof msg), ATTN_ERR_UNSUPPORTED);
	ck_assert_msg(strstr(msg, "causal only") != NULL, "%s: reason '%s'", m->name, msg);

	/* the parallel form's N x N scores: refused above the limit, in prefill only */
	struct attn_params pp = dparams(NULL, ATTN__LIN_FORM_PARALLEL, 64);
	s = mk_shape(1, 1, 1, ATTN__DELTA_PARALLEL_MAX_N + 1, 16, 1, ATTN_MODE_PREFILL);
	ck_assert_int_eq(attn_call_supports(m, &s, &pp, msg, sizeof msg), ATTN_ERR_UNSUPPORTED);
	ck_assert_msg(strstr(msg, "N x N") && strstr(msg, "16385") && strstr(msg, "bytes"),
	              "%s: reason '%s'", m->name, msg);
	s.n = ATTN__DELTA_PARALLEL_MAX_N;
	ck_assert_int_eq(attn_call_supports(m, &s, &pp, msg, sizeof msg), ATTN_OK);
	s.n = 100000;
	s.mode = ATTN_MODE_DECODE;
	ck_assert_int_eq(attn_call_supports(m, &s, &pp, msg, sizeof msg), ATTN_OK);

	/* C and form out of range */
	s = mk_shape(1, 1, 1, 16, 16, 1, ATTN_MODE_PREFILL);
	static const double bad[][2] = {{0, 0}, {2, 1025}, {3, 64}, {2, 2.5}};
	for (int i = 0; i < 4; i++) {
		struct attn_params pb = dparams(NULL, (int)bad[i][0], 0);
		pb.v[ATTN__LIN_P_CHUNK] = bad[i][1];
		ck_assert_int_eq(attn_call_supports(m, &s, &pb, NULL, 0), ATTN_ERR_UNSUPPORTED);
	}

	/* the parameters are the linear family's form and C (C's default tuned to 32 for the delta
	 * rules; ttt_linear's mini-batch stays 64) */
	static const struct attn_param_spec form = ATTN__LIN_PARAM_FORM,
	                                    chunk = ATTN__LIN_PARAM_CHUNK;
	ck_assert_int_eq(m->n_params, 2);
	ck_assert_str_eq(m->params[0].name, form.name);
	ck_assert_str_eq(m->params[0].choices, form.choices);
	ck_assert_str_eq(m->params[1].name, chunk.name);
	ck_assert(m->params[1].def == (strcmp(m->name, "ttt_linear") == 0 ? 64 : 32) &&
	          m->params[1].min == chunk.min && m->params[1].max == chunk.max);
	ck_assert_int_eq(m->family, ATTN_FAMILY_LINEAR);
	ck_assert(m->tolerance == 1e-4 && m->time_exp == 1.0 && m->mem_exp == 0.0);
	ck_assert(m->inputs & ATTN_INPUT_BETA);
}
END_TEST

/* The analytic FLOPs follow the documented formulas; decode's workspace is flat in N. */
START_TEST(flops_counts)
{
	const struct attn_method *g = &attn_method_gated_deltanet, *t = &attn_method_ttt_linear;
	const double D = 16, N = 130;
	struct attn_shape s = mk_shape(1, 2, 2, 130, 16, 1, ATTN_MODE_PREFILL);
	struct attn_params pc = dparams(NULL, ATTN__LIN_FORM_CHUNK, 64);
	struct attn_params pr = dparams(NULL, ATTN__LIN_FORM_RECURRENT, 64);
	struct attn_params pp = dparams(NULL, ATTN__LIN_FORM_PARALLEL, 64);
	/* chunks of 64, 64 and 2 */
	double delta = 0.0, ttt = 0.0;
	static const double cs[] = {64, 64, 2};
	for (int i = 0; i < 3; i++) {
		const double c = cs[i];
		const double common = 6 * c * D * D + 2 * D * c * (c + 1);
		ttt += common;
		delta += common + 2 * D * c * (c - 1);
	}
	ck_assert_double_eq_tol(attn_call_flops(g, &s, &pc), 2 * delta, 1e-6);
	ck_assert_double_eq_tol(attn_call_flops(t, &s, &pc), 2 * ttt, 1e-6);
	ck_assert_double_eq_tol(attn_call_flops(g, &s, &pr), 2 * 6 * N * D * D, 1e-6);
	ck_assert_double_eq_tol(attn_call_flops(g, &s, &pp), 2 * 4 * D * N * N, 1e-6);
	/* TTT's -A pairs: rows 64..127 see 64 columns, rows 128, 129 see 128 */
	const double pa = 64 * 64 + 2 * 128;
	ck_assert_double_eq_tol(attn_call_flops(t, &s, &pp),
	                        2 * (4 * D * pa + 4 * D * N * (N + 1) / 2), 1e-6);
	s.mode = ATTN_MODE_DECODE;
	ck_assert_double_eq_tol(attn_call_flops(g, &s, &pc), 2 * (4 * D * D + 4 * D), 1e-6);
	for (int i = 0; i < N_METHODS; i++) {
		struct attn_shape s1 = s, s2 = s;
		s1.n = 1024;
		s2.n = 262144;
		ck_assert_uint_eq(attn_call_workspace_bytes(methods[i], &s1, &pc, 2),
		                  attn_call_workspace_bytes(methods[i], &s2, &pc, 2));
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("delta");
	TCase *tc = tcase_create("forms");
	tcase_add_loop_test(tc, forms_match_oracle, 0, N_METHODS);
	tcase_add_loop_test(tc, chunk_sizes_match_oracle, 0, N_METHODS);
	tcase_add_loop_test(tc, decode_is_last_prefill_row, 0, N_METHODS);
	tcase_add_loop_test(tc, gqa_reads_its_group, 0, N_METHODS);
	tcase_add_loop_test(tc, refusals, 0, N_METHODS);
	tcase_add_test(tc, flops_counts);
	tcase_add_test(tc, ttt_c1_is_deltanet);
	tcase_add_test(tc, ttt_minibatch_by_hand);
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);
	TCase *th = tcase_create("hazards");
	tcase_add_loop_test(th, beta_one_long, 0, N_METHODS);
	tcase_add_loop_test(th, retrieval_beta_one, 0, N_METHODS);
	tcase_add_test(th, strong_gates);
	tcase_set_timeout(th, 300);
	suite_add_tcase(s, th);
	return attn_test_run(s, CK_NORMAL);
}
