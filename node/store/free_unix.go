//go:build unix

package store

import "syscall"

// freeBytes returns the bytes free for an unprivileged writer on the disk
// holding dir, or -1 if it cannot tell.
func freeBytes(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}
