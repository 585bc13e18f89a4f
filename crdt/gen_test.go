package crdt_test

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/mutual-aid/mutual/crdt"
	"pgregory.net/rapid"
)

// The generators here build ops as plain values. Package crdt must not
// import protocol, so ops get distinct fake IDs (the SHA-256 of a
// counter) and no signatures: the crdt never looks at either.

// farFuture is the receivers' wall clock in the property tests: late
// enough that no generated op is beyond MaxDrift.
const farFuture = 1 << 40

func fakeKey(name string) crdt.PublicKey {
	return crdt.PublicKey(sha256.Sum256([]byte("key/" + name)))
}

// opSet is a random set of ops for one group, in the order it was made.
type opSet struct {
	group    crdt.ID
	founder  crdt.PublicKey
	outsider crdt.PublicKey // signs ops but never joins
	ops      []crdt.Op
}

// opMaker numbers ops and keeps each author's seq/prev chain.
type opMaker struct {
	t     *rapid.T
	n     uint64
	group crdt.ID
	seq   map[crdt.PublicKey]uint64
	prev  map[crdt.PublicKey]crdt.ID
}

func newOpMaker(t *rapid.T, salt string) *opMaker {
	m := &opMaker{t: t, seq: map[crdt.PublicKey]uint64{}, prev: map[crdt.PublicKey]crdt.ID{}}
	m.n = binary.BigEndian.Uint64(func() []byte { h := sha256.Sum256([]byte(salt)); return h[:8] }())
	return m
}

func (m *opMaker) nextID() crdt.ID {
	m.n++
	return sha256.Sum256(binary.BigEndian.AppendUint64([]byte("op/"), m.n))
}

// hlc draws from a deliberately narrow range, so that ops of different
// authors often carry equal timestamps and the tie breaks are exercised.
func (m *opMaker) hlc(label string) crdt.HLC {
	return crdt.HLC{
		Wall:    rapid.Int64Range(1000, 1004).Draw(m.t, label+" wall"),
		Logical: rapid.Uint32Range(0, 1).Draw(m.t, label+" logical"),
	}
}

func (m *opMaker) op(author crdt.PublicKey, t crdt.HLC, body crdt.Body) crdt.Op {
	op := crdt.Op{ID: m.nextID(), Group: m.group, Author: author, Time: t, Body: body}
	if _, ok := body.(crdt.Genesis); ok {
		op.Group = crdt.ID{}
	}
	m.seq[author]++
	op.Seq = m.seq[author]
	if op.Seq > 1 {
		op.Prev = m.prev[author]
	}
	m.prev[author] = op.ID
	return op
}

var (
	smallText = []string{"", "a", "b", "coats", "Décor ☂"}
	titles    = []string{"a", "b", "coats", "blankets"}
	byNames   = []string{"", "", "Sam", "Lee"} // mostly the node's own user
)

func genFields(t *rapid.T, label string) crdt.Fields {
	return crdt.Fields{
		Title:    rapid.SampledFrom(titles).Draw(t, label+" title"),
		Details:  rapid.SampledFrom(smallText).Draw(t, label+" details"),
		Category: rapid.SampledFrom(smallText).Draw(t, label+" category"),
		Location: rapid.SampledFrom(smallText).Draw(t, label+" location"),
		Contact:  rapid.SampledFrom(smallText).Draw(t, label+" contact"),
		Quantity: rapid.Uint32Range(0, 5).Draw(t, label+" qty"),
		Urgency:  crdt.Urgency(rapid.IntRange(0, 2).Draw(t, label+" urgency")),
		Expires:  rapid.SampledFrom([]int64{0, 0, 500, 1002, 5000}).Draw(t, label+" expires"),
	}
}

type response struct {
	id     crdt.ID
	post   crdt.ID
	author crdt.PublicKey
}

