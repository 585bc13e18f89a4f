package protocol

import (
	"crypto/sha256"

	"github.com/mutual-aid/mutual/crdt"
)

// Protocol IDs and topic names. They are versioned: an incompatible
// change gets a new version, and nodes may speak both for a while.
//
// Sync 2.0.0 and group topics 3.0.0 came with op version 2 and frames
// (docs/protocol.md 2.4, 12.4): a node of before refuses a frame as a
// malformed op and blocks its sender, so the two must not meet on one
// protocol; on different ones they simply do not talk. Sync 3.0.0 added
// the Digest (9) and Frame (7) messages, which a 2.0.0 node would refuse
// as unknown types.
//
// Group topics 4.0.0 came with gossip frames that leave prev out
// (docs/protocol.md 2.6): a 3.0.0 node would refuse their flag as
// malformed and block the sender. Catch-up never carries them, so sync
// stays 3.0.0.
const (
	// SyncProtocol is the catch-up protocol on libp2p streams.
	SyncProtocol = "/mutual/sync/3.0.0"
	// topicPrefix is followed by 32 hex digits derived from the group's
	// first key (Topic): no group ID appears in a topic name.
	topicPrefix = "/mutual/group/4.0.0/"
)

// Finding each other (docs/protocol.md 12.5, 12.6).
const (
	// PexProtocol is peer exchange: one Pex message per stream (pex.go).
	PexProtocol = "/mutual/pex/1.0.0"
	// HoldsProtocol is the proof of holding a group: one HoldsAsk and
	// one HoldsAnswer per stream (holds.go).
	HoldsProtocol = "/mutual/holds/1.0.0"
	// DHTPrefix is the protocol prefix of mutual's own Kademlia DHT: its
	// protocol is DHTPrefix + "/kad/1.0.0", so that it never mixes with
	// the public IPFS DHT ("/ipfs/kad/1.0.0").
	DHTPrefix = "/mutual"
	// rendezvousDomain separates rendezvous keys from every other hash
	// of a group ID.
	rendezvousDomain = "mutual/rendezvous/1\n"
)

// RendezvousDigest returns the SHA-256 under which the nodes of a group
// advertise themselves and look each other up in a DHT (as a CIDv1 of
// codec raw over this sha2-256 multihash): a hash of the group ID, not
// the ID itself, which stays unguessable to whoever reads the DHT. Those
// who know the ID (members, followers, whoever holds a follow code) can
// derive it; no one can go back from it to the ID.
func RendezvousDigest(group crdt.ID) [32]byte {
	return sha256.Sum256(append([]byte(rendezvousDomain), group[:]...))
}
