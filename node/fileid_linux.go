package node

import (
	"fmt"
	"syscall"
)

// fileIDOf returns the inode number and change time of the file at path.
func fileIDOf(path string) (fileID, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return fileID{}, fmt.Errorf("stat %s: %w", path, err)
	}
	return fileID{Inode: uint64(st.Ino), Ctime: st.Ctim.Nano()}, nil
}
