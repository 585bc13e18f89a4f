//go:build !linux

package store

import "os"

// fdatasync is fsync where fdatasync is missing (on macOS, Go's Sync is
// F_FULLFSYNC).
func fdatasync(f *os.File) error { return f.Sync() }
