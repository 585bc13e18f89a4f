package crdt_test

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

// Scenario tests are transcripts in testdata/*.txt: the ops a node makes
// and receives, in the order it receives them, and what the board must
// look like after. One command a line; '#' starts a comment.
//
// Ops. Each op line makes an op and delivers it to the board at once,
// unless it says send=later. Authors number their ops 1, 2, 3... in the
// order of their lines, each linked to the one before (Prev).
//
//	now 10000                                   receiver's wall clock (default 1000000)
//	genesis alice at=100 name="Food bank"       the group's genesis (its ID is the group ID)
//	invite inv by=alice role=member expires=5000 uses=1
//	                                            an invite (a capability; no op); with at=T the
//	                                            issuer also records it (an InviteMade op)
//	join bob via=inv at=110 name=Bob            bob's join (label bob-join unless label= says)
//	join bob via=inv at=110 witness=alice       ... and alice's Admit of it at 110.1 (label bob-join/w)
//	admit carol bob-join at=120                 carol witnesses bob's join
//	revoke alice inv at=130                     alice revokes invite inv
//	remove alice bob cut=3 at=140               alice removes bob; cut: the highest seq of bob's
//	promote alice bob cut=3 at=140              ops alice held (default: all of bob's ops so far)
//	demote alice bob cut=3 at=140
//	leave bob at=150
//	rename bob name="Bob B." at=160             bob sets his own display name
//	post bob coats need title="coats" qty=4 at=200   creates post "coats"
//	edit carol coats title="warm coats" qty=6 at=300 the keys given make the mask
//	status bob coats claimed at=400
//	respond carol coats r1 qty=3 note="two bags" at=500   creates response "r1"
//	post and respond may carry by=NAME: who acted through the author's node
//	respond ... sealed=yes                      the response carries a sealed contact (Private)
//	unrespond carol coats r1 at=600
//	visit rita from=riverside at=610            rita's first op: a visit from group riverside
//	vouch riverside rita,rob                    the replica knows riverside's members (Vouch)
//	handon bob coats r1 at=620                  bob hands r1's contact on (kind 12)
//	erase bob coats at=700                      erases the private fields of post coats
//	settings alice retention=5000 at=800        the group's retention, in ms
//	key alice k1 to=alice,bob at=900            shares group key k1 with alice and bob
//	fork bob 3                                  bob's next op is signed at seq 3 again, after
//	                                            bob's op at seq 2 (a restored backup)
//	send L1 bob-join                            deliver ops made before (again, for a duplicate)
//
// Times are "wall" or "wall.logical". Every op line (and send) may end
// with "=> accept" (the default), "=> ignore <reason>" or "=> reject
// <reason>", reasons being future, wrong-group, invalid, bad-chain. An op
// line may carry label=NAME to name the op (default L<line>), prev=NAME
// to sign it with a Prev naming that op (a break in the author's
// history), and send=later.
//
// Author keys are the names zero-padded to 32 bytes and op IDs are the
// labels zero-padded, so ties between authors and between ops break in
// alphabetical order, as readable in the transcript.
//
// Expectations, checked against the board at that point:
//
//	expect post coats status=claimed title="warm coats" qty=6 claimed=7 over_claimed=true
//	expect post coats by=Sam responders=Lee,-     the active responses' by, "-" for none
//	expect nopost coats blankets               no such posts (their creates do not count)
//	expect open at=5000 coats blankets          exactly these posts are on the open board
//	expect member bob role=admin name=Bob removed=false left=false cut=0 forked=0
//	                                            role=none for a non-member
//	expect members alice bob                    exactly these are members now
//	expect counts L3 bob-join                   these ops count
//	expect void L4 carol-join                   these ops are held but do not count
//	expect invite inv used=1 revoked=false open=true   (open: at the receiver's clock)
//	expect pending carol-join                   exactly these joins are held and do not count
//	expect post coats erased=L7                 the Erase that counts last ("-" for none)
//	expect retention 5000                       Group.Retention()
//	expect keys k1 k2                           Group.Keys(), in order; expect keys k1 to=alice,bob:
//	                                            ... and who holds a share of each
//
// After the last line, every transcript is replayed: the ops the board
// held, delivered to new boards in reverse and in shuffled orders (the
// state refreshed at random points) must give the same state.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runScenario(t, f) })
	}
}

