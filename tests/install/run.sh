#!/bin/sh
# The install, as a user does it: `cmake --install` into a fresh prefix,
# then, with nothing but that prefix and pkg-config,
#   1. build the example plugin against the installed headers and load it
#      into the installed CLI (list, run against its float64 oracle);
#   2. build and run a small front end (frontend.c) that includes only the
#      public headers and links libattnbench, so no public header reaches a
#      private one and the library links on its own.
# Usage: run.sh BUILD_DIR SOURCE_DIR CC [EXTRA_CFLAGS]
set -eu
build=$1 src=$2 cc=$3 extra=${4:-}
prefix=$(mktemp -d /tmp/attnbench-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >"$prefix/install.log" 2>&1 ||
	{ cat "$prefix/install.log"; exit 1; }
for f in bin/attnbench include/attnbench/method.h share/attnbench/workloads/presets/ci.spec; do
	[ -e "$prefix/$f" ] || { echo "install: $f missing under $prefix"; exit 1; }
done
pc=$(find "$prefix" -name attnbench.pc | head -1)
[ -n "$pc" ] || { echo "install: attnbench.pc missing"; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pc")"
# Only the installed headers: no -I into the source tree.
"$cc" -O2 -shared -fPIC $extra $(pkg-config --cflags attnbench) "$src/examples/example_plugin.c" \
	-o "$prefix/example_plugin.so" -lm
"$prefix/bin/attnbench" list --plugin "$prefix/example_plugin.so" | grep -q '^naive_ext ' ||
	{ echo "install: the installed CLI does not list naive_ext"; exit 1; }
out=$("$prefix/bin/attnbench" run --plugin "$prefix/example_plugin.so" --method naive_ext \
	--n 64 --d 16 --heads 1 2>&1) || { echo "$out"; exit 1; }
echo "$out" | grep -q '^status *ok' || { echo "install: run did not pass: $out"; exit 1; }
"$cc" -std=c11 -Wall -Wextra -pedantic -Werror $extra $(pkg-config --cflags attnbench) \
	"$src/tests/install/frontend.c" -o "$prefix/frontend" $(pkg-config --libs attnbench)
"$prefix/frontend"
echo "install: plugin and front end built against $prefix"
