package catchup

import (
	"fmt"
	"maps"
	"slices"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// A node may hold hundreds of groups; a round offers at most
// protocol.MaxSyncGroups of them, and a peer may name no more in a
// phase. So that every group syncs, a session first leaves out the
// groups both sides hold alike (digests), then goes through the others
// a page at a time, in ascending ID order:
//
//   - In round 1, after the Hellos, each side sends a Digest with the
//     total of its group digests (protocol.TotalDigest) over the groups
//     it offers the peer whole (MayRead: no Limit), and nothing else. If
//     the totals are equal, all those groups are settled: neither side
//     offers them, reads them from its store, or sends their ops. If
//     not, each side sends a Digest per group (one or more Digest frames
//     of entries, then End), and the groups that both named with the
//     same digest are settled. A peer learns from digests only IDs of
//     groups it may read whole, as from the Haves.
//   - Each round offers a page: the first MaxSyncGroups groups, settled
//     ones left out, past the last page done. If a side's offer is full
//     (MaxSyncGroups groups), the page ends at its last group, or at the
//     other's if that ends first: both sides drop the groups past that
//     bound from the round (Haves of them are ignored; no Want or ops
//     for them), and the next page starts after it.
//   - After a round, if either side says more (Next), the same page goes
//     again, up to MaxRounds rounds per page; otherwise the next page
//     follows if the page had a bound; otherwise the session ends. Both
//     sides see the same Nexts and offers, so they agree without a word
//     more; MaxSessionRounds bounds it all.

// greet opens a round: Hello, both ways; in round 1, the digests.
func (ss *session) greet(rs *roundState) error {
	var mine map[crdt.ID]protocol.Digest
	var total, theirs protocol.Digest
	if rs.n == 1 {
		var err error
		if mine, err = ss.digests(rs); err != nil {
			return err
		}
		total = protocol.TotalDigest(digestList(mine))
	}
	err := ss.exchange(func() error {
		if err := ss.write(&protocol.Frame{Type: protocol.MsgHello, Version: protocol.SyncVersion, Round: rs.n, Initiator: ss.initiator}); err != nil {
			return err
		}
		if rs.n != 1 {
			return nil
		}
		return ss.write(&protocol.Frame{Type: protocol.MsgDigest, Total: total})
	}, func() error {
		h, err := ss.expect(protocol.MsgHello)
		if err != nil {
			return err
		}
		switch {
		case h.Version != protocol.SyncVersion:
			return rejectf("%w: sync version %d", protocol.ErrUnsupported, h.Version)
		case h.Round != rs.n:
			return rejectf("hello for round %d in round %d", h.Round, rs.n)
		case h.Initiator == ss.initiator:
			return rejectf("both sides say initiator=%v", h.Initiator)
		}
		if rs.n != 1 {
			return nil
		}
		d, err := ss.expect(protocol.MsgDigest)
		if err != nil {
			return err
		}
		if len(d.Digests) > 0 {
			return rejectf("group digests before the totals")
		}
		theirs = d.Total
		return nil
	})
	if err != nil || rs.n != 1 {
		return err
	}
	if theirs == total {
		for g := range mine {
			ss.settle(g)
		}
		return nil
	}
	return ss.compareDigests(mine)
}

// settle leaves g out of the session: both sides hold it alike. A group
// the peer follows counts as served to it (Stats.Followers), as it would
// have been had it been offered: the node goes on pushing its new ops to
// the peer, and digesting it for the peer next session.
func (ss *session) settle(g crdt.ID) {
	ss.settled[g] = true
	if ss.asFollow[g] {
		ss.followers[g] = true
	}
}

// digests returns the digest of each group this node offers the peer
// whole: those the peer may read, those it follows and this node
// offers it as a follower does (Limit.Follow: the whole vector), and
// those this node served it as a follower in their last session and
// would serve it still (Options.Followers, followsFrom). Then a member
// and its follower, or two followers, that hold a group alike settle it
// as two members do.
func (ss *session) digests(rs *roundState) (map[crdt.ID]protocol.Digest, error) {
	out := make(map[crdt.ID]protocol.Digest, len(rs.readable))
	ss.asFollow = map[crdt.ID]bool{}
	add := func(g crdt.ID) error {
		d, err := ss.r.Digest(g)
		if err != nil {
			return fmt.Errorf("catchup: digest of %s: %w", g.Short(), err)
		}
		out[g] = d
		return nil
	}
	for _, g := range rs.readable {
		l, limited := rs.limits[g]
		if limited && !(l.Follow && l.Own == nil && len(l.Notices) == 0) {
			continue
		}
		if err := add(g); err != nil {
			return nil, err
		}
		if limited {
			ss.asFollow[g] = true
		}
	}
	for _, g := range ss.served {
		if _, ok := out[g]; ok {
			continue
		}
		if ok, err := ss.followsFrom(g); err != nil {
			return nil, err
		} else if !ok {
			continue
		}
		if err := add(g); err != nil {
			return nil, err
		}
		ss.asFollow[g] = true
	}
	return out, nil
}

// followsFrom reports whether this node would serve the peer group g
// as a follower (want): it replicates g and does not offer it to the
// peer, the peer is no member and holds no op of its own there by this
// node's copy (no newcomer, no former member) or visits it, and
// MayFollow allows it. (A newcomer says so only in its Have; it offers
// g with Limit.Own and digests it not, so g does not settle.)
func (ss *session) followsFrom(g crdt.ID) (bool, error) {
	if !slices.Contains(ss.r.Groups(), g) || ss.r.MayRead(g, ss.remote) {
		return false, nil
	}
	l, err := ss.r.Limited(g, ss.remote)
	if err != nil {
		return false, fmt.Errorf("catchup: limits of %s: %w", g.Short(), err)
	}
	if l.offers() {
		return false, nil
	}
	v, err := ss.r.VersionVector(g)
	if err != nil {
		return false, fmt.Errorf("catchup: version vector of %s: %w", g.Short(), err)
	}
	if _, known := v[ss.remote]; known && !visits(ss.r, g, ss.remote) {
		return false, nil
	}
	return ss.r.MayFollow(g, ss.remote) == nil, nil
}

func digestList(m map[crdt.ID]protocol.Digest) []protocol.GroupDigest {
	out := make([]protocol.GroupDigest, 0, len(m))
	for _, g := range slices.SortedFunc(maps.Keys(m), crdt.ID.Compare) {
		out = append(out, protocol.GroupDigest{Group: g, Sum: m[g]})
	}
	return out
}

// compareDigests exchanges a digest per group, when the totals differ,
// and settles the groups both sides hold alike.
func (ss *session) compareDigests(mine map[crdt.ID]protocol.Digest) error {
	list := digestList(mine)
	total := protocol.TotalDigest(list)
	return ss.exchange(func() error {
		for len(list) > 0 {
			n := min(len(list), protocol.MaxDigestChunk)
			if err := ss.write(&protocol.Frame{Type: protocol.MsgDigest, Total: total, Digests: list[:n]}); err != nil {
				return err
			}
			list = list[n:]
		}
		return ss.write(&protocol.Frame{Type: protocol.MsgEnd})
	}, func() error {
		named := 0
		for {
			f, err := ss.next()
			if err != nil {
				return err
			}
			switch f.Type {
			case protocol.MsgEnd:
				return nil
			case protocol.MsgDigest:
			default:
				return rejectf("got %s, want digest or end", f.Type)
			}
			if named += len(f.Digests); named > protocol.MaxDigestGroups {
				return rejectf("digests of more than %d groups", protocol.MaxDigestGroups)
			}
			for _, d := range f.Digests {
				if sum, ok := mine[d.Group]; ok && sum == d.Sum {
					ss.settle(d.Group)
				}
			}
		}
	})
}

// page returns the groups this round offers: of all those offered the
// peer (sorted), the first MaxSyncGroups past the last page done, the
// settled ones left out.
func (ss *session) page(all []crdt.ID) []crdt.ID {
	var out []crdt.ID
	for _, g := range all {
		if ss.settled[g] || (ss.after != nil && g.Compare(*ss.after) <= 0) {
			continue
		}
		out = append(out, g)
		if len(out) == protocol.MaxSyncGroups {
			break
		}
	}
	return out
}

// endPage, once both offers are read, ends the round's page at the last
// group of a full offer (the lower of the two when both are full) and
// drops from the round the groups either side offered past it.
func (ss *session) endPage(rs *roundState) {
	var bound *crdt.ID
	lower := func(g crdt.ID) {
		if bound == nil || g.Compare(*bound) < 0 {
			bound = &g
		}
	}
	if len(rs.offered) == protocol.MaxSyncGroups {
		lower(rs.offered[len(rs.offered)-1])
	}
	if len(rs.named) == protocol.MaxSyncGroups {
		lower(slices.MaxFunc(slices.Collect(maps.Keys(rs.named)), crdt.ID.Compare))
	}
	rs.bound = bound
	if bound == nil {
		return
	}
	past := func(g crdt.ID) bool { return g.Compare(*bound) > 0 }
	rs.offered = slices.DeleteFunc(rs.offered, past)
	for _, m := range []map[crdt.ID]bool{rs.isOffered, rs.named} {
		maps.DeleteFunc(m, func(g crdt.ID, _ bool) bool { return past(g) })
	}
	for _, m := range []map[crdt.ID]vector{rs.ours, rs.theirOffer} {
		maps.DeleteFunc(m, func(g crdt.ID, _ vector) bool { return past(g) })
	}
}

// inPage reports whether g belongs to the round's page.
func (ss *session) inPage(rs *roundState, g crdt.ID) bool {
	return !ss.settled[g] &&
		(ss.after == nil || g.Compare(*ss.after) > 0) &&
		(rs.bound == nil || g.Compare(*rs.bound) <= 0)
}

// nextRound decides, alike on both sides, whether another round
// follows: the same page again if either side said more, the next page
// if this one had a bound, else none.
func (ss *session) nextRound(rs *roundState, more bool) bool {
	switch {
	case rs.n >= MaxSessionRounds:
		return false
	case more && ss.pageRound < MaxRounds:
		ss.pageRound++
		return true
	case rs.bound != nil:
		b := *rs.bound
		ss.after, ss.pageRound = &b, 1
		return true
	}
	return false
}
