//go:build !linux && !darwin && !freebsd && !netbsd

package node

// fileIDOf fails with errNoFileID: on this platform (Windows among
// them) a copy of the data dir is not noticed.
func fileIDOf(path string) (fileID, error) { return fileID{}, errNoFileID }
