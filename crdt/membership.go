package crdt

import (
	"maps"
	"math"
	"slices"
)

// The membership rules. Every replica evaluates them over the same
// inputs — the membership ops held and each author's fork — so every
// replica ends with the same members, whatever order the ops came in.
//
// Tenure. A member's ops count from the seq of the join (or genesis)
// that admitted it to the seq where a removal's cut or its own leave
// ended that tenure; a new invite starts a new tenure. An author's ops
// from a fork on never count.
//
// Role. Within a tenure the role is the invite's, changed by SetRole ops
// for the member's ops after each change's cut: the change with the
// greatest (cut, stamp) below a seq decides the role at that seq. So a
// demotion or removal voids the member's admin acts, or all its acts,
// that the admin had not seen, even ones made offline and backdated.
//
// Joins. A join counts once a member witnessed it (Admit) before the
// invite expired by the witness's clock, while the invite's issuer was an
// admin, before any revoke of the invite, within the invite's uses (the
// first joins witnessed, in stamp order), and only once per key and
// invite.
//
// Evaluation. The membership ops held, but those at or past a fork, are
// replayed in stamp order (HLC, author, op ID; causal for honest clocks),
// each judged by its author's rights at its seq as known so far. Then
// every op that counted is judged again against the final tenures and
// roles (a removal later in stamp order may have cut its author off
// before it); those that fail are excluded and the replay runs again,
// until nothing more is excluded. Exclusions only grow, so this ends.
//
// Names. A member's name is the one in the latest, by stamp, of the join
// (or genesis) that opened its last tenure and its renames that count. A
// rename counts when its author's op at its seq counts with any role
// (member or admin), judged against the final tenures, as posts are: so
// a rename made before the join was witnessed counts once it is, and a
// removed member's renames after the cut never do. Renames change no
// tenure or role, so they play no part in the replay.
//
// One exception makes mutual removal remove both: a removal of Y by X
// still counts when X's tenure was ended by Y's removal of X, which X's
// removal had not seen (its cut of Y is below that removal's seq).

// Member is a member of a group, past or present.
type Member struct {
	Key      PublicKey
	Name     string
	Role     Role // current role; RoleNone once removed or left
	JoinedAt HLC  // when the current (or last) tenure's join was made
	Via      ID   // the join (or genesis) op of that tenure
	Removed  bool // the last tenure was ended by an admin
	Left     bool // the last tenure was ended by the member
	EndedAt  HLC  // when the removal or leave was made
	Cut      uint64
	Forked   uint64 // the seq at which the member signed conflicting ops, 0 if never
	Box      BoxKey // the key group keys are sealed to, from the join (or genesis) of the last tenure

	tenures []tenure
}

type tenure struct {
	start   uint64 // seq of the join or genesis
	end     uint64 // last seq that counts; math.MaxUint64 while open
	role    Role   // the invite's role
	via     *Op
	endBy   *Op // the removal or leave that ended it
	changes []roleChange
}

type roleChange struct {
	cut  uint64
	role Role
	s    Stamp
}

func (t *tenure) covers(seq uint64) bool { return t.start <= seq && seq <= t.end }

// roleAt returns the role at seq, ignoring the end of the tenure.
func (t *tenure) roleAt(seq uint64) Role {
	r := t.role
	for _, c := range t.changes {
		if c.cut < seq {
			r = c.role
		}
	}
	return r
}

// InviteState is an invite recorded by an InviteMade op that counted.
type InviteState struct {
	Invite  Invite
	MadeBy  PublicKey
	MadeAt  HLC
	Used    int  // keys that joined with it
	Revoked bool // an admin revoked it
}

// Open reports whether the invite can still admit someone at nowMillis.
func (s *InviteState) Open(nowMillis int64) bool {
	return !s.Revoked && nowMillis <= s.Invite.Expires && (s.Invite.Uses == 0 || s.Used < int(s.Invite.Uses))
}

// KeyState is a group key as the GroupKey ops that count describe it.
type KeyState struct {
	ID     KeyID
	Since  Stamp // the first GroupKey op that named it
	Shares map[PublicKey][SealedShareSize]byte
}

type evaluation struct {
	members    map[PublicKey]*Member
	valid      map[ID]bool // membership ops that count
	invites    map[ID]*InviteState
	used       map[ID]map[PublicKey]bool
	keys       map[KeyID]*KeyState
	retention  Reg[int64]
	federation Reg[*Federation]
	visitors   map[PublicKey]*Op // each visitor's Visit (seq 1)
}

