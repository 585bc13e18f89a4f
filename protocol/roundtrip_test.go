package protocol

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/mutual-aid/mutual/crdt"
	"pgregory.net/rapid"
)

var rtKeys = []ed25519.PrivateKey{testKey(1), testKey(2), testKey(3), testKey(4)}

func genID(t *rapid.T, label string) crdt.ID {
	var id crdt.ID
	copy(id[:], rapid.SliceOfN(rapid.Byte(), 32, 32).Draw(t, label))
	return id
}

// genText draws valid UTF-8 of at most max bytes, often at the limit.
func genText(t *rapid.T, label string, max int) string {
	switch rapid.IntRange(0, 3).Draw(t, label+" shape") {
	case 0:
		return ""
	case 1: // at or near the limit, multi-byte runes included
		s := rapid.StringN(0, -1, max).Draw(t, label)
		for len(s)+len("☃") <= max {
			s += "☃"
		}
		for len(s) < max {
			s += "a"
		}
		return s
	}
	return rapid.StringN(0, -1, max).Draw(t, label)
}

func genFields(t *rapid.T, needTitle bool) crdt.Fields {
	f := crdt.Fields{
		Title:    genText(t, "title", MaxTitle),
		Details:  genText(t, "details", MaxDetails),
		Category: genText(t, "category", MaxCategory),
		Quantity: rapid.Uint32().Draw(t, "qty"),
		Urgency:  crdt.Urgency(rapid.IntRange(0, 2).Draw(t, "urgency")),
		Expires:  rapid.Int64Range(0, math.MaxInt64).Draw(t, "expires"),
	}
	if needTitle && strings.TrimSpace(f.Title) == "" { // a blank title is no title
		f.Title = "t"
	}
	return f
}

// genInvite draws an invite for group signed by issuer, and its secret.
func genInvite(t *rapid.T, group crdt.ID, issuer ed25519.PrivateKey, notBefore int64) (crdt.Invite, [32]byte) {
	var secret [32]byte
	copy(secret[:], rapid.SliceOfN(rapid.Byte(), 32, 32).Draw(t, "invite secret"))
	in := crdt.Invite{
		Group:   group,
		Role:    crdt.Role(rapid.IntRange(1, 2).Draw(t, "role")),
		Expires: rapid.Int64Range(notBefore, math.MaxInt64).Draw(t, "invite expires"),
		Uses:    rapid.OneOf(rapid.Just(uint32(0)), rapid.Uint32()).Draw(t, "uses"),
	}
	copy(in.Key[:], ed25519.NewKeyFromSeed(secret[:]).Public().(ed25519.PublicKey))
	SignInvite(&in, issuer)
	return in, secret
}

func genBox(t *rapid.T, label string) crdt.BoxKey {
	if rapid.Bool().Draw(t, label+" derived") {
		return boxOf(rapid.SampledFrom(rtKeys).Draw(t, label+" of"))
	}
	return crdt.BoxKey(genID(t, label))
}

func genKeyID(t *rapid.T, label string) crdt.KeyID {
	return crdt.KeyID(rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, label))
}

// genBlob draws a blob: the sealed bytes are opaque to the op, so any 1
// to MaxBlobBytes bytes, often at the edges of bin8 and bin16.
func genBlob(t *rapid.T) []byte {
	n := rapid.OneOf(rapid.SampledFrom([]int{1, 255, 256, MaxBlobBytes}), rapid.IntRange(1, MaxBlobBytes)).Draw(t, "blob size")
	b := make([]byte, n)
	copy(b, rapid.SliceOfN(rapid.Byte(), 0, n).Draw(t, "blob"))
	return b
}

