package p2p

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	libp2pproto "github.com/libp2p/go-libp2p/core/protocol"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
	"github.com/mutual-aid/mutual/protocol"
)

// groupTopic is a joined group's GossipSub topic. The host relays it
// (is in its mesh) without a subscription: the validator is where
// inbound ops are delivered, so no subscription queue can overflow.
type groupTopic struct {
	name  string
	topic *pubsub.Topic
	relay pubsub.RelayCancelFunc
	sent  sentOps // when each author's last op went out (prev.go)
}

// ErrNotJoined is returned by Publish for a group the host has not joined.
var ErrNotJoined = errors.New("p2p: group not joined")

// newPubSub starts GossipSub for mutual:
//   - no GossipSub signatures and no author (StrictNoSign): every op is
//     signed by its author already, and the message ID is the SHA-256 of
//     the data (a frame of ops, frame.go), which every node computes
//     alike; it is not an op ID (a version 2 op's ID hashes a domain
//     first, and a frame may hold many ops);
//   - a peer filter, so a group's mesh, gossip and IWANT replies only
//     include peers that may read the group;
//   - no flood publishing and no FloodSub protocol: both send to every
//     peer subscribed to a topic without asking the peer filter, which
//     would hand a group's ops to a stranger who knows its ID. A local op
//     still goes out at once, to the mesh peers;
//   - large queues: GossipSub drops messages silently when a peer's
//     outbound queue or the validation queue is full;
//   - the messages of a peer on a group's topic that it may not read
//     are dropped unread (inspectRPC), and peer scoring (score.go) makes
//     rejected ops cost score, graylisted peers being ignored.
func (h *Host) newPubSub() (*pubsub.PubSub, error) {
	return pubsub.NewGossipSub(h.ctx, h.host,
		pubsub.WithGossipSubProtocols(gossipProtocols, pubsub.GossipSubDefaultFeatures),
		pubsub.WithFloodPublish(false),
		pubsub.WithGossipSubParams(gossipParams()),
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithNoAuthor(),
		pubsub.WithMessageIdFn(messageID),
		pubsub.WithPeerFilter(h.peerFilter),
		pubsub.WithPeerOutboundQueueSize(outboundQueue),
		pubsub.WithValidateQueueSize(validateQueue),
		pubsub.WithAppSpecificRpcInspector(h.inspectRPC),
		pubsub.WithPeerScore(peerScoreParams(), peerScoreThresholds()),
		pubsub.WithPeerScoreInspect(pubsub.PeerScoreInspectFn(h.inspectScores), time.Second),
		pubsub.WithRawTracer(h.mesh),
		pubsub.WithLogger(slogWithFloor(h.log.With("component", "pubsub"))),
	)
}

// gossipParams are GossipSub's defaults but for IDONTWANT, which a
// node sends its other mesh peers as soon as a message arrives, before
// validating it (v1.2): a peer that gets it before it has validated the
// same message itself does not forward it. By default only messages of
// 1 KB or more are announced, so a single post's op (about 500 bytes)
// came to each member of a group whose nodes all meet from every one of
// them (two copies in three nodes, BenchmarkGossipWire). An IDONTWANT
// costs about 60 bytes on the wire; every message of ours is an op or
// more (over 150 bytes).
//
// The mesh degrees stay the defaults (D 6, Dlo 5, Dhi 12): a group of a
// handful of nodes has every node in the mesh, which is what keeps live
// delivery one hop and within milliseconds; duplicates are cut by
// IDONTWANT instead of fewer links.
func gossipParams() pubsub.GossipSubParams {
	p := pubsub.DefaultGossipSubParams()
	p.IDontWantMessageThreshold = idontwantThreshold
	return p
}

// gossipProtocols are the GossipSub versions spoken, newest first.
var gossipProtocols = []libp2pproto.ID{pubsub.GossipSubID_v13, pubsub.GossipSubID_v12, pubsub.GossipSubID_v11, pubsub.GossipSubID_v10}

