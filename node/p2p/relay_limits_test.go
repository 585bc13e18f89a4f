package p2p

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
)

// slowSource is a replica that serves its ops slowly (a slow disk, a
// slow uplink): each op it reads for a peer takes delay.
type slowSource struct {
	*catchup.MemoryReplica
	delay time.Duration
	read  atomic.Int64
}

func (s *slowSource) OpsAfter(group crdt.ID, author crdt.PublicKey, after uint64, fn func(raw []byte) error) error {
	return s.MemoryReplica.OpsAfter(group, author, after, func(raw []byte) error {
		s.read.Add(1)
		time.Sleep(s.delay)
		return fn(raw)
	})
}

// A relayed connection is also limited in time (2 minutes by libp2p's
// default): the relay resets it then, whatever it carries. A sync that
// takes longer than that — here a board served op by op from a slow
// disk, through a relay whose connections last 2 s and whose data limit
// is out of reach — still completes, resuming on each new relayed
// connection from the batches the last one stored.
func TestRelayDurationLimitSyncResumes(t *testing.T) {
	batch := limitedBatch
	limitedBatch = 4 << 10
	t.Cleanup(func() { limitedBatch = batch })
	const (
		relayFor = 2 * time.Second
		perOp    = 40 * time.Millisecond
	)

	tg := newTestGroup(t)
	relayKey := newMember(t)
	cfgR := loopbackConfig(t, relayKey)
	cfgR.Relay = true
	cfgR.relayLimit = &relayv2.RelayLimit{Duration: relayFor, Data: 64 << 20}
	r := start(t, cfgR, catchup.NewMemoryReplica(relayKey.pub, nowMillis))

	ra, rb := tg.replica(t, tg.a), tg.replica(t, tg.b)
	posts := bigPosts(t, tg.b, tg.id, 120) // ~137 KiB, 5 s to serve
	ingest(t, rb, posts)
	slow := &slowSource{MemoryReplica: rb, delay: perOp}
	want := len(tg.setup) + len(posts)

	aID, _ := PeerIDOf(tg.a.pub)
	bID, _ := PeerIDOf(tg.b.pub)
	direct := func(other peer.ID) func(peer.ID, ma.Multiaddr) bool {
		return func(p peer.ID, a ma.Multiaddr) bool { return p == other && !isRelayed(a) }
	}
	cfgB := loopbackConfig(t, tg.b)
	cfgB.forcePrivate = true
	cfgB.Peers = []string{r.Addrs()[0]}
	cfgB.refuse = direct(aID)
	b := start(t, cfgB, slow)
	waitFor(t, 10*time.Second, "B connected to the relay", func() bool { return connectedTo(b, r) })

	cfgA := loopbackConfig(t, tg.a)
	cfgA.Peers = []string{r.Addrs()[0] + "/p2p-circuit/p2p/" + bID.String()}
	cfgA.refuse = direct(bID)
	t0 := time.Now()
	a := start(t, cfgA, ra)
	waitFor(t, 90*time.Second, "A to hold B's board", func() bool { return converged(tg.id, want, ra, rb) })
	n := a.limitedConns.Load()
	t.Logf("%d ops (%d KiB, %d read) over %d relayed connections of %v in %v",
		len(posts), opBytes(posts)>>10, slow.read.Load(), n, relayFor, time.Since(t0).Round(time.Millisecond))

	// Reading the ops alone takes longer than a relayed connection
	// lives, so one connection cannot have carried them all.
	if n < 2 {
		t.Errorf("the board came over %d relayed connection(s); each lasts %v, and serving it takes %v", n, relayFor, time.Duration(len(posts))*perOp)
	}
	for _, c := range a.host.Network().ConnsToPeer(bID) {
		if !c.Stat().Limited {
			t.Fatalf("a direct connection from A to B: %s", c.RemoteMultiaddr())
		}
	}
}
