//go:build race

package catchup

// The race detector slows ed25519 down several times: TestSimulation runs
// fewer seeds by default under it (-sim.seeds and MUTUAL_SIM_SEEDS still
// choose).
const defaultSimSeeds = 200

const raceEnabled = true
