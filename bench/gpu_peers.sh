#!/bin/sh
# The GPU run of issue 17: torch_sdpa and torch_naive on device=cuda, N = 1024..16384,
# d = 64 and 128, causal and not, on a machine with an NVIDIA GPU and a python3 whose
# torch has CUDA. First the peers' own check on the CPU and GPU (tests/peers_drive.py against
# the float64 reference, causal decode included), then the sweep, then a CSV of it.
#   sh bench/gpu_peers.sh [ATTNBENCH_BINARY] [OUTDIR]   (OUTDIR: $OUT, else /tmp/attnbench-gpu)
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$SRC/build/attnbench}
DIR=${2:-${OUT:-/tmp/attnbench-gpu}}
export ATTNBENCH_PYTHON=python3
mkdir -p "$DIR"
python3 -c 'import torch; assert torch.cuda.is_available(), "torch sees no CUDA device"
print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name())' \
	| tee "$DIR/torch.txt"
nvidia-smi >"$DIR/nvidia-smi.txt" 2>&1 || true
# A binary built elsewhere looks for methods/peers under its build's source dir.
"$B" list | grep -q torch_sdpa || export ATTNBENCH_PLUGIN_PATH="$SRC/methods/peers"
# torch 2.x's SDPA paths (enable_gqa, is_causal, the profiler's kernel) on cpu and cuda.
for dev in cpu cuda; do
	python3 "$SRC/tests/peers_drive.py" "$SRC" "$SRC/methods/peers/torch_sdpa.peer" \
		"$SRC/methods/peers/torch_naive.peer" -pdevice=$dev >"$DIR/peers_drive_$dev.txt" \
		|| { cat "$DIR/peers_drive_$dev.txt"; exit 1; }
	cat "$DIR/peers_drive_$dev.txt"
done
"$B" sweep --methods "torch_sdpa[device=cuda],torch_naive[device=cuda]" --n 1024..16384x2 \
	--d 64,128 --causal=both --heads 8 --threads 1 --db "$DIR/gpu_peers.db"
"$B" export --db "$DIR/gpu_peers.db" --format csv >"$DIR/gpu_peers.csv"
