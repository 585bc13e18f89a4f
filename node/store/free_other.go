//go:build !unix

package store

// freeBytes returns -1: this platform's free space is not read here.
func freeBytes(dir string) int64 { return -1 }
