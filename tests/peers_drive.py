"""The harness side of peer protocol v1, in Python, for testing the shipped peers alone.

For every methods/peers/*.peer (or the descriptors named on the command line)
and every shape below (causal and full prefill, causal and full decode, GQA),
it writes random q/k/v as .npy, starts the peer as the harness does (cwd = the
descriptor's folder, ATTNBENCH_PEER=1, thread variables), walks it through
hello, case, run (plain, flush=1, roof=1), output and quit, and checks:
the answers' syntax, the output's shape and dtype, and its relative error
against a float64 numpy reference (the harness's metric: ||o - ref|| / ||ref||)
within the descriptor's tolerance. Also a case the peer must refuse cleanly
(a bad device), shapes outside the descriptor's supports (answered
unsupported) and garbage requests. Exits 1 naming each failure.

    /usr/bin/python3 tests/peers_drive.py [SRC_DIR] [NAME.peer ...] [-pNAME=VALUE ...]

-pdevice=cuda runs the torch peers' checks on the GPU (bench/gpu_peers.sh does).
"""
import os
import shlex
import subprocess
import sys
import tempfile

import numpy as np

# (batch, heads, kv_heads, n, d, mode, causal)
SHAPES = [(1, 2, 2, 48, 16, "prefill", 1), (2, 2, 2, 40, 8, "prefill", 0),
          (1, 4, 2, 64, 32, "prefill", 1), (1, 4, 1, 33, 16, "prefill", 0),
          (2, 4, 2, 50, 16, "decode", 1), (1, 2, 2, 37, 64, "decode", 0)]


def read_descriptor(path):
    desc, params = {}, []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            key, value = (x.strip() for x in line.split("=", 1))
            if key == "param":
                params.append(value.split())
            else:
                desc[key] = value
    return desc, params


def reference(q, k, v, causal):
    """float64 softmax attention; q (B, H, NQ, D), k/v (B, KVH, N, D); bottom-right causal."""
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    group = q.shape[1] // k.shape[1]
    k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
    nq, n = q.shape[2], k.shape[2]
    s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(q.shape[3])
    if causal:
        s = s + np.triu(np.full((nq, n), -np.inf), n - nq + 1)
    s = np.exp(s - s.max(axis=-1, keepdims=True))
    return (s / s.sum(axis=-1, keepdims=True)) @ v


