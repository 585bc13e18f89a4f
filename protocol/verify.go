package protocol

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"fmt"

	"filippo.io/edwards25519"
	"github.com/hdevalence/ed25519consensus"

	"github.com/mutual-aid/mutual/crdt"
)

// The signature rule. Every node must judge every signature alike, or a
// signature valid on one node and invalid on another splits a group's
// board. ed25519 implementations disagree on edge cases (non-canonical
// encodings of points, small-order keys, the cofactor), and single and
// batch verification may disagree within one implementation. So mutual
// uses one rule for both, ZIP-215 (https://zips.z.cash/protocol/protocol.pdf
// and zip-0215), as github.com/hdevalence/ed25519consensus v0.2.0
// implements it: A and R may be any encoding of a point (non-canonical
// ones and small-order points included), S must be below the group order,
// and the check is the cofactored [8][S]B = [8]R + [8][k]A. Batch
// verification checks the same equation for a random linear combination of
// the batch, so it accepts exactly when every signature of the batch is
// valid by the single rule (docs/protocol.md, "Signatures").
func verifySig(key crdt.PublicKey, msg []byte, sig *crdt.Signature) bool {
	return ed25519consensus.Verify(ed25519.PublicKey(key[:]), msg, sig[:])
}

// sigCheck is one signature to check.
type sigCheck struct {
	key crdt.PublicKey
	msg []byte
	sig *crdt.Signature
}

// opSigs returns the signatures an op carries: its own, and in a join
// the invite's and the proof's, in an invite its own invite's.
func opSigs(op *crdt.Op, raw []byte, out []sigCheck) ([]sigCheck, error) {
	msg, err := signingBytesOf(op, raw)
	if err != nil {
		return out, err
	}
	out = append(out, sigCheck{op.Author, msg, &op.Sig})
	switch b := op.Body.(type) {
	case crdt.Join:
		in := &b.Invite
		proof := b.Proof
		out = append(out, sigCheck{in.Issuer, inviteSigningBytes(in), &in.Sig},
			sigCheck{crdt.PublicKey(in.Key), proofBytes(in.Group, in.ID, op.Author), &proof})
	case crdt.InviteMade:
		in := &b.Invite
		out = append(out, sigCheck{in.Issuer, inviteSigningBytes(in), &in.Sig})
	}
	return out, nil
}

// VerifyOp checks every signature an op carries (VerifyOps for many).
func VerifyOp(op *crdt.Op) error {
	msg, err := SigningBytes(op)
	if err != nil {
		return err
	}
	if !verifySig(op.Author, msg, &op.Sig) {
		return ErrBadSignature
	}
	switch b := op.Body.(type) {
	case crdt.Join:
		return VerifyJoin(&b, op.Author)
	case crdt.InviteMade:
		return VerifyInvite(&b.Invite)
	}
	return nil
}

// VerifyOps checks the signatures of many ops at once and returns each
// op's verdict, exactly VerifyOp's: the batch is checked together (about
// twice as fast per signature as one by one), and when the batch fails,
// each op is checked alone, so that one bad op does not take its good
// neighbours down with it. errs[i] is nil when ops[i] is valid.
func VerifyOps(ops []crdt.Op) []error { return VerifyEncoded(ops, nil) }

// VerifyEncoded is VerifyOps for ops whose encodings are at hand:
// raws[i] is the encoding ops[i] was decoded from (DecodeStoredOp; a
// blob after it is ignored), whose bytes are what the signature covers,
// so they need not be encoded again. An op whose ID is not its raw's is
// checked as VerifyOps would. raws may be nil.
func VerifyEncoded(ops []crdt.Op, raws [][]byte) []error {
	errs := make([]error, len(ops))
	if len(ops) == 1 {
		errs[0] = VerifyOp(&ops[0])
		return errs
	}
	sigs := make([]sigCheck, 0, len(ops))
	for i := range ops {
		var err error
		var raw []byte
		if raws != nil {
			raw = raws[i]
		}
		n := len(sigs)
		if sigs, err = opSigs(&ops[i], raw, sigs); err != nil {
			errs[i] = err
			sigs = sigs[:n]
		}
	}
	if batchOK(sigs) {
		return errs
	}
	for i := range ops {
		if errs[i] == nil {
			errs[i] = VerifyOp(&ops[i])
		}
	}
	return errs
}

