//go:build unix

package store

import (
	"errors"
	"os"
	"syscall"
)

// lockVaultFile takes an exclusive flock on f: two processes appending to
// one vault would interleave records.
func lockVaultFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return ErrLocked
	}
	return err
}
