package node

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mutual-aid/mutual/protocol"
)

// receiptsDir holds, per node, the newest receipt this node has read from
// it (`mutual receipt`): <node key in hex>.receipt, the file as signed.
const receiptsDir = "receipts"

// ErrNoReceipt means no receipt of that node is remembered.
var ErrNoReceipt = errors.New("no receipt from that node (read one with `mutual receipt FILE`)")

// Receipts remembers the receipts of the nodes this node sent bundles
// to, so that the next bundle for one carries only what it still lacks
// (`mutual export --since NODE`).
type Receipts struct{ Dir string } // the data dir

// Remember checks a receipt file's signature and keeps it as its node's,
// unless a newer one (by its node's clock) is kept already. It returns
// the receipt and whether it is now the one kept.
func (rs Receipts) Remember(raw []byte) (*protocol.Receipt, bool, error) {
	rc, err := protocol.DecodeReceipt(raw)
	if err != nil {
		return nil, false, err
	}
	dir := filepath.Join(rs.Dir, receiptsDir)
	path := filepath.Join(dir, hex.EncodeToString(rc.Node[:])+".receipt")
	if old, err := os.ReadFile(path); err == nil {
		if prev, err := protocol.DecodeReceipt(old); err == nil && prev.Time > rc.Time {
			return rc, false, nil
		}
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, false, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, raw, secretMode); err != nil {
		return nil, false, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, false, err
	}
	return rc, true, nil
}

// Find returns the receipt kept of the node whose key starts with the
// hex prefix (at least 4 digits).
func (rs Receipts) Find(prefix string) (*protocol.Receipt, error) {
	prefix = strings.ToLower(strings.TrimSpace(prefix))
	if len(prefix) < 4 {
		return nil, fmt.Errorf("name the node by 4 or more hex digits of its key: %w", ErrNoReceipt)
	}
	entries, err := os.ReadDir(filepath.Join(rs.Dir, receiptsDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoReceipt
	}
	if err != nil {
		return nil, err
	}
	var match []string
	for _, e := range entries {
		if k, ok := strings.CutSuffix(e.Name(), ".receipt"); ok && strings.HasPrefix(k, prefix) {
			match = append(match, e.Name())
		}
	}
	switch len(match) {
	case 0:
		return nil, ErrNoReceipt
	case 1:
	default:
		return nil, fmt.Errorf("%d nodes' keys start with %s: give more digits", len(match), prefix)
	}
	raw, err := os.ReadFile(filepath.Join(rs.Dir, receiptsDir, match[0]))
	if err != nil {
		return nil, err
	}
	return protocol.DecodeReceipt(raw)
}
