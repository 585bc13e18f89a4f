package node

// HoldPublisher stops the publisher before its next send until the
// returned function is called: a test fills the publish queue with it.
func HoldPublisher() (release func()) {
	hold := make(chan struct{})
	publishHold.Store(&hold)
	return func() {
		publishHold.Store(nil)
		close(hold)
	}
}

// InviterAddrs and ConnectInviters are what Serve does at start to reach
// the inviters of its groups.
var (
	InviterAddrs    = inviterAddrs
	ConnectInviters = connectInviters
)
