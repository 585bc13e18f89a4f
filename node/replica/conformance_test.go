package replica_test

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/node/catchup/catchuptest"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/node/store"
	"github.com/mutual-aid/mutual/protocol"
)

// badgerFactory opens Replicas over real Badger stores, seen through
// Sync() as catch-up sees them.
func badgerFactory() catchuptest.Factory {
	open := func(t *testing.T, key ed25519.PrivateKey) *replica.Replica {
		t.Helper()
		st, err := store.Open(t.TempDir(), store.Config{})
		if err != nil {
			t.Fatal(err)
		}
		r, err := replica.Open(st, replica.Config{
			Key:    key,
			Name:   "n",
			Now:    func() time.Time { return time.UnixMilli(catchuptest.Now) },
			Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			st.Close()
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close(); st.Close() })
		return r
	}
	node := func(r *replica.Replica) catchuptest.Node {
		return catchuptest.Node{Replica: r.Sync(), StateHash: r.StateHash}
	}
	return catchuptest.Factory{
		Follow: func(t *testing.T, self ed25519.PrivateKey, genesis ...[]byte) catchuptest.Node {
			r := open(t, self)
			for _, raw := range genesis {
				if err := replica.AddGroupForTest(r, protocol.OpID(raw), raw); err != nil {
					t.Fatal(err)
				}
			}
			return node(r)
		},
		Newcomer: func(t *testing.T, self ed25519.PrivateKey, c *protocol.InviteCode) catchuptest.Node {
			r := open(t, self)
			code, err := protocol.EncodeInviteCode(c)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Join(context.Background(), code); err != nil {
				t.Fatal(err)
			}
			return node(r)
		},
	}
}

func TestBadgerReplicaConformance(t *testing.T) {
	catchuptest.Run(t, badgerFactory())
}

// Replicas of the two kinds sync with each other, each kind in each role.
func TestMemoryBadgerSync(t *testing.T) {
	t.Run("MemoryFounder", func(t *testing.T) { catchuptest.RunSync(t, catchuptest.Memory(), badgerFactory()) })
	t.Run("BadgerFounder", func(t *testing.T) { catchuptest.RunSync(t, badgerFactory(), catchuptest.Memory()) })
}
