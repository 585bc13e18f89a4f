package store

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
)

// ErrDiskFull means the disk holding the store has no room for a write.
// The store then refuses every write until the node restarts with room
// again; reads go on. See DiskFullError.
var ErrDiskFull = errors.New("the disk is full")

// DiskFullError says which disk is full, and how full.
type DiskFullError struct {
	Dir  string
	Free int64 // bytes free when it was noticed; -1 if unknown
}

func (e *DiskFullError) Error() string {
	free := ""
	if e.Free >= 0 {
		free = fmt.Sprintf(": %.1f MB free", float64(e.Free)/1e6)
	}
	return fmt.Sprintf("the disk holding %s is full%s. The board can be read, but nothing can be saved: free some space, then restart the node", e.Dir, free)
}

func (e *DiskFullError) Unwrap() error { return ErrDiskFull }

// minFreeToWrite is the free space below which the store opens
// read-only: enough for Badger to replay its log, flush a table and
// write a few commits.
const minFreeToWrite = 1 << 20

// isNoSpace reports whether err is the operating system saying the disk
// is full. Badger wraps some errors with %v, so the text is checked too.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || strings.Contains(err.Error(), "no space left on device")
}
