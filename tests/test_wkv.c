/*
 * Tests of the element-wise row of the linear family, aft and rwkv (on the
 * engine in methods/engines/wkv.c):
 *
 *  - both forms (parallel, recurrent) against the float64 oracle at N in
 *    {1, 63, 64, 65, 200}, D in {16, 64}, B = 2, H = 4 over KVH = 2 and 1,
 *    causal, and not causal for aft, to 1e-4;
 *  - decode (a state prepared from the context, one step) equals the last
 *    row of causal prefill and the oracle; two threads give the same bits as
 *    one, in prefill and decode;
 *  - stability: keys uniform in [-60, 60] (e^60 ≈ 1e26; unshifted sums of
 *    such terms overflow float32 past 88), both forms against the oracle;
 *    and N = 10⁶ (D = 4) where the recurrent form must stay finite and agree
 *    with a float64 recurrence of the same function, as must decode;
 *  - rwkv's decays and bonus (RWKV-4's initialisation, heads for layers),
 *    read back through a three-token input;
 *  - supports() reasons (no chunk form, rwkv causal only, bad forms and
 *    shapes), the descriptors, and the workspace and cost formulas.
 *
 * Inputs come from the workload generator (Q, K, V only); large keys are
 * written over its K. Every run has a NaN-filled workspace and output with
 * guard bytes after them (method_check.h). Loops collect the worst error and
 * assert once at the end.
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
#include "engines/linattn.h"
#include "method_check.h"

extern const struct attn_method attn_method_aft;
extern const struct attn_method attn_method_rwkv;

static const struct attn_method *const methods[] = {&attn_method_aft, &attn_method_rwkv};
#define N_METHODS ((int)(sizeof(methods) / sizeof(*methods)))

/* The two forms there are (chunk is refused). */
static const int forms[] = {ATTN__LIN_FORM_PARALLEL, ATTN__LIN_FORM_RECURRENT};

/* ---- helpers ------------------------------------------------------------------ */

static struct attn_params form_params(int form)
{
	return (struct attn_params){.count = 1, .v = {form}};
}

/* form_params() for method_check.h, which passes a C these methods do not have. */
static struct attn_params wkv_params(const struct attn_method *m, int form, int64_t C)
{
	(void)m;
	(void)C;
	return form_params(form);
}

/* Forms 0 and 1 (the `forms` above); the oracle at the recurrent form. */
static const struct form_set wkv_forms = {wkv_params, 2};
/* The one pass over C that method_check.h makes (wkv_params ignores it). */
static const int64_t no_c[] = {0};

/* The causal flags m takes: aft both, rwkv causal only. */
static int causal_lo(const struct attn_method *m)
{
	return m == &attn_method_aft ? 0 : 1;
}

/* K uniform in [-60, 60], seeded. */
static void large_keys(struct attn_workload *wl, const struct attn_shape *s)
{
	float *k = (float *)wl->in.k;
	const size_t n = (size_t)(s->batch * s->kv_heads * s->n * s->d);
	for (size_t i = 0; i < n; i++)
		k[i] = (float)(120.0 * attn_rng_uniform(3, 60, i) - 60.0);
}

/* ---- forms against the oracle ---------------------------------------------------- */

START_TEST(forms_match_oracle)
{
	const struct attn_method *m = methods[_i];
	static const int64_t ns[] = {1, 63, 64, 65, 200};
	static const int64_t ds[] = {16, 64};
	static const int64_t kvhs[] = {2, 1};
	struct worst w = {0.0, ""};
	for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
		for (size_t di = 0; di < sizeof ds / sizeof *ds; di++)
			for (size_t ki = 0; ki < sizeof kvhs / sizeof *kvhs; ki++)
				for (int causal = causal_lo(m); causal <= 1; causal++) {
					struct attn_shape s =
					    mk_shape(2, 4, kvhs[ki], ns[ni], ds[di], causal,
					             ATTN_MODE_PREFILL);
					check_forms(m, &s, no_c, 1, &wkv_forms, &w);
				}
	ck_assert_msg(w.err <= 1e-4, "worst %g at %s", w.err, w.where);
}
END_TEST

/*
 * Decode from a prepared state equals the last row of causal prefill (either
 * form) and the oracle of the decode shape; two threads give the bits of one.
 */
