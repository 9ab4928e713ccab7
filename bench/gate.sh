#!/bin/sh
# The regression gate's acceptance on this machine (issue 8): ROUNDS rounds,
# each running `sweep --preset ci` four times back to back - a baseline A,
# A again, A with METHOD made 10% slower, 25% slower - and comparing each
# against A. Prints one line per round and the totals.
#   sh bench/gate.sh [OUT]     (ROUNDS=10 METHOD=window by default)
# COMPARE_ONLY=1 compares the databases an earlier run left in OUT again.
set -u
B=${ATTNBENCH:-build/attnbench}
OUT=${1:-/tmp/attnbench-gate}
R=${ROUNDS:-10}
M=${METHOD:-window}
mkdir -p "$OUT"
[ "${COMPARE_ONLY:-0}" = 1 ] || rm -f "$OUT"/*.db "$OUT"/*.db-wal "$OUT"/*.db-shm "$OUT"/*.txt
aa=0 b10=0 b25=0 other=0
for i in $(seq 1 "$R"); do
	if [ "${COMPARE_ONLY:-0}" != 1 ]; then
		$B sweep --preset ci --db "$OUT/a$i.db" --quiet 2>/dev/null
		$B sweep --preset ci --db "$OUT/aa$i.db" --quiet 2>/dev/null
		ATTNBENCH_INJECT_SLOWDOWN=$M:1.10 $B sweep --preset ci --db "$OUT/b10_$i.db" --quiet 2>/dev/null
		ATTNBENCH_INJECT_SLOWDOWN=$M:1.25 $B sweep --preset ci --db "$OUT/b25_$i.db" --quiet 2>/dev/null
	fi
	[ -f "$OUT/b25_$i.db" ] || break
	line="round $i:"
	for c in aa b10_ b25_; do
		$B compare --baseline "$OUT/a$i.db" --current "$OUT/$c$i.db" --verbose >"$OUT/cmp_$c$i.txt" 2>&1
		rc=$?
		# regressed cases of methods other than the injected one
		o=$(grep '^regressed ' "$OUT/cmp_$c$i.txt" | awk -v m="$M" '$2 != m' | wc -l)
		other=$((other + o))
		line="$line  ${c%_} exit $rc ($(head -1 "$OUT/cmp_$c$i.txt" | sed 's/ (threshold.*//; s/compared //'))"
		case "$c:$rc" in
		aa:1) aa=$((aa + 1)) ;;
		b10_:1) b10=$((b10 + 1)) ;;
		b25_:1) b25=$((b25 + 1)) ;;
		esac
	done
	echo "$line"
done
echo "A/A flagged: $aa of $R; 10% on $M flagged: $b10 of $R; 25%: $b25 of $R;" \
	"regressed cases of other methods: $other"
