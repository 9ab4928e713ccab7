#!/bin/sh
# The README's two commands, so they stay exactly two and stay true:
#   sh scripts/quickstart.sh        install what is missing, build, run the
#                                   quick figure set's sweeps into
#                                   results/figures-quick.db and draw the
#                                   survey's figures into plots/figures/
#                                   (open plots/figures/index.html)
#   sh scripts/quickstart.sh test   install what is missing, build, run the
#                                   whole test suite (what CI runs)
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
	exec ctest --test-dir build --output-on-failure -j "$(nproc)"
	;;
esac
