package node_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"log/slog"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node"
	"github.com/mutual-aid/mutual/node/catchup"
	"github.com/mutual-aid/mutual/node/p2p"
	"github.com/mutual-aid/mutual/node/replica"
)

// A node that joined 300 groups with invites of one inviter, and of
// one more that is gone (its address refuses connections), dials each
// once at start, with all its addresses, not once per group and address
// (as before, which this test fails on): real libp2p hosts on loopback,
// dials counted by the host.
func TestStartDialsEachInviterOnce(t *testing.T) {
	const n = 300
	inviter := bareHost(t)
	newcomer := bareHost(t)
	gone := "/ip4/127.0.0.1/tcp/1/p2p/" + randomPeer(t).String()
	var groups []replica.GroupInfo
	for i := range n {
		addrs := append(inviter.Addrs(), gone)
		groups = append(groups, replica.GroupInfo{ID: crdt.ID{byte(i), byte(i >> 8)}, Addrs: addrs})
	}
	addrs := node.InviterAddrs(groups)
	if len(addrs) != len(inviter.Addrs())+1 {
		t.Fatalf("%d addresses to dial, want %d", len(addrs), len(inviter.Addrs())+1)
	}
	before := newcomer.Dials()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node.ConnectInviters(ctx, newcomer, slog.New(slog.DiscardHandler), addrs)
	if !connected(newcomer, inviter.ID()) {
		t.Fatal("not connected to the inviter")
	}
	dials := newcomer.Dials() - before
	if dials != 2 {
		t.Fatalf("%d dials for %d groups, want 2 (one per peer)", dials, n)
	}
}

func connected(h *p2p.Host, p peer.ID) bool {
	for _, pi := range h.Peers() {
		if pi.ID == p && pi.Connected {
			return true
		}
	}
	return false
}

// bareHost starts a host on loopback that replicates nothing.
func bareHost(t *testing.T) *p2p.Host {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := crypto.UnmarshalEd25519PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	var self crdt.PublicKey
	copy(self[:], priv.Public().(ed25519.PublicKey))
	h, err := p2p.Start(p2p.Config{Key: key, Listen: loopback, SyncEvery: time.Hour, Logger: quietLogger()},
		catchup.NewMemoryReplica(self, func() int64 { return time.Now().UnixMilli() }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func randomPeer(t *testing.T) peer.ID {
	_, pub, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
