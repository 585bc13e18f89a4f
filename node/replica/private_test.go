package replica_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/protocol"
)

// filesHolding returns the files under dir whose bytes contain needle.
func filesHolding(t *testing.T, dir string, needle []byte) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, needle) {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// members makes a group founded by a with the others joined, admitted
// and holding its keys, through catch-up sessions.
func members(t *testing.T, a *node, others ...*node) crdt.ID {
	t.Helper()
	g := newGroup(t, a, "Eastgate")
	for _, n := range others {
		code, _, err := a.r.Invite(context.Background(), g, replica.InviteOptions{Role: crdt.RoleMember, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.r.Join(context.Background(), code); err != nil {
			t.Fatal(err)
		}
		syncPair(t, a, n) // a witnesses the join and shares the keys; n gets them
		syncPair(t, a, n)
	}
	return g
}

func withContact(title, contact, location string) replica.PostInput {
	return replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: title, Contact: contact, Location: location}}
}

// The canary: a contact and an address posted by a member are in clear
// only in members' API answers — never in a file of any data dir, a
// bundle, or anything a non-member's node holds or shows.
func TestPrivateFieldsAreSealedEverywhereButTheMembersAPI(t *testing.T) {
	const contact, location = "canary-555-0199", "12 Canary Row"
	a, b := newNode(t), newNode(t)
	g := members(t, a, b)
	p := post(t, a, g, withContact("nappies", contact, location))
	if p.Contact.V != contact || p.Location.V != location {
		t.Fatalf("the author's node answers %q, %q", p.Contact.V, p.Location.V)
	}
	syncPair(t, a, b)
	got, err := b.r.Post(p.ID)
	if err != nil || got.Contact.V != contact || got.Location.V != location {
		t.Fatalf("a member's node answers %+v, %v", got, err)
	}

	var bundle bytes.Buffer
	if _, err := a.r.Export(&bundle, nil); err != nil {
		t.Fatal(err)
	}
	stranger := newNode(t)
	if _, err := stranger.r.Import(context.Background(), bytes.NewReader(bundle.Bytes())); err != nil {
		t.Fatal(err)
	}
	seen, err := stranger.r.Post(p.ID)
	if err != nil || seen.Contact.V != "" || seen.Location.V != "" || seen.Title.V != "nappies" {
		t.Fatalf("a non-member's node shows %+v, %v", seen, err)
	}
	// A follower's node keeps the blob sealed, so that it can forward the
	// members' whole ops (store and forward); it cannot open it.
	if !stranger.st.HasBlob(p.ID) {
		t.Error("a follower's node does not keep the sealed blob it forwards")
	}
	for _, s := range []string{contact, location} {
		if bytes.Contains(bundle.Bytes(), []byte(s)) {
			t.Errorf("the bundle holds %q in clear", s)
		}
		for _, n := range []*node{a, b, stranger} {
			if f := filesHolding(t, n.dir, []byte(s)); len(f) > 0 {
				t.Errorf("%q in clear in %v", s, f)
			}
		}
	}
	// And the vault does hold it, sealed: the test looks in the right place.
	if !a.st.HasBlob(p.ID) || !b.st.HasBlob(p.ID) {
		t.Fatal("the members' vaults lack the blob")
	}
}

// After B is removed, the admin's node makes a new key, shared with
// those who remain: B's node, even handed the new post's blob, cannot
// read it; C's can.
func TestRemovedMemberCannotReadWhatIsPostedAfter(t *testing.T) {
	ctx := context.Background()
	a, c := newNode(t), newNode(t)
	_, bkey, _ := ed25519.GenerateKey(nil)
	bdir := t.TempDir()
	b := open(t, bdir, bkey, replica.Config{})
	g := members(t, a, b, c)
	before := post(t, a, g, withContact("coats", "before-0101", ""))
	syncPair(t, a, b)
	if err := a.r.SetRole(ctx, g, b.r.Self(), crdt.RoleNone); err != nil {
		t.Fatal(err)
	}
	after := post(t, a, g, withContact("soup", "after-0202", ""))
	syncPair(t, a, c)
	if got, err := c.r.Post(after.ID); err != nil || got.Contact.V != "after-0202" {
		t.Fatalf("a member left in the group reads %+v, %v", got, err)
	}
	// B's node gets everything, blob included, as from a bundle that
	// reached it anyway; then it is restarted from its data dir.
	var bundle bytes.Buffer
	if _, err := a.r.Export(&bundle, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.r.Import(ctx, bytes.NewReader(bundle.Bytes())); err != nil {
		t.Fatal(err)
	}
	b.close()
	b = open(t, bdir, bkey, replica.Config{})
	defer b.close()
	if !b.st.HasBlob(after.ID) {
		t.Fatal("the removed member's node should hold the blob for this test")
	}
	got, err := b.r.Post(after.ID)
	if err != nil || got.Title.V != "soup" || got.Contact.V != "" {
		t.Fatalf("the removed member reads %+v, %v", got, err)
	}
	// What it could read before the removal, it still can: erasure, not
	// the key, is what ends that.
	if got, err := b.r.Post(before.ID); err != nil || got.Contact.V != "before-0101" {
		t.Fatalf("the removed member's node lost what it had: %+v, %v", got, err)
	}
	if f := filesHolding(t, bdir, []byte("after-0202")); len(f) > 0 {
		t.Errorf("the new contact in clear in %v", f)
	}
}

// Erase: the blob's bytes leave every file of every member's data dir,
// the post and its history stay, and the blob never comes back.
func TestEraseLeavesNoByteOfTheBlob(t *testing.T) {
	ctx := context.Background()
	a, b := newNode(t), newNode(t)
	g := members(t, a, b)
	p := post(t, a, g, withContact("crib", "erase-me-0303", "4 Elm St"))
	if _, err := a.r.EditPost(ctx, g, p.ID, crdt.FieldContact, crdt.Fields{Contact: "erase-me-too"}); err != nil {
		t.Fatal(err)
	}
	syncPair(t, a, b)
	var blobs [][]byte
	for _, id := range postOpIDs(t, a, g, p.ID) {
		if blob, ok, err := a.st.Blob(id); err != nil {
			t.Fatal(err)
		} else if ok {
			blobs = append(blobs, blob)
		}
	}
	if len(blobs) != 2 {
		t.Fatalf("%d blobs, want 2", len(blobs))
	}
	var before bytes.Buffer
	if _, err := a.r.Export(&before, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.r.Erase(ctx, g, p.ID); err == nil {
		t.Fatal("a member who is neither the author nor an admin erased the post")
	}
	if _, err := a.r.Erase(ctx, g, p.ID); err != nil {
		t.Fatal(err)
	}
	syncPair(t, a, b)
	for _, n := range []*node{a, b} {
		got, err := n.r.Post(p.ID)
		if err != nil || got.Title.V != "crib" || got.Contact.V != "" || got.Location.V != "" {
			t.Fatalf("after erasure: %+v, %v", got, err)
		}
		for i, blob := range blobs {
			if f := filesHolding(t, n.dir, blob[20:]); len(f) > 0 {
				t.Errorf("blob %d still in %v", i, f)
			}
		}
	}
	// The bundle made before: its blobs are not taken back.
	if _, err := b.r.Import(ctx, bytes.NewReader(before.Bytes())); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.r.Post(p.ID); got.Contact.V != "" {
		t.Fatal("an old bundle brought the contact back")
	}
	check(t, a, g)
	if stateHash(t, a, g) != stateHash(t, b, g) {
		t.Fatal("a and b differ")
	}
}

// Retention: a fulfilled post keeps its private fields for the group's
// retention period, by the node's clock, then every member's node
// erases them; an open post keeps them.
func TestRetentionErasesSettledPosts(t *testing.T) {
	ctx := context.Background()
	clock := &wallClock{t: time.Now()}
	_, key, _ := ed25519.GenerateKey(nil)
	a := open(t, t.TempDir(), key, replica.Config{Now: clock.Now})
	defer a.close()
	g := newGroup(t, a, "g")
	done := post(t, a, g, withContact("done", "settled-0404", ""))
	open := post(t, a, g, withContact("open", "open-0505", ""))
	if _, err := a.r.SetStatus(ctx, g, done.ID, crdt.Fulfilled); err != nil {
		t.Fatal(err)
	}
	blob, _, _ := a.st.Blob(done.ID)
	clock.set(clock.Now().Add(13 * 24 * time.Hour))
	if n, err := a.r.SweepErasure(); err != nil || n != 0 {
		t.Fatalf("after 13 days: %d erased, %v", n, err)
	}
	clock.set(clock.Now().Add(2 * 24 * time.Hour))
	if n, err := a.r.SweepErasure(); err != nil || n != 1 {
		t.Fatalf("after 15 days: %d erased, %v", n, err)
	}
	if got, _ := a.r.Post(done.ID); got.Contact.V != "" {
		t.Error("the fulfilled post kept its contact")
	}
	if got, _ := a.r.Post(open.ID); got.Contact.V != "open-0505" {
		t.Error("the open post lost its contact")
	}
	if f := filesHolding(t, a.dir, blob[20:]); len(f) > 0 {
		t.Errorf("the erased blob is still in %v", f)
	}
	// An admin sets a shorter retention: the next settled post goes
	// sooner.
	if err := a.r.SetRetention(ctx, g, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := a.r.SetStatus(ctx, g, open.ID, crdt.Withdrawn); err != nil {
		t.Fatal(err)
	}
	clock.set(clock.Now().Add(25 * time.Hour))
	if n, err := a.r.SweepErasure(); err != nil || n != 1 {
		t.Fatalf("a day after with a day's retention: %d erased, %v", n, err)
	}
}

// A newcomer gets the group's keys from whichever member admits it: the
// admin's node is away, and the newcomer reads contacts posted before.
func TestNewcomerGetsTheKeysFromAnyMember(t *testing.T) {
	ctx := context.Background()
	a, b, c := newNode(t), newNode(t), newNode(t)
	g := members(t, a, b)
	p := post(t, a, g, withContact("van", "keys-0606", ""))
	code, _, err := a.r.Invite(ctx, g, replica.InviteOptions{Role: crdt.RoleMember, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	syncPair(t, a, b) // b has the post and the invite; a goes away
	if _, err := c.r.Join(ctx, code); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.r.Topic(g); ok {
		t.Fatal("a newcomer knows the topic before any member shared a key")
	}
	syncPair(t, c, b)
	syncPair(t, c, b)
	got, err := c.r.Post(p.ID)
	if err != nil || got.Contact.V != "keys-0606" {
		t.Fatalf("the newcomer reads %+v, %v", got, err)
	}
	ta, _ := a.r.Topic(g)
	if tc, ok := c.r.Topic(g); !ok || tc != ta {
		t.Fatalf("topics %q and %q", ta, tc)
	}
}

// postOpIDs returns the IDs of the ops of a post that n holds.
func postOpIDs(t *testing.T, n *node, g, post crdt.ID) []crdt.ID {
	t.Helper()
	raws, err := n.st.PostOps(g, post)
	if err != nil {
		t.Fatal(err)
	}
	var out []crdt.ID
	for _, raw := range raws {
		out = append(out, protocol.OpID(raw))
	}
	return out
}

// recordingConn records what is written to it.
type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	out bytes.Buffer
}

func (c *recordingConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.out.Write(b)
	c.mu.Unlock()
	return c.Conn.Write(b)
}

// A newcomer offers its join only to the members its invite code names:
// a stranger it meets (mDNS at the meeting) learns nothing of the group
// it is joining, and a named member admits it.
func TestNewcomerTellsStrangersNothing(t *testing.T) {
	ctx := context.Background()
	a, b, n, stranger := newNode(t), newNode(t), newNode(t), newNode(t)
	g := members(t, a, b)
	code, c, err := a.r.Invite(ctx, g, replica.InviteOptions{Role: crdt.RoleMember, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(c.Members, b.r.Self()) || c.Members[0] != a.r.Self() {
		t.Fatalf("the code names %d members, not the issuer first and b", len(c.Members))
	}
	if _, err := n.r.Join(ctx, code); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p1, p2 := net.Pipe()
	rec := &recordingConn{Conn: p1}
	errc := make(chan error, 1)
	go func() {
		_, err := catchup.Run(sctx, rec, n.r.Sync(), stranger.r.Self(), true)
		p1.Close()
		errc <- err
	}()
	catchup.Run(sctx, p2, stranger.r.Sync(), n.r.Self(), false)
	p2.Close()
	<-errc
	if bytes.Contains(rec.out.Bytes(), g[:]) {
		t.Fatal("the newcomer sent the group's ID to a stranger")
	}
	if rec.out.Len() == 0 {
		t.Fatal("the session sent nothing at all: the test saw no session")
	}
	syncPair(t, n, b)
	syncPair(t, n, b)
	if !b.r.IsMember(g, n.r.Self()) {
		t.Fatal("a member the code named did not admit the newcomer")
	}
}
