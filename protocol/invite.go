package protocol

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"math"
	"strings"

	"github.com/mutual-aid/mutual/crdt"
)

// An invite is encoded as [group bin32, role, expires, nonce bin16,
// issuer bin32, sig bin64]; the signature covers inviteDomain followed by
// the first five elements in a 5-element array.

func writeInvite(w *writer, in *crdt.Invite, withSig bool) {
	if withSig {
		w.array(6)
	} else {
		w.array(5)
	}
	w.bin(in.Group[:])
	w.uint(uint64(in.Role))
	w.int(in.Expires)
	w.bin(in.Nonce[:])
	w.bin(in.Issuer[:])
	if withSig {
		w.bin(in.Sig[:])
	}
}

func readInvite(r *reader, in *crdt.Invite) {
	r.array(6)
	r.fixed(in.Group[:])
	in.Role = crdt.Role(r.uint(math.MaxUint8))
	in.Expires = r.int()
	r.fixed(in.Nonce[:])
	r.fixed(in.Issuer[:])
	r.fixed(in.Sig[:])
}

func inviteSigningBytes(in *crdt.Invite) []byte {
	w := newWriter()
	w.buf.WriteString(inviteDomain)
	writeInvite(w, in, false)
	return w.bytes()
}

// SignInvite sets in.Issuer and in.Sig from key.
func SignInvite(in *crdt.Invite, key ed25519.PrivateKey) {
	copy(in.Issuer[:], key.Public().(ed25519.PublicKey))
	copy(in.Sig[:], ed25519.Sign(key, inviteSigningBytes(in)))
}

// VerifyInvite checks an invite's signature by its issuer. Whether the
// issuer is an admin is the group state's question (crdt.Group.Check).
func VerifyInvite(in *crdt.Invite) error {
	if !ed25519.Verify(in.Issuer[:], inviteSigningBytes(in), in.Sig[:]) {
		return fmt.Errorf("%w: invite", ErrBadSignature)
	}
	return nil
}

// InviteCode is what `mutual invite` prints and `mutual join` reads: the
// signed capability, the group's name, and addresses where the inviter's
// node may be reached.
type InviteCode struct {
	Invite    crdt.Invite
	GroupName string
	Addrs     []string // multiaddrs with /p2p/ suffix
}

// invitePrefix starts every code, so a pasted code is recognisable.
const invitePrefix = "mutual1-"

// EncodeInviteCode renders a code as text: invitePrefix followed by the
// URL-safe base64 of [invite, group name, [addr...]].
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
	w := newWriter()
	w.array(3)
	writeInvite(w, &c.Invite, true)
	w.str(c.GroupName)
	w.strs(addrs)
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
	r.array(3)
	readInvite(r, &c.Invite)
	c.GroupName = r.str("group name", MaxName)
	c.Addrs = r.strs("address", MaxInviteAddrs, MaxAddrLen)
	if err := r.end(); err != nil {
		return nil, fmt.Errorf("invite code: %w", err)
	}
	if c.Invite.Role != crdt.RoleMember && c.Invite.Role != crdt.RoleAdmin {
		return nil, fmt.Errorf("invite code: %w: role %d", ErrMalformed, c.Invite.Role)
	}
	if err := VerifyInvite(&c.Invite); err != nil {
		return nil, fmt.Errorf("invite code: %w (altered or forged)", err)
	}
	return c, nil
}
