package p2p

import (
	"context"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
)

// mdnsBuilt reports whether this binary can discover peers with mDNS.
const mdnsBuilt = true

// mdnsDefer is how long the side that does not initiate waits before
// dialling a peer found by mDNS.
const mdnsDefer = 2 * time.Second

func (h *Host) startMDNS() (io.Closer, error) {
	s := mdns.NewMdnsService(h.host, MDNSService, mdnsNotifee{h})
	if err := s.Start(); err != nil {
		return nil, err
	}
	return s, nil
}

// mdnsNotifee connects to peers found on the local network. Their
// addresses are untrusted: they are dialled, nothing more; a peer becomes
// remembered only once a catch-up session shows it reads one of our
// groups.
//
// Two nodes at a meeting find each other at about the same moment, and
// two dials crossing make two connections (see dialDirect for why that
// matters; repair.go mends what it breaks). So the side with the smaller
// peer ID dials at once, the other only if still not connected after
// mdnsDefer; either way through dialDirect, one dial per peer.
type mdnsNotifee struct{ h *Host }

func (n mdnsNotifee) HandlePeerFound(ai peer.AddrInfo) {
	h := n.h
	if ai.ID == h.host.ID() || h.gate.blocked(ai.ID) || h.host.Network().Connectedness(ai.ID) == network.Connected {
		return
	}
	h.spawn(func() {
		if !h.initiates(ai.ID) {
			t := time.NewTimer(jitter(mdnsDefer))
			defer t.Stop()
			select {
			case <-h.ctx.Done():
				return
			case <-t.C:
			}
			if h.host.Network().Connectedness(ai.ID) == network.Connected {
				return
			}
		}
		ctx, cancel := context.WithTimeout(h.ctx, dialTimeout)
		defer cancel()
		if err := h.dialDirect(ctx, ai, "mDNS"); err != nil {
			h.log.Debug("mDNS peer unreachable", "remote", ai.ID, "err", err)
			return
		}
		h.log.Info("connected to peer found by mDNS", "remote", ai.ID)
	})
}
