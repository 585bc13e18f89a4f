package p2p

import (
	"slices"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/peer"
	libp2pproto "github.com/libp2p/go-libp2p/core/protocol"

	"github.com/mutual-aid/mutual/protocol"
)

// Traffic counts the bytes written to and read from libp2p streams
// since the host started, by protocol: the payload of streams, to which
// Noise and yamux add their framing below.
type Traffic struct {
	GossipIn, GossipOut int64 // GossipSub
	SyncIn, SyncOut     int64 // catch-up
	OtherIn, OtherOut   int64 // identify, ping and the rest
}

// Traffic returns the bytes on the host's streams so far.
func (h *Host) Traffic() Traffic {
	c := h.traffic
	return Traffic{
		GossipIn: c.in[trafficGossip].Load(), GossipOut: c.out[trafficGossip].Load(),
		SyncIn: c.in[trafficSync].Load(), SyncOut: c.out[trafficSync].Load(),
		OtherIn: c.in[trafficOther].Load(), OtherOut: c.out[trafficOther].Load(),
	}
}

// trafficCounter is the libp2p bandwidth reporter of the host: three
// pairs of atomic counters. libp2p's own (metrics.BandwidthCounter)
// keeps rates per peer and protocol, with a goroutine that never ends,
// for nothing this node reads.
type trafficCounter struct {
	in, out [3]atomic.Int64
}

const (
	trafficGossip = iota
	trafficSync
	trafficOther
)

var _ metrics.Reporter = (*trafficCounter)(nil)

func trafficKind(p libp2pproto.ID) int {
	switch {
	case slices.Contains(gossipProtocols, p):
		return trafficGossip
	case p == protocol.SyncProtocol:
		return trafficSync
	}
	return trafficOther
}

func (c *trafficCounter) LogSentMessageStream(n int64, p libp2pproto.ID, _ peer.ID) {
	c.out[trafficKind(p)].Add(n)
}

func (c *trafficCounter) LogRecvMessageStream(n int64, p libp2pproto.ID, _ peer.ID) {
	c.in[trafficKind(p)].Add(n)
}

func (c *trafficCounter) totals() metrics.Stats {
	var s metrics.Stats
	for i := range c.in {
		s.TotalIn += c.in[i].Load()
		s.TotalOut += c.out[i].Load()
	}
	return s
}

// The rest of metrics.Reporter: connection-level counts (the swarm logs
// stream bytes only) and queries nothing here makes.
func (c *trafficCounter) LogSentMessage(int64)                      {}
func (c *trafficCounter) LogRecvMessage(int64)                      {}
func (c *trafficCounter) GetBandwidthForPeer(peer.ID) metrics.Stats { return metrics.Stats{} }
func (c *trafficCounter) GetBandwidthForProtocol(libp2pproto.ID) metrics.Stats {
	return metrics.Stats{}
}
func (c *trafficCounter) GetBandwidthTotals() metrics.Stats             { return c.totals() }
func (c *trafficCounter) GetBandwidthByPeer() map[peer.ID]metrics.Stats { return nil }
func (c *trafficCounter) GetBandwidthByProtocol() map[libp2pproto.ID]metrics.Stats {
	return nil
}
func (c *trafficCounter) Reset()             {}
func (c *trafficCounter) TrimIdle(time.Time) {}
