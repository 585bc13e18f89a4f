package crdt_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"unicode"

	"github.com/mutual-aid/mutual/crdt"
	"pgregory.net/rapid"
)

// ruling is what the rules say of an op: the verdict, and the errors of
// which the one returned must wrap at least one (none for an accept).
type ruling struct {
	v    crdt.Verdict
	errs []error
}

// judgeByRules judges op as docs/protocol.md section 8 states the rules,
// written out here from the document (with its numbers, not the
// package's constants) rather than from checkShape, for the group whose
// ID is group at the receiver's clock now. The verdict depends on nothing
// else: no role, no other op.
func judgeByRules(op *crdt.Op, group crdt.ID, now int64) ruling {
	var broken []error
	add := func(err error) { broken = append(broken, err) }
	zero := crdt.ID{}
	// blank: empty or only white space (the Unicode White_Space property).
	blank := func(s string) bool {
		for _, r := range s {
			if !unicode.Is(unicode.White_Space, r) {
				return false
			}
		}
		return true
	}
	fields := func(f crdt.Fields) { // every field, in the mask or not (section 3)
		if f.Location != "" || f.Contact != "" { // private fields travel sealed
			add(crdt.ErrInvalid)
		}
		if f.Urgency > 2 {
			add(crdt.ErrBadValue)
		}
		if f.Expires < 0 {
			add(crdt.ErrBadValue)
		}
	}
	invite := func(in crdt.Invite) {
		if in.Role != 1 && in.Role != 2 {
			add(crdt.ErrBadValue)
		}
		if in.Expires <= 0 {
			add(crdt.ErrBadValue)
		}
	}
	nonzero := func(id crdt.ID) {
		if id == zero {
			add(crdt.ErrBadValue)
		}
	}

	// Reject whatever the state: the op's shape.
	if op.Time.Wall <= 0 {
		add(crdt.ErrBadValue)
	}
	if op.Seq == 0 || (op.Seq == 1 && op.Prev != zero) || (op.Seq > 1 && op.Prev == zero) {
		add(crdt.ErrBadChain)
	}
	_, genesis := op.Body.(crdt.Genesis)
	_, join := op.Body.(crdt.Join)
	if op.Seq == 1 && !genesis && !join {
		add(crdt.ErrInvalid)
	}
	if !genesis && op.Group == zero {
		add(crdt.ErrInvalid)
	}
	switch b := op.Body.(type) {
	case crdt.Genesis:
		if op.Group != zero || op.Seq != 1 {
			add(crdt.ErrInvalid)
		}
		if blank(b.Name) {
			add(crdt.ErrBadValue)
		}
	case crdt.Join:
		invite(b.Invite)
	case crdt.InviteMade:
		invite(b.Invite)
		if b.Invite.Issuer != op.Author {
			add(crdt.ErrInvalid)
		}
	case crdt.Revoke:
		nonzero(b.Invite)
	case crdt.Admit:
		nonzero(b.Join)
	case crdt.SetRole:
		if b.Role > 2 || b.Cut == 0 {
			add(crdt.ErrBadValue)
		}
		if b.Member == op.Author {
			add(crdt.ErrInvalid)
		}
	case crdt.Leave:
	case crdt.Rename:
		// section 3: not blank, no white space at either end, no
		// control (Cc) or bidi formatting character
		trimmed := strings.TrimFunc(b.Name, func(r rune) bool { return unicode.Is(unicode.White_Space, r) }) == b.Name
		bad := false
		for _, r := range b.Name {
			if unicode.Is(unicode.Cc, r) || strings.ContainsRune("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c\u2028\u2029", r) {
				bad = true
			}
		}
		if blank(b.Name) || !trimmed || bad {
			add(crdt.ErrBadValue)
		}
	case crdt.GroupKey:
		if b.Key == (crdt.KeyID{}) || len(b.Shares) == 0 || len(b.Shares) > crdt.MaxShares {
			add(crdt.ErrBadValue)
		}
		for i := 1; i < len(b.Shares); i++ {
			if bytes.Compare(b.Shares[i-1].Member[:], b.Shares[i].Member[:]) >= 0 {
				add(crdt.ErrInvalid)
			}
		}
	case crdt.Settings:
		if b.Retention <= 0 || b.Retention > crdt.MaxRetention {
			add(crdt.ErrBadValue)
		}
	case crdt.Erase:
		nonzero(b.Post)
	case crdt.PostCreate:
		if b.PostKind != 1 && b.PostKind != 2 {
			add(crdt.ErrBadValue)
		}
		if blank(b.Fields.Title) {
			add(crdt.ErrBadValue)
		}
		fields(b.Fields)
	case crdt.PostEdit:
		nonzero(b.Post)
		if b.Set == 0 || b.Set > 0xff {
			add(crdt.ErrBadValue)
		}
		if b.Set&1 != 0 && blank(b.Fields.Title) {
			add(crdt.ErrBadValue)
		}
		fields(b.Fields)
	case crdt.PostStatus:
		nonzero(b.Post)
		if b.Status > 3 {
			add(crdt.ErrBadValue)
		}
	case crdt.Respond:
		nonzero(b.Post)
	case crdt.Unrespond:
		nonzero(b.Post)
		nonzero(b.Response)
	case crdt.HandOn:
		nonzero(b.Post)
		nonzero(b.Response)
		nonzero(b.Private)
	default: // a decoder never yields one (section 3); the crdt refuses it too
		add(crdt.ErrInvalid)
	}
	if len(broken) > 0 {
		return ruling{crdt.Reject, broken}
	}

	// Ignore what cannot be judged yet: MaxDrift is five minutes.
	if op.Time.Wall > now+5*60*1000 {
		return ruling{crdt.Ignore, []error{crdt.ErrFuture}}
	}

	// Reject what is not for this group.
	if genesis && op.ID != group || !genesis && op.Group != group {
		add(crdt.ErrWrongGroup)
	}
	switch b := op.Body.(type) {
	case crdt.Join:
		if b.Invite.Group != group {
			add(crdt.ErrWrongGroup)
		}
	case crdt.InviteMade:
		if b.Invite.Group != group {
			add(crdt.ErrWrongGroup)
		}
	}
	if len(broken) > 0 {
		return ruling{crdt.Reject, broken}
	}
	return ruling{v: crdt.Accept}
}

