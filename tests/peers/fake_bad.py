# A peer that misbehaves as its `how` parameter says (tests/test_peer.c):
# exit or segv mid-run, hang, garbage for `ns`, a wrong-shaped output,
# or unsupported. It speaks the raw protocol.
import os, signal, sys, time
import numpy as np

def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()

say("hello attnbench-peer 1")
case = dict(w.split("=", 1) for w in sys.stdin.readline().split()[1:])
how = case["p.how"]
if "FAKE_PEER_PID_FILE" in os.environ:
    with open(os.environ["FAKE_PEER_PID_FILE"], "w") as f:
        f.write(str(os.getpid()))
if how == "unsupported":
    say("unsupported this peer takes no cases")
    sys.exit(0)
say("ready fake=" + how)
for line in sys.stdin:
    cmd = line.split()[0]
    if cmd == "run":
        print("fake_bad: about to " + how, file=sys.stderr, flush=True)
        if how == "exit":
            sys.exit(3)
        if how == "segv":
            os.kill(os.getpid(), signal.SIGSEGV)
        if how == "hang":
            time.sleep(3600)
        say("xyz" if how == "garbage" else "ns 1000")
    elif cmd == "output":
        np.save(case["out"], np.zeros((1, 2), dtype=np.float32))
        say("ok")
    elif cmd == "quit":
        break
