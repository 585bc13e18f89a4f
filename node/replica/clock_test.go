package replica_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
)

// wallClock is a wall clock the test sets.
type wallClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *wallClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *wallClock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

const year = 365 * 24 * time.Hour

// A node whose clock ran a year ahead for a while, and was then put
// right, posts again at once — without a restart and after one — with
// stamps that a node whose clock was right all along accepts.
func TestClockAheadThenCorrected(t *testing.T) {
	for _, restart := range []bool{false, true} {
		name := "without restart"
		if restart {
			name = "after restart"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			real := time.Now()
			clk := &wallClock{t: real}
			_, key, _ := ed25519.GenerateKey(nil)
			dir := t.TempDir()
			a := open(t, dir, key, replica.Config{Now: clk.Now})
			defer func() { a.close() }()
			g, err := a.r.CreateGroup(ctx, "g")
			if err != nil {
				t.Fatal(err)
			}

			clk.set(real.Add(year))
			ahead, _, err := a.r.CreatePost(ctx, g, replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: "posted a year ahead"}})
			if err != nil {
				t.Fatal(err)
			}

			clk.set(real.Add(time.Second))
			if restart {
				a.close()
				a = open(t, dir, key, replica.Config{Now: clk.Now})
			}
			p, _, err := a.r.CreatePost(ctx, g, replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: "posted after the fix"}})
			if err != nil {
				t.Fatalf("post after the clock was put right: %v", err)
			}
			if lim := real.Add(time.Second + crdt.MaxLead).UnixMilli(); p.CreatedAt.Wall > lim {
				t.Fatalf("new post stamped %v, beyond wall+MaxLead", p.CreatedAt.Time())
			}
			if _, err := a.r.EditPost(ctx, g, p.ID, crdt.FieldDetails, crdt.Fields{Details: "and again"}); err != nil {
				t.Fatalf("second write after the fix: %v", err)
			}

			// b's clock was right all along.
			b := newNode(t)
			code, _, err := a.r.Invite(g, crdt.RoleMember, time.Hour, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.r.Join(ctx, code); err != nil {
				t.Fatal(err)
			}
			exchange(t, a, b, g)
			got, err := b.r.Post(p.ID)
			if err != nil {
				t.Fatalf("b did not take the post made after the fix: %v", err)
			}
			if got.Details.V != "and again" {
				t.Fatalf("b did not take the edit made after the fix: details %q", got.Details.V)
			}
			if _, err := b.r.Post(ahead.ID); !errors.Is(err, replica.ErrNoPost) {
				t.Fatalf("b took the post stamped a year ahead: %v", err)
			}
		})
	}
}
