#!/usr/bin/env bash
# Runs every test: unit, property, scenario, simulation, end-to-end and
# browser tests under the race detector, then the seeded simulation and
# the crash loop without it, and each fuzz target briefly.
#   ./test.sh              everything
#   FUZZTIME=2000000x SIM_SEEDS=20000 CRASH_CYCLES=5000 ./test.sh
#                          longer fuzzing, simulation and crash loop
#
# The steps overlap: the race run, whose tests spend much of their time
# waiting (on timers, networks, disks, other processes), runs in front;
# the crash loop runs beside it from the start; the simulation and the
# fuzz targets run beside it at the lowest priority (nice 19), on the CPU
# time it leaves idle, and at normal priority once it ends. Each background
# step's output is printed when it ends, and a failure of any step fails
# the run and stops the others. docs/benchmarks.md has the times.
set -euo pipefail
cd "$(dirname "$0")"
self=$PWD/$(basename "$0")
# Counts, not durations: go1.26's fuzz coordinator can fail a run with a
# bare "context deadline exceeded" when a duration runs out (golang/go#75804).
# 20,000 inputs per target: 17 targets at 60,000 took ~3 min of CI's 15;
# fuzz longer by hand (FUZZTIME=2000000x ./test.sh, in the header).
fuzztime=${FUZZTIME:-20000x}

# step NAME runs one step of the run (test.sh runs the background ones
# as `test.sh --step NAME...`).
step() {
	case $1 in
	crash)
		# The crash loop, 200 SIGKILLs of a serving node (the race run
		# does 20): after each, every acknowledged change is there, and
		# every 25th `mutual check` passes without changing a byte. A
		# failure prints the seed. A cycle takes under a second, most of
		# it waiting on fsyncs, process starts and the moment of the kill.
		local cycles=${CRASH_CYCLES:-200}
		go test -count=1 -timeout "$((10 + cycles / 60))m" -run '^TestCrashLoop$' ./cmd/mutual -crash.cycles="$cycles"
		;;
	sim)
		# The seeded simulation, 1,000 schedules (the race run does fewer:
		# the race detector slows it tenfold). A failure prints the seed.
		# Its timeout covers the race run's (20 min), behind which it may
		# wait at nice 19 on a machine busy with other work.
		go test -count=1 -timeout 40m -run '^TestSimulation$' ./node/catchup -sim.seeds="${SIM_SEEDS:-1000}"
		;;
	fuzz)
		# Each fuzz target, briefly, from its committed seed corpus and
		# what earlier runs found (in the Go cache, as `go test -fuzz`
		# keeps it). One instrumented test binary per package, run once per
		# target: `go test -fuzz` would link it again for every target.
		local cache pkg dir targets target n bin
		cache=$(go env GOCACHE)/fuzz
		go list -f '{{.ImportPath}} {{.Dir}}' ./... | while read -r pkg dir; do
			targets=$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed "s/^func //" | sort -u || true)
			[ -n "$targets" ] || continue
			bin=$MUTUAL_TEST_WORK/fuzz-${pkg//\//_}.test
			go test -c -fuzz . -o "$bin" "$pkg"
			for target in $targets; do
				n=$fuzztime
				# FuzzOpenVault writes, opens and fsyncs a file per input (≈400 inputs/s):
				# a tenth as many, or it alone would take most of a minute.
				[ "$target" = FuzzOpenVault ] && n=${VAULT_FUZZTIME:-2000x}
				echo "fuzz $pkg $target ($n)"
				(cd "$dir" && "$bin" -test.paniconexit0 -test.run '^$' -test.fuzz "^${target}\$" \
					-test.fuzztime "$n" -test.fuzzminimizetime 500x -test.fuzzcachedir "$cache/$pkg") \
					>"$MUTUAL_TEST_WORK/fuzz.log" 2>&1 || {
					cat "$MUTUAL_TEST_WORK/fuzz.log"
					echo "FAIL: fuzz $pkg $target"
					exit 1
				}
			done
		done
		;;
	*)
		echo "test.sh: no step $1" >&2
		exit 2
		;;
	esac
}

if [ "${1:-}" = --step ]; then
	shift
	for s in "$@"; do step "$s"; done
	exit 0
fi

# Job control on: each background step is a process group of its own,
# which can be stopped with everything it started.
set -m
MUTUAL_TEST_WORK=$(mktemp -d "${TMPDIR:-/tmp}/mutual-test.XXXXXX")
export MUTUAL_TEST_WORK
bg=()
cleanup() {
	for p in "${bg[@]}"; do kill -- -"$p" 2>/dev/null || true; done
	rm -rf "$MUTUAL_TEST_WORK"
}
trap cleanup EXIT

# The mutual binary that the end-to-end tests run as separate processes
# (cmd/mutual, cmd/mutual/meshtest and the crash loop), built once here
# rather than by each of them.
go build -o "$MUTUAL_TEST_WORK/mutual" ./cmd/mutual
export MUTUAL_TEST_BINARY=$MUTUAL_TEST_WORK/mutual

# background NAME NICE STEP...: runs steps in the background, output in a log.
declare -A pid
background() {
	local name=$1 prio=$2
	shift 2
	nice -n "$prio" "$BASH" "$self" --step "$@" >"$MUTUAL_TEST_WORK/$name.log" 2>&1 &
	pid[$name]=$!
	bg+=($!)
}

# finish NAME: waits for a background step, prints its output, and fails
# the run if it failed.
finish() {
	local rc=0
	wait "${pid[$1]}" || rc=$?
	cat "$MUTUAL_TEST_WORK/$1.log"
	if [ "$rc" -ne 0 ]; then
		echo "FAIL: $1 (exit $rc)"
		exit "$rc"
	fi
}

background crash 0 crash
# The simulation and the fuzz targets each use every core: one lane.
background cpu 19 sim fuzz

go test -race -count=1 -timeout 20m ./...
# The race run is over: what is left of the lane runs at normal priority,
# so that on a machine shared with other work it does not wait behind it
# (raising a priority takes root, as in CI; elsewhere it stays at 19).
renice -n 0 -g "${pid[cpu]}" >/dev/null 2>&1 || true

finish crash
finish cpu
echo "all tests passed"