START_TEST(decode_is_last_prefill_row)
{
	const struct attn_method *m = methods[_i];
	static const int64_t ns[] = {1, 2, 65, 200};
	struct worst w = {0.0, ""};
	check_decode(m, ns, 4, 0 /* no C */, &wkv_forms, &w);
	ck_assert_msg(w.err <= 1e-4, "worst %g at %s", w.err, w.where);
}
END_TEST

/*
 * aft's decode of a non-causal shape is the causal one, bit for bit: the one
 * query at N - 1 sees every key either way.
 */
START_TEST(aft_decode_ignores_causal)
{
	const struct attn_method *m = &attn_method_aft;
	struct attn_shape s = mk_shape(2, 4, 2, 65, 32, 1, ATTN_MODE_DECODE);
	struct attn_workload wl;
	ck_assert_int_eq(attn_workload_alloc(&s, m->inputs, ATTN_DIST_GAUSSIAN, 3, &wl), 0);
	struct attn_params p = form_params(ATTN__LIN_FORM_RECURRENT);
	float *dc = run_method(m, &s, &p, &wl.in, 1);
	s.causal = 0;
	float *dn = run_method(m, &s, &p, &wl.in, 1);
	ck_assert(memcmp(dc, dn, out_count(&s) * sizeof(float)) == 0);
	free(dc);
	free(dn);
	attn_workload_free(&wl);
}
END_TEST

/* ---- stability ------------------------------------------------------------------- */

/*
 * Keys uniform in [-60, 60]: each channel's softmax over positions is
 * dominated by a few keys and e^{±60} leaves float32's comfortable range
 * as soon as a few are summed unshifted. Both forms, prefill and decode,
 * against the oracle.
 */
START_TEST(large_keys_match_oracle)
{
	const struct attn_method *m = methods[_i];
	static const int64_t ns[] = {65, 200};
	struct worst w = {0.0, ""};
	for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
		for (int mode = 0; mode < 2; mode++)
			for (int causal = causal_lo(m); causal <= 1; causal++) {
				struct attn_shape s =
				    mk_shape(1, 4, 2, ns[ni], 16, causal,
				             mode ? ATTN_MODE_DECODE : ATTN_MODE_PREFILL);
				struct attn_workload wl;
				ck_assert_int_eq(
				    attn_workload_alloc(&s, m->inputs, ATTN_DIST_GAUSSIAN, 5, &wl),
				    0);
				large_keys(&wl, &s);
				check_forms_on(m, &s, &wl.in, no_c, 1, &wkv_forms, &w, "vs oracle");
				attn_workload_free(&wl);
			}
	ck_assert_msg(w.err <= 1e-4, "worst %g at %s", w.err, w.where);
}
END_TEST

/* rwkv's w and u (D) of head h of H, as documented in rwkv.c, rounded to float. */
static void rwkv_wu(int64_t h, int64_t H, int64_t D, double *w, double *u)
{
	const double rho = H > 1 ? (double)h / (double)(H - 1) : 0.0;
	for (int64_t c = 0; c < D; c++) {
		const double x = D > 1 ? (double)c / (double)(D - 1) : 0.0;
		w[c] = (float)exp(-5.0 + 8.0 * pow(x, 0.7 + 1.3 * rho));
		u[c] = (float)(log(0.3) + 0.5 * (double)((c + 1) % 3 - 1));
	}
}

/*
 * The function of m over one head (B = H = 1) as a float64 recurrence of the
 * unshifted sums (fine in float64 for keys within ±60 and N = 10⁶:
 * 10⁶ e^60 ≈ 1e32):
 *   aft:  A_t = A_{t-1} + e^{k_t} v_t, B likewise, o_t = σ(q_t) A_t / B_t
 *         (not causal: A_{N-1} / B_{N-1} for every t)
 *   rwkv: o_t = σ(q_t) (A + e^{u+k_t} v_t) / (B + e^{u+k_t}), then
 *         A = e^{-w} A + e^{k_t} v_t, B likewise.
 * out (N, D).
 */
