package protocol

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
)

// A summary says which ops a node holds, small enough to travel as text
// or a QR code (docs/protocol.md section 11.1): for each group, the
// version vector (author -> highest contiguous seq) and which evidence of
// forks it holds. A node that reads it writes a bundle of only the ops
// the summary's node lacks (`mutual export --since`).
//
// Groups, authors and evidence ops are named by the first PrefixLen
// bytes of their IDs and keys: the exporting node resolves each prefix
// against what it holds itself, and a prefix that matches more than one
// of its authors counts as matching none of them (it then sends all
// their ops: more than needed, never less).
//
//	summary  [group...]
//	group    [group-prefix bin8, authors bin(8n), [seq...n], evidence bin(8m)?]
//
// Groups are sorted by prefix, authors too (seqs in the same order, each
// at least 1), evidence prefixes too; none repeats. The evidence element
// is left out when there is none.

// PrefixLen is the length of the ID and key prefixes of a summary.
const PrefixLen = 8

// Prefix is the first PrefixLen bytes of an ID or a key.
type Prefix [PrefixLen]byte

// PrefixOf returns the prefix of a 32-byte ID or key.
func PrefixOf(b [32]byte) Prefix { return Prefix(b[:PrefixLen]) }

// Summary limits. Decoders enforce them.
const (
	MaxSummaryBytes    = 4 << 20 // an encoded summary (its text is 4/3 of that)
	MaxSummaryGroups   = 1 << 14
	MaxSummaryEvidence = 1 << 12 // evidence prefixes of one group
)

// SummaryPrefix starts a summary's text form.
const SummaryPrefix = "mutualS1-"

// Summary is what a node holds.
type Summary struct {
	Groups []GroupSummary
}

// GroupSummary is what a node holds of one group.
type GroupSummary struct {
	Group    Prefix
	Authors  []AuthorSeq // sorted by Key, each Seq >= 1
	Evidence []Prefix    // sorted prefixes of the IDs of the evidence ops held
}

// AuthorSeq says that ops 1..Seq of the author are held.
type AuthorSeq struct {
	Key Prefix
	Seq uint64
}

// Find returns the summary of the group whose ID starts with p.
func (s *Summary) Find(p Prefix) (*GroupSummary, bool) {
	i, ok := slices.BinarySearchFunc(s.Groups, p, func(g GroupSummary, p Prefix) int { return bytes.Compare(g.Group[:], p[:]) })
	if !ok {
		return nil, false
	}
	return &s.Groups[i], true
}

// Sort puts a summary in its canonical order and drops repeated
// entries and authors at seq 0.
func (s *Summary) Sort() {
	cmp := func(a, b Prefix) int { return bytes.Compare(a[:], b[:]) }
	slices.SortFunc(s.Groups, func(a, b GroupSummary) int { return cmp(a.Group, b.Group) })
	s.Groups = slices.CompactFunc(s.Groups, func(a, b GroupSummary) bool { return a.Group == b.Group })
	for i := range s.Groups {
		g := &s.Groups[i]
		g.Authors = slices.DeleteFunc(g.Authors, func(a AuthorSeq) bool { return a.Seq == 0 })
		slices.SortFunc(g.Authors, func(a, b AuthorSeq) int { return cmp(a.Key, b.Key) })
		g.Authors = slices.CompactFunc(g.Authors, func(a, b AuthorSeq) bool { return a.Key == b.Key })
		slices.SortFunc(g.Evidence, cmp)
		g.Evidence = slices.Compact(g.Evidence)
	}
}

// EncodeSummary encodes s, which must be sorted (Sort).
func EncodeSummary(s *Summary) ([]byte, error) {
	w := newWriter()
	if err := writeSummary(w, s); err != nil {
		return nil, err
	}
	if w.buf.Len() > MaxSummaryBytes {
		return nil, fmt.Errorf("summary: %w: %d bytes", ErrTooLarge, w.buf.Len())
	}
	return bytes.Clone(w.bytes()), nil
}

