package replica_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/node/store"
	"github.com/mutual-aid/mutual/protocol"
)

// tapConn records what it reads.
type tapConn struct {
	net.Conn
	mu  sync.Mutex
	got bytes.Buffer
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.got.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

// followSession runs a session between a follower f (initiator) and n,
// and returns every byte f received and f's stats.
func followSession(t *testing.T, f, n *node) ([]byte, catchup.Stats) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ca, cb := net.Pipe()
	defer ca.Close()
	defer cb.Close()
	tap := &tapConn{Conn: ca}
	errc := make(chan error, 1)
	go func() {
		_, err := catchup.Run(ctx, cb, n.r.Sync(), f.r.Self(), false)
		errc <- err
	}()
	st, err := catchup.Run(ctx, tap, f.r.Sync(), n.r.Self(), true)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	tap.mu.Lock()
	defer tap.mu.Unlock()
	return bytes.Clone(tap.got.Bytes()), st
}

// TestFollowerOverBadger: a follower's node (Badger) follows a group by
// its ID and a member's key, as a follow code gives them; it gets the
// board with the blobs sealed (never a contact in clear on the wire or
// on its disk), cannot write, drops the blobs when the post is erased,
// and forgets everything when it unfollows.
func TestFollowerOverBadger(t *testing.T) {
	ctx := context.Background()
	a, f := newNode(t), newNode(t)
	g := newGroup(t, a, "Eastgate")
	p := post(t, a, g, withContact("crib", "follow-canary-0404", "9 Canary Row"))
	if err := f.r.Follow(ctx, g, "Eastgate", nil, []crdt.PublicKey{a.r.Self()}); err != nil {
		t.Fatal(err)
	}
	wire, st := followSession(t, f, a)
	if st.NewOps == 0 {
		t.Fatalf("the follower got nothing: %+v", st)
	}
	got, err := f.r.Post(p.ID)
	if err != nil || got.Title.V != "crib" || got.Contact.V != "" || got.Location.V != "" {
		t.Fatalf("the follower shows %+v, %v", got, err)
	}
	if !f.st.HasBlob(p.ID) {
		t.Fatal("the follower does not keep the sealed blob it forwards")
	}
	for _, s := range []string{"follow-canary-0404", "9 Canary Row"} {
		if bytes.Contains(wire, []byte(s)) {
			t.Fatalf("%q in clear in the bytes sent to the follower", s)
		}
		if files := filesHolding(t, f.dir, []byte(s)); len(files) > 0 {
			t.Fatalf("%q in clear in the follower's %v", s, files)
		}
	}
	if !bytes.Contains(wire, []byte("crib")) {
		t.Fatal("the title is not on the wire either: the test looks in the wrong place")
	}

	// It cannot write.
	_, _, err = f.r.CreatePost(ctx, g, replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: "mine"}})
	var fe *replica.FollowerError
	if !errors.As(err, &fe) || !errors.Is(err, replica.ErrFollower) || err.Error() != "you follow Eastgate read-only; join it with an invite to post" {
		t.Fatalf("a follower's post: %v", err)
	}
	if err := f.r.SetFederation(ctx, g, crdt.Federation{Policy: crdt.FollowAllies}); !errors.Is(err, replica.ErrFollower) {
		t.Fatalf("a follower's federation op: %v", err)
	}

	// An erase reaches the follower, whose node drops the blob too.
	blob, _, _ := f.st.Blob(p.ID)
	if _, err := a.r.Erase(ctx, g, p.ID); err != nil {
		t.Fatal(err)
	}
	followSession(t, f, a)
	if f.st.HasBlob(p.ID) {
		t.Fatal("the follower keeps the blob of an erased post")
	}
	if files := filesHolding(t, f.dir, blob[20:]); len(files) > 0 {
		t.Fatalf("the erased blob is still in %v", files)
	}

	// A member cannot unfollow; a follower can, and keeps nothing.
	if err := a.r.Unfollow(ctx, g); !errors.Is(err, replica.ErrMemberUnfollow) {
		t.Fatalf("a member's unfollow: %v", err)
	}
	if err := f.r.Unfollow(ctx, g); err != nil {
		t.Fatal(err)
	}
	if _, err := f.r.Group(g); !errors.Is(err, replica.ErrNoGroup) {
		t.Fatalf("after unfollow: %v", err)
	}
	if _, err := f.r.Post(p.ID); !errors.Is(err, replica.ErrNoPost) {
		t.Fatalf("after unfollow the post is there: %v", err)
	}
	f.close()
	f2 := open(t, f.dir, f.key, replica.Config{})
	defer f2.close()
	if len(f2.r.Groups()) != 0 {
		t.Fatalf("after unfollow and a restart: %+v", f2.r.Groups())
	}
	if files := filesHolding(t, f.dir, []byte("crib")); len(files) > 0 {
		t.Logf("note: the title is still in %v (Badger keeps deleted values until compaction)", files)
	}
}

