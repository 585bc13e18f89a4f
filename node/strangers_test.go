package node_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	libp2pproto "github.com/libp2p/go-libp2p/core/protocol"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/p2p"
	"github.com/mutual-aid/mutual/protocol"
)

// stranger is a libp2p node written for the test, sharing no code with
// package p2p: GossipSub set up as a js-libp2p client would to talk to
// mutual (no signatures, SHA-256 message IDs), and a recorder of every
// byte and message the honest nodes send it.
type stranger struct {
	key ed25519.PrivateKey
	h   host.Host
	ps  *pubsub.PubSub
	rec *recorder
}

// recorder keeps what a stranger receives.
type recorder struct {
	mu        sync.Mutex
	streams   bytes.Buffer // bytes read on catch-up streams
	published [][]byte     // data of gossip messages received
	topics    []string     // topics named in subscriptions received
}

func (r *recorder) RecvRPC(rpc *pubsub.RPC) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range rpc.GetPublish() {
		r.published = append(r.published, slices.Clone(m.GetData()))
	}
	for _, s := range rpc.GetSubscriptions() {
		r.topics = append(r.topics, s.GetTopicid())
	}
}
func (r *recorder) OnNewOutboundStream(peer.ID, libp2pproto.ID)          {}
func (r *recorder) OnClosedOutboundStream(peer.ID)                       {}
func (r *recorder) Join(string)                                          {}
func (r *recorder) Leave(string)                                         {}
func (r *recorder) Graft(peer.ID, string)                                {}
func (r *recorder) Prune(peer.ID, string)                                {}
func (r *recorder) ValidateMessage(*pubsub.Message)                      {}
func (r *recorder) DeliverMessage(*pubsub.Message)                       {}
func (r *recorder) RejectMessage(*pubsub.Message, string)                {}
func (r *recorder) DuplicateMessage(*pubsub.Message)                     {}
func (r *recorder) ThrottlePeer(peer.ID)                                 {}
func (r *recorder) SendRPC(*pubsub.RPC, peer.ID)                         {}
func (r *recorder) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}
func (r *recorder) DropRPC(*pubsub.RPC, peer.ID)                         {}
func (r *recorder) UndeliverableMessage(*pubsub.Message)                 {}

func newStranger(t *testing.T) *stranger {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(nil)
	lk, err := crypto.UnmarshalEd25519PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	h, err := libp2p.New(libp2p.Identity(lk), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); h.Close() })
	s := &stranger{key: key, h: h, rec: &recorder{}}
	s.ps, err = pubsub.NewGossipSub(ctx, h,
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign), pubsub.WithNoAuthor(),
		pubsub.WithMessageIdFn(func(m *pb.Message) string { id := sha256.Sum256(m.Data); return string(id[:]) }),
		pubsub.WithPeerOutboundQueueSize(1<<14), pubsub.WithRawTracer(s.rec))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *stranger) connect(t *testing.T, to *served) {
	t.Helper()
	ai, err := peer.AddrInfoFromString(to.n.Host.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := s.h.Connect(context.Background(), *ai); err != nil {
		t.Fatal(err)
	}
}

// signedOp is a post in g signed by key at seq 2: well formed, valid
// signature, by an author no group knows, so that no node can judge it
// (at seq 1 it would be invalid: an author's first op is its join).
func signedOp(t *testing.T, g crdt.ID, key ed25519.PrivateKey, title string) []byte {
	op := crdt.Op{Group: g, Seq: 2, Time: crdt.HLC{Wall: time.Now().UnixMilli()},
		Body: crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: title}}}
	rand.Read(op.Prev[:])
	raw, err := protocol.SignOp(&op, key)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// liveLatency posts on from n times and returns the times each post
