package p2p

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
	"github.com/mutual-aid/mutual/protocol"
)

func TestKeyRoundTrip(t *testing.T) {
	m := newMember(t)
	id, err := peer.IDFromPrivateKey(m.libp2pKey(t))
	if err != nil {
		t.Fatal(err)
	}
	k, err := KeyOf(id)
	if err != nil || k != m.pub {
		t.Fatalf("KeyOf = %v, %v; want %v", k, err, m.pub)
	}
	back, err := PeerIDOf(k)
	if err != nil || back != id {
		t.Fatalf("PeerIDOf = %v, %v; want %v", back, err, id)
	}
}

func TestThreeHostsConverge(t *testing.T) {
	tg := newTestGroup(t)
	ra, rb, rc := tg.replica(t, tg.a), tg.replica(t, tg.b), tg.replica(t, tg.c)
	a := start(t, loopbackConfig(t, tg.a), ra)
	b := start(t, loopbackConfig(t, tg.b), rb)
	c := start(t, loopbackConfig(t, tg.c), rc)
	connect(t, b, a)
	connect(t, c, a)
	connect(t, c, b)
	waitMesh(t, tg.id, a, b, c)

	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	hosts := []*Host{a, b, c}
	members := []*member{tg.a, tg.b, tg.c}
	const posts = 60
	for i := range posts {
		j := rng.IntN(3)
		publish(t, hosts[j], tg.id, members[j].post(t, tg.id, fmt.Sprint("post ", i)))
	}
	want := len(tg.setup) + posts
	defer func() { t.Logf("lens %d %d %d want %d", ra.Len(tg.id), rb.Len(tg.id), rc.Len(tg.id), want) }()
	waitFor(t, 10*time.Second, "three replicas to converge", func() bool { return converged(tg.id, want, ra, rb, rc) })
}

func TestCatchUpAfterRestart(t *testing.T) {
	tg := newTestGroup(t)
	ra, rb := tg.replica(t, tg.a), tg.replica(t, tg.b)
	a := start(t, loopbackConfig(t, tg.a), ra)
	b := start(t, loopbackConfig(t, tg.b), rb)
	connect(t, b, a)
	waitMesh(t, tg.id, a, b)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil { // safe twice
		t.Fatal(err)
	}
	const n = 1000
	for i := range n {
		publish(t, a, tg.id, tg.a.post(t, tg.id, fmt.Sprint("while b was away ", i)))
	}
	cfg := loopbackConfig(t, tg.b)
	cfg.Peers = []string{a.Addrs()[0]}
	start(t, cfg, rb)
	waitFor(t, 20*time.Second, "the restarted host to catch up", func() bool {
		return converged(tg.id, len(tg.setup)+n, ra, rb)
	})
}

func TestPartitionHeals(t *testing.T) {
	tg := newTestGroup(t)
	ra, rb := tg.replica(t, tg.a), tg.replica(t, tg.b)
	a := start(t, loopbackConfig(t, tg.a), ra)
	b := start(t, loopbackConfig(t, tg.b), rb)
	connect(t, b, a)
	waitMesh(t, tg.id, a, b)

	// Partition: block each side at the other's gate and cut the link.
	a.gate.block(b.ID(), time.Hour)
	b.gate.block(a.ID(), time.Hour)
	a.host.Network().ClosePeer(b.ID())
	waitFor(t, 5*time.Second, "the partition", func() bool {
		return a.host.Network().Connectedness(b.ID()) != network.Connected &&
			b.host.Network().Connectedness(a.ID()) != network.Connected
	})
	for i := range 50 {
		publish(t, a, tg.id, tg.a.post(t, tg.id, fmt.Sprint("a side ", i)))
		publish(t, b, tg.id, tg.b.post(t, tg.id, fmt.Sprint("b side ", i)))
	}
	if ra.Hash(tg.id) == rb.Hash(tg.id) {
		t.Fatal("replicas agree across a partition")
	}
	a.gate.unblock(b.ID())
	b.gate.unblock(a.ID())
	connect(t, b, a)
	waitFor(t, 10*time.Second, "the partition to heal", func() bool {
		return converged(tg.id, len(tg.setup)+100, ra, rb)
	})
}