// TestFollowersOpsDoNotCount: ops signed by a follower's key — it holds
// no join — are never stored by a member's node, whether they come by
// catch-up (the follower streams them) or one by one.
func TestFollowersOpsDoNotCount(t *testing.T) {
	ctx := context.Background()
	a, f := newNode(t), newNode(t)
	g := newGroup(t, a, "Eastgate")
	post(t, a, g, withContact("crib", "", ""))
	if err := f.r.Follow(ctx, g, "", nil, []crdt.PublicKey{a.r.Self()}); err != nil {
		t.Fatal(err)
	}
	followSession(t, f, a)
	before := stateHash(t, a, g)
	// A PostCreate crafted with the follower's key, as its own seq 2 (or 1).
	for _, seq := range []uint64{1, 2} {
		op := crdt.Op{Group: g, Seq: seq, Time: crdt.HLC{Wall: time.Now().UnixMilli()}, Body: crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: "forged by a follower"}}}
		if seq > 1 {
			op.Prev = crdt.ID{1}
		}
		raw, err := protocol.SignOp(&op, f.key)
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := a.r.Sync().IngestOne(ctx, raw); v == crdt.Accept {
			t.Fatalf("seq %d: a follower's post accepted", seq)
		}
	}
	followSession(t, f, a)
	if stateHash(t, a, g) != before {
		t.Fatal("a follower's op changed the member's board")
	}
	ps, err := a.r.Posts(replica.Filter{Group: g})
	if err != nil || len(ps) != 1 {
		t.Fatalf("the member's board: %d posts, %v", len(ps), err)
	}
}