// genValidOp draws an unsigned op that the crdt's shape checks accept
// and that is within every protocol limit: any kind, any seq (1 only for
// genesis and join), any clock; and the blob a post op names, if any.
func genValidOp(t *rapid.T) (crdt.Op, ed25519.PrivateKey, []byte) {
	key := rapid.SampledFrom(rtKeys).Draw(t, "key")
	kind := rapid.SampledFrom([]crdt.Kind{
		crdt.KindGenesis, crdt.KindJoin, crdt.KindInvite, crdt.KindRevoke, crdt.KindAdmit, crdt.KindSetRole, crdt.KindLeave,
		crdt.KindGroupKey, crdt.KindErase, crdt.KindSettings, crdt.KindRename, crdt.KindHandOn,
		crdt.KindPostCreate, crdt.KindPostEdit, crdt.KindPostStatus, crdt.KindRespond, crdt.KindUnrespond,
	}).Draw(t, "kind")
	var blob []byte
	private := func() crdt.ID {
		if !rapid.Bool().Draw(t, "private") {
			return crdt.ID{}
		}
		blob = genBlob(t)
		return sha256.Sum256(blob)
	}
	first := rapid.Just(uint64(1))
	later := rapid.Uint64Range(2, math.MaxUint64)
	seq := later
	if kind == crdt.KindJoin {
		seq = rapid.OneOf(first, later)
	}
	op := crdt.Op{
		Author: pub(key), // as SignOp will set it: the crdt checks it against the body
		Group:  genID(t, "group"),
		Seq:    seq.Draw(t, "seq"),
		Time: crdt.HLC{
			Wall:    rapid.OneOf(rapid.Int64Range(1, 1<<45), rapid.Int64Range(1, math.MaxInt64)).Draw(t, "wall"),
			Logical: rapid.Uint32().Draw(t, "logical"),
		},
	}
	if op.Seq > 1 {
		op.Prev = genID(t, "prev")
		if op.Prev.IsZero() {
			op.Prev[0] = 1
		}
	}
	if op.Group.IsZero() {
		op.Group[0] = 1
	}
	nonZero := func(label string) crdt.ID {
		id := genID(t, label)
		if id.IsZero() {
			id[0] = 1
		}
		return id
	}
	switch kind {
	case crdt.KindGenesis:
		var b crdt.Genesis
		b.Name = genText(t, "name", MaxName)
		if strings.TrimSpace(b.Name) == "" { // a group needs a name
			b.Name = "g"
		}
		copy(b.Nonce[:], rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "nonce"))
		b.AuthorName = genText(t, "author name", MaxName)
		b.Box, b.Key = genBox(t, "box"), genKeyID(t, "first key")
		op.Body, op.Group, op.Seq, op.Prev = b, crdt.ID{}, 1, crdt.ID{}
	case crdt.KindJoin:
		in, secret := genInvite(t, op.Group, rapid.SampledFrom(rtKeys).Draw(t, "issuer"), 1)
		op.Body = crdt.Join{Invite: in, Name: genText(t, "name", MaxName), Proof: ProveJoin(&in, secret, pub(key)), Box: genBox(t, "box")}
	case crdt.KindInvite:
		in, _ := genInvite(t, op.Group, key, 1) // recorded by its issuer
		op.Body = crdt.InviteMade{Invite: in}
	case crdt.KindRevoke:
		op.Body = crdt.Revoke{Invite: nonZero("invite")}
	case crdt.KindAdmit:
		op.Body = crdt.Admit{Join: nonZero("join")}
	case crdt.KindSetRole:
		member := pub(rapid.SampledFrom(rtKeys).Filter(func(k ed25519.PrivateKey) bool { return !k.Equal(key) }).Draw(t, "member"))
		if rapid.Bool().Draw(t, "stranger") { // anyone's key, not only the generator's
			member = crdt.PublicKey(genID(t, "member key"))
		}
		op.Body = crdt.SetRole{
			Member: member,
			Role:   crdt.Role(rapid.IntRange(0, 2).Draw(t, "new role")),
			Cut:    rapid.OneOf(rapid.Just(uint64(1)), rapid.Uint64Range(1, math.MaxUint64)).Draw(t, "cut"),
		}
	case crdt.KindLeave:
		op.Body = crdt.Leave{}
	case crdt.KindGroupKey:
		n := rapid.OneOf(rapid.IntRange(1, 3), rapid.SampledFrom([]int{15, 16, crdt.MaxShares})).Draw(t, "shares")
		members := map[crdt.PublicKey]bool{}
		for len(members) < n {
			members[crdt.PublicKey(genID(t, "member"))] = true
		}
		var b crdt.GroupKey
		for _, m := range slices.SortedFunc(maps.Keys(members), crdt.PublicKey.Compare) {
			var sh crdt.Share
			sh.Member = m
			copy(sh.Sealed[:], rapid.SliceOfN(rapid.Byte(), crdt.SealedShareSize, crdt.SealedShareSize).Draw(t, "sealed"))
			b.Shares = append(b.Shares, sh)
		}
		b.Key = genKeyID(t, "key ID")
		if b.Key.IsZero() {
			b.Key[0] = 1
		}
		op.Body = b
	case crdt.KindErase:
		op.Body = crdt.Erase{Post: nonZero("post")}
	case crdt.KindSettings:
		op.Body = crdt.Settings{Retention: rapid.OneOf(rapid.SampledFrom([]int64{1, 127, 128, 1 << 32, crdt.MaxRetention}), rapid.Int64Range(1, crdt.MaxRetention)).Draw(t, "retention")}
	case crdt.KindPostCreate:
		op.Body = crdt.PostCreate{
			PostKind: crdt.PostKind(rapid.IntRange(1, 2).Draw(t, "post kind")),
			Fields:   genFields(t, true),
			Ref:      genText(t, "ref", MaxRef),
			By:       genText(t, "by", MaxName),
			Private:  private(),
		}
	case crdt.KindPostEdit:
		set := crdt.FieldMask(rapid.Uint16Range(1, uint16(crdt.AllFields)).Draw(t, "mask"))
		op.Body = crdt.PostEdit{Post: nonZero("post"), Set: set, Fields: genFields(t, set&crdt.FieldTitle != 0), Private: private()}
	case crdt.KindPostStatus:
		op.Body = crdt.PostStatus{Post: nonZero("post"), Status: crdt.Status(rapid.IntRange(0, 3).Draw(t, "status"))}
	case crdt.KindRespond:
		op.Body = crdt.Respond{Post: nonZero("post"), Quantity: rapid.Uint32().Draw(t, "qty"), Note: genText(t, "note", MaxNote), By: genText(t, "by", MaxName)}
	case crdt.KindUnrespond:
		op.Body = crdt.Unrespond{Post: nonZero("post"), Response: nonZero("response")}
	case crdt.KindHandOn:
		blob = genBlob(t)
		op.Body = crdt.HandOn{Post: nonZero("post"), Response: nonZero("response"), Private: sha256.Sum256(blob)}
	case crdt.KindRename:
		// any text the crdt takes as a name (crdt.CheckName), up to the limit
		name := strings.Map(func(r rune) rune {
			if unicode.IsControl(r) || crdt.IsBidiControl(r) {
				return 'x'
			}
			return r
		}, strings.TrimSpace(genText(t, "name", MaxName)))
		if crdt.CheckName(name) != nil {
			name = "x"
		}
		op.Body = crdt.Rename{Name: name}
	}
	return op, key, blob
}

