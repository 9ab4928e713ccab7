"""What the torch peers share: inputs on the device, synchronisation, the L2 flush,
the GPU's provenance and its fp32 matmul roof.
"""
import shutil
import subprocess
import time

import torch

import attnpeer


def device_of(case):
    device = case.param("device", "cpu")
    if device not in ("cpu", "cuda"):
        raise attnpeer.Unsupported("device=%s: this peer runs on cpu or cuda" % device)
    if device == "cuda" and not torch.cuda.is_available():
        raise attnpeer.Unsupported("device=cuda but torch %s sees no CUDA device"
                                   % torch.__version__)
    # The harness sets OMP_NUM_THREADS before torch starts; set it again in case
    # torch was started with another count by site configuration.
    torch.set_num_threads(case.threads)
    return torch.device(device)


def inputs(case, device):
    """q (B, H, NQ, D), k and v (B, KVH, N, D) as float32 tensors on the device."""
    return [torch.from_numpy(x).to(device).contiguous() for x in (case.q, case.k, case.v)]


def repeat_kv(x, group):
    """(B, KVH, N, D) -> (B, KVH*G, N, D): kv head j serves query heads j*G .. j*G+G-1."""
    return x if group == 1 else x.repeat_interleave(group, dim=1)


def causal_bias(case, device):
    bias = case.causal_bias()
    return None if bias is None else torch.from_numpy(bias).to(device)


class Torch(attnpeer.Peer):
    """A peer whose forward is a torch callable; adds cuda's sync, flush, roof and provenance."""

    def __init__(self, case, device, forward, info):
        self.device = device
        self.roof_ab = None
        self.last = None
        self.forward = forward
        cuda = device.type == "cuda"
        info = dict(info, version="torch-" + torch.__version__.split("+")[0], device=device.type)
        super().__init__(run=self._run, result=lambda: self.last, info=info,
                         flush_every_sample=cuda and case.param("l2_flush", 1) != 0)
        self.run()  # one untimed call: kernels loaded, allocator warm, clocks up
        if cuda:
            props = torch.cuda.get_device_properties(device)
            # 2x the L2 (40-60 MiB on H100/H200): writing it evicts every line the
            # previous sample left, the GPU's cold cache.
            l2 = getattr(props, "L2_cache_size", 0) or (50 << 20)
            self.flush_buf = torch.empty(2 * l2 // 4, dtype=torch.float32, device=device)
            self.info.update(gpu_info(props))

    def _run(self):
        self.last = self.forward()

    def sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def flush(self):
        if self.device.type == "cuda":
            self.flush_buf.fill_(1.0)
        else:
            attnpeer.flush_cpu_caches()

    def roof(self):
        """ns and flops of one n x n fp32 matmul (TF32 off, as torch's default) on the GPU.

        n = 4096 is 137 GFLOP, a few ms at fp32 speeds on any data-centre GPU. A cpu
        peer has no roof: the harness's own CPU probe is used then.
        """
        if self.device.type != "cuda":
            return None
        n, reps = 4096, 5
        if self.roof_ab is None:
            g = torch.Generator(device=self.device).manual_seed(0)
            self.roof_ab = [torch.randn(n, n, device=self.device, generator=g) for _ in range(3)]
        a, b, c = self.roof_ab
        torch.matmul(a, b, out=c)
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(self.device)
        start.record()
        for _ in range(reps):
            torch.matmul(a, b, out=c)
        stop.record()
        stop.synchronize()
        return int(start.elapsed_time(stop) * 1e6 / reps), 2.0 * n * n * n


def gpu_info(props):
    info = {"device_name": props.name, "memory_bytes": props.total_memory,
            "cuda": torch.version.cuda, "sm": "%d.%d" % (props.major, props.minor)}
    smi = shutil.which("nvidia-smi")
    if smi:
        # The clocks now (after the warm-up call the peer made) and the maximum.
        query = "clocks.sm,clocks.mem,clocks.max.sm,clocks.max.mem"
        try:
            text = subprocess.run([smi, "--query-gpu=" + query, "--format=csv,noheader,nounits",
                                   "-i", str(torch.cuda.current_device())],
                                  capture_output=True, text=True, timeout=10).stdout
            vals = [v.strip() for v in text.strip().split(",")]
            for key, val in zip(("sm_clock_mhz", "mem_clock_mhz", "max_sm_clock_mhz",
                                 "max_mem_clock_mhz"), vals):
                if val.isdigit():
                    info[key] = val
        except (OSError, subprocess.SubprocessError):
            pass
    return info
