#!/bin/sh
# The README's two commands, so they stay exactly two and stay true:
#   sh scripts/quickstart.sh        install what is missing, build, run the
#                                   default sweep into results/attnbench.db
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
	exec build/attnbench sweep --preset default --db results/attnbench.db "$@"
	;;
test)
	exec ctest --test-dir build --output-on-failure -j "$(nproc)"
	;;
esac
