package protocol

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/hdevalence/ed25519consensus"

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

// batchOK regroups the batch equation by key (one term per distinct
// key): batches of one author's signatures, of a few authors', with the
// speccheck vectors' odd keys among them, and with one signature spoiled
// (by its S, its R, its message, or a key's sign bit) get the verdict
// of the single rule on each, and of ed25519consensus's own batch.
func TestBatchByKeyAgreesWithSingleAndLibrary(t *testing.T) {
	data, err := os.ReadFile("testdata/ed25519-speccheck/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors []map[string]string
	if err := json.Unmarshal(data, &vectors); err != nil {
		t.Fatal(err)
	}
	var odd []sigCheck // the vectors, valid or not by the rule
	for _, c := range vectors {
		var s sigCheck
		s.msg = mustHexString(t, c["message"])
		copy(s.key[:], mustHexString(t, c["pub_key"]))
		s.sig = new(crdt.Signature)
		copy(s.sig[:], mustHexString(t, c["signature"]))
		odd = append(odd, s)
	}
	rng := mathrand.New(mathrand.NewPCG(12, 34))
	keys := []ed25519.PrivateKey{testKey(0x61), testKey(0x62), testKey(0x63)}
	for round := range 120 {
		authors := 1 + rng.IntN(len(keys))
		var sigs []sigCheck
		for i := range 1 + rng.IntN(24) {
			k := keys[rng.IntN(authors)]
			msg := fmt.Appendf(nil, "op %d of round %d", i, round)
			var sig crdt.Signature
			copy(sig[:], ed25519.Sign(k, msg))
			sigs = append(sigs, sigCheck{pub(k), msg, &sig})
		}
		if round%3 == 0 {
			v := odd[rng.IntN(len(odd))]
			sigs = slices.Insert(sigs, rng.IntN(len(sigs)+1), v, v) // twice: one key term for both
		}
		if round%2 == 1 {
			i := rng.IntN(len(sigs))
			s := sigs[i]
			sig := *s.sig
			s.sig = &sig
			switch round % 8 {
			case 1:
				s.sig[40] ^= 4 // S
			case 3:
				s.sig[5] ^= 1 // R
			case 5:
				s.msg = append(slices.Clone(s.msg), '!')
			case 7:
				s.key[31] ^= 0x80 // the key's sign bit: another point
			}
			sigs[i] = s
		}
		want := true
		lib := ed25519consensus.NewBatchVerifier()
		for _, s := range sigs {
			want = want && verifySig(s.key, s.msg, s.sig)
			lib.Add(ed25519.PublicKey(s.key[:]), s.msg, s.sig[:])
		}
		if got := batchOK(sigs); got != want {
			t.Fatalf("round %d (%d signatures, %d authors): batch says %v, one by one %v", round, len(sigs), authors, got, want)
		}
		if libGot := lib.Verify(); libGot != want {
			t.Fatalf("round %d: ed25519consensus's batch says %v, one by one %v", round, libGot, want)
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
