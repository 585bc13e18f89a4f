package protocol

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/sha256"
	"flag"
	"slices"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

var update = flag.Bool("update", false, "rewrite testdata/golden and the seed corpora under testdata/fuzz")

// testKey derives a fixed key from a one-byte seed.
func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func pub(k ed25519.PrivateKey) crdt.PublicKey {
	var p crdt.PublicKey
	copy(p[:], k.Public().(ed25519.PublicKey))
	return p
}

// fixture is one signed op (or other encoded value) with a stable name.
// op.Blob is nil: blob holds the op's sealed blob when it names one, and
// private what the blob holds.
type fixture struct {
	name    string
	op      crdt.Op
	enc     []byte
	blob    []byte
	private Private
}

// fixtureGroupKey is the fixture group key number n: n repeated.
func fixtureGroupKey(n byte) [GroupKeySize]byte {
	return [GroupKeySize]byte(bytes.Repeat([]byte{n}, GroupKeySize))
}

// fixtureKeyring holds the fixture group keys 1 and 2.
func fixtureKeyring(id crdt.KeyID) ([GroupKeySize]byte, bool) {
	for _, n := range []byte{1, 2} {
		if k := fixtureGroupKey(n); KeyIDOf(k) == id {
			return k, true
		}
	}
	return [GroupKeySize]byte{}, false
}

// boxOf is the box key a member announces.
func boxOf(k ed25519.PrivateKey) crdt.BoxKey {
	_, b := BoxKeyOf(k)
	return b
}

// fixtureShares shares group key n of group with members, sealed with
// fixed ephemeral keys (seed 0xe0+n, then the member's index) so that
// the bytes never change, sorted by member.
func fixtureShares(tb testing.TB, group crdt.ID, n byte, members ...ed25519.PrivateKey) crdt.GroupKey {
	k := fixtureGroupKey(n)
	gk := crdt.GroupKey{Key: KeyIDOf(k)}
	for i, m := range members {
		var eph [32]byte
		eph[0], eph[1] = 0xe0+n, byte(i)
		gk.Shares = append(gk.Shares, crdt.Share{Member: pub(m), Sealed: specSealShare(tb, group, k, pub(m), boxOf(m), eph)})
	}
	slices.SortFunc(gk.Shares, func(a, b crdt.Share) int { return a.Member.Compare(b.Member) })
	return gk
}

// fixtureSeal seals p under group key 1 with a fixed nonce (n repeated).
func fixtureSeal(tb testing.TB, group crdt.ID, n byte, p Private) ([]byte, crdt.ID) {
	blob := specSealPrivate(tb, group, fixtureGroupKey(1), [24]byte(bytes.Repeat([]byte{n}, 24)), p.Location, p.Contact)
	return blob, sha256.Sum256(blob)
}

// Fixed keys: the founder (Alice), a member (Bob) and an admin (Carol).
var (
	aliceKey = testKey(1)
	bobKey   = testKey(2)
	carolKey = testKey(3)
	malKey   = testKey(66)
	daveKey  = testKey(4) // a visitor from another group
)

const t0 = 1_767_225_600_000 // 2026-01-01T00:00:00Z in Unix milliseconds

// inviteTTL is how long the fixture invites last.
const inviteTTL = 7 * 24 * 3600 * 1000

// fixtureSecret is a fixed one-time invite secret (an ed25519 seed).
func fixtureSecret(seed byte) [32]byte {
	var s [32]byte
	for i := range s {
		s[i] = seed
	}
	return s
}

// fixtureInvite returns the invite Alice signs for group g, with the
// one-time key of the secret fixtureSecret(seed). It is what NewInvite
// makes, with a fixed secret instead of a random one, so that its bytes
// never change (TestNewInvite checks that NewInvite derives the key the
// same way).
func fixtureInvite(g crdt.ID, role crdt.Role, uses uint32, seed byte) (crdt.Invite, [32]byte) {
	secret := fixtureSecret(seed)
	in := crdt.Invite{Group: g, Role: role, Expires: t0 + inviteTTL, Uses: uses}
	copy(in.Key[:], ed25519.NewKeyFromSeed(secret[:]).Public().(ed25519.PublicKey))
	SignInvite(&in, aliceKey)
	return in, secret
}