type scenario struct {
	t       *testing.T
	file    string
	pos     string
	board   *crdt.Board
	now     int64
	invites map[string]crdt.Invite
	ops     map[string]crdt.Op           // every op made, by label
	sent    []crdt.Op                    // every op delivered, in order (duplicates too)
	branch  map[crdt.PublicKey][]crdt.ID // per author, its current history: branch[a][s-1] is its op at seq s
	vouched map[crdt.ID][]crdt.PublicKey // the visitors' groups' members, as last vouched
}

func padded(s string) [32]byte {
	var b [32]byte
	if len(s) > len(b) {
		panic("name too long for a scenario: " + s)
	}
	copy(b[:], s)
	return b
}

func who(name string) crdt.PublicKey { return crdt.PublicKey(padded(name)) }
func keyIDOf(name string) crdt.KeyID { p := padded(name); return crdt.KeyID(p[:16]) }
func idOf(label string) crdt.ID      { return crdt.ID(padded(label)) }
func labelOf(id [32]byte) string     { return strings.TrimRight(string(id[:]), "\x00") }

const genesisLabel = "genesis"

func runScenario(t *testing.T, file string) {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := &scenario{
		t:       t,
		file:    file,
		board:   crdt.NewBoard(idOf(genesisLabel)),
		now:     1_000_000,
		invites: map[string]crdt.Invite{},
		ops:     map[string]crdt.Op{},
		branch:  map[crdt.PublicKey][]crdt.ID{},
	}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		s.pos = fmt.Sprintf("%s:%d", file, n)
		line := sc.Text()
		if i := strings.Index(line, "#"); i >= 0 && !strings.Contains(line[:i], `"`) {
			line = line[:i]
		}
		words, err := tokenize(line)
		if err != nil {
			t.Fatalf("%s: %v", s.pos, err)
		}
		if len(words) == 0 {
			continue
		}
		s.do(words, fmt.Sprintf("L%d", n))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	s.pos = file + ": replayed"
	s.replay()
}

// tokenize splits a line at spaces, keeping "quoted strings" (Go syntax)
// whole, also as the value of key="...".
func tokenize(line string) ([]string, error) {
	var out []string
	for {
		line = strings.TrimLeft(line, " \t")
		if line == "" {
			return out, nil
		}
		i := 0
		for i < len(line) && line[i] != ' ' && line[i] != '\t' {
			if line[i] == '"' {
				q, err := strconv.QuotedPrefix(line[i:])
				if err != nil {
					return nil, err
				}
				i += len(q)
				continue
			}
			i++
		}
		out = append(out, line[:i])
		line = line[i:]
	}
}

func (s *scenario) fatalf(format string, args ...any) {
	s.t.Helper()
	s.t.Fatalf("%s: %s", s.pos, fmt.Sprintf(format, args...))
}

// args splits words into positional words and key=value pairs, and the
// expected verdict after "=>".
func (s *scenario) args(words []string) (pos []string, kv map[string]string, verdict []string) {
	kv = map[string]string{}
	for i, w := range words {
		if w == "=>" {
			verdict = words[i+1:]
			break
		}
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			pos = append(pos, w)
			continue
		}
		if strings.HasPrefix(v, `"`) {
			u, err := strconv.Unquote(v)
			if err != nil {
				s.fatalf("%s: %v", w, err)
			}
			v = u
		}
		kv[k] = v
	}
	return pos, kv, verdict
}

func (s *scenario) int(v string) int64 {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		s.fatalf("%q: %v", v, err)
	}
	return n
}

func (s *scenario) bool(v string) bool {
	b, err := strconv.ParseBool(v)
	if err != nil {
		s.fatalf("%q: %v", v, err)
	}
	return b
}

func (s *scenario) hlc(v string) crdt.HLC {
	if v == "" {
		s.fatalf("op needs at=")
	}
	wall, logical, _ := strings.Cut(v, ".")
	h := crdt.HLC{Wall: s.int(wall)}
	if logical != "" {
		h.Logical = uint32(s.int(logical))
	}
	return h
}

func (s *scenario) need(pos []string, n int, usage string) {
	if len(pos) != n {
		s.fatalf("want: %s", usage)
	}
}

