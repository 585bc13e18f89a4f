package protocol

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math"
	"strings"

	"github.com/mutual-aid/mutual/crdt"
)

// An invite is encoded as [group bin32, role, expires, uses, key bin32,
// issuer bin32, sig bin64]; the signature covers inviteDomain followed by
// the first six elements in a 6-element array. Its ID is the SHA-256 of
// the whole encoding.

func writeInvite(w *writer, in *crdt.Invite, withSig bool) {
	if withSig {
		w.array(7)
	} else {
		w.array(6)
	}
	w.bin(in.Group[:])
	w.uint(uint64(in.Role))
	w.int(in.Expires)
	w.uint(uint64(in.Uses))
	w.bin(in.Key[:])
	w.bin(in.Issuer[:])
	if withSig {
		w.bin(in.Sig[:])
	}
}

func readInvite(r *reader, in *crdt.Invite) {
	r.array(7)
	r.fixed(in.Group[:])
	in.Role = crdt.Role(r.uint(math.MaxUint8))
	in.Expires = r.int()
	in.Uses = uint32(r.uint(math.MaxUint32))
	r.fixed(in.Key[:])
	r.fixed(in.Issuer[:])
	r.fixed(in.Sig[:])
	if r.err == nil {
		// The hash of the canonical encoding: in an op, the bytes read
		// (decodeOp refuses other encodings); in an invite code, which
		// is not checked for the canonical form, what the join will carry.
		in.ID = InviteID(in)
	}
}

func inviteSigningBytes(in *crdt.Invite) []byte {
	w := newWriter()
	w.buf.WriteString(inviteDomain)
	writeInvite(w, in, false)
	return w.bytes()
}

// InviteID returns the ID of a signed invite: the SHA-256 of its encoding.
func InviteID(in *crdt.Invite) crdt.ID {
	w := newWriter()
	writeInvite(w, in, true)
	return sha256.Sum256(w.bytes())
}

// NewInvite makes an invite signed by key, with a fresh one-time key
// pair whose secret (an ed25519 seed) it returns: the secret goes only
// into the invite code.
func NewInvite(in crdt.Invite, key ed25519.PrivateKey) (crdt.Invite, [32]byte, error) {
	var seed [32]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return in, seed, err
	}
	copy(in.Key[:], ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey))
	SignInvite(&in, key)
	return in, seed, nil
}

// SignInvite sets in.Issuer, in.Sig and in.ID from key.
func SignInvite(in *crdt.Invite, key ed25519.PrivateKey) {
	copy(in.Issuer[:], key.Public().(ed25519.PublicKey))
	copy(in.Sig[:], ed25519.Sign(key, inviteSigningBytes(in)))
	in.ID = InviteID(in)
}

// VerifyInvite checks an invite's signature by its issuer. Whether the
// issuer is an admin is the group state's question (crdt.Group).
func VerifyInvite(in *crdt.Invite) error {
	if !verifySig(in.Issuer, inviteSigningBytes(in), &in.Sig) {
		return errBadInviteSig
	}
	return nil
}

func proofBytes(group, invite crdt.ID, joiner crdt.PublicKey) []byte {
	b := make([]byte, 0, len(proofDomain)+96)
	b = append(b, proofDomain...)
	b = append(b, group[:]...)
	b = append(b, invite[:]...)
	return append(b, joiner[:]...)
}

// ProveJoin returns a join's proof that joiner holds the invite's
// secret: the secret's signature over the group, the invite's ID and the
// joiner's key. Nobody who sees the proof can make one for another key.
func ProveJoin(in *crdt.Invite, secret [32]byte, joiner crdt.PublicKey) crdt.Signature {
	var sig crdt.Signature
	copy(sig[:], ed25519.Sign(ed25519.NewKeyFromSeed(secret[:]), proofBytes(in.Group, in.ID, joiner)))
	return sig
}

// VerifyJoin checks a join's invite and its proof of the invite's secret.
func VerifyJoin(j *crdt.Join, joiner crdt.PublicKey) error {
	if err := VerifyInvite(&j.Invite); err != nil {
		return err
	}
	if !verifySig(crdt.PublicKey(j.Invite.Key), proofBytes(j.Invite.Group, j.Invite.ID, joiner), &j.Proof) {
		return fmt.Errorf("%w: the join does not prove its author holds the invite", ErrBadSignature)
	}
	return nil
}