// TestStrangerGetsNothing runs two hostile nodes that know the group's
// ID: one speaks GossipSub with flood publishing on, one FloodSub, and
// both ask for the group by catch-up.
func TestStrangerGetsNothing(t *testing.T) {
	tg := newTestGroup(t)
	ra, rb := tg.replica(t, tg.a), tg.replica(t, tg.b)
	a := start(t, loopbackConfig(t, tg.a), ra)
	b := start(t, loopbackConfig(t, tg.b), rb)
	connect(t, b, a)

	var got atomic.Int64
	topic := protocol.Topic(tg.id, tg.id)
	strangers := make([]*member, 2)
	for i := range strangers {
		s := newMember(t)
		strangers[i] = s
		sh, err := libp2p.New(libp2p.Identity(s.libp2pKey(t)), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(func() { cancel(); sh.Close() })
		var ps *pubsub.PubSub
		// Unsigned messages, like the members' (else pubsub would drop
		// what leaked before the test could see it).
		opts := []pubsub.Option{pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign), pubsub.WithNoAuthor(),
			pubsub.WithMessageIdFn(messageID)}
		if i == 0 {
			ps, err = pubsub.NewGossipSub(ctx, sh, opts...)
		} else {
			ps, err = pubsub.NewFloodSub(ctx, sh, opts...)
		}
		if err != nil {
			t.Fatal(err)
		}
		tp, err := ps.Join(topic)
		if err != nil {
			t.Fatal(err)
		}
		sub, err := tp.Subscribe()
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				if _, err := sub.Next(ctx); err != nil {
					return
				}
				got.Add(1)
			}
		}()
		for _, h := range []*Host{a, b} {
			if err := sh.Connect(ctx, peer.AddrInfo{ID: h.ID(), Addrs: h.host.Addrs()}); err != nil {
				t.Fatal(err)
			}
		}
		// Catch-up, asking as if it followed the group.
		sr := catchup.NewMemoryReplica(s.pub, nowMillis)
		sr.AddGroup(tg.id)
		st, err := sh.NewStream(ctx, a.ID(), protocol.SyncProtocol)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := catchup.Run(ctx, st, sr, tg.a.pub, true); err != nil {
			t.Logf("stranger's catch-up: %v", err)
		}
		st.Close()
		if n := sr.Len(tg.id); n != 0 {
			t.Fatalf("stranger %d got %d ops by catch-up", i, n)
		}
		if i == 0 { // the members do not speak FloodSub: the other never gets that far
			waitFor(t, 5*time.Second, "the stranger's subscription to reach the members", func() bool {
				return len(a.ps.ListPeers(topic)) == 2 && len(b.ps.ListPeers(topic)) == 2
			})
		}
	}
	waitMesh(t, tg.id, a, b)
	time.Sleep(1200 * time.Millisecond) // one heartbeat: let GossipSub try to graft the strangers
	for i := range 20 {
		publish(t, a, tg.id, tg.a.post(t, tg.id, fmt.Sprint("a ", i)))
		publish(t, b, tg.id, tg.b.post(t, tg.id, fmt.Sprint("b ", i)))
	}
	waitFor(t, 10*time.Second, "members to converge", func() bool { return converged(tg.id, len(tg.setup)+40, ra, rb) })
	time.Sleep(1200 * time.Millisecond) // and a heartbeat of IHAVE gossip
	if n := got.Load(); n != 0 {
		t.Fatalf("strangers received %d gossip messages", n)
	}
}

