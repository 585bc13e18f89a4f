package catchup

import (
	"fmt"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// Introducer is implemented by replicas that introduce a group to the
// nodes of its allies (docs/protocol-catchup.md "Two allies-only groups
// that list each other"). Two groups G and X that accept followers from
// their allies only and list each other would otherwise refuse each
// other's nodes forever: X's node judges G's node by its copy of G's
// membership, which it cannot get, since G's node refuses it for the
// same reason.
type Introducer interface {
	// Introduction returns the encoded membership ops of group
	// (crdt.Group.Introduction: genesis, invites, joins, admits, role
	// changes, leaves, federation; never a post) to the peer remote if
	// this node is a member of group, group accepts followers from its
	// allies only, and it lists an ally that this node follows, that
	// holds reports the peer holds, and of which the peer is a member
	// as far as this node can tell (MayIntroduce). Otherwise it returns
	// nil.
	Introduction(group crdt.ID, remote crdt.PublicKey, holds func(ally crdt.ID) bool) ([][]byte, error)
}

// MayIntroduce reports whether a node may introduce one of its groups
// to a peer through ally, a group this node follows that the peer holds
// (holds: the peer named it or refused it to this node). The peer must
// be one of ally's members: by this node's copy of ally's membership
// when it has one (known: it holds ally's genesis); before it has any,
// the peer must be one that ally's follow code named (named), since
// the admins who listed ally got that code from one of its members.
// A stranger who knows both groups' IDs and claims to hold ally thus
// gets nothing, and neither does a member of one of ally's other allies.
func MayIntroduce(holds, known, member, named bool) bool {
	if !holds {
		return false
	}
	if known {
		return member
	}
	return named
}

// EncodeOps encodes ops for an Introduction.
func EncodeOps(ops []crdt.Op) ([][]byte, error) {
	out := make([][]byte, 0, len(ops))
	for i := range ops {
		raw, err := protocol.EncodeOp(&ops[i])
		if err != nil {
			return nil, err
		}
		out = append(out, raw)
	}
	return out, nil
}

// introduce runs at the end of a round (phase 4). If this node refused
// the peer a group X (the peer offered X, and may not follow it as this
// node knows) and the peer holds an ally G of X that this node follows
// (the peer refused it G, or offered G), this node offers X again in the
// next round with X's membership ops as notices, and nothing else of X:
// G accepts followers from its allies only, so whoever holds G is one of
// G's members or of its allies', and X trusts G's members with its
// whole board. The peer then knows X's members, and serves G to this
// node; and once this node holds G's members, it serves X to the peer.
// Each group is introduced once per session.
//
// It also reports whether a group refused in this round may be served
// now (ops that arrived in it taught this node the peer's membership of
// an ally): then another round follows.
func (ss *session) introduce(rs *roundState) (bool, error) {
	clear(ss.intro)
	more := false
	if rs.fresh > 0 {
		for g := range rs.refuse {
			if ss.r.MayFollow(g, ss.remote) == nil {
				more = true
			}
		}
	}
	in, ok := ss.r.(Introducer)
	if !ok || len(rs.refuse) == 0 {
		return more, nil
	}
	holds := func(ally crdt.ID) bool {
		_, refused := ss.stats.Refused[ally]
		return refused || rs.named[ally]
	}
	for g := range rs.refuse {
		if ss.introduced[g] {
			continue
		}
		ops, err := in.Introduction(g, ss.remote, holds)
		if err != nil {
			return false, fmt.Errorf("catchup: introduction of %s: %w", g.Short(), err)
		}
		if len(ops) > 0 {
			if ss.intro == nil {
				ss.intro = map[crdt.ID][][]byte{}
				ss.introduced = map[crdt.ID]bool{}
			}
			ss.intro[g] = ops
			ss.introduced[g] = true
		}
	}
	return more, nil
}
