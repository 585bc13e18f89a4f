package replica

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/store"
	"github.com/mutual-aid/mutual/protocol"
)

// local builds, signs, validates and adds to the batch the ops of a
// change authored by this node. If an op fails after others of the
// change went into the batch, l.torn tells process to write the batch
// without them.
func (bt *batch) local(l *localOp) error {
	l.existing, l.ops, l.post, l.torn = crdt.ID{}, nil, nil, false // a batch may be processed again
	r := bt.r
	gs := r.groups[l.group]
	if l.newGroup != nil && gs == nil {
		gs = newGroupState(*l.newGroup)
	}
	if gs == nil {
		return ErrNoGroup
	}
	if gs.rec.Relation == store.Follower && l.newGroup == nil && !l.visit {
		return &FollowerError{Group: gs.name()}
	}
	build, next := l.build, l.next
	if l.ref != "" {
		// Checked here, in the writer, so that two imports of one file at
		// once still create each post once.
		id, ok := bt.refs[refKey{gs.rec.ID, l.ref}]
		if !ok {
			var err error
			if id, ok, err = r.st.Ref(gs.rec.ID, l.ref); err != nil {
				return err
			}
		}
		if ok {
			l.existing = id
			if l.complete == nil {
				return nil
			}
			bt.group = gs.rec.ID
			p := bt.Get(id)
			if bt.err != nil {
				return bt.err
			}
			if p == nil {
				return nil
			}
			build, next = func(gs *groupState) (crdt.Body, error) { return l.complete(gs, p) }, nil
		}
	}
	body, err := build(gs)
	for body != nil && err == nil {
		var op crdt.Op
		if op, err = bt.write(gs, l, body); err != nil {
			break
		}
		l.ops = append(l.ops, op)
		if next == nil {
			break
		}
		body, err = next(gs, l.ops)
	}
	if err != nil && len(l.ops) > 0 {
		l.torn = true
	}
	return err
}

// write signs one op of a local change and adds it to the batch.
func (bt *batch) write(gs *groupState, l *localOp, body crdt.Body) (crdt.Op, error) {
	r := bt.r
	if r.clock.Ahead(bt.now) {
		r.watch.ownFuture(bt.wall, r.clock.Last())
	}
	body, blob, err := r.seal(gs, body)
	if err != nil {
		return crdt.Op{}, err
	}
	op := crdt.Op{Group: l.group, Seq: gs.seq + 1, Prev: gs.prev, Time: r.clock.Now(bt.now), Body: body, Blob: blob}
	if _, ok := body.(crdt.Genesis); ok {
		op.Group = crdt.ID{}
	}
	raw, err := protocol.SignOp(&op, r.cfg.Key)
	if err != nil {
		return op, fmt.Errorf("%w: %w", ErrInvalidPost, err)
	}
	if _, ok := body.(crdt.Genesis); ok {
		gs.rec.ID = op.ID
		gs.g = crdt.NewGroup(op.ID)
		l.group = op.ID
	}
	if r.groups[gs.rec.ID] == nil {
		r.groups[gs.rec.ID] = gs
		bt.b.PutGroup(gs.rec)
	} else if gs.rec.Relation == store.Follower && l.newGroup != nil {
		// A follower joins: the group is its own from now on.
		gs.rec.Relation, gs.rec.Addrs, gs.rec.Vouched = store.Member, l.newGroup.Addrs, l.newGroup.Vouched
		bt.b.PutGroup(gs.rec)
	}
	res := bt.ingest(&op, raw, true)
	switch res.Outcome {
	case New, Parked:
	default:
		if res.Err == nil {
			res.Err = fmt.Errorf("op %s", res.Outcome)
		}
		return op, fmt.Errorf("%w: %w", ErrInvalidPost, res.Err)
	}
	gs.seq, gs.prev = op.Seq, op.ID
	if id, ok := crdt.PostOf(&op); ok {
		if e := bt.posts[postKey{gs.rec.ID, id}]; e != nil {
			l.post = e.cur
		} else if res.Outcome == Parked {
			// A newcomer's op before its first sync: signed and stored, but
			// on the board only once the group confirms the join. Answer
			// with the post as the op makes it.
			if l.post == nil || l.post.ID != id {
				l.post = crdt.NewPost(gs.rec.ID, id)
			}
			l.post.Apply(&op, true)
		}
	}
	bt.published = append(bt.published, localPublish{gs.rec.ID, protocol.JoinBlob(raw, op.Blob)})
	return op, nil
}