class Peer:
    def __init__(self, desc_path, desc):
        argv = shlex.split(desc["command"].replace("${PYTHON}", sys.executable))
        env = dict(os.environ, ATTNBENCH_PEER="1", OMP_NUM_THREADS="1",
                   OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(argv, cwd=os.path.dirname(os.path.abspath(desc_path)),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True, env=env)

    def recv(self):
        line = self.proc.stdout.readline()
        if not line:
            self.stderr.seek(0)
            raise AssertionError("peer closed stdout; stderr: " + self.stderr.read()[-2000:])
        return line.rstrip("\n")

    def ask(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.recv()

    def quit(self):
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        rc = self.proc.wait(timeout=10)
        assert rc == 0, "exit status %d after quit" % rc


def case_line(name, shape, params, folder, rng):
    b, h, kvh, n, d, mode, causal = shape
    nq = 1 if mode == "decode" else n
    arrays = {"q": rng.standard_normal((b, h, nq, d), dtype=np.float32),
              "k": rng.standard_normal((b, kvh, n, d), dtype=np.float32),
              "v": rng.standard_normal((b, kvh, n, d), dtype=np.float32)}
    words = ["case", "method=" + name, "batch=%d" % b, "heads=%d" % h, "kv_heads=%d" % kvh,
             "n=%d" % n, "nq=%d" % nq, "d=%d" % d, "mode=" + mode, "causal=%d" % causal,
             "threads=1", "seed=7", "dtype=float32"]
    for key, x in arrays.items():
        path = os.path.join(folder, key + ".npy")
        np.save(path, x)
        words.append("%s=%s" % (key, path))
    words.append("out=" + os.path.join(folder, "out.npy"))
    words += ["p.%s=%s" % (p[0], p[3] if p[1] == "enum" else p[2]) for p in params]
    return " ".join(words), arrays


def supported(desc, shape):
    """Whether the descriptor's supports line takes the shape."""
    words = desc.get("supports", "").split()
    _, h, kvh, _, _, mode, causal = shape
    return (("causal" if causal else "full") in words and (mode != "decode" or "decode" in words)
            and (kvh == h or "gqa" in words))


def check_shape(desc_path, desc, params, shape, folder, rng, flush):
    line, a = case_line(desc["name"], shape, params, folder, rng)
    peer = Peer(desc_path, desc)
    assert peer.recv() == "hello attnbench-peer 1"
    ready = peer.ask(line)
    if not supported(desc, shape):
        # Outside the descriptor's supports: the peer must refuse it, not run it.
        assert ready.split()[0] == "unsupported", "unsupported shape answered %r" % ready
        peer.quit()
        return ready, 0.0
    assert ready.split()[0] == "ready", "answered %r to the case" % ready
    assert all("=" in w for w in ready.split()[1:]), "info not KEY=VALUE: " + ready
    # flush=1 writes twice the LLC (up to a GiB here): asked once per peer, not per shape.
    for req in ("run 1", "run 3", "run 2 flush=%d" % flush, "run 1 flush=0 roof=1"):
        ans = peer.ask(req).split()
        assert ans[0] == "ns" and int(ans[1]) > 0, "%r -> %r" % (req, ans)
        assert all("=" in w for w in ans[2:]), "%r -> %r" % (req, ans)
    assert peer.ask("output") == "ok"
    out = np.load(os.path.join(folder, "out.npy"))
    want = reference(a["q"], a["k"], a["v"], shape[6])
    assert out.dtype == np.float32 and out.flags.c_contiguous, "output %s" % out.dtype
    assert out.shape == want.shape, "output shape %s, want %s" % (out.shape, want.shape)
    rel = np.linalg.norm(out - want) / np.linalg.norm(want)
    assert rel <= float(desc["tolerance"]), "relative error %.3g" % rel
    assert peer.ask("bogus 1").startswith("error "), "garbage request not refused"
    peer.quit()
    return ready, rel


def check_bad_device(desc_path, desc, params, folder, rng):
    """device=nosuch must be answered with one line (unsupported or error), then quit is 0."""
    if not any(p[0] == "device" for p in params):
        return
    bad = [p if p[0] != "device" else [p[0], "enum", p[2], "nosuch"] for p in params]
    line, _ = case_line(desc["name"], SHAPES[0], bad, folder, rng)
    peer = Peer(desc_path, desc)
    peer.recv()
    ans = peer.ask(line)
    assert ans.split()[0] in ("unsupported", "error"), "device=nosuch answered %r" % ans
    peer.quit()


# A peer that prints to stdout from Python and from a C library (libc's puts), and
# fails in its third forward: the protocol must survive the prints, and the
# exception must come back as one `error` line while the peer stays to be told quit.
NOISY = """import ctypes, os, sys
sys.path.insert(0, %r)
import attnpeer
def setup(case):
    print("setup chatter")
    ctypes.CDLL(None).puts(b"libc chatter")
    calls = [0]
    def run():
        calls[0] += 1
        print("run chatter", calls[0])
        if calls[0] == 3:
            raise ValueError("third call\\nfails")
    return attnpeer.Peer(run=run, result=lambda: case.q * 0, info={"note": "two words"})
raise SystemExit(attnpeer.serve(setup))
"""


def check_noisy(folder_of_peers, folder, rng):
    script = os.path.join(folder, "noisy.py")
    with open(script, "w") as f:
        f.write(NOISY % os.path.abspath(folder_of_peers))
    desc = {"name": "noisy", "command": "${PYTHON} noisy.py"}
    line, a = case_line("noisy", SHAPES[0], [], folder, rng)
    peer = Peer(script, desc)
    assert peer.recv() == "hello attnbench-peer 1"
    assert peer.ask(line) == "ready note=two_words"
    assert peer.ask("run 2").startswith("ns ")
    assert peer.ask("run 1") == "error ValueError: third call fails"
    assert peer.ask("output") == "ok"
    assert np.load(os.path.join(folder, "out.npy")).shape == a["q"].shape
    peer.quit()
    peer.stderr.seek(0)
    err = peer.stderr.read()
    assert "setup chatter" in err and "libc chatter" in err and "run chatter 3" in err, err


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("-p")]
    overrides = dict(a[2:].split("=", 1) for a in argv[1:] if a.startswith("-p"))
    src = args[0] if args else os.path.join(os.path.dirname(__file__), "..")
    folder_of_peers = os.path.join(src, "methods", "peers")
    descs = args[1:] or sorted(os.path.join(folder_of_peers, f)
                               for f in os.listdir(folder_of_peers) if f.endswith(".peer"))
    if not args[1:]:
        descs.append(os.path.join(folder_of_peers, "examples", "example_peer.peer"))
    rng = np.random.default_rng(17)
    failures = 0
    with tempfile.TemporaryDirectory(prefix="peers_drive.") as folder:
        try:
            check_noisy(folder_of_peers, folder, rng)
            print("ok   noisy peer: prints to stderr, exception as one error line")
        except Exception as exc:  # noqa: BLE001
            failures += 1
            print("FAIL noisy peer: %s" % exc)
        for desc_path in descs:
            desc, params = read_descriptor(desc_path)
            for p in params:  # -pNAME=VALUE sets a parameter's value (e.g. -pdevice=cuda)
                if p[0] in overrides:
                    p[2 if p[1] != "enum" else 3] = overrides[p[0]]
            for i, shape in enumerate(SHAPES):
                try:
                    ready, rel = check_shape(desc_path, desc, params, shape, folder, rng, i == 0)
                    print("ok   %-12s %-34s rel %.2e  %s" % (desc["name"], shape, rel, ready))
                except Exception as exc:  # noqa: BLE001 -- every failure is reported
                    failures += 1
                    print("FAIL %-12s %s: %s" % (desc["name"], shape, exc))
            try:
                check_bad_device(desc_path, desc, params, folder, rng)
            except Exception as exc:  # noqa: BLE001
                failures += 1
                print("FAIL %-12s device=nosuch: %s" % (desc["name"], exc))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