// fixtureJoin returns a join of joiner with the invite of seed, and its
// proof.
func fixtureJoin(g crdt.ID, role crdt.Role, uses uint32, seed byte, joiner ed25519.PrivateKey, name string) crdt.Join {
	in, secret := fixtureInvite(g, role, uses, seed)
	return crdt.Join{Invite: in, Name: name, Proof: ProveJoin(&in, secret, pub(joiner)), Box: boxOf(joiner)}
}

// Secrets of the fixture invites.
const (
	seedMemberInvite = 0xa1 // Bob's, one use
	seedAdminInvite  = 0xa2 // Carol's, unlimited
	seedMadeInvite   = 0xa3 // recorded by invite_made, then revoked
	seedCodeInvite   = 0xa4 // in the invite code
)

// fixtures returns fixed, signed ops of every kind, each valid for the
// crdt in the order given. They never change: golden files hold them
// (and the sealed parts are made with fixed ephemeral keys and nonces).
//
// The story: Alice founds the group (naming group key 1); Bob (member)
// and Carol (admin) join and Alice admits them; Alice posts, with the
// location and contact sealed in a blob; Carol offers soup, edits
// Alice's post, withdraws her offer; Bob claims Alice's post, responds
// and takes the response back; Alice shares key 1 with the three of
// them, moves her post's location (a new blob), records an invite and
// revokes it, promotes Bob, demotes and then removes Carol (each cut at
// Carol's last op, so her posts stand), shares a new key 2 with Bob and
// herself, erases her post's private fields and sets the retention to a
// week; Bob leaves. (In version 2, then: a visit, a sealed response, a
// federation, and Alice renames herself.)
func fixtures(tb testing.TB) []fixture {
	tb.Helper()
	return fixturesIn(tb, 0)
}

// fixturesV1 are the fixtures signed in version 1 of the op encoding, as
// every node wrote them before version 2: their bytes are the goldens
// under testdata/golden/v1.
func fixturesV1(tb testing.TB) []fixture {
	tb.Helper()
	return fixturesIn(tb, 1)
}