static void recurrence_f64(const struct attn_method *m, const struct attn_shape *s,
                           const struct attn_inputs *in, double *out)
{
	const int64_t N = s->n, D = s->d;
	double w[16], u[16];
	ck_assert(D <= 16);
	rwkv_wu(0, 1, D, w, u);
	for (int64_t c = 0; c < D; c++) {
		double A = 0.0, B = 0.0;
		for (int64_t t = 0; t < N; t++) {
			const double k = in->k[t * D + c], v = in->v[t * D + c];
			const double sig = 1.0 / (1.0 + exp(-(double)in->q[t * D + c]));
			if (m == &attn_method_rwkv) {
				const double eu = exp(u[c] + k);
				out[t * D + c] = sig * (A + eu * v) / (B + eu);
				A = exp(-w[c]) * A + exp(k) * v;
				B = exp(-w[c]) * B + exp(k);
			} else {
				A += exp(k) * v;
				B += exp(k);
				out[t * D + c] = sig * A / B;
			}
		}
		if (!s->causal)
			for (int64_t t = 0; t < N; t++)
				out[t * D + c] = A / B / (1.0 + exp(-(double)in->q[t * D + c]));
	}
}

/*
 * N = 10⁶, D = 4, keys uniform in [-60, 60]: the recurrent form (and aft's
 * non-causal form) stays finite and agrees with the float64 recurrence; the
 * decode step after the whole context agrees with its last row. (aft keeps
 * every key, so its float32 sums run over ~10⁵ terms near the max: 2e-5 of
 * error causal; the non-causal form sums in blocks, 4e-7; rwkv's decay keeps
 * its sums short, 5e-7.)
 */
START_TEST(long_sequence_large_keys)
{
	const struct attn_method *m = methods[_i];
	const double tol = 1e-4;
	for (int causal = causal_lo(m); causal <= 1; causal++) {
		struct attn_shape s = mk_shape(1, 1, 1, 1000000, 4, causal, ATTN_MODE_PREFILL);
		struct attn_workload wl, wd;
		ck_assert_int_eq(attn_workload_alloc(&s, m->inputs, ATTN_DIST_GAUSSIAN, 8, &wl), 0);
		large_keys(&wl, &s);
		double *ref = malloc(out_count(&s) * sizeof(double));
		ck_assert_ptr_nonnull(ref);
		recurrence_f64(m, &s, &wl.in, ref);
		struct attn_params pr = form_params(ATTN__LIN_FORM_RECURRENT);
		float *rec = run_method(m, &s, &pr, &wl.in, 1); /* fails on NaN/Inf */
		double e = rel_err_d(rec, ref, out_count(&s));
		ck_assert_msg(e <= tol, "%s causal=%d: recurrent vs float64 recurrence %g", m->name,
		              causal, e);

		s.mode = ATTN_MODE_DECODE;
		ck_assert_int_eq(attn_workload_alloc(&s, m->inputs, ATTN_DIST_GAUSSIAN, 8, &wd), 0);
		large_keys(&wd, &s);
		float *dec = run_method(m, &s, &pr, &wd.in, 1);
		e = rel_err_d(dec, ref + (s.n - 1) * s.d, (size_t)s.d);
		ck_assert_msg(e <= tol, "%s causal=%d: decode vs float64 recurrence %g", m->name,
		              causal, e);
		free(dec);
		free(rec);
		free(ref);
		attn_workload_free(&wd);
		attn_workload_free(&wl);
	}
}
END_TEST

/* ---- rwkv's decays ------------------------------------------------------------------ */

/*
 * N = 3, q = 100 (σ = 1), k = 0, v_0 = 1 and v_1 = v_2 = 0 in every channel:
 *   o_0 = 1,   o_1 = 1 / (1 + e^u),   o_2 = e^{-w} / (e^{-w} + 1 + e^u)
 * so the output reads back w_c and u_c of each head (H = 3: ρ = 0, 1/2, 1),
 * and the distance t - 1 - j of the decay.
 */