// InviteCode is what `mutual invite` prints and `mutual join` reads: the
// signed capability, its one-time secret, the group's name, and
// addresses where the inviter's node may be reached. Whoever holds the
// code may join: it is as secret as a house key.
type InviteCode struct {
	Invite    crdt.Invite
	Secret    [32]byte
	GroupName string
	Addrs     []string // multiaddrs with /p2p/ suffix
	// Members are keys of members (the issuer's node puts in up to
	// MaxInviteMembers, admins first): the only peers to which the
	// newcomer's node offers its join before it is admitted, so that it
	// tells no stranger which group it is joining. The invite's issuer is
	// always one.
	Members []crdt.PublicKey
}

// MaxInviteMembers bounds InviteCode.Members.
const MaxInviteMembers = 16

// invitePrefix starts every code, so a pasted code is recognisable.
const invitePrefix = "mutual1-"

// EncodeInviteCode renders a code as text: invitePrefix followed by the
// URL-safe base64 of [invite, secret, group name, [addr...], [member...]]
// (the members only when there are any).
func EncodeInviteCode(c *InviteCode) (string, error) {
	if err := checkText("group name", c.GroupName, MaxName); err != nil {
		return "", err
	}
	addrs := c.Addrs
	if len(addrs) > MaxInviteAddrs {
		addrs = addrs[:MaxInviteAddrs]
	}
	for _, a := range addrs {
		if err := checkText("address", a, MaxAddrLen); err != nil {
			return "", err
		}
	}
	members := c.Members
	if len(members) > MaxInviteMembers {
		members = members[:MaxInviteMembers]
	}
	w := newWriter()
	if len(members) == 0 {
		w.array(4)
	} else {
		w.array(5)
	}
	writeInvite(w, &c.Invite, true)
	w.bin(c.Secret[:])
	w.str(c.GroupName)
	w.strs(addrs)
	if len(members) > 0 {
		w.array(len(members))
		for _, m := range members {
			w.bin(m[:])
		}
	}
	return invitePrefix + base64.RawURLEncoding.EncodeToString(w.bytes()), nil
}

// DecodeInviteCode parses a code and verifies the invite's signature. It
// does not judge expiry: the caller compares Invite.Expires with its
// clock.
func DecodeInviteCode(s string) (*InviteCode, error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxInviteCodeLen {
		return nil, fmt.Errorf("invite code: %w", ErrTooLarge)
	}
	rest, ok := strings.CutPrefix(s, invitePrefix)
	if !ok {
		return nil, fmt.Errorf("invite code: %w: does not start with %q", ErrMalformed, invitePrefix)
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("invite code: %w: %v", ErrMalformed, err)
	}
	if err := checkFrame(b, MaxInviteCodeLen); err != nil {
		return nil, fmt.Errorf("invite code: %w", err)
	}
	c := &InviteCode{}
	r := newReader(b)
	n := r.arrayRange(4, 5)
	readInvite(r, &c.Invite)
	r.fixed(c.Secret[:])
	c.GroupName = r.str("group name", MaxName)
	c.Addrs = r.strs("address", MaxInviteAddrs, MaxAddrLen)
	if n == 5 {
		m := r.arrayMax(MaxInviteMembers)
		for i := 0; i < m && r.err == nil; i++ {
			var k crdt.PublicKey
			r.fixed(k[:])
			c.Members = append(c.Members, k)
		}
	}
	if err := r.end(); err != nil {
		return nil, fmt.Errorf("invite code: %w", err)
	}
	if c.Invite.Role != crdt.RoleMember && c.Invite.Role != crdt.RoleAdmin {
		return nil, fmt.Errorf("invite code: %w: role %d", ErrMalformed, c.Invite.Role)
	}
	if err := VerifyInvite(&c.Invite); err != nil {
		return nil, fmt.Errorf("invite code: %w (altered or forged)", err)
	}
	if !bytes.Equal(ed25519.NewKeyFromSeed(c.Secret[:]).Public().(ed25519.PublicKey), c.Invite.Key[:]) {
		return nil, fmt.Errorf("invite code: %w: its secret does not match the invite (altered)", ErrMalformed)
	}
	return c, nil
}