func (s *scenario) fields(kv map[string]string) (crdt.Fields, crdt.FieldMask) {
	var f crdt.Fields
	var m crdt.FieldMask
	for k, v := range kv {
		switch k {
		case "title":
			f.Title, m = v, m|crdt.FieldTitle
		case "details":
			f.Details, m = v, m|crdt.FieldDetails
		case "category":
			f.Category, m = v, m|crdt.FieldCategory
		case "location":
			m |= crdt.FieldLocation
		case "contact":
			m |= crdt.FieldContact
		case "qty":
			f.Quantity, m = uint32(s.int(v)), m|crdt.FieldQuantity
		case "urgency":
			u, ok := crdt.ParseUrgency(v)
			if !ok {
				s.fatalf("urgency %q", v)
			}
			f.Urgency, m = u, m|crdt.FieldUrgency
		case "expires":
			f.Expires, m = s.int(v), m|crdt.FieldExpires
		case "at", "label", "prev", "send", "to", "retention", "policy", "allies", "blocked":
		default:
			s.fatalf("unknown field %q", k)
		}
	}
	return f, m
}

// invite returns the invite named label.
func (s *scenario) invite(label string) crdt.Invite {
	in, ok := s.invites[label]
	if !ok {
		s.fatalf("no invite %q", label)
	}
	return in
}

// cut returns kv's cut, or by default the seq of member's last op made.
func (s *scenario) cut(kv map[string]string, member string) uint64 {
	if v, ok := kv["cut"]; ok {
		return uint64(s.int(v))
	}
	return uint64(len(s.branch[who(member)]))
}

