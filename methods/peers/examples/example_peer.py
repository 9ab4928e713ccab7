"""A template peer: copy this file and its .peer, put your attention in forward().

Any Python attention (a flash-linear-attention Triton kernel, your own nn.Module)
joins attnbench's sweeps this way. Here forward() is naive softmax attention
in numpy so the template runs anywhere; the harness checks its output against
its float64 oracle because example_peer.peer says exact = 1.
"""
import os
import sys

import numpy as np

# attnpeer.py lives one folder up; a copy elsewhere points here at methods/peers/.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import attnpeer  # noqa: E402


def forward(q, k, v, causal):
    """q (B, H, N, D), k and v (B, H, N, D) -> (B, H, N, D). Replace with your own module,
    e.g. `return fla.ops.gla.chunk_gla(q, k, v, g)[0]` on torch tensors (then add a sync)."""
    s = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(q.shape[-1]))
    if causal:
        s += np.triu(np.full(s.shape[-2:], -np.inf, dtype=np.float32), 1)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    return (p / p.sum(axis=-1, keepdims=True)) @ v


def setup(case):
    # case: .q (B, H, NQ, D), .k/.v (B, KVH, N, D) numpy float32, .causal, .params (p.NAME=).
    if case.decode or case.kv_heads != case.heads:
        raise attnpeer.Unsupported("the template does prefill without GQA only")
    out = [None]

    def run():  # one forward; keep input conversion and allocation out of it
        out[0] = forward(case.q, case.k, case.v, case.causal)

    # Add sync=torch.cuda.synchronize for a GPU module; info lands in the case's provenance.
    return attnpeer.Peer(run=run, result=lambda: out[0], info={"version": "example-1"})


if __name__ == "__main__":
    raise SystemExit(attnpeer.serve(setup))
