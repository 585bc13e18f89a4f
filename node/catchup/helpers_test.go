package catchup

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// baseTime is the tests' wall clock, in Unix milliseconds.
const baseTime = int64(1_700_000_000_000)

func fixedNow() int64 { return baseTime + 3_600_000 }

// author signs ops for one group, keeping its own seq and prev.
type author struct {
	key     ed25519.PrivateKey
	pub     crdt.PublicKey
	seq     uint64
	prev    crdt.ID
	wall    int64
	invites int
}

func newAuthor(seed uint64) *author {
	var s [ed25519.SeedSize]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	s[31] = 0x5a
	key := ed25519.NewKeyFromSeed(s[:])
	a := &author{key: key, wall: baseTime}
	copy(a.pub[:], key.Public().(ed25519.PublicKey))
	return a
}

// sign signs the author's next op in group at its own clock.
func (a *author) sign(group crdt.ID, body crdt.Body) (crdt.Op, []byte) {
	a.wall++
	op := crdt.Op{Group: group, Seq: a.seq + 1, Prev: a.prev, Time: crdt.HLC{Wall: a.wall}, Body: body}
	if _, ok := body.(crdt.Genesis); ok {
		op.Group = crdt.ID{}
	}
	raw, err := protocol.SignOp(&op, a.key)
	if err != nil {
		panic(err)
	}
	a.seq, a.prev = op.Seq, op.ID
	return op, raw
}

func (a *author) genesis(name string) (crdt.ID, []byte) {
	op, raw := a.sign(crdt.ID{}, crdt.Genesis{Name: name, AuthorName: "founder"})
	return op.ID, raw
}

// invite returns an invite code signed by the author. Its one-time
// secret is derived from the author's key and a counter, not drawn at
// random as protocol.NewInvite does, so that a simulation's seed replays.
func (a *author) invite(group crdt.ID, role crdt.Role) *protocol.InviteCode {
	a.invites++
	secret := sha256.Sum256(fmt.Appendf(a.key.Seed(), "invite %d", a.invites))
	in := crdt.Invite{Group: group, Role: role, Expires: baseTime + 1_000_000_000}
	copy(in.Key[:], ed25519.NewKeyFromSeed(secret[:]).Public().(ed25519.PublicKey))
	protocol.SignInvite(&in, a.key)
	return &protocol.InviteCode{Invite: in, Secret: secret}
}

// joinBody is the author's join with code, with the proof of its secret.
func (a *author) joinBody(code *protocol.InviteCode) crdt.Join {
	return crdt.Join{Invite: code.Invite, Name: fmt.Sprintf("member-%x", a.pub[:2]), Proof: protocol.ProveJoin(&code.Invite, code.Secret, a.pub)}
}

func (a *author) join(group crdt.ID, code *protocol.InviteCode) []byte {
	_, raw := a.sign(group, a.joinBody(code))
	return raw
}

// admit signs the author's witness of join.
func (a *author) admit(group crdt.ID, join []byte) []byte {
	_, raw := a.sign(group, crdt.Admit{Join: protocol.OpID(join)})
	return raw
}

func (a *author) post(group crdt.ID, i int) []byte {
	_, raw := a.sign(group, crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{
		Title:    fmt.Sprintf("winter coats, size L, batch %d", i),
		Details:  "for a family of four; we can pick up on Saturday morning at the community centre",
		Category: "clothing",
		Quantity: 4,
	}})
	return raw
}

// world is a founder's group and replicas to sync.
type world struct {
	t       testing.TB
	group   crdt.ID
	founder *author
	ops     [][]byte // the founder's genesis, then whatever was added with all
}

func newWorld(t testing.TB) *world {
	w := &world{t: t, founder: newAuthor(1)}
	var g []byte
	w.group, g = w.founder.genesis("coats")
	w.ops = append(w.ops, g)
	return w
}

// replica returns an empty replica of the group for the node whose key is self.
func (w *world) replica(self *author) *MemoryReplica {
	r := NewMemoryReplica(self.pub, fixedNow)
	r.AddGroup(w.group)
	return r
}

// mustAdd adds ops to r, each of which r must then hold.
func mustAdd(t testing.TB, r *MemoryReplica, raws ...[]byte) {
	t.Helper()
	for _, raw := range raws {
		if err := r.Add(raw); err != nil {
			t.Fatal(err)
		}
		if !r.holds(protocol.OpID(raw)) {
			t.Fatalf("op %s not stored (its author unknown?)", protocol.OpID(raw).Short())
		}
	}
}

// holds reports whether r holds op id, in a log or as evidence.
func (m *MemoryReplica) holds(id crdt.ID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, g := range m.groups {
		if _, ok := g.ids[id]; ok {
			return true
		}
	}
	return false
}

// onBoard reports whether the post that op raw created is on r's board.
func (m *MemoryReplica) onBoard(group crdt.ID, raw []byte) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.groups[group].board
	b.Refresh()
	return b.Posts[protocol.OpID(raw)] != nil
}

// result is one side of a session.
type result struct {
	stats Stats
	err   error
}

// sync runs one session between a (initiator) and b over net.Pipe. wrap,
// if not nil, wraps a's end of the pipe.
func syncPair(a *MemoryReplica, ka crdt.PublicKey, b *MemoryReplica, kb crdt.PublicKey, wrap func(net.Conn) net.Conn) (ra, rb result) {
	return runPair(context.Background(), a, ka, b, kb, wrap)
}

func runPair(ctx context.Context, a Replica, ka crdt.PublicKey, b Replica, kb crdt.PublicKey, wrap func(net.Conn) net.Conn) (ra, rb result) {
	c1, c2 := net.Pipe()
	var s1 net.Conn = c1
	if wrap != nil {
		s1 = wrap(c1)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		ra.stats, ra.err = Run(ctx, s1, a, kb, true)
		c1.Close() // as the p2p layer resets the stream
	}()
	go func() {
		defer wg.Done()
		rb.stats, rb.err = Run(ctx, c2, b, ka, false)
		c2.Close()
	}()
	wg.Wait()
	return ra, rb
}

// cutConn fails reads after limit bytes and closes the pipe: a dropped
// connection as the reader sees it.
type cutConn struct {
	net.Conn
	limit int
	n     int
}

func (c *cutConn) Read(p []byte) (int, error) {
	if c.n >= c.limit {
		c.Conn.Close()
		return 0, errors.New("connection cut")
	}
	if len(p) > c.limit-c.n {
		p = p[:c.limit-c.n]
	}
	n, err := c.Conn.Read(p)
	c.n += n
	return n, err
}

// countConn counts the bytes both ways.
type countConn struct {
	net.Conn
	mu          sync.Mutex
	read, wrote int64
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.read += int64(n)
	c.mu.Unlock()
	return n, err
}

func (c *countConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	c.wrote += int64(n)
	c.mu.Unlock()
	return n, err
}
