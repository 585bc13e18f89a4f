//go:build !race

package catchup

const defaultSimSeeds = 1000

const raceEnabled = false
