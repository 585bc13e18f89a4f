package p2p

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multihash"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// Rendezvous: the nodes of a group find each other through a Kademlia
// DHT, under a key derived from the group (protocol.RendezvousDigest),
// not the group's ID.
//
// The DHT is mutual's own (protocol prefix /mutual: it never mixes with
// the public IPFS DHT), in server mode on every node, joined through the
// node's bootstrap list: --bootstrap, the kept peers, the peers of invite
// and follow codes (AddBootstrap). It keeps private and loopback
// addresses, so the same DHT works on a LAN or a routed mesh with no
// internet. The public IPFS DHT is used as well only with
// Config.PublicDHT.
//
// One goroutine (rendezvousLoop) does everything, in rounds: it looks up
// the groups that have no connected reader (at most lookupsPerRound a
// round, taking turns) and dials the nodes found, then advertises the
// groups not advertised for advertiseEvery (at most advertisePerRound a
// round). Rounds come every rendezvousMin while a lookup found someone
// or groups wait to be advertised, backing off to rendezvousMax while
// lookups find no one. With an empty routing table (no internet, no
// bootstrap peer up) a round only checks the table: the DHT dials the
// bootstrap list itself every 2 minutes, and logs nothing a volunteer
// reads.

// Tuning. Variables for tests.
var (
	rendezvousFirst = 2 * time.Second  // first round after start
	rendezvousMin   = 10 * time.Second // rounds at most this often
	rendezvousMax   = 10 * time.Minute // back-off of fruitless lookups
)

const (
	// advertiseEvery is how often each group is advertised again. The
	// records live 48 hours on the nodes that hold them (kad-dht's
	// provider validity); an hour keeps them on the nodes that are up
	// now in a network of laptops that come and go.
	advertiseEvery = time.Hour
	// advertisePerRound and lookupsPerRound bound one round's DHT
	// queries, so that a node in hundreds of groups spreads them out.
	advertisePerRound = 64
	lookupsPerRound   = 16
	// providersPerLookup is how many nodes a lookup asks for.
	providersPerLookup = 8
	// dhtQueryTimeout bounds one advertisement or lookup.
	dhtQueryTimeout = 30 * time.Second
)

// rendezvous holds the DHTs: mutual's own first, the public one second
// if asked for.
type rendezvous struct {
	dhts []*dht.IpfsDHT
	wake chan struct{} // a new group: run a round soon

	mu   sync.Mutex
	next int // where the next round's lookups start among the lonely groups
}

// RendezvousKey is the DHT key (a CIDv1, codec raw, over the sha2-256
// multihash of protocol.RendezvousDigest) under which the nodes of a
// group advertise themselves.
func RendezvousKey(g crdt.ID) cid.Cid {
	d := protocol.RendezvousDigest(g)
	mh, err := multihash.Encode(d[:], multihash.SHA2_256)
	if err != nil {
		panic(err) // a 32-byte sha2-256 digest always encodes
	}
	return cid.NewCidV1(cid.Raw, mh)
}

// startRendezvous starts the DHTs and sets h.rv, before the loop starts.
func (h *Host) startRendezvous() error {
	rv := &rendezvous{wake: make(chan struct{}, 1)}
	own, err := dht.New(h.host,
		dht.Mode(dht.ModeServer),
		dht.ProtocolPrefix(protocol.DHTPrefix),
		dht.BootstrapPeersFunc(h.bootstrapPeers),
		dht.DisableValues(), // provider records only
	)
	if err != nil {
		return err
	}
	rv.dhts = append(rv.dhts, own)
	if h.cfg.PublicDHT {
		pub, err := dht.New(h.host, dht.Mode(dht.ModeAuto),
			dht.BootstrapPeers(dht.GetDefaultBootstrapPeerAddrInfos()...))
		if err != nil {
			own.Close()
			return err
		}
		rv.dhts = append(rv.dhts, pub)
	}
	h.rv = rv
	if !h.spawn(func() { h.rendezvousLoop(rv) }) {
		return errors.New("host closed")
	}
	return nil
}

// close closes the DHTs. The loop has stopped by then (Host.Close).
func (rv *rendezvous) close() error {
	var errs []error
	for _, d := range rv.dhts {
		errs = append(errs, d.Close())
	}
	return errors.Join(errs...)
}

// dhtEmpty reports whether no DHT has a peer in its routing table (or
// there is no DHT).
func (h *Host) dhtEmpty() bool {
	if h.rv == nil {
		return true
	}
	for _, d := range h.rv.dhts {
		if d.RoutingTable().Size() > 0 {
			return false
		}
	}
	return true
}

// wakeRendezvous asks for a round soon (a group was added).
func (h *Host) wakeRendezvous() {
	if h.rv == nil {
		return
	}
	select {
	case h.rv.wake <- struct{}{}:
	default:
	}
}

