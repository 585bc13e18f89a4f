package replica_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
)

// Concurrent writers (posts, edits, statuses, imports and re-imports)
// and readers on one replica: afterwards every stored record agrees with
// the others (the board index holds exactly the created posts) and the
// board recomputed from the ops is the stored one.
func TestConcurrentWritersAndReadersKeepTheStoreConsistent(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	n := open(t, t.TempDir(), key, replica.Config{})
	defer n.close()
	g := newGroup(t, n, "g")
	ctx := context.Background()
	var (
		mu  sync.Mutex
		ids []crdt.ID
	)
	pick := func(r *rand.Rand) (crdt.ID, bool) {
		mu.Lock()
		defer mu.Unlock()
		if len(ids) == 0 {
			return crdt.ID{}, false
		}
		return ids[r.IntN(len(ids))], true
	}
	add := func(id crdt.ID) { mu.Lock(); ids = append(ids, id); mu.Unlock() }
	deadline := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 0; time.Now().Before(deadline); i++ {
				cats := []string{"food", "tools", "housing", "clothing"}
				switch op := r.IntN(10); {
				case op < 2:
					p, _, err := n.r.CreatePost(ctx, g, replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: fmt.Sprint("w", w, " ", i), Category: cats[r.IntN(4)]}})
					if err != nil {
						t.Error(err)
						return
					}
					add(p.ID)
				case op < 4:
					p, _, err := n.r.ImportPost(ctx, g, replica.PostInput{Kind: crdt.Offer, Ref: fmt.Sprint("row", r.IntN(50)),
						Status: crdt.Status(r.IntN(4)), Fields: crdt.Fields{Title: "row", Category: cats[r.IntN(4)]}})
					if err != nil {
						t.Error(err)
						return
					}
					add(p.ID)
				case op < 6:
					if id, ok := pick(r); ok {
						if _, err := n.r.SetStatus(ctx, g, id, crdt.Status(r.IntN(4))); err != nil {
							t.Error(err)
							return
						}
					}
				case op < 8:
					if id, ok := pick(r); ok {
						if _, err := n.r.EditPost(ctx, g, id, crdt.FieldCategory, crdt.Fields{Category: cats[r.IntN(4)]}); err != nil {
							t.Error(err)
							return
						}
					}
				default:
					if _, err := n.r.Posts(replica.Filter{Group: g}); err != nil {
						t.Error(err)
						return
					}
					if id, ok := pick(r); ok {
						n.r.Post(id)
					}
				}
			}
		}(w)
	}
	wg.Wait()
	if lines, err := n.r.Audit(g); err != nil || len(lines) > 0 {
		t.Fatalf("audit after concurrent use: %v %v", lines, err)
	}
	check(t, n, g)
}
