#!/bin/sh
# The sharded sweep on a real Slurm: a single-node cluster on loopback
# (tests/slurm/cluster.sh: munged, slurmctld, slurmd from Debian's
# slurm-wlm and munge), driven only through scripts/slurm/submit.sh, as a
# user drives it:
#   1. a 3-shard array of a small sweep plus its merge job: ALL.db holds
#      exactly the cases of the same sweep run unsharded, none twice, in
#      three runs of one sweep_id;
#   2. a slower 3-shard sweep whose shard 2 is killed (SIGKILL to every
#      process of the task) after its first case: resubmitted alone
#      (--only 2) it resumes and the sweep completes with nothing lost and
#      nothing measured twice; a second resubmission while that one runs is
#      refused (exit 3) naming the owner's pid and host.
# Where Slurm cannot start, it says why and fails: never a silent skip.
# Everything (daemons, jobs, files) is gone when it ends, however it ends.
# Usage: run.sh BUILD_DIR SOURCE_DIR     (needs root, slurm-wlm, munge, sqlite3)
set -u
LC_ALL=C
export LC_ALL
build=$1 src=$2
ab=${ATTNBENCH_SLURM_TEST_CLI:-$build/attnbench}
submit=$src/scripts/slurm/submit.sh
t0=$(date +%s)

say() { echo "slurm: [$(($(date +%s) - t0)) s] $*"; }
fail() {
	echo "slurm: FAIL: $*"
	exit 1
}