func (h *Host) rendezvousLoop(rv *rendezvous) {
	wait := rendezvousFirst
	advertised := map[crdt.ID]time.Time{}
	last := time.Time{}
	joined := false
	for {
		t := time.NewTimer(jitter(wait))
		select {
		case <-h.ctx.Done():
			t.Stop()
			return
		case <-rv.wake:
			t.Stop()
			// At most one round every rendezvousMin, however often woken.
			if d := rendezvousMin - time.Since(last); d > 0 && !h.sleep(d) {
				return
			}
		case <-t.C:
		}
		last = time.Now()
		if h.dhtEmpty() {
			joined = false
			wait = min(max(wait, rendezvousFirst), rendezvousMin)
			continue
		}
		if !joined {
			// (Re)joined the DHT: the records may be gone with the nodes
			// that held them. Advertise everything again.
			joined = true
			clear(advertised)
		}
		groups := h.r.Groups()
		found := h.lookupLonely(rv, groups)
		pending := h.advertise(rv, groups, advertised)
		switch {
		case found || pending:
			wait = rendezvousMin
		default:
			wait = min(max(wait*2, rendezvousMin), rendezvousMax)
		}
	}
}

// advertise advertises the groups not advertised for advertiseEvery, at
// most advertisePerRound of them; it reports whether some still wait.
func (h *Host) advertise(rv *rendezvous, groups []crdt.ID, advertised map[crdt.ID]time.Time) bool {
	n := 0
	for _, g := range groups {
		if time.Since(advertised[g]) < advertiseEvery {
			continue
		}
		if n == advertisePerRound {
			return true
		}
		n++
		key := RendezvousKey(g)
		ok := false
		for _, d := range rv.dhts {
			ctx, cancel := context.WithTimeout(h.ctx, dhtQueryTimeout)
			err := d.Provide(ctx, key, true)
			cancel()
			if h.ctx.Err() != nil {
				return false
			}
			if err != nil {
				h.log.Debug("DHT: advertising a group failed", "group", g.Short(), "err", err)
				continue
			}
			ok = true
		}
		if ok {
			advertised[g] = time.Now()
			h.log.Debug("DHT: group advertised", "group", g.Short())
		}
	}
	for g := range advertised {
		if !containsID(groups, g) {
			delete(advertised, g)
		}
	}
	return false
}

func containsID(ids []crdt.ID, id crdt.ID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// lookupLonely looks up the groups that have no connected reader, at
// most lookupsPerRound of them taking turns, and dials the nodes found.
// It reports whether it connected to any.
func (h *Host) lookupLonely(rv *rendezvous, groups []crdt.ID) bool {
	var lonely []crdt.ID
	for _, g := range groups {
		if h.readersOf(g) == 0 {
			lonely = append(lonely, g)
		}
	}
	if len(lonely) == 0 {
		return false
	}
	rv.mu.Lock()
	start := rv.next % len(lonely)
	rv.next = start + lookupsPerRound
	rv.mu.Unlock()
	found := false
	for i := range min(len(lonely), lookupsPerRound) {
		g := lonely[(start+i)%len(lonely)]
		if h.lookup(rv, g) {
			found = true
		}
		if h.ctx.Err() != nil {
			return false
		}
	}
	return found
}

// lookup asks the DHTs for the nodes of g and dials those not connected.
func (h *Host) lookup(rv *rendezvous, g crdt.ID) bool {
	key := RendezvousKey(g)
	self := h.host.ID()
	var wg sync.WaitGroup
	var mu sync.Mutex
	found := false
	for _, d := range rv.dhts {
		ctx, cancel := context.WithTimeout(h.ctx, dhtQueryTimeout)
		for ai := range d.FindProvidersAsync(ctx, key, providersPerLookup) {
			if ai.ID == self {
				continue
			}
			h.rvFound.Add(1)
			if h.gate.blocked(ai.ID) || h.host.Network().Connectedness(ai.ID) == network.Connected {
				continue
			}
			wg.Add(1)
			go func(ai peer.AddrInfo) {
				defer wg.Done()
				dctx, dcancel := context.WithTimeout(h.ctx, dialTimeout)
				defer dcancel()
				if err := h.dialDirect(dctx, ai, "DHT rendezvous"); err != nil {
					h.log.Debug("DHT: node of a group unreachable", "group", g.Short(), "remote", ai.ID, "err", err)
					return
				}
				h.log.Info("connected to a node found by DHT rendezvous", "group", g.Short(), "remote", ai.ID, "via", h.viaOf(ai.ID))
				mu.Lock()
				found = true
				mu.Unlock()
			}(ai)
		}
		cancel()
	}
	wg.Wait()
	return found
}

// readersOf counts the connected peers that may read g.
func (h *Host) readersOf(g crdt.ID) int {
	n := 0
	for _, p := range h.host.Network().Peers() {
		if key, err := KeyOf(p); err == nil && h.r.MayRead(g, key) {
			n++
		}
	}
	return n
}