// TestFollowerJoins: a follower's node that joins with an invite becomes
// a member's node: its record changes with the join, its join counts
// once a member witnesses it, and then it may post and read contacts.
func TestFollowerJoins(t *testing.T) {
	ctx := context.Background()
	a, f := newNode(t), newNode(t)
	g := newGroup(t, a, "Eastgate")
	p := post(t, a, g, withContact("crib", "join-canary-0505", ""))
	if err := f.r.Follow(ctx, g, "", nil, []crdt.PublicKey{a.r.Self()}); err != nil {
		t.Fatal(err)
	}
	followSession(t, f, a)
	code, _, err := a.r.Invite(ctx, g, replica.InviteOptions{Role: crdt.RoleMember, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.r.Join(ctx, code); err != nil {
		t.Fatal(err)
	}
	syncPair(t, a, f) // a witnesses the join and shares the keys
	syncPair(t, a, f)
	gi, err := f.r.Group(g)
	if err != nil || gi.Role != crdt.RoleMember {
		t.Fatalf("after joining: %+v, %v", gi, err)
	}
	got, err := f.r.Post(p.ID)
	if err != nil || got.Contact.V != "join-canary-0505" {
		t.Fatalf("a follower that joined reads %+v, %v", got, err)
	}
	post(t, f, g, withContact("soup", "", ""))
}

// TestFollowerAsksUnknownMember: a follower's node (Badger) that holds
// an allies-only group's Federation op and the founder's ops, but not
// the join of the member its follow code named, cannot tell that member
// from a peer that may not follow: it offers the group all the same,
// with an empty vector (catchup.Limit.Ask), and the member, which knows
// the follower as a member of an ally, serves it the whole group. Before,
// it offered the member nothing, and members offer a group to no
// follower: it never got another op.
func TestFollowerAsksUnknownMember(t *testing.T) {
	ctx := context.Background()
	a, b, x := newNode(t), newNode(t), newNode(t)
	g := newGroup(t, a, "Eastgate")
	code, _, err := a.r.Invite(ctx, g, replica.InviteOptions{Role: crdt.RoleMember, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.r.Join(ctx, code); err != nil {
		t.Fatal(err)
	}
	syncPair(t, a, b)
	syncPair(t, a, b)
	harbour := newGroup(t, x, "Harbour") // x is its founder, so its member
	if err := a.r.SetFederation(ctx, g, crdt.Federation{Policy: crdt.FollowAllies, Allies: []crdt.ID{harbour}}); err != nil {
		t.Fatal(err)
	}
	post(t, b, g, withContact("crib", "", ""))
	// The group's nodes follow their ally, to know its members.
	for _, n := range []*node{a, b} {
		if err := n.r.Follow(ctx, harbour, "", nil, []crdt.PublicKey{x.r.Self()}); err != nil {
			t.Fatal(err)
		}
		syncPair(t, n, x)
	}
	syncPair(t, a, b)

	// x follows Eastgate by b's code, and holds a's ops only (the
	// genesis, the admit, the Federation op), not b's join.
	if err := x.r.Follow(ctx, g, "", nil, []crdt.PublicKey{b.r.Self()}); err != nil {
		t.Fatal(err)
	}
	var raws [][]byte
	if err := a.r.Sync().OpsAfter(g, a.r.Self(), 0, func(raw []byte) error {
		raws = append(raws, bytes.Clone(raw))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := x.r.Sync().Ingest(ctx, raws); err != nil {
		t.Fatal(err)
	}
	if l, err := x.r.Sync().Limited(g, b.r.Self()); err != nil || !l.Ask || l.Follow {
		t.Fatalf("the follower's limit for the member it does not know: %+v, %v", l, err)
	}
	followSession(t, x, b)
	if stateHash(t, x, g) != stateHash(t, b, g) {
		t.Fatal("the follower did not get the group from the member it could not judge")
	}
}

// TestUnfollowCutShortIsFinished: an unfollow that a crash cut short —
// the record marked Forgetting, the ops and posts still there — is
// finished by the next open: the group and its posts are gone, not half
// there (ghost posts with no ops behind them).
func TestUnfollowCutShortIsFinished(t *testing.T) {
	ctx := context.Background()
	a, f := newNode(t), newNode(t)
	g := newGroup(t, a, "Eastgate")
	p := post(t, a, g, withContact("crib", "", ""))
	if err := f.r.Follow(ctx, g, "Eastgate", nil, []crdt.PublicKey{a.r.Self()}); err != nil {
		t.Fatal(err)
	}
	followSession(t, f, a)
	if _, err := f.r.Post(p.ID); err != nil {
		t.Fatal(err)
	}
	// The first step of ForgetGroup, then the crash.
	recs, err := f.st.Groups()
	if err != nil || len(recs) != 1 {
		t.Fatalf("%+v %v", recs, err)
	}
	recs[0].Relation = store.Forgetting
	var b store.Batch
	b.PutGroup(recs[0])
	if err := f.st.Commit(&b); err != nil {
		t.Fatal(err)
	}
	f.close()
	f2 := open(t, f.dir, f.key, replica.Config{})
	defer f2.close()
	if len(f2.r.Groups()) != 0 {
		t.Fatalf("the group is back after the restart: %+v", f2.r.Groups())
	}
	if _, err := f2.r.Post(p.ID); !errors.Is(err, replica.ErrNoPost) {
		t.Fatalf("the post is still there: %v", err)
	}
	if recs, _ := f2.st.Groups(); len(recs) != 0 {
		t.Fatalf("records left: %+v", recs)
	}
}