func (s *scenario) do(words []string, autoLabel string) {
	pos, kv, verdict := s.args(words)
	label := autoLabel
	var author string
	var body crdt.Body
	switch cmd := pos[0]; cmd {
	case "now":
		s.need(pos, 2, "now <ms>")
		s.now = s.int(pos[1])
		return
	case "expect":
		s.expect(pos[1:], kv)
		return
	case "send":
		if len(pos) < 2 {
			s.fatalf("want: send <label>...")
		}
		for _, l := range pos[1:] {
			op, ok := s.ops[l]
			if !ok {
				s.fatalf("no op %q", l)
			}
			s.send(op, verdict)
		}
		return
	case "fork":
		s.need(pos, 3, "fork <author> <seq>")
		a, seq := who(pos[1]), s.int(pos[2])
		if seq < 2 || int(seq) > len(s.branch[a]) {
			s.fatalf("%s has no op at seq %d to fork from", pos[1], seq)
		}
		s.branch[a] = s.branch[a][:seq-1]
		return
	case "invite":
		s.need(pos, 2, "invite <label> by=<author> role=<role> expires=<ms> [uses=N] [at=T]")
		role, ok := crdt.ParseRole(kv["role"])
		if !ok {
			s.fatalf("role %q", kv["role"])
		}
		in := crdt.Invite{
			ID:      idOf(pos[1]),
			Group:   idOf(genesisLabel),
			Role:    role,
			Expires: s.int(kv["expires"]),
			Key:     who("key/" + pos[1]),
			Issuer:  who(kv["by"]),
		}
		if v, ok := kv["uses"]; ok {
			in.Uses = uint32(s.int(v))
		}
		if _, dup := s.invites[pos[1]]; dup {
			s.fatalf("invite %q made twice", pos[1])
		}
		s.invites[pos[1]] = in
		if _, record := kv["at"]; !record {
			return
		}
		author, body = kv["by"], crdt.InviteMade{Invite: in}
	case "genesis":
		s.need(pos, 2, "genesis <author> at=T")
		author, label = pos[1], genesisLabel
		name := kv["name"]
		if name == "" {
			name = "group" // a group needs a name
		}
		body = crdt.Genesis{Name: name, AuthorName: pos[1]}
	case "join":
		s.need(pos, 2, "join <author> via=<invite> at=T [witness=<member>]")
		author, label = pos[1], pos[1]+"-join"
		name := kv["name"]
		if name == "" {
			name = author
		}
		body = crdt.Join{Invite: s.invite(kv["via"]), Name: name}
	case "admit":
		s.need(pos, 3, "admit <author> <join> at=T")
		author = pos[1]
		body = crdt.Admit{Join: idOf(pos[2])}
	case "revoke":
		s.need(pos, 3, "revoke <author> <invite> at=T")
		author = pos[1]
		body = crdt.Revoke{Invite: s.invite(pos[2]).ID}
	case "remove", "promote", "demote":
		s.need(pos, 3, cmd+" <admin> <member> [cut=N] at=T")
		author = pos[1]
		role := map[string]crdt.Role{"remove": crdt.RoleNone, "promote": crdt.RoleAdmin, "demote": crdt.RoleMember}[cmd]
		body = crdt.SetRole{Member: who(pos[2]), Role: role, Cut: s.cut(kv, pos[2])}
	case "leave":
		s.need(pos, 2, "leave <author> at=T")
		author = pos[1]
		body = crdt.Leave{}
	case "rename":
		s.need(pos, 2, "rename <author> name=NAME at=T")
		author = pos[1]
		body = crdt.Rename{Name: kv["name"]}
	case "post":
		s.need(pos, 4, "post <author> <label> need|offer title=... at=T")
		k, ok := crdt.ParsePostKind(pos[3])
		if !ok {
			s.fatalf("post kind %q", pos[3])
		}
		by := kv["by"]
		delete(kv, "by")
		f, _ := s.fields(kv)
		author, label = pos[1], pos[2]
		body = crdt.PostCreate{PostKind: k, Fields: f, By: by}
	case "edit":
		s.need(pos, 3, "edit <author> <post> field=value... at=T")
		f, m := s.fields(kv)
		author = pos[1]
		body = crdt.PostEdit{Post: idOf(pos[2]), Set: m, Fields: f}
	case "status":
		s.need(pos, 4, "status <author> <post> <status> at=T")
		st, ok := crdt.ParseStatus(pos[3])
		if !ok {
			s.fatalf("status %q", pos[3])
		}
		author = pos[1]
		body = crdt.PostStatus{Post: idOf(pos[2]), Status: st}
	case "respond":
		s.need(pos, 4, "respond <author> <post> <label> qty=N at=T")
		var q int64
		if v, ok := kv["qty"]; ok {
			q = s.int(v)
		}
		author, label = pos[1], pos[3]
		r := crdt.Respond{Post: idOf(pos[2]), Quantity: uint32(q), Note: kv["note"], By: kv["by"]}
		if kv["sealed"] == "yes" {
			r.Private = idOf(label + "/blob")
		}
		body = r
	case "visit":
		s.need(pos, 2, "visit <author> from=<group> at=T")
		author = pos[1]
		body = crdt.Visit{From: idOf(kv["from"]), Name: pos[1]}
	case "vouch":
		if len(pos) != 2 && len(pos) != 3 {
			s.fatalf("want: vouch <group> [member,...]")
		}
		var ms []crdt.PublicKey
		if len(pos) > 2 {
			for _, m := range strings.Split(pos[2], ",") {
				ms = append(ms, who(m))
			}
		}
		s.board.Vouch(idOf(pos[1]), ms)
		if s.vouched == nil {
			s.vouched = map[crdt.ID][]crdt.PublicKey{}
		}
		s.vouched[idOf(pos[1])] = ms
		return
	case "handon":
		s.need(pos, 4, "handon <author> <post> <response> at=T")
		author = pos[1]
		body = crdt.HandOn{Post: idOf(pos[2]), Response: idOf(pos[3]), Private: idOf(pos[3] + "/copy/" + pos[1])}
	case "unrespond":
		s.need(pos, 4, "unrespond <author> <post> <response> at=T")
		author = pos[1]
		body = crdt.Unrespond{Post: idOf(pos[2]), Response: idOf(pos[3])}
	case "erase":
		s.need(pos, 3, "erase <author> <post> at=T")
		author = pos[1]
		body = crdt.Erase{Post: idOf(pos[2])}
	case "settings":
		s.need(pos, 2, "settings <author> retention=<ms> at=T")
		author = pos[1]
		body = crdt.Settings{Retention: s.int(kv["retention"])}
	case "federation":
		s.need(pos, 2, "federation <author> policy=open|allies allies=g,... blocked=g,... at=T")
		author = pos[1]
		f := crdt.Federation{Allies: groupList(kv["allies"]), Blocked: groupList(kv["blocked"])}
		if kv["policy"] == "allies" {
			f.Policy = crdt.FollowAllies
		}
		body = f
	case "key":
		s.need(pos, 3, "key <author> <key> to=<member>,... at=T")
		author = pos[1]
		gk := crdt.GroupKey{Key: keyIDOf(pos[2])}
		for _, m := range strings.Split(kv["to"], ",") {
			gk.Shares = append(gk.Shares, crdt.Share{Member: who(m)})
		}
		slices.SortFunc(gk.Shares, func(a, b crdt.Share) int { return a.Member.Compare(b.Member) })
		body = gk
	default:
		s.fatalf("unknown command %q", cmd)
	}
	if l, ok := kv["label"]; ok {
		label = l
	}
	op := s.make(author, label, s.hlc(kv["at"]), body, kv["prev"])
	if kv["send"] != "later" {
		s.send(op, verdict)
	} else if len(verdict) > 0 {
		s.fatalf("an op sent later has its verdict on the send line")
	}
	if w, ok := kv["witness"]; ok {
		t := op.Time
		t.Logical++
		s.send(s.make(w, label+"/w", t, crdt.Admit{Join: op.ID}, ""), nil)
	}
}

