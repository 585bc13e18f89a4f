package protocol

import "github.com/mutual-aid/mutual/crdt"

// Protocol IDs and topic names. They are versioned: an incompatible
// change gets a new version, and nodes may speak both for a while.
const (
	// SyncProtocol is the catch-up protocol on libp2p streams.
	SyncProtocol = "/mutual/sync/1.0.0"
	// topicPrefix is followed by the group ID in hex.
	topicPrefix = "/mutual/group/1.0.0/"
)

// Topic returns the GossipSub topic of a group.
func Topic(group crdt.ID) string { return topicPrefix + group.String() }

// GroupOfTopic parses a topic name back into a group ID.
func GroupOfTopic(topic string) (crdt.ID, bool) {
	if len(topic) != len(topicPrefix)+64 || topic[:len(topicPrefix)] != topicPrefix {
		return crdt.ID{}, false
	}
	id, err := crdt.ParseID(topic[len(topicPrefix):])
	return id, err == nil
}