// hostileDraw draws the values of one hostile op: invalid ones for the
// rules named in bad, valid ones for all others, so that each rule is met
// at its boundary often, and often alone.
type hostileDraw struct {
	t   *rapid.T
	bad map[string]bool
}

func drawValue[T any](d *hostileDraw, label string, valid, invalid []T) T {
	if d.bad[label] {
		return rapid.SampledFrom(invalid).Draw(d.t, label)
	}
	return rapid.SampledFrom(valid).Draw(d.t, label)
}

// The kinds of body genHostileOp makes, and the values of each that it
// may break besides the wall time, seq and prev, and group.
var hostileKinds = []struct {
	name  string
	rules []string
}{
	{"create", []string{"post kind", "title", "urgency", "expires"}},
	{"edit", []string{"mask", "title", "urgency", "expires", "post"}},
	{"status", []string{"status", "post"}},
	{"join", []string{"invite group", "role", "invite expires"}},
	{"invite", []string{"invite group", "role", "invite expires", "issuer"}},
	{"role", []string{"new role", "cut", "member"}},
	{"admit", []string{"join"}},
	{"revoke", []string{"invite"}},
	{"genesis", []string{"genesis id", "group name"}},
	{"respond", []string{"post"}},
	{"unrespond", []string{"post", "response"}},
	{"handon", []string{"post", "response", "private"}},
	{"leave", nil},
	{"rename", []string{"name"}},
	{"unknown", nil},
	{"none", nil},
}

