//go:build !race

package store

// How many times TestVaultKill9 kills its child.
const vaultKillCycles = 40
