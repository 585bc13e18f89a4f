package protocol

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

// Golden encodings: fixed keys and fixed ops of every kind, whose bytes
// and IDs are committed under testdata/golden. An accidental change to
// the wire format (a field moved, a form not the smallest, a domain
// string edited) fails here. After an intended change, bump the version
// and regenerate with
//
//	go test ./protocol -run Golden -update
//
// A golden file is "# comment" lines, an optional "id <hex>" line, then
// the encoding in hex, 32 bytes a line.

func writeGolden(t *testing.T, name, comment string, id *crdt.ID, enc []byte) {
	t.Helper()
	var sb strings.Builder
	fmt.Fprintf(&sb, "# %s\n", comment)
	if id != nil {
		fmt.Fprintf(&sb, "id %s\n", id)
	}
	for len(enc) > 0 {
		n := min(32, len(enc))
		fmt.Fprintf(&sb, "%s\n", hex.EncodeToString(enc[:n]))
		enc = enc[n:]
	}
	path := filepath.Join("testdata", "golden", name+".hex")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readGolden(t *testing.T, name string) (id string, enc []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "golden", filepath.FromSlash(name)+".hex"))
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update to create it)", err)
	}
	var hx strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "#") || line == "":
		case strings.HasPrefix(line, "id "):
			id = strings.TrimPrefix(line, "id ")
		default:
			hx.WriteString(line)
		}
	}
	enc, err = hex.DecodeString(hx.String())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return id, enc
}

func checkGolden(t *testing.T, name, comment string, id *crdt.ID, enc []byte) {
	t.Helper()
	if *update {
		writeGolden(t, name, comment, id, enc)
		return
	}
	wantID, want := readGolden(t, name)
	if !bytes.Equal(enc, want) {
		t.Errorf("%s: encoding changed\n got %x\nwant %x", name, enc, want)
	}
	if id != nil && id.String() != wantID {
		t.Errorf("%s: ID %s, golden %s", name, id, wantID)
	}
}

func TestGoldenOps(t *testing.T) {
	kinds := map[crdt.Kind]bool{}
	for _, f := range fixtures(t) {
		kinds[f.op.Body.Kind()] = true
		t.Run(f.name, func(t *testing.T) {
			id := specOpID(f.enc)
			if id != f.op.ID {
				t.Fatalf("ID %s is not the hash of the encoding (%s)", f.op.ID, id)
			}
			checkGolden(t, "op_"+f.name, fmt.Sprintf("%s op, signed with ed25519.NewKeyFromSeed of a repeated byte", f.op.Body.Kind()), &id, f.enc)
			if f.blob != nil {
				sum := crdt.ID(sha256.Sum256(f.blob))
				checkGolden(t, "blob_"+f.name, fmt.Sprintf("sealed blob of op_%s (group key 1, a fixed nonce); id line is its SHA-256, which the op names", f.name), &sum, f.blob)
			}
			if *update {
				return
			}
			// The golden bytes decode to the fixture, with the golden ID.
			wantID, golden := readGolden(t, "op_"+f.name)
			op, err := DecodeOp(golden)
			if err != nil {
				t.Fatalf("golden bytes do not decode: %v", err)
			}
			if op.ID.String() != wantID || !reflect.DeepEqual(op, f.op) {
				t.Fatalf("golden bytes decode to\n%+v\nwant\n%+v", op, f.op)
			}
			if f.blob == nil {
				if _, ok := crdt.PrivateOf(&f.op); ok {
					t.Fatal("the op names a blob the fixture lacks")
				}
				return
			}
			// The sealed blob is golden too; after the op it is set as
			// op.Blob and changes neither the op nor its ID.
			_, goldenBlob := readGolden(t, "blob_"+f.name)
			withBlob, err := DecodeOp(JoinBlob(golden, goldenBlob))
			if err != nil {
				t.Fatalf("golden op and blob do not decode: %v", err)
			}
			if withBlob.ID.String() != wantID || !bytes.Equal(withBlob.Blob, goldenBlob) {
				t.Fatalf("with its blob: ID %s, blob %x", withBlob.ID, withBlob.Blob)
			}
			withBlob.Blob = nil
			if !reflect.DeepEqual(withBlob, f.op) {
				t.Fatal("the blob changed the op")
			}
			var p Private
			if IsSealedTo(goldenBlob) { // sealed to members: Alice opens it
				priv, _ := BoxKeyOf(aliceKey)
				p, err = OpenSealedTo(f.op.Group, goldenBlob, priv)
			} else {
				p, err = OpenPrivate(f.op.Group, goldenBlob, fixtureKeyring)
			}
			if err != nil || p != f.private {
				t.Fatalf("golden blob opens to %+v, %v", p, err)
			}
		})
	}
	for _, k := range []crdt.Kind{
		crdt.KindGenesis, crdt.KindJoin, crdt.KindInvite, crdt.KindRevoke, crdt.KindAdmit, crdt.KindSetRole, crdt.KindLeave,
		crdt.KindGroupKey, crdt.KindErase, crdt.KindSettings, crdt.KindRename, crdt.KindHandOn,
		crdt.KindPostCreate, crdt.KindPostEdit, crdt.KindPostStatus, crdt.KindRespond, crdt.KindUnrespond,
		crdt.KindFederation, crdt.KindVisit,
	} {
		if !kinds[k] {
			t.Errorf("no golden op of kind %v", k)
		}
	}
	roles := map[crdt.Role]bool{}
	for _, f := range fixtures(t) {
		if b, ok := f.op.Body.(crdt.SetRole); ok {
			roles[b.Role] = true
		}
	}
	if len(roles) != 3 {
		t.Errorf("golden role changes set roles %v, want removal, member and admin", roles)
	}
}

