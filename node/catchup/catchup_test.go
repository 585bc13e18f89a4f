package catchup

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"

	"go.uber.org/goleak"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pair is a founder and a member who both hold the genesis, the
// member's join and the founder's witness of it (3 ops).
func pair(t testing.TB) (w *world, f, m *author, rf, rm *MemoryReplica) {
	w = newWorld(t)
	f, m = w.founder, newAuthor(2)
	m.wall = f.wall
	join := m.join(w.group, f.invite(w.group, crdt.RoleMember))
	admit := f.admit(w.group, join)
	rf, rm = w.replica(f), w.replica(m)
	mustAdd(t, rf, w.ops[0], join, admit)
	mustAdd(t, rm, w.ops[0], join, admit)
	return w, f, m, rf, rm
}

func checkConverged(t *testing.T, group crdt.ID, rs ...*MemoryReplica) {
	t.Helper()
	for i, r := range rs[1:] {
		if r.Hash(group) != rs[0].Hash(group) || r.Len(group) != rs[0].Len(group) {
			t.Fatalf("replica %d: %d ops, hash %s; replica 0: %d ops, hash %s", i+1,
				r.Len(group), r.Hash(group).Short(), rs[0].Len(group), rs[0].Hash(group).Short())
		}
	}
}

func TestDisjointOpsConverge(t *testing.T) {
	w, f, m, rf, rm := pair(t)
	for i := range 20 {
		mustAdd(t, rf, f.post(w.group, i))
		mustAdd(t, rm, m.post(w.group, i))
	}
	if rf.Hash(w.group) == rm.Hash(w.group) {
		t.Fatal("boards equal before sync")
	}
	a, b := syncPair(rf, f.pub, rm, m.pub, nil)
	if a.err != nil || b.err != nil {
		t.Fatal(a.err, b.err)
	}
	checkConverged(t, w.group, rf, rm)
	if rf.Len(w.group) != 43 {
		t.Fatalf("%d ops, want 43", rf.Len(w.group))
	}
	for _, s := range []Stats{a.stats, b.stats} {
		if s.OpsSent != 20 || s.OpsReceived != 20 || s.NewOps != 20 {
			t.Fatalf("stats %+v: want 20 sent, received and new", s)
		}
		if len(s.Synced) != 1 || s.Synced[0] != w.group {
			t.Fatalf("synced %v, want the group", s.Synced)
		}
	}
	// A second session has nothing to send.
	a, b = syncPair(rf, f.pub, rm, m.pub, nil)
	if a.err != nil || b.err != nil || a.stats.OpsSent+b.stats.OpsSent != 0 {
		t.Fatalf("second session: %+v %v, %+v %v", a.stats, a.err, b.stats, b.err)
	}
}

func TestGapOneDirection(t *testing.T) {
	w, f, m, rf, rm := pair(t)
	for i := range 1000 {
		mustAdd(t, rf, f.post(w.group, i))
	}
	// The responder is the one behind here; the protocol is symmetric.
	a, b := syncPair(rm, m.pub, rf, f.pub, nil)
	if a.err != nil || b.err != nil {
		t.Fatal(a.err, b.err)
	}
	checkConverged(t, w.group, rf, rm)
	if a.stats.NewOps != 1000 || b.stats.OpsSent != 1000 || a.stats.OpsSent != 0 || b.stats.NewOps != 0 {
		t.Fatalf("behind %+v, ahead %+v", a.stats, b.stats)
	}
}