func (r *Replica) doLocal(ctx context.Context, l *localOp) (*localOp, error) {
	if err := r.awaitConfirmed(ctx, l.group); err != nil {
		return nil, err
	}
	req := &request{kind: reqLocal, local: l}
	if err := r.submit(ctx, req); err != nil {
		return nil, err
	}
	return l, nil
}

// CreateGroup founds a group with this node as its first admin.
func (r *Replica) CreateGroup(ctx context.Context, name string) (crdt.ID, error) {
	if strings.TrimSpace(name) == "" {
		return crdt.ID{}, fmt.Errorf("%w: a group needs a name", ErrInvalidPost)
	}
	var nonce [16]byte
	rand.Read(nonce[:])
	key, keyID := protocol.NewGroupKey()
	l, err := r.doLocal(ctx, &localOp{
		newGroup: &store.GroupRecord{Name: name, Relation: store.Member},
		build: func(*groupState) (crdt.Body, error) {
			return crdt.Genesis{Name: name, Nonce: nonce, AuthorName: r.Name(), Box: r.boxPub, Key: keyID}, nil
		},
		// The group's first key, shared with the founder itself.
		next: func(_ *groupState, done []crdt.Op) (crdt.Body, error) {
			if len(done) > 1 {
				return nil, nil
			}
			return shareKey(done[0].ID, key, r.self, r.boxPub)
		},
	})
	if err != nil {
		return crdt.ID{}, err
	}
	return l.ops[0].ID, nil
}

// InviteOptions are what an invite allows.
type InviteOptions struct {
	Role  crdt.Role
	TTL   time.Duration // how long it may be used
	Uses  uint32        // how many newcomers may join with it; 0 = any number until it expires
	Addrs []string      // where this node can be reached
}

// Invite makes an invite for a group, signed by this node, which must be
// an admin, and records it in the group (an InviteMade op) so that every
// member's node can list it and any admin can revoke it. It returns the
// code, which holds the invite's one-time secret.
func (r *Replica) Invite(ctx context.Context, group crdt.ID, o InviteOptions) (string, *protocol.InviteCode, error) {
	if o.TTL <= 0 {
		return "", nil, fmt.Errorf("%w: an invite must expire in the future", ErrInvalidPost)
	}
	c := &protocol.InviteCode{Addrs: o.Addrs}
	_, err := r.doLocal(ctx, &localOp{group: group, build: func(gs *groupState) (crdt.Body, error) {
		if !gs.g.IsAdmin(r.self) {
			return nil, ErrNotAdmin
		}
		c.Members = vouchers(gs.g, r.self)
		c.GroupName = gs.rec.Name
		if gs.g.Founded {
			c.GroupName = gs.g.Name
		}
		in, secret, err := protocol.NewInvite(crdt.Invite{Group: group, Role: o.Role, Expires: r.now().Add(o.TTL).UnixMilli(), Uses: o.Uses}, r.cfg.Key)
		if err != nil {
			return nil, err
		}
		c.Invite, c.Secret = in, secret
		return crdt.InviteMade{Invite: in}, nil
	}})
	if err != nil {
		return "", nil, err
	}
	code, err := protocol.EncodeInviteCode(c)
	return code, c, err
}

