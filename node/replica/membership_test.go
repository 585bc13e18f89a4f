package replica_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/protocol"
)

// history is a group's ops as its authors made them: invites, joins,
// witnesses, promotions, removals with cuts, leaves, posts, edits,
// statuses, responses and forks, signed for real.
type history struct {
	group crdt.ID
	ops   [][]byte
}

type author struct {
	key  ed25519.PrivateKey
	pub  crdt.PublicKey
	seq  uint64
	prev crdt.ID
	wall int64
}

func newAuthor(t *rapid.T, i int) *author {
	var seed [32]byte
	seed[0], seed[1] = byte(i), 0x5a
	a := &author{key: ed25519.NewKeyFromSeed(seed[:])}
	copy(a.pub[:], a.key.Public().(ed25519.PublicKey))
	return a
}

func (a *author) sign(t *rapid.T, g crdt.ID, now *int64, body crdt.Body) (crdt.Op, []byte) {
	*now += rapid.Int64Range(0, 3).Draw(t, "tick")
	op := crdt.Op{Group: g, Seq: a.seq + 1, Prev: a.prev, Time: crdt.HLC{Wall: *now}, Body: body}
	if _, ok := body.(crdt.Genesis); ok {
		op.Group = crdt.ID{}
	}
	raw, err := protocol.SignOp(&op, a.key)
	if err != nil {
		t.Fatalf("sign %T: %v", body, err)
	}
	a.seq, a.prev = op.Seq, op.ID
	return op, raw
}

// genHistory draws a history among a founder and up to four others.
func genHistory(t *rapid.T) history {
	now := time.Now().UnixMilli() - 3_600_000
	authors := []*author{newAuthor(t, 0)}
	f := authors[0]
	gen, raw := f.sign(t, crdt.ID{}, &now, crdt.Genesis{Name: "g", AuthorName: "f"})
	h := history{group: gen.ID, ops: [][]byte{raw}}
	g := gen.ID
	type joined struct {
		a    *author
		join crdt.ID
	}
	var members []joined
	var posts []crdt.ID
	members = append(members, joined{f, gen.ID})
	pick := func(label string) *author {
		return members[rapid.IntRange(0, len(members)-1).Draw(t, label)].a
	}
	n := rapid.IntRange(5, 25).Draw(t, "steps")
	for i := 0; i < n; i++ {
		switch rapid.IntRange(0, 9).Draw(t, "action") {
		case 0, 1: // someone new joins, invited by a member (an admin, or not)
			if len(authors) > 4 {
				continue
			}
			issuer := pick("issuer")
			role := crdt.Role(rapid.IntRange(1, 2).Draw(t, "role"))
			in, secret, err := protocol.NewInvite(crdt.Invite{Group: g, Role: role, Expires: now + rapid.Int64Range(0, 40).Draw(t, "ttl"),
				Uses: uint32(rapid.IntRange(0, 2).Draw(t, "uses"))}, issuer.key)
			if err != nil {
				t.Fatal(err)
			}
			_, raw := issuer.sign(t, g, &now, crdt.InviteMade{Invite: in})
			h.ops = append(h.ops, raw)
			newcomer := newAuthor(t, len(authors))
			authors = append(authors, newcomer)
			j, raw := newcomer.sign(t, g, &now, crdt.Join{Invite: in, Name: fmt.Sprint("m", len(authors)), Proof: protocol.ProveJoin(&in, secret, newcomer.pub)})
			h.ops = append(h.ops, raw)
			if rapid.Bool().Draw(t, "witnessed") {
				w := pick("witness")
				_, raw = w.sign(t, g, &now, crdt.Admit{Join: j.ID})
				h.ops = append(h.ops, raw)
			}
			members = append(members, joined{newcomer, j.ID})
		case 2, 3, 4: // a post
			a := pick("poster")
			op, raw := a.sign(t, g, &now, crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: fmt.Sprint("p", i), Quantity: 2}})
			h.ops = append(h.ops, raw)
			posts = append(posts, op.ID)
		case 5: // a change to a post, by anyone
			if len(posts) == 0 {
				continue
			}
			p := posts[rapid.IntRange(0, len(posts)-1).Draw(t, "post")]
			var body crdt.Body
			switch rapid.IntRange(0, 2).Draw(t, "change") {
			case 0:
				body = crdt.PostEdit{Post: p, Set: crdt.FieldDetails, Fields: crdt.Fields{Details: fmt.Sprint("d", i)}}
			case 1:
				body = crdt.PostStatus{Post: p, Status: crdt.Status(rapid.IntRange(0, 3).Draw(t, "status"))}
			default:
				body = crdt.Respond{Post: p, Quantity: 1}
			}
			_, raw := pick("changer").sign(t, g, &now, body)
			h.ops = append(h.ops, raw)
		case 6: // a role change or removal, with a cut at or below what the admin saw
			x, y := pick("admin"), pick("target")
			if x == y || y.seq == 0 {
				continue
			}
			cut := uint64(rapid.IntRange(1, int(y.seq)).Draw(t, "cut"))
			_, raw := x.sign(t, g, &now, crdt.SetRole{Member: y.pub, Role: crdt.Role(rapid.IntRange(0, 2).Draw(t, "newrole")), Cut: cut})
			h.ops = append(h.ops, raw)
		case 7: // a leave
			a := pick("leaver")
			_, raw := a.sign(t, g, &now, crdt.Leave{})
			h.ops = append(h.ops, raw)
		case 8: // a fork: a copy of an author signs another op at its next seq
			a := pick("forker")
			twin := *a
			_, raw := twin.sign(t, g, &now, crdt.PostCreate{PostKind: crdt.Offer, Fields: crdt.Fields{Title: fmt.Sprint("twin", i)}})
			h.ops = append(h.ops, raw)
		case 9: // a revoke of an invite made earlier (its ID is the hash of its encoding)
			a := pick("revoker")
			in, _, err := protocol.NewInvite(crdt.Invite{Group: g, Role: crdt.RoleMember, Expires: now + 10}, a.key)
			if err != nil {
				t.Fatal(err)
			}
			_, raw := a.sign(t, g, &now, crdt.InviteMade{Invite: in})
			h.ops = append(h.ops, raw)
			_, raw = a.sign(t, g, &now, crdt.Revoke{Invite: in.ID})
			h.ops = append(h.ops, raw)
		}
	}
	return h
}

