#!/bin/sh
# A sweep mixing built-in methods and the shipped peers (issue 17): flash, softmax,
# torch_sdpa and numpy_naive, interleaved, causal and full prefill and decode, at a
# small N. Every case must be ok; the peers' outputs within their tolerance of the
# oracle, their ready info stored (torch's version and kernel), their overhead measured.
#   sh tests/peers_sweep.sh BUILD_DIR
set -eu
B=$1/attnbench
DB=$(mktemp -d /tmp/peers_sweep.XXXXXX)/sweep.db
trap 'rm -rf "$(dirname "$DB")"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
q() { sqlite3 "$DB" "$1"; }

"$B" sweep --methods flash,softmax,torch_sdpa,numpy_naive --n 64,96 --d 16 --heads 2 \
	--kv-heads 1 --causal=both --mode both --db "$DB" --quiet

[ "$(q "select value from run_info where key = 'interleave'")" = 1 ] || fail "not interleaved"
for m in flash softmax torch_sdpa numpy_naive; do
	n=$(q "select count(*) from cases where method = '$m' and status = 'ok'")
	[ "$n" = 6 ] || fail "$m: $n of 6 cases ok: $(q "select status, message from cases where method = '$m' and status != 'ok'")"
done
bad=$(q "select c.method, c.n, c.mode, m.value from cases c join metrics m on m.case_id = c.id
         where m.name = 'rel_err' and c.method in ('torch_sdpa', 'numpy_naive') and not m.value <= 1e-5")
[ -z "$bad" ] || fail "rel_err over 1e-5: $bad"
n=$(q "select count(*) from cases c join metrics m on m.case_id = c.id
       where m.name = 'peer_overhead_frac' and c.method in ('torch_sdpa', 'numpy_naive')")
[ "$n" = 12 ] || fail "peer_overhead_frac stored for $n of 12 peer cases"
n=$(q "select count(*) from cases where method = 'torch_sdpa' and info like '%kernel=%'
       and info like '%version=torch-%'")
[ "$n" = 6 ] || fail "torch_sdpa's kernel and version in $n of 6 cases' info"
n=$(q "select count(*) from cases where method = 'numpy_naive' and info like 'version=numpy-%'")
[ "$n" = 6 ] || fail "numpy_naive's version in $n of 6 cases' info"
echo "ok: 24 cases of flash, softmax, torch_sdpa, numpy_naive"