// Every op the crdt accepts, signed with SignOp, decodes to an equal op
// with the same ID and re-encodes to the same bytes.
func TestOpRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		op, key, blob := genValidOp(t)
		if v, err := crdt.NewGroup(op.GroupID()).Check(&op, math.MaxInt64-crdt.MaxDrift.Milliseconds()); v == crdt.Reject {
			t.Fatalf("generator made an op the crdt rejects: %v", err)
		}
		b, err := SignOp(&op, key)
		if err != nil {
			t.Fatalf("SignOp: %v", err)
		}
		if op.ID != specOpID(b) {
			t.Fatal("SignOp's ID is not the hash of its encoding")
		}
		if g := crdt.NewGroup(op.GroupID()); op.Body.Kind() == crdt.KindGenesis && g.ID != op.ID {
			t.Fatal("genesis group is not its own ID")
		}
		got, err := DecodeOp(b)
		if err != nil {
			t.Fatalf("DecodeOp: %v", err)
		}
		if !reflect.DeepEqual(got, op) {
			t.Fatalf("decoded\n%+v\nwant\n%+v", got, op)
		}
		again, err := EncodeOp(&got)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs (%v)", err)
		}
		stored, err := DecodeStoredOp(b)
		if err != nil || !reflect.DeepEqual(stored, op) {
			t.Fatalf("DecodeStoredOp: %v", err)
		}
		if len(b) > MaxOpBytes {
			t.Fatalf("encoded %d bytes", len(b))
		}
		if want := specOp(t, &op, true); !bytes.Equal(b, want) {
			t.Fatalf("encoding\n got %x\nspec %x", b, want)
		}
		if blob == nil {
			return
		}
		// With its blob after it: the same op, the same ID, the blob set.
		withBlob := JoinBlob(b, blob)
		if !bytes.Equal(withBlob, specWithBlob(b, blob)) {
			t.Fatal("JoinBlob is not the spec's framing")
		}
		if OpID(withBlob) != op.ID {
			t.Fatal("OpID counts the blob")
		}
		got, err = DecodeOp(withBlob)
		if err != nil {
			t.Fatalf("DecodeOp with its blob: %v", err)
		}
		if !bytes.Equal(got.Blob, blob) || got.ID != op.ID {
			t.Fatalf("with its blob: ID %s, blob of %d bytes", got.ID.Short(), len(got.Blob))
		}
		got.Blob = nil
		if !reflect.DeepEqual(got, op) {
			t.Fatal("the blob changed the op")
		}
		raw, split, err := SplitBlob(withBlob)
		if err != nil || !bytes.Equal(raw, b) || !bytes.Equal(split, blob) {
			t.Fatalf("SplitBlob: %v", err)
		}
	})
}

