package node

import "time"

// SlowPublisher makes the publisher wait d before each send, until the
// returned function is called: a test fills the publish queue with it.
func SlowPublisher(d time.Duration) (restore func()) {
	publishDelay.Store(int64(d))
	return func() { publishDelay.Store(0) }
}
