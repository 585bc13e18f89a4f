package catchuptest

import (
	"crypto/ed25519"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
	"github.com/mutual-aid/mutual/protocol"
)

// Memory returns the Factory of catchup.MemoryReplica, the in-memory
// twin. Package node/replica runs the suite with it next to its own, to
// sync the two kinds with each other.
func Memory() Factory {
	newReplica := func(self ed25519.PrivateKey) *catchup.MemoryReplica {
		var pub crdt.PublicKey
		copy(pub[:], self.Public().(ed25519.PublicKey))
		return catchup.NewMemoryReplica(pub, func() int64 { return Now })
	}
	return Factory{
		Follow: func(t *testing.T, self ed25519.PrivateKey, genesis ...[]byte) Node {
			r := newReplica(self)
			for _, raw := range genesis {
				r.AddGroup(protocol.OpID(raw))
				if err := r.Add(raw); err != nil {
					t.Fatalf("memory replica: add genesis: %v", err)
				}
			}
			return MemoryNode(r)
		},
		Newcomer: func(t *testing.T, self ed25519.PrivateKey, code *protocol.InviteCode) Node {
			r := newReplica(self)
			in := code.Invite
			r.AddGroup(in.Group)
			var pub crdt.PublicKey
			copy(pub[:], self.Public().(ed25519.PublicKey))
			op := crdt.Op{Group: in.Group, Seq: 1, Time: crdt.HLC{Wall: Now}, Body: crdt.Join{
				Invite: in, Name: "newcomer", Proof: protocol.ProveJoin(&in, code.Secret, pub)}}
			raw, err := protocol.SignOp(&op, self)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Add(raw); err != nil {
				t.Fatalf("memory replica: add own join: %v", err)
			}
			r.Vouch(in.Group, append([]crdt.PublicKey{in.Issuer}, code.Members...)...)
			return MemoryNode(r)
		},
	}
}

// MemoryNode returns r as a Node.
func MemoryNode(r *catchup.MemoryReplica) Node {
	return Node{Replica: r, StateHash: func(g crdt.ID) (crdt.ID, error) { return r.Hash(g), nil }}
}
