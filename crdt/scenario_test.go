package crdt_test

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

// Scenario tests are transcripts in testdata/*.txt: the ops a node
// receives, in the order it receives them, and what the board must look
// like after. One command a line; '#' starts a comment.
//
//	now 10000                                  receiver's wall clock (default 1000000)
//	genesis alice at=100 name="Food bank"      the group's genesis (its ID is the group ID)
//	invite inv1 by=alice role=member expires=5000   an invite (no op; used by joins)
//	join bob via=inv1 at=110 name=Bob
//	post bob coats need title="coats" qty=4 at=200   creates post "coats"
//	edit carol coats title="warm coats" qty=6 at=300 the keys given make the mask
//	status bob coats claimed at=400
//	respond carol coats r1 qty=3 note="two bags" at=500   creates response "r1"
//	post and respond may carry by=NAME: who acted through the author's node
//	unrespond carol coats r1 at=600
//
// Times are "wall" or "wall.logical". Every op line may end with
// "=> accept" (the default), "=> ignore <reason>" or "=> reject <reason>",
// reasons being future, not-member, pending-full, expired, wrong-group,
// invalid. An op line may carry label=NAME to name the op.
//
// Author keys are the names zero-padded to 32 bytes and op IDs are the
// labels zero-padded, so ties between authors and between ops break in
// alphabetical order, as readable in the transcript.
//
//	expect post coats status=claimed title="warm coats" qty=6 claimed=7 over_claimed=true
//	expect post coats by=Sam responders=Lee,-     the active responses' by, "-" for none
//	expect open at=5000 coats blankets          exactly these posts are on the open board
//	expect member bob role=admin name=Bob       role=none for a non-member
//	expect parked 2
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
	pos     string
	board   *crdt.Board
	now     int64
	invites map[string]crdt.Invite
	seq     map[crdt.PublicKey]uint64
	prev    map[crdt.PublicKey]crdt.ID
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
func idOf(label string) crdt.ID      { return crdt.ID(padded(label)) }

const genesisLabel = "genesis"

func runScenario(t *testing.T, file string) {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := &scenario{
		t:       t,
		board:   crdt.NewBoard(idOf(genesisLabel)),
		now:     1_000_000,
		invites: map[string]crdt.Invite{},
		seq:     map[crdt.PublicKey]uint64{},
		prev:    map[crdt.PublicKey]crdt.ID{},
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
			f.Location, m = v, m|crdt.FieldLocation
		case "contact":
			f.Contact, m = v, m|crdt.FieldContact
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
		case "at", "label":
		default:
			s.fatalf("unknown field %q", k)
		}
	}
	return f, m
}

func (s *scenario) do(words []string, autoLabel string) {
	pos, kv, verdict := s.args(words)
	label := autoLabel
	if l, ok := kv["label"]; ok {
		label = l
	}
	var author string
	var body crdt.Body
	switch cmd := pos[0]; cmd {
	case "now":
		s.need(pos, 2, "now <ms>")
		s.now = s.int(pos[1])
		return
	case "invite":
		s.need(pos, 2, "invite <label> by=<author> role=<role> expires=<ms>")
		role, ok := crdt.ParseRole(kv["role"])
		if !ok {
			s.fatalf("role %q", kv["role"])
		}
		in := crdt.Invite{Group: idOf(genesisLabel), Role: role, Expires: s.int(kv["expires"]), Issuer: who(kv["by"])}
		copy(in.Nonce[:], pos[1])
		s.invites[pos[1]] = in
		return
	case "expect":
		s.expect(pos[1:], kv)
		return
	case "genesis":
		s.need(pos, 2, "genesis <author> at=T")
		author, label = pos[1], genesisLabel
		body = crdt.Genesis{Name: kv["name"], AuthorName: pos[1]}
	case "join":
		s.need(pos, 2, "join <author> via=<invite> at=T")
		in, ok := s.invites[kv["via"]]
		if !ok {
			s.fatalf("no invite %q", kv["via"])
		}
		author = pos[1]
		name := kv["name"]
		if name == "" {
			name = author
		}
		body = crdt.Join{Invite: in, Name: name}
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
		body = crdt.Respond{Post: idOf(pos[2]), Quantity: uint32(q), Note: kv["note"], By: kv["by"]}
	case "unrespond":
		s.need(pos, 4, "unrespond <author> <post> <response> at=T")
		author = pos[1]
		body = crdt.Unrespond{Post: idOf(pos[2]), Response: idOf(pos[3])}
	default:
		s.fatalf("unknown command %q", cmd)
	}
	op := crdt.Op{ID: idOf(label), Group: idOf(genesisLabel), Author: who(author), Time: s.hlc(kv["at"]), Body: body}
	if _, ok := body.(crdt.Genesis); ok {
		op.Group = crdt.ID{}
	}
	s.seq[op.Author]++
	op.Seq = s.seq[op.Author]
	if op.Seq > 1 {
		op.Prev = s.prev[op.Author]
	}
	s.prev[op.Author] = op.ID
	v, err, _ := s.board.Apply(op, s.now)
	s.checkVerdict(verdict, v, err)
}

