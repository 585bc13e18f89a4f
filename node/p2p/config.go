package p2p

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
)

// DefaultPort is the TCP and UDP port a node listens on by default.
const DefaultPort = 4001

// MDNSService is the mDNS service name nodes announce at a meeting.
const MDNSService = "mutual"

// Tuning. They are constants rather than Config fields because nothing
// in a deployment has needed to change them yet.
const (
	// DefaultSyncEvery is the default period of catch-up with each peer.
	DefaultSyncEvery = 30 * time.Second
	// BlockFor is how long a peer that sent an invalid op is refused.
	BlockFor = 10 * time.Minute
	// redialMin and redialMax bound the backoff between dials of a --peer
	// or remembered peer that is not connected.
	redialMin = time.Second
	redialMax = time.Minute
	// sessionTimeout bounds one catch-up session.
	sessionTimeout = 5 * time.Minute
	// maxInbound is how many catch-up sessions one peer may have open to
	// this node at once; a stream beyond them is reset at once. Members
	// run one at a time each way (Host.sessions); two leave room for a
	// session the peer saw end before this node did.
	maxInbound = 2
	// maxPeerTopics bounds the topics a peer may announce to this node
	// (pubsub and the host remember each); a federation of a few dozen
	// groups stays far below.
	maxPeerTopics = 1024
	// maxBlocked bounds the connection gater's list of blocked peers;
	// beyond it, the block that ends soonest goes first.
	maxBlocked = 4096
	// afterMesh is when, after a connection, a second catch-up session
	// runs: by then the GossipSub mesh has formed (one heartbeat).
	afterMesh = 3 * time.Second
	// gapWait is how long a gap in an author's log that a peer's gossip
	// came past may stay open before a catch-up session with the peer
	// mends it (see Host.mendGap).
	gapWait = 500 * time.Millisecond
	// spreadDelay is how soon after a catch-up that brought new ops the
	// node syncs with its other peers (see Host.spread).
	spreadDelay = 200 * time.Millisecond
	// followDelay is how soon after this node stored new ops of a group
	// (its own, gossip's) it pushes them to the connected peers that
	// follow the group (see Host.pushFollowers); what is stored meanwhile
	// goes in the same sessions.
	followDelay = 500 * time.Millisecond
	// dialTimeout bounds one dial.
	dialTimeout = 15 * time.Second
	// rememberMax bounds the peer file; the least recently seen go first.
	rememberMax = 128
	// forgetAfter drops a remembered peer not seen for that long.
	forgetAfter = 60 * 24 * time.Hour
	// idontwantThreshold is the size from which a gossip message is
	// announced with IDONTWANT (see gossipParams).
	idontwantThreshold = 128
	// gossip queue sizes: GossipSub's default of 32 drops live messages
	// under a burst (see docs/operations.md).
	outboundQueue = 4096
	validateQueue = 4096
)

// idleTimeout resets a catch-up stream on which the peer sent nothing
// for that long: a stranger holding hundreds of streams open holds them
// for that, not for sessionTimeout. A variable for tests.
var idleTimeout = 30 * time.Second

