package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/mutual-aid/mutual/protocol"
)

// memReceipts is ReceiptBook in memory (node.Receipts keeps them in the
// data dir).
type memReceipts struct {
	mu sync.Mutex
	rc map[string]*protocol.Receipt
}

func (m *memReceipts) Remember(raw []byte) (*protocol.Receipt, bool, error) {
	rc, err := protocol.DecodeReceipt(raw)
	if err != nil {
		return nil, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rc[rc.Node.String()] = rc
	return rc, true, nil
}

func (m *memReceipts) Find(node string) (*protocol.Receipt, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, rc := range m.rc {
		if strings.HasPrefix(k, node) {
			return rc, nil
		}
	}
	return nil, errors.New("no receipt from that node")
}

// The summary, export --since and receipts over the API: a node's own
// summary or receipt gives an empty bundle; bad summaries and receipts
// get a 4xx with a reason, and nothing is kept.
func TestSummaryExportSinceAndReceipts(t *testing.T) {
	book := &memReceipts{rc: map[string]*protocol.Receipt{}}
	n := newTestNode(t, func(c *Config) { c.Receipts = book })
	code, body, _ := n.do("GET", "/api/v1/summary", nil, "")
	var sum struct {
		Code   string
		Groups []struct {
			ID  string
			Ops uint64
		}
	}
	if code != 200 || json.Unmarshal(body, &sum) != nil || !strings.HasPrefix(sum.Code, protocol.SummaryPrefix) || len(sum.Groups) != 1 || sum.Groups[0].Ops == 0 {
		t.Fatalf("summary: %d %s", code, body)
	}
	if code, body, _ := n.do("GET", "/api/v1/summary?group=nosuchgroup", nil, ""); code != 400 {
		t.Fatalf("summary of an unknown group: %d %s", code, body)
	}
	code, _, h := n.do("GET", "/api/v1/bundle?since="+sum.Code, nil, "")
	if code != 200 || h.Get("X-Mutual-Ops") != "0" {
		t.Fatalf("bundle since its own summary: %d, %s ops", code, h.Get("X-Mutual-Ops"))
	}
	for _, q := range []string{"since=mutualS1-!!", "since=mutual1-AAAA", "since=" + sum.Code + "&for=abcd", "for=abcd"} {
		code, body, _ := n.do("GET", "/api/v1/bundle?"+q, nil, "")
		if code < 400 || code >= 500 || !strings.Contains(string(body), `"error"`) {
			t.Errorf("bundle?%s: %d %s", q, code, body)
		}
	}

	// Import its own whole bundle, with a receipt: everything already held.
	_, bundle, _ := n.do("GET", "/api/v1/bundle", nil, "")
	code, body, _ = n.do("POST", "/api/v1/bundle?receipt=1", bundle, "application/octet-stream")
	var rep struct {
		Had     int
		Groups  []ReceiptGroup
		Receipt string
	}
	if code != 200 || json.Unmarshal(body, &rep) != nil || rep.Had == 0 || len(rep.Groups) != 1 || rep.Groups[0].Had != uint64(rep.Had) {
		t.Fatalf("import with a receipt: %d %s", code, body)
	}
	raw, err := base64.StdEncoding.DecodeString(rep.Receipt)
	if err != nil {
		t.Fatal(err)
	}
	// Junk, an altered receipt, the wrong content type: refused, nothing kept.
	altered := []byte(string(raw))
	altered[len(altered)-70] ^= 1
	for name, b := range map[string][]byte{"junk": []byte("hello"), "altered": altered, "a bundle": bundle} {
		if code, body, _ := n.do("POST", "/api/v1/receipts", b, "application/octet-stream"); code != 400 {
			t.Errorf("%s as a receipt: %d %s", name, code, body)
		}
	}
	if code, _, _ := n.do("POST", "/api/v1/receipts", raw, "application/json"); code != 415 {
		t.Errorf("a receipt as JSON: %d", code)
	}
	if len(book.rc) != 0 {
		t.Fatal("a refused receipt was kept")
	}
	code, body, _ = n.do("POST", "/api/v1/receipts", raw, "application/octet-stream")
	var got struct {
		Node string
		Kept bool
	}
	if code != 200 || json.Unmarshal(body, &got) != nil || !got.Kept || got.Node != n.rep.Self().String() {
		t.Fatalf("receipt: %d %s", code, body)
	}
	code, _, h = n.do("GET", "/api/v1/bundle?for="+got.Node[:8], nil, "")
	if code != 200 || h.Get("X-Mutual-Ops") != "0" {
		t.Fatalf("bundle for the receipt's node: %d, %s ops", code, h.Get("X-Mutual-Ops"))
	}
}
