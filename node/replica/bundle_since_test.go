package replica_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/protocol"
)

// bundleOps returns the ops of a bundle, frame by frame.
func bundleOps(t testing.TB, bundle []byte) [][]byte {
	t.Helper()
	if !bytes.HasPrefix(bundle, []byte(replica.BundleMagic)) {
		t.Fatal("no bundle magic")
	}
	br := bufio.NewReader(bytes.NewReader(bundle[len(replica.BundleMagic):]))
	var ops [][]byte
	for {
		f, err := protocol.ReadFrame(br)
		if err == io.EOF {
			return ops
		}
		if err != nil || f.Type != protocol.MsgOps {
			t.Fatalf("bundle frame: %+v %v", f, err)
		}
		ops = append(ops, f.Ops...)
	}
}

// reframe writes ops as a bundle of frames of per ops each.
func reframe(t testing.TB, g crdt.ID, ops [][]byte, per int) []byte {
	t.Helper()
	b := []byte(replica.BundleMagic)
	for i := 0; i < len(ops); i += per {
		var err error
		if b, err = protocol.AppendFrame(b, &protocol.Frame{Type: protocol.MsgOps, Group: g, Ops: ops[i:min(i+per, len(ops))]}); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func vector(t testing.TB, n *node, g crdt.ID) map[crdt.PublicKey]uint64 {
	t.Helper()
	v, err := n.r.Sync().VersionVector(g)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// twoAuthors makes a group on a with a second member c, both posting,
// with contacts (private fields, sealed in blobs).
func twoAuthors(t *testing.T) (a, c *node, g crdt.ID) {
	ctx := context.Background()
	a, c = newNode(t), newNode(t)
	g = newGroup(t, a, "Eastgate")
	code, _, err := a.r.Invite(ctx, g, replica.InviteOptions{Role: crdt.RoleMember, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.r.Join(ctx, code); err != nil {
		t.Fatal(err)
	}
	exchange(t, a, c, g)
	exchange(t, c, a, g)
	exchange(t, a, c, g)
	return a, c, g
}

const clearContact = "call Ruth on 555-0199"

func morePosts(t *testing.T, n *node, g crdt.ID, k int) {
	for range k {
		post(t, n, g, replica.PostInput{Kind: crdt.Need, Fields: crdt.Fields{Title: "winter coats, size L", Details: "for a family of four", Category: "clothing", Contact: clearContact}})
	}
}

// TestExportSinceCarriesOnlyWhatIsMissing: a node that was never online
// gets a group's whole board from a bundle (the same state hash), then
// sends its summary (as text) back; the next bundle holds exactly the ops
// it lacks, in at most 1.1 times their bytes, no contact in clear, and
// importing it gives the same state again. Its receipt carries its new
// summary: a bundle made from that holds nothing.
func TestExportSinceCarriesOnlyWhatIsMissing(t *testing.T) {
	ctx := context.Background()
	a, c, g := twoAuthors(t)
	morePosts(t, a, g, 10)
	morePosts(t, c, g, 5)
	exchange(t, c, a, g)

	b := newNode(t) // never online: bundles only
	var full bytes.Buffer
	if _, err := a.r.Export(&full, nil); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(full.Bytes(), []byte("555-0199")) {
		t.Fatal("the bundle holds a contact in clear text")
	}
	rep, err := b.r.Import(ctx, bytes.NewReader(full.Bytes()))
	if err != nil || rep.Refused != 0 || rep.Waiting != 0 || rep.New == 0 {
		t.Fatalf("full bundle: %+v %v", rep, err)
	}
	if stateHash(t, a, g) != stateHash(t, b, g) {
		t.Fatal("the bundle did not reproduce the board on a node that was never online")
	}

	// More happens on a and c; b tells a what it holds.
	morePosts(t, a, g, 20)
	morePosts(t, c, g, 3)
	p := post(t, c, g, replica.PostInput{Kind: crdt.Offer, Fields: crdt.Fields{Title: "a van on Saturdays", Contact: clearContact}})
	if _, err := c.r.SetStatus(ctx, g, p.ID, crdt.Claimed); err != nil {
		t.Fatal(err)
	}
	exchange(t, c, a, g)
	s, err := b.r.Summary(nil)
	if err != nil {
		t.Fatal(err)
	}
	text, err := protocol.SummaryText(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("summary of a group of 2 authors: %d characters: %s", len(text), text)
	if len(text) > 120 {
		t.Errorf("summary text of %d characters for one group of two authors", len(text))
	}
	since, err := protocol.ParseSummaryText(text)
	if err != nil {
		t.Fatal(err)
	}

	var buf bytes.Buffer
	n, err := a.r.ExportSince(&buf, nil, since)
	if err != nil {
		t.Fatal(err)
	}
	va, vb := vector(t, a, g), vector(t, b, g)
	missing := 0
	for k, seq := range va {
		missing += int(seq - vb[k])
	}
	ops := bundleOps(t, buf.Bytes())
	if n != missing || len(ops) != missing || missing != 20+3+2 {
		t.Fatalf("the --since bundle holds %d ops (says %d); b lacks %d", len(ops), n, missing)
	}
	opBytes := 0
	for _, raw := range ops {
		ref, err := protocol.PeekOp(raw)
		if err != nil || ref.Seq <= vb[ref.Author] {
			t.Fatalf("op of seq %d, b holds %d: %v", ref.Seq, vb[ref.Author], err)
		}
		opBytes += len(raw)
	}
	ratio := float64(buf.Len()) / float64(opBytes)
	t.Logf("--since bundle: %d ops, %d op bytes (blobs included), file %d bytes: %.3fx", len(ops), opBytes, buf.Len(), ratio)
	if ratio > 1.1 {
		t.Errorf("the bundle is %.3fx the bytes of its ops, want <= 1.1", ratio)
	}
	if bytes.Contains(buf.Bytes(), []byte("555-0199")) {
		t.Fatal("the --since bundle holds a contact in clear text")
	}

	rep, err = b.r.Import(ctx, bytes.NewReader(buf.Bytes()))
	if err != nil || rep.New != missing || rep.Had != 0 || rep.Refused != 0 || rep.Waiting != 0 || len(rep.Groups) != 1 || rep.Groups[0].Name != "Eastgate" {
		t.Fatalf("--since bundle: %+v %v", rep, err)
	}
	if stateHash(t, a, g) != stateHash(t, b, g) {
		t.Fatal("after the --since bundle, b's board differs from a's")
	}
	check(t, b, g)

	// The receipt, on a: what arrived, and b's summary now.
	raw, err := b.r.Receipt(&rep)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := protocol.DecodeReceipt(raw)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Node != b.r.Self() || len(rc.Groups) != 1 || rc.Groups[0].New != uint64(missing) || rc.Groups[0].Group != g {
		t.Fatalf("receipt: %+v", rc)
	}
	var again bytes.Buffer
	if n, err := a.r.ExportSince(&again, nil, &rc.Summary); err != nil || n != 0 {
		t.Fatalf("a bundle since the receipt's summary holds %d ops: %v", n, err)
	}
	// A flipped byte in the receipt: refused.
	raw[len(raw)/2] ^= 1
	if _, err := protocol.DecodeReceipt(raw); err == nil {
		t.Fatal("an altered receipt was accepted")
	}
}

// TestTamperedBundleRefusedOpByOp: a bundle with one op's byte flipped,
// one cut short, and one reordered. The flipped op is refused, and the
// receipt says which (frame, index, author's seq) and why; the ops of
// whole frames before a cut are stored and the report says where it was
// cut; reordered ops all count as new. The stored state stays whole
// (stored posts = recomputed from the ops) throughout.
func TestTamperedBundleRefusedOpByOp(t *testing.T) {
	ctx := context.Background()
	a, c, g := twoAuthors(t)
	morePosts(t, a, g, 12)
	morePosts(t, c, g, 12)
	exchange(t, c, a, g)
	var buf bytes.Buffer
	if _, err := a.r.Export(&buf, nil); err != nil {
		t.Fatal(err)
	}
	ops := bundleOps(t, buf.Bytes())
	bundle := reframe(t, g, ops, 5)

	// One op's signature flipped: the op at index 17.
	const bad = 17
	op, _, err := protocol.SplitBlob(ops[bad])
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(bundle, ops[bad]) + len(op) - 10
	flipped := bytes.Clone(bundle)
	flipped[at] ^= 0xff
	ref, err := protocol.PeekOp(ops[bad])
	if err != nil {
		t.Fatal(err)
	}
	b := newNode(t)
	rep, err := b.r.Import(ctx, bytes.NewReader(flipped))
	if err != nil || rep.Refused != 1 || rep.New+rep.Waiting != len(ops)-1 {
		t.Fatalf("flipped byte: %+v %v", rep, err)
	}
	x := rep.Groups[0].Refusals
	if len(x) != 1 || x[0].Frame != bad/5 || x[0].Index != bad%5 || x[0].Author != ref.Author || x[0].Seq != ref.Seq || !strings.Contains(x[0].Reason, "signature") {
		t.Fatalf("refusal: %+v", x)
	}
	t.Logf("the receipt says: %s", rep.Errors[0])
	check(t, b, g)
	rc, err := b.r.Receipt(&rep)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := protocol.DecodeReceipt(rc); err != nil || d.Groups[0].Refusals[0].Seq != ref.Seq {
		t.Fatalf("receipt of the flipped bundle: %+v %v", d, err)
	}
	// The intact bundle brings the refused op (and what waited on it).
	if rep, err := b.r.Import(ctx, bytes.NewReader(bundle)); err != nil || rep.New == 0 || rep.Refused != 0 {
		t.Fatalf("intact bundle after the flipped one: %+v %v", rep, err)
	}
	if stateHash(t, a, g) != stateHash(t, b, g) {
		t.Fatal("boards differ after the intact bundle")
	}

	// Cut short inside frame 3: frames 0-2 arrive, the report says where.
	d := newNode(t)
	end := bytes.Index(bundle, ops[17]) + 3
	rep, err = d.r.Import(ctx, bytes.NewReader(bundle[:end]))
	if !errors.Is(err, replica.ErrDamaged) || rep.New != 15 || !strings.Contains(rep.Cut, "frame 3") || !strings.Contains(rep.Cut, "cut short") {
		t.Fatalf("cut short: %+v %v", rep, err)
	}
	check(t, d, g)

	// Reordered: every op, shuffled, in frames of 3; one import.
	shuffled := append([][]byte(nil), ops...)
	rnd := rand.New(rand.NewPCG(1, 2))
	rnd.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	e := newNode(t)
	rep, err = e.r.Import(ctx, bytes.NewReader(reframe(t, g, shuffled, 3)))
	if err != nil || rep.New != len(ops) || rep.Waiting != 0 || rep.Refused != 0 {
		t.Fatalf("shuffled bundle: %+v %v", rep, err)
	}
	if stateHash(t, a, g) != stateHash(t, e, g) {
		t.Fatal("the shuffled bundle did not reproduce the board")
	}
}

// TestExportSinceCarriesForkEvidence: n knows a fork (two ops at one
// seq); m holds the other branch only, with the same version vector. The
// --since bundle from m's summary carries the fork, m's board then equals
// n's, and m's summary now lists both ops of the fork: the next bundle
// is empty.
func TestExportSinceCarriesForkEvidence(t *testing.T) {
	ctx := context.Background()
	_, key, _ := ed25519.GenerateKey(nil)
	now := time.Now().UnixMilli()
	sign := func(op crdt.Op) (crdt.Op, []byte) {
		raw, err := protocol.SignOp(&op, key)
		if err != nil {
			t.Fatal(err)
		}
		return op, raw
	}
	gen, graw := sign(crdt.Op{Seq: 1, Time: crdt.HLC{Wall: now}, Body: crdt.Genesis{Name: "g"}})
	_, araw := sign(crdt.Op{Group: gen.ID, Seq: 2, Prev: gen.ID, Time: crdt.HLC{Wall: now + 1},
		Body: crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: "coats"}}})
	_, braw := sign(crdt.Op{Group: gen.ID, Seq: 2, Prev: gen.ID, Time: crdt.HLC{Wall: now + 2},
		Body: crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: "blankets"}}})
	n, m := newNode(t), newNode(t)
	for _, x := range []*node{n, m} {
		if err := replica.AddGroupForTest(x.r, gen.ID, graw); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := n.r.Ingest(ctx, [][]byte{araw, braw}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.r.Ingest(ctx, [][]byte{braw}); err != nil {
		t.Fatal(err)
	}
	if stateHash(t, m, gen.ID) == stateHash(t, n, gen.ID) {
		t.Fatal("m knows the fork already")
	}
	s, err := m.r.Summary(nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := n.r.ExportSince(&buf, nil, s); err != nil {
		t.Fatal(err)
	}
	if ops := bundleOps(t, buf.Bytes()); len(ops) == 0 {
		t.Fatal("the bundle does not carry the fork")
	}
	if rep, err := m.r.Import(ctx, bytes.NewReader(buf.Bytes())); err != nil || rep.Refused != 0 {
		t.Fatalf("import: %+v %v", rep, err)
	}
	if stateHash(t, m, gen.ID) != stateHash(t, n, gen.ID) {
		t.Fatal("after the bundle, m's board differs from n's")
	}
	if s, err = m.r.Summary(nil); err != nil || len(s.Groups[0].Evidence) != 2 {
		t.Fatalf("m's summary: %+v %v", s, err)
	}
	buf.Reset()
	if n, err := n.r.ExportSince(&buf, nil, s); err != nil || n != 0 {
		t.Fatalf("the next bundle holds %d ops: %v", n, err)
	}
}