// A newcomer joins offline with the founder's invite and posts before it
// meets anyone. It offers its ops to any peer; the founder's node stores
// them, and they count once the founder witnesses the join; the next
// session brings the newcomer the board.
func TestNewcomer(t *testing.T) {
	w, f, m, rf, rm := pair(t)
	for i := range 30 {
		mustAdd(t, rf, f.post(w.group, i))
		mustAdd(t, rm, m.post(w.group, i))
	}
	syncPair(rf, f.pub, rm, m.pub, nil)

	n, stranger := newAuthor(3), newAuthor(9)
	n.wall = f.wall
	rn := w.replica(n)
	join, post := n.join(w.group, f.invite(w.group, crdt.RoleMember)), n.post(w.group, 0)
	mustAdd(t, rn, join, post)
	rn.Vouch(w.group, f.pub, m.pub) // the members its invite code named
	if v, _ := rn.VersionVector(w.group); v[n.pub] != 2 {
		t.Fatalf("newcomer's own ops are not in its vector: %v", v)
	}
	if rn.MayRead(w.group, m.pub) || rn.MayRead(w.group, stranger.pub) {
		t.Fatal("a newcomer gives the group's ops to peers it does not know as members")
	}
	if l, err := rn.Limited(w.group, m.pub); err != nil || l.Own == nil || *l.Own != n.pub {
		t.Fatalf("a newcomer should offer its own ops to the members its code named: %+v %v", l, err)
	}
	if l, err := rn.Limited(w.group, stranger.pub); err != nil || l.Own != nil {
		t.Fatalf("a newcomer offers its own ops to a stranger: %+v %v", l, err)
	}
	if rf.MayRead(w.group, n.pub) {
		t.Fatal("founder trusts an unknown newcomer")
	}
	a, b := syncPair(rn, n.pub, rf, f.pub, nil)
	if a.err != nil || b.err != nil || a.stats.OpsSent != 2 || b.stats.OpsSent != 0 {
		t.Fatalf("newcomer/founder: %+v %v, %+v %v; want the newcomer's 2 ops sent, nothing back", a.stats, a.err, b.stats, b.err)
	}
	if rf.MayRead(w.group, n.pub) || rf.onBoard(w.group, post) {
		t.Fatal("the newcomer counts before anyone witnessed its join")
	}
	mustAdd(t, rf, f.admit(w.group, join))
	if !rf.MayRead(w.group, n.pub) || !rf.onBoard(w.group, post) {
		t.Fatal("the newcomer does not count once the founder witnessed its join")
	}
	a, b = syncPair(rn, n.pub, rf, f.pub, nil)
	if a.err != nil || b.err != nil {
		t.Fatal(a.err, b.err)
	}
	checkConverged(t, w.group, rf, rn)
	if got := rf.Len(w.group); got != 3+60+2+1 {
		t.Fatalf("%d ops, want 66", got)
	}
	if !rn.MayRead(w.group, m.pub) || rn.MayRead(w.group, stranger.pub) {
		t.Fatal("the newcomer, admitted, should share with members only")
	}
	// And now the member and the newcomer can catch up with each other.
	a, b = syncPair(rm, m.pub, rn, n.pub, nil)
	if a.err != nil || b.err != nil {
		t.Fatal(a.err, b.err)
	}
	checkConverged(t, w.group, rf, rn, rm)
}

func TestInterruptedSessionResumes(t *testing.T) {
	w, f, m, rf, rm := pair(t)
	const n = 2000
	var total int64
	minOp := 1 << 30
	for i := range n {
		raw := f.post(w.group, i)
		mustAdd(t, rf, raw)
		total += int64(len(raw))
		minOp = min(minOp, len(raw))
	}
	// Cut the behind side's connection after 60% of the ops' bytes.
	a, b := syncPair(rm, m.pub, rf, f.pub, func(c net.Conn) net.Conn {
		return &cutConn{Conn: c, limit: int(total * 6 / 10)}
	})
	if a.err == nil || b.err == nil {
		t.Fatalf("cut session succeeded: %v, %v", a.err, b.err)
	}
	if errors.Is(a.err, ErrRejected) || errors.Is(b.err, ErrRejected) {
		t.Fatalf("a cut is not junk: %v, %v", a.err, b.err)
	}
	stored := rm.Len(w.group) - 3
	if stored < n/4 || stored != a.stats.NewOps {
		t.Fatalf("interrupted session stored %d ops (stats %+v)", stored, a.stats)
	}
	a2, b2 := syncPair(rm, m.pub, rf, f.pub, nil)
	if a2.err != nil || b2.err != nil {
		t.Fatal(a2.err, b2.err)
	}
	checkConverged(t, w.group, rf, rm)
	if b2.stats.OpsSent != n-stored {
		t.Fatalf("second session sent %d ops, the behind side lacked %d", b2.stats.OpsSent, n-stored)
	}
	if twice, batch := b.stats.OpsSent+b2.stats.OpsSent-n, protocol.MaxBatchBytes/minOp+1; twice > batch {
		t.Fatalf("%d ops sent twice, more than one batch (%d)", twice, batch)
	}
}

