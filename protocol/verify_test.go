package protocol

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

// The ed25519-speccheck vectors (testdata/ed25519-speccheck): small-order
// keys and R, mixed-order points, S at and above the group order,
// non-canonical encodings of R and of the key. The one rule (ZIP-215)
// must give the verdicts the ZIP-215 implementation gives there, and
// single and batch verification must agree on every one, alone and in
// a batch with valid neighbours.
func TestSignatureRuleVectors(t *testing.T) {
	data, err := os.ReadFile("testdata/ed25519-speccheck/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Message, PubKey, Signature string
	}
	var raw []map[string]string
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	for _, c := range raw {
		cases = append(cases, struct{ Message, PubKey, Signature string }{c["message"], c["pub_key"], c["signature"]})
	}
	zip215 := []bool{true, true, true, true, true, true, false, false, false, true, true, true}
	stdlib := []bool{true, true, true, true, false, false, false, false, false, false, false, true}
	if len(cases) != len(zip215) {
		t.Fatalf("%d cases, want %d", len(cases), len(zip215))
	}
	good := goodSigs(t, 3)
	for i, c := range cases {
		var key crdt.PublicKey
		var sig crdt.Signature
		msg := mustHexString(t, c.Message)
		copy(key[:], mustHexString(t, c.PubKey))
		copy(sig[:], mustHexString(t, c.Signature))
		single := verifySig(key, msg, &sig)
		if single != zip215[i] {
			t.Errorf("case %d: single verdict %v, ZIP-215's is %v", i, single, zip215[i])
		}
		if got := ed25519.Verify(key[:], msg, sig[:]); got != stdlib[i] {
			t.Errorf("case %d: crypto/ed25519 says %v, speccheck recorded %v", i, got, stdlib[i])
		}
		s := sigCheck{key, msg, &sig}
		if batch := batchOK([]sigCheck{s}); batch != single {
			t.Errorf("case %d: batch of one %v, single %v", i, batch, single)
		}
		if batch := batchOK(append([]sigCheck{s}, good...)); batch != single {
			t.Errorf("case %d: batch with valid neighbours %v, single %v", i, batch, single)
		}
		if batch := batchOK(append(append([]sigCheck{}, good...), s, s)); batch != single {
			t.Errorf("case %d: batch with it twice %v, single %v", i, batch, single)
		}
	}
}

func goodSigs(t *testing.T, n int) []sigCheck {
	var out []sigCheck
	for i := range n {
		k := testKey(byte(0x50 + i))
		msg := []byte{byte(i), 'm'}
		var sig crdt.Signature
		copy(sig[:], ed25519.Sign(k, msg))
		out = append(out, sigCheck{pub(k), msg, &sig})
	}
	return out
}

func mustHexString(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// One bad op in a batch does not take its neighbours down: every op gets
// the verdict it gets alone, in either version, and VerifyEncoded (which
// takes the signing bytes from the encodings) gives the same verdicts.
func TestVerifyOpsPerOpVerdicts(t *testing.T) {
	var ops []crdt.Op
	var raws [][]byte
	for _, v := range []uint8{0, 1} {
		for _, f := range fixturesIn(t, v) {
			ops = append(ops, f.op)
			raws = append(raws, f.enc)
		}
	}
	for i, errs := range [][]error{VerifyOps(ops), VerifyEncoded(ops, raws)} {
		for j, err := range errs {
			if err != nil {
				t.Fatalf("%d: op %d: %v", i, j, err)
			}
		}
	}
	// Signing bytes from the encoding are SigningBytes.
	for i := range ops {
		want, _ := SigningBytes(&ops[i])
		got, err := signingBytesOf(&ops[i], raws[i])
		if err != nil || string(got) != string(want) {
			t.Fatalf("op %d: signing bytes from the encoding differ", i)
		}
	}
	bad := map[int]bool{}
	for _, i := range []int{0, 5, len(ops) / 2, len(ops) - 1} {
		ops[i].Sig[10] ^= 1
		bad[i] = true
	}
	// An invite's signature inside a join is checked in the batch too.
	for i := range ops {
		if j, ok := ops[i].Body.(crdt.Join); ok && !bad[i] {
			j.Invite.Sig[3] ^= 1
			ops[i].Body = j
			bad[i] = true
			break
		}
	}
	for name, errs := range map[string][]error{"VerifyOps": VerifyOps(ops), "VerifyEncoded": VerifyEncoded(ops, raws)} {
		for i, err := range errs {
			if bad[i] != (err != nil) || (err != nil && !errors.Is(err, ErrBadSignature)) {
				t.Errorf("%s: op %d (bad %v): %v", name, i, bad[i], err)
			}
			if alone := VerifyOp(&ops[i]); (alone == nil) != (err == nil) {
				t.Errorf("%s: op %d: %v in the batch, %v alone", name, i, err, alone)
			}
		}
	}
}
