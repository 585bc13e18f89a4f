package protocol

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"slices"

	"github.com/mutual-aid/mutual/crdt"
)

// A Digest summarises what a node holds of a group (GroupDigestOf), or
// of all the groups it offers a peer (TotalDigest), so that two nodes
// that hold the same find out with a few bytes, and read nothing from
// their stores (docs/protocol-catchup.md, "Digests").
type Digest [DigestSize]byte

// DigestSize is the size of a digest: the first 16 bytes of a SHA-256.
const DigestSize = 16

// GroupDigest is one entry of a Digest message.
type GroupDigest struct {
	Group crdt.ID
	Sum   Digest
}

// Domain separators of the two digests.
const (
	groupDigestDomain = "mutual group digest v1\x00"
	totalDigestDomain = "mutual total digest v1\x00"
)

// GroupDigestOf is the digest of a group as held: its version vector
// (author -> highest contiguous seq; entries of seq 0 are left out), the
// seqs held past the contiguous ones, the breaks known (an op whose prev
// is not the op held before it: author and the seq before), and the IDs
// of the ops kept as evidence of forks. The lists of (author, seq) are
// sorted by author then seq and written as their uvarint length, then
// per entry the author's 32 bytes and the seq as a uvarint; the IDs are
// sorted and written as their uvarint count, then 32 bytes each. The
// digest is SHA-256(domain || vector || above || breaks || evidence),
// cut to 16 bytes.
func GroupDigestOf(vector map[crdt.PublicKey]uint64, above, breaks []VectorEntry, evidence []crdt.ID) Digest {
	h := sha256.New()
	h.Write([]byte(groupDigestDomain))
	var tmp []byte
	list := func(es []VectorEntry) {
		slices.SortFunc(es, func(a, b VectorEntry) int {
			if c := a.Author.Compare(b.Author); c != 0 {
				return c
			}
			switch {
			case a.Seq < b.Seq:
				return -1
			case a.Seq > b.Seq:
				return 1
			}
			return 0
		})
		tmp = binary.AppendUvarint(tmp[:0], uint64(len(es)))
		h.Write(tmp)
		for _, e := range es {
			h.Write(e.Author[:])
			tmp = binary.AppendUvarint(tmp[:0], e.Seq)
			h.Write(tmp)
		}
	}
	vv := make([]VectorEntry, 0, len(vector))
	for a, s := range vector {
		if s > 0 {
			vv = append(vv, VectorEntry{a, s})
		}
	}
	list(vv)
	list(slices.Clone(above))
	list(slices.Clone(breaks))
	ids := slices.SortedFunc(slices.Values(evidence), crdt.ID.Compare)
	tmp = binary.AppendUvarint(tmp[:0], uint64(len(ids)))
	h.Write(tmp)
	for _, id := range ids {
		h.Write(id[:])
	}
	var d Digest
	copy(d[:], h.Sum(nil))
	return d
}

// TotalDigest is the digest of a set of group digests: SHA-256(domain ||
// for each group in ascending ID order, its ID and its digest), cut to
// 16 bytes. Two nodes offering each other the same groups, each held
// alike, have the same total.
func TotalDigest(ds []GroupDigest) Digest {
	ds = slices.Clone(ds)
	slices.SortFunc(ds, func(a, b GroupDigest) int {
		if c := a.Group.Compare(b.Group); c != 0 {
			return c
		}
		return bytes.Compare(a.Sum[:], b.Sum[:])
	})
	h := sha256.New()
	h.Write([]byte(totalDigestDomain))
	for _, d := range ds {
		h.Write(d.Group[:])
		h.Write(d.Sum[:])
	}
	var d Digest
	copy(d[:], h.Sum(nil))
	return d
}
