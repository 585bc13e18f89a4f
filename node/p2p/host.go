package p2p

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/host/autorelay"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	tls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
	"github.com/mutual-aid/mutual/protocol"
)

// Host is a running libp2p node replicating a catchup.Replica.
type Host struct {
	cfg     Config
	log     *slog.Logger
	r       catchup.Replica
	host    host.Host
	ps      *pubsub.PubSub
	mesh    *meshTracer
	gate    *denyList
	disc    io.Closer // mDNS, or nil
	evs     event.Subscription
	file    *peerFile
	traffic *trafficCounter // bytes on libp2p streams, by protocol
	rv      *rendezvous     // the DHTs, or nil (rendezvous.go)
	ready   chan struct{}   // closed once host is set (or Start failed)

	// ctx is cancelled by Close; every goroutine the host starts watches it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu            sync.Mutex
	closed        bool
	peers         map[peer.ID]*peerRecord
	topics        map[crdt.ID]*groupTopic
	byTopic       sync.Map                        // topic name → group ID, of the topics joined
	pendingTopics map[crdt.ID]bool                // groups to join once their topic is known
	sessions      map[peer.ID]*slot               // one outbound catch-up session per peer at a time
	inbound       map[peer.ID]int                 // catch-up sessions each peer has open here (maxInbound)
	progress      map[peer.ID][]*catchup.Progress // of the catch-up sessions running with each peer
	wake          map[peer.ID]chan struct{}       // pokes the dialler of a kept peer when it disconnects
	dialled       map[peer.ID]bool                // peers with a dialler (kept: Config.Peers and the peer file)
	dialling      map[peer.ID]*slot               // one direct dial per peer at a time (dialDirect)
	gaps          map[peer.ID]map[gapKey]gap      // gaps a peer's gossip came past, to check (mendGap)
	spreading     bool                            // a spread is scheduled
	spreadGroups  map[crdt.ID]bool                // the groups it passes on (Stats.Fresh)
	spreadAll     bool                            // to every connected peer (Spread)
	spreadBy      map[peer.ID]bool                // the peers whose sessions brought them
	boot          []peer.AddrInfo                 // bootstrap list (bootstrapPeers)
	pexGen        uint64                          // bumped when a peer connects or leaves (pex.go)
	pexSent       map[peer.ID]uint64              // pexGen when each peer was last told (pex.go)
	pexIn         map[peer.ID]time.Time           // when each peer last told us (pex.go)
	moved         map[peer.ID]uint64              // of kept peers: sessions that carried ops (redial)
	pushing       map[crdt.ID]bool                // groups whose followers a scheduled push serves
	holds         *holds                          // proof of holding, both ends (holds.go)
	untopical     bool                            // a push of ops of a group without a topic is scheduled (visit.go)

	dialFailures atomic.Int64                        // failed dials of kept peers, for tests
	keptDials    atomic.Int64                        // successful dials of kept peers, for tests
	punished     atomic.Int64                        // peers punished, for tests
	scores       atomic.Pointer[map[peer.ID]float64] // GossipSub scores (score.go)
	refused      atomic.Int64                        // catch-up streams refused (maxInbound), for tests
	idleResets   atomic.Int64                        // catch-up streams reset for idleness, for tests
	framedOps    atomic.Int64                        // new ops stored from gossip frames, for tests
	lackedPrev   atomic.Int64                        // gossip messages ignored for a prev not held (prev.go), for tests
	prevDoubts   atomic.Int64                        // gossip messages ignored for a prev held here that fails (prev.go), for tests
	dials        atomic.Int64                        // direct dials made (Dials)
	pexDials     atomic.Int64                        // dials of peers learned by peer exchange, for tests
	limitedConns atomic.Int64                        // peers reached through a relay, for tests
	rvFound      atomic.Int64                        // nodes found under a rendezvous key, for tests
	holdersFound atomic.Int64                        // DHT-found nodes taken as sources of a followed group, for tests
	pushes       atomic.Int64                        // sessions that pushed to followers, for tests

	closeOnce sync.Once
	closeErr  error
}