// genOpSet makes one group's ops: a genesis by the founder; joins by
// several authors with invites from the founder or from admins joined
// earlier, some for members and some for admins, some from issuers that
// are never admins and some already expired; then post creates, edits
// with random masks, status changes, responds and unresponds (some by
// the wrong author), by members and non-members alike. Some edits target
// posts whose create is not in the set at all; the permutations of the
// callers make edits arrive before their creates.
func genOpSet(t *rapid.T) opSet {
	m := newOpMaker(t, "set")
	s := opSet{founder: fakeKey("founder"), outsider: fakeKey("outsider")}
	genesis := m.op(s.founder, m.hlc("genesis"), crdt.Genesis{Name: "group", AuthorName: "founder"})
	s.group = genesis.ID
	m.group = s.group
	s.ops = append(s.ops, genesis)

	admins := []crdt.PublicKey{s.founder}
	members := []crdt.PublicKey{s.founder}
	everyone := []crdt.PublicKey{s.founder, s.outsider}
	nAuthors := rapid.IntRange(1, 5).Draw(t, "authors")
	for i := range nAuthors {
		a := fakeKey(fmt.Sprint("author", i))
		everyone = append(everyone, a)
		for j := range rapid.IntRange(0, 2).Draw(t, fmt.Sprint("joins of ", i)) {
			label := fmt.Sprintf("join %d.%d", i, j)
			at := m.hlc(label)
			role := crdt.Role(rapid.IntRange(1, 2).Draw(t, label+" role"))
			in := crdt.Invite{Group: s.group, Role: role, Expires: at.Wall + 1000}
			valid := true
			switch rapid.IntRange(0, 4).Draw(t, label+" issuer") {
			case 0:
				in.Issuer = s.founder
			case 1:
				in.Issuer = rapid.SampledFrom(admins).Draw(t, label+" admin")
			case 2: // an issuer that is never an admin
				nonAdmins := []crdt.PublicKey{s.outsider, a}
				for _, k := range members {
					if !contains(admins, k) {
						nonAdmins = append(nonAdmins, k)
					}
				}
				in.Issuer = rapid.SampledFrom(nonAdmins).Draw(t, label+" non-admin")
				valid = false
			case 3: // expired before the join was made
				in.Issuer = s.founder
				in.Expires = at.Wall - 1
				valid = false
			case 4: // from the founder with a nonce, the same time as another
				in.Issuer = s.founder
				in.Nonce[0] = byte(j + 1)
			}
			s.ops = append(s.ops, m.op(a, at, crdt.Join{Invite: in, Name: rapid.SampledFrom([]string{"x", "y", "z"}).Draw(t, label+" name")}))
			if valid {
				if !contains(members, a) {
					members = append(members, a)
				}
				if role == crdt.RoleAdmin && !contains(admins, a) {
					admins = append(admins, a)
				}
			}
		}
	}

	phantom := m.nextID() // a post whose create never arrives
	posts := []crdt.ID{phantom}
	var responses []response
	for i := range rapid.IntRange(0, 30).Draw(t, "post ops") {
		label := fmt.Sprint("op ", i)
		author := rapid.SampledFrom(everyone).Draw(t, label+" author")
		at := m.hlc(label)
		target := rapid.SampledFrom(posts).Draw(t, label+" target")
		var body crdt.Body
		switch rapid.IntRange(0, 4).Draw(t, label+" kind") {
		case 0:
			body = crdt.PostCreate{
				PostKind: crdt.PostKind(rapid.IntRange(1, 2).Draw(t, label+" post kind")),
				Fields:   genFields(t, label),
				Ref:      rapid.SampledFrom([]string{"", "row-1"}).Draw(t, label+" ref"),
				By:       rapid.SampledFrom(byNames).Draw(t, label+" by"),
			}
		case 1:
			body = crdt.PostEdit{
				Post:   target,
				Set:    crdt.FieldMask(rapid.Uint16Range(1, uint16(crdt.AllFields)).Draw(t, label+" mask")),
				Fields: genFields(t, label),
			}
		case 2:
			body = crdt.PostStatus{Post: target, Status: crdt.Status(rapid.IntRange(0, 3).Draw(t, label+" status"))}
		case 3:
			body = crdt.Respond{
				Post:     target,
				Quantity: rapid.Uint32Range(0, 3).Draw(t, label+" qty"),
				Note:     rapid.SampledFrom(smallText).Draw(t, label+" note"),
				By:       rapid.SampledFrom(byNames).Draw(t, label+" by"),
			}
		case 4:
			r := response{id: phantom, post: target, author: author}
			if len(responses) > 0 && rapid.Bool().Draw(t, label+" known response") {
				r = rapid.SampledFrom(responses).Draw(t, label+" response")
				if rapid.Bool().Draw(t, label+" by its author") {
					author = r.author
				}
			}
			body = crdt.Unrespond{Post: r.post, Response: r.id}
		}
		op := m.op(author, at, body)
		switch body.(type) {
		case crdt.PostCreate:
			posts = append(posts, op.ID)
		case crdt.Respond:
			responses = append(responses, response{id: op.ID, post: target, author: author})
		}
		s.ops = append(s.ops, op)
	}
	return s
}

