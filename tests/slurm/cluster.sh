# A single-node Slurm on loopback, from Debian's slurm-wlm and munge, for
# tests/slurm/run.sh (sourced, POSIX sh). Everything lives in one folder the
# caller owns: its own munge key and munged socket, its own slurm.conf, state
# and spool, on ports nobody listens on, so it neither needs nor touches a
# system Slurm or munge that may already run on the machine. The daemons are
# children of the calling shell, so slurm_down can wait for them.
#   slurm_up DIR     start munged, slurmctld and slurmd; wait until the node
#                    is idle; exports SLURM_CONF. Returns 1 with the reason in
#                    $slurm_why (and the daemons' errors printed) when it
#                    cannot start.
#   slurm_down       cancel every job, stop the daemons, kill what is left of
#                    the jobs; leaves DIR for the caller to remove.
# Why each setting: no cgroup anywhere (proctrack/linuxproc, task/none), as a
# container or a VM without systemd has no delegated cgroup tree; the node
# and controller addresses are given as 127.0.0.1, so the host name need not
# resolve; SlurmUser=root because slurmd must start jobs as their user.

# shellcheck shell=sh disable=SC2034 # slurm_why is read by the caller
slurm_dir=""
slurm_why=""
slurm_pids=""

# slurm_free_port FROM: the first TCP port >= FROM that nothing listens on
# (read from /proc/net/tcp*, which every Linux has; ss may be missing).
slurm_free_port() {
	p=$1
	while [ "$p" -lt 65000 ]; do
		hex=$(printf '%04X' "$p")
		if ! cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
			awk -v h=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == h { f = 1 } END { exit !f }'; then
			echo "$p"
			return 0
		fi
		p=$((p + 1))
	done
	return 1
}

# slurm_errors LOG: its errors, less those every fresh start logs (no saved
# state yet, no PMIx library, no mail program).
slurm_errors() {
	grep -Ei 'error|fatal' "$1" |
		grep -v 'pmix\|MPI: Cannot create\|MailProg\|state file\|Trying backup state\|hwloc_topo_load'
}

