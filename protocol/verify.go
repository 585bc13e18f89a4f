package protocol

import (
	"crypto/ed25519"
	"fmt"

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
// them as one batch (false for none).
func batchOK(sigs []sigCheck) bool {
	if len(sigs) == 0 {
		return false
	}
	bv := ed25519consensus.NewPreallocatedBatchVerifier(len(sigs))
	for _, s := range sigs {
		bv.Add(ed25519.PublicKey(s.key[:]), s.msg, s.sig[:])
	}
	return bv.Verify()
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