// PeerInfo describes a peer the host knows: connected now, or remembered.
type PeerInfo struct {
	ID        peer.ID
	Key       crdt.PublicKey
	Addrs     []string
	Connected bool
	// Via is how the peer is reached (ViaDirect, ViaLAN, ViaRelayed):
	// now if it is connected, else the last time it was in this
	// process or the peer file; "" if never.
	Via        string
	LastSeen   time.Time // zero if never connected in this process or before
	LastSynced time.Time // end of the last successful catch-up session
	// Syncing is set while catch-up sessions with the peer receive ops:
	// how many have arrived of how many are coming.
	Syncing *Syncing
}

// Syncing is how far the catch-up sessions with a peer have come
// receiving ops (catchup.Progress, summed over the sessions running).
type Syncing struct {
	Done, Total int64
}

type peerRecord struct {
	key        crdt.PublicKey
	addrs      []string
	connected  bool   // a connection, direct or relayed
	via        string // how it was reached last
	remember   bool   // written to the peer file
	lastSeen   time.Time
	lastSynced time.Time
	follows    map[crdt.ID]bool // groups served to it as a follower in its last session
}

// Start starts a host for replica r: it listens, joins the GossipSub
// topics of r.Groups(), serves catch-up, dials cfg.Peers and the
// remembered peers, and runs mDNS if asked.
func Start(cfg Config, r catchup.Replica) (*Host, error) {
	cfg, kept, err := cfg.validated()
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, errors.New("p2p: nil replica")
	}
	routeLibp2pLogs(cfg.Logger.Handler())
	h := &Host{
		cfg:           cfg,
		log:           cfg.Logger.With("component", "p2p"),
		r:             r,
		gate:          newDenyList(time.Now),
		peers:         map[peer.ID]*peerRecord{},
		pendingTopics: map[crdt.ID]bool{},
		topics:        map[crdt.ID]*groupTopic{},
		sessions:      map[peer.ID]*slot{},
		inbound:       map[peer.ID]int{},
		progress:      map[peer.ID][]*catchup.Progress{},
		wake:          map[peer.ID]chan struct{}{},
		dialled:       map[peer.ID]bool{},
		dialling:      map[peer.ID]*slot{},
		gaps:          map[peer.ID]map[gapKey]gap{},
		pexSent:       map[peer.ID]uint64{},
		pexIn:         map[peer.ID]time.Time{},
		moved:         map[peer.ID]uint64{},
		holds:         newHolds(),
		ready:         make(chan struct{}),
	}
	listen := cfg.Listen
	if len(listen) == 0 {
		listen = defaultListen()
	}
	h.traffic = &trafficCounter{}
	h.gate.refuse = cfg.refuse
	// AutoRelay may ask for candidates at once: it waits for ready,
	// closed when Start returns, the bootstrap list filled.
	defer close(h.ready)
	h.host, err = newLibp2pHost(cfg, listen, h.gate, h.traffic, h.relayCandidates)
	if err != nil {
		return nil, fmt.Errorf("p2p: %w", err)
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	fail := func(err error) (*Host, error) {
		h.cancel()
		h.host.Close()
		return nil, fmt.Errorf("p2p: %w", err)
	}
	h.mesh = newMeshTracer(h.log)
	if h.ps, err = h.newPubSub(); err != nil {
		return fail(err)
	}
	if h.evs, err = h.host.EventBus().Subscribe(new(event.EvtPeerConnectednessChanged)); err != nil {
		return fail(err)
	}
	h.host.SetStreamHandler(protocol.SyncProtocol, h.handleSync)
	h.host.SetStreamHandler(protocol.PexProtocol, h.handlePex)
	h.host.SetStreamHandler(protocol.HoldsProtocol, h.handleHolds)
	for _, g := range r.Groups() {
		if err := h.JoinGroup(g); err != nil {
			h.evs.Close()
			return fail(err)
		}
	}
	h.spawn(h.eventLoop)
	h.spawn(h.syncLoop)
	h.spawn(h.repairLoop)

	if cfg.PeerFile != "" {
		h.file = &peerFile{path: cfg.PeerFile}
		remembered, err := h.file.load()
		if err != nil {
			h.log.Warn("peer file unreadable; starting without it", "path", cfg.PeerFile, "err", err)
		}
		for _, e := range remembered {
			h.remember(e)
			if ai, ok := e.addrInfo(); ok {
				kept = append(kept, ai)
			}
		}
	}
	for _, a := range cfg.Bootstrap {
		ai, _ := peer.AddrInfoFromString(a) // checked by validated
		h.addBoot(*ai)
	}
	for _, ai := range kept {
		h.addBoot(ai)
		h.keep(ai)
	}
	if cfg.DHT {
		if err := h.startRendezvous(); err != nil {
			h.Close()
			return nil, fmt.Errorf("p2p: DHT: %w", err)
		}
	}
	if cfg.MDNS {
		if h.disc, err = h.startMDNS(); err != nil {
			h.log.Warn("mDNS discovery unavailable; use typed or invite addresses", "err", err)
			h.disc = nil
		}
	}
	h.log.Info("p2p host started", "id", h.host.ID().String(), "addrs", h.Addrs(), "mdns", h.disc != nil,
		"dht", h.rv != nil, "relay_service", cfg.Relay)
	return h, nil
}

