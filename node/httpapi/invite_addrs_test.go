package httpapi

import (
	"slices"
	"testing"

	"github.com/mutual-aid/mutual/protocol"
)

// An invite carries the node's LAN addresses, not its loopback ones
// (useless on the newcomer's machine), at most maxInviteAddrs of them;
// loopback only when there is nothing else.
func TestInviteCarriesReachableAddresses(t *testing.T) {
	for _, tc := range []struct {
		addrs, want []string
	}{
		{
			addrs: []string{"/ip4/192.168.1.5/tcp/4001", "/ip4/192.168.1.5/udp/4001/quic-v1", "/ip6/fd00::2/tcp/4001",
				"/ip6/fd00::2/udp/4001/quic-v1", "/ip4/10.0.0.2/tcp/4001", "/ip4/127.0.0.1/tcp/4001", "/ip6/::1/tcp/4001"},
			want: []string{"/ip4/192.168.1.5/tcp/4001/p2p/12D3KooWTest", "/ip4/192.168.1.5/udp/4001/quic-v1/p2p/12D3KooWTest",
				"/ip6/fd00::2/tcp/4001/p2p/12D3KooWTest", "/ip6/fd00::2/udp/4001/quic-v1/p2p/12D3KooWTest"},
		},
		{
			addrs: []string{"/ip4/127.0.0.1/tcp/4001"},
			want:  []string{"/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWTest"},
		},
	} {
		n := newTestNode(t, func(c *Config) {
			c.Node = func() NodeInfo { return NodeInfo{PeerID: "12D3KooWTest", Name: "t", Addrs: tc.addrs} }
		})
		var inv struct{ Code string }
		n.must(200, "POST", "/api/v1/invites", map[string]any{"role": "member", "expires": "1h"}, &inv)
		c, err := protocol.DecodeInviteCode(inv.Code)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(c.Addrs, tc.want) {
			t.Errorf("invite addrs %q, want %q", c.Addrs, tc.want)
		}
	}
}