// TestForgedOpDisconnects sends an op with a broken signature by gossip;
// the receiver must drop and block the sender.
func TestForgedOpDisconnects(t *testing.T) {
	tg := newTestGroup(t)
	ra := tg.replica(t, tg.a)
	a := start(t, loopbackConfig(t, tg.a), ra)

	m := tg.b // even a member is cut off for a forged op
	mh, err := libp2p.New(libp2p.Identity(m.libp2pKey(t)), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); mh.Close() })
	ps, err := pubsub.NewGossipSub(ctx, mh,
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign), pubsub.WithNoAuthor(),
		pubsub.WithMessageIdFn(func(m *pb.Message) string { return messageID(m) }))
	if err != nil {
		t.Fatal(err)
	}
	tp, err := ps.Join(protocol.Topic(tg.id, tg.id))
	if err != nil {
		t.Fatal(err)
	}
	if err := mh.Connect(ctx, peer.AddrInfo{ID: a.ID(), Addrs: a.host.Addrs()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the topic peers", func() bool { return len(tp.ListPeers()) == 1 })
	forged := m.post(t, tg.id, "forged")
	forged[len(forged)-1] ^= 1 // break the signature
	if err := tp.Publish(ctx, forged); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the forger to be disconnected", func() bool {
		return a.host.Network().Connectedness(mh.ID()) != network.Connected
	})
	if !a.gate.blocked(mh.ID()) {
		t.Fatal("forger not blocked")
	}
	if err := mh.Connect(ctx, peer.AddrInfo{ID: a.ID(), Addrs: a.host.Addrs()}); err == nil {
		waitFor(t, 5*time.Second, "the reconnection to be refused", func() bool {
			return a.host.Network().Connectedness(mh.ID()) != network.Connected
		})
	}
	if ra.Len(tg.id) != len(tg.setup) {
		t.Fatal("forged op stored")
	}
}

// forgingReplica serves a corrupted op by catch-up.
type forgingReplica struct {
	*catchup.MemoryReplica
	forged []byte
}

func (f *forgingReplica) VersionVector(g crdt.ID) (map[crdt.PublicKey]uint64, error) {
	vv, err := f.MemoryReplica.VersionVector(g)
	op, _ := protocol.DecodeStoredOp(f.forged)
	vv[op.Author] = op.Seq
	return vv, err
}

// Digest differs from the honest replica's, as the forged vector does:
// else the two would settle the group and never send an op.
func (f *forgingReplica) Digest(g crdt.ID) (protocol.Digest, error) {
	return protocol.Digest{0xf0}, nil
}

func (f *forgingReplica) OpsAfter(g crdt.ID, a crdt.PublicKey, after uint64, fn func([]byte) error) error {
	op, _ := protocol.DecodeStoredOp(f.forged)
	if a == op.Author && after < op.Seq {
		return fn(f.forged)
	}
	return f.MemoryReplica.OpsAfter(g, a, after, fn)
}

func TestForgedCatchUpDisconnects(t *testing.T) {
	tg := newTestGroup(t)
	ra := tg.replica(t, tg.a)
	forged := tg.c.post(t, tg.id, "forged")
	forged[len(forged)-1] ^= 1
	fb := &forgingReplica{MemoryReplica: tg.replica(t, tg.b), forged: forged}
	a := start(t, loopbackConfig(t, tg.a), ra)
	b := start(t, loopbackConfig(t, tg.b), fb)
	connect(t, b, a)
	if a.ID() < b.ID() {
		a.SyncNow(context.Background(), b.ID())
	} else {
		b.SyncNow(context.Background(), a.ID())
	}
	waitFor(t, 5*time.Second, "the forger to be blocked", func() bool { return a.gate.blocked(b.ID()) })
	waitFor(t, 5*time.Second, "the forger to be disconnected", func() bool {
		return a.host.Network().Connectedness(b.ID()) != network.Connected
	})
}

func TestPeerRedialledWhenItComesUp(t *testing.T) {
	tg := newTestGroup(t)
	ra, rb := tg.replica(t, tg.a), tg.replica(t, tg.b)
	// Learn a free address for B, then stop B.
	b := start(t, loopbackConfig(t, tg.b), rb)
	listen := b.host.Addrs()
	addr := b.Addrs()[0]
	b.Close()

	cfg := loopbackConfig(t, tg.a)
	cfg.Peers = []string{addr}
	a := start(t, cfg, ra)
	waitFor(t, 5*time.Second, "a first failed dial", func() bool { return a.dialFailures.Load() > 0 })
	publish(t, a, tg.id, tg.a.post(t, tg.id, "made while b was down"))

	bcfg := loopbackConfig(t, tg.b)
	bcfg.Listen = nil
	for _, l := range listen {
		bcfg.Listen = append(bcfg.Listen, l.String())
	}
	b = start(t, bcfg, rb)
	waitFor(t, 15*time.Second, "the dialler to reach B", func() bool {
		return a.host.Network().Connectedness(b.ID()) == network.Connected
	})
	waitFor(t, 10*time.Second, "B to catch up", func() bool { return converged(tg.id, len(tg.setup)+1, ra, rb) })
}

