package replica

import (
	"errors"
	"fmt"
	"slices"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// Private fields (docs/design.md, "Private fields").
//
// A post's location and contact never reach Badger or the wire in clear.
// When this node writes a post op that sets them, it seals them under
// the group's newest key it holds into a blob (protocol.SealPrivate),
// which the op names by its hash. The blob goes to the vault (a file
// outside Badger that can erase in place) in the same commit as the op,
// and travels after the op to members; reading a post opens the blobs
// its private registers point at (reveal).
//
// Group keys reach this node sealed to its box key in GroupKey ops; the
// writer opens those addressed to it as they come (openKeys) and keeps
// them in memory only. It also keeps the keys going (keyUpkeep): a node
// that admits a newcomer shares every key it holds with it, and an
// admin's node makes a new key, shared with the members that remain,
// once the newest key was shared with someone who is no member any more.

// ErrNoKey is the error of sealing a private field before this node
// holds a key of the group.
var ErrNoKey = errors.New("this node has no key for the group's private fields yet (a member's node shares it at the next sync): post without location and contact, or try again shortly")

// openKeys opens the shares of the group's keys that are addressed to
// this node and not opened yet. The writer calls it, holding r.mu.
func (r *Replica) openKeys(gs *groupState) {
	for _, k := range gs.g.Keys() {
		if _, ok := gs.keys[k.ID]; ok {
			continue
		}
		sealed, ok := k.Shares[r.self]
		if !ok {
			continue
		}
		key, err := protocol.OpenShare(gs.rec.ID, k.ID, r.self, &sealed, r.box)
		if err != nil {
			r.cfg.Logger.Warn("a group key shared with this node does not open", "group", gs.rec.ID.Short(), "err", err)
			continue
		}
		if gs.keys == nil {
			gs.keys = map[crdt.KeyID][protocol.GroupKeySize]byte{}
		}
		gs.keys[k.ID] = key
	}
}

// sealingKey returns the newest group key this node holds.
func (gs *groupState) sealingKey() ([protocol.GroupKeySize]byte, bool) {
	ks := gs.g.Keys()
	for i := len(ks) - 1; i >= 0; i-- {
		if k, ok := gs.keys[ks[i].ID]; ok {
			return k, true
		}
	}
	return [protocol.GroupKeySize]byte{}, false
}

// key returns a key of the group by ID, for opening blobs.
func (gs *groupState) key(id crdt.KeyID) ([protocol.GroupKeySize]byte, bool) {
	k, ok := gs.keys[id]
	return k, ok
}

// Topic returns the GossipSub topic of a group, derived from its first
// key: false until this node holds that key.
func (r *Replica) Topic(group crdt.ID) (string, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	gs := r.groups[group]
	if gs == nil || gs.g.FirstKey.IsZero() {
		return "", false
	}
	k, ok := gs.keys[gs.g.FirstKey]
	if !ok {
		return "", false
	}
	return protocol.Topic(group, k), true
}

// seal moves the private fields of a post body this node writes into a
// blob: it returns the body naming the blob, and the blob (nil when the
// body sets no private value).
func (r *Replica) seal(gs *groupState, body crdt.Body) (crdt.Body, []byte, error) {
	switch b := body.(type) {
	case crdt.PostCreate:
		return r.sealFields(gs, &b.Fields, &b.Private, crdt.PrivateFields, func() crdt.Body { return b })
	case crdt.PostEdit:
		return r.sealFields(gs, &b.Fields, &b.Private, b.Set&crdt.PrivateFields, func() crdt.Body { return b })
	case sealedRespond:
		return r.sealTo(gs, b)
	case sealedHandOn:
		return r.sealHandOn(gs, b)
	}
	return body, nil, nil
}

// sealFields seals f's private fields named by set, clears them in f and
// sets *sum; body returns the body after the change.
func (r *Replica) sealFields(gs *groupState, f *crdt.Fields, sum *crdt.ID, set crdt.FieldMask, body func() crdt.Body) (crdt.Body, []byte, error) {
	p := protocol.Private{Location: f.Location, Contact: f.Contact}
	if set&crdt.FieldLocation == 0 {
		p.Location = ""
	}
	if set&crdt.FieldContact == 0 {
		p.Contact = ""
	}
	f.Location, f.Contact = "", ""
	if p == (protocol.Private{}) {
		return body(), nil, nil // nothing to seal: a private field set to "" is cleared
	}
	k, ok := gs.sealingKey()
	if !ok {
		return nil, nil, ErrNoKey
	}
	blob, s, err := protocol.SealPrivate(gs.rec.ID, k, p)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalidPost, err)
	}
	*sum = s
	return body(), blob, nil
}

// Reveal returns p with its private fields opened, as members see it: a
// copy when it has any. A field whose blob this node lacks (erased, or
// never received) or cannot open (a key not shared with it) reads "".
func (r *Replica) Reveal(p *crdt.Post) *crdt.Post {
	if p == nil || !r.hasBlob(p.Location.S.Op) && !r.hasBlob(p.Contact.S.Op) {
		return p // nothing to open: no copy (most posts, on every board read)
	}
	c := p.Clone()
	c.Location.V, c.Contact.V = "", ""
	open := func(op crdt.ID) (protocol.Private, bool) { return r.openPrivate(p.Group, op) }
	if v, ok := open(p.Location.S.Op); ok {
		c.Location.V = v.Location
	}
	if p.Contact.S.Op == p.Location.S.Op {
		if v, ok := open(p.Contact.S.Op); ok {
			c.Contact.V = v.Contact
		}
	} else if v, ok := open(p.Contact.S.Op); ok {
		c.Contact.V = v.Contact
	}
	return c
}