// newLibp2pHost builds the libp2p host: TCP and QUIC, Noise and TLS,
// yamux, resource limits sized for a group's few dozen laptops plus
// strangers on the same network, and a connection manager that trims
// well before those limits.
//
// Every node can reach others through a relay and take part in hole
// punching (DCUtR); when AutoNAT finds it behind NAT, it reserves a slot
// at a relay (relays: candidates, see relayCandidates) and advertises
// the relayed address. A node with cfg.Relay offers the relay service.
func newLibp2pHost(cfg Config, listen []string, gate *denyList, bw metrics.Reporter, relays autorelay.PeerSource) (host.Host, error) {
	const (
		memory = 256 << 20
		fds    = 1024
	)
	limits := rcmgr.PartialLimitConfig{
		System: rcmgr.ResourceLimits{
			Conns: 384, ConnsInbound: 256, ConnsOutbound: 256,
			Streams: 4096, StreamsInbound: 2048, StreamsOutbound: 2048,
			FD: 512, Memory: memory,
		},
		Transient: rcmgr.ResourceLimits{
			Conns: 64, ConnsInbound: 32, ConnsOutbound: 32,
			Streams: 256, StreamsInbound: 128, StreamsOutbound: 128,
			FD: 64, Memory: 32 << 20,
		},
	}.Build(rcmgr.DefaultLimits.Scale(memory, fds))
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits))
	if err != nil {
		return nil, err
	}
	cm, err := connmgr.NewConnManager(96, 192, connmgr.WithGracePeriod(time.Minute))
	if err != nil {
		return nil, err
	}
	opts := []libp2p.Option{
		libp2p.Identity(cfg.Key),
		libp2p.ListenAddrStrings(listen...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Security(tls.ID, tls.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.ConnectionGater(gate),
		libp2p.DisableMetrics(),
		libp2p.BandwidthReporter(bw),
		libp2p.UserAgent("mutual"),
		libp2p.EnableHolePunching(),
		libp2p.EnableAutoRelayWithPeerSource(relays,
			autorelay.WithMinCandidates(1), autorelay.WithBootDelay(relayBootDelay),
			autorelay.WithBackoff(relayBackoff), autorelay.WithMinInterval(relayMinInterval)),
	}
	switch {
	case cfg.Relay:
		res := RelayResources()
		if cfg.relayLimit != nil {
			res.Limit = cfg.relayLimit
		}
		opts = append(opts, libp2p.EnableRelayService(relayv2.WithResources(res)), libp2p.ForceReachabilityPublic())
	case cfg.forcePrivate:
		// No AutoNAT service here: libp2p never closes its dial-back
		// host when reachability is forced private.
		opts = append(opts, libp2p.ForceReachabilityPrivate())
	}
	if !cfg.forcePrivate {
		// Help other nodes learn whether they are reachable (rate-limited
		// by libp2p: 30 dial-backs a minute, 3 per peer).
		opts = append(opts, libp2p.EnableNATService())
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		rm.Close()
		cm.Close()
		return nil, err
	}
	return h, nil
}

// spawn runs fn in a goroutine that Close waits for, unless the host is
// closing.
func (h *Host) spawn(fn func()) bool {
	if !h.enter() {
		return false
	}
	go func() {
		defer h.wg.Done()
		fn()
	}()
	return true
}

// enter counts the calling goroutine in h.wg, unless the host is closing.
func (h *Host) enter() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.wg.Add(1)
	return true
}

