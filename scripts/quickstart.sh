#!/bin/sh
# The README's two commands, so they stay exactly two and stay true:
#   sh scripts/quickstart.sh        install what is missing, build, run the
#                                   quick figure set's sweeps into
#                                   results/figures-quick.db and draw the
#                                   survey's figures into plots/figures/
#                                   (open plots/figures/index.html)
#   sh scripts/quickstart.sh test   install what is missing, build, run the
#                                   whole test suite (what CI runs) in three
#                                   configurations: Release (build/), ASan +
#                                   UBSan (build-asan/), and every fuzz target
#                                   for 60 s (scripts/fuzz.sh, build-fuzz/);
#                                   the last line says how many passed
# Other arguments go to `attnbench figures` (e.g. --quiet, --full).
set -eu
cd "$(dirname "$0")/.."

what=figures
case "${1:-}" in
figures | test) what=$1; shift ;;
esac

sh scripts/setup.sh "$what"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >build.log 2>&1 || { cat build.log; exit 1; }
cmake --build build -j "$(nproc)" >>build.log 2>&1 || { cat build.log; exit 1; }

case "$what" in
figures)
	exec build/attnbench figures "$@"
	;;
test)
	# Every configuration runs even when one fails, so one CI run shows all
	# that is wrong; each is timed, and the summary is the last line.
	passed=0
	failed=0
	summary=""
	phase() { # NAME COMMAND...: run it, time it, count it
		name=$1
		shift
		start=$(date +%s)
		echo "=== $name"
		if "$@"; then
			result=passed
			passed=$((passed + 1))
		else
			result=FAILED
			failed=$((failed + 1))
		fi
		summary="$summary${summary:+, }$name $result in $(($(date +%s) - start)) s"
	}
	asan() {
		mkdir -p build-asan
		{ cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATTNBENCH_ASAN=ON \
			-DATTNBENCH_UBSAN=ON && cmake --build build-asan -j "$(nproc)"; } \
			>build-asan/build.log 2>&1 || { cat build-asan/build.log; return 1; }
		ctest --test-dir build-asan --output-on-failure -j "$(nproc)"
	}
	phase release ctest --test-dir build --output-on-failure -j "$(nproc)"
	phase asan+ubsan asan
	phase fuzz sh scripts/fuzz.sh 60
	echo "test: $summary"
	echo "test: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	;;
esac
