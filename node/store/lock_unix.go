//go:build unix

package store

import (
	"errors"
	"os"
	"syscall"
)

// Locked reports whether a process has the store in dir open (Badger
// holds an exclusive flock on the directory while it does).
func Locked(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true
	}
	if err == nil {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	}
	return false
}