func writeSummary(w *writer, s *Summary) error {
	if len(s.Groups) > MaxSummaryGroups {
		return fmt.Errorf("summary: %w: %d groups, at most %d", ErrTooLarge, len(s.Groups), MaxSummaryGroups)
	}
	if !sortedSummary(s) {
		return fmt.Errorf("summary: %w: not sorted", ErrNotCanonical)
	}
	w.array(len(s.Groups))
	keys := make([]byte, 0, 8*16)
	for _, g := range s.Groups {
		if len(g.Authors) > MaxVectorAuthors || len(g.Evidence) > MaxSummaryEvidence {
			return fmt.Errorf("summary: %w: group %x", ErrTooLarge, g.Group)
		}
		if len(g.Evidence) > 0 {
			w.array(4)
		} else {
			w.array(3)
		}
		w.bin(g.Group[:])
		keys = keys[:0]
		for _, a := range g.Authors {
			keys = append(keys, a.Key[:]...)
		}
		w.bin(keys)
		w.array(len(g.Authors))
		for _, a := range g.Authors {
			w.uint(a.Seq)
		}
		if len(g.Evidence) > 0 {
			keys = keys[:0]
			for _, e := range g.Evidence {
				keys = append(keys, e[:]...)
			}
			w.bin(keys)
		}
	}
	return nil
}

// sortedSummary reports whether s is in canonical order.
func sortedSummary(s *Summary) bool {
	less := func(a, b Prefix) bool { return bytes.Compare(a[:], b[:]) < 0 }
	for i, g := range s.Groups {
		if i > 0 && !less(s.Groups[i-1].Group, g.Group) {
			return false
		}
		for j, a := range g.Authors {
			if a.Seq == 0 || (j > 0 && !less(g.Authors[j-1].Key, a.Key)) {
				return false
			}
		}
		for j, e := range g.Evidence {
			if j > 0 && !less(g.Evidence[j-1], e) {
				return false
			}
		}
	}
	return true
}

// DecodeSummary decodes an encoded summary.
func DecodeSummary(b []byte) (*Summary, error) {
	if err := checkFrame(b, MaxSummaryBytes); err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	r := newReader(b)
	s := readSummary(r)
	if err := r.end(); err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	return s, nil
}

// readSummary reads a summary from bytes checkFrame has validated.
func readSummary(r *reader) *Summary {
	s := &Summary{}
	n := r.arrayMax(MaxSummaryGroups)
	for i := 0; i < n && r.err == nil; i++ {
		var g GroupSummary
		m := r.arrayRange(3, 4)
		r.fixed(g.Group[:])
		keys := r.prefixes(MaxVectorAuthors)
		seqs := r.arrayMax(MaxVectorAuthors)
		if r.err == nil && seqs != len(keys) {
			r.fail(fmt.Errorf("%d authors and %d seqs", len(keys), seqs))
		}
		for j := 0; j < seqs && r.err == nil; j++ {
			g.Authors = append(g.Authors, AuthorSeq{keys[j], r.uint(1<<63 - 1)})
		}
		if m == 4 {
			g.Evidence = r.prefixes(MaxSummaryEvidence)
			if r.err == nil && len(g.Evidence) == 0 {
				r.fail(fmt.Errorf("an empty evidence list is left out"))
			}
		}
		s.Groups = append(s.Groups, g)
	}
	if r.err == nil && !sortedSummary(s) {
		r.err = fmt.Errorf("%w: entries not sorted, repeated, or at seq 0", ErrNotCanonical)
	}
	return s
}

// prefixes reads a bin of at most max concatenated prefixes.
func (r *reader) prefixes(max int) []Prefix {
	if r.err != nil {
		return nil
	}
	b, err := r.d.DecodeBytes()
	if err != nil {
		r.fail(err)
		return nil
	}
	if len(b)%PrefixLen != 0 || len(b)/PrefixLen > max {
		r.fail(fmt.Errorf("a list of prefixes of %d bytes", len(b)))
		return nil
	}
	out := make([]Prefix, len(b)/PrefixLen)
	for i := range out {
		out[i] = Prefix(b[i*PrefixLen:])
	}
	return out
}

// SummaryText renders an encoded summary as text: SummaryPrefix and the
// URL-safe base64 of the encoding, without padding.
func SummaryText(s *Summary) (string, error) {
	b, err := EncodeSummary(s)
	if err != nil {
		return "", err
	}
	return SummaryPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// ParseSummaryText reads a summary's text form (spaces and line breaks
// anywhere in it are ignored: a code copied from a terminal may wrap).
func ParseSummaryText(s string) (*Summary, error) {
	s = strings.Join(strings.Fields(s), "")
	if len(s) > len(SummaryPrefix)+base64.RawURLEncoding.EncodedLen(MaxSummaryBytes) {
		return nil, fmt.Errorf("summary: %w", ErrTooLarge)
	}
	rest, ok := strings.CutPrefix(s, SummaryPrefix)
	if !ok {
		return nil, fmt.Errorf("summary: %w: does not start with %q", ErrMalformed, SummaryPrefix)
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("summary: %w: %v", ErrMalformed, err)
	}
	return DecodeSummary(b)
}
