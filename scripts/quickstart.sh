#!/bin/sh
# The README's two commands, so they stay exactly two and stay true:
#   sh scripts/quickstart.sh        install what is missing, build, run the
#                                   default sweep into results/attnbench.db
#                                   and draw its charts into plots/
#   sh scripts/quickstart.sh test   install what is missing, build, run the
#                                   whole test suite (what CI runs)
# Other arguments go to `attnbench sweep` (e.g. --quiet, --threads 1,2).
set -eu
cd "$(dirname "$0")/.."

what=sweep
case "${1:-}" in
sweep | test) what=$1; shift ;;
esac

sh scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >build.log 2>&1 || { cat build.log; exit 1; }
cmake --build build -j "$(nproc)" >>build.log 2>&1 || { cat build.log; exit 1; }

case "$what" in
sweep)
	rc=0
	build/attnbench sweep --preset default --db results/attnbench.db "$@" || rc=$?
	# The run's charts, on its cleanest slice: causal prefill on one thread.
	# A chart that has nothing to draw says so; the exit code stays the sweep's.
	if [ "$rc" -le 1 ]; then
		for m in time memory roof error; do
			build/attnbench plot --db results/attnbench.db --metric "$m" --causal 1 \
				--mode prefill --threads 1 --out plots || true
		done
	fi
	exit "$rc"
	;;
test)
	exec ctest --test-dir build --output-on-failure -j "$(nproc)"
	;;
esac
