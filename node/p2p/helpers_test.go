package p2p

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"go.uber.org/goleak"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
	"github.com/mutual-aid/mutual/protocol"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func nowMillis() int64 { return time.Now().UnixMilli() }

// member is a node identity that writes ops to one group.
type member struct {
	key   ed25519.PrivateKey
	pub   crdt.PublicKey
	mu    sync.Mutex
	seq   uint64
	prev  crdt.ID
	clock crdt.Clock
}

func newMember(t testing.TB) *member {
	_, k, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &member{key: k}
	copy(m.pub[:], k.Public().(ed25519.PublicKey))
	return m
}

func (m *member) libp2pKey(t testing.TB) crypto.PrivKey {
	k, err := crypto.UnmarshalEd25519PrivateKey(m.key)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sign makes m's next op in group g.
func (m *member) sign(t testing.TB, g crdt.ID, body crdt.Body) (crdt.Op, []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	op := crdt.Op{Group: g, Seq: m.seq + 1, Prev: m.prev, Time: m.clock.Now(nowMillis()), Body: body}
	if _, ok := body.(crdt.Genesis); ok {
		op.Group = crdt.ID{}
	}
	raw, err := protocol.SignOp(&op, m.key)
	if err != nil {
		t.Fatal(err)
	}
	m.seq, m.prev = op.Seq, op.ID
	return op, raw
}

func (m *member) post(t testing.TB, g crdt.ID, title string) []byte {
	_, raw := m.sign(t, g, crdt.PostCreate{PostKind: crdt.Offer, Fields: crdt.Fields{Title: title}})
	return raw
}

// testGroup is a group founded by A with B and C joined by A's invite.
type testGroup struct {
	id      crdt.ID
	a, b, c *member
	setup   [][]byte // genesis, joins and A's witnesses of them
}

func newTestGroup(t testing.TB) *testGroup {
	tg := &testGroup{a: newMember(t), b: newMember(t), c: newMember(t)}
	gen, raw := tg.a.sign(t, crdt.ID{}, crdt.Genesis{Name: "coats", AuthorName: "a"})
	tg.id = gen.ID
	tg.setup = append(tg.setup, raw)
	inv, secret, err := protocol.NewInvite(crdt.Invite{Group: tg.id, Role: crdt.RoleMember, Expires: nowMillis() + time.Hour.Milliseconds()}, tg.a.key)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range []*member{tg.b, tg.c} {
		join, raw := m.sign(t, tg.id, crdt.Join{Invite: inv, Name: fmt.Sprint("m", i), Proof: protocol.ProveJoin(&inv, secret, m.pub)})
		_, admit := tg.a.sign(t, tg.id, crdt.Admit{Join: join.ID})
		tg.setup = append(tg.setup, raw, admit)
	}
	return tg
}

// replica returns a replica of the group for m, holding the setup ops.
func (tg *testGroup) replica(t testing.TB, m *member) *catchup.MemoryReplica {
	r := catchup.NewMemoryReplica(m.pub, nowMillis)
	r.AddGroup(tg.id)
	if _, err := r.Ingest(context.Background(), tg.setup); err != nil {
		t.Fatal(err)
	}
	return r
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("P2P_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func loopbackConfig(t testing.TB, m *member) Config {
	return Config{
		Key:       m.libp2pKey(t),
		Listen:    []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"},
		SyncEvery: time.Minute, // tests rely on connect-time catch-up and gossip unless they say otherwise
		Logger:    testLogger(t),
	}
}

func start(t testing.TB, cfg Config, r catchup.Replica) *Host {
	t.Helper()
	h, err := Start(cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func connect(t testing.TB, from, to *Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := from.Connect(ctx, to.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
//
// within is what the wait takes on a quiet machine, with room to spare;
// the deadline is waitSlack times it, since CI runs the race detector on
// a shared 2-core machine, where a 10 s wait once failed at load 20. A
// wait that succeeds returns as soon as cond holds, so the slack costs
// only a failing test's time.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	within *= waitSlack
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitSlack multiplies waitFor's deadlines.
const waitSlack = 3

// waitMesh waits until every host has every other in its GossipSub
// mesh for group g.
func waitMesh(t testing.TB, g crdt.ID, hs ...*Host) {
	t.Helper()
	waitFor(t, 10*time.Second, "the gossip mesh", func() bool {
		for _, h := range hs {
			topic, ok := h.r.Topic(g)
			if !ok {
				return false
			}
			if n := len(h.mesh.meshPeers(topic)); n < len(hs)-1 {
				return false
			}
		}
		return true
	})
}

func publish(t testing.TB, h *Host, g crdt.ID, raw []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Publish(ctx, g, raw); err != nil {
		t.Fatal(err)
	}
}

func converged(g crdt.ID, want int, rs ...*catchup.MemoryReplica) bool {
	for _, r := range rs {
		if r.Len(g) != want || r.Hash(g) != rs[0].Hash(g) {
			return false
		}
	}
	return true
}