// genHostileOp draws an op for the probe board with values at and around
// every boundary the rules draw. It breaks no rule, one or two, and is
// stamped too far ahead half the time.
func genHostileOp(t *rapid.T, now int64) crdt.Op {
	drift := crdt.MaxDrift.Milliseconds()
	kind := rapid.SampledFrom(hostileKinds).Draw(t, "kind")
	rules := append([]string{"wall", "chain", "group"}, kind.rules...)
	d := &hostileDraw{t: t, bad: map[string]bool{}}
	for range rapid.SampledFrom([]int{0, 1, 2, 1, 0}).Draw(t, "rules broken") {
		d.bad[rapid.SampledFrom(rules).Draw(t, "rule broken")] = true
	}

	ids := []crdt.ID{probeGroup, probeOther, probePost, probePrev}
	keys := []crdt.PublicKey{probeFounder, probeAdmin, probeMember, probeOutsider, {}}
	op := crdt.Op{
		ID:     probeID("hostile"),
		Group:  drawValue(d, "group", []crdt.ID{probeGroup}, []crdt.ID{{}, probeOther}),
		Author: rapid.SampledFrom(keys).Draw(t, "author"),
		Time: crdt.HLC{
			Wall:    drawValue(d, "wall", []int64{1, now - 1, now, now + drift}, []int64{math.MinInt64, -1, 0}),
			Logical: rapid.SampledFrom([]uint32{0, math.MaxUint32}).Draw(t, "logical"),
		},
	}
	if !d.bad["wall"] && rapid.Bool().Draw(t, "ahead") {
		op.Time.Wall = rapid.SampledFrom([]int64{now + drift + 1, math.MaxInt64}).Draw(t, "wall ahead")
	}
	type link struct {
		seq  uint64
		prev crdt.ID
	}
	first := []link{{1, crdt.ID{}}}
	later := []link{{2, probePrev}, {math.MaxUint64, probePrev}}
	broken := []link{{0, crdt.ID{}}, {0, probePrev}, {1, probePrev}, {2, crdt.ID{}}, {math.MaxUint64, crdt.ID{}}}
	var l link
	switch kind.name {
	case "genesis":
		// A genesis is its author's first op and names no group.
		op.Group = drawValue(d, "group", []crdt.ID{{}}, []crdt.ID{probeGroup, probeOther})
		l = drawValue(d, "chain", first, append(later, broken...))
	case "join":
		l = drawValue(d, "chain", append(first, later...), broken)
	default:
		// Any other kind comes after its author's first op.
		l = drawValue(d, "chain", later, append(first, broken...))
	}
	op.Seq, op.Prev = l.seq, l.prev

	fields := crdt.Fields{
		Title:    drawValue(d, "title", notBlanks, append([]string{""}, blanks...)),
		Quantity: rapid.SampledFrom([]uint32{0, math.MaxUint32}).Draw(t, "quantity"),
		Urgency:  drawValue(d, "urgency", []crdt.Urgency{0, 1, 2}, []crdt.Urgency{3, 255}),
		Expires:  drawValue(d, "expires", []int64{0, 1, math.MaxInt64}, []int64{-1, math.MinInt64}),
	}
	post := drawValue(d, "post", ids, []crdt.ID{{}})
	invite := func() crdt.Invite {
		return crdt.Invite{
			ID:      rapid.SampledFrom(ids).Draw(t, "invite id"),
			Group:   drawValue(d, "invite group", []crdt.ID{probeGroup}, []crdt.ID{{}, probeOther}),
			Role:    drawValue(d, "role", []crdt.Role{1, 2}, []crdt.Role{0, 3, 255}),
			Expires: drawValue(d, "invite expires", []int64{1, now - 1, now, math.MaxInt64}, []int64{0, -1, math.MinInt64}),
			Uses:    rapid.SampledFrom([]uint32{0, 1, math.MaxUint32}).Draw(t, "uses"),
			Issuer:  rapid.SampledFrom(keys).Draw(t, "issuer"),
		}
	}
	others := func(k crdt.PublicKey) []crdt.PublicKey {
		var out []crdt.PublicKey
		for _, o := range keys {
			if o != k {
				out = append(out, o)
			}
		}
		return out
	}
	switch kind.name {
	case "create":
		op.Body = crdt.PostCreate{PostKind: drawValue(d, "post kind", []crdt.PostKind{1, 2}, []crdt.PostKind{0, 3, 255}), Fields: fields}
	case "edit":
		set := drawValue(d, "mask",
			[]crdt.FieldMask{1, 2, 0x80, 0xfe, 0xff, crdt.FieldMask(rapid.IntRange(1, 0xff).Draw(t, "any mask"))},
			[]crdt.FieldMask{0, 0x100, 0x101, 0x8000, 0xffff})
		op.Body = crdt.PostEdit{Post: post, Set: set, Fields: fields}
	case "status":
		op.Body = crdt.PostStatus{Post: post, Status: drawValue(d, "status", []crdt.Status{0, 1, 2, 3}, []crdt.Status{4, 255})}
	case "join":
		op.Body = crdt.Join{Name: "newcomer", Invite: invite()}
	case "invite":
		in := invite()
		in.Issuer = drawValue(d, "issuer", []crdt.PublicKey{op.Author}, others(op.Author))
		op.Body = crdt.InviteMade{Invite: in}
	case "role":
		op.Body = crdt.SetRole{
			Member: drawValue(d, "member", others(op.Author), []crdt.PublicKey{op.Author}),
			Role:   drawValue(d, "new role", []crdt.Role{0, 1, 2}, []crdt.Role{3, 255}),
			Cut:    drawValue(d, "cut", []uint64{1, 2, math.MaxUint64}, []uint64{0}),
		}
	case "admit":
		op.Body = crdt.Admit{Join: drawValue(d, "join", ids, []crdt.ID{{}})}
	case "revoke":
		op.Body = crdt.Revoke{Invite: drawValue(d, "invite", ids, []crdt.ID{{}})}
	case "genesis":
		op.Body = crdt.Genesis{Name: drawValue(d, "group name", notBlanks, append([]string{""}, blanks...))}
		op.ID = drawValue(d, "genesis id", []crdt.ID{probeGroup}, []crdt.ID{probeOther})
	case "respond":
		op.Body = crdt.Respond{Post: post, Quantity: fields.Quantity}
	case "unrespond":
		op.Body = crdt.Unrespond{Post: post, Response: drawValue(d, "response", ids, []crdt.ID{{}})}
	case "handon":
		op.Body = crdt.HandOn{Post: post, Response: drawValue(d, "response", ids, []crdt.ID{{}}), Private: drawValue(d, "private", ids, []crdt.ID{{}})}
	case "leave":
		op.Body = crdt.Leave{}
	case "rename":
		op.Body = crdt.Rename{Name: drawValue(d, "name", []string{"Bob", "Zoë K", "a\u200bb"}, append([]string{"", " Bob", "Bob\n", "a\u202eb", "a\x7fb"}, blanks...))}
	case "unknown":
		op.Body = unknownBody{}
	}
	return op
}

