package p2p

import (
	"context"
	"io"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
)

// mdnsBuilt reports whether this binary can discover peers with mDNS.
const mdnsBuilt = true

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
type mdnsNotifee struct{ h *Host }

func (n mdnsNotifee) HandlePeerFound(ai peer.AddrInfo) {
	h := n.h
	if ai.ID == h.host.ID() || h.gate.blocked(ai.ID) || h.host.Network().Connectedness(ai.ID) == network.Connected {
		return
	}
	h.spawn(func() {
		ctx, cancel := context.WithTimeout(h.ctx, dialTimeout)
		defer cancel()
		if err := h.host.Connect(ctx, ai); err != nil {
			h.log.Debug("mDNS peer unreachable", "remote", ai.ID, "err", err)
			return
		}
		h.log.Info("connected to peer found by mDNS", "remote", ai.ID)
	})
}
