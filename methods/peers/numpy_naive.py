"""Naive softmax attention in numpy, float32 through numpy's BLAS: the peer numpy_naive.

O = softmax(Q K^T / sqrt(D) + bias) V per (batch, head), the whole (NQ, N)
score matrix at once, as a numpy user writes it. GQA repeats the kv heads
(kv head j serves query heads j*G .. j*G+G-1, G = H / KVH), the causal mask is
an additive -inf bias, both built once outside the timed calls.
"""
import numpy as np

import attnpeer


def setup(case):
    q = case.q                                                   # (B, H, NQ, D)
    k = np.repeat(case.k, case.group, axis=1).transpose(0, 1, 3, 2).copy()  # (B, H, D, N)
    v = np.repeat(case.v, case.group, axis=1)                    # (B, H, N, D)
    bias = case.causal_bias()                                    # (NQ, N) or None
    scale = np.float32(1.0 / np.sqrt(case.d))
    last = [None]

    def run():
        s = (q @ k) * scale                                      # (B, H, NQ, N)
        if bias is not None:
            s += bias
        s -= s.max(axis=-1, keepdims=True)  # subtract the row max so exp cannot overflow
        np.exp(s, out=s)
        s /= s.sum(axis=-1, keepdims=True)
        last[0] = s @ v                                          # (B, H, NQ, D)

    return attnpeer.Peer(run=run, result=lambda: last[0],
                         info={"version": "numpy-" + np.__version__})


if __name__ == "__main__":
    raise SystemExit(attnpeer.serve(setup))
