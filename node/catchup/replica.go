package catchup

import (
	"context"
	"errors"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// Replica is the node's board as sync sees it. Package node implements
// it over Badger; MemoryReplica in this package is its in-memory twin.
// Implementations are safe for concurrent use: Run reads with OpsAfter
// in one goroutine while it ingests in another.
type Replica interface {
	// Groups returns the groups this node replicates.
	Groups() []crdt.ID
	// Topic returns the GossipSub topic of a group, which only those who
	// hold the group's first key can derive; false until this node holds
	// it (a newcomer, before a member shares the keys with it).
	Topic(group crdt.ID) (string, bool)
	// MayRead reports whether that peer may receive this group's ops
	// (members only; the node decides).
	MayRead(group crdt.ID, peer crdt.PublicKey) bool
	// Limited says what this node offers a peer that may not read the
	// group (MayRead is false); see Limit. The zero Limit offers nothing.
	Limited(group crdt.ID, peer crdt.PublicKey) (Limit, error)
	// MayFollow reports whether a peer that is not a member may
	// replicate the group read-only, by the group's federation policy
	// (crdt.Federation: open to anyone who names the group, or to the
	// members of its allies, as this node knows them). It returns nil if
	// so, else an error whose text is the reason shown to the peer's
	// user (at most protocol.MaxRefusedReason bytes).
	MayFollow(group crdt.ID, peer crdt.PublicKey) error
	// VersionVector maps each author to the highest seq S such that
	// ops 1..S of that author are all held. An author of whom some ops
	// are held, but not op 1, may appear with 0.
	VersionVector(group crdt.ID) (map[crdt.PublicKey]uint64, error)
	// Digest summarises what the replica holds of the group
	// (protocol.GroupDigestOf over its version vector, the seqs held past
	// it and the forks known), so that a session finds two equal groups
	// equal without reading either store. It must be cheap: the node
	// keeps it in memory, updated as ops are stored.
	Digest(group crdt.ID) (protocol.Digest, error)
	// OpsAfter calls fn with the encoded ops of author with seq > after,
	// in ascending seq order, and stops at fn's first error, which it
	// returns. raw is only valid during the call. fn may block (it
	// writes to the network): OpsAfter must not hold, while fn runs, a
	// lock that Ingest needs.
	OpsAfter(group crdt.ID, author crdt.PublicKey, after uint64, fn func(raw []byte) error) error
	// Evidence calls fn with each op held outside the log as evidence of
	// a fork (a second op at an author's seq), so that every replica
	// learns of every fork. The same rules as OpsAfter apply.
	Evidence(group crdt.ID, fn func(raw []byte) error) error
	// Ingest validates (protocol.DecodeOp and the crdt checks) and stores
	// ops durably as one batch, and returns how many were new. The error
	// wraps ErrRejected if any op was invalid (the peer sent junk); then
	// nothing is stored. Ops that cannot be judged yet (unknown author,
	// future clock) are skipped silently. Ingest may keep the slices it
	// stores: the caller never modifies them afterwards.
	Ingest(ctx context.Context, raws [][]byte) (newOps int, err error)
	// IngestOne is the gossip path: one op. The verdict is Accept only if
	// the op is valid AND new AND stored; Reject's error wraps
	// ErrRejected.
	IngestOne(ctx context.Context, raw []byte) (crdt.Verdict, error)
}

// Limit is what a node offers a peer that may not read a group.
type Limit struct {
	// Own, when set, is this node's key: it is a newcomer whose join does
	// not count yet, and it offers its own ops (its join first) and
	// nothing else, to any peer: whichever member it meets may admit it.
	Own *crdt.PublicKey
	// Notices are ops the peer may receive all the same: the changes of
	// its own role, its removal above all, so that a removed member's
	// node learns it and takes its own later ops off its board.
	Notices [][]byte
	// Follow is set when this node follows the group (replicates it
	// read-only) and the peer, which may follow it too (MayFollow),
	// is one it expects to hold the group: a peer its follow code named,
	// or one that offered it the group. The node offers it its whole
	// vector and serves it like a member: a follower offers a followed
	// group to no one else, so that it tells strangers nothing.
	Follow bool
	// Ask is set when this node follows the group and the peer is one it
	// expects to hold the group, but not one it knows may follow it: a
	// member whose join has not reached this node looks like any other
	// peer to it. The node offers the group with an empty vector (it
	// tells the peer nothing), so that a peer that may serve it sends it
	// the whole group, the members' joins with it; and it sends nothing.
	// Without it, a follower that holds the group's allies-only
	// Federation op but not the joins of the members it meets would
	// never offer them the group again, and they never offer a group to
	// a follower: it would get nothing more.
	Ask bool
}

// offers reports whether l offers anything.
func (l Limit) offers() bool { return l.Own != nil || len(l.Notices) > 0 || l.Follow || l.Ask }

// whole reports whether l offers the whole log (or nothing).
func (l Limit) whole() bool { return l.Follow || !l.offers() }

// ErrRejected is wrapped by every error that a peer's misbehaviour
// causes: an invalid op, a malformed frame, a message out of order. The
// caller disconnects (and may penalise) the peer.
var ErrRejected = errors.New("catchup: peer sent an invalid op")

// Stats counts one session's traffic. Bytes are counted on the stream,
// framing included; ops are counted in Ops frames.
type Stats struct {
	OpsSent, OpsReceived, NewOps int
	BytesSent, BytesReceived     int64
	// Settled counts the groups both sides found equal by their digests
	// in the session: nothing of them was read from the store or sent.
	Settled int
	// Rounds counts the session's rounds.
	Rounds int
	// Synced lists, sorted, the groups the peer offered in the session,
	// and those found equal by their digests.
	// When Run returns nil, this node holds every op of them that the
	// peer held when it offered them (ops that could not be judged yet
	// aside): a node restored from an old copy of its data dir has its
	// own later ops back, as far as that peer knows them.
	Synced []crdt.ID
	// Followers lists, sorted, the groups this node served the peer as a
	// follower: it offered them, is not a member, and may follow them.
	// The node pushes new ops of those groups to it (it cannot derive
	// their gossip topics).
	Followers []crdt.ID
	// Refused holds, by group, the reason the peer gave for refusing to
	// serve a group this node offered it (a Refused message).
	Refused map[crdt.ID]string
	// Answered lists, sorted, the groups this node offered that the peer
	// answered with a Have or a Want (not refused).
	Answered []crdt.ID
	// Fresh lists, sorted, the groups of the batches that brought new
	// ops in the session (set on error too: what was stored stays): the
	// groups a spread passes on (Shares).
	Fresh []crdt.ID
}