// make signs (so to speak) an op by author at the end of its current
// history, or after the op named prev.
func (s *scenario) make(author, label string, at crdt.HLC, body crdt.Body, prev string) crdt.Op {
	if _, dup := s.ops[label]; dup {
		s.fatalf("label %q used twice (send it again with send, or give label=)", label)
	}
	a := who(author)
	op := crdt.Op{ID: idOf(label), Group: idOf(genesisLabel), Author: a, Time: at, Body: body}
	if _, ok := body.(crdt.Genesis); ok {
		op.Group = crdt.ID{}
	}
	op.Seq = uint64(len(s.branch[a])) + 1
	if op.Seq > 1 {
		op.Prev = s.branch[a][op.Seq-2]
	}
	if prev != "" {
		op.Prev = idOf(prev)
	}
	s.branch[a] = append(s.branch[a], op.ID)
	s.ops[label] = op
	return op
}

func (s *scenario) send(op crdt.Op, verdict []string) {
	s.t.Helper()
	v, err, _ := s.board.Apply(op, s.now)
	s.checkVerdict(verdict, v, err)
	s.sent = append(s.sent, op)
}

var reasons = map[string]error{
	"future":      crdt.ErrFuture,
	"wrong-group": crdt.ErrWrongGroup,
	"invalid":     crdt.ErrInvalid,
	"bad-chain":   crdt.ErrBadChain,
	"bad-value":   crdt.ErrBadValue,
}

func (s *scenario) checkVerdict(want []string, v crdt.Verdict, err error) {
	s.t.Helper()
	if len(want) == 0 {
		want = []string{"accept"}
	}
	if want[0] != v.String() {
		s.fatalf("verdict %v (%v), want %s", v, err, strings.Join(want, " "))
	}
	if len(want) > 1 {
		reason, ok := reasons[want[1]]
		if !ok {
			s.fatalf("unknown reason %q", want[1])
		}
		if !errors.Is(err, reason) {
			s.fatalf("error %v, want %v", err, reason)
		}
	}
}

func (s *scenario) op(label string) *crdt.Op {
	op, ok := s.ops[label]
	if !ok {
		s.fatalf("no op %q", label)
	}
	return &op
}