// eval returns the current evaluation, computing it if needed.
func (g *Group) eval() *evaluation {
	g.evMu.Lock()
	defer g.evMu.Unlock()
	if g.ev != nil {
		return g.ev
	}
	var cands []*Op
	for _, op := range g.ops {
		if !g.forked(op.Author, op.Seq) {
			cands = append(cands, op)
		}
	}
	slices.SortFunc(cands, func(a, b *Op) int { return a.Stamp().Compare(b.Stamp()) })
	excluded := map[ID]bool{}
	for {
		ev := g.replay(cands, excluded)
		more := false
		for _, op := range cands {
			if ev.valid[op.ID] && !excluded[op.ID] && !ev.stillHolds(op) {
				excluded[op.ID] = true
				more = true
			}
		}
		if !more {
			g.ev = ev
			return ev
		}
	}
}

// replay runs the ops in stamp order, skipping excluded ones.
func (g *Group) replay(ops []*Op, excluded map[ID]bool) *evaluation {
	ev := &evaluation{members: map[PublicKey]*Member{}, valid: map[ID]bool{}, invites: map[ID]*InviteState{}, used: map[ID]map[PublicKey]bool{}, keys: map[KeyID]*KeyState{}, visitors: map[PublicKey]*Op{}}
	joins := map[ID]*Op{}
	witnesses := map[ID][]*Op{} // join ID → admits seen before the join (rare: a lying clock)
	revoked := map[ID]bool{}
	var renames []*Op // in stamp order
	for _, op := range ops {
		if excluded[op.ID] {
			continue
		}
		switch b := op.Body.(type) {
		case Genesis:
			if op.ID == g.ID {
				ev.open(op, RoleAdmin, b.AuthorName, b.Box)
				ev.valid[op.ID] = true
			}
		case Join:
			joins[op.ID] = op
			for _, w := range witnesses[op.ID] {
				if ev.admit(g, op, w, revoked) {
					break
				}
			}
		case Admit:
			if !ev.may(op.Author, op.Seq, RoleMember) {
				continue
			}
			ev.valid[op.ID] = true
			if j := joins[b.Join]; j != nil {
				ev.admit(g, j, op, revoked)
			} else {
				witnesses[b.Join] = append(witnesses[b.Join], op)
			}
		case InviteMade:
			if !ev.may(op.Author, op.Seq, RoleAdmin) {
				continue
			}
			ev.valid[op.ID] = true
			if ev.invites[b.Invite.ID] == nil {
				ev.invites[b.Invite.ID] = &InviteState{Invite: b.Invite, MadeBy: op.Author, MadeAt: op.Time, Used: len(ev.used[b.Invite.ID]), Revoked: revoked[b.Invite.ID]}
			}
		case Revoke:
			if !ev.may(op.Author, op.Seq, RoleAdmin) {
				continue
			}
			ev.valid[op.ID] = true
			revoked[b.Invite] = true
			if s := ev.invites[b.Invite]; s != nil {
				s.Revoked = true
			}
		case SetRole:
			if !ev.may(op.Author, op.Seq, RoleAdmin) && !ev.exempt(op) {
				continue
			}
			if ev.setRole(op, b) {
				ev.valid[op.ID] = true
			}
		case Leave:
			if !ev.may(op.Author, op.Seq, RoleMember) {
				continue
			}
			t := ev.tenureAt(op.Author, op.Seq)
			t.end, t.endBy = op.Seq, op
			ev.valid[op.ID] = true
		case GroupKey:
			if !ev.may(op.Author, op.Seq, RoleMember) {
				continue
			}
			ev.valid[op.ID] = true
			k := ev.keys[b.Key]
			if k == nil {
				k = &KeyState{ID: b.Key, Since: op.Stamp(), Shares: map[PublicKey][SealedShareSize]byte{}}
				ev.keys[b.Key] = k
			}
			for _, sh := range b.Shares {
				if _, ok := k.Shares[sh.Member]; !ok {
					k.Shares[sh.Member] = sh.Sealed
				}
			}
		case Settings:
			if !ev.may(op.Author, op.Seq, RoleAdmin) {
				continue
			}
			ev.valid[op.ID] = true
			ev.retention.Set(b.Retention, op.Stamp())
		case Federation:
			if !ev.may(op.Author, op.Seq, RoleAdmin) {
				continue
			}
			ev.valid[op.ID] = true
			ev.federation.Set(&b, op.Stamp())
		case Visit:
			// A visit is its author's first op (Check); whether the
			// visitor counts is decided from the vouching data.
			if op.Seq == 1 && ev.visitors[op.Author] == nil {
				ev.visitors[op.Author] = op
				ev.valid[op.ID] = true
			}
		case Rename:
			renames = append(renames, op)
		}
	}
	ev.rename(renames)
	for _, m := range ev.members {
		m.finish()
	}
	return ev
}

