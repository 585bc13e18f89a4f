package node_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Whole nodes (store, replica, libp2p host, HTTP server) started by the
// tests must leave no goroutine behind once Serve returns.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
