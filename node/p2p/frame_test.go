package p2p

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// TestFrameDeliveredAndRelayed: A publishes the ops of one commit as one
// frame; B, A's only peer besides C's, stores them all from the frame
// and forwards it to C, who is connected to B alone. Both get the ops by
// gossip, not by catch-up (whose sessions at connection time are over).
func TestFrameDeliveredAndRelayed(t *testing.T) {
	tg := newTestGroup(t)
	ra, rb, rc := tg.replica(t, tg.a), tg.replica(t, tg.b), tg.replica(t, tg.c)
	a := start(t, loopbackConfig(t, tg.a), ra)
	b := start(t, loopbackConfig(t, tg.b), rb)
	c := start(t, loopbackConfig(t, tg.c), rc)
	connected := time.Now()
	connect(t, b, a)
	connect(t, c, b)
	waitMesh(t, tg.id, a, b)
	waitMesh(t, tg.id, b, c)
	time.Sleep(time.Until(connected.Add(afterMesh * 5 / 4).Add(500 * time.Millisecond)))

	const n = 40
	var raws [][]byte
	for i := range n {
		raws = append(raws, tg.a.post(t, tg.id, fmt.Sprint("framed ", i)))
	}
	if _, err := ra.Ingest(context.Background(), raws); err != nil { // A's commit
		t.Fatal(err)
	}
	if msgs, err := encodeMessages(tg.id, raws, nil); err != nil || len(msgs) != 1 || msgs[0][0] != frameMagic {
		t.Fatalf("%d ops of one commit make %d messages (%v); want one frame", n, len(msgs), err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.PublishStored(ctx, tg.id, raws); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "B and C to hold the framed ops", func() bool {
		return converged(tg.id, len(tg.setup)+n, ra, rb, rc)
	})
	if got := b.framedOps.Load(); got != n {
		t.Errorf("B stored %d ops from frames; want %d", got, n)
	}
	if got := c.framedOps.Load(); got != n {
		t.Errorf("C (reached through B only) stored %d ops from frames; want %d", got, n)
	}
}

// TestMalformedFrameRefused: a member's node that gossips a frame that
// is malformed, too large, or holds one forged op among valid ones is
// disconnected and blocked, and nothing of the frame is stored.
func TestMalformedFrameRefused(t *testing.T) {
	cases := []struct {
		name  string
		frame func(t *testing.T, g crdt.ID, valid [][]byte) []byte
	}{
		{"cut short", func(t *testing.T, g crdt.ID, valid [][]byte) []byte {
			f := frameOf(t, g, valid)
			return f[:len(f)-10]
		}},
		{"count larger than the ops", func(t *testing.T, g crdt.ID, valid [][]byte) []byte {
			f := frameOf(t, g, valid)
			f[1]++ // a count of one byte (8 ops)
			return f
		}},
		{"trailing bytes", func(t *testing.T, g crdt.ID, valid [][]byte) []byte {
			return append(frameOf(t, g, valid), 0)
		}},
		{"too large", func(t *testing.T, g crdt.ID, valid [][]byte) []byte {
			return append(frameOf(t, g, valid), make([]byte, protocol.MaxFrameBytes)...)
		}},
		{"not canonical: an author written twice", func(t *testing.T, g crdt.ID, valid [][]byte) []byte {
			f := frameOf(t, g, valid[:2])
			// The second op's flags (after the first op) say chained;
			// rewrite the frame with its author written out instead.
			first, err := protocol.EncodeFrame(g, decodeAll(t, valid[:1]))
			if err != nil {
				t.Fatal(err)
			}
			second, err := protocol.EncodeFrame(g, decodeAll(t, valid[1:2]))
			if err != nil {
				t.Fatal(err)
			}
			out := append([]byte{frameMagic, 2}, first[2:]...)
			out = append(out, second[2:]...)
			if bytes.Equal(out, f) {
				t.Fatal("the rewritten frame is the canonical one")
			}
			return out
		}},
		{"one forged op", func(t *testing.T, g crdt.ID, valid [][]byte) []byte {
			ops := decodeAll(t, valid)
			ops[len(ops)/2].Sig[0] ^= 1 // break its signature
			ops[len(ops)/2].ID = crdt.ID{}
			f, err := protocol.EncodeFrame(g, ops)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tg := newTestGroup(t)
			ra := tg.replica(t, tg.a)
			a := start(t, loopbackConfig(t, tg.a), ra)
			var valid [][]byte
			for i := range 8 {
				valid = append(valid, tg.b.post(t, tg.id, fmt.Sprint("post ", i)))
			}
			mh, tp := rawGossiper(t, tg, a)
			if err := tp.Publish(context.Background(), tc.frame(t, tg.id, valid)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 5*time.Second, "the sender to be disconnected", func() bool {
				return a.host.Network().Connectedness(mh.ID()) != network.Connected
			})
			if !a.gate.blocked(mh.ID()) {
				t.Fatal("sender not blocked")
			}
			if ra.Len(tg.id) != len(tg.setup) {
				t.Fatalf("A holds %d ops; want the %d it held before", ra.Len(tg.id), len(tg.setup))
			}
		})
	}
}

// rawGossiper is member B's node as a bare GossipSub host on A's topic
// of the group, which sends whatever bytes a test gives it.
func rawGossiper(t *testing.T, tg *testGroup, a *Host) (host.Host, *pubsub.Topic) {
	t.Helper()
	mh, err := libp2p.New(libp2p.Identity(tg.b.libp2pKey(t)), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); mh.Close() })
	ps, err := pubsub.NewGossipSub(ctx, mh,
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign), pubsub.WithNoAuthor(),
		pubsub.WithMessageIdFn(func(m *pb.Message) string { return messageID(m) }))
	if err != nil {
		t.Fatal(err)
	}
	tp, err := ps.Join(protocol.Topic(tg.id, tg.id))
	if err != nil {
		t.Fatal(err)
	}
	if err := mh.Connect(ctx, peer.AddrInfo{ID: a.ID(), Addrs: a.host.Addrs()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the topic peers", func() bool { return len(tp.ListPeers()) == 1 })
	return mh, tp
}

// heldLookup is the prev lookup of a node that holds raws.
func heldLookup(t testing.TB, raws ...[]byte) protocol.PrevLookup {
	type pos struct {
		a   crdt.PublicKey
		seq uint64
	}
	held := map[pos]crdt.ID{}
	for _, op := range decodeAll(t, raws) {
		held[pos{op.Author, op.Seq}] = op.ID
	}
	return func(a crdt.PublicKey, seq uint64) (crdt.ID, bool) {
		id, ok := held[pos{a, seq}]
		return id, ok
	}
}

// gossipFrameOf is the gossip frame of raws, ops of group g (their
// prevs left out).
func gossipFrameOf(t testing.TB, g crdt.ID, raws [][]byte) []byte {
	t.Helper()
	f, err := protocol.EncodeGossipFrame(g, decodeAll(t, raws))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// frameOf is the frame of raws, ops of group g.
func frameOf(t testing.TB, g crdt.ID, raws [][]byte) []byte {
	t.Helper()
	f, err := protocol.EncodeFrame(g, decodeAll(t, raws))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func decodeAll(t testing.TB, raws [][]byte) []crdt.Op {
	t.Helper()
	ops := make([]crdt.Op, len(raws))
	for i, raw := range raws {
		var err error
		if ops[i], err = protocol.DecodeOp(raw); err != nil {
			t.Fatal(err)
		}
	}
	return ops
}

// TestEncodeMessages: a single op goes as a frame of one, smaller than
// the op alone; many go as frames within the limits, which give the ops
// back in order, byte for byte.
func TestEncodeMessages(t *testing.T) {
	tg := newTestGroup(t)
	one := tg.a.post(t, tg.id, strings.Repeat("x", 190))
	msgs, err := encodeMessages(tg.id, [][]byte{one}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0][0] != frameMagic || len(msgs[0]) >= len(one) {
		t.Fatalf("one op of %d bytes makes %d messages, the first of %d bytes starting %#x; want a smaller frame of one", len(one), len(msgs), len(msgs[0]), msgs[0][0])
	}
	if got, _, err := decodeMessage(tg.id, msgs[0], heldLookup(t, tg.setup...)); err != nil || len(got) != 1 || !bytes.Equal(got[0], one) {
		t.Fatalf("the frame of one gave back %d ops (%v)", len(got), err)
	}
	// Many ops: frames within the limits, the ops in order.
	var raws [][]byte
	for i := range 5000 {
		raws = append(raws, tg.a.post(t, tg.id, strings.Repeat("y", 10+i%190)))
	}
	msgs, err = encodeMessages(tg.id, raws, nil)
	if err != nil {
		t.Fatal(err)
	}
	held := heldLookup(t, append(append([][]byte{one}, tg.setup...), raws...)...)
	none := heldLookup(t)
	var back [][]byte
	for i, m := range msgs {
		if len(m) > protocol.MaxFrameBytes {
			t.Fatalf("a frame of %d bytes", len(m))
		}
		// The first frame leaves out its prev (the op before went out
		// long ago, if ever); the later ones, whose op before is in the
		// frame sent just before, write it.
		if _, _, err := decodeMessage(tg.id, m, none); (i == 0) != errors.Is(err, protocol.ErrNeedPrev) {
			t.Fatalf("frame %d to a node that holds none of the ops: %v", i, err)
		}
		ops, _, err := decodeMessage(tg.id, m, held)
		if err != nil {
			t.Fatal(err)
		}
		back = append(back, ops...)
	}
	if len(msgs) < 2 || len(back) != len(raws) {
		t.Fatalf("%d ops in %d messages came back as %d", len(raws), len(msgs), len(back))
	}
	for i := range raws {
		if !bytes.Equal(back[i], raws[i]) {
			t.Fatalf("op %d changed", i)
		}
	}
	// An op of another group is not framed in this one.
	other := newTestGroup(t)
	if _, err := encodeMessages(tg.id, [][]byte{other.a.post(t, other.id, "elsewhere")}, nil); err == nil {
		t.Fatal("an op of another group framed")
	}
}

// A message leaves out the prev of an op whose op before went out less
// than prevSettle ago only: its receivers may not hold it yet.
func TestEncodeMessagesPrevSettled(t *testing.T) {
	tg := newTestGroup(t)
	var sent sentOps
	none := heldLookup(t)
	first, second := tg.a.post(t, tg.id, "first"), tg.a.post(t, tg.id, "second")
	m1, err := encodeMessages(tg.id, [][]byte{first}, &sent)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := encodeMessages(tg.id, [][]byte{second}, &sent)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := decodeMessage(tg.id, m1[0], none); !errors.Is(err, protocol.ErrNeedPrev) {
		t.Fatalf("the first, its op before never sent: %v; want its prev left out", err)
	}
	if _, _, err := decodeMessage(tg.id, m2[0], none); err != nil {
		t.Fatalf("the second, a moment after the first: %v; want its prev written", err)
	}
	// The same second message once the first went out prevSettle ago.
	sent.m[tg.a.pub] = sentOp{sent.m[tg.a.pub].seq - 1, time.Now().Add(-prevSettle)}
	m2, err = encodeMessages(tg.id, [][]byte{second}, &sent)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := decodeMessage(tg.id, m2[0], none); !errors.Is(err, protocol.ErrNeedPrev) {
		t.Fatalf("the second, prevSettle after the first: %v; want its prev left out", err)
	}
}

// TestDecodeMessage: a message that is not a frame is one op, left to
// the op's decoder; a frame of an op of a kind this node does not know
// is split leniently, its op left for the validator to find unknown
// (ignored, not punished); a frame of ops read under
// another group's ID decodes (the group is not in the frame) and fails
// at their signatures, which cover the group.
func TestDecodeMessage(t *testing.T) {
	tg := newTestGroup(t)
	raw := tg.a.post(t, tg.id, "alone")
	none := heldLookup(t)
	if got, _, err := decodeMessage(tg.id, raw, none); err != nil || len(got) != 1 || !bytes.Equal(got[0], raw) {
		t.Fatalf("a bare op: %d ops, %v", len(got), err)
	}
	f := frameOf(t, tg.id, [][]byte{raw})
	newer := bytes.Clone(f)
	newer[3] = 0x7f // the op's tag (after magic, count, flags): version 2, kind 63
	if got, _, err := decodeMessage(tg.id, newer, none); err != nil || len(got) != 1 {
		t.Fatalf("a frame of an op of an unknown kind: %d ops, %v; want it split leniently", len(got), err)
	} else if _, err := protocol.DecodeOp(got[0]); !errors.Is(err, protocol.ErrUnsupported) {
		t.Fatalf("its op decodes as %v; want ErrUnsupported (ignored, not punished)", err)
	}
	other := newTestGroup(t)
	got, _, err := decodeMessage(other.id, f, none)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := protocol.DecodeOp(got[0]); err == nil {
		t.Fatal("an op framed in one group verifies as an op of another")
	}
	for name, b := range map[string][]byte{
		"magic alone":      {frameMagic},
		"no ops":           {frameMagic, 0},
		"count beyond":     {frameMagic, 0xff, 0xff, 0x03, 1, 1},
		"over the max":     append(append([]byte{frameMagic}, binary.AppendUvarint(nil, protocol.MaxFrameOps+1)...), make([]byte, 400<<10)...),
		"over the bytes":   append(bytes.Clone(f), make([]byte, protocol.MaxFrameBytes)...),
		"trailing":         append(bytes.Clone(f), 0),
		"long count":       append([]byte{frameMagic, 0x81, 0x00}, f[2:]...),
		"unknown flag bit": append([]byte{frameMagic, 1, f[2] | 0x80}, f[3:]...),
	} {
		if _, _, err := decodeMessage(tg.id, b, none); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzDecodeMessage: whatever the bytes, decodeMessage neither panics
// nor allocates beyond the frame's limits, and a frame it accepts is the
// one frame of its ops (encodeMessages writes it back byte for byte).
func FuzzDecodeMessage(f *testing.F) {
	tg := newTestGroup(f)
	var raws [][]byte
	for i := range 3 {
		raws = append(raws, tg.a.post(f, tg.id, fmt.Sprint("fuzz ", i)))
	}
	raws = append(raws, tg.b.post(f, tg.id, "another author"))
	f.Add(frameOf(f, tg.id, raws))
	f.Add(frameOf(f, tg.id, raws[:1]))
	f.Add(append([]byte{frameMagic}, tg.setup[0]...))
	f.Add([]byte{frameMagic, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add(raws[0])
	if m, err := encodeMessages(tg.id, raws, nil); err == nil {
		f.Add(m[0]) // a gossip frame, the first op's prev left out
		newer := bytes.Clone(m[0])
		newer[3] = 0x7f // its first op of a kind from the future: split leniently
		f.Add(newer)
	}
	held := heldLookup(f, append(append([][]byte{}, tg.setup...), raws...)...)
	f.Fuzz(func(t *testing.T, b []byte) {
		ops, _, err := decodeMessage(tg.id, b, held)
		if err != nil || len(b) == 0 || b[0] != frameMagic {
			return
		}
		for _, raw := range ops {
			if _, err := protocol.DecodeStoredOp(raw); err != nil {
				// Split leniently: only a frame the strict decoder
				// calls unsupported is, and its ops are judged one by
				// one (validateFrame), so there is nothing to re-encode.
				if _, _, err := protocol.SplitFrameWith(tg.id, b, held); !errors.Is(err, protocol.ErrUnsupported) {
					t.Fatalf("frame %x split leniently, though the strict decoder says %v", b, err)
				}
				return
			}
		}
		again, err := encodeMessages(tg.id, ops, nil)
		if err != nil {
			t.Fatalf("frame %x decodes to ops that do not encode: %v", b, err)
		}
		if len(again) != 1 {
			t.Fatalf("frame %x decodes to ops that make %d messages", b, len(again))
		}
		// The gossip frame of the ops (prevs left out, which b may have
		// written) gives them back to a node that holds those prevs.
		prevs := map[[2]any]crdt.ID{}
		for _, raw := range ops {
			op, err := protocol.DecodeStoredOp(raw) // signatures are not the point: fuzzed ops fail them
			if err != nil {
				t.Fatalf("an op of an accepted frame does not decode: %v", err)
			}
			k := [2]any{op.Author, op.Seq - 1}
			if id, ok := prevs[k]; ok && id != op.Prev {
				return // two ops at one seq: no one node holds both prevs
			}
			prevs[k] = op.Prev
		}
		back, _, err := decodeMessage(tg.id, again[0], func(a crdt.PublicKey, seq uint64) (crdt.ID, bool) {
			id, ok := prevs[[2]any{a, seq}]
			return id, ok
		})
		if err != nil || len(back) != len(ops) {
			t.Fatalf("the gossip frame of %x: %v", b, err)
		}
		for i := range ops {
			if !bytes.Equal(back[i], ops[i]) {
				t.Fatalf("op %d came back otherwise", i)
			}
		}
	})
}
