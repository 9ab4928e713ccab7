"""Naive softmax attention in PyTorch, matmul, softmax, matmul: the peer torch_naive.

O = softmax(Q K^T / sqrt(D) + bias) V with the whole (NQ, N) score matrix,
float32, on device=cpu|cuda. GQA repeats the kv heads and the causal mask is
an additive -inf bias, both outside the timed calls.
"""
import math

import torch

import attnpeer
import torch_common as tc


def setup(case):
    device = tc.device_of(case)
    q, k, v = tc.inputs(case, device)
    k = tc.repeat_kv(k, case.group).transpose(-2, -1).contiguous()  # (B, H, D, N)
    v = tc.repeat_kv(v, case.group)                                 # (B, H, N, D)
    bias = tc.causal_bias(case, device)                             # (NQ, N) or None
    scale = 1.0 / math.sqrt(case.d)

    @torch.no_grad()
    def forward():
        s = torch.matmul(q, k).mul_(scale)                          # (B, H, NQ, N)
        if bias is not None:
            s.add_(bias)
        return torch.matmul(torch.softmax(s, dim=-1), v)            # (B, H, NQ, D)

    return tc.Torch(case, device, forward, {})


if __name__ == "__main__":
    raise SystemExit(attnpeer.serve(setup))
