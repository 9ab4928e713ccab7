# A correct peer in the raw protocol: naive softmax attention with numpy.
import sys, time
import numpy as np

def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()

def attend(q, k, v, causal, n):
    rep = q.shape[1] // k.shape[1]  # GQA: query head h reads kv head h // rep
    k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
    s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(q.shape[-1])
    if causal:
        pos = np.arange(n - q.shape[2], n)[:, None]  # decode: the query sits at n - 1
        s = np.where(np.arange(n)[None, :] > pos, -np.inf, s)
    p = np.exp(s - s.max(-1, keepdims=True))
    return ((p / p.sum(-1, keepdims=True)) @ v).astype(np.float32)

say("hello attnbench-peer 1")
case = dict(w.split("=", 1) for w in sys.stdin.readline().split()[1:])
q, k, v = (np.load(case[x]) for x in "qkv")
say("ready version=numpy-" + np.__version__ + " fake=ok")
out = None
for line in sys.stdin:
    cmd = line.split()
    if cmd[0] == "run":
        t0 = time.perf_counter_ns()
        for _ in range(int(cmd[1])):
            out = attend(q, k, v, case["causal"] == "1", int(case["n"]))
        reply = "ns %d" % (time.perf_counter_ns() - t0)
        if "roof=1" in cmd:  # a fixed, made-up roof the test recognises
            reply += " roof_ns=1000 roof_flops=2000000000"
        say(reply)
    elif cmd[0] == "output":
        np.save(case["out"], out)
        say("ok")
    elif cmd[0] == "quit":
        break