# slurm_fail WHY: record why Slurm cannot start, print what the daemons said.
slurm_fail() {
	slurm_why=$1
	for f in "$slurm_dir"/log/*.log; do
		e=$(slurm_errors "$f" 2>/dev/null | tail -n 15)
		[ -n "$e" ] || continue
		echo "--- $(basename "$f") (errors):"
		echo "$e"
	done
	return 1
}

slurm_alive() { # PID: running, not a zombie (PID 1 here may not reap)
	[ -r "/proc/$1/stat" ] && ! awk '{ exit $3 != "Z" }' "/proc/$1/stat" 2>/dev/null
}

slurm_up() {
	slurm_dir=$1
	for c in munged munge unmunge slurmctld slurmd sbatch squeue scontrol sinfo scancel; do
		command -v "$c" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
		command -v "$c" >/dev/null 2>&1 ||
			{ slurm_why="$c not found: apt-get install slurm-wlm munge (sh scripts/setup.sh test)"; return 1; }
	done
	[ "$(id -u)" -eq 0 ] ||
		{ slurm_why="needs root: slurmd starts every job as its user, which only root may do"; return 1; }
	d=$slurm_dir
	mkdir -p "$d/munge" "$d/run" "$d/state" "$d/spool" "$d/log" || { slurm_why="cannot create $d"; return 1; }
	# munged refuses a key others can read and a socket folder others cannot
	# enter (every folder above it must be executable for all).
	chmod 700 "$d/munge" && chmod 755 "$d" "$d/run"
	if ! dd if=/dev/urandom of="$d/munge/munge.key" bs=1024 count=1 2>/dev/null ||
		! chmod 400 "$d/munge/munge.key"; then
		slurm_why="cannot write a munge key into $d/munge"
		return 1
	fi
	sock=$d/run/munge.socket
	munged -F --socket="$sock" --key-file="$d/munge/munge.key" --pid-file="$d/run/munged.pid" \
		--seed-file="$d/munge/seed" --log-file="$d/log/munged.log" >"$d/log/munged.out" 2>&1 &
	slurm_pids="$!"
	i=0
	until [ -S "$sock" ] && munge -n -S "$sock" 2>/dev/null | unmunge -S "$sock" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 50 ] || ! slurm_alive "${slurm_pids%% *}"; then
			cat "$d/log/munged.out" "$d/log/munged.log" 2>/dev/null | tail -n 5
			slurm_why="munged did not start (a credential did not round-trip through $sock)"
			return 1
		fi
		sleep 0.1
	done

	host=$(hostname -s 2>/dev/null || hostname)
	[ -n "$host" ] || host=localhost
	cpus=$(nproc)
	mem=$(free -m | awk '/^Mem:/ { print int($2 * 0.9) }')
	if ! ctld_port=$(slurm_free_port 16817) || ! d_port=$(slurm_free_port $((ctld_port + 1))); then
		slurm_why="no free TCP port for slurmctld/slurmd above 16817"
		return 1
	fi
	# The test runs up to four one-CPU jobs at once (a resubmitted shard
	# beside its first attempt and the other shards): a smaller machine is
	# declared as four CPUs, which config_overrides lets slurmd accept.
	over=""
	if [ "$cpus" -lt 4 ]; then
		cpus=4
		over="SlurmdParameters=config_overrides"
	fi
	cat >"$d/slurm.conf" <<EOF
ClusterName=attnbench-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/run/slurmctld.pid
SlurmdPidFile=$d/run/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SchedulerType=sched/builtin
MinJobAge=600
KillWait=5
$over
NodeName=$host NodeAddr=127.0.0.1 NodeHostname=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
	SLURM_CONF=$d/slurm.conf
	export SLURM_CONF
	slurmctld -D -i -c -f "$SLURM_CONF" >"$d/log/slurmctld.out" 2>&1 &
	ctld_pid=$!
	slurm_pids="$slurm_pids $ctld_pid"
	slurmd -D -c -N "$host" -f "$SLURM_CONF" >"$d/log/slurmd.out" 2>&1 &
	d_pid=$!
	slurm_pids="$slurm_pids $d_pid"
	i=0
	state=""
	while :; do
		state=$(sinfo -h -n "$host" -o %T 2>/dev/null)
		[ "$state" = idle ] && return 0
		for p in $slurm_pids; do
			slurm_alive "$p" && continue
			who=munged
			[ "$p" = "$ctld_pid" ] && who=slurmctld
			[ "$p" = "$d_pid" ] && who=slurmd
			last=$(slurm_errors "$d/log/$who.log" 2>/dev/null | tail -n 1 | sed 's/^\[[^]]*\] //')
			slurm_fail "$who exited at start${last:+: $last}"
			return 1
		done
		i=$((i + 1))
		[ $i -gt 300 ] && { slurm_fail "node $host not idle after 30 s (sinfo says '${state:-nothing}')"; return 1; }
		sleep 0.1
	done
}

slurm_down() {
	[ -n "$slurm_dir" ] || return 0
	if [ -n "${SLURM_CONF:-}" ]; then
		scancel --full --quiet --signal=KILL --state=RUNNING "--user=$(id -un)" 2>/dev/null
		scancel --quiet "--user=$(id -un)" 2>/dev/null
	fi
	for p in $slurm_pids; do
		kill "$p" 2>/dev/null
	done
	i=0
	for p in $slurm_pids; do
		while slurm_alive "$p" && [ $i -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		slurm_alive "$p" && kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	# What the jobs left (slurmstepd and the jobs' processes run detached
	# from slurmd): slurmstepd, and every process of a job (SLURM_JOB_ID in
	# its environment), whose environment names this SLURM_CONF. Listed
	# first, killed after, so the scan's own pipeline is never a target.
	left=""
	for e in /proc/[0-9]*/environ; do
		p=${e#/proc/}
		p=${p%/environ}
		env=$( (tr '\0' '\n' <"$e") 2>/dev/null) || continue
		printf '%s\n' "$env" | grep -qxF "SLURM_CONF=$slurm_dir/slurm.conf" || continue
		if printf '%s\n' "$env" | grep -q '^SLURM_JOB_ID=' ||
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" = slurmstepd ]; then
			left="$left $p"
		fi
	done
	# shellcheck disable=SC2086 # a list of pids
	[ -n "$left" ] && kill -9 $left 2>/dev/null
	slurm_pids=""
}
