package p2p

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// maxPeerFile caps the peer file read at start.
const maxPeerFile = 1 << 20

// maxRememberedAddrs caps the addresses kept per peer.
const maxRememberedAddrs = 8

// peerEntry is one remembered peer in the peer file.
type peerEntry struct {
	ID         string    `json:"id"`
	Addrs      []string  `json:"addrs"`
	LastSeen   time.Time `json:"last_seen"`
	LastSynced time.Time `json:"last_synced,omitzero"`
	Via        string    `json:"via,omitempty"` // how it was reached last (PeerInfo.Via)
}

func (e peerEntry) addrInfo() (peer.AddrInfo, bool) {
	id, err := peer.Decode(e.ID)
	if err != nil {
		return peer.AddrInfo{}, false
	}
	ai := peer.AddrInfo{ID: id}
	for _, s := range e.Addrs {
		if a, err := ma.NewMultiaddr(s); err == nil {
			ai.Addrs = append(ai.Addrs, a)
		}
	}
	return ai, len(ai.Addrs) > 0
}

// peerFile is the JSON file of remembered peers. Writes replace it
// atomically (write a temporary file, rename).
type peerFile struct {
	path string
	mu   sync.Mutex
}

func (f *peerFile) load() ([]peerEntry, error) {
	b, err := os.ReadFile(f.path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(b) > maxPeerFile {
		return nil, fmt.Errorf("%d bytes, at most %d", len(b), maxPeerFile)
	}
	var es []peerEntry
	if err := json.Unmarshal(b, &es); err != nil {
		return nil, err
	}
	return es, nil
}

func (f *peerFile) save(es []peerEntry) error {
	b, err := json.MarshalIndent(es, "", "  ")
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	tmp, err := os.CreateTemp(filepath.Dir(f.path), ".peers-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), f.path)
}

// remember adds a peer read from the peer file to the book.
func (h *Host) remember(e peerEntry) {
	id, err := peer.Decode(e.ID)
	if err != nil || id == h.host.ID() {
		return
	}
	key, err := KeyOf(id)
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	rec := h.record(id, key)
	rec.remember = true
	rec.addrs = e.Addrs
	rec.lastSeen, rec.lastSynced = e.LastSeen, e.LastSynced
	switch e.Via {
	case ViaDirect, ViaLAN, ViaRelayed:
		rec.via = e.Via
	}
}

// savePeers writes the remembered peers: the most recently seen first, at
// most rememberMax, none unseen for forgetAfter.
func (h *Host) savePeers() error {
	if h.file == nil {
		return nil
	}
	now := time.Now()
	h.mu.Lock()
	var es []peerEntry
	for id, rec := range h.peers {
		if !rec.remember || len(rec.addrs) == 0 || now.Sub(rec.lastSeen) > forgetAfter {
			continue
		}
		es = append(es, peerEntry{ID: id.String(), Addrs: slices.Clone(rec.addrs),
			LastSeen: rec.lastSeen.UTC(), LastSynced: rec.lastSynced.UTC(), Via: rec.via})
	}
	h.mu.Unlock()
	slices.SortFunc(es, func(a, b peerEntry) int {
		if c := b.LastSeen.Compare(a.LastSeen); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if len(es) > rememberMax {
		es = es[:rememberMax]
	}
	return h.file.save(es)
}

// dialableAddrs returns addresses to redial p at: the address of an
// outbound connection first (it worked), then the listen addresses p
// announced (claims, only ever dialled).
func (h *Host) dialableAddrs(p peer.ID) []string {
	var out []string
	add := func(a ma.Multiaddr) {
		s := a.String()
		if !slices.Contains(out, s) && len(out) < maxRememberedAddrs {
			out = append(out, s)
		}
	}
	for _, c := range h.host.Network().ConnsToPeer(p) {
		if c.Stat().Direction == network.DirOutbound {
			add(c.RemoteMultiaddr())
		}
	}
	for _, a := range h.host.Peerstore().Addrs(p) {
		add(a)
	}
	return out
}