// genPostOps makes ops that all target one post: its create (unless
// absent), and edits, status changes, responds and unresponds by a few
// authors with colliding timestamps.
func genPostOps(t *rapid.T) (group, post crdt.ID, ops []crdt.Op) {
	m := newOpMaker(t, "post")
	group = m.nextID()
	m.group = group
	authors := []crdt.PublicKey{fakeKey("a"), fakeKey("b"), fakeKey("c")}
	create := m.op(authors[0], m.hlc("create"), crdt.PostCreate{PostKind: crdt.Need, Fields: genFields(t, "create")})
	post = create.ID
	if rapid.IntRange(0, 4).Draw(t, "create present") > 0 {
		ops = append(ops, create)
	}
	var responses []response
	for i := range rapid.IntRange(1, 12).Draw(t, "ops") {
		label := fmt.Sprint("op ", i)
		author := rapid.SampledFrom(authors).Draw(t, label+" author")
		at := m.hlc(label)
		var body crdt.Body
		switch rapid.IntRange(0, 3).Draw(t, label+" kind") {
		case 0:
			body = crdt.PostEdit{
				Post:   post,
				Set:    crdt.FieldMask(rapid.Uint16Range(1, uint16(crdt.AllFields)).Draw(t, label+" mask")),
				Fields: genFields(t, label),
			}
		case 1:
			body = crdt.PostStatus{Post: post, Status: crdt.Status(rapid.IntRange(0, 3).Draw(t, label+" status"))}
		case 2:
			body = crdt.Respond{Post: post, Quantity: rapid.Uint32Range(0, 3).Draw(t, label+" qty"), By: rapid.SampledFrom(byNames).Draw(t, label+" by")}
		case 3:
			r := response{id: m.nextID(), author: author}
			if len(responses) > 0 {
				r = rapid.SampledFrom(responses).Draw(t, label+" response")
				if rapid.Bool().Draw(t, label+" by its author") {
					author = r.author
				}
			}
			body = crdt.Unrespond{Post: post, Response: r.id}
		}
		op := m.op(author, at, body)
		if _, ok := body.(crdt.Respond); ok {
			responses = append(responses, response{id: op.ID, post: post, author: author})
		}
		ops = append(ops, op)
	}
	return group, post, ops
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// shuffledWithDuplicates returns a permutation of ops with some of them
// repeated at random places.
func shuffledWithDuplicates(t *rapid.T, ops []crdt.Op, label string) []crdt.Op {
	out := append([]crdt.Op(nil), ops...)
	for _, i := range rapid.SliceOfN(rapid.IntRange(0, len(ops)-1), 0, 8).Draw(t, label+" duplicates") {
		out = append(out, ops[i])
	}
	return rapid.Permutation(out).Draw(t, label+" order")
}

func boardOf(ops []crdt.Op, group crdt.ID) *crdt.Board {
	b := crdt.NewBoard(group)
	for _, op := range ops {
		b.Apply(op, farFuture)
	}
	return b
}
