//go:build !unix

package store

// Locked reports whether a process has the store in dir open. Where
// flock is missing it cannot tell, and says no.
func Locked(dir string) bool { return false }
