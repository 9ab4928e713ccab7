#!/bin/sh
# Installs the Debian packages attnbench builds and runs with, and nothing else
# (python3-numpy and python3-torch are the shipped peers' runtime, methods/peers);
# `setup.sh test` adds what the test suite needs besides (headless Chromium,
# which loads the figures page; clang with its sanitizer and libFuzzer
# runtimes and its OpenMP, for scripts/fuzz.sh; clang-format, which
# test_format runs over the tree; slurm-wlm and munge, the single-node Slurm
# that test_slurm starts, and sqlite3, the CLI it reads the databases with).
# Idempotent and quiet: when every package is present it prints nothing and
# touches nothing (no apt-get update either), so it is cheap to run before
# every build. Needs root (or sudo) only when something is missing.
set -eu

PKGS="build-essential cmake pkg-config libopenblas-dev libhwloc-dev libpapi-dev \
libsqlite3-dev check gnuplot-nox python3-numpy python3-torch"
[ "${1:-}" = test ] && PKGS="$PKGS chromium clang libclang-rt-14-dev libomp-dev clang-format \
slurm-wlm munge sqlite3"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "setup: installing$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "setup: need root to install:$missing" >&2; exit 1; }
    SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
