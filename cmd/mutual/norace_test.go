//go:build !race

package main

const defaultCrashCycles = 200
