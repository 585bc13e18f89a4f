package protocol

// Protocol IDs and topic names. They are versioned: an incompatible
// change gets a new version, and nodes may speak both for a while.
const (
	// SyncProtocol is the catch-up protocol on libp2p streams.
	SyncProtocol = "/mutual/sync/1.0.0"
	// topicPrefix is followed by 32 hex digits derived from the group's
	// first key (Topic): no group ID appears in a topic name.
	topicPrefix = "/mutual/group/2.0.0/"
)
