package p2p

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/node/store"
	"github.com/mutual-aid/mutual/protocol"
)

// A gossip frame whose prev A takes from its log: B's genuine op is
// stored; B's forged one (its signature broken, its prev left out) is not
// stored and, since A cannot tell it from an op of an author who forked
// at seq-1, is ignored rather than punished (a catch-up with B follows,
// which carries full forms).
func TestGossipPrevLeftOutForgedNotStored(t *testing.T) {
	tg := newTestGroup(t)
	ra := tg.replica(t, tg.a)
	a := start(t, loopbackConfig(t, tg.a), ra)
	mh, tp := rawGossiper(t, tg, a)
	ctx := context.Background()

	genuine := decodeAll(t, [][]byte{tg.b.post(t, tg.id, "genuine")})
	f, err := protocol.EncodeGossipFrame(tg.id, genuine)
	if err != nil {
		t.Fatal(err)
	}
	if plain := frameOf(t, tg.id, encodeAll(t, genuine)); len(plain)-len(f) != 32 {
		t.Fatalf("the gossip frame is %d bytes, the plain one %d", len(f), len(plain))
	}
	if err := tp.Publish(ctx, f); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the genuine op stored", func() bool { return ra.Len(tg.id) == len(tg.setup)+1 })

	forged := decodeAll(t, [][]byte{tg.b.post(t, tg.id, "forged")})
	forged[0].Sig[0] ^= 1
	forged[0].ID = crdt.ID{}
	if f, err = protocol.EncodeGossipFrame(tg.id, forged); err != nil {
		t.Fatal(err)
	}
	if err := tp.Publish(ctx, f); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the forged op judged", func() bool { return a.prevDoubts.Load() == 1 })
	if n := ra.Len(tg.id); n != len(tg.setup)+1 {
		t.Fatalf("A holds %d ops; want %d", n, len(tg.setup)+1)
	}
	if a.gate.blocked(mh.ID()) || a.punished.Load() != 0 || a.host.Network().Connectedness(mh.ID()) != network.Connected {
		t.Fatal("the sender was punished for an op A cannot tell from a fork")
	}
}

func encodeAll(t testing.TB, ops []crdt.Op) [][]byte {
	out := make([][]byte, len(ops))
	for i := range ops {
		var err error
		if out[i], err = protocol.EncodeOp(&ops[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// realReplica opens a replica over a Badger store for m.
func realReplica(t *testing.T, m *member) *replica.Replica {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "store"), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := replica.Open(st, replica.Config{Key: m.key, Name: "n", Logger: testLogger(t)})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); st.Close() })
	return r
}

// B's author forks at seq s: A holds its op p1 there, B's node the other
// op p1' and p2' after it. B gossips p2', its prev left out: A takes p1's
// ID, the signature fails, and A ignores the frame without punishing B
// (it cannot tell a fork from a forgery) and catches up with B, whose
// full forms show the fork: A stores p2' and the evidence of the fork.
// Real Badger replicas, since the fork shows as a break (an op whose prev
// is not the op held before it), which the replica detects.
func TestGossipForkAtPrevFoundByCatchUp(t *testing.T) {
	ctx := context.Background()
	ma, mb := newMember(t), newMember(t)
	ra, rb := realReplica(t, ma), realReplica(t, mb)
	g, err := ra.CreateGroup(ctx, "coats")
	if err != nil {
		t.Fatal(err)
	}
	code, _, err := ra.Invite(ctx, g, replica.InviteOptions{Role: crdt.RoleMember, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rb.Join(ctx, code); err != nil {
		t.Fatal(err)
	}
	a := start(t, loopbackConfig(t, ma), ra.Sync())
	b := start(t, loopbackConfig(t, mb), rb.Sync())
	connect(t, b, a)
	waitFor(t, 15*time.Second, "B admitted and on the topic", func() bool {
		_, ok := rb.Topic(g)
		return ok && rb.IsMember(g, mb.pub) && ra.IsMember(g, mb.pub)
	})
	waitMesh(t, g, a, b)

	var last crdt.Op // B's last op, held by both
	if err := rb.Sync().OpsAfter(g, mb.pub, 0, func(raw []byte) error {
		last, err = protocol.DecodeStoredOp(raw)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	sign := func(seq uint64, prev crdt.ID, title string) (crdt.Op, []byte) {
		op := crdt.Op{Group: g, Seq: seq, Prev: prev, Time: crdt.HLC{Wall: time.Now().UnixMilli()},
			Body: crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: title}}}
		raw, err := protocol.SignOp(&op, mb.key)
		if err != nil {
			t.Fatal(err)
		}
		return op, raw
	}
	s := last.Seq + 1
	_, p1 := sign(s, last.ID, "coats")
	q1, q1raw := sign(s, last.ID, "blankets")
	_, p2 := sign(s+1, q1.ID, "boots")
	if res, err := ra.Ingest(ctx, [][]byte{p1}); err != nil || res[0].Outcome != replica.New {
		t.Fatalf("A: %+v %v", res, err)
	}
	if res, err := rb.Ingest(ctx, [][]byte{q1raw, p2}); err != nil || res[0].Outcome != replica.New || res[1].Outcome != replica.New {
		t.Fatalf("B: %+v %v", res, err)
	}
	publish(t, b, g, p2)
	waitFor(t, 10*time.Second, "A to find the fork", func() bool { return ra.Forked(g, mb.pub) != 0 })
	if n := a.prevDoubts.Load(); n < 1 {
		t.Errorf("A doubted %d prevs; want the frame of p2' doubted", n)
	}
	if a.punished.Load() != 0 || a.gate.blocked(b.ID()) {
		t.Error("A punished B for a fork it relayed")
	}
}