func fixturesIn(tb testing.TB, version uint8) []fixture {
	tb.Helper()
	var out []fixture
	prev := map[crdt.PublicKey]crdt.Op{}
	var group crdt.ID
	var blob []byte // the next op's
	var private Private
	add := func(name string, key ed25519.PrivateKey, at crdt.HLC, body crdt.Body) crdt.Op {
		op := crdt.Op{Group: group, Time: at, Body: body, Version: version}
		if p, ok := prev[pub(key)]; ok {
			op.Seq, op.Prev = p.Seq+1, p.ID
		} else {
			op.Seq = 1
		}
		b, err := SignOp(&op, key)
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		prev[op.Author] = op
		out = append(out, fixture{name: name, op: op, enc: b, blob: blob, private: private})
		blob, private = nil, Private{}
		return op
	}
	var nonce [16]byte
	copy(nonce[:], "0123456789abcdef")
	genesis := add("genesis", aliceKey, crdt.HLC{Wall: t0}, crdt.Genesis{
		Name: "Food bank", Nonce: nonce, AuthorName: "Alice", Box: boxOf(aliceKey), Key: KeyIDOf(fixtureGroupKey(1)),
	})
	group = genesis.ID
	joinBob := add("join_member", bobKey, crdt.HLC{Wall: t0 + 1000}, fixtureJoin(group, crdt.RoleMember, 1, seedMemberInvite, bobKey, "Bob"))
	joinCarol := add("join_admin", carolKey, crdt.HLC{Wall: t0 + 1000, Logical: 1}, fixtureJoin(group, crdt.RoleAdmin, 0, seedAdminInvite, carolKey, "Carol"))
	private = Private{Location: "Community hall, back door", Contact: "+44 20 7946 0000"}
	var sum crdt.ID
	blob, sum = fixtureSeal(tb, group, 0x11, private)
	create := add("post_create", aliceKey, crdt.HLC{Wall: t0 + 2000}, crdt.PostCreate{
		PostKind: crdt.Need,
		Fields: crdt.Fields{
			Title:    "Winter coats",
			Details:  "Adult sizes M–XL, clean, for the Saturday drop-in. ☃",
			Category: "clothing",
			Quantity: 4,
			Urgency:  crdt.UrgencyHigh,
			Expires:  t0 + 14*24*3600*1000,
		},
		Ref:     "sheet:row-17",
		Private: sum,
	})
	offer := add("post_create_offer", carolKey, crdt.HLC{Wall: t0 + 2500}, crdt.PostCreate{PostKind: crdt.Offer, Fields: crdt.Fields{Title: "Soup"}})
	add("post_edit", carolKey, crdt.HLC{Wall: t0 + 3000}, crdt.PostEdit{
		Post: create.ID, Set: crdt.FieldTitle | crdt.FieldQuantity,
		Fields: crdt.Fields{Title: "Warm winter coats", Quantity: 6},
	})
	add("post_status", bobKey, crdt.HLC{Wall: t0 + 4000}, crdt.PostStatus{Post: create.ID, Status: crdt.Claimed})
	add("post_withdraw", carolKey, crdt.HLC{Wall: t0 + 4500}, crdt.PostStatus{Post: offer.ID, Status: crdt.Withdrawn})
	respond := add("respond", bobKey, crdt.HLC{Wall: t0 + 5000}, crdt.Respond{Post: create.ID, Quantity: 3, Note: "Three, Saturday 10:00"})
	add("unrespond", bobKey, crdt.HLC{Wall: t0 + 6000}, crdt.Unrespond{Post: create.ID, Response: respond.ID})
	add("admit_member", aliceKey, crdt.HLC{Wall: t0 + 6500}, crdt.Admit{Join: joinBob.ID})
	add("admit_admin", aliceKey, crdt.HLC{Wall: t0 + 6600}, crdt.Admit{Join: joinCarol.ID})
	add("group_key", aliceKey, crdt.HLC{Wall: t0 + 6700}, fixtureShares(tb, group, 1, aliceKey, bobKey, carolKey))
	private = Private{Location: "Community hall, front door"}
	blob, sum = fixtureSeal(tb, group, 0x12, private)
	add("post_edit_private", aliceKey, crdt.HLC{Wall: t0 + 6800}, crdt.PostEdit{
		Post: create.ID, Set: crdt.FieldLocation | crdt.FieldContact, Private: sum,
	})
	made, _ := fixtureInvite(group, crdt.RoleMember, 5, seedMadeInvite)
	add("invite_made", aliceKey, crdt.HLC{Wall: t0 + 7000}, crdt.InviteMade{Invite: made})
	add("revoke", aliceKey, crdt.HLC{Wall: t0 + 8000}, crdt.Revoke{Invite: made.ID})
	add("role_promote", aliceKey, crdt.HLC{Wall: t0 + 9000}, crdt.SetRole{Member: pub(bobKey), Role: crdt.RoleAdmin, Cut: prev[pub(bobKey)].Seq})
	add("role_demote", aliceKey, crdt.HLC{Wall: t0 + 9100}, crdt.SetRole{Member: pub(carolKey), Role: crdt.RoleMember, Cut: prev[pub(carolKey)].Seq})
	add("role_remove", aliceKey, crdt.HLC{Wall: t0 + 9200}, crdt.SetRole{Member: pub(carolKey), Role: crdt.RoleNone, Cut: prev[pub(carolKey)].Seq})
	add("group_key_rotate", aliceKey, crdt.HLC{Wall: t0 + 9250}, fixtureShares(tb, group, 2, aliceKey, bobKey))
	add("erase", aliceKey, crdt.HLC{Wall: t0 + 9300}, crdt.Erase{Post: create.ID})
	add("settings", aliceKey, crdt.HLC{Wall: t0 + 9400}, crdt.Settings{Retention: 7 * 24 * 3600 * 1000})
	add("leave", bobKey, crdt.HLC{Wall: t0 + 10_000}, crdt.Leave{})
	if version == 0 {
		// Help across boards (kinds 32 and 33 and Respond's private
		// exist in version 2 only): Dave, a member of another group,
		// visits and answers Alice's post with a contact sealed to Alice
		// and Carol; Alice blocks a third group's visitors.
		add("visit", daveKey, crdt.HLC{Wall: t0 + 11_000}, crdt.Visit{From: fixtureOtherGroup, Name: "Dave", Box: boxOf(daveKey)})
		private = Private{Contact: "dave@riverside.example"}
		blob, sum = fixtureSealTo(tb, group, private, aliceKey, carolKey)
		respondPrivate := add("respond_private", daveKey, crdt.HLC{Wall: t0 + 11_500}, crdt.Respond{Post: create.ID, Quantity: 4, Note: "We have 4 coats", Private: sum})
		add("federation", aliceKey, crdt.HLC{Wall: t0 + 12_000}, crdt.Federation{Blocked: []crdt.ID{fixtureBlockedGroup}})
		// Kind 11 (version 2 only): Alice renames herself.
		add("rename", aliceKey, crdt.HLC{Wall: t0 + 13_000}, crdt.Rename{Name: "Alice (hall)"})
		// Kind 12 (version 2 only): Alice, who opened Dave's contact,
		// hands it on to the group under the group key.
		private = Private{Contact: "dave@riverside.example"}
		blob, sum = fixtureSeal(tb, group, 0x13, private)
		add("handon", aliceKey, crdt.HLC{Wall: t0 + 14_000}, crdt.HandOn{Post: create.ID, Response: respondPrivate.ID, Private: sum})
	}
	return out
}