// Close stops the host and every goroutine it started. It is safe to
// call more than once.
func (h *Host) Close() error {
	h.closeOnce.Do(func() {
		h.mu.Lock()
		h.closed = true
		h.mu.Unlock()
		h.cancel()
		var errs []error
		if h.disc != nil {
			errs = append(errs, h.disc.Close())
		}
		h.host.RemoveStreamHandler(protocol.SyncProtocol)
		h.host.RemoveStreamHandler(protocol.PexProtocol)
		h.host.RemoveStreamHandler(protocol.HoldsProtocol)
		h.wg.Wait()
		if h.rv != nil {
			errs = append(errs, h.rv.close())
		}
		errs = append(errs, h.evs.Close())
		h.mu.Lock()
		for _, rec := range h.peers {
			if rec.connected {
				rec.lastSeen = time.Now()
			}
		}
		h.mu.Unlock()
		errs = append(errs, h.savePeers())
		errs = append(errs, h.host.Close())
		h.closeErr = errors.Join(errs...)
		t := h.Traffic()
		h.log.Info("p2p host stopped", "gossip_in", t.GossipIn, "gossip_out", t.GossipOut, "sync_in", t.SyncIn, "sync_out", t.SyncOut, "other_in", t.OtherIn, "other_out", t.OtherOut)
	})
	return h.closeErr
}

// ID returns the host's peer ID.
func (h *Host) ID() peer.ID { return h.host.ID() }

// Addrs returns the addresses others can dial, with the /p2p/ID suffix,
// loopback addresses last.
func (h *Host) Addrs() []string {
	addrs := slices.Clone(h.host.Addrs())
	slices.SortStableFunc(addrs, func(a, b ma.Multiaddr) int {
		return cmp.Compare(loopbackRank(a), loopbackRank(b))
	})
	suffix := "/p2p/" + h.host.ID().String()
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String() + suffix
	}
	return out
}

func loopbackRank(a ma.Multiaddr) int {
	if manet.IsIPLoopback(a) {
		return 1
	}
	return 0
}

// Connect dials a multiaddr with a /p2p/ID suffix once (`mutual join`
// reaching the inviter). It does not keep the peer: for that, list it in
// Config.Peers.
func (h *Host) Connect(ctx context.Context, addr string) error {
	ai, err := peer.AddrInfoFromString(addr)
	if err != nil {
		return fmt.Errorf("p2p: address %q (it needs a /p2p/ID suffix): %w", addr, err)
	}
	if ai.ID == h.host.ID() {
		return fmt.Errorf("p2p: %s is this node", addr)
	}
	if err := h.dialDirect(ctx, *ai, "user"); err != nil {
		return fmt.Errorf("p2p: connect %s: %w", addr, err)
	}
	return nil
}