START_TEST(rwkv_decay_schedule)
{
	const int64_t H = 3, N = 3, D = 5;
	struct attn_shape s = mk_shape(1, H, H, N, D, 1, ATTN_MODE_PREFILL);
	const size_t n = (size_t)(H * N * D);
	float *q = malloc(n * sizeof(float)), *k = calloc(n, sizeof(float));
	float *v = calloc(n, sizeof(float));
	ck_assert(q && k && v);
	for (size_t i = 0; i < n; i++)
		q[i] = 100.0f;
	for (int64_t h = 0; h < H; h++)
		for (int64_t c = 0; c < D; c++)
			v[h * N * D + c] = 1.0f;
	struct attn_inputs in = {.q = q, .k = k, .v = v};
	for (int f = 0; f < 2; f++) {
		struct attn_params p = form_params(forms[f]);
		float *out = run_method(&attn_method_rwkv, &s, &p, &in, 1);
		for (int64_t h = 0; h < H; h++) {
			double w[5], u[5];
			rwkv_wu(h, H, D, w, u);
			for (int64_t c = 0; c < D; c++) {
				const double want[3] = {1.0, 1.0 / (1.0 + exp(u[c])),
				                        exp(-w[c]) /
				                            (exp(-w[c]) + 1.0 + exp(u[c]))};
				for (int64_t t = 0; t < N; t++) {
					const double got = out[(h * N + t) * D + c];
					ck_assert_msg(
					    fabs(got - want[t]) <= 1e-5 * want[t],
					    "form=%d h=%lld c=%lld t=%lld: %.9g, want %.9g",
					    forms[f], (long long)h, (long long)c, (long long)t, got,
					    want[t]);
				}
			}
		}
		free(out);
	}
	free(q);
	free(k);
	free(v);
}
END_TEST

/* ---- descriptors, supports, costs ---------------------------------------------------- */

START_TEST(descriptors)
{
	static const struct attn_param_spec lin_form = ATTN__LIN_PARAM_FORM;
	for (int i = 0; i < N_METHODS; i++) {
		const struct attn_method *m = methods[i];
		ck_assert_int_eq(m->abi_version, ATTN_ABI_VERSION);
		ck_assert_int_eq(m->family, ATTN_FAMILY_LINEAR);
		ck_assert_str_eq(m->category, "element-wise");
		ck_assert(!(m->flags & ATTN_METHOD_EXACT));
		ck_assert(m->time_exp == 1.0 && m->mem_exp == 0.0 && m->tolerance == 1e-4);
		ck_assert_int_eq(m->inputs, 0);
		/* `form` as the linear family numbers it, recurrent by default */
		ck_assert_int_eq(m->n_params, 1);
		ck_assert_str_eq(m->params[0].name, "form");
		ck_assert_str_eq(m->params[0].choices, lin_form.choices);
		ck_assert(m->params[0].def == ATTN__LIN_FORM_RECURRENT);
	}
}
END_TEST

START_TEST(supports_reasons)
{
	char msg[256];
	for (int i = 0; i < N_METHODS; i++) {
		const struct attn_method *m = methods[i];
		struct attn_shape s = mk_shape(1, 4, 2, 16, 16, 1, ATTN_MODE_PREFILL);
		struct attn_params p = form_params(ATTN__LIN_FORM_CHUNK);
		char want[128];
		snprintf(want, sizeof want,
		         "%s has no chunk form: its recurrence is already O(N D) element-wise",
		         m->name);
		for (int mode = 0; mode < 2; mode++) {
			s.mode = mode ? ATTN_MODE_DECODE : ATTN_MODE_PREFILL;
			msg[0] = '\0';
			ck_assert_int_eq(attn_call_supports(m, &s, &p, msg, sizeof msg),
			                 ATTN_ERR_UNSUPPORTED);
			ck_assert_str_eq(msg, want);
		}
		/* forms outside 0..2 */
		for (int f = -1; f <= 3; f += 4) {
			p = form_params(f);
			msg[0] = '\0';
			ck_assert_int_eq(attn_call_supports(m, &s, &p, msg, sizeof msg),
			                 ATTN_ERR_UNSUPPORTED);
			ck_assert_ptr_nonnull(strstr(msg, "form"));
		}
		/* the defaults (no params) and both forms are fine */
		ck_assert_int_eq(attn_call_supports(m, &s, NULL, NULL, 0), ATTN_OK);
		for (int f = 0; f < 2; f++) {
			p = form_params(forms[f]);
			ck_assert_int_eq(attn_call_supports(m, &s, &p, NULL, 0), ATTN_OK);
		}
		/* bad shapes */
		struct attn_shape bad = s;
		bad.kv_heads = 3;
		msg[0] = '\0';
		ck_assert_int_eq(attn_call_supports(m, &bad, NULL, msg, sizeof msg),
		                 ATTN_ERR_UNSUPPORTED);
		ck_assert(msg[0] != '\0');
		bad = s;
		bad.d = 0;
		ck_assert_int_eq(attn_call_supports(m, &bad, NULL, NULL, 0), ATTN_ERR_UNSUPPORTED);
		/* not causal: aft has the bidirectional form, rwkv is causal only */
		for (int mode = 0; mode < 2; mode++) {
			struct attn_shape nc = mk_shape(
			    1, 4, 2, 16, 16, 0, mode ? ATTN_MODE_DECODE : ATTN_MODE_PREFILL);
			msg[0] = '\0';
			const int rc = attn_call_supports(m, &nc, NULL, msg, sizeof msg);
			if (m == &attn_method_aft) {
				ck_assert_int_eq(rc, ATTN_OK);
			} else {
				ck_assert_int_eq(rc, ATTN_ERR_UNSUPPORTED);
				ck_assert_str_eq(msg, "rwkv is causal only");
			}
		}
	}
}
END_TEST

