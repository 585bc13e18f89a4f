//go:build !linux

package main

import (
	"syscall"
	"time"
)

// dieWithTest: only Linux can tie a child's life to its parent's.
func dieWithTest() *syscall.SysProcAttr { return nil }

// selfCPU: not measured here.
func selfCPU() (all, sys time.Duration) { return 0, 0 }
