package protocol

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/mutual-aid/mutual/crdt"
)

// FollowCode is what `mutual group share` prints and `mutual follow`
// reads: a group's ID and where nodes that hold it may be reached. It
// grants nothing: whether a node may follow is the group's federation
// policy (crdt.Federation), which the serving node applies. The group ID
// is the hash of the group's genesis op, so the board that arrives
// verifies it.
type FollowCode struct {
	Group     crdt.ID
	GroupName string   // a hint for the follower's screen; the genesis names the group
	Addrs     []string // multiaddrs with /p2p/ suffix of nodes that hold the group
	// Bootstrap, an optional trailing element, lists nodes that help
	// find the group's nodes (e.g. DHT bootstrap peers); the same limits
	// as Addrs.
	Bootstrap []string
}

// followPrefix starts every follow code.
const followPrefix = "mutualf1-"

// IsFollowCode reports whether s looks like a follow code (its prefix).
func IsFollowCode(s string) bool { return strings.HasPrefix(strings.TrimSpace(s), followPrefix) }

// EncodeFollowCode renders a code as text: followPrefix followed by the
// URL-safe base64 (no padding) of [group bin32, name str, [addr...]]
// and, when there are any, [bootstrap addr...]. Addresses beyond
// MaxInviteAddrs are dropped.
func EncodeFollowCode(c *FollowCode) (string, error) {
	if c.Group.IsZero() {
		return "", fmt.Errorf("follow code: %w: no group", ErrMalformed)
	}
	if err := checkText("group name", c.GroupName, MaxName); err != nil {
		return "", err
	}
	lists := [][]string{c.Addrs, c.Bootstrap}
	for i, l := range lists {
		if len(l) > MaxInviteAddrs {
			lists[i] = l[:MaxInviteAddrs]
		}
		for _, a := range lists[i] {
			if err := checkText("address", a, MaxAddrLen); err != nil {
				return "", err
			}
		}
	}
	w := newWriter()
	if len(lists[1]) == 0 {
		w.array(3)
	} else {
		w.array(4)
	}
	w.bin(c.Group[:])
	w.str(c.GroupName)
	w.strs(lists[0])
	if len(lists[1]) > 0 {
		w.strs(lists[1])
	}
	return followPrefix + base64.RawURLEncoding.EncodeToString(w.bytes()), nil
}

// DecodeFollowCode parses a follow code. Its errors wrap ErrMalformed
// or ErrTooLarge.
func DecodeFollowCode(s string) (*FollowCode, error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxInviteCodeLen {
		return nil, fmt.Errorf("follow code: %w", ErrTooLarge)
	}
	rest, ok := strings.CutPrefix(s, followPrefix)
	if !ok {
		return nil, fmt.Errorf("follow code: %w: does not start with %q", ErrMalformed, followPrefix)
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("follow code: %w: %v", ErrMalformed, err)
	}
	if err := checkFrame(b, MaxInviteCodeLen); err != nil {
		return nil, fmt.Errorf("follow code: %w", err)
	}
	c := &FollowCode{}
	r := newReader(b)
	n := r.arrayRange(3, 4)
	r.fixed(c.Group[:])
	c.GroupName = r.str("group name", MaxName)
	c.Addrs = r.strs("address", MaxInviteAddrs, MaxAddrLen)
	if n == 4 {
		c.Bootstrap = r.strs("address", MaxInviteAddrs, MaxAddrLen)
	}
	if err := r.end(); err != nil {
		return nil, fmt.Errorf("follow code: %w", err)
	}
	if c.Group.IsZero() {
		return nil, fmt.Errorf("follow code: %w: zero group ID", ErrMalformed)
	}
	return c, nil
}