// rename applies the renames (in stamp order) that count against the
// tenures of the replay: the last of a member's that is later than the
// join of its last tenure sets its name.
func (ev *evaluation) rename(renames []*Op) {
	for _, op := range renames {
		if !ev.may(op.Author, op.Seq, RoleMember) {
			continue
		}
		ev.valid[op.ID] = true
		m := ev.members[op.Author]
		if op.Stamp().Compare(m.tenures[len(m.tenures)-1].via.Stamp()) > 0 {
			m.Name = op.Body.(Rename).Name
		}
	}
}

// open starts a tenure for op's author.
func (ev *evaluation) open(op *Op, role Role, name string, box BoxKey) {
	m := ev.members[op.Author]
	if m == nil {
		m = &Member{Key: op.Author}
		ev.members[op.Author] = m
	}
	m.Name, m.Box = name, box
	m.tenures = append(m.tenures, tenure{start: op.Seq, end: math.MaxUint64, role: role, via: op})
}

// admit makes join j count on witness w, if the invite allows it at w.
func (ev *evaluation) admit(g *Group, j, w *Op, revoked map[ID]bool) bool {
	in := j.Body.(Join).Invite
	switch {
	case in.Group != g.ID,
		w.Time.Wall > in.Expires,
		revoked[in.ID],
		ev.current(in.Issuer) != RoleAdmin,
		in.Uses != 0 && len(ev.used[in.ID]) >= int(in.Uses),
		ev.used[in.ID][j.Author]:
		return false
	}
	if m := ev.members[j.Author]; m != nil {
		last := &m.tenures[len(m.tenures)-1]
		if last.end == math.MaxUint64 || j.Seq <= last.end {
			return false // a member already, or a join from inside a past tenure
		}
	}
	if ev.used[in.ID] == nil {
		ev.used[in.ID] = map[PublicKey]bool{}
	}
	ev.used[in.ID][j.Author] = true
	if s := ev.invites[in.ID]; s != nil {
		s.Used++
	}
	ev.open(j, in.Role, j.Body.(Join).Name, j.Body.(Join).Box)
	ev.valid[j.ID] = true
	return true
}

// setRole applies a role change or removal; it reports whether it
// changed anything.
func (ev *evaluation) setRole(op *Op, b SetRole) bool {
	t := ev.tenureAt(b.Member, b.Cut)
	if t == nil || t.end < b.Cut {
		return false // not a member at the cut, or already gone by then
	}
	if b.Role == RoleNone {
		t.end, t.endBy = b.Cut, op
		return true
	}
	c := roleChange{cut: b.Cut, role: b.Role, s: op.Stamp()}
	i, _ := slices.BinarySearchFunc(t.changes, c, func(a, b roleChange) int {
		if a.cut != b.cut {
			if a.cut < b.cut {
				return -1
			}
			return 1
		}
		return a.s.Compare(b.s)
	})
	t.changes = slices.Insert(t.changes, i, c)
	return true
}

// tenureAt returns the tenure of k that started at or before seq (the
// latest such), or nil.
func (ev *evaluation) tenureAt(k PublicKey, seq uint64) *tenure {
	m := ev.members[k]
	if m == nil {
		return nil
	}
	for i := len(m.tenures) - 1; i >= 0; i-- {
		if m.tenures[i].start <= seq {
			return &m.tenures[i]
		}
	}
	return nil
}

// may reports whether k's op at seq counts with at least role need.
func (ev *evaluation) may(k PublicKey, seq uint64, need Role) bool {
	t := ev.tenureAt(k, seq)
	return t != nil && t.covers(seq) && t.roleAt(seq) >= need
}

// current returns k's role now: in its open tenure, after every change.
func (ev *evaluation) current(k PublicKey) Role {
	m := ev.members[k]
	if m == nil {
		return RoleNone
	}
	t := &m.tenures[len(m.tenures)-1]
	if t.end != math.MaxUint64 {
		return RoleNone
	}
	return t.roleAt(math.MaxUint64)
}