// took to reach to's event stream.
func liveLatency(t *testing.T, from, to *served, n int, label string) []time.Duration {
	t.Helper()
	ev := subscribe(t, to)
	defer ev.close()
	var out []time.Duration
	for i := range n {
		t0 := time.Now()
		p := from.mustPost(t, fmt.Sprintf("%s %d", label, i))
		at, err := ev.wait(p.ID, 30*time.Second)
		if err != nil {
			t.Fatalf("%s: post %d did not reach %s: %v", label, i, to.name, err)
		}
		out = append(out, at.Sub(t0))
		time.Sleep(20 * time.Millisecond)
	}
	return out
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// TestStrangersLearnNothingAndCostNothing is issue 9's probe from outside,
// with real nodes (node.Serve: Badger, libp2p on loopback, the HTTP API).
// Two strangers subscribe to the topic a group's ID would have named
// before topics were named by the group's key (what someone who guessed
// or overheard the ID would try) and, worse, to the group's real topic
// (as if a former member leaked it). One floods
// junk and forged ops, holds 300 catch-up streams open idle, and probes
// with a Have naming the group and its members; the other floods 12,000
// valid ops signed by fresh keys and ops of a newer kind and version;
// 10,000 messages a second in all. A
// bundle of 300 empty frames is imported. The honest nodes store nothing
// of it, send the strangers no op and no group ID, keep exchanging posts
// live, and do not punish the stranger that sent only valid or newer ops.
func TestStrangersLearnNothingAndCostNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("floods for seconds")
	}
	a := serveNode(t, "A", t.TempDir())
	b := serveNode(t, "B", t.TempDir())
	gid := formGroup(t, a, b)
	g := groupID(t, a, gid)
	meshed(t, a, b)
	quiet := liveLatency(t, a, b, 10, "quiet")
	// A contact posted before and during the flood: no byte of it, in
	// clear or sealed, may reach a stranger.
	const canary = "canary-555-0199"
	var sealed struct{ ID string }
	a.must(t, "POST", "/api/v1/posts", map[string]any{"kind": "need", "title": "nappies", "contact": canary, "location": "9 Canary Row"}, &sealed)

	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heapBase := ms.HeapInuse
	var heapPeak atomic.Uint64
	stopHeap := make(chan struct{})
	heapDone := make(chan struct{})
	go func() {
		defer close(heapDone)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopHeap:
				return
			case <-tick.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				if m.HeapInuse > heapPeak.Load() {
					heapPeak.Store(m.HeapInuse)
				}
			}
		}
	}()

	hostile, newer := newStranger(t), newStranger(t)
	topic, ok := a.n.Local.Replica.Topic(g)
	if !ok || strings.Contains(topic, g.String()) || strings.Contains(topic, g.String()[:16]) {
		t.Fatalf("the group's topic %q (known: %v) names the group", topic, ok)
	}
	var topics []*pubsub.Topic
	for _, s := range []*stranger{hostile, newer} {
		guessed, err := s.ps.Join("/mutual/group/1.0.0/" + g.String())
		if err != nil {
			t.Fatal(err)
		}
		gsub, err := guessed.Subscribe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(gsub.Cancel)
		tp, err := s.ps.Join(topic)
		if err != nil {
			t.Fatal(err)
		}
		sub, err := tp.Subscribe() // so as to be sent anything there is
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sub.Cancel)
		topics = append(topics, tp)
		s.connect(t, a)
		s.connect(t, b)
	}
	waitUntil(t, 10*time.Second, "the strangers to see the members on the topic", func() error {
		for _, tp := range topics {
			if n := len(tp.ListPeers()); n < 2 {
				return fmt.Errorf("%d topic peers", n)
			}
		}
		return nil
	})

	// 300 catch-up streams to A, held open without a word, every byte
	// read recorded.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var streamsWG sync.WaitGroup
	var opened, resetSoon atomic.Int64
	var held []network.Stream
	for range 300 {
		st, err := hostile.h.NewStream(ctx, a.n.Host.ID(), protocol.SyncProtocol)
		if err != nil {
			continue
		}
		opened.Add(1)
		held = append(held, st)
		streamsWG.Add(1)
		go func() {
			defer streamsWG.Done()
			defer st.Reset()
			t0 := time.Now()
			buf := make([]byte, 4096)
			for {
				n, err := st.Read(buf)
				hostile.rec.mu.Lock()
				hostile.rec.streams.Write(buf[:n])
				hostile.rec.mu.Unlock()
				if err != nil {
					if time.Since(t0) < 5*time.Second {
						resetSoon.Add(1)
					}
					return
				}
			}
		}()
	}
	// A probe: a Have naming the group and both members' keys, as if the
	// stranger followed it. The answer must name no author and no seq.
	// Since issue 10 an open group serves whoever names it (a follower);
	// a group that wants strangers who learned its ID to get nothing
	// accepts followers from its allies only: the probe gets a Refused.
	a.must(t, "POST", "/api/v1/groups/"+gid+"/federation", map[string]any{"policy": "allies", "allies": []string{strings.Repeat("ab", 32)}}, nil)
	probe := probeFrames(t, newer.h, a, g, []*served{a, b})

	// The floods, signed beforehand: in the wild the strangers' CPU is
	// not the members'.
	valid := make([][]byte, 12000)
	for i := range valid {
		_, k, _ := ed25519.GenerateKey(nil)
		valid[i] = signedOp(t, g, k, fmt.Sprint("stranger ", i))
	}
	forged := make([][]byte, 2000)
	for i := range forged {
		forged[i] = signedOp(t, g, hostile.key, fmt.Sprint("forged ", i))
		forged[i][len(forged[i])-1] ^= 1
	}
	// Each stranger sends 5,000 messages a second (the 10,000/s in
	// all), with live posts between the members meanwhile.
	pace := func(i int, t0 time.Time) {
		if i%100 == 99 {
			time.Sleep(time.Until(t0.Add(time.Duration(i+1) * time.Second / 5000)))
		}
	}
	var sentValid, sentNewer, sentJunk atomic.Int64
	flood := make(chan struct{})
	var floodWG sync.WaitGroup
	floodWG.Add(2)
	go func() { // the newer peer: valid ops of fresh keys, newer kinds and versions
		defer floodWG.Done()
		t0 := time.Now()
		for i := 0; i < 12000; i++ {
			pace(i+i/4, t0)
			select {
			case <-flood:
				return
			default:
			}
			raw := valid[i]
			if topics[1].Publish(ctx, raw) == nil {
				sentValid.Add(1)
			}
			if i%4 == 0 {
				nw := slices.Clone(raw)
				nw[1+i/4%2] = 0x63 // op version, or kind, 99
				if topics[1].Publish(ctx, nw) == nil {
					sentNewer.Add(1)
				}
			}
		}
	}()
	go func() { // the hostile peer: junk and forged ops
		defer floodWG.Done()
		t0 := time.Now()
		for i := 0; ; i++ {
			pace(i, t0)
			select {
			case <-flood:
				return
			default:
			}
			var raw []byte
			if i%2 == 0 {
				raw = make([]byte, 64+i%200)
				rand.Read(raw)
			} else {
				raw = forged[i/2%len(forged)]
			}
			if topics[0].Publish(ctx, raw) == nil {
				sentJunk.Add(1)
			}
		}
	}()
	floodStart := time.Now()
	during := liveLatency(t, a, b, 10, "during")
	during = append(during, liveLatency(t, b, a, 10, "during back")...)
	for time.Since(floodStart) < 4*time.Second {
		time.Sleep(50 * time.Millisecond)
	}
	close(flood)
	floodWG.Wait()
	floodFor := time.Since(floodStart)

	// The USB stick: a bundle of 300 empty frames.
	var bundle bytes.Buffer
	bundle.WriteString("mutual-bundle/1\n")
	for i := range 300 {
		f := &protocol.Frame{Type: protocol.MsgOps}
		f.Group[0], f.Group[1], f.Group[31] = byte(i), byte(i>>8), 0xee
		if err := protocol.WriteFrame(&bundle, f); err != nil {
			t.Fatal(err)
		}
	}
	req, _ := http.NewRequest("POST", a.base+"/api/v1/bundle", bytes.NewReader(bundle.Bytes()))
	req.Header.Set("Content-Type", "application/octet-stream")
	res, err := httpc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if n := len(a.n.Local.Replica.Groups()); n != 1 {
		t.Fatalf("A holds %d groups after a bundle of empty frames (%s)", n, res.Status)
	}

	after := liveLatency(t, a, b, 5, "after")
	runtime.ReadMemStats(&ms)
	close(stopHeap)
	<-heapDone

	// Nothing of the strangers is stored.
	members := map[crdt.PublicKey]bool{}
	for _, s := range []*served{a, b} {
		k, err := p2p.KeyOf(s.n.Host.ID())
		if err != nil {
			t.Fatal(err)
		}
		members[k] = true
	}
	for _, s := range []*served{a, b} {
		vv, err := s.n.Local.Replica.Sync().VersionVector(g)
		if err != nil {
			t.Fatal(err)
		}
		for k := range vv {
			if !members[k] {
				t.Errorf("%s stores ops of %s, not a member", s.name, k.String()[:12])
			}
		}
		var ps []struct {
			Title string `json:"title"`
		}
		s.must(t, "GET", "/api/v1/posts", nil, &ps)
		for _, p := range ps {
			if strings.HasPrefix(p.Title, "stranger") || strings.HasPrefix(p.Title, "forged") {
				t.Errorf("%s shows a stranger's post %q", s.name, p.Title)
			}
		}
	}

	// Nothing they sent the strangers names the group.
	cancel()
	for _, st := range held {
		st.Reset() // those still open (idleTimeout would end them in 30 s)
	}
	streamsWG.Wait()
	hex := []byte(g.String())
	var blob []byte
	if id, err := crdt.ParseID(sealed.ID); err != nil {
		t.Fatal(err)
	} else if b, ok, err := a.n.Local.Replica.Store().Blob(id); err != nil || !ok {
		t.Fatalf("the sealed post's blob: %v %v", ok, err)
	} else {
		blob = b
	}
	for i, s := range []*stranger{hostile, newer} {
		s.rec.mu.Lock()
		if bytes.Contains(s.rec.streams.Bytes(), g[:]) || bytes.Contains(s.rec.streams.Bytes(), hex) {
			t.Errorf("stranger %d: the group ID is in the bytes of its catch-up streams", i)
		}
		for _, what := range [][]byte{[]byte(canary), blob[20:]} {
			if bytes.Contains(s.rec.streams.Bytes(), what) {
				t.Errorf("stranger %d: the contact, in clear or sealed, is in the bytes of its catch-up streams", i)
			}
			for _, m := range s.rec.published {
				if bytes.Contains(m, what) {
					t.Errorf("stranger %d: the contact, in clear or sealed, was gossiped to it", i)
				}
			}
		}
		if n := len(s.rec.published); n > 0 {
			t.Errorf("stranger %d received %d gossip messages", i, n)
		}
		for _, tp := range s.rec.topics {
			if strings.Contains(tp, g.String()) || strings.Contains(tp, g.String()[:16]) {
				t.Errorf("stranger %d: a subscription announced to it names the group: %q", i, tp)
			}
		}
		s.rec.mu.Unlock()
	}
	for _, f := range probe {
		if f.Type == protocol.MsgHave || len(f.Vector) > 0 || len(f.Ops) > 0 {
			t.Errorf("the probe was answered with %s for %s: %d authors, %d ops", f.Type, f.Group.Short(), len(f.Vector), len(f.Ops))
		}
	}

	// The newer peer sent nothing invalid: it is still welcome.
	for _, s := range []*served{a, b} {
		if newer.h.Network().Connectedness(s.n.Host.ID()) != network.Connected {
			t.Errorf("%s cut off the peer that sent only valid ops of strangers and ops of a newer kind", s.name)
		}
	}
	if n := opened.Load(); n < 100 {
		t.Errorf("only %d of 300 catch-up streams opened", n)
	}

	growth := int64(heapPeak.Load()) - int64(heapBase)
	t.Logf("flood for %v: %d valid ops of fresh keys, %d of a newer kind or version, %d junk or forged published; %d catch-up streams opened, %d reset within 5 s",
		floodFor.Round(time.Millisecond), sentValid.Load(), sentNewer.Load(), sentJunk.Load(), opened.Load(), resetSoon.Load())
	t.Logf("live latency A<->B, median: quiet %v, during the flood %v (max %v), after %v",
		median(quiet), median(during), slices.Max(during), median(after))
	t.Logf("heap in use (this process: 2 nodes and 2 strangers): %d MB before, peak %d MB, %d MB after",
		heapBase>>20, heapPeak.Load()>>20, ms.HeapInuse>>20)
	if growth > 1<<30 {
		t.Errorf("the heap grew by %d MB under the flood", growth>>20)
	}
}

