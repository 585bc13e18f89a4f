package catchup

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// strangerProbe plays a stranger's side of one session against a member's
// node by hand: it offers each group in groups with the vector vec,
// asks for nothing, sends nothing, and returns every byte the member's
// node sent and the frames they decode to.
func strangerProbe(t *testing.T, r Replica, stranger crdt.PublicKey, groups []crdt.ID, vec []protocol.VectorEntry) ([]byte, []*protocol.Frame) {
	t.Helper()
	c1, c2 := net.Pipe()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, c1, r, stranger, false)
		c1.Close()
		done <- err
	}()
	var got bytes.Buffer
	go func() {
		bw := bufio.NewWriter(c2)
		w := func(f *protocol.Frame) { _ = protocol.WriteFrame(bw, f) }
		for _, f := range helloFrames() {
			w(f)
		}
		for _, g := range groups {
			w(&protocol.Frame{Type: protocol.MsgHave, Group: g, Vector: vec})
		}
		w(&protocol.Frame{Type: protocol.MsgEnd}) // haves
		w(&protocol.Frame{Type: protocol.MsgEnd}) // wants
		w(&protocol.Frame{Type: protocol.MsgEnd}) // ops
		w(&protocol.Frame{Type: protocol.MsgNext})
		_ = bw.Flush()
	}()
	br := bufio.NewReader(io.TeeReader(c2, &got))
	var frames []*protocol.Frame
	for {
		f, err := protocol.ReadFrame(br)
		if err != nil {
			break
		}
		frames = append(frames, f)
		if f.Type == protocol.MsgNext {
			break
		}
	}
	c2.Close()
	if err := <-done; err != nil {
		t.Logf("member's side: %v", err)
	}
	return got.Bytes(), frames
}

// TestStrangerLearnsNothing: a stranger that names a member's group
// with its own key (as a newcomer would) is answered exactly as when it
// names a group that does not exist: no group offered, no seq of
// anyone, and the same frames but for the group IDs it named itself.
// When the group accepts followers from its allies only, the same holds
// for a stranger that names it with any vector. (A stranger that names
// an open group follows it: TestFollower*.)
func TestStrangerLearnsNothing(t *testing.T) {
	w, f, m, rf, rm := pair(t)
	for i := range 5 {
		mustAdd(t, rf, f.post(w.group, i))
		mustAdd(t, rm, m.post(w.group, i))
	}
	syncPair(rf, f.pub, rm, m.pub, nil)
	stranger := newAuthor(99)
	fake := crdt.ID{0xfa, 0x4e}
	members := []protocol.VectorEntry{{Author: f.pub, Seq: 1}, {Author: m.pub, Seq: 1 << 40}}
	own := []protocol.VectorEntry{{Author: stranger.pub, Seq: 3}}
	for _, vec := range [][]protocol.VectorEntry{own} {
		real, realFrames := strangerProbe(t, rf, stranger.pub, []crdt.ID{w.group}, vec)
		none, noneFrames := strangerProbe(t, rf, stranger.pub, []crdt.ID{fake}, vec)
		if bytes.Contains(none, w.group[:]) {
			t.Fatalf("vector %v: a group ID the stranger did not name was sent to it", vec)
		}
		if got := bytes.ReplaceAll(real, w.group[:], fake[:]); !bytes.Equal(got, none) {
			t.Fatalf("vector %v: the answer for the member's group differs from the one for a group that does not exist:\n%x\n%x", vec, real, none)
		}
		for _, fr := range realFrames {
			if fr.Type == protocol.MsgHave || len(fr.Vector) > 0 || len(fr.Ops) > 0 {
				t.Fatalf("vector %v: the stranger got %s for %s with %d entries, %d ops", vec, fr.Type, fr.Group.Short(), len(fr.Vector), len(fr.Ops))
			}
		}
		if len(realFrames) != len(noneFrames) {
			t.Fatal("frame counts differ")
		}
	}
	_, fed := f.sign(w.group, crdt.Federation{Policy: crdt.FollowAllies, Allies: []crdt.ID{{0xa1}}})
	mustAdd(t, rf, fed)
	for _, vec := range [][]protocol.VectorEntry{nil, members} {
		_, frames := strangerProbe(t, rf, stranger.pub, []crdt.ID{w.group}, vec)
		refused := 0
		for _, fr := range frames {
			if fr.Type == protocol.MsgHave || fr.Type == protocol.MsgWant || len(fr.Vector) > 0 || len(fr.Ops) > 0 {
				t.Fatalf("vector %v: the stranger got %s for %s with %d entries, %d ops", vec, fr.Type, fr.Group.Short(), len(fr.Vector), len(fr.Ops))
			}
			if fr.Type == protocol.MsgRefused && fr.Group == w.group {
				refused++
			}
		}
		if refused != 1 {
			t.Fatalf("vector %v: %d Refused frames, want 1", vec, refused)
		}
	}
}

// countingReplica counts the ops handed to Ingest.
type countingReplica struct {
	*MemoryReplica
	ingested atomic.Int64
}

func (c *countingReplica) Ingest(ctx context.Context, raws [][]byte) (int, error) {
	c.ingested.Add(int64(len(raws)))
	return c.MemoryReplica.Ingest(ctx, raws)
}

// TestStrangersOpsNotVerified: a stranger that offers a member's group
// with its own key (as a newcomer would) gets asked for its ops, and
// streams thousands signed by fresh keys, past their authors' first
// ops. None reaches Ingest (where each would cost a signature check
// before being dropped); none is stored; the session ends cleanly.
func TestStrangersOpsNotVerified(t *testing.T) {
	w, f, _, rf, _ := pair(t)
	mustAdd(t, rf, f.post(w.group, 0))
	before := rf.Len(w.group)
	cr := &countingReplica{MemoryReplica: rf}
	stranger := newAuthor(98)
	var ops [][]byte
	for i := range 2000 {
		a := newAuthor(uint64(1000 + i))
		a.seq, a.prev = 1, crdt.ID{byte(i), byte(i >> 8), 1}
		ops = append(ops, a.post(w.group, i))
	}
	c1, c2 := net.Pipe()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, c1, cr, stranger.pub, false)
		c1.Close()
		done <- err
	}()
	go io.Copy(io.Discard, c2)
	bw := bufio.NewWriter(c2)
	w1 := func(f *protocol.Frame) { _ = protocol.WriteFrame(bw, f) }
	for _, f := range helloFrames() {
		w1(f)
	}
	w1(&protocol.Frame{Type: protocol.MsgHave, Group: w.group, Vector: []protocol.VectorEntry{{Author: stranger.pub, Seq: 5}}})
	w1(&protocol.Frame{Type: protocol.MsgEnd}) // haves
	w1(&protocol.Frame{Type: protocol.MsgEnd}) // wants
	ow := protocol.NewOpsWriter(bw, w.group)
	for _, raw := range ops {
		if err := ow.Add(raw); err != nil {
			t.Fatal(err)
		}
	}
	if err := ow.Flush(); err != nil {
		t.Fatal(err)
	}
	w1(&protocol.Frame{Type: protocol.MsgEnd}) // ops
	w1(&protocol.Frame{Type: protocol.MsgNext})
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the member's side: %v", err)
	}
	c2.Close()
	if n := cr.ingested.Load(); n != 0 {
		t.Fatalf("%d ops of unknown authors reached Ingest", n)
	}
	if rf.Len(w.group) != before {
		t.Fatal("a stranger's ops were stored")
	}
}