// evil serves ops with a broken signature.
type evil struct{ *MemoryReplica }

func (e evil) OpsAfter(g crdt.ID, a crdt.PublicKey, after uint64, fn func([]byte) error) error {
	return e.MemoryReplica.OpsAfter(g, a, after, func(raw []byte) error {
		bad := append([]byte(nil), raw...)
		bad[len(bad)-1] ^= 1
		return fn(bad)
	})
}

func TestJunkOpRejected(t *testing.T) {
	w, f, m, rf, rm := pair(t)
	for i := range 10 {
		mustAdd(t, rf, f.post(w.group, i))
	}
	before := rm.Hash(w.group)
	a, b := runPair(context.Background(), evil{rf}, f.pub, rm, m.pub, nil)
	if !errors.Is(b.err, ErrRejected) || !errors.Is(b.err, protocol.ErrBadSignature) {
		t.Fatalf("victim: %v, want ErrRejected (bad signature)", b.err)
	}
	if a.err == nil {
		t.Fatal("the junk sender's session succeeded")
	}
	if rm.Len(w.group) != 3 || rm.Hash(w.group) != before || b.stats.NewOps != 0 {
		t.Fatalf("junk stored: %d ops", rm.Len(w.group))
	}
}

func TestIngestBatchAllOrNothing(t *testing.T) {
	w, f, _, rf, _ := pair(t)
	good := f.post(w.group, 1)
	bad := append([]byte(nil), f.post(w.group, 2)...)
	bad[len(bad)-1] ^= 1
	n, err := rf.Ingest(context.Background(), [][]byte{good, bad})
	if !errors.Is(err, ErrRejected) || n != 0 || rf.Len(w.group) != 3 {
		t.Fatalf("n=%d err=%v len=%d", n, err, rf.Len(w.group))
	}
	// A crdt-invalid op (an author's first op that is no join) is junk too.
	x := newAuthor(9)
	if _, err := rf.Ingest(context.Background(), [][]byte{good, x.post(w.group, 0)}); !errors.Is(err, ErrRejected) || rf.Len(w.group) != 3 {
		t.Fatalf("a first op that is a post: %v, %d ops", err, rf.Len(w.group))
	}
}

func TestNonMemberGetsNothing(t *testing.T) {
	w, f, _, rf, _ := pair(t)
	for i := range 10 {
		mustAdd(t, rf, f.post(w.group, i))
	}
	// A stranger who knows the group ID, with a self-made "invite". It
	// offers its join, as a newcomer does; the founder's node does not
	// even store it (its issuer is unknown) and sends nothing back.
	s := newAuthor(7)
	rs := w.replica(s)
	mustAdd(t, rs, s.join(w.group, s.invite(w.group, crdt.RoleAdmin)))
	before := rf.Len(w.group)
	a, b := syncPair(rs, s.pub, rf, f.pub, nil)
	if a.err != nil || b.err != nil {
		t.Fatal(a.err, b.err)
	}
	// Bytes: frames only (hello, a want with no authors, ends, next).
	if b.stats.OpsSent != 0 || rs.Len(w.group) != 1 || a.stats.BytesReceived > 96 {
		t.Fatalf("stranger got %d ops, %d bytes", b.stats.OpsSent, a.stats.BytesReceived)
	}
	if rf.Len(w.group) != before || b.stats.NewOps != 0 {
		t.Fatalf("the founder's node stored the stranger's join: %d ops, %+v", rf.Len(w.group), b.stats)
	}
	if len(a.stats.Synced) != 0 {
		t.Fatalf("the stranger's session synced %v, which it was not offered", a.stats.Synced)
	}
}

// scripted plays a peer that sends the given frames after its Hello.
func scripted(t *testing.T, r Replica, peer crdt.PublicKey, frames []byte) error {
	c1, c2 := net.Pipe()
	wrote := make(chan struct{})
	go io.Copy(io.Discard, c2)
	go func() {
		defer close(wrote)
		c2.Write(append(mustHello(), frames...))
	}()
	_, err := Run(context.Background(), c1, r, peer, false)
	c1.Close()
	<-wrote
	c2.Close()
	return err
}

