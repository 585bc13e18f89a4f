package store

import (
	"github.com/vmihailenco/msgpack/v5"

	"github.com/mutual-aid/mutual/crdt"
)

// Relation is how this node relates to a group.
type Relation uint8

// Relations.
const (
	Member   Relation = 1 // this node is (or is joining as) a member
	Follower Relation = 2 // this node replicates the board read-only
	// Forgetting marks a group being forgotten (unfollowed): ForgetGroup
	// writes it before it deletes anything, so that a crash half-way
	// leaves a group that the next open finishes forgetting, never one
	// that is half there.
	Forgetting Relation = 3
)

// GroupRecord is what the store remembers about a group besides its ops.
type GroupRecord struct {
	ID       crdt.ID
	Name     string
	Relation Relation
	// Addrs are where to reach the group: the inviter's addresses (an
	// invite code's), or a follow code's nodes that hold the group and its
	// bootstrap peers. Each start of the node dials them and joins the DHT
	// through them.
	Addrs []string
	// Vouched are the members named by the invite code (and its issuer):
	// the peers to which this node, a newcomer, offers its join.
	Vouched []crdt.PublicKey
}

type groupWire struct {
	_msgpack struct{} `msgpack:",as_array"`
	ID       []byte
	Name     string
	Relation uint8
	Addrs    []string
	Vouched  [][]byte
}

func encodeGroup(g *GroupRecord) []byte {
	w := groupWire{ID: g.ID[:], Name: g.Name, Relation: uint8(g.Relation), Addrs: g.Addrs}
	for _, k := range g.Vouched {
		w.Vouched = append(w.Vouched, k[:])
	}
	b, _ := msgpack.Marshal(&w)
	return b
}

func decodeGroup(b []byte) (GroupRecord, error) {
	var w groupWire
	var g GroupRecord
	if err := msgpack.Unmarshal(b, &w); err != nil {
		return g, err
	}
	copy(g.ID[:], w.ID)
	g.Name, g.Relation, g.Addrs = w.Name, Relation(w.Relation), w.Addrs
	for _, k := range w.Vouched {
		var pk crdt.PublicKey
		copy(pk[:], k)
		g.Vouched = append(g.Vouched, pk)
	}
	return g, nil
}
