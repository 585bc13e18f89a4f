package replica

import (
	"errors"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/store"
	"github.com/mutual-aid/mutual/protocol"
)

// Summary returns what this node holds of the given groups (all its
// groups when none are given): a version vector and the evidence of
// forks per group (the ID of every op of each fork it knows), by 8-byte
// prefixes (docs/protocol.md section 11.1).
// Authors whose keys share a prefix are left out, all of them: the
// exporter then sends all their ops, which the importer has as
// duplicates, rather than omit ops the importer lacks.
func (r *Replica) Summary(groups []crdt.ID) (*protocol.Summary, error) {
	if len(groups) == 0 {
		for _, g := range r.Groups() {
			groups = append(groups, g.ID)
		}
	}
	s := &protocol.Summary{}
	for _, g := range groups {
		v, err := r.Sync().VersionVector(g)
		if err != nil {
			return nil, err
		}
		gsum := protocol.GroupSummary{Group: protocol.PrefixOf(g)}
		seen := map[protocol.Prefix]int{}
		for a, seq := range v {
			if seq > 0 {
				seen[protocol.PrefixOf(a)]++
			}
		}
		for a, seq := range v {
			if seq > 0 && seen[protocol.PrefixOf(a)] == 1 {
				gsum.Authors = append(gsum.Authors, protocol.AuthorSeq{Key: protocol.PrefixOf(a), Seq: seq})
			}
		}
		// Every op of each fork known here: the evidence, and the op the
		// log holds at its (author, seq), so that an exporter sends
		// neither side again.
		err = r.Sync().Evidence(g, func(raw []byte) error {
			gsum.Evidence = append(gsum.Evidence, protocol.PrefixOf(opID(raw)))
			ref, err := protocol.PeekOp(raw)
			if err != nil {
				return nil
			}
			logged, err := r.st.LogOp(g, ref.Author, ref.Seq)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			gsum.Evidence = append(gsum.Evidence, protocol.PrefixOf(opID(logged)))
			return nil
		})
		if err != nil {
			return nil, err
		}
		s.Groups = append(s.Groups, gsum)
	}
	s.Sort()
	return s, nil
}

// summaryGroups returns the groups this node holds that the summary
// names (each prefix that matches exactly one of them), or all its
// groups if s is nil.
func (r *Replica) summaryGroups(s *protocol.Summary) []crdt.ID {
	held := r.Groups()
	var out []crdt.ID
	if s == nil {
		for _, g := range held {
			out = append(out, g.ID)
		}
		return out
	}
	byPrefix := map[protocol.Prefix][]crdt.ID{}
	for _, g := range held {
		p := protocol.PrefixOf(g.ID)
		byPrefix[p] = append(byPrefix[p], g.ID)
	}
	for _, gs := range s.Groups {
		if ids := byPrefix[gs.Group]; len(ids) == 1 {
			out = append(out, ids[0])
		}
	}
	return out
}

// resolve turns the summary's entry for group g into a version vector
// over this node's authors of g, and the set of evidence prefixes it
// lists. A prefix that matches none of authors, or several, is dropped:
// for those authors the importer is taken to hold nothing.
func resolve(s *protocol.Summary, g crdt.ID, authors []crdt.PublicKey) (map[crdt.PublicKey]uint64, map[protocol.Prefix]bool) {
	theirs := map[crdt.PublicKey]uint64{}
	evidence := map[protocol.Prefix]bool{}
	if s == nil {
		return theirs, evidence
	}
	gs, ok := s.Find(protocol.PrefixOf(g))
	if !ok {
		return theirs, evidence
	}
	byPrefix := make(map[protocol.Prefix][]crdt.PublicKey, len(authors))
	for _, a := range authors {
		p := protocol.PrefixOf(a)
		byPrefix[p] = append(byPrefix[p], a)
	}
	for _, e := range gs.Authors {
		if as := byPrefix[e.Key]; len(as) == 1 {
			theirs[as[0]] = e.Seq
		}
	}
	for _, p := range gs.Evidence {
		evidence[p] = true
	}
	return theirs, evidence
}