tmp=$(mktemp -d /tmp/attnbench-slurm.XXXXXX) || fail "cannot create a temporary folder"
# munged wants every folder above its socket open to all (o+x).
chmod 755 "$tmp"
# shellcheck source=tests/slurm/cluster.sh
. "$src/tests/slurm/cluster.sh"
cleanup() {
	rc=$?
	trap - EXIT INT TERM HUP
	slurm_down
	rm -rf "$tmp"
	say "torn down (daemons stopped, $tmp removed)"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

command -v sqlite3 >/dev/null 2>&1 || fail "sqlite3 not found: apt-get install sqlite3 (sh scripts/setup.sh test)"
[ -x "$ab" ] || fail "no attnbench at $ab"

say "starting munged, slurmctld and slurmd on loopback in $tmp"
slurm_up "$tmp/cluster" || fail "Slurm cannot start here: $slurm_why"
say "up: $(sinfo -h -o '%P %a %D %T %N %c CPUs') (SLURM_CONF=$SLURM_CONF)"

# The shards' node-local disk, inside the test's folder.
ATTNBENCH_LOCAL_DIR=$tmp/node-local
export ATTNBENCH_LOCAL_DIR

# state JOBID: the states of the job (one per array task), space-separated.
state() {
	scontrol show job -o "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | tr '\n' ' '
}
terminal() { # JOBID: every task of it has ended
	s=$(state "$1")
	[ -n "$s" ] || return 1
	for x in $s; do
		case $x in
		PENDING | RUNNING | CONFIGURING | COMPLETING | REQUEUED | RESIZING | SUSPENDED) return 1 ;;
		esac
	done
	return 0
}
wait_jobs() { # SECONDS JOBID...: until every job has ended
	limit=$1
	shift
	end=$(($(date +%s) + limit))
	for j in "$@"; do
		until terminal "$j"; do
			[ "$(date +%s)" -lt "$end" ] || {
				squeue
				fail "job $j not done after $limit s (states: $(state "$j"))"
			}
			sleep 0.2
		done
	done
}
exit_code() { # JOBID: ExitCode=a:b of a (single) job
	scontrol show job -o "$1" | sed -n 's/.*ExitCode=\([0-9]*:[0-9]*\).*/\1/p' | head -n 1
}
jobs_of() { # the "submitted: array A merge M" line -> "A M"
	sed -n 's/^submitted: array \([0-9]*\) merge \([0-9a-z]*\)$/\1 \2/p'
}
keys() { # DB: the case keys, sorted
	sqlite3 "$1" "SELECT key FROM cases ORDER BY key"
}
show_logs() {
	for f in "$1"/logs/*; do
		[ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }
	done
}

# --- 0. the cluster runs a job ------------------------------------------------
say "sbatch --wrap hostname"
j=$(sbatch --parsable -o "$tmp/hostname.out" --wrap hostname) || fail "sbatch refused a job"
wait_jobs 30 "$j"
[ "$(state "$j")" = "COMPLETED " ] || fail "job $j: $(state "$j") (want COMPLETED)"
say "job $j COMPLETED on $(cat "$tmp/hostname.out")"

# --- 1. three shards and the merge -------------------------------------------
quick="--methods flash,softmax,retnet,window --n 64..512x2 --d 16 --min-time 0 --min-reps 2
	--max-reps 2 --warmup 0 --roof-budget 0 --counters none --quiet"
# shellcheck disable=SC2086
"$ab" sweep $quick --db "$tmp/whole.db" >/dev/null 2>&1 || fail "the unsharded sweep failed"
keys "$tmp/whole.db" >"$tmp/whole.keys"
say "unsharded: $(wc -l <"$tmp/whole.keys") cases"

say "submit.sh --shards 3 --parallel 2 --name quick --out $tmp/quick -- sweep ..."
# shellcheck disable=SC2086
sub=$(sh "$submit" --shards 3 --parallel 2 --name quick --out "$tmp/quick" --attnbench "$ab" \
	-- sweep $quick) || fail "submit.sh failed: $sub"
echo "$sub" | sed 's/^/    /'
set -- $(echo "$sub" | jobs_of)
[ $# -eq 2 ] || fail "submit.sh printed no job ids"
arr=$1 mrg=$2
wait_jobs 120 "$arr" "$mrg"
say "array $arr: $(state "$arr"); merge $mrg: $(state "$mrg")"
[ "$(state "$mrg")" = "COMPLETED " ] || { show_logs "$tmp/quick"; fail "merge job $mrg did not complete"; }
all=$tmp/quick/ALL.db
keys "$all" >"$tmp/quick.keys"
dups=$(sort "$tmp/quick.keys" | uniq -d | wc -l)
[ "$dups" -eq 0 ] || fail "ALL.db holds $dups cases twice"
cmp -s "$tmp/whole.keys" "$tmp/quick.keys" || {
	diff "$tmp/whole.keys" "$tmp/quick.keys" | head -n 20
	fail "ALL.db's cases are not those of the unsharded sweep"
}
runs=$(sqlite3 "$all" "SELECT count(*) FROM run_info WHERE key='sweep_id' AND value='quick'")
[ "$runs" -eq 3 ] || fail "ALL.db holds $runs runs of sweep_id quick, not 3"
say "ALL.db: $(wc -l <"$tmp/quick.keys") cases = the unsharded sweep's, none twice, 3 shard runs"
sqlite3 "$all" "SELECT '    run ' || r.id || ' shard ' || s.value || ' on ' || r.hostname || ': ' ||
	(SELECT count(*) FROM cases c WHERE c.run_id = r.id) || ' cases'
	FROM runs r JOIN run_info s ON s.run_id = r.id AND s.key = 'shard' ORDER BY s.value"

# --- 2. kill -9 of a shard, resubmission, the owner guard ---------------------
# Nine cases, each its own group (one shape), so each is committed as it
# ends; each takes 10 samples of 0.2 s: three per shard, 2 s apart, so
# shard 2 is caught between its cases.
slow="--methods flash --n 128 --d 16,20,24 --dist gaussian,local,needle --min-time 0
	--min-sample 0.2 --min-reps 10 --max-reps 10 --warmup 0 --roof-budget 0 --counters none --quiet"
# shellcheck disable=SC2086
"$ab" sweep $(echo "$slow" | sed 's/--min-sample 0.2/--min-sample 0/') --db "$tmp/whole2.db" \
	>/dev/null 2>&1 || fail "the unsharded slow sweep failed"
keys "$tmp/whole2.db" >"$tmp/whole2.keys"
say "submit.sh --shards 3 --name slow --out $tmp/slow -- sweep ... ($(wc -l <"$tmp/whole2.keys") cases)"
# shellcheck disable=SC2086
sub=$(sh "$submit" --shards 3 --name slow --out "$tmp/slow" --attnbench "$ab" -- sweep $slow) ||
	fail "submit.sh failed: $sub"
echo "$sub" | sed 's/^/    /'
set -- $(echo "$sub" | jobs_of)
arr=$1 mrg=$2
local2=$ATTNBENCH_LOCAL_DIR/attnbench-slow/shard-2-of-3.db
end=$(($(date +%s) + 60))
n2=0
while :; do
	[ -f "$local2" ] && n2=$(sqlite3 "$local2" "SELECT count(*) FROM cases" 2>/dev/null || echo 0)
	[ "${n2:-0}" -ge 1 ] && break
	terminal "${arr}_2" && fail "shard 2 ended before it could be killed"
	[ "$(date +%s)" -lt "$end" ] || fail "shard 2 recorded no case in 60 s"
	sleep 0.1
done
scancel --full --signal=KILL "${arr}_2"
wait_jobs 30 "${arr}_2"
sqlite3 "$local2" "SELECT key, finished_at FROM cases ORDER BY key" >"$tmp/before.kill"
say "shard 2 (job ${arr}_2) killed with SIGKILL after $(wc -l <"$tmp/before.kill") case(s): $(state "${arr}_2")"
[ -f "$tmp/slow/shard-2-of-3.db" ] && say "    (it had copied out before the kill)"
wait_jobs 60 "$arr" "$mrg"
say "array $arr: $(state "$arr"); its merge job $mrg: $(state "$mrg") (a dependency that can never be met)"
owner0=$(sqlite3 "$local2" "SELECT pid FROM run_owner" 2>/dev/null)

say "submit.sh --only 2 --shards 3 --name slow --out $tmp/slow -- sweep ..."
# shellcheck disable=SC2086
sub=$(sh "$submit" --only 2 --shards 3 --name slow --out "$tmp/slow" --attnbench "$ab" \
	-- sweep $slow) || fail "submit.sh --only 2 failed: $sub"
echo "$sub" | sed 's/^/    /'
set -- $(echo "$sub" | jobs_of)
arr2=$1 mrg2=$2
# Wait until the resubmitted task owns the run (a live pid, not the killed one).
end=$(($(date +%s) + 60))
while :; do
	owner=$(sqlite3 "$local2" "SELECT pid || ' ' || hostname FROM run_owner" 2>/dev/null)
	pid=${owner%% *}
	if [ -n "$pid" ] && [ "$pid" != "$owner0" ] && kill -0 "$pid" 2>/dev/null; then
		break
	fi
	terminal "$arr2" && { show_logs "$tmp/slow"; fail "the resubmitted shard 2 ended before it took the run over"; }
	[ "$(date +%s)" -lt "$end" ] || fail "the resubmitted shard 2 did not take its run over in 60 s"
	sleep 0.1
done
say "resubmitted shard 2 (job ${arr2}) owns the run: pid $owner"
say "submit.sh --only 2 --no-merge ... again, while it runs"
# shellcheck disable=SC2086
sub=$(sh "$submit" --only 2 --no-merge --shards 3 --name slow --out "$tmp/slow" --attnbench "$ab" \
	-- sweep $slow) || fail "the second submit.sh --only 2 failed: $sub"
set -- $(echo "$sub" | jobs_of)
dup=$1
wait_jobs 60 "$dup"
terminal "$arr2" && fail "the first resubmission ended before the second was refused: the test was too slow"
dlog=$(ls "$tmp"/slow/logs/shard-2-of-3."$dup".out)
sed 's/^/    /' "$dlog"
[ "$(exit_code "$dup")" = "3:0" ] || fail "the second resubmission (job $dup) exited $(exit_code "$dup"), not 3"
grep -q "being written by pid ${owner%% *} on host ${owner#* }" "$dlog" ||
	fail "the refusal does not name the owner (pid ${owner%% *} on host ${owner#* })"
say "the second resubmission (job $dup) was refused, exit 3, naming pid ${owner%% *} on host ${owner#* }"

wait_jobs 120 "$arr2" "$mrg2"
say "resubmitted shard 2: $(state "$arr2"); merge $mrg2: $(state "$mrg2")"
[ "$(state "$arr2")" = "COMPLETED " ] && [ "$(state "$mrg2")" = "COMPLETED " ] ||
	{ show_logs "$tmp/slow"; fail "the resubmitted shard or its merge did not complete"; }
all=$tmp/slow/ALL.db
keys "$all" >"$tmp/slow.keys"
dups=$(sort "$tmp/slow.keys" | uniq -d | wc -l)
[ "$dups" -eq 0 ] || fail "ALL.db holds $dups cases twice"
cmp -s "$tmp/whole2.keys" "$tmp/slow.keys" || {
	diff "$tmp/whole2.keys" "$tmp/slow.keys" | head -n 20
	fail "after the resubmission ALL.db's cases are not those of the unsharded sweep"
}
# The cases shard 2 had recorded before the kill are kept, not measured again.
sqlite3 "$all" "SELECT key, finished_at FROM cases ORDER BY key" >"$tmp/after"
missing=$(sort "$tmp/before.kill" | comm -23 - "$tmp/after" | wc -l)
[ "$missing" -eq 0 ] || fail "$missing case(s) recorded before the kill were lost or measured again"
say "ALL.db: $(wc -l <"$tmp/slow.keys") cases = the unsharded sweep's, none twice; the $(wc -l <"$tmp/before.kill") recorded before the kill kept as they were"
say "PASS"
