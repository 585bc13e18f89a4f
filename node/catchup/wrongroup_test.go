package catchup

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// An Ops frame carries the ops of one group. A peer that slips an op of
// another group into it — one the receiver replicates too, where the op
// is valid and new — is rejected, and nothing of the batch is stored, in
// either group. Without the check, Ingest would store the op in the
// other group (whose catch-up never offered it) or skip it in silence.

// twoGroups is the founder of group A and a member of it, who also
// founded group B, invited the founder of A into it and witnessed its
// join. The founder's replica rf holds both groups up to date; postB is
// an op of B that it lacks, and would store (its author is B's founder).
type twoGroups struct {
	w          *world
	f, m       *author
	rf, rm     *MemoryReplica
	groupB     crdt.ID
	postB      []byte
	genesisOfC []byte // the genesis of a group nobody here replicates
}

func newTwoGroups(t *testing.T) *twoGroups {
	w, f, m, rf, rm := pair(t)
	// The same keys, with their own seq and prev in group B.
	fB, mB := newAuthor(1), newAuthor(2)
	groupB, genesisB := mB.genesis("group B")
	joinB := fB.join(groupB, mB.invite(groupB, crdt.RoleMember))
	admitB := mB.admit(groupB, joinB)
	for _, r := range []*MemoryReplica{rf, rm} {
		r.AddGroup(groupB)
		mustAdd(t, r, genesisB, joinB, admitB)
	}
	if !rm.MayRead(groupB, f.pub) {
		t.Fatal("the founder of A is not a member of B")
	}
	_, genesisOfC := newAuthor(3).genesis("group C")
	return &twoGroups{w: w, f: f, m: m, rf: rf, rm: rm, groupB: groupB, postB: mB.post(groupB, 0), genesisOfC: genesisOfC}
}

// heldAB is what a replica holds of groups A and B.
type heldAB struct {
	lenA, lenB   int
	hashA, hashB crdt.ID
}

func (tg *twoGroups) held(r *MemoryReplica) heldAB {
	return heldAB{r.Len(tg.w.group), r.Len(tg.groupB), r.Hash(tg.w.group), r.Hash(tg.groupB)}
}

// smuggler is a replica that adds an op of its choosing to the first
// batch of group it sends.
type smuggler struct {
	*MemoryReplica
	group crdt.ID
	extra []byte
	once  sync.Once
}

func (s *smuggler) OpsAfter(g crdt.ID, a crdt.PublicKey, after uint64, fn func([]byte) error) error {
	if err := s.MemoryReplica.OpsAfter(g, a, after, fn); err != nil || g != s.group {
		return err
	}
	var err error
	s.once.Do(func() { err = fn(s.extra) })
	return err
}

// scriptedWithin is scripted with a deadline, so that a receiver that
// wrongly takes a batch and waits for another round fails the test
// instead of hanging it.
func scriptedWithin(d time.Duration, r Replica, peer crdt.PublicKey, frames []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	c1, c2 := net.Pipe()
	wrote := make(chan struct{})
	go io.Copy(io.Discard, c2)
	go func() {
		defer close(wrote)
		c2.Write(append(mustHello(), frames...))
	}()
	_, err := Run(ctx, c1, r, peer, false)
	c1.Close()
	<-wrote
	c2.Close()
	return err
}

// A member's node, in a real session, serves the founder the member's
// new ops of group A and, in the same batch, a valid op of group B.
func TestCatchupRejectsOpOfAnotherGroupInBatch(t *testing.T) {
	for name, extra := range map[string]func(*twoGroups) []byte{
		"an op of a group the receiver replicates": func(tg *twoGroups) []byte { return tg.postB },
		"the genesis of a group it does not":       func(tg *twoGroups) []byte { return tg.genesisOfC },
	} {
		t.Run(name, func(t *testing.T) {
			tg := newTwoGroups(t)
			for i := range 5 {
				mustAdd(t, tg.rm, tg.m.post(tg.w.group, i))
			}
			before := tg.held(tg.rf)
			evil := &smuggler{MemoryReplica: tg.rm, group: tg.w.group, extra: extra(tg)}
			a, b := runPair(context.Background(), evil, tg.m.pub, tg.rf, tg.f.pub, nil)
			// Since catch-up sends frames of ops, which leave the group
			// out, the sender cannot even frame the op (a hostile one
			// sending it all the same makes an op of A whose signature
			// fails, or an Ops message: both are refused below).
			if !errors.Is(a.err, protocol.ErrWrongGroup) {
				t.Fatalf("the smuggler: %v, want ErrWrongGroup", a.err)
			}
			if b.err == nil {
				t.Fatal("the receiver's session succeeded")
			}
			if after := tg.held(tg.rf); after != before || b.stats.NewOps != 0 {
				t.Fatalf("the batch was stored: %+v, then %+v (%d new ops)", before, after, b.stats.NewOps)
			}
		})
	}
}

