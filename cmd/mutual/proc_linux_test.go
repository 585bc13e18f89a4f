package main

import "syscall"

// dieWithTest makes a node started by a test die with the test binary,
// even when a timeout kills the test before its cleanups run.
func dieWithTest() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
