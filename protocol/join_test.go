package protocol

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

// The join proof (issue 8, item 1): an invite names the public half of a
// one-time key whose secret travels only in the invite code; a join
// carries the secret's signature over (group, invite ID, joiner key). So
// whoever sees a join op (every member's node, anyone it is forwarded to)
// learns nothing that lets them join, with that invite or another role.

// signJoin signs a join for key with body, at the join_member fixture's
// place (seq 1, same group and clock).
func signJoin(t *testing.T, key ed25519.PrivateKey, body crdt.Join) []byte {
	t.Helper()
	op := fixtureNamed(t, "join_member").op
	op.Body = body
	b, err := SignOp(&op, key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewInvite(t *testing.T) {
	g := fixtureNamed(t, "genesis").op.ID
	tmpl := crdt.Invite{Group: g, Role: crdt.RoleMember, Expires: t0 + inviteTTL, Uses: 3}
	in, secret, err := NewInvite(tmpl, aliceKey)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ed25519.NewKeyFromSeed(secret[:]).Public().(ed25519.PublicKey), in.Key[:]) {
		t.Fatal("the invite's key is not the public half of its secret")
	}
	if in.Issuer != pub(aliceKey) || in.ID != InviteID(&in) || VerifyInvite(&in) != nil {
		t.Fatalf("invite not signed by Alice with its ID set: %+v", in)
	}
	if in.Group != g || in.Role != tmpl.Role || in.Expires != tmpl.Expires || in.Uses != tmpl.Uses {
		t.Fatalf("NewInvite changed the template: %+v", in)
	}
	// The fixtures derive the key as NewInvite does.
	fx, fxSecret := fixtureInvite(g, tmpl.Role, tmpl.Uses, 0x01)
	again := tmpl
	copy(again.Key[:], ed25519.NewKeyFromSeed(fxSecret[:]).Public().(ed25519.PublicKey))
	SignInvite(&again, aliceKey)
	if again != fx {
		t.Fatal("fixtureInvite is not NewInvite with a fixed secret")
	}
	// Every invite gets its own one-time key, hence its own ID.
	in2, secret2, err := NewInvite(tmpl, aliceKey)
	if err != nil {
		t.Fatal(err)
	}
	if secret2 == secret || in2.Key == in.Key || in2.ID == in.ID {
		t.Fatal("two invites share a one-time key")
	}
	// A join with it decodes.
	body := crdt.Join{Invite: in, Name: "Bob", Proof: ProveJoin(&in, secret, pub(bobKey))}
	if _, err := DecodeOp(signJoin(t, bobKey, body)); err != nil {
		t.Fatalf("join with a new invite: %v", err)
	}
}

func TestJoinProof(t *testing.T) {
	f := fixtureNamed(t, "join_member")
	good := f.op.Body.(crdt.Join)
	secret := fixtureSecret(seedMemberInvite)
	if _, err := DecodeOp(f.enc); err != nil {
		t.Fatalf("the fixture join: %v", err)
	}
	if err := VerifyJoin(&good, pub(bobKey)); err != nil {
		t.Fatalf("VerifyJoin of the fixture: %v", err)
	}

	// Bob's proof was made for Bob: Mallory copies the whole body (invite
	// and proof) into a join of her own. Her op signature is good; the
	// proof is not for her key.
	_, err := DecodeOp(signJoin(t, malKey, good))
	wantErr(t, "Bob's join body re-signed by Mallory", err, ErrBadSignature)
	if err := VerifyJoin(&good, pub(malKey)); !errors.Is(err, ErrBadSignature) {
		t.Errorf("VerifyJoin of Bob's proof for Mallory: %v", err)
	}

	// A proof made (with the secret) for another key does not serve Bob.
	forMal := good
	forMal.Proof = ProveJoin(&good.Invite, secret, pub(malKey))
	_, err = DecodeOp(signJoin(t, bobKey, forMal))
	wantErr(t, "proof made for another key", err, ErrBadSignature)

	// No proof, or a proof by a key other than the invite's.
	none := good
	none.Proof = crdt.Signature{}
	_, err = DecodeOp(signJoin(t, bobKey, none))
	wantErr(t, "no proof", err, ErrBadSignature)
	other := good
	other.Proof = ProveJoin(&good.Invite, fixtureSecret(0x55), pub(bobKey))
	_, err = DecodeOp(signJoin(t, bobKey, other))
	wantErr(t, "proof by a key that is not the invite's", err, ErrBadSignature)
	// The proof signed by Bob's own key (he has no secret), or the issuer's.
	for name, k := range map[string]ed25519.PrivateKey{"joiner": bobKey, "issuer": aliceKey} {
		self := good
		copy(self.Proof[:], ed25519.Sign(k, proofBytes(good.Invite.Group, good.Invite.ID, pub(bobKey))))
		_, err = DecodeOp(signJoin(t, bobKey, self))
		wantErr(t, "proof signed by the "+name, err, ErrBadSignature)
	}

	// A proof for another invite (of the same one-time key) or group.
	in2 := good.Invite
	in2.Expires++
	SignInvite(&in2, aliceKey)
	stale := good
	stale.Proof = ProveJoin(&in2, secret, pub(bobKey))
	_, err = DecodeOp(signJoin(t, bobKey, stale))
	wantErr(t, "proof for another invite ID", err, ErrBadSignature)
	otherGroup := good
	copy(otherGroup.Proof[:], ed25519.Sign(ed25519.NewKeyFromSeed(secret[:]), proofBytes(crdt.ID{1}, good.Invite.ID, pub(bobKey))))
	_, err = DecodeOp(signJoin(t, bobKey, otherGroup))
	wantErr(t, "proof for another group", err, ErrBadSignature)

	// Bob, who holds the secret, alters his invite (member → admin) and
	// proves the altered invite: Alice's signature no longer covers it.
	// Likewise for more uses, a later expiry, another one-time key.
	alter := map[string]func(*crdt.Invite){
		"role member→admin": func(in *crdt.Invite) { in.Role = crdt.RoleAdmin },
		"uses 1→0":          func(in *crdt.Invite) { in.Uses = 0 },
		"expires later":     func(in *crdt.Invite) { in.Expires += 3600 * 1000 },
		"another key":       func(in *crdt.Invite) { in.Key = pub(malKey) },
		"another group":     func(in *crdt.Invite) { in.Group[0] ^= 1 },
	}
	for name, change := range alter {
		a := good
		change(&a.Invite)
		a.Invite.ID = InviteID(&a.Invite) // as DecodeOp will compute it
		s := secret
		if name == "another key" {
			s = [32]byte(malKey.Seed())
		}
		a.Proof = ProveJoin(&a.Invite, s, pub(bobKey))
		_, err = DecodeOp(signJoin(t, bobKey, a))
		wantErr(t, "altered invite: "+name, err, ErrBadSignature)
		if err == nil || !strings.Contains(err.Error(), "invite") {
			t.Errorf("altered invite %s: %v does not say it is the invite", name, err)
		}
	}
	// The same alteration in an InviteMade op.
	im := fixtureNamed(t, "invite_made")
	made := im.op.Body.(crdt.InviteMade)
	made.Invite.Role = crdt.RoleAdmin
	op := im.op
	op.Body = made
	b, err := SignOp(&op, aliceKey)
	if err != nil {
		t.Fatal(err)
	}
	_, err = DecodeOp(b)
	wantErr(t, "altered invite in InviteMade", err, ErrBadSignature)
	if _, err := DecodeStoredOp(b); err != nil {
		t.Errorf("DecodeStoredOp checks signatures: %v", err)
	}
}

// The three signatures use three domains: a signature over the same
// bytes under another domain (or none) never verifies as a proof, an
// invite signature or an op signature.
func TestSignatureDomains(t *testing.T) {
	f := fixtureNamed(t, "join_member")
	j := f.op.Body.(crdt.Join)
	oneTime := ed25519.NewKeyFromSeed(func() []byte { s := fixtureSecret(seedMemberInvite); return s[:] }())
	payload := proofBytes(j.Invite.Group, j.Invite.ID, pub(bobKey))[len(proofDomain):]
	domains := []string{"", opDomain, inviteDomain, "mutual/invite/1\n", "mutual/join-proof/2\n", "mutual/join-proof/1"}
	for _, d := range domains {
		bad := j
		copy(bad.Proof[:], ed25519.Sign(oneTime, append([]byte(d), payload...)))
		if err := VerifyJoin(&bad, pub(bobKey)); !errors.Is(err, ErrBadSignature) {
			t.Errorf("proof under domain %q: %v", d, err)
		}
		_, err := DecodeOp(signJoin(t, bobKey, bad))
		wantErr(t, "join with a proof under domain "+d, err, ErrBadSignature)
	}
	good := j
	copy(good.Proof[:], ed25519.Sign(oneTime, append([]byte("mutual/join-proof/1\n"), payload...)))
	if good.Proof != j.Proof || VerifyJoin(&good, pub(bobKey)) != nil {
		t.Fatal("the proof is not the one-time key's signature over the proof domain and payload")
	}

	// Invite signatures: the issuer's signature over the invite's array
	// under another domain (the old "mutual/invite/1\n" included).
	unsigned := inviteSigningBytes(&j.Invite)[len(inviteDomain):]
	for _, d := range append(domains, proofDomain) {
		if d == inviteDomain {
			continue
		}
		bad := j.Invite
		copy(bad.Sig[:], ed25519.Sign(aliceKey, append([]byte(d), unsigned...)))
		if err := VerifyInvite(&bad); !errors.Is(err, ErrBadSignature) {
			t.Errorf("invite signed under domain %q: %v", d, err)
		}
	}

	// Op signatures: the author's signature over the op's 9 elements
	// under another domain.
	msg, err := SigningBytes(&f.op)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range append(domains, proofDomain) {
		if d == opDomain {
			continue
		}
		op := f.op
		copy(op.Sig[:], ed25519.Sign(bobKey, append([]byte(d), msg[len(opDomain):]...)))
		b, err := EncodeOp(&op)
		if err != nil {
			t.Fatal(err)
		}
		_, err = DecodeOp(b)
		wantErr(t, "op signed under domain "+d, err, ErrBadSignature)
	}

	// A one-time key is an ed25519 key like any other: were it some
	// member's key, its proofs could not pass for that member's ops or
	// invites, nor the reverse.
	if !strings.HasSuffix(opDomain, "\n") || !strings.HasSuffix(inviteDomain, "\n") || !strings.HasSuffix(proofDomain, "\n") {
		t.Fatal("a domain string does not end in a newline")
	}
	for _, a := range []string{opDomain, inviteDomain, proofDomain} {
		for _, b := range []string{opDomain, inviteDomain, proofDomain} {
			if a != b && strings.HasPrefix(a, b) {
				t.Fatalf("domain %q is a prefix of %q", b, a)
			}
		}
	}
}

// An invite's ID is the SHA-256 of its 7-element encoding, and every
// decoder sets it: DecodeOp and DecodeStoredOp for a join and an
// InviteMade, DecodeInviteCode for a code.
func TestInviteID(t *testing.T) {
	for _, name := range []string{"join_member", "join_admin", "invite_made"} {
		f := fixtureNamed(t, name)
		var in crdt.Invite
		switch b := f.op.Body.(type) {
		case crdt.Join:
			in = b.Invite
		case crdt.InviteMade:
			in = b.Invite
		}
		// The invite's bytes, cut out of the op: it starts with the
		// 7-element header and the group, and is 180 bytes long here.
		start := bytes.Index(f.enc, append([]byte{0x97, 0xc4, 0x20}, in.Group[:]...))
		if start < 0 {
			t.Fatalf("%s: no invite in %x", name, f.enc)
		}
		const inviteLen = 1 + 34 + 1 + 9 + 1 + 34 + 34 + 66
		want := crdt.ID(sha256.Sum256(f.enc[start : start+inviteLen]))
		if in.ID != want || InviteID(&in) != want {
			t.Fatalf("%s: invite ID %s, SHA-256 of its bytes %s", name, in.ID, want)
		}
		for dec, decode := range map[string]func([]byte) (crdt.Op, error){"DecodeOp": DecodeOp, "DecodeStoredOp": DecodeStoredOp} {
			op, err := decode(f.enc)
			if err != nil {
				t.Fatal(err)
			}
			var got crdt.ID
			switch b := op.Body.(type) {
			case crdt.Join:
				got = b.Invite.ID
			case crdt.InviteMade:
				got = b.Invite.ID
			}
			if got != want {
				t.Errorf("%s of %s sets invite ID %s, want %s", dec, name, got, want)
			}
		}
	}
	// Revoke names an invite by that ID.
	if fixtureNamed(t, "revoke").op.Body.(crdt.Revoke).Invite != fixtureNamed(t, "invite_made").op.Body.(crdt.InviteMade).Invite.ID {
		t.Error("the fixture revoke does not name the fixture invite")
	}
	// And the invite code.
	code, err := EncodeInviteCode(fixtureInviteCode())
	if err != nil {
		t.Fatal(err)
	}
	c, err := DecodeInviteCode(code)
	if err != nil {
		t.Fatal(err)
	}
	w := newWriter()
	writeInvite(w, &c.Invite, true)
	if c.Invite.ID != sha256.Sum256(w.bytes()) || c.Invite.ID.IsZero() {
		t.Fatalf("DecodeInviteCode sets invite ID %s", c.Invite.ID)
	}
}

// An invite code carries the one-time secret; a code whose secret is
// not the invite key's seed was altered and is refused.
func TestInviteCodeSecret(t *testing.T) {
	c := fixtureInviteCode()
	code, err := EncodeInviteCode(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeInviteCode(code)
	if err != nil {
		t.Fatal(err)
	}
	if got.Secret != c.Secret {
		t.Fatal("the secret does not survive the code")
	}
	// The secret from a code proves a join that decodes.
	body := crdt.Join{Invite: got.Invite, Name: "Dan", Proof: ProveJoin(&got.Invite, got.Secret, pub(malKey))}
	op := crdt.Op{Group: got.Invite.Group, Seq: 1, Time: crdt.HLC{Wall: t0}, Body: body}
	b, err := SignOp(&op, malKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeOp(b); err != nil {
		t.Fatalf("join with a code's secret: %v", err)
	}

	for name, s := range map[string][32]byte{
		"zero secret":              {},
		"another invite's secret":  fixtureSecret(seedMemberInvite),
		"one bit off":              func() [32]byte { s := c.Secret; s[31] ^= 1; return s }(),
		"the issuer's private key": [32]byte(aliceKey.Seed()),
	} {
		bad := fixtureInviteCode()
		bad.Secret = s
		code, err := EncodeInviteCode(bad)
		if err != nil {
			t.Fatal(err)
		}
		_, err = DecodeInviteCode(code)
		wantErr(t, name, err, ErrMalformed)
		if err == nil || !strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: %v does not name the secret", name, err)
		}
	}
	// An invite with another one-time key, properly signed by its issuer,
	// with the original secret: refused too (the code was spliced).
	spliced := fixtureInviteCode()
	spliced.Invite.Key = pub(malKey)
	SignInvite(&spliced.Invite, aliceKey)
	sc, err := EncodeInviteCode(spliced)
	if err != nil {
		t.Fatal(err)
	}
	_, err = DecodeInviteCode(sc)
	wantErr(t, "spliced code", err, ErrMalformed)
	// An altered invite (member → admin) fails on Alice's signature.
	altered := fixtureInviteCode()
	altered.Invite.Role = crdt.RoleAdmin
	ac, err := EncodeInviteCode(altered)
	if err != nil {
		t.Fatal(err)
	}
	_, err = DecodeInviteCode(ac)
	wantErr(t, "altered code", err, ErrBadSignature)
}
