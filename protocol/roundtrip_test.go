package protocol

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"math"
	"reflect"
	"testing"

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
		Location: genText(t, "location", MaxLocation),
		Contact:  genText(t, "contact", MaxContact),
		Quantity: rapid.Uint32().Draw(t, "qty"),
		Urgency:  crdt.Urgency(rapid.IntRange(0, 2).Draw(t, "urgency")),
		Expires:  rapid.Int64Range(0, math.MaxInt64).Draw(t, "expires"),
	}
	if needTitle && f.Title == "" {
		f.Title = "t"
	}
	return f
}

// genValidOp draws an unsigned op that the crdt's shape checks accept
// and that is within every protocol limit: any kind, any seq, any clock.
func genValidOp(t *rapid.T) (crdt.Op, ed25519.PrivateKey) {
	key := rapid.SampledFrom(rtKeys).Draw(t, "key")
	op := crdt.Op{
		Group: genID(t, "group"),
		Seq:   rapid.OneOf(rapid.Just(uint64(1)), rapid.Uint64Range(2, math.MaxUint64)).Draw(t, "seq"),
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
	switch rapid.IntRange(1, 7).Draw(t, "kind") {
	case 1:
		var b crdt.Genesis
		b.Name = genText(t, "name", MaxName)
		copy(b.Nonce[:], rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "nonce"))
		b.AuthorName = genText(t, "author name", MaxName)
		op.Body, op.Group, op.Seq, op.Prev = b, crdt.ID{}, 1, crdt.ID{}
	case 2:
		in := crdt.Invite{
			Group:   op.Group,
			Role:    crdt.Role(rapid.IntRange(1, 2).Draw(t, "role")),
			Expires: rapid.Int64Range(op.Time.Wall, math.MaxInt64).Draw(t, "invite expires"),
		}
		copy(in.Nonce[:], rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "invite nonce"))
		SignInvite(&in, rapid.SampledFrom(rtKeys).Draw(t, "issuer"))
		op.Body = crdt.Join{Invite: in, Name: genText(t, "name", MaxName)}
	case 3:
		op.Body = crdt.PostCreate{
			PostKind: crdt.PostKind(rapid.IntRange(1, 2).Draw(t, "post kind")),
			Fields:   genFields(t, true),
			Ref:      genText(t, "ref", MaxRef),
			By:       genText(t, "by", MaxName),
		}
	case 4:
		set := crdt.FieldMask(rapid.Uint16Range(1, uint16(crdt.AllFields)).Draw(t, "mask"))
		op.Body = crdt.PostEdit{Post: genID(t, "post"), Set: set, Fields: genFields(t, set&crdt.FieldTitle != 0)}
	case 5:
		op.Body = crdt.PostStatus{Post: genID(t, "post"), Status: crdt.Status(rapid.IntRange(0, 3).Draw(t, "status"))}
	case 6:
		op.Body = crdt.Respond{Post: genID(t, "post"), Quantity: rapid.Uint32().Draw(t, "qty"), Note: genText(t, "note", MaxNote), By: genText(t, "by", MaxName)}
	case 7:
		op.Body = crdt.Unrespond{Post: genID(t, "post"), Response: genID(t, "response")}
	}
	return op, key
}

// Every op the crdt accepts, signed with SignOp, decodes to an equal op
// with the same ID and re-encodes to the same bytes.
func TestOpRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		op, key := genValidOp(t)
		if v, err := crdt.NewGroup(op.GroupID()).Check(&op, math.MaxInt64-crdt.MaxDrift.Milliseconds()); v == crdt.Reject {
			t.Fatalf("generator made an op the crdt rejects: %v", err)
		}
		b, err := SignOp(&op, key)
		if err != nil {
			t.Fatalf("SignOp: %v", err)
		}
		if op.ID != sha256.Sum256(b) {
			t.Fatal("SignOp's ID is not the SHA-256 of its encoding")
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
	p.Location = crdt.Reg[string]{V: f.Location, S: stamp("location")}
	p.Contact = crdt.Reg[string]{V: f.Contact, S: stamp("contact")}
	p.Quantity = crdt.Reg[uint32]{V: f.Quantity, S: stamp("qty")}
	p.Urgency = crdt.Reg[crdt.Urgency]{V: f.Urgency, S: stamp("urgency")}
	p.Expires = crdt.Reg[int64]{V: rapid.Int64().Draw(t, "expires"), S: stamp("expires")}
	p.Status = crdt.Reg[crdt.Status]{V: crdt.Status(rapid.IntRange(0, 3).Draw(t, "status")), S: stamp("status")}
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
		back, err := DecodePost(rec)
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
		back, err := DecodePost(EncodePost(p))
		if err != nil {
			t.Fatal(err)
		}
		if crdt.PostHash(back) != crdt.PostHash(p) {
			t.Fatalf("post %s changed", p.ID.Short())
		}
	}
}

func TestTopicRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		g := genID(t, "group")
		back, ok := GroupOfTopic(Topic(g))
		if !ok || back != g {
			t.Fatalf("GroupOfTopic(Topic(%s)) = %s, %v", g, back, ok)
		}
	})
	for _, bad := range []string{
		"", "/mutual/group/1.0.0/", "/mutual/group/2.0.0/" + crdt.ID{}.String(),
		"/mutual/group/1.0.0/" + crdt.ID{}.String()[:63] + "g",
		"/mutual/group/1.0.0/" + crdt.ID{}.String() + "0",
	} {
		if _, ok := GroupOfTopic(bad); ok {
			t.Errorf("GroupOfTopic(%q) accepted", bad)
		}
	}
}