// ConnectAll dials every peer that addrs name (multiaddrs with a /p2p/ID
// suffix), each once with all its addresses, and returns the peers it
// is connected to when all dials have ended. A node in hundreds of groups
// joined with invites of the same inviter names that inviter in each:
// one dial, not one per group and address. Addresses it cannot parse,
// and this node's, are skipped.
func (h *Host) ConnectAll(ctx context.Context, addrs []string) []peer.ID {
	byPeer := map[peer.ID]*peer.AddrInfo{}
	var order []peer.ID
	for _, a := range addrs {
		ai, err := peer.AddrInfoFromString(a)
		if err != nil || ai.ID == h.host.ID() {
			continue
		}
		if m := byPeer[ai.ID]; m != nil {
			for _, x := range ai.Addrs {
				if !slices.ContainsFunc(m.Addrs, x.Equal) {
					m.Addrs = append(m.Addrs, x)
				}
			}
			continue
		}
		byPeer[ai.ID] = ai
		order = append(order, ai.ID)
	}
	var mu sync.Mutex
	var out []peer.ID
	var wg sync.WaitGroup
	for _, p := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if h.dialDirect(ctx, *byPeer[p], "user") == nil {
				mu.Lock()
				out = append(out, p)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

// Dials counts the direct dials this host has made (a peer not
// connected already, dialled for Connect, ConnectAll or a kept peer),
// for tests and diagnostics.
func (h *Host) Dials() int64 { return h.dials.Load() }

// dialDirect dials p directly, unless a direct connection to p exists
// already, one dial of p at a time. A second connection to a peer is not
// harmless: when one of the two closes, GossipSub forgets the peer's
// subscriptions (see repair.go). Calls for each address of an invite at
// once (node.onGroup) made two connections, TCP and QUIC; in about one
// three-node setup in 15 (node's BenchmarkRelayLatency, then a test) one of them closed,
// and the inviter never sent the newcomer an op by gossip again.
//
// When no direct address works and p has an address through a relay,
// dialDirect connects through the relay (a limited connection, see
// reach.go).
func (h *Host) dialDirect(ctx context.Context, ai peer.AddrInfo, why string) error {
	return h.dial(ctx, ai, why, true)
}

// dial is dialDirect, through a relay too only if relayOK.
func (h *Host) dial(ctx context.Context, ai peer.AddrInfo, why string, relayOK bool) error {
	sl := h.take(h.dialling, ai.ID)
	defer h.release(h.dialling, ai.ID, sl)
	select {
	case sl.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-sl.sem }()
	for _, c := range h.host.Network().ConnsToPeer(ai.ID) {
		if !c.Stat().Limited {
			h.host.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.TempAddrTTL)
			return nil
		}
	}
	h.dials.Add(1)
	err := h.host.Connect(network.WithForceDirectDial(ctx, why), ai)
	if err == nil || !relayOK || ctx.Err() != nil || !h.hasRelayAddr(ai) {
		return err
	}
	// Only through a relay, then: a limited connection, which hole
	// punching may upgrade (reach.go).
	if h.onlyLimited(ai.ID) {
		return nil
	}
	return h.host.Connect(ctx, peer.AddrInfo{ID: ai.ID})
}

// slot lets one goroutine at a time do something with a peer. It is in
// its map only while some goroutine holds or waits for it, so that the
// map holds no entry for a peer long gone.
type slot struct {
	sem   chan struct{}
	users int // goroutines holding or waiting for sem; under Host.mu
}

// take returns p's slot in m, counting the caller as a user.
func (h *Host) take(m map[peer.ID]*slot, p peer.ID) *slot {
	h.mu.Lock()
	defer h.mu.Unlock()
	sl := m[p]
	if sl == nil {
		sl = &slot{sem: make(chan struct{}, 1)}
		m[p] = sl
	}
	sl.users++
	return sl
}

// release ends the caller's use of sl, deleting it from m if it was the
// last user.
func (h *Host) release(m map[peer.ID]*slot, p peer.ID, sl *slot) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if sl.users--; sl.users == 0 && m[p] == sl {
		delete(m, p)
	}
}

