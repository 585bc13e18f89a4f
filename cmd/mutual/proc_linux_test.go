package main

import (
	"syscall"
	"time"
)

// dieWithTest makes a node started by a test die with the test binary,
// even when a timeout kills the test before its cleanups run.
func dieWithTest() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// selfCPU returns the user + system CPU time this process has used, and
// the system part.
func selfCPU() (all, sys time.Duration) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), time.Duration(ru.Stime.Nano())
}