// The same, frame by frame: a peer offers group A and sends one Ops
// frame of group A holding an op of another group, first or last, next
// to valid new ops of A.
func TestCatchupRejectsOpsFrameMixingGroups(t *testing.T) {
	next, err := protocol.AppendFrame(nil, &protocol.Frame{Type: protocol.MsgNext})
	if err != nil {
		t.Fatal(err)
	}
	for name, batch := range map[string]func(*twoGroups) [][]byte{
		"A's op, then B's":         func(tg *twoGroups) [][]byte { return [][]byte{tg.m.post(tg.w.group, 1), tg.postB} },
		"B's op, then A's":         func(tg *twoGroups) [][]byte { return [][]byte{tg.postB, tg.m.post(tg.w.group, 1)} },
		"only B's op":              func(tg *twoGroups) [][]byte { return [][]byte{tg.postB} },
		"A's op, then C's genesis": func(tg *twoGroups) [][]byte { return [][]byte{tg.m.post(tg.w.group, 1), tg.genesisOfC} },
		"B's genesis, which the receiver holds": func(tg *twoGroups) [][]byte {
			var genesisB []byte
			_ = tg.rf.OpsAfter(tg.groupB, tg.m.pub, 0, func(raw []byte) error { genesisB = raw; return errFirstOnly })
			return [][]byte{tg.m.post(tg.w.group, 1), genesisB}
		},
	} {
		t.Run(name, func(t *testing.T) {
			tg := newTwoGroups(t)
			have, err := protocol.AppendFrame(nil, &protocol.Frame{Type: protocol.MsgHave, Group: tg.w.group})
			if err != nil {
				t.Fatal(err)
			}
			end := mustFrame(protocol.MsgEnd, crdt.ID{})
			var frames []byte
			frames = append(frames, have...)
			frames = append(frames, end...) // offers
			frames = append(frames, end...) // wants
			frames = append(frames, mustFrame(protocol.MsgOps, tg.w.group, batch(tg)...)...)
			frames = append(frames, end...)  // ops
			frames = append(frames, next...) // so that a receiver that took the batch ends the session
			before := tg.held(tg.rf)
			if err := scriptedWithin(10*time.Second, tg.rf, tg.m.pub, frames); !errors.Is(err, ErrRejected) {
				t.Fatalf("err = %v, want ErrRejected", err)
			}
			if after := tg.held(tg.rf); after != before {
				t.Fatalf("the batch was stored: %+v, then %+v", before, after)
			}
		})
	}
	// And the same frame without the foreign op is taken: the rejections
	// above are for the op's group, not for the script.
	tg := newTwoGroups(t)
	have, _ := protocol.AppendFrame(nil, &protocol.Frame{Type: protocol.MsgHave, Group: tg.w.group})
	end := mustFrame(protocol.MsgEnd, crdt.ID{})
	frames := append(append(append(have, end...), end...), mustFrame(protocol.MsgOps, tg.w.group, tg.m.post(tg.w.group, 1))...)
	frames = append(append(frames, end...), next...)
	if err := scriptedWithin(10*time.Second, tg.rf, tg.m.pub, frames); err != nil {
		t.Fatalf("a clean batch: %v", err)
	}
	if got, want := tg.rf.Len(tg.w.group), tg.held(tg.rm).lenA+1; got != want {
		t.Fatalf("a clean batch: %d ops of A stored, want %d", got, want)
	}
	// And B's op, on its own, is one the receiver stores: the rejections
	// are for its place in a batch of A, not for the op.
	mustAdd(t, tg.rf, tg.postB)
}

// A Frame message whose frame, built for group B, is sent as group A's:
// its ops are rebuilt as ops of A that their authors never signed, and
// the batch is rejected with nothing stored.
func TestCatchupRejectsFrameOfAnotherGroup(t *testing.T) {
	tg := newTwoGroups(t)
	fr, err := protocol.AppendOpsFrame(nil, tg.groupB, [][]byte{tg.postB})
	if err != nil {
		t.Fatal(err)
	}
	msg := func(b []byte) []byte {
		// [7, group A, frame of B], written by hand: AppendFrame would
		// frame the ops itself.
		body := append([]byte{0x93, byte(protocol.MsgFrame), 0xc4, 32}, tg.w.group[:]...)
		body = append(body, 0xc5, byte(len(b)>>8), byte(len(b)))
		body = append(body, b...)
		return append(binary.AppendUvarint(nil, uint64(len(body))), body...)
	}
	have, _ := protocol.AppendFrame(nil, &protocol.Frame{Type: protocol.MsgHave, Group: tg.w.group})
	end := mustFrame(protocol.MsgEnd, crdt.ID{})
	next, _ := protocol.AppendFrame(nil, &protocol.Frame{Type: protocol.MsgNext})
	frames := append(append(append(have, end...), end...), msg(fr)...)
	frames = append(append(frames, end...), next...)
	before := tg.held(tg.rf)
	if err := scriptedWithin(10*time.Second, tg.rf, tg.m.pub, frames); !errors.Is(err, ErrRejected) {
		t.Fatalf("err = %v, want ErrRejected", err)
	}
	if after := tg.held(tg.rf); after != before {
		t.Fatalf("the batch was stored: %+v, then %+v", before, after)
	}
	// The same frame sent as B's is fine: the refusal is for the group.
	have, _ = protocol.AppendFrame(nil, &protocol.Frame{Type: protocol.MsgHave, Group: tg.groupB})
	ok, _ := protocol.AppendFrame(nil, &protocol.Frame{Type: protocol.MsgFrame, Group: tg.groupB, Ops: [][]byte{tg.postB}})
	frames = append(append(append(have, end...), end...), ok...)
	frames = append(append(frames, end...), next...)
	if err := scriptedWithin(10*time.Second, tg.rf, tg.m.pub, frames); err != nil {
		t.Fatalf("the frame as B's: %v", err)
	}
	if got := tg.rf.Len(tg.groupB); got != before.lenB+1 {
		t.Fatalf("B's op as B's frame: %d ops of B, want %d", got, before.lenB+1)
	}
}
