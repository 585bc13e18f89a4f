package protocol

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mutual-aid/mutual/crdt"
)

// A receipt is what a node that imported a bundle writes for the node
// that made it (`mutual import FILE --receipt OUT`, docs/protocol.md
// section 11.2): per group, how many ops were new, already held, waiting
// or refused, each refused op with why, and the importer's summary after
// the import, so that the sender's next bundle for it carries only what
// it still lacks. The importer signs it with its node key.
//
//	file     ReceiptMagic, body, signature (64 bytes: ed25519 by Node over
//	         ReceiptMagic and body)
//	body     [node bin32, time uint (unix ms), summary, [group...], cut str]
//	group    [group bin32, name str, new, had, waiting, refused, [refusal...]]
//	refusal  [frame uint, index uint, op bin32|nil, author bin32|nil, seq uint, reason str]
//
// cut is empty, or says why the import stopped before the end of the
// bundle (the file is cut short, a frame is malformed).

// ReceiptMagic starts a receipt file.
const ReceiptMagic = "mutual-receipt/1\n"

// Receipt limits. Decoders enforce them; ImportReceipt keeps within them.
const (
	MaxReceiptBytes    = 16 << 20
	MaxReceiptGroups   = MaxSummaryGroups
	MaxReceiptRefusals = 1024 // listed per group; the counts stay exact
	MaxReason          = 300
)

// Receipt is a decoded receipt.
type Receipt struct {
	Node    crdt.PublicKey
	Time    uint64 // unix milliseconds, the importer's clock
	Summary Summary
	Groups  []GroupReceipt
	Cut     string
}

// GroupReceipt is what a bundle brought of one group.
type GroupReceipt struct {
	Group                      crdt.ID
	Name                       string
	New, Had, Waiting, Refused uint64
	Refusals                   []Refusal
}

// Refusal is one refused op: where it was in the bundle (frame and
// index from 0, frames counted from the first after the magic line),
// its ID, author and seq when it could be read that far, and why.
type Refusal struct {
	Frame, Index uint64
	Op           crdt.ID
	Author       crdt.PublicKey
	Seq          uint64
	Reason       string
}

// EncodeReceipt encodes and signs a receipt with key, whose public key
// must be rc.Node. Reasons and names longer than the limits are cut, and
// so are lists: groups past MaxReceiptGroups, refusals past
// MaxReceiptRefusals per group (its counts stay).
func EncodeReceipt(rc *Receipt, key ed25519.PrivateKey) ([]byte, error) {
	if !bytes.Equal(key.Public().(ed25519.PublicKey), rc.Node[:]) {
		return nil, fmt.Errorf("receipt: the key is not the receipt's node")
	}
	w := newWriter()
	w.raw([]byte(ReceiptMagic))
	w.array(5)
	w.bin(rc.Node[:])
	w.uint(rc.Time)
	if err := writeSummary(w, &rc.Summary); err != nil {
		return nil, err
	}
	groups := rc.Groups
	if len(groups) > MaxReceiptGroups {
		groups = groups[:MaxReceiptGroups]
	}
	w.array(len(groups))
	for _, g := range groups {
		refusals := g.Refusals
		if len(refusals) > MaxReceiptRefusals {
			refusals = refusals[:MaxReceiptRefusals]
		}
		w.array(7)
		w.bin(g.Group[:])
		w.str(cut(g.Name, MaxName))
		w.uint(g.New)
		w.uint(g.Had)
		w.uint(g.Waiting)
		w.uint(g.Refused)
		w.array(len(refusals))
		for _, x := range refusals {
			w.array(6)
			w.uint(x.Frame)
			w.uint(x.Index)
			w.optBin(x.Op[:])
			w.optBin(x.Author[:])
			w.uint(x.Seq)
			w.str(cut(x.Reason, MaxReason))
		}
	}
	w.str(cut(rc.Cut, MaxReason))
	if w.buf.Len()+ed25519.SignatureSize > MaxReceiptBytes {
		return nil, fmt.Errorf("receipt: %w: %d bytes", ErrTooLarge, w.buf.Len())
	}
	sig := ed25519.Sign(key, w.bytes())
	w.raw(sig)
	return bytes.Clone(w.bytes()), nil
}

// cut makes s valid UTF-8 and shortens it to at most max bytes, at a
// rune boundary.
func cut(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// DecodeReceipt reads a receipt file and checks its signature.
func DecodeReceipt(b []byte) (*Receipt, error) {
	if len(b) > MaxReceiptBytes {
		return nil, fmt.Errorf("receipt: %w", ErrTooLarge)
	}
	if !bytes.HasPrefix(b, []byte(ReceiptMagic)) {
		return nil, fmt.Errorf("receipt: %w: it does not start with %q", ErrMalformed, ReceiptMagic[:len(ReceiptMagic)-1])
	}
	if len(b) < len(ReceiptMagic)+ed25519.SignatureSize {
		return nil, fmt.Errorf("receipt: %w", ErrTruncated)
	}
	signed, sig := b[:len(b)-ed25519.SignatureSize], b[len(b)-ed25519.SignatureSize:]
	body := signed[len(ReceiptMagic):]
	if err := checkFrame(body, MaxReceiptBytes); err != nil {
		return nil, fmt.Errorf("receipt: %w", err)
	}
	rc := &Receipt{}
	r := newReader(body)
	r.array(5)
	r.fixed(rc.Node[:])
	rc.Time = r.uint(1<<63 - 1)
	if r.err == nil {
		rc.Summary = *readSummary(r)
	}
	n := r.arrayMax(MaxReceiptGroups)
	for i := 0; i < n && r.err == nil; i++ {
		var g GroupReceipt
		r.array(7)
		r.fixed(g.Group[:])
		g.Name = r.str("group name", MaxName)
		g.New, g.Had, g.Waiting, g.Refused = r.uint(1<<63-1), r.uint(1<<63-1), r.uint(1<<63-1), r.uint(1<<63-1)
		m := r.arrayMax(MaxReceiptRefusals)
		for j := 0; j < m && r.err == nil; j++ {
			var x Refusal
			r.array(6)
			x.Frame, x.Index = r.uint(1<<63-1), r.uint(1<<63-1)
			r.optFixed(x.Op[:])
			r.optFixed(x.Author[:])
			x.Seq = r.uint(1<<63 - 1)
			x.Reason = r.str("reason", MaxReason)
			g.Refusals = append(g.Refusals, x)
		}
		rc.Groups = append(rc.Groups, g)
	}
	rc.Cut = r.str("cut", MaxReason)
	if err := r.end(); err != nil {
		return nil, fmt.Errorf("receipt: %w", err)
	}
	var s crdt.Signature
	copy(s[:], sig)
	if !verifySig(rc.Node, signed, &s) {
		return nil, fmt.Errorf("receipt: %w (altered, or not from the node it names)", ErrBadSignature)
	}
	return rc, nil
}
