/*
 * `rwkv`: the WKV operator of RWKV-4 (Peng et al. 2023, RWKV: Reinventing
 * RNNs for the Transformer Era, eq. 14), per channel c:
 *
 *     o_t = σ(q_t) ⊙ (Σ_{j<t} e^{-(t-1-j) w + k_j} v_j + e^{u + k_t} v_t)
 *                  / (Σ_{j<t} e^{-(t-1-j) w + k_j}     + e^{u + k_t})
 *
 * with q as the receptance r: AFT with a decay w_c > 0 per channel and a
 * bonus u_c for the current token. Causal only.
 *
 * Decays. RWKV-4's w and u are learned per channel and fixed in time; we
 * take them from RWKV-4's own initialisation (RWKV-LM, RWKV_TimeMix),
 *     w_c = exp(-5 + 8 (c / (D-1))^{0.7 + 1.3 ρ}),   u_c = ln 0.3 + 0.5 ((c+1) mod 3 - 1),
 * where RWKV-4 has ρ = layer / (layers - 1); heads stand in for layers here,
 * ρ = h / (H-1) (0 for H = 1; c / (D-1) is 0 for D = 1). So every head spans
 * decays from e^-5 ≈ 0.007 (memory of ~150 steps) to e^3 ≈ 20 (the current
 * token only), with a curvature that varies by head. The workload's gate
 * inputs are not used: per-(t, channel) log gates (ATTN_INPUT_GATE_VEC)
 * would make the decay data-dependent, which is RWKV-6 (Finch), not
 * RWKV-4, and the inputs it reads stay Q, K and V, as for aft.
 *
 * The engine (methods/engines/wkv.c) computes both forms: recurrent by
 * default (O(N D), RWKV's (a, b, p) state), parallel as the explicit O(N² D)
 * sum. There is no chunk form. Stable at any key size and N (no overflow,
 * no NaN).
 */
#include <math.h>

#include "engines/wkv.h"
#include "kernels/kernels.h"

/* w (D) and u (D) of query head h of `heads`; see the top of the file. */
static void rwkv_decay(int64_t h, int64_t heads, int64_t D, float *w, float *u)
{
	const double rho = heads > 1 ? (double)h / (double)(heads - 1) : 0.0;
	for (int64_t c = 0; c < D; c++) {
		const double x = D > 1 ? (double)c / (double)(D - 1) : 0.0;
		w[c] = (float)exp(-5.0 + 8.0 * pow(x, 0.7 + 1.3 * rho));
		u[c] = (float)(log(0.3) + 0.5 * (double)((c + 1) % 3 - 1));
	}
}

static const struct attn__wkv_method rwkv_data = {.decay = rwkv_decay};

const struct attn_method attn_method_rwkv = {
    ATTN__WKV_METHOD_COMMON,
    .name = "rwkv",
    .data = &rwkv_data,
    .summary = "RWKV-4 WKV: AFT with a fixed decay per channel and a bonus for the current token",
    .citation =
        "Peng et al. 2023, RWKV: Reinventing RNNs for the Transformer Era, arXiv 2305.13048",
};