// exempt reports whether op, a removal of Y by X that X's rights no
// longer cover, still counts: X's tenure was ended by Y's removal of X,
// which op had not seen, and X was an admin when op was made.
func (ev *evaluation) exempt(op *Op) bool {
	b, ok := op.Body.(SetRole)
	if !ok || b.Role != RoleNone {
		return false
	}
	t := ev.tenureAt(op.Author, op.Seq)
	if t == nil || t.covers(op.Seq) || t.endBy == nil || t.roleAt(op.Seq) != RoleAdmin {
		return false
	}
	r, ok := t.endBy.Body.(SetRole)
	return ok && r.Role == RoleNone && t.endBy.Author == b.Member && b.Cut < t.endBy.Seq
}

// stillHolds judges again an op that counted in a replay, against the
// final tenures and roles of that replay.
func (ev *evaluation) stillHolds(op *Op) bool {
	switch op.Body.(type) {
	case Genesis, Join, Visit:
		return true
	case Admit, Leave, GroupKey, Rename:
		return ev.may(op.Author, op.Seq, RoleMember)
	case SetRole:
		return ev.may(op.Author, op.Seq, RoleAdmin) || ev.exempt(op)
	}
	return ev.may(op.Author, op.Seq, RoleAdmin)
}

// finish sets the member's summary fields from its tenures.
func (m *Member) finish() {
	t := &m.tenures[len(m.tenures)-1]
	m.JoinedAt, m.Via = t.via.Time, t.via.ID
	m.Role, m.Removed, m.Left, m.EndedAt, m.Cut = RoleNone, false, false, HLC{}, 0
	if t.end == math.MaxUint64 {
		m.Role = t.roleAt(math.MaxUint64)
		return
	}
	m.Cut, m.EndedAt = t.end, t.endBy.Time
	if _, ok := t.endBy.Body.(Leave); ok {
		m.Left = true
	} else {
		m.Removed = true
	}
}

// RoleAt returns the role with which author's op at seq counts:
// RoleNone if it does not count (not a member then, or at or past a
// fork of the author); RoleVisitor for a vouched visitor's op before
// any tenure of its own (visitors.go).
func (g *Group) RoleAt(author PublicKey, seq uint64) Role {
	if seq == 0 || g.forked(author, seq) {
		return RoleNone
	}
	ev := g.eval()
	t := ev.tenureAt(author, seq)
	if t == nil {
		return g.visitorRole(ev, author, seq)
	}
	if !t.covers(seq) {
		return RoleNone
	}
	return t.roleAt(seq)
}

// Counts reports whether a membership op held counts.
func (g *Group) Counts(id ID) bool { return g.eval().valid[id] }

// Member returns a member, past or present, or nil.
func (g *Group) Member(k PublicKey) *Member {
	m := g.eval().members[k]
	if m == nil {
		return nil
	}
	c := *m
	c.Forked = g.forks[k]
	return &c
}

// IsMember reports whether k is a member now.
func (g *Group) IsMember(k PublicKey) bool { return g.eval().current(k) != RoleNone }

// IsAdmin reports whether k is an admin now.
func (g *Group) IsAdmin(k PublicKey) bool { return g.eval().current(k) == RoleAdmin }

// WasAdmin reports whether k has ever been an admin (an invite it signed
// may be worth storing a join for).
func (g *Group) WasAdmin(k PublicKey) bool {
	m := g.eval().members[k]
	if m == nil {
		return false
	}
	for i := range m.tenures {
		t := &m.tenures[i]
		if t.role == RoleAdmin {
			return true
		}
		for _, c := range t.changes {
			if c.role == RoleAdmin {
				return true
			}
		}
	}
	return false
}

// Admins returns how many members are admins now.
func (g *Group) Admins() int {
	n := 0
	ev := g.eval()
	for k := range ev.members {
		if ev.current(k) == RoleAdmin {
			n++
		}
	}
	return n
}

// Members returns every member, past and present, sorted by key.
func (g *Group) Members() []Member {
	ev := g.eval()
	keys := slices.SortedFunc(maps.Keys(ev.members), PublicKey.Compare)
	out := make([]Member, len(keys))
	for i, k := range keys {
		out[i] = *ev.members[k]
		out[i].Forked = g.forks[k]
	}
	return out
}

// Invites returns the invites recorded in the group, sorted by ID.
func (g *Group) Invites() []InviteState {
	ev := g.eval()
	ids := slices.SortedFunc(maps.Keys(ev.invites), ID.Compare)
	out := make([]InviteState, len(ids))
	for i, id := range ids {
		out[i] = *ev.invites[id]
	}
	return out
}