// The signing bytes are golden too: a second implementation must sign
// exactly these.
func TestGoldenSigningBytes(t *testing.T) {
	f := fixtureNamed(t, "post_create")
	msg, err := SigningBytes(&f.op)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(msg, []byte("mutual/op/2\n")) {
		t.Fatalf("signing bytes start %q", msg[:16])
	}
	checkGolden(t, "signing_post_create", "what the post_create op's signature covers: domain, then the op's full form (group included) without sig", nil, msg)
	jm := fixtureNamed(t, "join_member")
	j := jm.op.Body.(crdt.Join)
	msg = inviteSigningBytes(&j.Invite)
	if !bytes.HasPrefix(msg, []byte("mutual/invite/2\n")) {
		t.Fatalf("invite signing bytes start %q", msg[:16])
	}
	checkGolden(t, "signing_invite", "what join_member's invite signature covers: domain, then the 6-element invite array", nil, msg)
	msg = proofBytes(j.Invite.Group, j.Invite.ID, jm.op.Author)
	if !bytes.HasPrefix(msg, []byte("mutual/join-proof/1\n")) || len(msg) != len("mutual/join-proof/1\n")+3*32 {
		t.Fatalf("proof bytes %q", msg)
	}
	checkGolden(t, "signing_join_proof", "what join_member's proof (by the invite's one-time key) covers: domain, then group, invite ID and joiner key, 32 raw bytes each", nil, msg)
}

func TestGoldenInviteCode(t *testing.T) {
	code, err := EncodeInviteCode(fixtureInviteCode())
	if err != nil {
		t.Fatal(err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(code, invitePrefix))
	if err != nil || !strings.HasPrefix(code, invitePrefix) {
		t.Fatalf("code %q: %v", code, err)
	}
	checkGolden(t, "invite_code", "payload of an invite code: the code is \"mutual1-\" + base64url (no padding) of these bytes", nil, payload)
	if *update {
		return
	}
	_, golden := readGolden(t, "invite_code")
	c, err := DecodeInviteCode(invitePrefix + base64.RawURLEncoding.EncodeToString(golden))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, fixtureInviteCode()) {
		t.Fatalf("golden code decodes to %+v", c)
	}
}

