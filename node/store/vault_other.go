//go:build !unix

package store

import "os"

// lockVaultFile does nothing where flock is missing.
func lockVaultFile(*os.File) error { return nil }