func TestPeerFileRemembered(t *testing.T) {
	tg := newTestGroup(t)
	ra, rb := tg.replica(t, tg.a), tg.replica(t, tg.b)
	a := start(t, loopbackConfig(t, tg.a), ra)
	file := filepath.Join(t.TempDir(), "peers.json")
	bcfg := loopbackConfig(t, tg.b)
	bcfg.PeerFile = file
	b := start(t, bcfg, rb)
	connect(t, b, a)
	if _, err := b.SyncNow(context.Background(), a.ID()); err != nil {
		t.Fatal(err)
	}
	b.Close()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var es []peerEntry
	if err := json.Unmarshal(raw, &es); err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].ID != a.ID().String() || len(es[0].Addrs) == 0 || es[0].LastSynced.IsZero() {
		t.Fatalf("peer file: %s", raw)
	}

	publish(t, a, tg.id, tg.a.post(t, tg.id, "after b left"))
	b = start(t, bcfg, rb)
	waitFor(t, 10*time.Second, "B to redial the remembered peer", func() bool {
		return b.host.Network().Connectedness(a.ID()) == network.Connected
	})
	waitFor(t, 10*time.Second, "B to catch up", func() bool { return converged(tg.id, len(tg.setup)+1, ra, rb) })
	ps := b.Peers()
	if len(ps) != 1 || ps[0].ID != a.ID() || !ps[0].Connected || ps[0].Key != tg.a.pub {
		t.Fatalf("Peers() = %+v", ps)
	}
}

