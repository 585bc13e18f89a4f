package replica_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test closes what it opens: no goroutine may outlive a replica.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
