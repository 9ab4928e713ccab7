"""The peer side of attnbench's peer protocol v1, for methods written in Python.

A peer is a program the harness starts and drives over its stdin/stdout (see
README, "Peers"). This module speaks that protocol so that a peer is only the
attention itself:

    import attnpeer

    def setup(case):            # case: the shape, the inputs as numpy arrays, p.NAME params
        q, k, v = case.q, case.k, case.v
        out = None
        def run():              # one forward pass; the harness times ITERS of them
            nonlocal out
            out = my_attention(q, k, v, causal=case.causal)
        return attnpeer.Peer(run=run, result=lambda: out, info={"version": "mine-1"})

    attnpeer.serve(setup)

`setup(case)` returns any object with `run()` and `result()` (the last
output, shape (B, H, NQ, D), as a numpy array or a torch tensor) and, if it
has them, `sync()` (wait for the device; called before the clock is read),
`flush()` (evict caches before a sample; called when the harness asks for a
cold cache, or before every sample when the object's `flush_every_sample` is
true), `roof()` (time a matmul at the method's precision on its device:
returns (ns, flops) of one call, or None for none) and `info` (a dict of provenance the harness
stores with the case). `setup` may raise `attnpeer.Unsupported(reason)` for a
case it does not take; any other exception answers `error` with its one-line
reason (the traceback goes to stderr, which the harness quotes on failure).

User code's prints go to stderr: the protocol owns the real stdout, which this
module takes over at the file-descriptor level (also for C extensions).
Works with Python >= 3.9, numpy 1.24..2.x; torch is never imported here.
"""
import os
import sys
import time
import traceback

import numpy as np

PROTOCOL = "hello attnbench-peer 1"

# The case's keys that are integers; the rest are strings (paths, mode, dtype, method).
_INT_KEYS = ("batch", "heads", "kv_heads", "n", "nq", "d", "causal", "threads", "seed")
_INPUTS = ("q", "k", "v", "log_gate", "gate_vec", "beta")


class Unsupported(Exception):
    """Raised by setup() for a case the peer does not take (status unsupported)."""


class Peer:
    """A ready-made peer object from callables, for setups that prefer closures."""

    def __init__(self, run, result, sync=None, flush=None, roof=None, info=None,
                 flush_every_sample=False):
        self.run = run
        self.result = result
        if sync is not None:
            self.sync = sync
        if flush is not None:
            self.flush = flush
        if roof is not None:
            self.roof = roof
        self.info = dict(info or {})
        self.flush_every_sample = flush_every_sample


class Case:
    """One case of the harness: its shape, its inputs and the descriptor's parameters.

    Attributes: method batch heads kv_heads n nq d mode threads seed dtype (as
    the harness sent them), causal (bool), decode (bool), group (heads per kv
    head), q (B, H, NQ, D), k and v (B, KVH, N, D) float32 numpy arrays,
    log_gate/gate_vec/beta where the descriptor asks for them (else None),
    out (the output path), params ({NAME: int | float | str}) and fields
    (every KEY=VALUE as sent).
    """

    def __init__(self, fields):
        self.fields = fields
        for key in _INT_KEYS:
            if key not in fields:
                raise ValueError("case lacks " + key)
            setattr(self, key, int(fields[key]))
        self.method = fields.get("method", "")
        self.mode = fields.get("mode", "prefill")
        self.dtype = fields.get("dtype", "float32")
        self.out = fields.get("out")
        self.causal = self.causal != 0
        self.decode = self.mode == "decode"
        self.group = self.heads // self.kv_heads
        self.params = {k[2:]: _number(v) for k, v in fields.items() if k.startswith("p.")}
        for name in _INPUTS:
            path = fields.get(name)
            setattr(self, name, np.load(path) if path else None)
        if self.out is None:
            raise ValueError("case lacks out")

    def param(self, name, default=None):
        return self.params.get(name, default)

    def causal_bias(self):
        """The causal mask as an additive float32 bias (NQ, N), or None when nothing is masked.

        Query row i sits at position N - NQ + i and sees keys 0..N - NQ + i
        (bottom-right aligned): all rows of a prefill's lower triangle, and in
        decode (NQ = 1) the whole cache, so a causal decode masks nothing.
        """
        if not self.causal or self.decode:
            return None
        return np.triu(np.full((self.nq, self.n), -np.inf, dtype=np.float32),
                       self.n - self.nq + 1)


