package catchup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// check checks the city after its final round (see TestCitySimulation).
func (c *city) check() error {
	contacts := map[crdt.ID]string{}
	for _, p := range c.posts {
		contacts[p.id] = p.contact
	}
	refs := make([]*MemoryReplica, len(c.groups))
	for g, gr := range c.groups {
		ref := NewMemoryReplica(crdt.PublicKey{}, c.clock)
		ref.AddGroup(gr.id)
		ref.SetOpCache(c.cache)
		if _, err := ref.Ingest(context.Background(), gr.all); err != nil {
			return fmt.Errorf("reference of group %d: %w", g, err)
		}
		if ref.Len(gr.id) != len(gr.all) {
			return fmt.Errorf("reference of group %d holds %d of its %d ops", g, ref.Len(gr.id), len(gr.all))
		}
		refs[g] = ref
	}
	for _, nd := range c.nodes {
		got := nd.r.Groups()
		var want []crdt.ID
		for g := range c.holds[nd.i] {
			want = append(want, g)
		}
		slices.SortFunc(want, crdt.ID.Compare)
		if !slices.Equal(got, want) {
			return fmt.Errorf("node %d replicates %d groups, want %d (its own and those it follows)", nd.i, len(got), len(want))
		}
		for _, id := range got {
			g := c.byID[id]
			if !c.reads[nd.i][id] {
				if n := nd.r.Len(id); n > 0 {
					return fmt.Errorf("node %d holds %d ops of group %d, which refuses its group %d", nd.i, n, g, nd.group)
				}
				continue
			}
			ref := refs[g]
			if h, n := nd.r.Hash(id), nd.r.Len(id); n != ref.Len(id) || h != ref.Hash(id) {
				return fmt.Errorf("node %d (group %d) holds %d of the %d ops of group %d, hash %s, want %s",
					nd.i, nd.group, n, ref.Len(id), g, h.Short(), ref.Hash(id).Short())
			}
			if err := c.checkPrivate(nd, g, contacts); err != nil {
				return err
			}
		}
	}
	for h, gr := range c.groups {
		if gr.refuses < 0 {
			continue
		}
		told := false
		for _, i := range c.groups[gr.refuses].nodes {
			if reason, ok := c.refusals[[2]int{i, h}]; ok {
				if reason != ErrNotAlly.Error() {
					return fmt.Errorf("node %d was refused group %d with %q, want %q", i, h, reason, ErrNotAlly)
				}
				told = true
			}
		}
		if !told {
			return fmt.Errorf("no node of group %d was told why group %d refuses it", gr.refuses, h)
		}
	}
	return nil
}