func (s *scenario) expect(pos []string, kv map[string]string) {
	s.t.Helper()
	if len(pos) == 0 {
		s.fatalf("expect what?")
	}
	b := s.board
	b.Refresh()
	switch pos[0] {
	case "post":
		s.need(pos, 2, "expect post <label> key=value...")
		p := b.Posts[idOf(pos[1])]
		if p == nil {
			s.fatalf("no post %q", pos[1])
		}
		for _, k := range slices.Sorted(maps.Keys(kv)) {
			if got := postField(p, k, s.now); got != kv[k] {
				s.fatalf("post %s: %s=%s, want %s", pos[1], k, got, kv[k])
			}
		}
	case "nopost":
		for _, l := range pos[1:] {
			if p := b.Posts[idOf(l)]; p != nil {
				s.fatalf("post %s is on the board: %+v", l, p)
			}
		}
	case "open":
		var got []string
		for p := range b.SortedPosts() {
			if p.OnOpenBoard(s.int(kv["at"])) {
				got = append(got, labelOf(p.ID))
			}
		}
		want := slices.Sorted(slices.Values(pos[1:]))
		slices.Sort(got)
		if !slices.Equal(got, want) {
			s.fatalf("open board at %s is %v, want %v", kv["at"], got, want)
		}
	case "member":
		s.need(pos, 2, "expect member <name> role=...")
		m := b.Group.Member(who(pos[1]))
		if m == nil {
			m = &crdt.Member{}
		}
		for _, k := range slices.Sorted(maps.Keys(kv)) {
			if got := memberField(m, k); got != kv[k] {
				s.fatalf("member %s: %s=%s, want %s (%+v)", pos[1], k, got, kv[k], *m)
			}
		}
	case "members":
		var got []string
		for _, m := range b.Group.Members() {
			if m.Role != crdt.RoleNone {
				got = append(got, labelOf(crdt.ID(m.Key)))
			}
		}
		if want := slices.Sorted(slices.Values(pos[1:])); !slices.Equal(got, want) {
			s.fatalf("members %v, want %v", got, want)
		}
	case "counts", "void":
		for _, l := range pos[1:] {
			op := s.op(l)
			if !b.Held(op.ID) {
				s.fatalf("%s is not held", l)
			}
			if got := counts(b, op); got != (pos[0] == "counts") {
				s.fatalf("%s (%s by %s, seq %d) counts=%v, want %v", l, op.Body.Kind(), labelOf(crdt.ID(op.Author)), op.Seq, got, !got)
			}
		}
	case "invite":
		s.need(pos, 2, "expect invite <label> used=N revoked=bool open=bool")
		id := s.invite(pos[1]).ID
		var st *crdt.InviteState
		for _, in := range b.Group.Invites() {
			if in.Invite.ID == id {
				st = &in
			}
		}
		if st == nil {
			s.fatalf("invite %s is not recorded", pos[1])
		}
		for _, k := range slices.Sorted(maps.Keys(kv)) {
			var got string
			switch k {
			case "used":
				got = fmt.Sprint(st.Used)
			case "revoked":
				got = strconv.FormatBool(st.Revoked)
			case "open":
				got = strconv.FormatBool(st.Open(s.now))
			default:
				s.fatalf("unknown invite key %q", k)
			}
			if got != kv[k] {
				s.fatalf("invite %s: %s=%s, want %s", pos[1], k, got, kv[k])
			}
		}
	case "federation":
		s.need(pos, 2, "expect federation <policy> [allies=g,...] [blocked=g,...]")
		f := b.Group.Federation()
		got := fmt.Sprintf("%s allies=%s blocked=%s", f.Policy, groupLabels(f.Allies), groupLabels(f.Blocked))
		want := fmt.Sprintf("%s allies=%s blocked=%s", pos[1], kv["allies"], kv["blocked"])
		if got != want {
			s.fatalf("federation %q, want %q", got, want)
		}
	case "retention":
		s.need(pos, 2, "expect retention <ms>")
		if got := b.Group.Retention(); got != s.int(pos[1]) {
			s.fatalf("retention %d, want %s", got, pos[1])
		}
	case "keys":
		var got []string
		for _, k := range b.Group.Keys() {
			got = append(got, strings.TrimRight(string(k.ID[:]), "\x00"))
		}
		if !slices.Equal(got, pos[1:]) {
			s.fatalf("keys %v, want %v", got, pos[1:])
		}
		if to, ok := kv["to"]; ok {
			if len(pos) != 2 {
				s.fatalf("want: expect keys <key> to=<member>,...")
			}
			var holders []string
			for m := range b.Group.Keys()[0].Shares {
				holders = append(holders, labelOf(crdt.ID(m)))
			}
			slices.Sort(holders)
			if strings.Join(holders, ",") != to {
				s.fatalf("key %s is shared with %v, want %s", pos[1], holders, to)
			}
		}
	case "pending":
		var got []string
		for _, op := range b.Group.Pending() {
			got = append(got, labelOf(op.ID))
		}
		if want := slices.Sorted(slices.Values(pos[1:])); !slices.Equal(got, want) {
			s.fatalf("pending joins %v, want %v", got, want)
		}
	default:
		s.fatalf("unknown expectation %q", pos[0])
	}
}