func TestJunkFramesRejected(t *testing.T) {
	w, f, m, rf, _ := pair(t)
	end, _ := protocol.AppendFrame(nil, &protocol.Frame{Type: protocol.MsgEnd})
	want, _ := protocol.AppendFrame(nil, &protocol.Frame{Type: protocol.MsgWant, Group: crdt.ID{1}})
	ops, _ := protocol.AppendFrame(nil, &protocol.Frame{Type: protocol.MsgOps, Group: w.group, Ops: [][]byte{f.post(w.group, 1)}})
	huge := binary.AppendUvarint(nil, 1<<40)
	cases := map[string][]byte{
		"bad msgpack":        {3, 0x91, 0xc1, 0xc1},
		"oversize length":    huge,
		"ops before end":     ops,
		"want not offered":   append(append(end[:len(end):len(end)], want...), end...),
		"ops of other group": append(append(append(end[:len(end):len(end)], end...), mustFrame(protocol.MsgOps, crdt.ID{2}, f.post(w.group, 2))...), end...),
		"hello twice":        mustHello(),
		"unknown message":    {2, 0x91, 0x7f},
		"trailing bytes":     {3, 0x91, 0x05, 0x00},
	}
	for name, frames := range cases {
		t.Run(name, func(t *testing.T) {
			err := scripted(t, rf, m.pub, frames)
			if !errors.Is(err, ErrRejected) {
				t.Fatalf("err = %v, want ErrRejected", err)
			}
		})
	}
	if rf.Len(w.group) != 3 {
		t.Fatal("junk stored")
	}
}

// A batch framed as one group's that carries an op of another group is
// junk, whatever else it holds: nothing of it is stored, although this
// node replicates both groups and would keep each op on its own.
func TestBatchOfAnotherGroupRejected(t *testing.T) {
	w, _, m, rf, _ := pair(t)
	other := newAuthor(8)
	g2, gen2 := other.genesis("elsewhere")
	rf.AddGroup(g2)
	mustAdd(t, rf, gen2)
	good, stray := m.post(w.group, 0), other.post(g2, 0)
	script := func(ops ...[]byte) []byte {
		var b []byte
		for _, f := range []*protocol.Frame{
			{Type: protocol.MsgHave, Group: w.group}, {Type: protocol.MsgEnd}, // offer
			{Type: protocol.MsgEnd}, // want
			{Type: protocol.MsgOps, Group: w.group, Ops: ops}, {Type: protocol.MsgEnd},
			{Type: protocol.MsgNext},
		} {
			var err error
			if b, err = protocol.AppendFrame(b, f); err != nil {
				t.Fatal(err)
			}
		}
		return b
	}
	if err := scripted(t, rf, m.pub, script(good, stray)); !errors.Is(err, ErrRejected) {
		t.Fatalf("err = %v, want ErrRejected", err)
	}
	if rf.Len(w.group) != 3 || rf.Len(g2) != 1 {
		t.Fatalf("a rejected batch stored ops: %d and %d", rf.Len(w.group), rf.Len(g2))
	}
	// Without the stray op, the same script stores the batch.
	if err := scripted(t, rf, m.pub, script(good)); err != nil {
		t.Fatal(err)
	}
	if rf.Len(w.group) != 4 {
		t.Fatalf("the batch without the stray op was not stored: %d ops", rf.Len(w.group))
	}
}

func mustFrame(t protocol.MsgType, g crdt.ID, ops ...[]byte) []byte {
	b, err := protocol.AppendFrame(nil, &protocol.Frame{Type: t, Group: g, Ops: ops})
	if err != nil {
		panic(err)
	}
	return b
}

// mustHello opens round 1 of a scripted session: Hello, then a total
// digest that matches nothing and no group digest (so nothing is
// settled and the script goes on with the Haves).
func mustHello() []byte {
	var b []byte
	for _, f := range helloFrames() {
		b, _ = protocol.AppendFrame(b, f)
	}
	return b
}

func helloFrames() []*protocol.Frame {
	return []*protocol.Frame{
		{Type: protocol.MsgHello, Version: protocol.SyncVersion, Round: 1, Initiator: true},
		{Type: protocol.MsgDigest, Total: protocol.Digest{0xff}},
		{Type: protocol.MsgEnd},
	}
}

