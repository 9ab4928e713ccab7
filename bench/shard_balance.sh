#!/bin/sh
# The balance of a sharded sweep: for each of N shards, its cases and its
# predicted cost (from `sweep --dry-run --shard I/N`), and with --run the
# wall time each shard takes when run here, one after another, into its own
# database under DIR (default a temporary folder, removed afterwards).
#   bench/shard_balance.sh [--run] [--dir DIR] [--bin ATTNBENCH] N SWEEP-ARGS...
#   bench/shard_balance.sh --run 8 --spec workloads/figures/full/complexity.spec
# The last lines give the largest shard's predicted cost over the mean, and
# with --run the same for the measured wall times.
set -eu
run=0
dir=
bin=build/attnbench
while [ $# -gt 0 ]; do
	case $1 in
	--run) run=1; shift ;;
	--dir) dir=$2; shift 2 ;;
	--bin) bin=$2; shift 2 ;;
	-h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || { echo "usage: $0 [--run] [--dir DIR] [--bin ATTNBENCH] N SWEEP-ARGS..." >&2; exit 2; }
n=$1
shift
case $n in '' | *[!0-9]*) echo "$0: N '$n': expected a whole number" >&2; exit 2 ;; esac

if [ "$run" = 1 ] && [ -z "$dir" ]; then
	dir=$(mktemp -d)

fi
[ -z "$dir" ] || mkdir -p "$dir"
printf '%-7s %7s %12s %10s\n' shard cases predicted_s wall_s
i=1
preds=
walls=
while [ "$i" -le "$n" ]; do
	line=$("$bin" sweep --dry-run --shard "$i/$n" "$@" | tail -1)
	cases=$(echo "$line" | sed 's/^shard [0-9]*\/[0-9]*: \([0-9]*\) of.*/\1/')
	pred=$(echo "$line" | sed 's/.*predicted \([0-9.]*\) s of.*/\1/')
	wall=-
	if [ "$run" = 1 ]; then
		start=$(date +%s.%N)
		"$bin" sweep --quiet --shard "$i/$n" --db "$dir/shard-$i-of-$n.db" "$@" || true
		wall=$(echo "$(date +%s.%N) - $start" | bc)
		walls="$walls $wall"
	fi
	preds="$preds $pred"
	printf '%-7s %7s %12s %10s\n' "$i/$n" "$cases" "$pred" "$wall"
	i=$((i + 1))
done
ratio() { echo "$@" | tr ' ' '\n' | awk 'NF { s += $1; if ($1 > m) m = $1; k++ } END { printf "%.3f (largest %.1f, mean %.1f)", m / (s / k), m, s / k }'; }
echo "predicted: largest/mean $(ratio $preds)"
[ "$run" = 0 ] || echo "wall:      largest/mean $(ratio $walls); databases in $dir"