func genPost(t *rapid.T) *crdt.Post {
	stamps := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) crdt.Stamp {
		var s crdt.Stamp
		s.Time = crdt.HLC{Wall: rapid.Int64().Draw(t, "wall"), Logical: rapid.Uint32().Draw(t, "logical")}
		s.Author = crdt.PublicKey(genID(t, "author"))
		s.Op = genID(t, "op")
		return s
	}), 1, 4).Draw(t, "stamps")
	stamps = append(stamps, crdt.Stamp{})
	stamp := func(label string) crdt.Stamp { return rapid.SampledFrom(stamps).Draw(t, label) }
	p := crdt.NewPost(genID(t, "group"), genID(t, "id"))
	p.Created = rapid.Bool().Draw(t, "created")
	p.Kind = crdt.PostKind(rapid.IntRange(0, 2).Draw(t, "kind"))
	p.Author = crdt.PublicKey(genID(t, "author"))
	p.CreatedAt = crdt.HLC{Wall: rapid.Int64().Draw(t, "created at"), Logical: rapid.Uint32().Draw(t, "created logical")}
	p.UpdatedAt = crdt.HLC{Wall: rapid.Int64().Draw(t, "updated at"), Logical: rapid.Uint32().Draw(t, "updated logical")}
	p.Ref = genText(t, "ref", MaxRef)
	p.By = genText(t, "by", MaxName)
	f := genFields(t, false)
	p.Title = crdt.Reg[string]{V: f.Title, S: stamp("title")}
	p.Details = crdt.Reg[string]{V: f.Details, S: stamp("details")}
	p.Category = crdt.Reg[string]{V: f.Category, S: stamp("category")}
	// A record holds the private registers' stamps only (their values
	// are sealed in blobs): TestPostRecordHoldsNoPrivateValue.
	p.Location = crdt.Reg[string]{S: stamp("location")}
	p.Contact = crdt.Reg[string]{S: stamp("contact")}
	p.Quantity = crdt.Reg[uint32]{V: f.Quantity, S: stamp("qty")}
	p.Urgency = crdt.Reg[crdt.Urgency]{V: f.Urgency, S: stamp("urgency")}
	p.Expires = crdt.Reg[int64]{V: rapid.Int64().Draw(t, "expires"), S: stamp("expires")}
	p.Status = crdt.Reg[crdt.Status]{V: crdt.Status(rapid.IntRange(0, 2).Draw(t, "status")), S: stamp("status")}
	p.Withdrawn = crdt.Reg[bool]{V: rapid.Bool().Draw(t, "withdrawn"), S: stamp("withdrawn")}
	p.ErasedAt = stamp("erased")
	for range rapid.IntRange(0, 4).Draw(t, "responses") {
		r := crdt.Response{ID: genID(t, "response"), Time: crdt.HLC{Wall: rapid.Int64().Draw(t, "rt")}, Quantity: rapid.Uint32().Draw(t, "rq"), Note: genText(t, "note", MaxNote), By: genText(t, "rby", MaxName)}
		r.Author = crdt.PublicKey(genID(t, "ra"))
		p.Responses = append(p.Responses, r)
	}
	for range rapid.IntRange(0, 3).Draw(t, "tombstones") {
		var ts crdt.Tombstone
		ts.Response = genID(t, "tr")
		ts.Author = crdt.PublicKey(genID(t, "ta"))
		p.Tombstones = append(p.Tombstones, ts)
	}
	return p
}

