package replica

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/store"
)

// TestChangeIsWrittenWhollyOrNotAtAll: when an op of a change of several
// fails after the first went into the batch, nothing of the change is
// stored, and the other requests of the batch are written as if it had
// never been there.
func TestChangeIsWrittenWhollyOrNotAtAll(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(t.TempDir(), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	r, err := Open(st, Config{Key: key, Name: "n"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	defer r.Close()
	g, err := r.CreateGroup(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}

	errSecond := errors.New("the second op failed")
	create := func(ref string) func(*groupState) (crdt.Body, error) {
		return func(*groupState) (crdt.Body, error) {
			return crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: ref}, Ref: ref}, nil
		}
	}
	torn := &request{kind: reqLocal, reply: make(chan struct{}), local: &localOp{group: g, ref: "csv:torn", build: create("csv:torn"),
		next: func(*groupState, []crdt.Op) (crdt.Body, error) { return nil, errSecond }}}
	after := &request{kind: reqLocal, reply: make(chan struct{}), local: &localOp{group: g, ref: "csv:after", build: create("csv:after")}}
	// One batch, as the writer would make of two requests that came at
	// once. The writer is idle: nothing else submits.
	r.process([]*request{torn, after})
	<-torn.reply
	<-after.reply

	if !errors.Is(torn.err, errSecond) {
		t.Errorf("torn change: %v", torn.err)
	}
	if _, ok, err := st.Ref(g, "csv:torn"); ok || err != nil {
		t.Errorf("the torn change's post is stored (%v)", err)
	}
	if after.err != nil || len(after.local.ops) != 1 || after.local.ops[0].Seq != 3 {
		t.Fatalf("the request after it: %v %v", after.err, after.local.ops)
	}
	if _, ok, _ := st.Ref(g, "csv:after"); !ok {
		t.Error("the request after it is not stored")
	}
	posts, err := r.Posts(Filter{Group: g})
	if err != nil || len(posts) != 1 || posts[0].Ref != "csv:after" {
		t.Errorf("posts: %v %v", posts, err)
	}
	// The log goes on from the ops stored, and the board is what its
	// ops make it.
	if _, _, err := r.CreatePost(ctx, g, PostInput{Kind: crdt.Offer, Fields: crdt.Fields{Title: "van"}}); err != nil {
		t.Fatal(err)
	}
	if stored, recomputed, err := r.Check(g); err != nil || stored != recomputed {
		t.Errorf("check: %v %v %v", stored, recomputed, err)
	}
}
