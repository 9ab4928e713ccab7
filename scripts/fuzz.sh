#!/bin/sh
# Builds the fuzz configuration (clang, libFuzzer, ASan + UBSan) into
# build-fuzz/ and runs every fuzz target of tests/fuzz/ for SECONDS each
# (default 60) on a copy of its seed corpus, so the tree is never changed.
#   sh scripts/fuzz.sh [SECONDS] [TARGET...]     e.g. sh scripts/fuzz.sh 600 fuzz_npy
# Each target's libFuzzer flags (-max_len, -dict) are in
# tests/fuzz/TARGET.options. Targets run side by side, FUZZ_JOBS at a time
# (default: the number of CPUs); ATTNBENCH_FUZZ_BUILD names another build
# folder. Prints per target the executions, the coverage (cov: edges, ft:
# features), the corpus and the crashes, and exits 1 if any target crashed,
# leaked, timed out or ran out of memory. A crashing input is kept under
# BUILD/fuzz-artifacts/TARGET/; copied to tests/fuzz/regress/TARGET/, it
# becomes a regression test that every ctest run replays.
set -eu
cd "$(dirname "$0")/.."

secs=${1:-60}
[ $# -gt 0 ] && shift
# libFuzzer takes -max_total_time=0 as "forever": at least 1.
case "$secs" in
'' | *[!0-9]* | 0 | 00*) echo "fuzz: SECONDS must be a whole number of seconds >= 1, not '$secs'" >&2; exit 2 ;;
esac
build=${ATTNBENCH_FUZZ_BUILD:-build-fuzz}
jobs=${FUZZ_JOBS:-$(nproc)}

if [ $# -gt 0 ]; then
	targets="$*"
else
	targets=$(for f in tests/fuzz/fuzz_*.c; do basename "$f" .c; done)
fi
for t in $targets; do
	[ -f "tests/fuzz/$t.c" ] || { echo "fuzz: no target '$t' (tests/fuzz/$t.c)" >&2; exit 2; }
done

command -v clang >/dev/null 2>&1 ||
	{ echo "fuzz: clang not found: apt-get install clang libclang-rt-14-dev libomp-dev" >&2; exit 1; }
mkdir -p "$build"
log="$build/fuzz-build.log"
{ cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DATTNBENCH_FUZZ=ON && cmake --build "$build" -j "$(nproc)" --target make_seed_db $targets; } \
	>"$log" 2>&1 || { cat "$log"; echo "fuzz: the fuzz build failed (log: $log)" >&2; exit 1; }

# Scratch on tmpfs where there is one: the targets write a file per input.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	scratch=$(mktemp -d /dev/shm/attn_fuzz.XXXXXX)
else
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/attn_fuzz.XXXXXX")
fi
trap 'rm -rf "$scratch"' EXIT INT TERM

# One target: its corpus, seeds made afresh and past crashes copied into
# scratch, libFuzzer run there; its log is $scratch/$t.log, its status $t.rc.
run_target() {
	t=$1
	art="$build/fuzz-artifacts/$t"
	rm -rf "$art" "$scratch/$t"
	mkdir -p "$art" "$scratch/$t/corpus" "$scratch/$t/tmp"
	cp -R "tests/fuzz/corpus/$t/." "$scratch/$t/corpus/"
	[ -d "tests/fuzz/regress/$t" ] && cp -R "tests/fuzz/regress/$t/." "$scratch/$t/corpus/"
	[ "$t" = fuzz_db ] && "$build/tests/fuzz/make_seed_db" "$scratch/$t/corpus"
	opts=$(grep -v '^#' "tests/fuzz/$t.options" 2>/dev/null || true)
	rc=0
	# shellcheck disable=SC2086
	TMPDIR="$scratch/$t/tmp" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=1" \
		"$build/tests/fuzz/$t" $opts -max_total_time="$secs" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art/" \
		"$scratch/$t/corpus" >"$scratch/$t.log" 2>&1 || rc=$?
	echo "$rc" >"$scratch/$t.rc"
}

echo "fuzz: $(echo $targets | wc -w) targets, ${secs} s each, $jobs at a time (build: $build)"
running=0
for t in $targets; do
	run_target "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait
		running=0
	fi
done
wait

passed=0
failed=0
printf '%-16s %12s %8s %8s %8s %8s\n' target executions cov ft corpus crashes
for t in $targets; do
	l="$scratch/$t.log"
	rc=$(cat "$scratch/$t.rc" 2>/dev/null || echo 1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$l" | tail -n 1)
	# The last status line ("#N DONE cov: E ft: F corp: C/S ...") has the final figures.
	status=$(grep -E '^#[0-9]+.*cov: ' "$l" | tail -n 1)
	cov=$(echo "$status" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$status" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$status" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
	crashes=$(find "$build/fuzz-artifacts/$t" -type f \( -name 'crash-*' -o -name 'leak-*' \
		-o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
	printf '%-16s %12s %8s %8s %8s %8s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" \
		"${corp:-?}" "$crashes"
	if [ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ] && [ -n "$execs" ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "--- $t failed (libFuzzer exit $rc); the end of its log:"
		tail -n 60 "$l"
		for f in $(find "$build/fuzz-artifacts/$t" -type f); do
			echo "--- input kept: $f"
			echo "    replay: $build/tests/fuzz/$t $f"
			known=""
			for r in "tests/fuzz/regress/$t"/*; do
				[ -f "$r" ] && cmp -s "$f" "$r" && known=$r
			done
			if [ -n "$known" ]; then
				echo "    it is the regression test $known, still failing"
			else
				echo "    make it a regression test: cp $f tests/fuzz/regress/$t/"
			fi
		done
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
