#!/usr/bin/env bash
# Runs every test: unit, property, scenario, simulation, end-to-end and
# browser tests under the race detector, then each fuzz target briefly.
#   ./test.sh              everything
#   FUZZTIME=2000000x SIM_SEEDS=20000 CRASH_CYCLES=5000 ./test.sh
#                          longer fuzzing, simulation and crash loop
set -euo pipefail
cd "$(dirname "$0")"
# Counts, not durations: go1.26's fuzz coordinator can fail a run with a
# bare "context deadline exceeded" when a duration runs out (golang/go#75804).
# 20,000 inputs per target: 17 targets at 60,000 took ~3 min of CI's 15;
# fuzz longer by hand (FUZZTIME=2000000x ./test.sh, in the header).
fuzztime=${FUZZTIME:-20000x}

go test -race -count=1 -timeout 20m ./...

# The seeded simulation, 1,000 schedules (the race run above does fewer:
# the race detector slows it tenfold). A failure prints the seed to replay.
go test -count=1 -run '^TestSimulation$' ./node/catchup -sim.seeds="${SIM_SEEDS:-1000}"

# The crash loop, 200 SIGKILLs of a serving node (the race run above does
# 20): after each, every acknowledged change is there, and every 25th
# `mutual check` passes without changing a byte. A failure prints the
# seed. A cycle takes under a second.
crash_cycles=${CRASH_CYCLES:-200}
go test -count=1 -timeout "$((10 + crash_cycles / 60))m" -run '^TestCrashLoop$' ./cmd/mutual -crash.cycles="$crash_cycles"

# Each fuzz target, briefly, from its committed seed corpus.
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    n=$fuzztime
    # FuzzOpenVault writes, opens and fsyncs a file per input (≈400 inputs/s):
    # a tenth as many, or it alone would take most of a minute.
    [ "$target" = FuzzOpenVault ] && n=${VAULT_FUZZTIME:-2000x}
    echo "fuzz $pkg $target ($n)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$n" -fuzzminimizetime 500x "$pkg" >/tmp/mutual-fuzz.log 2>&1 || { cat /tmp/mutual-fuzz.log; exit 1; }
  done
done
echo "all tests passed"