// probeFrames opens a catch-up stream to to, offers g with the members'
// keys as a follower of it would, and returns the frames it is answered
// with up to the end of the want phase.
func probeFrames(t *testing.T, h host.Host, to *served, g crdt.ID, members []*served) []*protocol.Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := h.NewStream(ctx, to.n.Host.ID(), protocol.SyncProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Reset()
	st.SetDeadline(time.Now().Add(10 * time.Second))
	have := &protocol.Frame{Type: protocol.MsgHave, Group: g}
	for _, m := range members {
		k, err := p2p.KeyOf(m.n.Host.ID())
		if err != nil {
			t.Fatal(err)
		}
		have.Vector = append(have.Vector, protocol.VectorEntry{Author: k, Seq: 1})
	}
	bw := bufio.NewWriter(st)
	for _, f := range []*protocol.Frame{
		{Type: protocol.MsgHello, Version: protocol.SyncVersion, Round: 1, Initiator: true},
		// A total digest that matches nothing, and no group digest.
		{Type: protocol.MsgDigest, Total: protocol.Digest{0xff}}, {Type: protocol.MsgEnd},
		have, {Type: protocol.MsgEnd}, {Type: protocol.MsgEnd},
	} {
		if err := protocol.WriteFrame(bw, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	var out []*protocol.Frame
	br := bufio.NewReader(st)
	ends := 0
	for ends < 3 { // the digests', the offer's and the want's
		f, err := protocol.ReadFrame(br)
		if err != nil {
			t.Fatalf("probe: %v", err)
		}
		out = append(out, f)
		if f.Type == protocol.MsgEnd {
			ends++
		}
	}
	return out
}
