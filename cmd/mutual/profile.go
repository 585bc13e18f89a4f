package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

// startCPUProfile writes a CPU profile of the process to the file
// $MUTUAL_CPUPROFILE names, if it is set, until the returned function
// is called (`mutual serve` calls it as it stops). It is for
// benchmarks (BenchmarkBurst3's MUTUAL_BURST_PROFILE); unset, it does
// nothing.
func startCPUProfile(stderr io.Writer) (stop func()) {
	path := os.Getenv("MUTUAL_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(stderr, "MUTUAL_CPUPROFILE: %v\n", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		fmt.Fprintf(stderr, "MUTUAL_CPUPROFILE: %v\n", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(stderr, "MUTUAL_CPUPROFILE: %v\n", err)
		}
	}
}