func slogWithFloor(l *slog.Logger) *slog.Logger {
	return slog.New(floorHandler{l.Handler(), libp2pLogFloor})
}

// inspectRPC drops, from an RPC as it arrives, the messages on topics of
// groups the sender may not read: a stranger's flood goes no further
// than this, neither into the validation queue ahead of the members'
// ops nor through a decode. Their subscriptions and control messages
// are kept: a newcomer's subscription, sent before its join counted,
// is what later makes the mesh include it. A member whose admission
// has not reached this node yet loses nothing: catch-up brings its ops.
//
// It also keeps what pubsub and this host remember of a peer bounded: a
// peer's subscriptions beyond maxPeerTopics are dropped.
func (h *Host) inspectRPC(from peer.ID, rpc *pubsub.RPC) error {
	if subs := rpc.GetSubscriptions(); len(subs) > 0 {
		n := h.mesh.subs.count(from)
		kept := subs[:0]
		for _, o := range subs {
			if o.GetSubscribe() {
				if n >= maxPeerTopics {
					continue
				}
				n++
			}
			kept = append(kept, o)
		}
		if len(kept) < len(subs) {
			h.log.Debug("subscriptions of a peer beyond the limit dropped", "remote", from, "max", maxPeerTopics)
			clear(subs[len(kept):])
			rpc.Subscriptions = kept
		}
	}
	msgs := rpc.GetPublish()
	if len(msgs) == 0 {
		return nil
	}
	kept := msgs[:0]
	for _, m := range msgs {
		if h.peerFilter(from, m.GetTopic()) {
			kept = append(kept, m)
		}
	}
	if dropped := len(msgs) - len(kept); dropped > 0 {
		clear(msgs[len(kept):])
		rpc.Publish = kept
		h.log.Debug("gossip of a peer on a topic it may not read dropped", "remote", from, "messages", dropped)
	}
	return nil
}

// messageID is the GossipSub message ID: the SHA-256 of the message.
func messageID(m *pb.Message) string {
	id := sha256.Sum256(m.Data)
	return string(id[:])
}

// peerFilter admits p to a topic's mesh only if p may read the group.
// A topic names no group (protocol.Topic): the host knows which group
// each of its topics is.
func (h *Host) peerFilter(p peer.ID, topic string) bool {
	g, ok := h.topicGroup(topic)
	if !ok {
		return false
	}
	return h.mayRead(p, g)
}

// topicGroup returns the group of a topic this host joined.
func (h *Host) topicGroup(topic string) (crdt.ID, bool) {
	g, ok := h.byTopic.Load(topic)
	if !ok {
		return crdt.ID{}, false
	}
	return g.(crdt.ID), true
}

// mayRead reports whether peer p may read group g.
func (h *Host) mayRead(p peer.ID, g crdt.ID) bool {
	key, err := KeyOf(p)
	if err != nil {
		return false
	}
	return h.r.MayRead(g, key)
}

// JoinGroup joins a group's topic, with the validator. Joining twice is a
// no-op. Connected peers are offered a catch-up session at once, so a
// group joined at run time (`mutual join`, `mutual follow`) fills up
// without waiting for the next periodic session. A group whose topic
// this node cannot derive yet (a newcomer holds no key before a member
// shares them) is joined after a catch-up session brings the key.
func (h *Host) JoinGroup(group crdt.ID) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errors.New("p2p: host closed")
	}
	if _, ok := h.topics[group]; ok {
		return nil
	}
	if !h.pendingTopics[group] {
		h.wakeRendezvous() // a group new to this host: advertise it, look it up
	}
	name, ok := h.r.Topic(group)
	if !ok {
		if !h.pendingTopics[group] {
			h.pendingTopics[group] = true
			h.syncAllLocked("join")
		}
		return nil
	}
	delete(h.pendingTopics, group)
	if err := h.ps.RegisterTopicValidator(name, h.validator(group)); err != nil {
		return fmt.Errorf("p2p: join %s: %w", group.Short(), err)
	}
	t, err := h.ps.Join(name)
	if err != nil {
		_ = h.ps.UnregisterTopicValidator(name)
		return fmt.Errorf("p2p: join %s: %w", group.Short(), err)
	}
	if err := t.SetScoreParams(topicScoreParams()); err != nil {
		t.Close()
		_ = h.ps.UnregisterTopicValidator(name)
		return fmt.Errorf("p2p: join %s: %w", group.Short(), err)
	}
	relay, err := t.Relay()
	if err != nil {
		t.Close()
		_ = h.ps.UnregisterTopicValidator(name)
		return fmt.Errorf("p2p: join %s: %w", group.Short(), err)
	}
	h.topics[group] = &groupTopic{name: name, topic: t, relay: relay}
	h.byTopic.Store(name, group)
	h.syncAllLocked("join")
	h.log.Info("joined group topic", "group", group.Short())
	return nil
}

