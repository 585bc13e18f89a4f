//go:build race

package store

// Under the race detector TestVaultKill9 runs fewer kills (each costs a
// race-instrumented child and a check of every blob).
const vaultKillCycles = 6