/*
 * The workspace: a slice of D-vectors per thread in prefill, the state of
 * every head in decode, independent of N either way. The FLOP counts of
 * wkv.c: per (step, channel) aft 11, rwkv 24; parallel per (pair, channel)
 * aft 5, rwkv 7, plus per (row, channel) 5 and 8; decode 11 and 12 per
 * channel.
 */
START_TEST(workspace_and_costs)
{
	for (int i = 0; i < N_METHODS; i++) {
		const struct attn_method *m = methods[i];
		const int rw = m == &attn_method_rwkv;
		for (int f = 0; f < 2; f++) {
			struct attn_params p = form_params(forms[f]);
			for (int mode = 0; mode < 2; mode++) {
				const enum attn_mode md =
				    mode ? ATTN_MODE_DECODE : ATTN_MODE_PREFILL;
				struct attn_shape s1 = mk_shape(2, 4, 2, 1024, 64, 1, md);
				struct attn_shape s2 = mk_shape(2, 4, 2, 262144, 64, 1, md);
				ck_assert_uint_eq(attn_call_workspace_bytes(m, &s1, &p, 2),
				                  attn_call_workspace_bytes(m, &s2, &p, 2));
				if (mode) /* decode reads rows and the state, not the context */
					ck_assert_double_eq(attn_call_bytes(m, &s1, &p),
					                    attn_call_bytes(m, &s2, &p));
			}
			struct attn_shape s = mk_shape(2, 4, 2, 1000, 16, 1, ATTN_MODE_PREFILL);
			ck_assert_uint_eq(attn_call_workspace_bytes(m, &s, &p, 3),
			                  3 * attn_call_workspace_bytes(m, &s, &p, 1));
		}
		const double B = 2, H = 4, N = 130, D = 16;
		struct attn_shape s = mk_shape(2, 4, 2, 130, 16, 1, ATTN_MODE_PREFILL);
		struct attn_params pr = form_params(ATTN__LIN_FORM_RECURRENT);
		struct attn_params pp = form_params(ATTN__LIN_FORM_PARALLEL);
		ck_assert_double_eq_tol(attn_call_flops(m, &s, &pr), B * H * N * D * (rw ? 24 : 11),
		                        1e-6);
		ck_assert_double_eq_tol(
		    attn_call_flops(m, &s, &pp),
		    B * H * D * ((rw ? 7 : 5) * N * (N + 1) / 2 + (rw ? 8 : 5) * N), 1e-6);
		s.causal = 0;
		if (!rw)
			ck_assert_double_eq_tol(attn_call_flops(m, &s, &pp),
			                        B * H * D * (5 * N * N + 5 * N), 1e-6);
		s.causal = 1;
		s.mode = ATTN_MODE_DECODE;
		ck_assert_double_eq_tol(attn_call_flops(m, &s, &pr), B * H * D * (rw ? 12 : 11),
		                        1e-6);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wkv");
	TCase *tc = tcase_create("forms");
	tcase_add_loop_test(tc, forms_match_oracle, 0, N_METHODS);
	tcase_add_loop_test(tc, decode_is_last_prefill_row, 0, N_METHODS);
	tcase_add_test(tc, aft_decode_ignores_causal);
	tcase_add_test(tc, rwkv_decay_schedule);
	tcase_add_test(tc, descriptors);
	tcase_add_test(tc, supports_reasons);
	tcase_add_test(tc, workspace_and_costs);
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);
	TCase *th = tcase_create("stability");
	tcase_add_loop_test(th, large_keys_match_oracle, 0, N_METHODS);
	tcase_add_loop_test(th, long_sequence_large_keys, 0, N_METHODS);
	tcase_set_timeout(th, 300);
	suite_add_tcase(s, th);
	return attn_test_run(s, CK_NORMAL);
}
