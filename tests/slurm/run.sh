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
#      refused (exit 3) naming the owner's pid and host; another shard,
#      cancelled (SIGTERM), copies out what it has, and resubmitted as on
#      another node (an empty local disk) resumes from that copy;
#   3. the suite's figure set (figures --set test), each sweep in 2 shards,
#      merged and drawn from ALL.db by the merge job.
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
	# A job process killed a moment ago may still be writing its log.
	rm -rf "$tmp" 2>/dev/null || { sleep 1; rm -rf "$tmp"; }
	say "torn down (daemons stopped, $tmp removed)"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

command -v sqlite3 >/dev/null 2>&1 || fail "sqlite3 not found: apt-get install sqlite3 (sh scripts/setup.sh test)"
[ -x "$ab" ] || fail "no attnbench at $ab"
"$ab" sweep --help 2>&1 | grep -q -- '--shard I/N' || fail "$ab has no sweep --shard"
"$ab" merge --help >/dev/null 2>&1 || fail "$ab has no merge verb"

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
# shellcheck disable=SC2046
set -- $(echo "$sub" | jobs_of)
[ $# -eq 2 ] || fail "submit.sh printed no job ids"
arr=$1 mrg=$2
wait_jobs 120 "$arr" "$mrg"
say "array $arr: $(state "$arr"); merge $mrg: $(state "$mrg")"
if [ "$(state "$mrg")" != "COMPLETED " ]; then
	show_logs "$tmp/quick"
	fail "merge job $mrg did not complete"
fi
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
# shellcheck disable=SC2046
"$ab" sweep $(echo "$slow" | sed 's/--min-sample 0.2/--min-sample 0/') --db "$tmp/whole2.db" \
	>/dev/null 2>&1 || fail "the unsharded slow sweep failed"
keys "$tmp/whole2.db" >"$tmp/whole2.keys"
say "submit.sh --shards 3 --name slow --out $tmp/slow -- sweep ... ($(wc -l <"$tmp/whole2.keys") cases)"
# shellcheck disable=SC2086
sub=$(sh "$submit" --shards 3 --name slow --out "$tmp/slow" --attnbench "$ab" -- sweep $slow) ||
	fail "submit.sh failed: $sub"
echo "$sub" | sed 's/^/    /'
# shellcheck disable=SC2046
set -- $(echo "$sub" | jobs_of)
arr=$1 mrg=$2
local2=$ATTNBENCH_LOCAL_DIR/attnbench-slow/shard-2-of-3.db
local3=$ATTNBENCH_LOCAL_DIR/attnbench-slow/shard-3-of-3.db
wait_case() { # DB TASK: until DB holds a case (the task still running)
	end=$(($(date +%s) + 60))
	while :; do
		c=0
		[ -f "$1" ] && c=$(sqlite3 "$1" "SELECT count(*) FROM cases" 2>/dev/null || echo 0)
		[ "${c:-0}" -ge 1 ] && return 0
		terminal "$2" && fail "$2 ended before it could be stopped"
		[ "$(date +%s)" -lt "$end" ] || fail "$2 recorded no case in 60 s"
		sleep 0.1
	done
}
wait_case "$local2" "${arr}_2"
# kill -9 of every process of the task (its script, attnbench, the case's
# child), as an OOM killer or a crash would: no SIGTERM first, so nothing
# is copied out and the local database is left with a dead owner.
task2=$(scontrol show job -o "${arr}_2" | sed -n 's/^JobId=\([0-9]*\) .*/\1/p')
pids=$(scontrol listpids "$task2" 2>&1 | awk '$1 ~ /^[0-9]+$/ && $1 > 1 { print $1 }')
[ -n "$pids" ] || fail "scontrol listpids found no process of shard 2 (job ${arr}_2)"
# shellcheck disable=SC2086
kill -9 $pids
wait_jobs 30 "${arr}_2"
sqlite3 "$local2" "SELECT key, finished_at FROM cases ORDER BY key" >"$tmp/before.2"
say "shard 2 (job ${arr}_2): kill -9 of its processes ($(echo "$pids" | tr '\n' ' ')) after $(wc -l <"$tmp/before.2") case(s): $(state "${arr}_2")"
sed 's/^/    /' "$tmp/slow/logs/shard-2-of-3.$arr.out"
[ -f "$tmp/slow/shard-2-of-3.db" ] && fail "the killed shard copied out: it was not killed with its script"

# scancel of shard 3 (SIGTERM, as at a time limit): attnbench stops, the
# script copies out what it has, which a resubmission on another node resumes.
wait_case "$local3" "${arr}_3"
scancel "${arr}_3"
wait_jobs 30 "${arr}_3"
[ -f "$tmp/slow/shard-3-of-3.db" ] || { show_logs "$tmp/slow"; fail "the cancelled shard 3 did not copy its database out"; }
sqlite3 "$tmp/slow/shard-3-of-3.db" "SELECT key, finished_at FROM cases ORDER BY key" >"$tmp/before.3"
[ -s "$tmp/before.3" ] || fail "shard 3's copy holds no case"
say "shard 3 (job ${arr}_3): scancel (SIGTERM) after $(wc -l <"$tmp/before.3") case(s): $(state "${arr}_3"), copied out"
sed 's/^/    /' "$tmp/slow/logs/shard-3-of-3.$arr.out"
wait_jobs 60 "$arr" "$mrg"
say "array $arr: $(state "$arr"); its merge job $mrg: $(state "$mrg") (a dependency that can never be met)"
[ "$(state "$mrg")" = "CANCELLED " ] || fail "merge job $mrg: $(state "$mrg"), not CANCELLED (--kill-on-invalid-dep)"
owner0=$(sqlite3 "$local2" "SELECT pid FROM run_owner" 2>/dev/null)

say "submit.sh --only 2 --shards 3 --name slow --out $tmp/slow -- sweep ..."
# shellcheck disable=SC2086
sub=$(sh "$submit" --only 2 --shards 3 --name slow --out "$tmp/slow" --attnbench "$ab" \
	-- sweep $slow) || fail "submit.sh --only 2 failed: $sub"
echo "$sub" | sed 's/^/    /'
# shellcheck disable=SC2046
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
# Held (SIGSTOP: alive, not running) while the next attempt comes, so the
# check does not race the owner's last cases.
scontrol suspend "$arr2" || fail "scontrol suspend $arr2 failed"
say "submit.sh --only 2 --no-merge ... again, while it runs (job $arr2 suspended meanwhile)"
# shellcheck disable=SC2086
sub=$(sh "$submit" --only 2 --no-merge --shards 3 --name slow --out "$tmp/slow" --attnbench "$ab" \
	-- sweep $slow) || fail "the second submit.sh --only 2 failed: $sub"
# shellcheck disable=SC2046
set -- $(echo "$sub" | jobs_of)
dup=$1
wait_jobs 60 "$dup"
scontrol resume "$arr2" || fail "scontrol resume $arr2 failed"
dlog=$tmp/slow/logs/shard-2-of-3.$dup.out
sed 's/^/    /' "$dlog"
[ "$(exit_code "$dup")" = "3:0" ] || fail "the second resubmission (job $dup) exited $(exit_code "$dup"), not 3"
grep -q "being written by pid ${owner%% *} on host ${owner#* }" "$dlog" ||
	fail "the refusal does not name the owner (pid ${owner%% *} on host ${owner#* })"
say "the second resubmission (job $dup) was refused, exit 3, naming pid ${owner%% *} on host ${owner#* }"

# Shard 3 again, as on another node: its own local disk, empty.
say "ATTNBENCH_LOCAL_DIR=$tmp/node-b submit.sh --only 3 --shards 3 --name slow --out $tmp/slow -- sweep ..."
# shellcheck disable=SC2086
sub=$(ATTNBENCH_LOCAL_DIR=$tmp/node-b sh "$submit" --only 3 --shards 3 --name slow --out "$tmp/slow" \
	--attnbench "$ab" -- sweep $slow) || fail "submit.sh --only 3 failed: $sub"
echo "$sub" | sed 's/^/    /'
# shellcheck disable=SC2046
set -- $(echo "$sub" | jobs_of)
arr3=$1 mrg3=$2
# And once more, on a third node, while that one runs: the queue refuses it.
end=$(($(date +%s) + 60))
until [ "$(state "$arr3")" = "RUNNING " ]; do
	terminal "$arr3" && fail "the resubmitted shard 3 ended before it could be seen running"
	[ "$(date +%s)" -lt "$end" ] || fail "the resubmitted shard 3 did not start in 60 s"
	sleep 0.1
done
scontrol suspend "$arr3" || fail "scontrol suspend $arr3 failed"
say "ATTNBENCH_LOCAL_DIR=$tmp/node-c submit.sh --only 3 --no-merge ... while job $arr3 runs (suspended meanwhile)"
# shellcheck disable=SC2086
sub=$(ATTNBENCH_LOCAL_DIR=$tmp/node-c sh "$submit" --only 3 --no-merge --shards 3 --name slow \
	--out "$tmp/slow" --attnbench "$ab" -- sweep $slow) || fail "submit.sh --only 3 failed: $sub"
# shellcheck disable=SC2046
set -- $(echo "$sub" | jobs_of)
dup3=$1
wait_jobs 60 "$dup3"
scontrol resume "$arr3" || fail "scontrol resume $arr3 failed"
sed 's/^/    /' "$tmp/slow/logs/shard-3-of-3.$dup3.out"
[ "$(exit_code "$dup3")" = "3:0" ] || fail "the attempt on the third node (job $dup3) exited $(exit_code "$dup3"), not 3"
grep -q "already runs as job [0-9]* on " "$tmp/slow/logs/shard-3-of-3.$dup3.out" ||
	fail "the attempt on the third node does not name the running one"
say "the attempt on the third node (job $dup3) was refused, exit 3, naming the running job"
wait_jobs 120 "$arr2" "$arr3" "$mrg2" "$mrg3"
say "resubmitted shard 2: $(state "$arr2"); shard 3: $(state "$arr3"); merge $mrg2: $(state "$mrg2"); merge $mrg3: $(state "$mrg3")"
sed 's/^/    /' "$tmp/slow/logs/shard-3-of-3.$arr3.out"
if [ "$(state "$arr2")" != "COMPLETED " ] || [ "$(state "$arr3")" != "COMPLETED " ] ||
	[ "$(state "$mrg3")" != "COMPLETED " ]; then
	show_logs "$tmp/slow"
	fail "a resubmitted shard or the last merge did not complete"
fi
grep -q "resuming from $tmp/slow/shard-3-of-3.db" "$tmp/slow/logs/shard-3-of-3.$arr3.out" ||
	fail "shard 3 on the other node did not resume from the copied-out database"
# The first merge may have run before shard 3 was back: then it listed it.
if [ "$(state "$mrg2")" != "COMPLETED " ]; then
	[ "$(exit_code "$mrg2")" = "4:0" ] || fail "merge job $mrg2 exited $(exit_code "$mrg2")"
	say "merge job $mrg2 ran before shard 3 was back and listed what was missing (exit 4):"
	sed 's/^/    /' "$tmp/slow/logs/merge.$mrg2.out"
fi
sed 's/^/    /' "$tmp/slow/logs/merge.$mrg3.out"
all=$tmp/slow/ALL.db
keys "$all" >"$tmp/slow.keys"
dups=$(sort "$tmp/slow.keys" | uniq -d | wc -l)
[ "$dups" -eq 0 ] || fail "ALL.db holds $dups cases twice"
cmp -s "$tmp/whole2.keys" "$tmp/slow.keys" || {
	diff "$tmp/whole2.keys" "$tmp/slow.keys" | head -n 20
	fail "after the resubmissions ALL.db's cases are not those of the unsharded sweep"
}
runs=$(sqlite3 "$all" "SELECT count(*) FROM run_info WHERE key='sweep_id' AND value='slow'")
[ "$runs" -eq 3 ] || fail "ALL.db holds $runs runs of sweep_id slow, not 3"
# The cases recorded before the kill and the cancel are kept, not measured again.
sqlite3 "$all" "SELECT key, finished_at FROM cases ORDER BY key" >"$tmp/after"
missing=$(sort "$tmp/before.2" "$tmp/before.3" | comm -23 - "$tmp/after" | wc -l)
[ "$missing" -eq 0 ] || fail "$missing case(s) recorded before the kill or the cancel were lost or measured again"
say "ALL.db: $(wc -l <"$tmp/slow.keys") cases = the unsharded sweep's, none twice, 3 shard runs; the $(cat "$tmp/before.2" "$tmp/before.3" | wc -l) recorded before the kill and the cancel kept as they were"

# --- 3. a figure set, sharded ---------------------------------------------------
# The suite's small figure set: each of its sweeps split in two, merged,
# then drawn from ALL.db by the merge job (figures --no-sweep).
say "submit.sh --shards 2 --name figs --out $tmp/figs -- figures --set test --quiet --out $tmp/figs/plots"
sub=$(sh "$submit" --shards 2 --name figs --out "$tmp/figs" --attnbench "$ab" \
	-- figures --set test --quiet --out "$tmp/figs/plots") || fail "submit.sh failed: $sub"
echo "$sub" | sed 's/^/    /'
# shellcheck disable=SC2046
set -- $(echo "$sub" | jobs_of)
arr=$1 mrg=$2
wait_jobs 240 "$arr" "$mrg"
say "array $arr: $(state "$arr"); merge $mrg: $(state "$mrg")"
if [ "$(state "$mrg")" != "COMPLETED " ]; then
	show_logs "$tmp/figs"
	fail "the figures' merge job $mrg did not complete"
fi
grep -v '^merge: .*: 1 run\|^merge: .*nothing new' "$tmp/figs/logs/merge.$mrg.out" | sed 's/^/    /'
[ -s "$tmp/figs/plots/index.html" ] || fail "no $tmp/figs/plots/index.html"
sweeps=$(sqlite3 "$tmp/figs/ALL.db" "SELECT value || ' ' || count(*) FROM run_info WHERE key = 'sweep_id'
	GROUP BY value ORDER BY value")
echo "$sweeps" | awk '$2 != 2 { bad = 1 } END { exit bad }' || fail "a figure sweep has not 2 shard runs: $sweeps"
pngs=0
for f in "$tmp"/figs/plots/*.png; do [ -f "$f" ] && pngs=$((pngs + 1)); done
say "figures drawn from ALL.db ($pngs PNGs, index.html); its sweeps, 2 shards each: $(echo "$sweeps" | cut -d' ' -f1 | tr '\n' ' ')"
say "PASS"
