package crdt

import "slices"

// Who may change a post. Every replica applies this table the same way,
// to the role the op's author had at the op (Group.RoleAt); an op that
// breaks it is stored like any other but changes nothing.
//
//	op                                   who
//	create a post                        any member
//	edit fields                          the post's author, an admin
//	status withdrawn                     the post's author, an admin
//	status open, claimed, fulfilled      any member (volunteers mark what they do);
//	                                     from the author or an admin it also un-withdraws
//	respond ("I can help")               any member
//	unrespond                            the response's author (anyone else's hides nothing)
//	erase private fields                 the post's author, an admin
//	hand a visitor's contact on          any member (the response it names must
//	                                     be a visitor's that counts: RebuildPost)
//
// A vouched visitor (RoleVisitor, visitors.go) may respond and take its
// responses back; nothing else it writes counts.

// MayChange reports whether op, whose author had role at the op, counts
// against post p (created). A create always counts for a member.
func MayChange(p *Post, op *Op, role Role) bool {
	if role == RoleNone {
		return false
	}
	if role == RoleVisitor {
		switch op.Body.(type) {
		case Respond, Unrespond:
			return true
		}
		return false
	}
	switch b := op.Body.(type) {
	case PostCreate, Respond, Unrespond, HandOn:
		return true
	case PostEdit, Erase:
		return privileged(p, op, role)
	case PostStatus:
		return b.Status != Withdrawn || privileged(p, op, role)
	}
	return false
}

func privileged(p *Post, op *Op, role Role) bool { return op.Author == p.Author || role == RoleAdmin }

// PostSet is where ApplyPost finds and keeps posts. Board keeps them in a
// map; package node loads the posts a batch of ops touches from its store
// into memory first, so ApplyPost never waits on I/O.
type PostSet interface {
	Get(id ID) *Post // nil when the set has no such post
	Put(p *Post)
}

// ApplyPost merges an op that counts, whose author had role at the op,
// into the post it targets, and returns the post when it changed (nil
// otherwise, and for ops that target no post). An op on a post whose
// create has not been applied changes nothing: the caller keeps it and
// replays it with RebuildPost when the create comes. A HandOn changes
// nothing here either: whether it counts depends on the response it
// names (a visitor's that counts), which only the post's ops tell, so
// the caller rebuilds the post (RebuildPost) for a HandOn, and for a
// visitor's Respond, which a HandOn may have come before.
func ApplyPost(posts PostSet, op *Op, role Role) *Post {
	id, ok := PostOf(op)
	if !ok || role == RoleNone {
		return nil
	}
	if _, handOn := op.Body.(HandOn); handOn {
		return nil
	}
	p := posts.Get(id)
	if _, create := op.Body.(PostCreate); create {
		if p != nil && p.Created {
			return nil
		}
		p = NewPost(op.GroupID(), id)
	}
	if p == nil || !p.Created && op.ID != id {
		return nil
	}
	if !MayChange(p, op, role) || !p.Apply(op, op.Author == p.Author || role == RoleAdmin || op.ID == id) {
		return nil
	}
	posts.Put(p)
	return p
}

// RebuildPost computes post id from scratch from ops (in any order; ops
// of other posts are skipped), each with the role its author had at it
// (RoleNone: it does not count). It returns nil when the post's create
// is not among the ops that count.
func RebuildPost(group, id ID, ops []Op, roleOf func(*Op) Role) *Post {
	ci := slices.IndexFunc(ops, func(op Op) bool { return op.ID == id })
	if ci < 0 {
		return nil
	}
	if _, ok := ops[ci].Body.(PostCreate); !ok {
		return nil
	}
	if r := roleOf(&ops[ci]); r == RoleNone || r == RoleVisitor {
		return nil
	}
	p := NewPost(group, id)
	p.Apply(&ops[ci], true)
	var handOns []*Op
	for i := range ops {
		op := &ops[i]
		if i == ci {
			continue
		}
		if t, ok := PostOf(op); !ok || t != id {
			continue
		}
		switch op.Body.(type) {
		case PostCreate:
			continue
		case HandOn:
			handOns = append(handOns, op) // once the responses are in
			continue
		}
		role := roleOf(op)
		if MayChange(p, op, role) {
			p.Apply(op, privileged(p, op, role))
		}
	}
	for _, op := range handOns {
		role := roleOf(op)
		if MayChange(p, op, role) && visitorResponse(op.Body.(HandOn).Response, id, ops, roleOf) {
			p.Apply(op, privileged(p, op, role))
		}
	}
	return p
}

// visitorResponse reports whether resp, among ops, is a Respond to post
// with a sealed contact, written by a visitor whose op counts: the only
// responses a HandOn may hand on.
func visitorResponse(resp, post ID, ops []Op, roleOf func(*Op) Role) bool {
	for i := range ops {
		if ops[i].ID != resp {
			continue
		}
		b, ok := ops[i].Body.(Respond)
		return ok && b.Post == post && !b.Private.IsZero() && roleOf(&ops[i]) == RoleVisitor
	}
	return false
}