// Config configures a Host. Only Key is required.
type Config struct {
	// Key is the node's ed25519 identity (libp2p crypto). Its raw public
	// key is the node's crdt.PublicKey. Required.
	Key crypto.PrivKey

	// Listen lists the multiaddrs to listen on. Empty means TCP and QUIC on
	// DefaultPort over IPv4 and IPv6; when that port is taken the node
	// falls back to a port the system chooses, and logs which.
	Listen []string

	// Peers lists multiaddrs with a /p2p/ID suffix to stay connected to
	// (the --peer flag): each is dialled at start and redialled whenever
	// the connection drops, with exponential backoff and jitter capped at
	// about a minute.
	Peers []string

	// MDNS turns on discovery on the local network under MDNSService.
	MDNS bool

	// PeerFile is where the members met before are remembered (JSON: id,
	// addrs, last_seen, last_synced) and redialled from at start. Empty
	// means remember nothing.
	PeerFile string

	// SyncEvery is the period of catch-up with each connected peer, with
	// ±25% jitter. Zero means DefaultSyncEvery.
	SyncEvery time.Duration

	// OnSynced, if set, is called after each catch-up session that
	// completed, either side having started it, with the peer's key and
	// the groups it offered (catchup.Stats.Synced). It must not block
	// for long.
	OnSynced func(remote crdt.PublicKey, groups []crdt.ID)

	// OnSession, if set, is called after each catch-up session that
	// completed, with the peer's key and the session's stats: the node
	// records the refusals of groups it follows (Stats.Refused) and the
	// peers that hold them (Stats.Synced). It must not block for long.
	OnSession func(remote crdt.PublicKey, st catchup.Stats)

	// Logger receives the host's logs, and libp2p's own at warning level
	// and above. Nil means slog.Default().
	Logger *slog.Logger

	// DHT runs mutual's own Kademlia DHT (protocol.DHTPrefix, server
	// mode) for rendezvous: the node advertises each group it replicates
	// under the group's rendezvous key and looks up the groups it has no
	// connected peer for (rendezvous.go). It needs a first peer to join:
	// Bootstrap, Peers, the peer file or AddBootstrap.
	DHT bool

	// Bootstrap lists multiaddrs with a /p2p/ID suffix of nodes to join
	// the DHT through (the --bootstrap flag). Any mutual node can be one.
	// Unlike Peers they are not kept connected: the DHT dials them when
	// its routing table is empty.
	Bootstrap []string

	// PublicDHT also advertises and looks up the groups' rendezvous keys
	// on the public IPFS DHT (the --public-dht flag): strangers' nodes
	// then hold those records. Off unless the user asks.
	PublicDHT bool

	// Relay offers circuit relay v2 service to other nodes (the --relay
	// flag), with the limits of RelayResources. Only for a node that
	// others can reach: it also tells libp2p that this node is publicly
	// reachable, whatever AutoNAT would find.
	Relay bool

	// Test settings.
	relayLimit   *relayv2.RelayLimit              // the relay's per-connection limit; nil: libp2p's default
	forcePrivate bool                             // behave as behind NAT: reserve a relay slot at once
	refuse       func(peer.ID, ma.Multiaddr) bool // the gater refuses these connections too
}

// RelayResources returns the limits of the relay service a node offers
// with Config.Relay: libp2p's defaults (docs/operations.md, "Across
// cities"). Each relayed connection lasts at most 2 minutes and carries
// at most 128 KiB each way; at most 128 reservations (8 per IP address,
// 32 per AS), each valid an hour and renewed by its holder; at most 16
// relayed connections per peer.
func RelayResources() relayv2.Resources { return relayv2.DefaultResources() }

// validated returns cfg with defaults filled in, or an error.
func (cfg Config) validated() (Config, []peer.AddrInfo, error) {
	for _, a := range cfg.Bootstrap {
		if _, err := peer.AddrInfoFromString(a); err != nil {
			return cfg, nil, fmt.Errorf("p2p: bootstrap address %q (it needs a /p2p/ID suffix): %w", a, err)
		}
	}
	if cfg.Key == nil {
		return cfg, nil, errors.New("p2p: Config.Key is required")
	}
	if cfg.Key.Type() != crypto.Ed25519 {
		return cfg, nil, fmt.Errorf("p2p: Config.Key: %w", ErrNotEd25519)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SyncEvery <= 0 {
		cfg.SyncEvery = DefaultSyncEvery
	}
	for _, a := range cfg.Listen {
		if _, err := ma.NewMultiaddr(a); err != nil {
			return cfg, nil, fmt.Errorf("p2p: listen address %q: %w", a, err)
		}
	}
	var peers []peer.AddrInfo
	for _, a := range cfg.Peers {
		ai, err := peer.AddrInfoFromString(a)
		if err != nil {
			return cfg, nil, fmt.Errorf("p2p: peer address %q (it needs a /p2p/ID suffix): %w", a, err)
		}
		peers = append(peers, *ai)
	}
	return cfg, peers, nil
}

// defaultListen returns the default listen addresses: DefaultPort where it
// is free, else port 0 (the system picks one).
func defaultListen() []string {
	var out []string
	for _, c := range []struct{ net, host, tmpl string }{
		{"tcp4", "0.0.0.0", "/ip4/0.0.0.0/tcp/%d"},
		{"udp4", "0.0.0.0", "/ip4/0.0.0.0/udp/%d/quic-v1"},
		{"tcp6", "::", "/ip6/::/tcp/%d"},
		{"udp6", "::", "/ip6/::/udp/%d/quic-v1"},
	} {
		port := DefaultPort
		if !portFree(c.net, net.JoinHostPort(c.host, fmt.Sprint(DefaultPort))) {
			port = 0
		}
		out = append(out, fmt.Sprintf(c.tmpl, port))
	}
	return out
}

// portFree reports whether addr can be bound now. An address family the
// machine lacks counts as free: libp2p then skips it on its own.
func portFree(network, addr string) bool {
	if strings.HasPrefix(network, "udp") {
		c, err := net.ListenPacket(network, addr)
		if err != nil {
			return !inUse(err)
		}
		c.Close()
		return true
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		return !inUse(err)
	}
	l.Close()
	return true
}

func inUse(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use")
}
