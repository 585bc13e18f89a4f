package p2p

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
)

// TestMDNSFindsPeer: two hosts on this machine find each other by mDNS
// and converge. Build with -tags mdns.
func TestMDNSFindsPeer(t *testing.T) {
	tg := newTestGroup(t)
	ra, rb := tg.replica(t, tg.a), tg.replica(t, tg.b)
	acfg, bcfg := loopbackConfig(t, tg.a), loopbackConfig(t, tg.b)
	// mDNS announces non-loopback addresses only.
	acfg.Listen = []string{"/ip4/0.0.0.0/tcp/0"}
	bcfg.Listen = []string{"/ip4/0.0.0.0/tcp/0"}
	acfg.MDNS, bcfg.MDNS = true, true
	a := start(t, acfg, ra)
	b := start(t, bcfg, rb)
	publish(t, a, tg.id, tg.a.post(t, tg.id, "found by mDNS"))
	waitFor(t, 20*time.Second, "mDNS discovery", func() bool {
		return a.host.Network().Connectedness(b.ID()) == network.Connected
	})
	waitFor(t, 10*time.Second, "convergence", func() bool { return converged(tg.id, len(tg.setup)+1, ra, rb) })
}