func TestCancel(t *testing.T) {
	defer goleak.VerifyNone(t)
	w, f, m, rf, rm := pair(t)
	for i := range 3000 {
		mustAdd(t, rf, f.post(w.group, i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	// Cancel once the behind side has read some bytes.
	a, b := runPair(ctx, rm, m.pub, rf, f.pub, func(c net.Conn) net.Conn {
		return &cancelConn{Conn: c, after: 100_000, cancel: cancel}
	})
	if !errors.Is(a.err, context.Canceled) || !errors.Is(b.err, context.Canceled) {
		t.Fatalf("%v, %v", a.err, b.err)
	}
}

type cancelConn struct {
	net.Conn
	after  int
	n      int
	cancel func()
}

func (c *cancelConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n += n
	if c.n > c.after {
		c.cancel()
	}
	return n, err
}

// TestBytesOnWire checks a functional size property: a catch-up of
// 10,000 ops costs at most 10% more bytes, both directions together,
// than the ops themselves.
func TestBytesOnWire(t *testing.T) {
	w, f, m, rf, rm := pair(t)
	var opBytes int64
	for i := range 10_000 {
		raw := f.post(w.group, i)
		opBytes += int64(len(raw))
		mustAdd(t, rf, raw)
	}
	var cc *countConn
	a, b := syncPair(rm, m.pub, rf, f.pub, func(c net.Conn) net.Conn {
		cc = &countConn{Conn: c}
		return cc
	})
	if a.err != nil || b.err != nil {
		t.Fatal(a.err, b.err)
	}
	checkConverged(t, w.group, rf, rm)
	wire := cc.read + cc.wrote
	if wire != a.stats.BytesReceived+a.stats.BytesSent || wire != b.stats.BytesReceived+b.stats.BytesSent {
		t.Fatalf("stats disagree with the wire: %d, %+v, %+v", wire, a.stats, b.stats)
	}
	ratio := float64(wire) / float64(opBytes)
	t.Logf("%d op bytes, %d on the wire: ratio %.4f", opBytes, wire, ratio)
	if ratio > 1.10 {
		t.Fatalf("ratio %.4f > 1.10", ratio)
	}
}

func TestReaderStopsAtEndOfSession(t *testing.T) {
	// After a session, the stream is left at a frame boundary: whatever
	// the peer writes next is not consumed by Run.
	w, f, m, rf, rm := pair(t)
	mustAdd(t, rf, f.post(w.group, 1))
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	done := make(chan error, 1)
	go func() {
		_, err := Run(context.Background(), c2, rf, m.pub, false)
		if err == nil {
			_, err = c2.Write([]byte("after"))
		}
		done <- err
	}()
	br := bufio.NewReader(c1)
	_, err := Run(context.Background(), struct {
		io.Reader
		io.Writer
	}{br, c1}, rm, f.pub, true)
	if err != nil {
		t.Fatal(err)
	}
	tail := make([]byte, 5)
	if _, err := io.ReadFull(br, tail); err != nil || string(tail) != "after" {
		t.Fatalf("%q %v", tail, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func BenchmarkCatchup10k(b *testing.B) {
	w, f, m, rf, _ := pair(b)
	var opBytes int64
	for i := range 10_000 {
		raw := f.post(w.group, i)
		opBytes += int64(len(raw))
		mustAdd(b, rf, raw)
	}
	var wire int64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		rm := w.replica(m)
		mustAdd(b, rm, rf.firstOps(w.group, f.pub, m.pub)...)
		b.StartTimer()
		a, c := syncPair(rm, m.pub, rf, f.pub, nil)
		if a.err != nil || c.err != nil {
			b.Fatal(a.err, c.err)
		}
		wire = a.stats.BytesSent + a.stats.BytesReceived
	}
	b.ReportMetric(float64(wire)/float64(opBytes), "wire/op-bytes")
	b.ReportMetric(float64(opBytes)/10_000, "op-bytes/op")
}

// firstOps returns the founder's genesis and the member's join from r.
func (m *MemoryReplica) firstOps(g crdt.ID, authors ...crdt.PublicKey) [][]byte {
	var out [][]byte
	for _, a := range authors {
		m.OpsAfter(g, a, 0, func(raw []byte) error {
			out = append(out, raw)
			return errFirstOnly
		})
	}
	return out
}
