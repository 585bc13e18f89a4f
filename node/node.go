package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/httpapi"
	"github.com/mutual-aid/mutual/node/loglimit"
	"github.com/mutual-aid/mutual/node/p2p"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/node/store"
)

// ErrRunning means a node is serving this data dir; talk to it over HTTP.
var ErrRunning = store.ErrLocked

// Local is a data dir opened in this process: identity, store, replica.
type Local struct {
	Dir      string
	ID       *Identity
	Store    *store.Store
	Replica  *replica.Replica
	onLocal  atomic.Pointer[func(crdt.ID, [][]byte)]
	name     atomic.Pointer[string] // set by Rename
	closeOne bool
	inc      *incarnation // nil when opened read-only
	log      *slog.Logger
}

// OpenLocal opens a data dir, creating the identity on first use. It
// fails with ErrRunning when another process has it open. If the data
// dir looks like a copy (see incarnation.go), a change in a group where
// this node has signed ops fails with replica.ErrUnconfirmed: with no
// network, nothing can confirm it.
func OpenLocal(dir string, logger *slog.Logger) (*Local, error) {
	return openLocal(dir, logger, 0)
}

// openLocal is OpenLocal with replica.Config.ConfirmWait.
func openLocal(dir string, logger *slog.Logger, confirmWait time.Duration) (*Local, error) {
	if logger == nil {
		logger = slog.Default()
	}
	id, _, err := Init(dir, "")
	if err != nil {
		return nil, err
	}
	st, err := store.Open(filepath.Join(dir, storeDir), store.Config{Logger: logger})
	if err != nil {
		return nil, err
	}
	inc := readIncarnation(dir)
	l := &Local{Dir: dir, ID: id, Store: st, inc: inc, log: logger}
	rep, err := replica.Open(st, replica.Config{
		Key: id.Key, Name: id.Name, Logger: logger,
		OnLocalOps: func(g crdt.ID, raws [][]byte) {
			if f := l.onLocal.Load(); f != nil {
				(*f)(g, raws)
			}
		},
		Restored: inc.restored, Unconfirmed: inc.unconfirmed, ConfirmWait: confirmWait,
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	l.Replica = rep
	if n := len(rep.Unconfirmed()); inc.restored && n > 0 {
		logger.Warn("this data dir looks restored from a copy: in each group where this node has signed ops, it signs nothing more until it has synced with another node of the group",
			"groups", n)
	}
	// A failed write (a full disk) leaves the data dir looking like a
	// copy at the next start: the safe side.
	if err := inc.write(rep.Unconfirmed()); err != nil {
		logger.Warn("cannot record the data dir's incarnation", "err", err)
	}
	return l, nil
}

// Close closes the replica, then the store.
func (l *Local) Close() error {
	if l.closeOne {
		return nil
	}
	l.closeOne = true
	l.Replica.Close()
	return l.Store.Close()
}

// ServeConfig configures Serve.
type ServeConfig struct {
	Dir    string
	Listen []string // libp2p multiaddrs; empty = defaults
	HTTP   string   // default 127.0.0.1:7777
	Peers  []string
	NoMDNS bool
	// Bootstrap lists nodes to join the DHT through (--bootstrap);
	// NoDHT turns the DHT rendezvous off (--no-dht); PublicDHT uses the
	// public IPFS DHT too (--public-dht); Relay offers relay service
	// (--relay). See p2p.Config.
	Bootstrap []string
	NoDHT     bool
	PublicDHT bool
	Relay     bool
	// RestoredOK says that this data dir is not an old copy, or that no
	// other node can hold ops of this node that it lacks, although the
	// data dir looks like a copy: the node signs at once (the
	// --restored-ok flag). If that is wrong, its next ops fork.
	RestoredOK bool
	// ConfirmWait is how long a change waits for a sync with another
	// node of its group when the data dir looks like a copy; default
	// DefaultConfirmWait.
	ConfirmWait time.Duration
	// Logger receives the node's logs, Badger's and libp2p's included,
	// each kind at most once a minute (see logLimit). Nil means
	// slog.Default().
	Logger *slog.Logger
	// Ready, if set, is called once the node serves, with its HTTP
	// address and the join URL in meeting mode ("" otherwise).
	Ready func(httpAddr, joinURL string, n *Node)
	// PublishQueue is how many group commits may wait to be published
	// (default 4096); past that their ops wait for the next catch-up.
	PublishQueue int
	// SyncEvery is the period of catch-up with each peer (default
	// p2p.DefaultSyncEvery).
	SyncEvery time.Duration
}

// publishHold, while set, holds the publisher until it is closed: a
// test fills the publish queue with it.
var publishHold atomic.Pointer[chan struct{}]

// DefaultConfirmWait is ServeConfig.ConfirmWait's default: time to dial
// a peer and run a catch-up session with it.
const DefaultConfirmWait = 10 * time.Second

// logLimit is the rate limit of a node's log: a path that load or a peer
// can repeat (a full queue, a full disk, a failing peer) writes a line at
// most once a minute, with a count of the ones held back. The same event
// about another peer or group is another kind.
var logLimit = loglimit.Config{Every: time.Minute, Distinct: []string{"remote", "group"}}

// Node is a serving node.
type Node struct {
	Local *Local
	Host  *p2p.Host
	API   *httpapi.Server
}

// Serve runs a node until ctx ends.
func Serve(ctx context.Context, cfg ServeConfig) error {
	if cfg.HTTP == "" {
		cfg.HTTP = "127.0.0.1:7777"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ConfirmWait <= 0 {
		cfg.ConfirmWait = DefaultConfirmWait
	}
	// Every component logs through this one limited logger. Its counts
	// are written last, once everything else has stopped.
	lim := loglimit.New(cfg.Logger.Handler(), logLimit)
	log := slog.New(lim)
	limCtx, stopLim := context.WithCancel(context.Background())
	limDone := make(chan struct{})
	go func() { defer close(limDone); lim.Run(limCtx) }()
	defer func() { stopLim(); <-limDone }()
	t0 := time.Now()
	l, err := openLocal(cfg.Dir, log, cfg.ConfirmWait)
	if err != nil {
		if errors.Is(err, store.ErrLocked) {
			if a := APIAddr(cfg.Dir); a != "" {
				return fmt.Errorf("a node is already serving %s (http://%s)", cfg.Dir, a)
			}
		}
		return err
	}
	defer l.Close()
	tStore := time.Since(t0)
	if g := l.Replica.Unconfirmed(); cfg.RestoredOK && len(g) > 0 {
		log.Warn("--restored-ok: signing again without hearing from another node first", "groups", len(g))
		if err := l.Confirm(g...); err != nil {
			return fmt.Errorf("record --restored-ok in the data dir: %w", err)
		}
	}

	host, err := p2p.Start(p2p.Config{
		Key:       l.ID.LibP2PKey(),
		Listen:    cfg.Listen,
		Peers:     cfg.Peers,
		MDNS:      !cfg.NoMDNS,
		DHT:       !cfg.NoDHT,
		Bootstrap: cfg.Bootstrap,
		PublicDHT: cfg.PublicDHT,
		Relay:     cfg.Relay,
		PeerFile:  filepath.Join(cfg.Dir, peersFile),
		Logger:    log,
		OnSynced:  func(_ crdt.PublicKey, groups []crdt.ID) { l.synced(groups) },
		SyncEvery: cfg.SyncEvery,
		OnSession: l.followed,
	}, l.Replica.Sync())
	if err != nil {
		return fmt.Errorf("start libp2p: %w", err)
	}
	defer host.Close()
	n := &Node{Local: l, Host: host}
	// The replica's writer hands over this node's new ops, a group
	// commit's at a time; a publisher goroutine sends them, so that the
	// writer never waits on the network. What has queued up by the time
	// it sends goes out together (frames, p2p.Host.PublishStored). If
	// the queue is full, the ops are not lost: catch-up delivers them.
	type outOps struct {
		g    crdt.ID
		raws [][]byte
	}
	queueLen := cfg.PublishQueue
	if queueLen <= 0 {
		queueLen = 4096
	}
	queue := make(chan outOps, queueLen)
	pubDone := make(chan struct{})
	pubCtx, stopPub := context.WithCancel(context.Background())
	send := func(o outOps) {
		if hold := publishHold.Load(); hold != nil {
			select {
			case <-*hold:
			case <-pubCtx.Done():
			}
		}
		if err := host.JoinGroup(o.g); err != nil {
			log.Warn("join topic", "err", err)
		}
		ctx, cancel := context.WithTimeout(pubCtx, 5*time.Second)
		if err := host.PublishStored(ctx, o.g, o.raws); err != nil {
			log.Debug("publish", "err", err)
		}
		cancel()
	}
	go func() {
		defer close(pubDone)
		for {
			select {
			case <-pubCtx.Done():
				return
			case o := <-queue:
				// Take what else is queued, a group's ops together in
				// the order they were committed.
				batch := []outOps{o}
			more:
				for len(batch) < 64 {
					select {
					case o := <-queue:
						if i := slices.IndexFunc(batch, func(b outOps) bool { return b.g == o.g }); i >= 0 {
							batch[i].raws = append(batch[i].raws, o.raws...)
						} else {
							batch = append(batch, o)
						}
					default:
						break more
					}
				}
				for _, o := range batch {
					send(o)
				}
			}
		}
	}()
	defer func() { stopPub(); <-pubDone }()
	publish := func(g crdt.ID, raws [][]byte) {
		select {
		case queue <- outOps{g, raws}:
		default:
			log.Warn("publish queue full; peers get these ops at the next catch-up", "ops", len(raws))
		}
	}
	l.onLocal.Store(&publish)
	rememberAddrs(cfg.Dir, host)
	// Retention: erase the private fields of posts settled long enough,
	// now (and whatever an erasure cut short finished) and every hour.
	sweepDone := make(chan struct{})
	go func() {
		defer close(sweepDone)
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			if _, err := l.Replica.SweepErasure(); err != nil {
				log.Warn("erasing the private fields of settled posts", "err", err)
			}
			select {
			case <-pubCtx.Done():
				return
			case <-t.C:
			}
		}
	}()
	defer func() { stopPub(); <-sweepDone }()
	// A node that joined with an invite dials the inviter's addresses:
	// each peer once, however many groups name it. (p2p.Start joined
	// every group's topic.)
	// The codes' addresses join the bootstrap list too (onGroup).
	if addrs := inviterAddrs(l.Replica.Groups()); len(addrs) > 0 {
		host.AddBootstrap(addrs...)
		go connectInviters(ctx, host, log, addrs)
	}

	ln, err := net.Listen("tcp", cfg.HTTP)
	if err != nil {
		return fmt.Errorf("HTTP on %s: %w", cfg.HTTP, err)
	}
	meeting := !isLoopback(ln.Addr())
	api := httpapi.New(httpapi.Config{
		Board:   l.Replica,
		Node:    func() httpapi.NodeInfo { return nodeInfo(l, host) },
		Peers:   func() []httpapi.PeerInfo { return peerInfos(l, host) },
		Meeting: meeting,
		Logger:  log,
		Rename:  l.Rename,
		OnGroup: func(g crdt.ID, addrs []string) { onGroup(ctx, host, log, g, addrs) },
		// Ops that arrive on a USB stick go to the peers at once, as
		// those a catch-up session brings do.
		OnImport: host.Spread,
		Receipts: Receipts{Dir: cfg.Dir},
		PeerKeys: PeerKeys,
	})
	defer api.Close()
	n.API = api
	// Requests run under reqCtx: when the node stops, Shutdown waits a
	// few seconds for them, then reqCtx ends (an import stops at its next
	// batch) and Drain waits until every handler has returned, before the
	// host and the store close (deferred above, so run after this).
	reqCtx, stopReqs := context.WithCancel(context.Background())
	defer func() {
		stopReqs()
		t0 := time.Now()
		api.Drain(context.Background())
		if d := time.Since(t0); d > time.Second {
			log.Info("waited for running HTTP requests", "ms", d.Milliseconds())
		}
	}()
	srv := api.HTTPServer(reqCtx)
	// Open event streams would hold Shutdown until its timeout: end them.
	srv.RegisterOnShutdown(func() { api.Close() })
	addr := ln.Addr().String()
	if err := os.WriteFile(filepath.Join(cfg.Dir, apiFile), []byte(addr+"\n"), 0o644); err != nil {
		// A full disk: serve the board anyway (read-only, see the store).
		log.Warn("could not record the API address in the data dir: commands run on it will not find this node", "err", err)
	}
	defer os.Remove(filepath.Join(cfg.Dir, apiFile))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	joinURL := ""
	if meeting {
		joinURL = api.JoinURL("http://" + lanAddr(ln.Addr()))
	}
	log.Info("node ready", "store_ms", tStore.Milliseconds(), "total_ms", time.Since(t0).Milliseconds(), "groups", len(l.Replica.Groups()))
	if cfg.Ready != nil {
		cfg.Ready(addr, joinURL, n)
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Info("HTTP requests still running at shutdown; stopping them", "err", err)
	}
	return nil
}

func isLoopback(a net.Addr) bool {
	t, ok := a.(*net.TCPAddr)
	return ok && t.IP.IsLoopback()
}

// lanAddr replaces an unspecified listen address with this machine's
// first non-loopback address, for the join link.
func lanAddr(a net.Addr) string {
	t, ok := a.(*net.TCPAddr)
	if !ok || !t.IP.IsUnspecified() {
		return a.String()
	}
	addrs, _ := net.InterfaceAddrs()
	for _, x := range addrs {
		if ipn, ok := x.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			return net.JoinHostPort(ipn.IP.String(), fmt.Sprint(t.Port))
		}
	}
	return a.String()
}