// EncodePost/DecodePost keep everything crdt.PostHash covers (which is
// every field of a post).
func TestPostRecordRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPost(t)
		rec := EncodePost(p)
		back, err := DecodePost(rec, p.Group, p.ID)
		if err != nil {
			t.Fatalf("DecodePost: %v", err)
		}
		if crdt.PostHash(back) != crdt.PostHash(p) {
			t.Fatalf("round trip changed the post:\n%+v\n%+v", p, back)
		}
		if !reflect.DeepEqual(back, p) {
			t.Fatalf("round trip changed the post:\n%+v\n%+v", p, back)
		}
		if !bytes.Equal(EncodePost(back), rec) {
			t.Fatal("re-encoding differs")
		}
	})
}

// Posts built by the crdt from real ops round-trip too.
func TestPostRecordRoundTripFromBoard(t *testing.T) {
	b, _ := fixtureBoard(t)
	for p := range b.SortedPosts() {
		back, err := DecodePost(EncodePost(p), p.Group, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if crdt.PostHash(back) != crdt.PostHash(p) {
			t.Fatalf("post %s changed", p.ID.Short())
		}
	}
}

// A topic is named by the group and its first key: it names no group ID,
// and without the key nobody can derive it.
func TestTopicNamesNoGroup(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		g := genID(t, "group")
		var k, other [GroupKeySize]byte
		copy(k[:], rapid.SliceOfN(rapid.Byte(), 32, 32).Draw(t, "key"))
		copy(other[:], rapid.SliceOfN(rapid.Byte(), 32, 32).Draw(t, "other key"))
		topic := Topic(g, k)
		if strings.Contains(topic, g.String()[:16]) || strings.Contains(topic, g.Short()) {
			t.Fatalf("topic %q names the group %s", topic, g)
		}
		if Topic(g, k) != topic {
			t.Fatal("topic not stable")
		}
		if k != other && Topic(g, other) == topic {
			t.Fatal("two keys, one topic")
		}
	})
}

