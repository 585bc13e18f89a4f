package p2p

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
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
	if msgs := encodeMessages(tg.id, raws); len(msgs) != 1 || msgs[0][0] != frameMagic {
		t.Fatalf("%d ops of one commit make %d messages; want one frame", n, len(msgs))
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
		frame func(valid [][]byte) []byte
	}{
		{"length beyond the frame", func(valid [][]byte) []byte {
			f := encodeFrame(valid, 0)
			return f[:len(f)-10]
		}},
		{"count larger than the ops", func(valid [][]byte) []byte {
			f := encodeFrame(valid, 0)
			return append([]byte{frameMagic, byte(len(valid) + 1)}, f[2:]...)
		}},
		{"too large", func(valid [][]byte) []byte {
			var big [][]byte
			for len(big)*len(valid[0]) <= maxFrameBytes {
				big = append(big, valid...)
			}
			return encodeFrame(big, 0)
		}},
		{"one forged op", func(valid [][]byte) []byte {
			forged := bytes.Clone(valid[len(valid)/2])
			forged[len(forged)-1] ^= 1 // break its signature
			ops := append([][]byte{}, valid...)
			ops[len(ops)/2] = forged
			return encodeFrame(ops, 0)
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
			if err := tp.Publish(context.Background(), tc.frame(valid)); err != nil {
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
		pubsub.WithMessageIdFn(func(m *pb.Message) string { return opID(m) }))
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

func TestEncodeMessages(t *testing.T) {
	op := func(n int) []byte { return bytes.Repeat([]byte{0x9a}, n) }
	if got := encodeMessages(crdt.ID{}, [][]byte{op(300)}); len(got) != 1 || !bytes.Equal(got[0], op(300)) {
		t.Fatal("a single op is not sent as itself")
	}
	// Many ops: frames within the limits, the ops in order.
	var raws [][]byte
	for i := range 3000 {
		raws = append(raws, op(200+i%300))
	}
	msgs := encodeMessages(crdt.ID{}, raws)
	var back [][]byte
	for _, m := range msgs {
		if len(m) > maxFrameBytes {
			t.Fatalf("a frame of %d bytes", len(m))
		}
		ops, err := decodeMessage(crdt.ID{}, m)
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
}

func TestDecodeMessageRefuses(t *testing.T) {
	op := bytes.Repeat([]byte{1}, 100)
	good := encodeFrame([][]byte{op, op}, 0)
	if _, err := decodeMessage(crdt.ID{}, good); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"no count":           {frameMagic},
		"one op":             append([]byte{frameMagic, 1, 100}, op...),
		"count beyond bytes": {frameMagic, 0xff, 0xff, 0x03, 1, 1},
		"long count":         append([]byte{frameMagic, 0x82, 0x00}, good[2:]...),
		"long length":        append(append([]byte{frameMagic, 2, 0xe4, 0x00}, op...), good[2+1+100:]...),
		"length beyond":      append([]byte{frameMagic, 2, 100}, op[:99]...),
		"zero length":        append([]byte{frameMagic, 2, 0}, good[2:]...),
		"trailing":           append(bytes.Clone(good), 0),
		"over maxFrameBytes": append(append([]byte{frameMagic}, binary.AppendUvarint(nil, 2)...), make([]byte, maxFrameBytes)...),
		"count over the max": append(append([]byte{frameMagic}, binary.AppendUvarint(nil, maxFrameOps+1)...), make([]byte, 400<<10)...),
	} {
		if _, err := decodeMessage(crdt.ID{}, b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzDecodeMessage(f *testing.F) {
	op := bytes.Repeat([]byte{7}, 70)
	f.Add(encodeFrame([][]byte{op, op, op}, 0))
	f.Add([]byte{frameMagic, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add(op)
	f.Fuzz(func(t *testing.T, b []byte) {
		ops, err := decodeMessage(crdt.ID{}, b)
		if err != nil {
			return
		}
		if len(b) > 0 && b[0] == frameMagic {
			// A frame that decodes encodes back to the same bytes.
			if again := encodeFrame(ops, 0); !bytes.Equal(again, b) {
				t.Fatalf("frame %x decodes to ops that encode as %x", b, again)
			}
		}
	})
}