func TestPeriodicSync(t *testing.T) {
	tg := newTestGroup(t)
	ra, rb := tg.replica(t, tg.a), tg.replica(t, tg.b)
	acfg, bcfg := loopbackConfig(t, tg.a), loopbackConfig(t, tg.b)
	acfg.SyncEvery, bcfg.SyncEvery = 200*time.Millisecond, 200*time.Millisecond
	a := start(t, acfg, ra)
	b := start(t, bcfg, rb)
	connect(t, b, a)
	// Ops stored behind the network's back (as by `mutual import`) reach
	// the other side by periodic catch-up alone.
	for i := range 10 {
		if _, err := ra.IngestOne(context.Background(), tg.a.post(t, tg.id, fmt.Sprint("imported ", i))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "periodic catch-up", func() bool { return converged(tg.id, len(tg.setup)+10, ra, rb) })
}

func TestStartRejectsBadConfig(t *testing.T) {
	r := catchup.NewMemoryReplica(crdt.PublicKey{}, nowMillis)
	if _, err := Start(Config{}, r); err == nil {
		t.Fatal("no key accepted")
	}
	cfg := loopbackConfig(t, newMember(t))
	cfg.Peers = []string{"/ip4/127.0.0.1/tcp/4001"}
	if _, err := Start(cfg, r); err == nil {
		t.Fatal("peer address without /p2p/ accepted")
	}
}

// A kept peer that closes each connection at once (its resource manager
// still counting this node's connections from before a restart) used to
// make the dialler spin: hundreds of dials a second. It backs off.
func TestKeptPeerThatHangsUpIsNotDialledInALoop(t *testing.T) {
	tg := newTestGroup(t)
	ra, rb := tg.replica(t, tg.a), tg.replica(t, tg.b)
	aID, err := peer.IDFromPrivateKey(tg.a.libp2pKey(t))
	if err != nil {
		t.Fatal(err)
	}
	b := start(t, loopbackConfig(t, tg.b), rb)
	b.host.Network().Notify(&network.NotifyBundle{ConnectedF: func(_ network.Network, c network.Conn) {
		if c.RemotePeer() == aID {
			go c.Close()
		}
	}})
	cfg := loopbackConfig(t, tg.a)
	cfg.Peers = []string{b.Addrs()[0]}
	a := start(t, cfg, ra)
	waitFor(t, 5*time.Second, "a first dial", func() bool { return a.keptDials.Load() > 0 })
	time.Sleep(3 * time.Second)
	// Backoff from 1 s doubling: about three dials in 3 s, not hundreds.
	if n := a.keptDials.Load(); n > 6 {
		t.Fatalf("%d dials in about 3 s to a peer that hangs up at once", n)
	}
}

// An op that arrives by gossip past a gap in its author's log (gossip
// lost the ones between, or they were stored behind the network's back)
// starts a catch-up session with the peer that sent it: the gap is
// filled at once, not at the next periodic session (a minute here).
func TestGossipPastAGapStartsCatchUp(t *testing.T) {
	tg := newTestGroup(t)
	ra, rb := tg.replica(t, tg.a), tg.replica(t, tg.b)
	a := start(t, loopbackConfig(t, tg.a), ra)
	b := start(t, loopbackConfig(t, tg.b), rb)
	connected := time.Now()
	connect(t, b, a)
	waitMesh(t, tg.id, a, b)
	// Let the session that follows the mesh (afterMesh, with jitter) pass,
	// so that only the gap can start the next one.
	time.Sleep(time.Until(connected.Add(afterMesh * 5 / 4).Add(500 * time.Millisecond)))
	// Five ops stored on A without gossip (an import), then one published.
	for i := range 5 {
		if _, err := ra.IngestOne(context.Background(), tg.a.post(t, tg.id, fmt.Sprint("imported ", i))); err != nil {
			t.Fatal(err)
		}
	}
	publish(t, a, tg.id, tg.a.post(t, tg.id, "published"))
	waitFor(t, 2*time.Second, "the gap filled", func() bool { return converged(tg.id, len(tg.setup)+6, ra, rb) })
	// The published op's frame leaves its prev out (the last imported
	// op), which B lacked: B ignored it, did not hold it against A, and
	// caught up.
	if n := b.lackedPrev.Load(); n != 1 {
		t.Errorf("B ignored %d frames for a prev it lacked; want 1", n)
	}
	if n := b.punished.Load(); n != 0 {
		t.Errorf("B punished %d peers", n)
	}
}

// TestMemberMetWhileRunningRedialled: a member met while running (here
// dialled once, as mDNS or an invite's address do; no --peer, no peer
// file) is redialled when the connection drops, without a restart. mDNS
// would not report it again for the record's lifetime (53 minutes):
// cmd/mutual/meshtest's TestMeshLinkDownUp is this on a real network.
func TestMemberMetWhileRunningRedialled(t *testing.T) {
	tg := newTestGroup(t)
	ra, rb := tg.replica(t, tg.a), tg.replica(t, tg.b)
	var sessions atomic.Int32
	cfg := loopbackConfig(t, tg.a)
	cfg.OnSynced = func(crdt.PublicKey, []crdt.ID) { sessions.Add(1) }
	a := start(t, cfg, ra)
	b := start(t, loopbackConfig(t, tg.b), rb)
	connect(t, b, a)
	// The sessions run on connecting and once the mesh has formed: after
	// them, nothing opens a stream to the peer (which would dial it)
	// until the periodic one, a minute away.
	waitFor(t, 15*time.Second, "the two sessions of a new connection", func() bool { return sessions.Load() >= 2 })
	remembers := func(h *Host, p peer.ID) bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		rec := h.peers[p]
		return rec != nil && rec.remember
	}
	if !remembers(a, b.ID()) || !remembers(b, a.ID()) {
		t.Fatal("the members do not remember each other after a session")
	}
	a.host.Network().ClosePeer(b.ID())
	publish(t, a, tg.id, tg.a.post(t, tg.id, "made after the connection dropped"))
	waitFor(t, 15*time.Second, "a redial", func() bool {
		return a.host.Network().Connectedness(b.ID()) == network.Connected
	})
	waitFor(t, 10*time.Second, "B to catch up", func() bool { return converged(tg.id, len(tg.setup)+1, ra, rb) })
}
