package catchuptest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/protocol"
)

// Now is the wall clock, in Unix milliseconds, that every replica a
// Factory opens must read. Authors sign their ops shortly before it.
const Now int64 = 1_700_003_600_000

// An Author signs ops for one group as a real node would: its own seq
// and prev chain, and an HLC that starts an hour before Now.
type Author struct {
	Key ed25519.PrivateKey
	Pub crdt.PublicKey
	// Wall is the wall time of the author's last op; the next op is
	// stamped one millisecond later. Set it to stamp ops elsewhere.
	Wall int64

	seq     uint64
	prev    crdt.ID
	invites int // invites made, to derive each one's secret
}

// NewAuthor returns an author whose key is derived from seed, so that
// every run signs the same ops.
func NewAuthor(seed uint64) *Author {
	var s [ed25519.SeedSize]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	s[31] = 0xc7
	a := &Author{Key: ed25519.NewKeyFromSeed(s[:]), Wall: Now - 3_600_000}
	copy(a.Pub[:], a.Key.Public().(ed25519.PublicKey))
	return a
}

// Seq returns the seq of the author's last op.
func (a *Author) Seq() uint64 { return a.seq }

// Fork returns a copy of the author at its current position: the copy
// signs its next op at the same seq and prev as the author will. Use it
// for forks, and for invalid ops that must not take a seq.
func (a *Author) Fork() *Author {
	c := *a
	return &c
}

// Sign signs the author's next op in group and returns it with its
// encoding. A genesis op gets no group, as the protocol wants.
func (a *Author) Sign(group crdt.ID, body crdt.Body) (crdt.Op, []byte) {
	a.Wall++
	op := crdt.Op{Group: group, Seq: a.seq + 1, Prev: a.prev, Time: crdt.HLC{Wall: a.Wall}, Body: body}
	if _, ok := body.(crdt.Genesis); ok {
		op.Group = crdt.ID{}
	}
	raw, err := protocol.SignOp(&op, a.Key)
	if err != nil {
		panic(fmt.Sprintf("catchuptest: sign %T: %v", body, err))
	}
	a.seq, a.prev = op.Seq, op.ID
	return op, raw
}

// Genesis founds a group and returns its ID and genesis op.
func (a *Author) Genesis(name string) (crdt.ID, []byte) {
	op, raw := a.Sign(crdt.ID{}, crdt.Genesis{Name: name, AuthorName: "founder"})
	return op.ID, raw
}

// Invite returns an invite code for group, signed by the author and
// valid for a week after Now, as `mutual invite` makes one: the invite
// names the public half of a one-time key whose secret only the code
// carries. Unlike protocol.NewInvite, which draws the secret at random,
// the secret is derived from the author's key and a counter, so that
// every run signs the same ops.
func (a *Author) Invite(group crdt.ID, role crdt.Role) *protocol.InviteCode {
	a.invites++
	secret := sha256.Sum256(fmt.Appendf(a.Key.Seed(), "invite %d", a.invites))
	in := crdt.Invite{Group: group, Role: role, Expires: Now + 7*86_400_000}
	copy(in.Key[:], ed25519.NewKeyFromSeed(secret[:]).Public().(ed25519.PublicKey))
	protocol.SignInvite(&in, a.Key)
	return &protocol.InviteCode{Invite: in, Secret: secret, GroupName: "coats", Members: []crdt.PublicKey{a.Pub}}
}

// Join signs the author's join to group with the invite of code, and
// the proof that the author holds the invite's secret.
func (a *Author) Join(group crdt.ID, code *protocol.InviteCode) []byte {
	_, raw := a.Sign(group, crdt.Join{
		Invite: code.Invite,
		Name:   fmt.Sprintf("member-%x", a.Pub[:2]),
		Proof:  protocol.ProveJoin(&code.Invite, code.Secret, a.Pub),
	})
	return raw
}

// Admit signs the author's witness of join, which makes the join count
// if the author is a member (a member's node does this when it sees a
// join; a replica under test has no author's key, so the suite signs).
func (a *Author) Admit(group crdt.ID, join []byte) []byte {
	_, raw := a.Sign(group, crdt.Admit{Join: protocol.OpID(join)})
	return raw
}

// SetRole signs a change of member's role for member's ops after cut.
func (a *Author) SetRole(group crdt.ID, member crdt.PublicKey, role crdt.Role, cut uint64) []byte {
	_, raw := a.Sign(group, crdt.SetRole{Member: member, Role: role, Cut: cut})
	return raw
}

// Remove signs the removal of member, for member's ops after cut (the
// highest seq of member's ops that the author's node holds).
func (a *Author) Remove(group crdt.ID, member crdt.PublicKey, cut uint64) []byte {
	return a.SetRole(group, member, crdt.RoleNone, cut)
}

// Leave signs the author's leave: its later ops do not count.
func (a *Author) Leave(group crdt.ID) []byte {
	_, raw := a.Sign(group, crdt.Leave{})
	return raw
}

// Revoke signs the end of an invite.
func (a *Author) Revoke(group crdt.ID, invite crdt.ID) []byte {
	_, raw := a.Sign(group, crdt.Revoke{Invite: invite})
	return raw
}

// Post signs a new post, the i-th of its author.
func (a *Author) Post(group crdt.ID, i int) []byte {
	_, raw := a.Sign(group, crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{
		Title:    fmt.Sprintf("winter coats, size L, batch %d", i),
		Details:  "for a family of four; pick-up on Saturday at the community centre",
		Category: "clothing",
		Quantity: 4,
	}})
	return raw
}

// Posts signs n posts.
func (a *Author) Posts(group crdt.ID, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = a.Post(group, i)
	}
	return out
}

// Forged returns a copy of raw with one bit of its signature flipped:
// well formed, but not signed by its author.
func Forged(raw []byte) []byte {
	out := append([]byte(nil), raw...)
	out[len(out)-1] ^= 1
	return out
}

// UnknownKind returns a copy of raw whose op kind is one this version of
// the protocol does not know (as an op from a newer node would be).
func UnknownKind(raw []byte) []byte {
	out := append([]byte(nil), raw...)
	if out[0] == 0x9a {
		// Version 1: [0] is the array header, [1] the version, [2] the
		// kind (fixints).
		out[2] = 0x7f
		return out
	}
	// Version 2: [0] is the tag, 0x40 | kind; kind 63 is unknown.
	out[0] = 0x7f
	return out
}

// decode decodes an op the suite signed.
func decode(t *testing.T, raw []byte) crdt.Op {
	t.Helper()
	op, err := protocol.DecodeOp(raw)
	if err != nil {
		t.Fatalf("decode op: %v", err)
	}
	return op
}