// Peers returns the peers connected now and those remembered, by ID.
func (h *Host) Peers() []PeerInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]PeerInfo, 0, len(h.peers))
	for id, rec := range h.peers {
		if !rec.connected && !rec.remember {
			continue
		}
		via := rec.via
		if rec.connected {
			if v := h.viaOf(id); v != "" {
				via = v
			}
		}
		out = append(out, PeerInfo{ID: id, Key: rec.key, Addrs: slices.Clone(rec.addrs),
			Connected: rec.connected, Via: via, LastSeen: rec.lastSeen, LastSynced: rec.lastSynced,
			Syncing: h.syncingLocked(id)})
	}
	slices.SortFunc(out, func(a, b PeerInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// eventLoop follows connections: it records peers, starts a catch-up
// session on each new connection, and wakes the dialler of a kept peer
// that disconnected.
func (h *Host) eventLoop() {
	for {
		select {
		case <-h.ctx.Done():
			return
		case e, ok := <-h.evs.Out():
			if !ok {
				return
			}
			ev := e.(event.EvtPeerConnectednessChanged)
			switch ev.Connectedness {
			case network.Connected:
				h.connected(ev.Peer)
			case network.Limited:
				h.limitedConns.Add(1)
				h.limited(ev.Peer)
			case network.NotConnected:
				h.disconnected(ev.Peer)
			}
		}
	}
}

func (h *Host) connected(p peer.ID) {
	key, err := KeyOf(p)
	if err != nil {
		h.log.Debug("peer with a non-ed25519 identity; gossip and catch-up will ignore it", "remote", p, "err", err)
		return
	}
	via := h.viaOf(p)
	h.mu.Lock()
	rec := h.record(p, key)
	rec.connected, rec.lastSeen = true, time.Now()
	if via != "" {
		rec.via = via
	}
	h.pexGen++
	h.mu.Unlock()
	h.log.Debug("peer connected", "remote", p, "via", via)
	if h.initiates(p) {
		h.spawn(func() {
			h.syncBackground(p, "connect")
			// Until the GossipSub mesh forms (a heartbeat, about a second)
			// ops published go to no one; a second session covers them.
			t := time.NewTimer(jitter(afterMesh))
			defer t.Stop()
			select {
			case <-h.ctx.Done():
			case <-t.C:
				h.syncBackground(p, "after mesh")
			}
		})
	}
}

func (h *Host) disconnected(p peer.ID) {
	h.mu.Lock()
	h.pexGen++
	delete(h.pexSent, p)
	delete(h.pexIn, p)
	if rec := h.peers[p]; rec != nil {
		rec.connected, rec.lastSeen = false, time.Now()
		if !rec.remember {
			delete(h.peers, p) // a stranger, or a peer met once: forgotten
		}
	}
	wake := h.wake[p]
	h.mu.Unlock()
	h.mesh.RemovePeer(p)
	h.mesh.subs.forget(p)
	h.log.Debug("peer disconnected", "remote", p)
	if wake != nil {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
}

// record returns p's record, creating it. h.mu is held.
func (h *Host) record(p peer.ID, key crdt.PublicKey) *peerRecord {
	rec := h.peers[p]
	if rec == nil {
		rec = &peerRecord{key: key}
		h.peers[p] = rec
	}
	return rec
}

// initiates reports whether this host starts the automatic catch-up
// sessions with p: the side with the smaller peer ID does, so that two
// nodes do not both run the same session.
func (h *Host) initiates(p peer.ID) bool { return h.host.ID() < p }

// punish disconnects a peer that sent an invalid op or a malformed frame
// and refuses it for BlockFor. The line names the peer and the reason;
// its message is fixed, so the node's log limit writes it at most once
// a minute per peer however often the peer offends.
func (h *Host) punish(p peer.ID, reason string, why error) {
	h.punished.Add(1)
	h.log.Warn("peer misbehaved; disconnecting and blocking it", "remote", p, "reason", reason, "for", BlockFor, "err", why)
	h.gate.block(p, BlockFor)
	h.host.ConnManager().Unprotect(p, protectTag)
	_ = h.host.Network().ClosePeer(p)
}

// jitter returns d scaled by a random factor in [0.75, 1.25).
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.75 + rand.Float64()/2))
}