def _number(text):
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def _one_line(exc):
    text = "%s: %s" % (type(exc).__name__, exc) if str(exc) else type(exc).__name__
    return " ".join(text.split())[:400]


def info_value(value):
    """An info value as the protocol wants it: one word, spaces as '_'."""
    return "_".join(str(value).split()) or "_"


def _as_numpy(x):
    if hasattr(x, "detach"):  # a torch tensor, on any device
        x = x.detach().cpu().numpy()
    return np.ascontiguousarray(x, dtype=np.float32)


_flush_buf = None


def flush_cpu_caches():
    """Writes a buffer of twice the last-level cache, the default flush of a CPU peer."""
    global _flush_buf
    if _flush_buf is None:
        size = 64 << 20
        try:
            for index in sorted(os.listdir("/sys/devices/system/cpu/cpu0/cache")):
                with open("/sys/devices/system/cpu/cpu0/cache/%s/size" % index) as f:
                    text = f.read().strip()
                scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
                size = max(size, 2 * int(text.rstrip("KMG")) * scale)
        except (OSError, ValueError):
            pass
        _flush_buf = np.zeros(size // 8, dtype=np.float64)
    _flush_buf += 1.0


class _Wire:
    """The protocol's two pipes: requests from stdin, answers to the original stdout."""

    def __init__(self):
        sys.stdout.flush()
        out_fd = os.dup(1)
        os.dup2(2, 1)  # whatever else writes to fd 1 (prints, C libraries) lands in stderr
        sys.stdout = sys.stderr
        self.out = os.fdopen(out_fd, "w", buffering=1)
        self.inp = sys.stdin

    def send(self, line):
        self.out.write(line.replace("\n", " ") + "\n")
        self.out.flush()

    def recv(self):
        line = self.inp.readline()
        return None if line == "" else line.strip()


def _time_sample(impl, iters, flush):
    sync = getattr(impl, "sync", None)
    if flush or getattr(impl, "flush_every_sample", False):
        getattr(impl, "flush", flush_cpu_caches)()
    if sync:
        sync()
    t0 = time.perf_counter_ns()
    for _ in range(iters):
        impl.run()
    if sync:
        sync()
    return time.perf_counter_ns() - t0


def _serve_requests(wire, impl, out_path):
    while True:
        line = wire.recv()
        if line is None or line == "quit":
            return 0
        words = line.split()
        try:
            if words[0] == "run":
                iters = int(words[1])
                opts = dict(w.split("=", 1) for w in words[2:])
                ns = _time_sample(impl, iters, opts.get("flush") == "1")
                answer = "ns %d" % ns
                roof = impl.roof() if opts.get("roof") == "1" and hasattr(impl, "roof") else None
                if roof:
                    answer += " roof_ns=%d roof_flops=%.17g" % roof
                wire.send(answer)
            elif words[0] == "output":
                np.save(out_path, _as_numpy(impl.result()), allow_pickle=False)
                wire.send("ok")
            else:
                wire.send("error unknown request: " + line[:80])
        except Exception as exc:  # the harness records it; the peer stays to be told quit
            traceback.print_exc()
            wire.send("error " + _one_line(exc))


def serve(setup):
    """Runs the protocol on stdin/stdout until quit or EOF; setup(case) builds the peer."""
    wire = _Wire()
    wire.send(PROTOCOL)
    line = wire.recv()
    if line is None:
        return 0
    if not line.startswith("case"):
        wire.send("error expected 'case ...', got: " + line[:80])
        return 1
    try:
        fields = dict(w.split("=", 1) for w in line.split()[1:])
        case = Case(fields)
        impl = setup(case)
    except Unsupported as exc:
        wire.send("unsupported " + (" ".join(str(exc).split()) or "unsupported case"))
        return _drain(wire)
    except Exception as exc:
        traceback.print_exc()
        wire.send("error " + _one_line(exc))
        return _drain(wire)
    info = getattr(impl, "info", None) or {}
    words = ["%s=%s" % (info_value(k), info_value(v)) for k, v in info.items()]
    wire.send(" ".join(["ready"] + words))
    return _serve_requests(wire, impl, case.out)


def _drain(wire):
    # After unsupported/error the harness says quit (or closes the pipe); answer nothing else.
    while True:
        line = wire.recv()
        if line is None or line == "quit":
            return 0
        wire.send("error no case is set up")
