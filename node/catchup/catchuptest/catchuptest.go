// Package catchuptest is the conformance suite of catchup.Replica: every
// implementation of the interface — catchup.MemoryReplica, the
// in-memory twin, and the node's replica over Badger — must pass Run,
// and replicas of any two kinds must converge under catchup.Run
// (RunSync).
//
// The suite feeds each replica real signed ops (protocol.SignOp, invites
// with their one-time secrets and join proofs) and checks what the
// Replica doc comments promise, under the membership rules of package
// crdt: what a replica stores (crdt.Storable: every op of an author whose
// first op it holds, whether the op counts or not; nothing of unknown
// authors), version vectors, OpsAfter, Evidence, Ingest and IngestOne,
// OpIDAt (catchup.OpIDs),
// MayRead (members; and a newcomer offers its group to any peer), Groups,
// and a newcomer that holds only its own join. State hashes are compared
// with crdt.Board, the reference model, fed the same ops.
//
// Joins count once a member witnesses them (crdt.Admit). A member's node
// witnesses the joins it sees; the replicas here are run by keys that
// are not members (a newcomer's excepted), so none witnesses anything by
// itself and the suite's authors sign the Admits: both kinds of replica
// then hold the same ops. Sessions present the members' keys as the
// peers' identities, which is all MayRead looks at.
//
// An implementation plugs in with a Factory. Its replicas' clocks must
// read Now.
package catchuptest

import (
	"crypto/ed25519"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
	"github.com/mutual-aid/mutual/protocol"
)

// A Factory opens replicas of one implementation, each new and
// independent, closed when the test ends (t.Cleanup).
type Factory struct {
	// Follow returns a replica for the node whose key is self that
	// replicates the groups of the given genesis ops and holds those ops,
	// as received from a peer (as after following a group). The suite
	// passes keys that are not members of the groups.
	Follow func(t *testing.T, self ed25519.PrivateKey, genesis ...[]byte) Node
	// Newcomer returns a replica for the node whose key is self that has
	// joined code.Invite.Group offline: it signed its own join op (seq 1,
	// with the invite and the proof of its secret) and holds nothing
	// else, not even the genesis.
	Newcomer func(t *testing.T, self ed25519.PrivateKey, code *protocol.InviteCode) Node
}

// A Node is one replica under test.
type Node struct {
	catchup.Replica
	// StateHash returns the hash of a group's board, as crdt.Board.Hash
	// computes it: replicas that admitted the same ops agree.
	StateHash func(group crdt.ID) (crdt.ID, error)
}

// Run runs the conformance suite against the implementation f opens,
// each check in a subtest, then RunSync between two replicas of f.
func Run(t *testing.T, f Factory) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, Factory)
	}{
		{"Groups", testGroups},
		{"VersionVector/Contiguous", testVectorContiguous},
		{"VersionVector/OpsThatDoNotCount", testVectorNotCounting},
		{"Digest", testDigest},
		{"OpsAfter", testOpsAfter},
		{"OpsAfter/StopsAtError", testOpsAfterStops},
		{"OpsAfter/IngestWhileFnRuns", testOpsAfterUnlocked},
		{"Ingest/CountsNew", testIngestCounts},
		{"Ingest/ForgedOpNotStored", testIngestForged},
		{"Ingest/RejectStoresNothing", testIngestRejectAtomic},
		{"Ingest/Malformed", testIngestMalformed},
		{"Ingest/InvalidOp", testIngestInvalid},
		{"Ingest/UnknownKindSkipped", testIngestUnknownKind},
		{"Ingest/UnknownGroupSkipped", testIngestUnknownGroup},
		{"Ingest/FutureClockSkipped", testIngestFuture},
		{"Ingest/ForkKeptAsEvidence", testIngestFork},
		{"UnknownAuthor", testUnknownAuthor},
		{"UnknownAuthor/JoinInSameBatch", testUnknownAuthorSameBatch},
		{"UnknownAuthor/IngestOne", testUnknownAuthorOne},
		{"UnknownAuthor/OwnKeyFromPeer", testUnknownAuthorOwnKey},
		{"Newcomer", testNewcomer},
		{"MayRead", testMayRead},
		{"IngestOne", testIngestOne},
		{"IngestOne/Rejects", testIngestOneRejects},
		{"OpIDs", testOpIDs},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, f) })
	}
	t.Run("Sync", func(t *testing.T) { RunSync(t, f, f) })
}
