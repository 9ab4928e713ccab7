#!/bin/sh
# The README's two commands, so they stay exactly two and stay true:
#   sh scripts/quickstart.sh        install what is missing, build, run the
#                                   default sweep into results/attnbench.db
#   sh scripts/quickstart.sh test   install what is missing, build, run the
#                                   whole test suite (what CI runs)
# Extra arguments after `sweep` go to `attnbench sweep` (e.g. --quiet).
set -eu
cd "$(dirname "$0")/.."

what=${1:-sweep}
[ $# -gt 0 ] && shift

sh scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >build.log 2>&1 || { cat build.log; exit 1; }
cmake --build build -j "$(nproc)" >>build.log 2>&1 || { cat build.log; exit 1; }

case "$what" in
sweep)
	exec build/attnbench sweep --preset default --db results/attnbench.db "$@"
	;;
test)
	exec ctest --test-dir build --output-on-failure -j "$(nproc)"
	;;
*)
	echo "usage: sh scripts/quickstart.sh [sweep|test]" >&2
	exit 2
	;;
esac