// The bodies of kinds 2–7 at the edges of their numbers' encodings
// (fixint, uint8, uint16, uint32, uint64 boundaries) and of their limits
// are encoded as documented (spec_test.go), round-trip exactly, and the
// crdt accepts their shape.
func TestMembershipBodiesRoundTrip(t *testing.T) {
	g := fixtureNamed(t, "genesis").op.ID
	invite := func(role crdt.Role, expires int64, uses uint32) (crdt.Invite, [32]byte) {
		in, secret, err := NewInvite(crdt.Invite{Group: g, Role: role, Expires: expires, Uses: uses}, aliceKey)
		if err != nil {
			t.Fatal(err)
		}
		return in, secret
	}
	type tc struct {
		name string
		key  ed25519.PrivateKey
		body crdt.Body
	}
	var cases []tc
	for _, uses := range []uint32{0, 1, 127, 128, 255, 256, 65535, 65536, math.MaxUint32} {
		for _, expires := range []int64{1, 127, 128, 1 << 32, t0 + inviteTTL, math.MaxInt64} {
			for _, role := range []crdt.Role{crdt.RoleMember, crdt.RoleAdmin} {
				in, secret := invite(role, expires, uses)
				cases = append(cases,
					tc{"invite made", aliceKey, crdt.InviteMade{Invite: in}},
					tc{"join", bobKey, crdt.Join{Invite: in, Name: "Bob", Proof: ProveJoin(&in, secret, pub(bobKey))}})
			}
		}
	}
	in, secret := invite(crdt.RoleMember, t0+inviteTTL, 1)
	for _, name := range []string{"", "☃", strings.Repeat("☃", MaxName/len("☃")) + strings.Repeat("a", MaxName%len("☃"))} {
		cases = append(cases, tc{"join name " + name, carolKey, crdt.Join{Invite: in, Name: name, Proof: ProveJoin(&in, secret, pub(carolKey))}})
	}
	for _, cut := range []uint64{1, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxUint64} {
		for _, role := range []crdt.Role{crdt.RoleNone, crdt.RoleMember, crdt.RoleAdmin} {
			cases = append(cases, tc{"role", aliceKey, crdt.SetRole{Member: pub(bobKey), Role: role, Cut: cut}})
		}
	}
	var id crdt.ID
	for i := range id {
		id[i] = 0xff
	}
	cases = append(cases,
		tc{"revoke", aliceKey, crdt.Revoke{Invite: in.ID}},
		tc{"revoke ff", aliceKey, crdt.Revoke{Invite: id}},
		tc{"admit", carolKey, crdt.Admit{Join: fixtureNamed(t, "join_member").op.ID}},
		tc{"admit ff", carolKey, crdt.Admit{Join: id}},
		tc{"leave", bobKey, crdt.Leave{}},
	)
	for _, name := range []string{"B", "☃", strings.Repeat("a", 31), strings.Repeat("a", 32), strings.Repeat("☃", MaxName/len("☃")) + strings.Repeat("a", MaxName%len("☃"))} {
		cases = append(cases, tc{"rename " + name, bobKey, crdt.Rename{Name: name}})
	}
	for _, c := range cases {
		op := crdt.Op{Group: g, Seq: 2, Prev: crdt.ID{1}, Time: crdt.HLC{Wall: t0 + 1000}, Body: c.body, Author: pub(c.key)}
		if _, ok := c.body.(crdt.Join); ok {
			op.Seq, op.Prev = 1, crdt.ID{}
		}
		if v, err := crdt.NewGroup(g).Check(&op, t0+1000); v != crdt.Accept {
			t.Fatalf("%s %+v: the crdt says %v %v", c.name, c.body, v, err)
		}
		b, err := SignOp(&op, c.key)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if want := specOp(t, &op, true); !bytes.Equal(b, want) {
			t.Fatalf("%s %+v: encoding\n got %x\nspec %x", c.name, c.body, b, want)
		}
		got, err := DecodeOp(b)
		if err != nil {
			t.Fatalf("%s %+v: %v", c.name, c.body, err)
		}
		if !reflect.DeepEqual(got, op) {
			t.Fatalf("%s: decoded\n%+v\nwant\n%+v", c.name, got, op)
		}
		if again, err := EncodeOp(&got); err != nil || !bytes.Equal(again, b) {
			t.Fatalf("%s: re-encoding differs (%v)", c.name, err)
		}
	}
}

// A post record never holds a private value in clear, whatever the post
// in memory holds (a revealed copy): only the registers' stamps.
func TestPostRecordHoldsNoPrivateValue(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPost(t)
		p.Location.V = "loc-" + genText(t, "location", MaxLocation-4)
		p.Contact.V = "con-" + genText(t, "contact", MaxContact-4)
		b := EncodePost(p)
		if bytes.Contains(b, []byte(p.Location.V)) || bytes.Contains(b, []byte(p.Contact.V)) {
			t.Fatal("a private value in a post record")
		}
		back, err := DecodePost(b, p.Group, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if back.Location.V != "" || back.Contact.V != "" || back.Location.S != p.Location.S || back.Contact.S != p.Contact.S {
			t.Fatalf("private registers: %+v %+v", back.Location, back.Contact)
		}
	})
}

// SignOp's bytes are EncodeOp's of the signed op, in either version (it
// builds version 2's from the signed bytes instead of encoding again).
func TestSignOpBytesAreTheEncoding(t *testing.T) {
	for _, v := range []uint8{1, OpVersion} {
		op := crdt.Op{Version: v, Group: crdt.ID{1}, Seq: 2, Prev: crdt.ID{2}, Time: crdt.HLC{Wall: 1_700_000_000_000, Logical: 3},
			Body: crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: "Winter coats", Details: "size L", Quantity: 4}}}
		got, err := SignOp(&op, aliceKey)
		if err != nil {
			t.Fatalf("version %d: %v", v, err)
		}
		want, err := EncodeOp(&op)
		if err != nil {
			t.Fatalf("version %d: %v", v, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("version %d: SignOp gave\n%x\nEncodeOp gives\n%x", v, got, want)
		}
		if dec, err := DecodeOp(got); err != nil || dec.ID != op.ID {
			t.Fatalf("version %d: decodes to %s, %v; SignOp said %s", v, dec.ID.Short(), err, op.ID.Short())
		}
	}
}