// Pending returns the joins held that do not count (yet): not witnessed,
// or witnessed too late. Sorted by op ID.
func (g *Group) Pending() []Op {
	ev := g.eval()
	var out []Op
	for _, op := range g.ops {
		if _, ok := op.Body.(Join); ok && !ev.valid[op.ID] {
			out = append(out, *op)
		}
	}
	slices.SortFunc(out, func(a, b Op) int { return a.ID.Compare(b.ID) })
	return out
}

// Witnessed reports whether a held Admit (that counts) names join.
func (g *Group) Witnessed(join ID) bool {
	ev := g.eval()
	for _, op := range g.ops {
		if a, ok := op.Body.(Admit); ok && a.Join == join && ev.valid[op.ID] {
			return true
		}
	}
	return false
}

// Spans returns, per author, the runs of seqs whose ops count, with
// their roles, ignoring forks (an op counts only if it is also before
// its author's fork). Equal spans and forks mean equal standing for
// every op, so a replica compares them to find what a change of
// membership changed.
func (g *Group) Spans() map[PublicKey][]Span {
	ev := g.eval()
	out := map[PublicKey][]Span{}
	for k, m := range ev.members {
		for i := range m.tenures {
			t := &m.tenures[i]
			from := t.start
			role := t.role
			for _, c := range t.changes {
				if c.cut >= t.end {
					break
				}
				if c.cut >= from {
					out[k] = appendSpan(out[k], Span{from, c.cut, role})
					from = c.cut + 1
				}
				role = c.role
			}
			out[k] = appendSpan(out[k], Span{from, t.end, role})
		}
	}
	g.visitorSpans(ev, out)
	return out
}

// Evaluated reports whether the membership is evaluated for the ops and
// forks held: false after a change that may change who counts.
func (g *Group) Evaluated() bool { return g.ev != nil }

// Span is a run of an author's seqs that count with one role.
type Span struct {
	From, To uint64 // To is math.MaxUint64 for an open tenure
	Role     Role
}

// RoleIn returns the role at seq in spans (sorted), or RoleNone.
func RoleIn(spans []Span, seq uint64) Role {
	i, found := slices.BinarySearchFunc(spans, seq, func(sp Span, s uint64) int {
		switch {
		case sp.To < s:
			return -1
		case sp.From > s:
			return 1
		}
		return 0
	})
	if !found {
		return RoleNone
	}
	return spans[i].Role
}

func appendSpan(s []Span, sp Span) []Span {
	if sp.From > sp.To || sp.Role == RoleNone {
		return s
	}
	if n := len(s); n > 0 && s[n-1].Role == sp.Role && s[n-1].To+1 == sp.From {
		s[n-1].To = sp.To
		return s
	}
	return append(s, sp)
}

// RoleChangesOf returns the role changes and removals of k that count,
// in stamp order: what a former member's node needs to learn that it is
// one.
func (g *Group) RoleChangesOf(k PublicKey) []Op {
	ev := g.eval()
	var out []Op
	for _, op := range g.ops {
		if b, ok := op.Body.(SetRole); ok && b.Member == k && ev.valid[op.ID] {
			out = append(out, *op)
		}
	}
	slices.SortFunc(out, func(a, b Op) int { return a.Stamp().Compare(b.Stamp()) })
	return out
}

// PendingJoinOf reports whether k holds a join that does not count (yet)
// and is past k's last tenure: k is a newcomer waiting for a witness.
func (g *Group) PendingJoinOf(k PublicKey) bool {
	ev := g.eval()
	var after uint64
	if m := ev.members[k]; m != nil {
		t := &m.tenures[len(m.tenures)-1]
		if t.end == math.MaxUint64 {
			return false // a member
		}
		after = t.end
	}
	for _, op := range g.ops {
		if _, ok := op.Body.(Join); ok && op.Author == k && op.Seq > after && !ev.valid[op.ID] && !g.forked(k, op.Seq) {
			return true
		}
	}
	return false
}

// Keys returns the group keys that GroupKey ops which count have named,
// oldest first (by the stamp of the first op naming each). The last is
// the one private fields are sealed under.
func (g *Group) Keys() []*KeyState {
	ev := g.eval()
	out := make([]*KeyState, 0, len(ev.keys))
	for _, k := range ev.keys {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b *KeyState) int { return a.Since.Compare(b.Since) })
	return out
}

// Retention returns how long, in milliseconds, a settled post keeps its
// private fields: the latest Settings of an admin, else DefaultRetention.
func (g *Group) Retention() int64 {
	if r := g.eval().retention; r.V > 0 {
		return r.V
	}
	return DefaultRetention
}
