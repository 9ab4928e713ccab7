#!/bin/sh
# The tree stays formatted: every C source and header (not the fuzz corpora,
# not the CMake templates) is exactly what `clang-format -i` with the
# repository's .clang-format makes of it. To fix: run the command printed.
set -eu
cd "$1"
files=$(git ls-files '*.c' '*.h' 2>/dev/null | grep -v '^tests/fuzz/corpus/' ||
	find harness methods workloads tests bench examples -name '*.[ch]' -not -path '*/corpus/*')
bad=""
for f in $files; do
	clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad="$bad $f"
done
[ -z "$bad" ] && exit 0
echo "format: not as .clang-format has it:$bad"
echo "format: fix with: clang-format -i$bad"
exit 1
