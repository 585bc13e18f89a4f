package replica

import (
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// TestResolveAmbiguousPrefix: a summary names authors by 8-byte
// prefixes. A prefix that matches two of the exporter's authors gives
// neither a seq (the bundle carries all their ops); one that matches
// none is ignored; one that matches one gives it its seq.
func TestResolveAmbiguousPrefix(t *testing.T) {
	key := func(b ...byte) crdt.PublicKey {
		var k crdt.PublicKey
		copy(k[:], b)
		k[31] = b[len(b)-1]
		return k
	}
	x1 := key(1, 2, 3, 4, 5, 6, 7, 8, 1) // x1 and x2 share their prefix
	x2 := key(1, 2, 3, 4, 5, 6, 7, 8, 2)
	y := key(9, 9, 9, 9, 9, 9, 9, 9, 9)
	var g crdt.ID
	g[0] = 42
	s := &protocol.Summary{Groups: []protocol.GroupSummary{{Group: protocol.PrefixOf(g), Authors: []protocol.AuthorSeq{
		{Key: protocol.PrefixOf(x1), Seq: 7}, {Key: protocol.PrefixOf(y), Seq: 3}, {Key: protocol.Prefix{5}, Seq: 9},
	}}}}
	s.Sort()
	theirs, _ := resolve(s, g, []crdt.PublicKey{x1, x2, y})
	if len(theirs) != 1 || theirs[y] != 3 {
		t.Fatalf("resolved %v, want only y at 3", theirs)
	}
	var other crdt.ID
	other[0] = 43
	if theirs, _ := resolve(s, other, []crdt.PublicKey{y}); len(theirs) != 0 {
		t.Fatalf("a group the summary does not name: %v", theirs)
	}
}
