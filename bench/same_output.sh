#!/bin/bash
# Does a refactoring change what any verb prints or records? Runs the verbs
# whose output must not change with two builds on the same databases (all
# made by the OLD build) and diffs everything byte for byte:
#   compare  18 option sets on every pair of 5 databases, and 8 error cases
#   figures  --no-sweep: every .dat, .gp, .png, .svg and index.html
#   plot, export, list
#   sweep    --preset ci by each build: cases, metric names and units, run_info keys
# Usage: OLD_DATA=OLD_TREE bash bench/same_output.sh OLD_ATTNBENCH NEW_ATTNBENCH [DIR]
# The OLD build sweeps with the OLD tree's presets and figure sets (OLD_DATA,
# default: this tree), since their grammar may have changed; the verbs read
# this tree's. About five minutes on 2 cores. Exit 0 when all is identical.
set -u
OLD=$1 NEW=$2 D=${3:-/tmp/attnbench-same}
DATA=${ATTNBENCH_DATA_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
OLD_DATA=${OLD_DATA:-$DATA}
export ATTNBENCH_DATA_DIR=$DATA
old() { ATTNBENCH_DATA_DIR=$OLD_DATA "$OLD" "$@"; }
rm -rf "$D" && mkdir -p "$D/db" "$D/old" "$D/new" || exit 2
cd "$D/db" || exit 2
echo "same_output: making databases with $OLD"
old sweep --preset ci --db a.db --quiet 2>/dev/null
old sweep --preset ci --db b.db --quiet 2>/dev/null
ATTNBENCH_INJECT_SLOWDOWN=window:1.25 old sweep --preset ci --db c.db --quiet 2>/dev/null
cp a.db ab.db && old sweep --preset ci --db ab.db --quiet 2>/dev/null
old figures --set test --db fig.db --out fig-made --quiet >/dev/null 2>&1
for f in a b c ab fig; do
	[ "$(sqlite3 $f.db "SELECT count(*) FROM cases WHERE status = 'ok'" 2>/dev/null)" -gt 0 ] 2>/dev/null ||
		{ echo "same_output: the old build made no ok case in $f.db (OLD_DATA?)"; exit 2; }
done
echo "not a database" > junk.db
DBS="dbs/a.db dbs/b.db dbs/c.db dbs/ab.db dbs/fig.db"
MODES=("" "--verbose" "--format text" "--format markdown" "--format json" "--format markdown --verbose"
	"--format json --verbose" "--threshold 15%" "--threshold 0.01" "--threshold 1%" "--alpha 0.2"
	"--alpha 0.001" "--allow-other-machine" "--allow-build-mismatch"
	"--allow-other-machine --allow-build-mismatch"
	"--allow-other-machine --allow-build-mismatch --format json"
	"--allow-other-machine --allow-build-mismatch --verbose"
	"--baseline-run 1 --current-run 2")
A=dbs/a.db
ERRS=("--baseline dbs/none.db --current $A" "--baseline $A --current dbs/none.db"
	"--baseline $A --current $A --threshold abc" "--baseline $A --current $A --threshold 200%"
	"--baseline $A --current $A --alpha 2" "--baseline $A --current $A --format html"
	"--baseline dbs/junk.db --current $A" "--baseline $A --current $A --baseline-run 99")
verbs() { # BIN OUT: every verb whose output must not change, one file triple each
	local B=$1 i=0
	cd "$2" || return
	# Each build its own copy: fit and figures write into their database.
	cp -r "$D/db" dbs || return
	# Paths relative to the output folder, so that messages naming them match.
	run() { i=$((i + 1)); "$B" "$@" >"$i.out" 2>"$i.err"; echo "$? $*" >"$i.rc"; }
	for x in $DBS; do for y in $DBS; do for m in "${MODES[@]}"; do
		run compare --baseline $x --current $y $m
	done; done; done
	for e in "${ERRS[@]}"; do run compare $e; done
	for m in time memory gflops roof error counter:perf::TASK-CLOCK metric:workspace_bytes; do
		run plot --db dbs/fig.db --metric $m --out plot-$i
	done
	run plot --db $A --methods flash,window --format svg --out plot-$i
	run plot --db dbs/junk.db
	run export --db $A --format csv
	run export --db $A --format json
	run export --db dbs/junk.db
	run fit --db $A
	run list
	"$B" figures --set test --no-sweep --db dbs/fig.db --out fig \
		>fig.out 2>fig.err
	echo $? >fig.rc
}
echo "same_output: running the verbs with both builds"
(verbs "$OLD" "$D/old") &
(verbs "$NEW" "$D/new") &
wait
# The page says when it was drawn, to the minute: the two ran at once.
rc=0
if diff -r -x dbs "$D/old" "$D/new" >"$D/verbs.diff"; then
	echo "same_output: verbs IDENTICAL ($(find "$D/new" -path "$D/new/dbs" -prune -o -type f -print | wc -l) files)"
else
	echo "same_output: verbs DIFFER: $D/verbs.diff"; rc=1
fi
for w in old new; do
	if [ $w = old ]; then
		old sweep --preset ci --db "$D/sweep-$w.db" --quiet 2>/dev/null
	else
		"$NEW" sweep --preset ci --db "$D/sweep-$w.db" --quiet 2>/dev/null
	fi
	sqlite3 "$D/sweep-$w.db" "SELECT key, method, family, form, params, batch, heads, kv_heads,
		n, d, causal, mode, dist, threads, seed, status FROM cases ORDER BY id" >"$D/cases-$w"
	sqlite3 "$D/sweep-$w.db" "SELECT c.key, m.name, m.unit FROM metrics m JOIN cases c ON
		c.id = m.case_id ORDER BY c.id, m.name" >"$D/metrics-$w"
	sqlite3 "$D/sweep-$w.db" "SELECT key FROM run_info ORDER BY key" >"$D/info-$w"
done
for t in cases metrics info; do
	if cmp -s "$D/$t-old" "$D/$t-new"; then
		echo "same_output: sweep $t IDENTICAL ($(wc -l <"$D/$t-new") rows)"
	else
		echo "same_output: sweep $t DIFFER: diff $D/$t-old $D/$t-new"; rc=1
	fi
done
exit $rc