func TestGoldenPostRecord(t *testing.T) {
	b, id := fixtureBoard(t)
	p := b.Posts[id]
	if p == nil || len(p.Responses) != 1 || len(p.Tombstones) != 1 || !p.Created ||
		p.Title.V != "Warm winter coats" || p.Status.V != crdt.Claimed || p.Withdrawn.V {
		t.Fatalf("fixture post %+v", p)
	}
	offer := b.Posts[fixtureNamed(t, "post_create_offer").op.ID]
	if offer == nil || !offer.Withdrawn.V || offer.State() != crdt.Withdrawn {
		t.Fatalf("fixture offer %+v", offer)
	}
	// The post as a node that vouches for Dave holds it: his response
	// counts, and Alice's hand-on of its contact.
	handed := p.Clone()
	resp, handOn := fixtureNamed(t, "respond_private").op, fixtureNamed(t, "handon").op
	handed.Responses = append(handed.Responses, crdt.Response{ID: resp.ID, Author: resp.Author, Time: resp.Time, Quantity: 4, Note: "We have 4 coats", Private: resp.Body.(crdt.Respond).Private})
	slices.SortFunc(handed.Responses, func(a, b crdt.Response) int { return a.ID.Compare(b.ID) })
	handed.HandOns = []crdt.HandedOn{{Response: resp.ID, Op: handOn.ID, Author: handOn.Author, Time: handOn.Time}}
	for _, g := range []struct {
		name, comment string
		p             *crdt.Post
	}{
		{"post_record", "the disk record of the post_create post after every fixture op; id line is crdt.PostHash", p},
		{"post_record_handon", "the disk record of the post_create post with Dave's response vouched and Alice's hand-on of its contact; id line is crdt.PostHash", handed},
		{"post_record_withdrawn", "the disk record of the post_create_offer post, withdrawn by its author; id line is crdt.PostHash", offer},
	} {
		rec := EncodePost(g.p)
		h := crdt.PostHash(g.p)
		checkGolden(t, g.name, g.comment, &h, rec)
		if *update {
			continue
		}
		_, golden := readGolden(t, g.name)
		back, err := DecodePost(golden, g.p.Group, g.p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if crdt.PostHash(back) != h || !reflect.DeepEqual(back, g.p) {
			t.Fatalf("golden record %s decodes to a different post", g.name)
		}
	}
}

// Protocol IDs and topic names are wire constants too.
func TestGoldenProtocolIDs(t *testing.T) {
	if SyncProtocol != "/mutual/sync/3.0.0" {
		t.Errorf("SyncProtocol = %q", SyncProtocol)
	}
	var g crdt.ID
	g[0], g[31] = 0xab, 0x01
	var k [GroupKeySize]byte
	k[0] = 0xcd
	// "/mutual/group/4.0.0/" + hex of SHA-256("mutual/topic/1\n" || g || k)[:16]
	want := "/mutual/group/4.0.0/5910137eb15ef34b8c15985e8783cfe6"
	if got := specTopic(g, k); got != want {
		t.Fatalf("the spec's topic is %q, the golden %q", got, want)
	}
	if Topic(g, k) != want {
		t.Errorf("Topic = %q, want %q", Topic(g, k), want)
	}
}

// Ops of version 1, as nodes wrote them before version 2 (the goldens
// under testdata/golden/v1 were written by the code of that time and are
// never regenerated): they still decode, verify and keep their IDs, and
// re-encode to their bytes; the v1 encoder still makes exactly them.
func TestGoldenV1(t *testing.T) {
	for _, f := range fixturesV1(t) {
		t.Run(f.name, func(t *testing.T) {
			wantID, golden := readGolden(t, "v1/op_"+f.name)
			if !bytes.Equal(f.enc, golden) {
				t.Fatalf("the version 1 encoder no longer makes the golden bytes\n got %x\nwant %x", f.enc, golden)
			}
			op, err := DecodeOp(golden)
			if err != nil {
				t.Fatalf("golden v1 op does not decode: %v", err)
			}
			if op.ID.String() != wantID || OpID(golden).String() != wantID || crdt.ID(sha256.Sum256(golden)).String() != wantID {
				t.Fatalf("ID %s, golden %s", op.ID, wantID)
			}
			if op.Version != 1 || !reflect.DeepEqual(op, f.op) {
				t.Fatalf("golden decodes to\n%+v\nwant\n%+v", op, f.op)
			}
			again, err := EncodeOp(&op)
			if err != nil || !bytes.Equal(again, golden) {
				t.Fatalf("re-encodes to %x (%v)", again, err)
			}
			if err := VerifyOps([]crdt.Op{op, op})[1]; err != nil {
				t.Fatalf("batch verification: %v", err)
			}
			if f.blob != nil {
				_, blob := readGolden(t, "v1/blob_"+f.name)
				withBlob, err := DecodeOp(JoinBlob(golden, blob))
				if err != nil || withBlob.ID != op.ID || !bytes.Equal(withBlob.Blob, blob) {
					t.Fatalf("with its blob: %v", err)
				}
			}
		})
	}
	f := fixtureNamedV1(t, "post_create")
	msg, err := SigningBytes(&f.op)
	if err != nil {
		t.Fatal(err)
	}
	if _, want := readGolden(t, "v1/signing_post_create"); !bytes.Equal(msg, want) {
		t.Fatalf("v1 signing bytes\n got %x\nwant %x", msg, want)
	}
}
