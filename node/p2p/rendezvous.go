package p2p

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
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
// One goroutine (rendezvousLoop) does everything, one query at a time,
// in the order and within the budget of bytes that rvSchedule sets
// (rendezvous_budget.go): groups added while running first, then the
// groups with no connected reader (lookups, with a back-off per group
// from rendezvousMin to rendezvousMax while they find no one, and
// advertisements every hour), then the others (advertised every 12
// hours, out of the budget above a reserve). After a start the budget
// is full (rvBurst) and then refills at rvRate, so that a node in
// hundreds of groups spreads its advertisements over minutes or hours
// instead of spending them all at once. With an empty routing table (no
// internet, no bootstrap peer up) a round only checks the table: the
// DHT dials the bootstrap list itself every 2 minutes, and logs nothing
// a volunteer reads.

// Tuning. Variables for tests.
var (
	rendezvousFirst = 2 * time.Second  // first round after start; the least time between rounds
	rendezvousMin   = 10 * time.Second // the first back-off of a lookup; the wait while not in the DHT
	rendezvousMax   = 10 * time.Minute // the longest back-off of fruitless lookups, and between rounds
)

// publicBootstrap lists the public IPFS DHT's bootstrap nodes (a
// variable for tests, which must not reach the internet).
var publicBootstrap = dht.GetDefaultBootstrapPeerAddrInfos

const (
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

	queries atomic.Int64 // queries made, for tests and benchmarks
	spent   atomic.Int64 // the bytes they were charged with
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
			dht.BootstrapPeers(publicBootstrap()...))
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
	sched := newRVSchedule(time.Now())
	joined := false
	last := time.Time{}
	for {
		t := time.NewTimer(jitter(wait))
		select {
		case <-h.ctx.Done():
			t.Stop()
			return
		case <-rv.wake:
			t.Stop()
			// However often woken, at most one round every rendezvousFirst.
			if d := rendezvousFirst - time.Since(last); d > 0 && !h.sleep(d) {
				return
			}
		case <-t.C:
		}
		last = time.Now()
		if h.dhtEmpty() {
			joined = false
			wait = rendezvousMin
			continue
		}
		if !joined {
			// (Re)joined the DHT: the records may be gone with the nodes
			// that held them. Advertise everything again.
			joined = true
			sched.rejoined()
		}
		sched.setGroups(h.r.Groups())
		// Rounds come at most every rendezvousMin unless woken: with
		// the budget short, each then makes a few queries rather than one.
		wait = min(max(h.rendezvousRound(rv, sched), rendezvousMin), rendezvousMax)
	}
}

// rendezvousRound makes the queries that the schedule says are due and
// the budget allows, one at a time, and returns how long until the next
// one (rendezvousMax if none).
func (h *Host) rendezvousRound(rv *rendezvous, sched *rvSchedule) time.Duration {
	// Which groups are lonely, once a round: with 1,000 groups asking
	// for each query was most of an idle node's CPU.
	var keys []crdt.PublicKey
	for _, p := range h.host.Network().Peers() {
		if key, err := KeyOf(p); err == nil {
			keys = append(keys, key)
		}
	}
	alone := map[crdt.ID]bool{}
	for g := range sched.groups {
		if !slices.ContainsFunc(keys, func(k crdt.PublicKey) bool { return h.r.MayRead(g, k) }) {
			alone[g] = true
		}
	}
	lonely := func(g crdt.ID) bool { return alone[g] }
	for h.ctx.Err() == nil {
		task, wait, ok := sched.next(time.Now(), lonely)
		if !ok {
			if wait == 0 {
				return rendezvousMax
			}
			return wait
		}
		before := h.dhtBytes()
		var success bool
		if task.kind == rvLookup {
			success = h.lookup(rv, task.group)
		} else {
			success = h.advertise(rv, task.group)
		}
		// A query that fails at once (its peers gone, dials refused)
		// still costs rvMinCost, so that a DHT in that state cannot
		// have the whole list of groups queried in one go.
		cost := max(h.dhtBytes()-before, rvMinCost)
		rv.queries.Add(1)
		rv.spent.Add(cost)
		sched.done(time.Now(), task, cost, success)
	}
	return 0
}

// dhtBytes is the bytes the host's streams other than gossip and
// catch-up carried so far, both ways: what a DHT query is charged with.
func (h *Host) dhtBytes() int64 {
	t := h.Traffic()
	return t.OtherIn + t.OtherOut
}

// advertise advertises g on every DHT; it reports whether one stored it.
func (h *Host) advertise(rv *rendezvous, g crdt.ID) bool {
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
		h.log.Debug("DHT: group advertised", "group", g.Short())
	}
	return ok
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
			h.foundHolder(g, ai)
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