var reasons = map[string]error{
	"future":       crdt.ErrFuture,
	"not-member":   crdt.ErrNotMember,
	"pending-full": crdt.ErrPendingFull,
	"expired":      crdt.ErrExpired,
	"wrong-group":  crdt.ErrWrongGroup,
	"invalid":      crdt.ErrInvalid,
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

func (s *scenario) expect(pos []string, kv map[string]string) {
	s.t.Helper()
	if len(pos) == 0 {
		s.fatalf("expect what?")
	}
	switch pos[0] {
	case "post":
		s.need(pos, 2, "expect post <label> key=value...")
		p := s.board.Posts[idOf(pos[1])]
		if p == nil {
			s.fatalf("no post %q (not even a stub)", pos[1])
		}
		for k, want := range kv {
			if got := postField(p, k, s.now); got != want {
				s.fatalf("post %s: %s=%s, want %s", pos[1], k, got, want)
			}
		}
	case "open":
		var got []string
		for p := range s.board.SortedPosts() {
			if p.OnOpenBoard(s.int(kv["at"])) {
				got = append(got, strings.TrimRight(string(p.ID[:]), "\x00"))
			}
		}
		want := slices.Sorted(slices.Values(pos[1:]))
		slices.Sort(got)
		if !slices.Equal(got, want) {
			s.fatalf("open board at %s is %v, want %v", kv["at"], got, want)
		}
	case "member":
		s.need(pos, 2, "expect member <name> role=...")
		m := s.board.Group.Member(who(pos[1]))
		role := "none"
		if m != nil {
			role = m.Role.String()
		}
		if want, ok := kv["role"]; ok && role != want {
			s.fatalf("%s has role %s, want %s", pos[1], role, want)
		}
		if want, ok := kv["name"]; ok && (m == nil || m.Name != want) {
			s.fatalf("%s is named %+v, want %q", pos[1], m, want)
		}
	case "parked":
		s.need(pos, 2, "expect parked <n>")
		if got := s.board.Group.Parked(); int64(got) != s.int(pos[1]) {
			s.fatalf("%d ops parked, want %s", got, pos[1])
		}
	default:
		s.fatalf("unknown expectation %q", pos[0])
	}
}

func postField(p *crdt.Post, k string, now int64) string {
	switch k {
	case "created":
		return strconv.FormatBool(p.Created)
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
		return p.Status.V.String()
	case "claimed":
		return fmt.Sprint(p.Claimed())
	case "over_claimed":
		return strconv.FormatBool(p.OverClaimed())
	case "responses":
		return fmt.Sprint(len(p.ActiveResponses()))
	case "all_responses":
		return fmt.Sprint(len(p.Responses))
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
	}
	return "<unknown key " + k + ">"
}
