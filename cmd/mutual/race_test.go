//go:build race

package main

// Under the race detector TestCrashLoop runs fewer cycles by default:
// test.sh runs it again without -race for the full count (-crash.cycles
// and MUTUAL_CRASH_CYCLES still choose).
const defaultCrashCycles = 20