// Join joins a group with an invite code, offline: it checks the code's
// signature and expiry on this node's clock and writes the join op,
// with the proof that this node holds the code. The join counts once a
// member's node has seen it before the invite expires; the board
// arrives at the first sync with any member. A member cannot join again;
// a former member (left or removed) can, with an invite it has not
// joined with before.
func (r *Replica) Join(ctx context.Context, code string) (*protocol.InviteCode, error) {
	c, err := protocol.DecodeInviteCode(code)
	if err != nil {
		return nil, err
	}
	if r.nowMillis() > c.Invite.Expires {
		return nil, fmt.Errorf("%w (on %s)", ErrInviteOld, time.UnixMilli(c.Invite.Expires).UTC().Format(time.RFC3339))
	}
	_, err = r.doLocal(ctx, &localOp{
		group: c.Invite.Group,
		newGroup: &store.GroupRecord{ID: c.Invite.Group, Name: c.GroupName, Relation: store.Member, Addrs: c.Addrs,
			Vouched: append([]crdt.PublicKey{c.Invite.Issuer}, c.Members...)},
		build: func(gs *groupState) (crdt.Body, error) {
			if gs.g.IsMember(r.self) {
				return nil, ErrInviteUsed
			}
			if gs.joinedWith(r.self, c.Invite.ID) {
				return nil, ErrInviteAgain
			}
			return crdt.Join{Invite: c.Invite, Name: r.Name(), Proof: protocol.ProveJoin(&c.Invite, c.Secret, r.self), Box: r.boxPub}, nil
		},
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// joinedWith reports whether self holds a join of its own with the
// invite: one still waiting for a witness, or the one that started its
// last tenure. (A join of an earlier tenure with it would never count
// again either; it is not looked for.)
func (gs *groupState) joinedWith(self crdt.PublicKey, invite crdt.ID) bool {
	with := func(op *crdt.Op) bool {
		j, ok := op.Body.(crdt.Join)
		return ok && op.Author == self && j.Invite.ID == invite
	}
	for _, op := range gs.g.Pending() {
		if with(&op) {
			return true
		}
	}
	if m := gs.g.Member(self); m != nil {
		if op := gs.g.HeldOp(m.Via); op != nil && with(op) {
			return true
		}
	}
	return false
}

// PostInput is a new post.
type PostInput struct {
	Kind   crdt.PostKind
	Fields crdt.Fields
	Status crdt.Status // other than open: set in the same commit as the post
	Ref    string      // import key; a post with the same Ref in the group is returned instead
	By     string      // who makes the post through this node (a phone at a meeting); "" for the node's own user
}

// Imported is what ImportPost did.
type Imported int

// What ImportPost did.
const (
	// ImportedNew: the post was created.
	ImportedNew Imported = iota + 1
	// ImportedHad: the group had a post with the Ref; nothing was written.
	ImportedHad
	// ImportedCompleted: the group had a post with the Ref but without
	// the status asked for, as an import that wrote a post and its status
	// in two commits left it when it stopped between them; its status is
	// now set.
	ImportedCompleted
)

// CreatePost creates a post. It returns the post once it is on disk, and
// whether it was created (false: a post with the same Ref existed). It is
// ImportPost, reporting only whether the post is new.
func (r *Replica) CreatePost(ctx context.Context, group crdt.ID, in PostInput) (*crdt.Post, bool, error) {
	p, what, err := r.ImportPost(ctx, group, in)
	return p, what == ImportedNew, err
}

// ImportPost creates a post and sets its status in one commit, so that a
// crash leaves both or neither. If the group has a post with in.Ref, it
// is returned instead; and if that post never had a status set since it
// was created and in.Status is not open, its status is set: an import
// interrupted between the two commits of older versions left it so. A
// post whose status was set on the board keeps it, as newer than the
// sheet.
func (r *Replica) ImportPost(ctx context.Context, group crdt.ID, in PostInput) (*crdt.Post, Imported, error) {
	if in.Status > crdt.Withdrawn {
		return nil, 0, fmt.Errorf("%w: status %d", ErrInvalidPost, in.Status)
	}
	l := &localOp{group: group, ref: in.Ref,
		build: func(gs *groupState) (crdt.Body, error) {
			if !gs.canWrite(r.self) {
				return nil, ErrNotMember
			}
			return crdt.PostCreate{PostKind: in.Kind, Fields: in.Fields, Ref: in.Ref, By: in.By}, nil
		},
		next: func(gs *groupState, done []crdt.Op) (crdt.Body, error) {
			if len(done) > 1 || in.Status == crdt.Open {
				return nil, nil
			}
			return crdt.PostStatus{Post: done[0].ID, Status: in.Status}, nil
		},
		complete: func(gs *groupState, p *crdt.Post) (crdt.Body, error) {
			if in.Status == crdt.Open || !p.Created || p.Status.S != (crdt.Stamp{}) || p.Withdrawn.S != (crdt.Stamp{}) {
				return nil, nil
			}
			if !gs.canWrite(r.self) {
				return nil, ErrNotMember
			}
			return crdt.PostStatus{Post: p.ID, Status: in.Status}, nil
		},
	}
	if _, err := r.doLocal(ctx, l); err != nil {
		return nil, 0, err
	}
	switch {
	case l.existing.IsZero():
		return r.Reveal(l.post), ImportedNew, nil
	case len(l.ops) > 0:
		return r.Reveal(l.post), ImportedCompleted, nil
	}
	p, err := r.st.Post(group, l.existing)
	return r.Reveal(p), ImportedHad, err
}

// postOp writes an op that changes an existing post, if this node may
// (crdt.MayChange): an op the rules void would be signed and sent for
// nothing.
func (r *Replica) postOp(ctx context.Context, group, post crdt.ID, body crdt.Body) (*crdt.Post, error) {
	p, _, err := r.postOpID(ctx, group, post, body)
	return p, err
}

// postOpID is postOp that also returns the ID of the op written.
func (r *Replica) postOpID(ctx context.Context, group, post crdt.ID, body crdt.Body) (*crdt.Post, crdt.ID, error) {
	if _, err := r.st.Post(group, post); err != nil {
		if err == store.ErrNotFound {
			return nil, crdt.ID{}, ErrNoPost
		}
		return nil, crdt.ID{}, err
	}
	_, unrespond := body.(crdt.Unrespond)
	l, err := r.doLocal(ctx, &localOp{group: group, visit: unrespond, build: func(gs *groupState) (crdt.Body, error) {
		if !gs.canWrite(r.self) && !(unrespond && gs.visiting(r.self)) {
			return nil, ErrNotMember
		}
		p, err := r.st.Post(group, post)
		if err != nil {
			return nil, err
		}
		op := crdt.Op{Author: r.self, Body: body}
		if role := gs.g.RoleAt(r.self, gs.seq); role != crdt.RoleNone && !crdt.MayChange(p, &op, role) {
			return nil, ErrNotAllowed
		}
		return body, nil
	}})
	if err != nil {
		return nil, crdt.ID{}, err
	}
	var id crdt.ID
	if len(l.ops) > 0 {
		id = l.ops[0].ID
	}
	if l.post == nil { // the op changed nothing visible: return the current state
		p, err := r.st.Post(group, post)
		return r.Reveal(p), id, err
	}
	return r.Reveal(l.post), id, nil
}

// EditPost sets the fields in mask.
func (r *Replica) EditPost(ctx context.Context, group, post crdt.ID, mask crdt.FieldMask, f crdt.Fields) (*crdt.Post, error) {
	return r.postOp(ctx, group, post, crdt.PostEdit{Post: post, Set: mask, Fields: f})
}

// SetStatus sets a post's status.
func (r *Replica) SetStatus(ctx context.Context, group, post crdt.ID, s crdt.Status) (*crdt.Post, error) {
	return r.postOp(ctx, group, post, crdt.PostStatus{Post: post, Status: s})
}

// Respond adds an "I can help" response, made through this node by by
// ("" for the node's own user). It returns the post and the response's
// ID (the op's), which is what Unrespond takes.
func (r *Replica) Respond(ctx context.Context, group, post crdt.ID, qty uint32, note, by string) (*crdt.Post, crdt.ID, error) {
	return r.postOpID(ctx, group, post, crdt.Respond{Post: post, Quantity: qty, Note: note, By: by})
}

// Unrespond withdraws one of this node's responses.
func (r *Replica) Unrespond(ctx context.Context, group, post, response crdt.ID) (*crdt.Post, error) {
	return r.postOp(ctx, group, post, crdt.Unrespond{Post: post, Response: response})
}

// canWrite reports whether this node may author ops in the group: it is a
// member, or it has joined and waits for its first sync.
func (gs *groupState) canWrite(self crdt.PublicKey) bool {
	return gs.g.IsMember(self) || (gs.rec.Relation == store.Member && gs.seq > 0)
}

// vouchers returns the members an invite code names: the issuer, then
// the other admins, then the members, most recently joined first, up to
// protocol.MaxInviteMembers. A newcomer offers its join to these only.
func vouchers(g *crdt.Group, issuer crdt.PublicKey) []crdt.PublicKey {
	ms := slices.DeleteFunc(g.Members(), func(m crdt.Member) bool { return m.Role == crdt.RoleNone || m.Key == issuer })
	slices.SortFunc(ms, func(a, b crdt.Member) int {
		if a.Role != b.Role {
			return int(b.Role) - int(a.Role)
		}
		return b.JoinedAt.Compare(a.JoinedAt)
	})
	out := []crdt.PublicKey{issuer}
	for _, m := range ms {
		if len(out) == protocol.MaxInviteMembers {
			break
		}
		out = append(out, m.Key)
	}
	return out
}
