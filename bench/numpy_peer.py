"""Naive attention in numpy, the peer bench/exact.c compares flash with.

Reads one case per line on stdin, "n d causal seconds", and answers with the
median seconds of one forward pass: S = QK^T/sqrt(d) (plus a -inf bias above
the diagonal when causal),
a row softmax, O = PV, all float32 through numpy's BLAS. It runs with the
thread count of its environment (OPENBLAS_NUM_THREADS), set by the caller.
"""
import sys
import time

import numpy as np


def attention(q, k, v, bias):
    s = (q @ k.T) * np.float32(1.0 / np.sqrt(q.shape[1]))
    if bias is not None:
        s += bias
    s -= s.max(axis=1, keepdims=True)
    np.exp(s, out=s)
    s /= s.sum(axis=1, keepdims=True)
    return s @ v


def main():
    rng = np.random.default_rng(42)
    for line in sys.stdin:
        n, d, causal, budget = line.split()
        n, d, causal, budget = int(n), int(d), int(causal) != 0, float(budget)
        q, k, v = (rng.standard_normal((n, d), dtype=np.float32) for _ in range(3))
        # The causal mask as an additive bias, built once outside the timing,
        # as a naive implementation that cares about speed would.
        bias = np.triu(np.full((n, n), -np.inf, dtype=np.float32), 1) if causal else None
        attention(q, k, v, bias)
        times = []
        start = time.perf_counter()
        while len(times) < 3 or (time.perf_counter() - start < budget and len(times) < 50):
            t0 = time.perf_counter()
            attention(q, k, v, bias)
            times.append(time.perf_counter() - t0)
        times.sort()
        print(times[len(times) // 2], flush=True)


if __name__ == "__main__":
    main()