// Groups named by the help-across-boards fixtures.
var (
	fixtureOtherGroup   = crdt.ID(bytes.Repeat([]byte{0x52}, 32))
	fixtureBlockedGroup = crdt.ID(bytes.Repeat([]byte{0x53}, 32))
)

// fixtureSealTo seals p to members' box keys with a fixed ephemeral key
// (0xd0 repeated), content key (0xd1) and nonce (0xd2).
func fixtureSealTo(tb testing.TB, group crdt.ID, p Private, members ...ed25519.PrivateKey) ([]byte, crdt.ID) {
	tb.Helper()
	eph, err := ecdh.X25519().NewPrivateKey(bytes.Repeat([]byte{0xd0}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	var to []crdt.BoxKey
	for _, m := range members {
		to = append(to, boxOf(m))
	}
	blob, sum, err := sealTo(group, to, p, eph, [32]byte(bytes.Repeat([]byte{0xd1}, 32)), bytes.Repeat([]byte{0xd2}, 24))
	if err != nil {
		tb.Fatal(err)
	}
	return blob, sum
}

func fixtureNamed(tb testing.TB, name string) fixture {
	tb.Helper()
	return fixtureNamedIn(tb, name, 0)
}

func fixtureNamedV1(tb testing.TB, name string) fixture {
	tb.Helper()
	return fixtureNamedIn(tb, name, 1)
}

func fixtureNamedIn(tb testing.TB, name string, version uint8) fixture {
	tb.Helper()
	for _, f := range fixturesIn(tb, version) {
		if f.name == name {
			return f
		}
	}
	tb.Fatalf("no fixture %q", name)
	return fixture{}
}

// fixtureBoard applies every fixture op and returns the board.
func fixtureBoard(tb testing.TB) (*crdt.Board, crdt.ID) {
	tb.Helper()
	fs := fixtures(tb)
	b := crdt.NewBoard(fs[0].op.ID)
	for _, f := range fs {
		if f.name == "visit" {
			break // the help-across-boards fixtures: byFixtures continues before them
		}
		if v, err, _ := b.Apply(f.op, t0+20_000); v != crdt.Accept {
			tb.Fatalf("fixture %s: %v %v", f.name, v, err)
		}
	}
	b.Refresh()
	return b, fixtureNamed(tb, "post_create").op.ID
}

func fixtureInviteCode() *InviteCode {
	var g crdt.ID
	copy(g[:], bytes.Repeat([]byte{0x42}, 32))
	in, secret := fixtureInvite(g, crdt.RoleMember, 10, seedCodeInvite)
	return &InviteCode{
		Invite:    in,
		Secret:    secret,
		GroupName: "Food bank",
		Addrs: []string{
			"/ip4/192.168.1.20/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN",
			"/ip4/192.168.1.20/udp/4001/quic-v1/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN",
		},
	}
}

func fixtureEmptyPost() *crdt.Post { return crdt.NewPost(crdt.ID{1}, crdt.ID{2}) }