// keep dials ai now and again whenever it is not connected, with
// exponential backoff and jitter.
func (h *Host) keep(ai peer.AddrInfo) {
	if ai.ID == h.host.ID() {
		return
	}
	h.host.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.PermanentAddrTTL)
	h.mu.Lock()
	if h.dialled[ai.ID] {
		h.mu.Unlock()
		return
	}
	h.dialled[ai.ID] = true
	wake := make(chan struct{}, 1)
	h.wake[ai.ID] = wake
	h.mu.Unlock()
	h.spawn(func() { h.redial(ai, wake) })
}

func (h *Host) redial(ai peer.AddrInfo, wake <-chan struct{}) {
	backoff, upgrade := redialMin, upgradeAfter
	var moved uint64
	for {
		switch h.host.Network().Connectedness(ai.ID) {
		case network.Connected:
			backoff, upgrade = redialMin, upgradeAfter
			select {
			case <-h.ctx.Done():
				return
			case <-wake:
			}
			continue
		case network.Limited:
			// Reached only through a relay. Hole punching may bring a
			// direct connection by itself; meanwhile try one now and then.
			t := time.NewTimer(jitter(upgrade))
			select {
			case <-h.ctx.Done():
				t.Stop()
				return
			case <-wake:
				t.Stop()
				continue
			case <-t.C:
			}
			if h.onlyLimited(ai.ID) && h.upgrade(ai.ID) != nil {
				upgrade = min(upgrade*2, upgradeMax)
			}
			continue
		}
		// The connection before carried ops: a relay cut it at its data
		// limit, most likely. Go on at once; the sessions resume.
		if m := h.movedOps(ai.ID); m > moved {
			moved, backoff = m, redialMin
		}
		if !h.gate.blocked(ai.ID) {
			ctx, cancel := context.WithTimeout(h.ctx, dialTimeout)
			err := h.dialDirect(ctx, peer.AddrInfo{ID: ai.ID}, "kept peer")
			cancel()
			if err == nil {
				h.keptDials.Add(1)
				h.log.Info("connected to kept peer", "remote", ai.ID, "via", h.viaOf(ai.ID))
				// A peer may close the connection at once (its resource
				// manager still counts this node's connections from before
				// a restart): look again only after the backoff, or this
				// loop spins.
				if !h.sleep(jitter(backoff)) {
					return
				}
				if h.host.Network().Connectedness(ai.ID) == network.NotConnected && h.movedOps(ai.ID) == moved {
					backoff = min(backoff*2, redialMax)
				}
				continue
			}
			if h.ctx.Err() != nil {
				return
			}
			h.dialFailures.Add(1)
			h.log.Debug("dial failed; will retry", "remote", ai.ID, "in", backoff, "err", err)
		}
		if !h.sleep(jitter(backoff)) {
			return
		}
		backoff = min(backoff*2, redialMax)
	}
}

// movedOps returns how many catch-up sessions with p carried ops.
func (h *Host) movedOps(p peer.ID) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.moved[p]
}

// carried records that a session with p carried ops, if p is kept.
func (h *Host) carried(p peer.ID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dialled[p] {
		h.moved[p]++
	}
}

// sleep waits d, or until the host closes (then it returns false).
func (h *Host) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-h.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