func memberField(m *crdt.Member, k string) string {
	switch k {
	case "role":
		return m.Role.String()
	case "name":
		return m.Name
	case "removed":
		return strconv.FormatBool(m.Removed)
	case "left":
		return strconv.FormatBool(m.Left)
	case "cut":
		return fmt.Sprint(m.Cut)
	case "forked":
		return fmt.Sprint(m.Forked)
	case "via":
		return labelOf(m.Via)
	}
	return "<unknown key " + k + ">"
}

func postField(p *crdt.Post, k string, now int64) string {
	switch k {
	case "author":
		return labelOf(crdt.ID(p.Author))
	case "kind":
		return p.Kind.String()
	case "title":
		return p.Title.V
	case "details":
		return p.Details.V
	case "qty":
		return fmt.Sprint(p.Quantity.V)
	case "expires":
		return fmt.Sprint(p.Expires.V)
	case "status":
		return p.State().String()
	case "claimed":
		return fmt.Sprint(p.Claimed())
	case "over_claimed":
		return strconv.FormatBool(p.OverClaimed())
	case "responses":
		return fmt.Sprint(len(p.ActiveResponses()))
	case "all_responses":
		return fmt.Sprint(len(p.Responses))
	case "handons": // the hand-ons that count, as response/author, in order
		var hs []string
		for _, h := range p.HandOns {
			hs = append(hs, labelOf(h.Response)+"/"+labelOf(h.Author))
		}
		return cmp.Or(strings.Join(hs, ","), "-")
	case "by":
		return p.By
	case "responders": // the active responses' By, in ID order; "-" for the node's own user
		var bys []string
		for _, r := range p.ActiveResponses() {
			bys = append(bys, cmp.Or(r.By, "-"))
		}
		return strings.Join(bys, ",")
	case "on_open_board":
		return strconv.FormatBool(p.OnOpenBoard(now))
	case "erased":
		return cmp.Or(labelOf(p.ErasedAt.Op), "-")
	}
	return "<unknown key " + k + ">"
}

// replay delivers the ops the board holds to new boards, in reverse
// order and in shuffled orders with duplicates, refreshing their state
// at random points, and requires the same state as the transcript's.
func (s *scenario) replay() {
	s.t.Helper()
	var held []crdt.Op
	seen := map[crdt.ID]bool{}
	for _, op := range s.sent {
		if s.board.Held(op.ID) && !seen[op.ID] {
			seen[op.ID] = true
			held = append(held, op)
		}
	}
	want := snapshot(s.board, held)
	h := fnv.New64a()
	h.Write([]byte(s.file))
	rng := rand.New(rand.NewPCG(h.Sum64(), 0))
	for i := range 20 {
		order := slices.Clone(held)
		if i == 0 {
			slices.Reverse(order)
		} else {
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			for range rng.IntN(4) {
				order = slices.Insert(order, rng.IntN(len(order)+1), held[rng.IntN(len(held))])
			}
		}
		b := crdt.NewBoard(idOf(genesisLabel))
		for g, ms := range s.vouched { // what the replica knows of visitors' groups, as at the end
			b.Vouch(g, ms)
		}
		for _, op := range order {
			if v, err, _ := b.Apply(op, farFuture); v != crdt.Accept {
				s.fatalf("%s: %v %v on replay", labelOf(op.ID), v, err)
			}
			if rng.IntN(3) == 0 {
				b.Refresh()
			}
		}
		if got := snapshot(b, held); !reflect.DeepEqual(got, want) {
			var labels []string
			for _, op := range order {
				labels = append(labels, labelOf(op.ID))
			}
			s.fatalf("delivered in the order %v, the state differs:\n%s", labels, want.diff(got, func(b [32]byte) string { return labelOf(b) }))
		}
	}
}

// groupList reads "a,b" as the group IDs labelled a and b, in that order.
func groupList(v string) []crdt.ID {
	var out []crdt.ID
	for _, l := range strings.Split(v, ",") {
		if l != "" {
			out = append(out, idOf(l))
		}
	}
	return out
}

func groupLabels(ids []crdt.ID) string {
	var out []string
	for _, id := range ids {
		out = append(out, labelOf(id))
	}
	return strings.Join(out, ",")
}
