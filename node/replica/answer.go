package replica

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/mutual-aid/mutual/crdt"
)

// A response from another group is refused up front when this node can
// tell that it would never count on the post's group's nodes, instead
// of being shown as sent here and held there for ever with no word
// anywhere (docs/design.md, "Help across boards"). The refusal says why
// and who can change it, with the command.

// ErrCannotCheck and ErrVisitorsFull are wrapped by a NeverCountError.
var (
	ErrCannotCheck  = errors.New("the post's group cannot check that this node is a member of the group it answers from")
	ErrVisitorsFull = errors.New("the post's group holds as many visitors that do not count as its nodes keep")
)

// NeverCountError refuses a response that would never count: it wraps
// ErrFromBlocked, ErrCannotCheck or ErrVisitorsFull, and its message
// says who can change that, and how.
type NeverCountError struct {
	err error
	msg string
}

func (e *NeverCountError) Error() string { return e.msg }
func (e *NeverCountError) Unwrap() error { return e.err }

// wouldCount returns nil, or why a first or later response from home to
// a post of to (which this node follows, and answers as a visitor)
// could never count on to's nodes, as far as this node knows:
//   - to's admins block home;
//   - home accepts followers from its allies only and none of them is to
//     or a group that one of to's members belongs to: to's nodes could
//     never follow home, so never check that the responder is one of its
//     members, and would hold the response for ever;
//   - to already holds as many visitors that do not count as a node
//     stores: its nodes would ignore this node's first visit.
//
// The caller holds r.mu.
func (r *Replica) wouldCount(to, home *groupState) error {
	toName, homeName := to.name(), home.name()
	if to.g.Blocked(home.rec.ID) {
		return &NeverCountError{ErrFromBlocked, fmt.Sprintf("%s's admins have blocked responses from %s: its members would not see your answer. Only a %s admin can let them count again: mutual group unblock %s --group %s",
			toName, homeName, toName, home.rec.ID, shellWord(toName))}
	}
	if f := home.g.Federation(); f.Policy == crdt.FollowAllies && !slices.Contains(f.Allies, to.rec.ID) && !r.allyHolds(f.Allies, to) {
		cmd := "mutual group federation --group " + shellWord(homeName) + " --policy allies"
		for _, a := range append(slices.Clone(f.Allies), to.rec.ID) {
			cmd += " --ally " + a.String()
		}
		return &NeverCountError{ErrCannotCheck, fmt.Sprintf("%s accepts followers from its allies only and does not list %s: %s's members could not check that you are a member of %s, so your answer would never show there. Ask a %s admin to list %s as an ally: %s (or on the page: Group, Who may follow this group)",
			homeName, toName, toName, homeName, homeName, toName, cmd)}
	}
	if to.g.Visitor(r.self) == nil {
		if n := to.g.Unvouched(); n >= maxUnvouched {
			return &NeverCountError{ErrVisitorsFull, fmt.Sprintf("%s already holds %d visitors from groups its nodes cannot check, the most they keep: they would ignore your answer. Only a %s admin can make room, by blocking the groups those visitors come from (mutual group block GROUP --group %s)",
				toName, n, toName, shellWord(toName))}
		}
	}
	return nil
}

// allyHolds reports whether one of the allies, as this node holds it,
// has a current member of to among its members: that member's node may
// follow the allies-only group and serve it to to's other nodes. The
// caller holds r.mu.
func (r *Replica) allyHolds(allies []crdt.ID, to *groupState) bool {
	for _, m := range to.g.Members() {
		if m.Role == crdt.RoleNone {
			continue
		}
		for _, a := range allies {
			if as := r.groups[a]; as != nil && as.g.IsMember(m.Key) {
				return true
			}
		}
	}
	return false
}

var plainWord = regexp.MustCompile(`^[A-Za-z0-9._,:/@+-]+$`)

// shellWord quotes a group's name for a command line to copy, when it
// needs quotes.
func shellWord(s string) string {
	if plainWord.MatchString(s) {
		return s
	}
	if !strings.ContainsAny(s, `"$`+"`\\") {
		return strconv.Quote(s)
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