// syncAllLocked offers every connected peer a catch-up session. h.mu is
// held.
func (h *Host) syncAllLocked(why string) {
	if h.host.Network() == nil {
		return
	}
	for _, p := range h.host.Network().Peers() {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			h.syncBackground(p, why)
		}()
	}
}

// joinPending joins the topics of groups whose key has arrived since
// JoinGroup was called for them.
func (h *Host) joinPending() {
	h.mu.Lock()
	var ready []crdt.ID
	for g := range h.pendingTopics {
		if _, ok := h.r.Topic(g); ok {
			ready = append(ready, g)
		}
	}
	h.mu.Unlock()
	for _, g := range ready {
		if err := h.JoinGroup(g); err != nil {
			h.log.Warn("join topic", "group", g.Short(), "err", err)
		}
	}
}

// Publish sends a local op to the group's peers. The op is stored first
// (Replica.IngestOne; an op already stored is fine), so it is never sent
// unless it survives a restart; an op the replica rejects is not sent.
func (h *Host) Publish(ctx context.Context, group crdt.ID, raw []byte) error {
	h.mu.Lock()
	gt := h.topics[group]
	h.mu.Unlock()
	if gt == nil {
		return fmt.Errorf("%w: %s", ErrNotJoined, group.Short())
	}
	if err := checkTopic(group, raw); err != nil {
		return fmt.Errorf("p2p: publish: %w", err)
	}
	v, err := h.r.IngestOne(ctx, raw)
	if v == crdt.Reject {
		return fmt.Errorf("p2p: publish: op rejected: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("p2p: publish: %w", err)
	}
	return gt.publish(ctx, group, [][]byte{raw})
}

// publish sends raws, ops of group, as frames (frame.go).
func (gt *groupTopic) publish(ctx context.Context, group crdt.ID, raws [][]byte) error {
	msgs, err := encodeMessages(group, raws, &gt.sent)
	if err != nil {
		return fmt.Errorf("p2p: publish: %w", err)
	}
	for _, msg := range msgs {
		if err := gt.topic.Publish(ctx, msg); err != nil {
			return fmt.Errorf("p2p: publish: %w", err)
		}
	}
	return nil
}

// PublishStored sends ops this node has stored durably already (the
// replica's OnLocalOps, after its commit) to the group's peers, without
// storing them again: raws are the group's ops of one commit, in the
// order they were written, each with its blob. They go out as frames
// (frame.go), so that a burst costs a few messages rather than one per
// op; one goes out as a frame of one, as Publish sends it.
func (h *Host) PublishStored(ctx context.Context, group crdt.ID, raws [][]byte) error {
	h.pushFollowers(group) // they cannot derive the topic
	h.mu.Lock()
	gt := h.topics[group]
	h.mu.Unlock()
	if gt == nil {
		h.pushUntopical(group) // a visitor's ops (visit.go)
		return fmt.Errorf("%w: %s", ErrNotJoined, group.Short())
	}
	// encodeMessages decodes each op once and refuses one of another
	// group (protocol.EncodeFrame: ErrWrongGroup).
	return gt.publish(ctx, group, raws)
}

// checkTopic decodes an op cheaply (no signature check: IngestOne does
// that) and checks that it belongs to group.
func checkTopic(group crdt.ID, raw []byte) error {
	_, err := decodeForTopic(group, raw)
	return err
}

// decodeForTopic is checkTopic returning the decoded op.
func decodeForTopic(group crdt.ID, raw []byte) (crdt.Op, error) {
	op, err := protocol.DecodeStoredOp(raw)
	if err != nil {
		return op, err
	}
	if op.GroupID() != group {
		return op, fmt.Errorf("op of group %s on the topic of group %s", op.GroupID().Short(), group.Short())
	}
	return op, nil
}

// validator returns the GossipSub validator of a group's topic. It stores
// the ops of a message before pubsub forwards it: Accept means valid and
// durably stored (new, or held already: see heldAlready). A peer that
// sends an op the replica rejects, or a malformed frame, is disconnected
// and blocked: honest nodes never forward what they reject.
func (h *Host) validator(group crdt.ID) pubsub.ValidatorEx {
	return func(ctx context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
		if from == h.host.ID() {
			return pubsub.ValidationAccept // stored before it was published
		}
		raws, looked, err := decodeMessage(group, m.Data, h.prevOf(group))
		if errors.Is(err, protocol.ErrNeedPrev) {
			h.lackPrev(group, from, err) // not the sender's fault: catch-up brings it
			return pubsub.ValidationIgnore
		}
		if errors.Is(err, protocol.ErrUnsupported) {
			// Not from a frame with an op of a kind this node does
			// not know (decodeMessage splits those leniently, and
			// validateFrame skips that op): kept for whatever else a
			// later decoder may call unsupported. Not judged, not
			// forwarded, never punished, as in validateOp.
			h.log.Debug("gossiped frame with an op of an unknown kind ignored", "group", group.Short(), "remote", from, "err", err)
			return pubsub.ValidationIgnore
		}
		if err != nil {
			h.spawn(func() { h.punish(from, "malformed frame", err) })
			return pubsub.ValidationReject
		}
		if len(raws) == 1 {
			return h.validateOp(ctx, group, from, raws[0], looked[0])
		}
		return h.validateFrame(ctx, group, from, raws, looked)
	}
}

// validateOp judges and stores a message of one op; looked says its prev
// was taken from this node (prev.go).
func (h *Host) validateOp(ctx context.Context, group crdt.ID, from peer.ID, raw []byte, looked bool) pubsub.ValidationResult {
	op, err := decodeForTopic(group, raw)
	if errors.Is(err, protocol.ErrUnsupported) {
		// A newer version or kind (a member during a rolling
		// upgrade): not judged, not forwarded, never punished.
		h.log.Debug("gossiped op of an unknown version or kind ignored", "group", group.Short(), "remote", from, "err", err)
		return pubsub.ValidationIgnore
	}
	if err != nil {
		h.spawn(func() { h.punish(from, "invalid op", err) })
		return pubsub.ValidationReject
	}
	if h.unknownAuthor(group, &op) {
		// No node can judge it, so it is dropped here, before its
		// signature is checked and before it waits in the replica's
		// writer with the members' ops: a flood of ops signed by
		// fresh keys costs a decode each. One line per peer and
		// group, which the node's log limit writes once a minute.
		h.log.Debug("gossiped op of an unknown author ignored", "group", group.Short(), "remote", from)
		return pubsub.ValidationIgnore
	}
	v, err := h.r.IngestOne(ctx, raw)
	switch v {
	case crdt.Accept:
		h.mendGap(group, &op, from)
		h.pushFollowers(group)
		return pubsub.ValidationAccept
	case crdt.Reject:
		if prevDoubtful([]crdt.Op{op}, []bool{looked}) {
			h.prevDoubted(group, from, err)
			return pubsub.ValidationIgnore
		}
		h.spawn(func() { h.punish(from, "invalid op", err) })
		return pubsub.ValidationReject
	}
	if h.heldAlready(group, &op, raw, from) {
		return pubsub.ValidationAccept
	}
	if err != nil {
		// Ops of authors the group does not know (strangers' keys)
		// end here, unstored: one line per peer and group, which the
		// node's log limit writes at most once a minute.
		h.log.Debug("gossiped op ignored", "group", group.Short(), "remote", from, "err", err)
	}
	return pubsub.ValidationIgnore
}

// validateFrame judges and stores the ops of a frame as one batch
// (Replica.Ingest: verified on every core, one group commit, nothing
// stored if any op is invalid). The frame is forwarded only if every op
// in it is stored here; one the node cannot judge yet (an unknown
// version, kind or author, a clock far ahead) keeps it here, and
// catch-up brings the rest to whoever missed it.
//
// Unlike validateOp, a frame's ops do not feed the replica's clock
// watch (IngestOne's): a frame is a burst, and single posts, the usual
// case, still do. looked says which ops took their prev from this node
// (prev.go).
func (h *Host) validateFrame(ctx context.Context, group crdt.ID, from peer.ID, raws [][]byte, looked []bool) pubsub.ValidationResult {
	ops := make([]crdt.Op, 0, len(raws))
	judged := make([][]byte, 0, len(raws))
	lookedJ := make([]bool, 0, len(raws))
	whole := true
	for i, raw := range raws {
		op, err := decodeForTopic(group, raw)
		if errors.Is(err, protocol.ErrUnsupported) {
			whole = false
			continue
		}
		if err != nil {
			h.spawn(func() { h.punish(from, "invalid op in a frame", err) })
			return pubsub.ValidationReject
		}
		if h.unknownAuthor(group, &op) {
			whole = false
			continue
		}
		ops = append(ops, op)
		judged = append(judged, raw)
		lookedJ = append(lookedJ, looked[i])
	}
	if len(judged) > 0 {
		n, err := h.r.Ingest(ctx, judged)
		if err != nil {
			if errors.Is(err, catchup.ErrRejected) {
				if prevDoubtful(ops, lookedJ) {
					h.prevDoubted(group, from, err)
					return pubsub.ValidationIgnore
				}
				h.spawn(func() { h.punish(from, "invalid op in a frame", err) })
				return pubsub.ValidationReject
			}
			h.log.Debug("gossiped frame not stored", "group", group.Short(), "remote", from, "err", err)
			return pubsub.ValidationIgnore
		}
		h.framedOps.Add(int64(n))
		if n > 0 {
			h.pushFollowers(group)
		}
	}
	v, err := h.r.VersionVector(group)
	if err != nil {
		return pubsub.ValidationIgnore
	}
	for i := range ops {
		op := &ops[i]
		if v[op.Author] >= op.Seq {
			continue // held, and every op of its author before it
		}
		// Past a gap: stored, or not stored at all (its author not
		// a member here yet).
		if !h.heldAlready(group, op, judged[i], from) {
			whole = false
		}
		h.mendGap(group, op, from)
	}
	if !whole {
		h.log.Debug("gossiped frame not forwarded: some of its ops were not stored", "group", group.Short(), "remote", from)
		return pubsub.ValidationIgnore
	}
	return pubsub.ValidationAccept
}

// unknownAuthor reports whether op is past its author's first op and
// this node holds no first op of that author in the group: the replica
// would not store it (crdt.Storable), whatever its signature.
func (h *Host) unknownAuthor(group crdt.ID, op *crdt.Op) bool {
	if op.Seq <= 1 {
		return false // a genesis or a join: judged in full
	}
	v, err := h.r.VersionVector(group)
	return err == nil && v[op.Author] == 0
}

// mendGap arranges a catch-up session with the peer that sent op when op
// came past a gap in its author's log here and gossip stops filling the
// gap: gossip lost the ops between (queues full, a mesh not formed yet),
// and waiting for the periodic session would leave the board without
// them for up to half a minute. Not at once: under a burst, pubsub
// validates messages concurrently, so an op often lands a moment before
// the one ahead of it, and a session started then brings again, by
// catch-up, every op after the gap that gossip is delivering (it did, for
// every op of the burst benchmark: twice the bytes). So checkGaps looks
// every gapWait and syncs once the gap is still open and its author's
// log here did not grow since the last look. A session already running
// with the peer is enough.
func (h *Host) mendGap(group crdt.ID, op *crdt.Op, from peer.ID) {
	if op.Seq <= 1 {
		return
	}
	v, err := h.r.VersionVector(group)
	if err != nil || v[op.Author] >= op.Seq {
		return
	}
	k := gapKey{group, op.Author}
	h.mu.Lock()
	m := h.gaps[from]
	first := m == nil
	if first {
		m = map[gapKey]gap{}
		h.gaps[from] = m
	}
	g, ok := m[k]
	if !ok {
		g.held = v[op.Author]
	}
	g.end = max(g.end, op.Seq)
	m[k] = g
	h.mu.Unlock()
	if first && !h.spawn(func() { h.checkGaps(from) }) {
		h.mu.Lock()
		delete(h.gaps, from)
		h.mu.Unlock()
	}
}

// gapKey names an author's log in a group.
type gapKey struct {
	g crdt.ID
	a crdt.PublicKey
}

// gap is a gap in an author's log that a peer's gossip came past.
type gap struct {
	end  uint64 // the highest seq received past the gap
	held uint64 // the author's contiguous seq here at the last look
}

// checkGaps looks at the gaps p's gossip came past every gapWait, until
// they are all closed or one stops closing: then it starts a catch-up
// session with p.
func (h *Host) checkGaps(p peer.ID) {
	for {
		ok := h.sleep(gapWait)
		h.mu.Lock()
		m := h.gaps[p]
		if !ok {
			delete(h.gaps, p)
			h.mu.Unlock()
			return
		}
		stuck := false
		for k, g := range m {
			v, err := h.r.VersionVector(k.g)
			switch {
			case err != nil || v[k.a] >= g.end:
				delete(m, k) // closed
			case v[k.a] == g.held:
				stuck = true
			default:
				m[k] = gap{end: g.end, held: v[k.a]} // closing
			}
		}
		// Decided under the lock: mendGap adds to m as gossip runs ahead.
		done := stuck || len(m) == 0
		if done {
			delete(h.gaps, p)
		}
		h.mu.Unlock()
		if stuck {
			h.syncBackground(p, "gap")
		}
		if done {
			return
		}
	}
}

// errFound stops the OpsAfter scan of heldAlready.
var errFound = errors.New("found")

// heldAlready reports whether an op the replica did not take as new is in
// its author's log here, byte for byte, so that its gossip copy must still
// be forwarded. That is the op a catch-up session brought just before its
// gossip copy arrived: sessions and gossip race all the time while posts
// are made (a session that brings ops starts a spread, and so on). Were
// it ignored, pubsub would neither forward it nor gossip its ID (ignored
// messages are not cached), and a member reached only through this node
// would wait for the next catch-up session (the spread, 200 ms later, or
// later still): 0.15–0.6 s instead of 2 ms for a post relayed B→A→C in
// node/relay_latency_test.go.
//
// It is safe to forward: the op is stored durably (the log holds only
// committed, verified ops), pubsub's seen-cache forwards it once, and the
// peer filter still decides who it goes to. A copy from a peer that may
// not read the group is not forwarded: a stranger replaying old ops gets
// no relay out of it. Parked ops (author not yet a member), fork evidence
// and ops that cannot be judged yet are not in the log: still ignored.
func (h *Host) heldAlready(group crdt.ID, op *crdt.Op, raw []byte, from peer.ID) bool {
	if op.Seq == 0 || !h.mayRead(from, group) {
		return false
	}
	held := false
	err := h.r.OpsAfter(group, op.Author, op.Seq-1, func(stored []byte) error {
		held = bytes.Equal(stored, raw)
		return errFound
	})
	return held && (err == nil || errors.Is(err, errFound))
}
