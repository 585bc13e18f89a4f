package replica_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

// TestAlliesListEachOtherOverBadger: Riverside and Harbour accept
// followers from their allies only and list each other, and each one's
// node follows the other (with a code naming the other's node). Over
// Badger, X's node introduces Harbour (its membership ops, nothing else)
// to Riverside's node, which refused it Riverside; then each serves the
// other its board, within a few sessions. Hillside's node, which follows
// Harbour but is no ally and holds nothing of Riverside, receives
// nothing of Harbour: no op, no member's key.
func TestAlliesListEachOtherOverBadger(t *testing.T) {
	ctx := context.Background()
	g, x, z := newNode(t), newNode(t), newNode(t)
	riverside := newGroup(t, g, "Riverside")
	harbour := newGroup(t, x, "Harbour")
	hillside := newGroup(t, z, "Hillside")
	for _, s := range []struct {
		n     *node
		group crdt.ID
		ally  crdt.ID
	}{{g, riverside, harbour}, {x, harbour, riverside}, {z, hillside, harbour}} {
		if err := s.n.r.SetFederation(ctx, s.group, crdt.Federation{Policy: crdt.FollowAllies, Allies: []crdt.ID{s.ally}}); err != nil {
			t.Fatal(err)
		}
	}
	post(t, g, riverside, withContact("winter coats", "", ""))
	post(t, x, harbour, withContact("a crib", "", ""))
	post(t, x, harbour, withContact("soup pots", "", ""))
	for _, f := range []struct {
		n, via *node
		group  crdt.ID
	}{{g, x, harbour}, {x, g, riverside}, {z, x, harbour}} {
		if err := f.n.r.Follow(ctx, f.group, "", nil, []crdt.PublicKey{f.via.r.Self()}); err != nil {
			t.Fatal(err)
		}
	}

	got, st := followSession(t, z, x)
	if st.Refused[harbour] == "" {
		t.Fatalf("Hillside's node was not refused Harbour: %+v", st)
	}
	for i := 1; stateHash(t, g, harbour) != stateHash(t, x, harbour) || stateHash(t, x, riverside) != stateHash(t, g, riverside); i++ {
		if i > 3 {
			t.Fatalf("Riverside's and Harbour's nodes still refuse each other after %d sessions", i-1)
		}
		followSession(t, g, x)
		t.Logf("session %d", i)
	}
	check(t, g, harbour)
	check(t, x, riverside)

	got2, st := followSession(t, z, x)
	got = append(got, got2...)
	xKey, gKey := x.r.Self(), g.r.Self()
	if st.OpsReceived != 0 || bytes.Contains(got, xKey[:]) || bytes.Contains(got, gKey[:]) {
		t.Fatalf("Hillside's node received something of Harbour: %+v", st)
	}
	if v, err := z.r.Sync().VersionVector(harbour); err != nil || len(v) != 0 {
		t.Fatalf("Hillside's node holds Harbour ops: %v %v", v, err)
	}
}

// TestStrangerClaimingAnAllyOverBadger: a stranger's node that knows
// both IDs follows Harbour and Riverside, naming Harbour's node as
// Riverside's source, so that it names Riverside to it in every offer.
// Harbour's node introduces Harbour only to Riverside's members (as the
// code it followed Riverside with named them, then by its copy of
// Riverside's members), so the stranger receives nothing of Harbour,
// before or after Harbour's node knows Riverside's members.
func TestStrangerClaimingAnAllyOverBadger(t *testing.T) {
	ctx := context.Background()
	g, x, s := newNode(t), newNode(t), newNode(t)
	riverside := newGroup(t, g, "Riverside")
	harbour := newGroup(t, x, "Harbour")
	for _, a := range []struct {
		n           *node
		group, ally crdt.ID
	}{{g, riverside, harbour}, {x, harbour, riverside}} {
		if err := a.n.r.SetFederation(ctx, a.group, crdt.Federation{Policy: crdt.FollowAllies, Allies: []crdt.ID{a.ally}}); err != nil {
			t.Fatal(err)
		}
	}
	post(t, x, harbour, withContact("a crib", "", ""))
	for _, f := range []struct {
		n, via *node
		group  crdt.ID
	}{{g, x, harbour}, {x, g, riverside}, {s, x, harbour}, {s, x, riverside}} {
		if err := f.n.r.Follow(ctx, f.group, "", nil, []crdt.PublicKey{f.via.r.Self()}); err != nil {
			t.Fatal(err)
		}
	}
	stranger := func(when string) {
		t.Helper()
		for range 2 {
			got, st := followSession(t, s, x)
			xKey := x.r.Self()
			if st.OpsReceived != 0 || bytes.Contains(got, xKey[:]) {
				t.Fatalf("%s: the stranger's node received something of Harbour: %+v", when, st)
			}
		}
	}
	stranger("before Harbour's node knows Riverside's members")
	for i := 1; stateHash(t, g, harbour) != stateHash(t, x, harbour); i++ {
		if i > 3 {
			t.Fatalf("Riverside's and Harbour's nodes still refuse each other after %d sessions", i-1)
		}
		followSession(t, g, x)
	}
	stranger("after Harbour's node knows Riverside's members")
	if v, err := s.r.Sync().VersionVector(harbour); err != nil || len(v) != 0 {
		t.Fatalf("the stranger's node holds Harbour ops: %v %v", v, err)
	}
}