// openPrivate opens the private fields sealed under group's key in
// op's blob (a post's create or edit, or a hand-on), from the cache of
// opened blobs, else from the vault. It reports false for the zero op,
// a blob this node lacks (erased, never received) or cannot open.
func (r *Replica) openPrivate(group, op crdt.ID) (protocol.Private, bool) {
	if op.IsZero() {
		return protocol.Private{}, false
	}
	if v, ok := r.revealed.Get(op); ok {
		return v, true
	}
	blob, ok, err := r.st.Blob(op)
	if err != nil || !ok {
		return protocol.Private{}, false
	}
	r.mu.RLock()
	gs := r.groups[group]
	var v protocol.Private
	if gs != nil {
		v, err = protocol.OpenPrivate(group, blob, gs.key)
	}
	r.mu.RUnlock()
	if gs == nil || err != nil {
		return protocol.Private{}, false
	}
	r.revealed.Add(op, v)
	return v, true
}

// hasBlob reports whether op's blob can be had: opened before, or in
// the vault.
func (r *Replica) hasBlob(op crdt.ID) bool {
	return !op.IsZero() && (r.revealed.Contains(op) || r.st.HasBlob(op))
}

// witnessShares returns the bodies that share every key this node holds
// with a newcomer whose join it admits.
func (r *Replica) witnessShares(gs *groupState, join *crdt.Op) []crdt.Body {
	box := join.Body.(crdt.Join).Box
	if box.IsZero() {
		return nil
	}
	var out []crdt.Body
	for _, k := range gs.g.Keys() {
		key, ok := gs.keys[k.ID]
		if !ok {
			continue
		}
		if _, has := k.Shares[join.Author]; has {
			continue
		}
		sealed, err := protocol.SealShare(gs.rec.ID, key, join.Author, box)
		if err != nil {
			continue
		}
		out = append(out, crdt.GroupKey{Key: k.ID, Shares: []crdt.Share{{Member: join.Author, Sealed: sealed}}})
	}
	return out
}

// keyUpkeep runs in the writer after a batch changed a group's
// membership. An admin's node rotates the key when the newest was shared
// with someone who is no member any more (a removal, a leave), and
// shares the newest key with members who lack it (admitted by a node
// that did not hold it yet).
func (bt *batch) keyUpkeep(gs *groupState) {
	r, g := bt.r, gs.g
	if bt.err != nil || !g.IsAdmin(r.self) || !r.confirmed(gs.rec.ID) {
		return
	}
	r.openKeys(gs)
	ks := g.Keys()
	if len(ks) == 0 {
		return
	}
	newest := ks[len(ks)-1]
	key, held := gs.keys[newest.ID]
	rotate := false
	for k := range newest.Shares {
		if !g.IsMember(k) {
			rotate = true
			break
		}
	}
	var to []crdt.Member
	for _, m := range g.Members() {
		if m.Role == crdt.RoleNone || m.Box.IsZero() {
			continue
		}
		if _, has := newest.Shares[m.Key]; rotate || !has {
			to = append(to, m)
		}
	}
	if !rotate && (!held || len(to) == 0) {
		return
	}
	if rotate {
		key, _ = protocol.NewGroupKey()
	}
	bodies, err := shareBodies(gs.rec.ID, key, to)
	if err != nil {
		r.cfg.Logger.Warn("could not share the group key", "group", gs.rec.ID.Short(), "err", err)
		return
	}
	if len(bodies) == 0 {
		return
	}
	l := &localOp{group: gs.rec.ID, build: func(*groupState) (crdt.Body, error) { return bodies[0], nil },
		next: func(_ *groupState, done []crdt.Op) (crdt.Body, error) {
			if len(done) < len(bodies) {
				return bodies[len(done)], nil
			}
			return nil, nil
		}}
	if err := bt.local(l); err != nil {
		r.cfg.Logger.Warn("could not share the group key", "group", gs.rec.ID.Short(), "err", err)
	} else if rotate {
		r.cfg.Logger.Info("new group key: a former member cannot read what is posted from now on", "group", gs.rec.ID.Short())
	}
}

// shareBodies seals key to each member, MaxShares to an op.
func shareBodies(group crdt.ID, key [protocol.GroupKeySize]byte, to []crdt.Member) ([]crdt.Body, error) {
	slices.SortFunc(to, func(a, b crdt.Member) int { return a.Key.Compare(b.Key) })
	id := protocol.KeyIDOf(key)
	var out []crdt.Body
	for len(to) > 0 {
		n := min(len(to), crdt.MaxShares)
		gk := crdt.GroupKey{Key: id}
		for _, m := range to[:n] {
			sealed, err := protocol.SealShare(group, key, m.Key, m.Box)
			if err != nil {
				return nil, err
			}
			gk.Shares = append(gk.Shares, crdt.Share{Member: m.Key, Sealed: sealed})
		}
		out = append(out, gk)
		to = to[n:]
	}
	return out, nil
}

// shareKey returns the body that shares key with one member.
func shareKey(group crdt.ID, key [protocol.GroupKeySize]byte, member crdt.PublicKey, box crdt.BoxKey) (crdt.Body, error) {
	sealed, err := protocol.SealShare(group, key, member, box)
	if err != nil {
		return nil, err
	}
	return crdt.GroupKey{Key: protocol.KeyIDOf(key), Shares: []crdt.Share{{Member: member, Sealed: sealed}}}, nil
}