// deliver hands ops to n in a random order, in random batches, with
// duplicates, again and again until nothing new is stored (as catch-up
// sends again what could not be kept yet).
func deliver(t *rapid.T, n *node, h history, rng *rand.Rand) {
	ctx := context.Background()
	for round := 0; round < 50; round++ {
		ops := append([][]byte(nil), h.ops...)
		ops = append(ops, h.ops[:rng.IntN(len(h.ops))]...)
		rng.Shuffle(len(ops), func(i, j int) { ops[i], ops[j] = ops[j], ops[i] })
		stored := 0
		for len(ops) > 0 {
			k := 1 + rng.IntN(min(len(ops), 8))
			res, err := n.r.Ingest(ctx, ops[:k])
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res {
				switch r.Outcome {
				case replica.New, replica.Parked, replica.Fork:
					stored++
				case replica.Rejected:
					t.Fatalf("op %s rejected: %v", r.ID.Short(), r.Err)
				}
			}
			ops = ops[k:]
		}
		if stored == 0 {
			return
		}
	}
	t.Fatal("delivery did not settle in 50 rounds")
}

// A replica's board is a function of the ops it holds: two Badger
// replicas fed the same history in different orders, batches and
// duplications agree with each other and with the reference model
// (crdt.Board) over the same ops, whatever invites, witnesses,
// removals, role changes, leaves and forks the history holds.
func TestReplicaAgreesWithReferenceModelUnderMembershipChanges(tt *testing.T) {
	rapid.Check(tt, func(t *rapid.T) {
		h := genHistory(t)
		seed := rapid.Uint64().Draw(t, "seed")
		var hashes []crdt.ID
		for i := range 2 {
			_, key, _ := ed25519.GenerateKey(nil)
			dir, err := os.MkdirTemp("", "mutual-membership")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(dir)
			n := open(tt, dir, key, replica.Config{})
			if err := replica.AddGroupForTest(n.r, h.group, h.ops[0]); err != nil {
				n.close()
				t.Fatal(err)
			}
			deliver(t, n, h, rand.New(rand.NewPCG(seed, uint64(i))))
			stored, recomputed, err := n.r.Check(h.group)
			n.close()
			if err != nil {
				t.Fatal(err)
			}
			if stored != recomputed {
				t.Fatalf("replica %d: stored state %s != recomputed from its ops %s", i, stored.Short(), recomputed.Short())
			}
			hashes = append(hashes, stored)
		}
		b := crdt.NewBoard(h.group)
		for _, raw := range h.ops {
			op, err := protocol.DecodeOp(raw)
			if err != nil {
				t.Fatal(err)
			}
			b.Apply(op, 1<<62)
		}
		if hashes[0] != hashes[1] || hashes[0] != b.Hash() {
			t.Fatalf("hashes differ: replica 0 %s, replica 1 %s, reference %s", hashes[0].Short(), hashes[1].Short(), b.Hash().Short())
		}
	})
}

// Ops that arrive before their author's join are not kept aside any
// more (they were, under a key that a release in the same batch left on
// disk forever): they are dropped and sent again by catch-up, and once
// the join is held they are stored in the author's log like any other.
func TestOpsBeforeTheirJoinLeaveNothingAside(t *testing.T) {
	ctx := context.Background()
	a, b := newNode(t), newNode(t)
	g := newGroup(t, a, "g")
	code, _, err := a.r.Invite(ctx, g, replica.InviteOptions{Role: crdt.RoleMember, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.r.Join(ctx, code); err != nil {
		t.Fatal(err)
	}
	p := post(t, b, g, replica.PostInput{Kind: crdt.Offer, Fields: crdt.Fields{Title: "van"}})
	var join, create []byte
	if err := b.r.Sync().OpsAfter(g, b.r.Self(), 0, func(raw []byte) error {
		if join == nil {
			join = raw
		} else {
			create = raw
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	res, err := a.r.Ingest(ctx, [][]byte{create})
	if err != nil || res[0].Outcome != replica.Ignored {
		t.Fatalf("a post before its author's join: %+v %v; want ignored", res, err)
	}
	// The join and the post in one batch: the join is witnessed, the
	// post counts, and nothing stays aside.
	if _, err := a.r.Ingest(ctx, [][]byte{create, join, create}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.r.Ingest(ctx, [][]byte{create}); err != nil {
		t.Fatal(err)
	}
	if got, err := a.r.Post(p.ID); err != nil || got.Title.V != "van" {
		t.Fatalf("the newcomer's post on the admin's board: %v %v", got, err)
	}
	parked, err := a.st.ParkedOps(g)
	if err != nil || len(parked) != 0 {
		t.Fatalf("%d ops left aside on disk (%v)", len(parked), err)
	}
	check(t, a, g)
}
