#!/bin/sh
# Submits one sharded attnbench sweep (or figure set) to Slurm: an array job
# of N shards, at most K at once (sweep.sbatch, one task = one shard), and a
# merge job that runs once every shard succeeded (merge.sbatch). See usage()
# for the commands a user types; the same command, with --only, resubmits
# failed or killed shards, which resume where they stopped.
set -eu

usage() {
	cat <<'EOF'
usage: submit.sh --shards N --name NAME --out DIR [--parallel K] [--only LIST]
                 [--attnbench PATH] [--no-merge] [--dry-run] [SBATCH OPTION]...
                 -- VERB [ARGS...]

Runs `attnbench VERB --shard I/N ARGS` as a Slurm array job, one task per
shard I = 1..N, then merges the shards into DIR/ALL.db in a job that waits
for them all (--dependency=afterok). VERB is sweep or figures:
  submit.sh --shards 8 --parallel 4 --name survey --out /shared/survey \
      -p batch -t 12:00:00 -- sweep --preset default
  submit.sh --shards 8 --name figs --out /shared/figs -- figures --quick

Each task writes its shard into node-local disk (SQLite must not be shared
over NFS), ${ATTNBENCH_LOCAL_DIR:-${TMPDIR:-/tmp}}/attnbench-NAME/shard-I-of-N.db,
and copies it to DIR/shard-I-of-N.db when the sweep ends, also when it
failed, so nothing measured is lost. The merge job runs
`attnbench merge --out DIR/ALL.db DIR/shard-*-of-N.db`, which lists the
shards or cases still missing (exit 4); for figures it then draws the figures
from ALL.db (`attnbench figures --no-sweep --db DIR/ALL.db ARGS`).

Resume: a task that failed, was killed or ran out of time is resubmitted with
the same command and --only (e.g. --only 2 or --only 2,5-7): it resumes its
shard (`sweep --resume`) from the local database, or from DIR's copy on
another node, and a new merge job waits for it. A shard whose first attempt
still runs is refused (exit 3, naming the owner's pid and host, or its job).

  --shards N       number of shards (array tasks 1..N)
  --name NAME      the sweep's name: job names attnbench-NAME and
                   attnbench-NAME-merge, --sweep-id NAME, the local folder
  --out DIR        shared output folder (created): the shards, ALL.db, and
                   the jobs' logs in DIR/logs/
  --parallel K     at most K shards at once (--array=1-N%K; default: no limit)
  --only LIST      submit only these shards (Slurm --array syntax: 2 or 1,3-4)
  --attnbench PATH the attnbench the nodes run (default: the one on PATH, else
                   the build/ of this checkout); must be reachable from them
  --no-merge       submit the shards only
  --dry-run        print the sbatch commands (on stderr) instead of running them
  SBATCH OPTION    anything else before `--` goes to both sbatch commands:
                   -p/--partition, -t/--time, -c/--cpus-per-task, -A, --qos,
                   --mem, -C, --exclude ... (as --opt=value or -o value)

Prints the array job's and the merge job's ids; the last line is
  submitted: array JOBID merge JOBID
Environment: ATTNBENCH_LOCAL_DIR (node-local folder, read on the node).
EOF
}

die() {
	echo "submit.sh: $*" >&2
	exit 2
}

here=$(cd "$(dirname "$0")" && pwd)
shards="" name="" out="" parallel="" only="" ab="" merge=1 dry=0
sbopts="" # newline-separated, each one word: options may hold spaces
add_opt() { sbopts="$sbopts$1
"; }
while [ $# -gt 0 ]; do
	case "$1" in
	-h | --help) usage; exit 0 ;;
	--shards) [ $# -ge 2 ] || die "--shards needs N"; shards=$2; shift 2 ;;
	--shards=*) shards=${1#*=}; shift ;;
	--name) [ $# -ge 2 ] || die "--name needs NAME"; name=$2; shift 2 ;;
	--name=*) name=${1#*=}; shift ;;
	--out) [ $# -ge 2 ] || die "--out needs DIR"; out=$2; shift 2 ;;
	--out=*) out=${1#*=}; shift ;;
	--parallel) [ $# -ge 2 ] || die "--parallel needs K"; parallel=$2; shift 2 ;;
	--parallel=*) parallel=${1#*=}; shift ;;
	--only) [ $# -ge 2 ] || die "--only needs LIST"; only=$2; shift 2 ;;
	--only=*) only=${1#*=}; shift ;;
	--attnbench) [ $# -ge 2 ] || die "--attnbench needs PATH"; ab=$2; shift 2 ;;
	--attnbench=*) ab=${1#*=}; shift ;;
	--no-merge) merge=0; shift ;;
	--dry-run) dry=1; shift ;;
	--) shift; break ;;
	# sbatch's options that take their value as the next word
	-p | -t | -c | -A | -q | -C | -w | -x | -N | -n | -D | --partition | --time | --cpus-per-task | \
		--account | --qos | --mem | --mem-per-cpu | --constraint | --nodelist | --exclude | \
		--reservation | --gres | --nodes | --ntasks | --chdir | --export)
		[ $# -ge 2 ] || die "$1 needs a value"
		add_opt "$1"
		add_opt "$2"
		shift 2
		;;
	-*) add_opt "$1"; shift ;;
	*) die "unexpected '$1' (the attnbench verb and its arguments go after --; see --help)" ;;
	esac
