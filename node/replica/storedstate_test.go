package replica

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/store"
	"github.com/mutual-aid/mutual/protocol"
)

// The writer skips dedup's store reads for log positions its group state
// does not mark, so a group state made for a group whose ops the store
// already holds (a follow after an unfollow that a crash cut short) must
// mark them: an op held is then a duplicate, not stored again.
func TestFollowOverHeldOpsMarksThem(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	r, err := Open(st, Config{Key: key, Name: "n", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	defer r.Close()
	_, founder, _ := ed25519.GenerateKey(nil)
	genesis := crdt.Op{Seq: 1, Time: crdt.HLC{Wall: time.Now().Add(-time.Minute).UnixMilli()}, Body: crdt.Genesis{Name: "Riverside"}}
	raw, err := protocol.SignOp(&genesis, founder)
	if err != nil {
		t.Fatal(err)
	}
	g := genesis.ID
	ctx := context.Background()
	ingest := func() Outcome {
		t.Helper()
		res, err := r.Ingest(ctx, [][]byte{raw})
		if err != nil {
			t.Fatal(err)
		}
		return res[0].Outcome
	}
	if err := r.Follow(ctx, g, "Riverside", nil, nil); err != nil {
		t.Fatal(err)
	}
	if o := ingest(); o != New {
		t.Fatalf("the genesis: %s, want new", o)
	}
	// The group state goes (as an interrupted unfollow leaves it), the
	// log stays.
	r.mu.Lock()
	delete(r.groups, g)
	r.mu.Unlock()
	if err := r.Follow(ctx, g, "Riverside", nil, nil); err != nil {
		t.Fatal(err)
	}
	if o := ingest(); o != Dup {
		t.Fatalf("the genesis again after following again: %s, want duplicate", o)
	}
}