// Whatever a peer sends, Check's and Board.Apply's verdict and error are
// those the rules give (computed independently, by judgeByRules), and an
// op that is not accepted leaves the board as it was.
func TestBoardApplyVerdictFollowsRules(t *testing.T) {
	seen := map[crdt.Verdict]int{}
	rapid.Check(t, func(t *rapid.T) {
		now := rapid.SampledFrom([]int64{1, 1_000_000, probeNow}).Draw(t, "now")
		for range rapid.IntRange(1, 40).Draw(t, "ops") {
			op := genHostileOp(t, now)
			b := probeBoard(t)
			before := b.Hash()
			want := judgeByRules(&op, probeGroup, now)
			cv, cerr := b.Group.Check(&op, now)
			v, err, changed := b.Apply(op, now)
			if cv != v || fmt.Sprint(cerr) != fmt.Sprint(err) {
				t.Fatalf("%s: Check says %v (%v), Apply %v (%v)", bodyName(&op), cv, cerr, v, err)
			}
			seen[v]++
			if v != want.v {
				t.Fatalf("%s: verdict %v (%v), the rules say %v %v\n%+v", bodyName(&op), v, err, want.v, want.errs, op)
			}
			switch v {
			case crdt.Accept:
				if err != nil {
					t.Fatalf("%s: accepted with error %v", bodyName(&op), err)
				}
			case crdt.Reject:
				if !errors.Is(err, crdt.ErrInvalid) {
					t.Fatalf("%s: rejected with %v, which does not wrap ErrInvalid", bodyName(&op), err)
				}
			case crdt.Ignore:
				if errors.Is(err, crdt.ErrInvalid) {
					t.Fatalf("%s: ignored with %v, which wraps ErrInvalid", bodyName(&op), err)
				}
			default:
				t.Fatalf("%s: verdict %d", bodyName(&op), v)
			}
			if v != crdt.Accept && !wrapsOneOf(err, want.errs) {
				t.Fatalf("%s: %v with %v, the rules say one of %v\n%+v", bodyName(&op), v, err, want.errs, op)
			}
			if v != crdt.Accept && (b.Hash() != before || len(changed) > 0) {
				t.Fatalf("%s: a %v changed the board", bodyName(&op), v)
			}
		}
	})
	// The generator is no use if it rarely reaches one of the verdicts.
	t.Logf("verdicts: %v", seen)
	total := seen[crdt.Accept] + seen[crdt.Reject] + seen[crdt.Ignore]
	for _, v := range []crdt.Verdict{crdt.Accept, crdt.Reject, crdt.Ignore} {
		if seen[v]*10 < total {
			t.Errorf("%d of %d ops were %v: the generator is off balance", seen[v], total, v)
		}
	}
}

func bodyName(op *crdt.Op) string {
	if op.Body == nil {
		return "no body"
	}
	return op.Body.Kind().String()
}

func wrapsOneOf(err error, targets []error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