// checkPrivate checks the private fields of group g's posts on node nd:
// a member opens each post's blob with the key shared with it and finds
// the contact its author sealed; a follower holds the sealed blobs (it
// forwards members' whole ops) and no key share sealed to it, so it
// cannot open one.
func (c *city) checkPrivate(nd *cityNode, g int, contacts map[crdt.ID]string) error {
	id := c.groups[g].id
	member := nd.group == g
	keys := map[crdt.KeyID][protocol.GroupKeySize]byte{}
	var blobs []crdt.Op
	v, err := nd.r.VersionVector(id)
	if err != nil {
		return err
	}
	for author := range v {
		err := nd.r.OpsAfter(id, author, 0, func(raw []byte) error {
			op, err := protocol.DecodeStoredOp(raw)
			if err != nil {
				return err
			}
			switch b := op.Body.(type) {
			case crdt.GroupKey:
				for _, s := range b.Shares {
					if s.Member != nd.pub {
						continue
					}
					k, err := protocol.OpenShare(id, b.Key, nd.pub, &s.Sealed, nd.box)
					if err != nil {
						return fmt.Errorf("a share sealed to it does not open: %w", err)
					}
					keys[b.Key] = k
				}
			case crdt.PostCreate:
				if !b.Private.IsZero() {
					if op.Blob == nil {
						return fmt.Errorf("post %s lacks its sealed blob", op.ID.Short())
					}
					blobs = append(blobs, op)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("node %d, group %d: %w", nd.i, g, err)
		}
	}
	if !member {
		if len(keys) > 0 {
			return fmt.Errorf("node %d follows group %d and holds a key share sealed to it", nd.i, g)
		}
		c.stats.BlobsAtFollowers += len(blobs)
	}
	for _, op := range blobs {
		p, err := protocol.OpenPrivate(id, op.Blob, func(k crdt.KeyID) ([protocol.GroupKeySize]byte, bool) {
			key, ok := keys[k]
			return key, ok
		})
		switch {
		case !member && !errors.Is(err, protocol.ErrNoKey):
			return fmt.Errorf("node %d follows group %d: opening post %s: %v, want %v", nd.i, g, op.ID.Short(), err, protocol.ErrNoKey)
		case member && err != nil:
			return fmt.Errorf("node %d, a member of group %d, cannot open post %s: %w", nd.i, g, op.ID.Short(), err)
		case member && p.Contact != contacts[op.ID]:
			return fmt.Errorf("node %d opens post %s: contact %q, want %q", nd.i, op.ID.Short(), p.Contact, contacts[op.ID])
		}
	}
	return nil
}

// cityFigures are what a run measured (docs/benchmarks.md).
type cityFigures struct {
	Latency []int64 // virtual ms from a post to its last node, posts that got there before the final round
	Rounds  []int   // transfers (gossip hops or sessions) on the path to that last node
	Late    int     // posts that reached their last node only in the final round
	Whole   []int64 // Latency of the posts made while no partition was on
	// Bytes each node sent per op made in the window, by role: as a
	// member (catch-up about its group, and gossip) per op of its group;
	// as a follower per op of the groups it follows; overhead (frames
	// naming no group) per op of every group it holds.
	MemberCatchup, MemberGossip, Follower, Overhead []float64
	Bytes, Copies                                   int64 // all bytes sent; ops times the nodes that must hold them
	OpBytes, Ops                                    int64 // ops made in the window, and their encodings' bytes
	Wire                                            cityWire
	Types                                           cityTypes
}

func (c *city) figures() cityFigures {
	f := cityFigures{Wire: c.wire, Types: c.types}
	for _, p := range c.posts {
		if p.done < 0 {
			f.Late++
			continue
		}
		f.Latency = append(f.Latency, p.done-p.made)
		if !p.split {
			f.Whole = append(f.Whole, p.done-p.made)
		}
		f.Rounds = append(f.Rounds, p.rounds)
	}
	for _, gr := range c.groups {
		for _, raw := range gr.all[len(gr.all)-gr.window:] {
			f.OpBytes += int64(len(raw))
		}
		f.Ops += int64(gr.window)
		readers := 0
		for i := range c.nodes {
			if c.reads[i][gr.id] {
				readers++
			}
		}
		f.Copies += int64(gr.window * readers)
	}
	for _, nd := range c.nodes {
		s := c.final[nd.i]
		f.Bytes += s.Member + s.Follower + s.Overhead + s.Gossip
		own, followed := c.groups[nd.group].window, 0
		for id := range c.reads[nd.i] {
			if g := c.byID[id]; g != nd.group {
				followed += c.groups[g].window
			}
		}
		if own > 0 {
			f.MemberCatchup = append(f.MemberCatchup, float64(s.Member)/float64(own))
			f.MemberGossip = append(f.MemberGossip, float64(s.Gossip)/float64(own))
		}
		if followed > 0 {
			f.Follower = append(f.Follower, float64(s.Follower)/float64(followed))
		}
		if own+followed > 0 {
			f.Overhead = append(f.Overhead, float64(s.Overhead)/float64(own+followed))
		}
	}
	return f
}

func (f *cityFigures) add(o cityFigures) {
	f.Latency = append(f.Latency, o.Latency...)
	f.Rounds = append(f.Rounds, o.Rounds...)
	f.Whole = append(f.Whole, o.Whole...)
	f.Late += o.Late
	f.MemberCatchup = append(f.MemberCatchup, o.MemberCatchup...)
	f.MemberGossip = append(f.MemberGossip, o.MemberGossip...)
	f.Follower = append(f.Follower, o.Follower...)
	f.Overhead = append(f.Overhead, o.Overhead...)
	f.Bytes += o.Bytes
	f.Copies += o.Copies
	f.OpBytes += o.OpBytes
	f.Ops += o.Ops
	for t := range f.Types {
		f.Types[t].Frames += o.Types[t].Frames
		f.Types[t].Bytes += o.Types[t].Bytes
	}
	for w := range f.Wire {
		f.Wire[w].Sessions += o.Wire[w].Sessions
		f.Wire[w].Ops += o.Wire[w].Ops
		f.Wire[w].Vectors += o.Wire[w].Vectors
		f.Wire[w].Other += o.Wire[w].Other
	}
}

// pct returns the p-th percentile (0-100) of xs, nearest rank.
func pct[T int | int64 | float64](xs []T, p int) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(i-1, 0)]
}

func (f *cityFigures) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "post to its last node: p50 %d ms, p99 %d ms, max %d ms; p50 %d transfers, p99 %d (%d posts, %d only in the final round)\n",
		pct(f.Latency, 50), pct(f.Latency, 99), pct(f.Latency, 100), pct(f.Rounds, 50), pct(f.Rounds, 99), len(f.Latency)+f.Late, f.Late)
	fmt.Fprintf(&b, "posts made with every link up: p50 %d ms, p99 %d ms, max %d ms (%d posts)\n",
		pct(f.Whole, 50), pct(f.Whole, 99), pct(f.Whole, 100), len(f.Whole))
	fmt.Fprintf(&b, "bytes sent per op, p50/p99 over nodes: member catch-up %.0f/%.0f, member gossip %.0f/%.0f, follower catch-up %.0f/%.0f, overhead %.0f/%.0f\n",
		pct(f.MemberCatchup, 50), pct(f.MemberCatchup, 99), pct(f.MemberGossip, 50), pct(f.MemberGossip, 99),
		pct(f.Follower, 50), pct(f.Follower, 99), pct(f.Overhead, 50), pct(f.Overhead, 99))
	if f.Copies > 0 && f.Ops > 0 {
		fmt.Fprintf(&b, "all bytes sent / op copies delivered: %d B (an op is %d B with its blob; %d ops, %d copies)",
			f.Bytes/f.Copies, f.OpBytes/f.Ops, f.Ops, f.Copies)
		b.WriteString("\nbytes per op copy by what sent them (sessions; ops / vectors / other frames):")
		for w, x := range f.Wire {
			if w == int(whyFinal) || x.Ops+x.Vectors+x.Other == 0 {
				continue
			}
			fmt.Fprintf(&b, " %s (%d) %d/%d/%d;", cityWhy(w), x.Sessions, x.Ops/f.Copies, x.Vectors/f.Copies, x.Other/f.Copies)
		}
		b.WriteString("\ncatch-up bytes per op copy by message type (frames):")
		for t, x := range f.Types {
			if x.Frames > 0 {
				fmt.Fprintf(&b, " %s %.1f (%d);", protocol.MsgType(t), float64(x.Bytes)/float64(f.Copies), x.Frames)
			}
		}
	}
	return b.String()
}

// report is the run's figures and counts, the same for the same seed.
func (c *city) report() string {
	f := c.figures()
	links := 0
	for range c.links {
		links++
	}
	return fmt.Sprintf("%d groups, %d nodes, %d links; %+v\n%s", len(c.groups), len(c.nodes), links, c.stats, f.String())
}
