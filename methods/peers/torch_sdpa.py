"""PyTorch's torch.nn.functional.scaled_dot_product_attention: the peer torch_sdpa.

O = SDPA(Q, K, V), float32, on device=cpu|cuda. PyTorch picks the kernel
(flash, memory-efficient, cuDNN or math); the peer records which one ran.
GQA goes through enable_gqa=True where SDPA has it (torch >= 2.5), else the kv
heads are repeated first (info gqa=repeat). torch < 2.0 has no SDPA: the peer
then runs the math path itself (matmul, softmax, matmul) and says
kernel=math_fallback.

Causal: SDPA's is_causal mask is top-left aligned (row i sees keys 0..i), right
for a prefill (NQ = N) but wrong for decode, whose one query row at position
N-1 must see all N keys; is_causal=True there would let it see key 0 only. So
decode always passes is_causal=False (tests/peers_drive.py checks causal
decode against the float64 reference).
"""
import math

import torch

import attnpeer
import torch_common as tc

# The aten operators SDPA dispatches to, by the kernel each one is. Which one ran is
# read from the profiler's operator names on one untimed call (truthful: it is what
# the dispatcher chose for these inputs, not a guess from the version).
_KERNELS = (("_scaled_dot_product_flash_attention", "flash"),
            ("_flash_attention_forward", "flash"),
            ("_scaled_dot_product_efficient_attention", "efficient"),
            ("_efficient_attention_forward", "efficient"),
            ("_scaled_dot_product_cudnn_attention", "cudnn"),
            ("_scaled_dot_product_attention_math", "math"))


def _kernel_that_ran(call):
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        call()
    names = [e.name for e in prof.events()]
    for op, kernel in _KERNELS:
        if any(op in name for name in names):
            # flash on cpu is PyTorch's own CPU flash kernel (..._flash_attention_for_cpu).
            return kernel
    return "math"  # no fused operator: the math path composed of bmm/softmax


def _has_enable_gqa(device):
    x = torch.zeros(1, 2, 1, 8, device=device)
    y = torch.zeros(1, 1, 1, 8, device=device)
    try:
        torch.nn.functional.scaled_dot_product_attention(x, y, y, enable_gqa=True)
        return True
    except (TypeError, RuntimeError):
        return False


def setup(case):
    device = tc.device_of(case)
    q, k, v = tc.inputs(case, device)
    sdpa = getattr(torch.nn.functional, "scaled_dot_product_attention", None)
    info = {}
    if sdpa is None:
        k = tc.repeat_kv(k, case.group).transpose(-2, -1).contiguous()
        v = tc.repeat_kv(v, case.group)
        bias = tc.causal_bias(case, device)
        scale = 1.0 / math.sqrt(case.d)

        def forward():
            s = torch.matmul(q, k).mul_(scale)
            if bias is not None:
                s.add_(bias)
            return torch.matmul(torch.softmax(s, dim=-1), v)

        info["kernel"] = "math_fallback"
    else:
        kwargs = {"is_causal": case.causal and not case.decode}
        if case.group > 1:
            if _has_enable_gqa(device):
                kwargs["enable_gqa"] = True
                info["gqa"] = "enable_gqa"
            else:
                k, v = tc.repeat_kv(k, case.group), tc.repeat_kv(v, case.group)
                info["gqa"] = "repeat"

        def forward():
            return sdpa(q, k, v, **kwargs)

        info["kernel"] = _kernel_that_ran(torch.no_grad()(forward))
    return tc.Torch(case, device, torch.no_grad()(forward), info)


if __name__ == "__main__":
    raise SystemExit(attnpeer.serve(setup))