// batchOK reports whether every signature of sigs is valid, checking
// them as one batch (false for none). It checks ed25519consensus's batch
// equation, the single rule's [8][S]B = [8]R + [8][k]A for a random
// linear combination of the batch,
//
//	[8]( [-Σ z_i S_i]B + Σ [z_i]R_i + Σ_keys [Σ_{i by key} z_i k_i]A ) = 0,
//
// with one term per distinct key rather than one per signature: the same
// sum, regrouped. A batch from a peer is mostly one or a few authors'
// ops, so each key is decompressed once and the multiscalar
// multiplication has about half the points. z_i are random 128-bit
// scalars; k_i = SHA-512(R_i || A_i || M_i) as the key is encoded.
func batchOK(sigs []sigCheck) bool {
	n := len(sigs)
	if n == 0 {
		return false
	}
	keyAt := make(map[crdt.PublicKey]int, 4)
	var keys []crdt.PublicKey
	for i := range sigs {
		if _, ok := keyAt[sigs[i].key]; !ok {
			keyAt[sigs[i].key] = len(keys)
			keys = append(keys, sigs[i].key)
		}
	}
	terms := 1 + n + len(keys) // B, each R, each key
	svals := make([]edwards25519.Scalar, terms)
	pvals := make([]edwards25519.Point, terms)
	scalars := make([]*edwards25519.Scalar, terms)
	points := make([]*edwards25519.Point, terms)
	for i := range terms {
		scalars[i], points[i] = &svals[i], &pvals[i]
	}
	bCoeff, zs, aCoeffs := scalars[0], scalars[1:1+n], scalars[1+n:]
	points[0].Set(edwards25519.NewGeneratorPoint())
	rs, as := points[1:1+n], points[1+n:]
	for j := range keys {
		// ZIP-215: SetBytes takes non-canonical encodings too.
		if _, err := as[j].SetBytes(keys[j][:]); err != nil {
			return false
		}
	}
	random := make([]byte, 16*n)
	if _, err := rand.Read(random); err != nil {
		return false
	}
	var z [32]byte
	var digest [64]byte
	var s, k edwards25519.Scalar
	h := sha512.New()
	for i := range sigs {
		sig := sigs[i].sig
		if _, err := rs[i].SetBytes(sig[:32]); err != nil {
			return false
		}
		if _, err := s.SetCanonicalBytes(sig[32:]); err != nil { // S below the group order
			return false
		}
		copy(z[:16], random[16*i:])
		if _, err := zs[i].SetCanonicalBytes(z[:]); err != nil {
			return false
		}
		bCoeff.MultiplyAdd(zs[i], &s, bCoeff)
		h.Reset()
		h.Write(sig[:32])
		h.Write(sigs[i].key[:])
		h.Write(sigs[i].msg)
		if _, err := k.SetUniformBytes(h.Sum(digest[:0])); err != nil {
			return false
		}
		a := aCoeffs[keyAt[sigs[i].key]]
		a.MultiplyAdd(zs[i], &k, a)
	}
	bCoeff.Negate(bCoeff) // the B term is subtracted
	check := new(edwards25519.Point).VarTimeMultiScalarMult(scalars, points)
	check.MultByCofactor(check)
	return check.Equal(edwards25519.NewIdentityPoint()) == 1
}

var errBadInviteSig = fmt.Errorf("%w: invite", ErrBadSignature)

// signingBytesOf is SigningBytes(op), taken from raw, the op's canonical
// encoding, when it is given and is the op's (its ID says so): a version
// 2 op's signature covers its full form without the signature, a version
// 1 op's the same array as a 9-element one.
func signingBytesOf(op *crdt.Op, raw []byte) ([]byte, error) {
	if raw == nil {
		return SigningBytes(op)
	}
	n, err := opLen(raw)
	if err != nil || OpID(raw[:n]) != op.ID {
		return SigningBytes(op)
	}
	raw = raw[:n]
	switch {
	case op.Version == 1 && raw[0] == 0x9a && n > len(opDomain1)+2+sigSize:
		msg := make([]byte, 0, len(opDomain1)+n-2-sigSize)
		msg = append(append(msg, opDomain1...), 0x99)
		return append(msg, raw[1:n-2-sigSize]...), nil
	case op.Version != 1 && opVersionOf(raw) == 2 && n > sigSize:
		msg := make([]byte, 0, len(opDomain)+n-sigSize)
		return append(append(msg, opDomain...), raw[:n-sigSize]...), nil
	}
	return SigningBytes(op)
}
