package node_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/mutual-aid/mutual/node"
	"github.com/mutual-aid/mutual/protocol"
)

// The receipts a node keeps: per node the newest (by the importer's
// clock), found by a key prefix; an altered one is refused.
func TestReceiptsKeepTheNewest(t *testing.T) {
	rs := node.Receipts{Dir: t.TempDir()}
	_, key, _ := ed25519.GenerateKey(nil)
	receipt := func(time uint64, groups int) []byte {
		rc := &protocol.Receipt{Time: time}
		copy(rc.Node[:], key.Public().(ed25519.PublicKey))
		for i := range groups {
			rc.Summary.Groups = append(rc.Summary.Groups, protocol.GroupSummary{Group: protocol.Prefix{byte(i)}})
		}
		b, err := protocol.EncodeReceipt(rc, key)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if _, err := rs.Find("abcd"); !errors.Is(err, node.ErrNoReceipt) {
		t.Fatalf("no receipts yet: %v", err)
	}
	newer, older := receipt(2000, 2), receipt(1000, 1)
	if _, kept, err := rs.Remember(newer); err != nil || !kept {
		t.Fatalf("first receipt: %v %v", kept, err)
	}
	if _, kept, err := rs.Remember(older); err != nil || kept {
		t.Fatalf("an older receipt replaced a newer one: %v %v", kept, err)
	}
	bad := append([]byte(nil), newer...)
	bad[len(bad)-1] ^= 1
	if _, _, err := rs.Remember(bad); err == nil {
		t.Fatal("an altered receipt was kept")
	}
	rc, err := rs.Find(hex.EncodeToString(key.Public().(ed25519.PublicKey)[:4]))
	if err != nil || rc.Time != 2000 || len(rc.Summary.Groups) != 2 {
		t.Fatalf("found %+v %v", rc, err)
	}
}