done
[ $# -ge 1 ] || die "no verb: give '-- sweep ARGS' or '-- figures ARGS' (see --help)"
verb=$1
shift
case "$verb" in
sweep | figures) ;;
*) die "VERB must be sweep or figures, not '$verb'" ;;
esac
case "$shards" in
'' | *[!0-9]* | 0*) die "--shards N: a whole number >= 1 is needed, not '$shards'" ;;
esac
case "$parallel" in
'') ;;
*[!0-9]* | 0*) die "--parallel K: a whole number >= 1 is needed, not '$parallel'" ;;
esac
case "$name" in
'') die "--name NAME is needed" ;;
*[!A-Za-z0-9._-]*) die "--name: letters, digits, '.', '_' and '-' only, not '$name'" ;;
esac
[ -n "$out" ] || die "--out DIR is needed"
case "$only" in
*[!0-9,-]*) die "--only LIST: shard numbers and ranges (2 or 1,3-4), not '$only'" ;;
esac
for arg in "$@"; do
	case "$arg" in
	--shard | --shard=* | --db | --db=* | --resume | --sweep-id | --sweep-id=*)
		die "'$arg' is the script's to give (each task's shard, database and resume)"
		;;
	esac
done

if [ -z "$ab" ]; then
	ab=$(command -v attnbench 2>/dev/null || true)
	[ -n "$ab" ] || ab=$here/../../build/attnbench
fi
[ -x "$ab" ] || die "no attnbench at '$ab' (build it, or give --attnbench PATH)"
ab=$(cd "$(dirname "$ab")" && pwd)/$(basename "$ab")
[ "$dry" -eq 1 ] || mkdir -p "$out/logs"
out=$(cd "$out" 2>/dev/null && pwd || echo "$out")

array=${only:-1-$shards}
[ -n "$parallel" ] && array="$array%$parallel"

# sbatch with the user's options, then ours, then the script and its words.
sb() {
	if [ "$dry" -eq 1 ]; then
		{
			printf 'sbatch --parsable'
			printf '%s' "$sbopts" | while IFS= read -r o; do printf " '%s'" "$o"; done
			printf " '%s'" "$@"
			printf '\n'
		} >&2
		echo DRYRUN
		return 0
	fi
	(
		IFS='
'
		set -f
		# shellcheck disable=SC2086
		exec sbatch --parsable $sbopts "$@"
	)
}

jid=$(sb --job-name="attnbench-$name" --array="$array" \
	--output="$out/logs/shard-%a-of-$shards.%A.out" \
	"$here/sweep.sbatch" "$shards" "$name" "$out" "$ab" "$verb" "$@" | tail -n 1)
jid=${jid%%;*}
echo "array job $jid: shards $array of $shards, attnbench-$name, logs in $out/logs/"

mid=none
if [ "$merge" -eq 1 ]; then
	dep="afterok:$jid"
	# A resubmission: the merge waits also for the shards still queued or
	# running from earlier submissions (their merge job, if any, waits on
	# a failed task and is cancelled by Slurm: --kill-on-invalid-dep).
	if [ -n "$only" ] && [ "$dry" -eq 0 ]; then
		for j in $(squeue -h -n "attnbench-$name" -o '%F' 2>/dev/null | sort -u); do
			[ "$j" = "$jid" ] || dep="$dep,afterany:$j"
		done
	fi
	mid=$(sb --job-name="attnbench-$name-merge" --dependency="$dep" --kill-on-invalid-dep=yes \
		--output="$out/logs/merge.%j.out" \
		"$here/merge.sbatch" "$shards" "$name" "$out" "$ab" "$verb" "$@" | tail -n 1)
	mid=${mid%%;*}
	echo "merge job $mid: after $dep, into $out/ALL.db"
fi
echo "submitted: array $jid merge $mid"
