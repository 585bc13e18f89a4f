package p2p

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
	"github.com/mutual-aid/mutual/protocol"
)

// TestHostsSyncManyGroups: two real hosts on loopback sharing 300
// groups, more than one round of catch-up offers (a page of 256): A's
// post in every group reaches B by catch-up, the groups past the first
// 256 by ID included (pages within a session, and digests across
// sessions, each do it; with neither, as before, the test times out).
func TestHostsSyncManyGroups(t *testing.T) {
	const n = 300
	a, b := newMember(t), newMember(t)
	ra := catchup.NewMemoryReplica(a.pub, nowMillis)
	rb := catchup.NewMemoryReplica(b.pub, nowMillis)
	var groups []crdt.ID
	var posts [][]byte
	for i := range n {
		// The same keys, each group with its own seqs.
		ag, bg := &member{key: a.key, pub: a.pub}, &member{key: b.key, pub: b.pub}
		gen, graw := ag.sign(t, crdt.ID{}, crdt.Genesis{Name: fmt.Sprint("group ", i), AuthorName: "a"})
		inv, secret, err := protocol.NewInvite(crdt.Invite{Group: gen.ID, Role: crdt.RoleMember, Expires: nowMillis() + time.Hour.Milliseconds()}, a.key)
		if err != nil {
			t.Fatal(err)
		}
		join, jraw := bg.sign(t, gen.ID, crdt.Join{Invite: inv, Name: "b", Proof: protocol.ProveJoin(&inv, secret, b.pub)})
		_, admit := ag.sign(t, gen.ID, crdt.Admit{Join: join.ID})
		for _, r := range []*catchup.MemoryReplica{ra, rb} {
			r.AddGroup(gen.ID)
			if _, err := r.Ingest(context.Background(), [][]byte{graw, jraw, admit}); err != nil {
				t.Fatal(err)
			}
		}
		post := ag.post(t, gen.ID, fmt.Sprint("coats ", i))
		if _, err := ra.Ingest(context.Background(), [][]byte{post}); err != nil {
			t.Fatal(err)
		}
		groups, posts = append(groups, gen.ID), append(posts, post)
	}
	ha := start(t, loopbackConfig(t, a), ra)
	hb := start(t, loopbackConfig(t, b), rb)
	connect(t, hb, ha)
	waitFor(t, 60*time.Second, "B to hold A's post in every group", func() bool {
		for _, g := range groups {
			if rb.Len(g) != 4 {
				return false
			}
		}
		return true
	})
	for i, g := range groups {
		if rb.Hash(g) != ra.Hash(g) {
			t.Fatalf("group %d of %d: the boards differ", i, n)
		}
	}
}
