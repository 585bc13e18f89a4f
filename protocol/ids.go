package protocol

// Protocol IDs and topic names. They are versioned: an incompatible
// change gets a new version, and nodes may speak both for a while.
//
// Sync 2.0.0 and group topics 3.0.0 came with op version 2 and frames
// (docs/protocol.md 2.4, 12.4): a node of before refuses a frame as a
// malformed op and blocks its sender, so the two must not meet on one
// protocol; on different ones they simply do not talk. Sync 3.0.0 added
// the Digest (9) and Frame (7) messages, which a 2.0.0 node would refuse
// as unknown types.
const (
	// SyncProtocol is the catch-up protocol on libp2p streams.
	SyncProtocol = "/mutual/sync/3.0.0"
	// topicPrefix is followed by 32 hex digits derived from the group's
	// first key (Topic): no group ID appears in a topic name.
	topicPrefix = "/mutual/group/3.0.0/"
)
