package catchup_test

import (
	"testing"

	"github.com/mutual-aid/mutual/node/catchup/catchuptest"
)

// TestMemoryReplicaConformance runs the Replica conformance suite against
// the in-memory twin. Package node/replica runs it against the Badger
// replica, and across the two kinds.
func TestMemoryReplicaConformance(t *testing.T) {
	catchuptest.Run(t, catchuptest.Memory())
}
