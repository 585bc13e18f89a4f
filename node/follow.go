package node

import (
	"slices"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
)

// followed records what a catch-up session told of the groups this node
// follows: a refusal and its reason (shown by `mutual groups` and the
// API), a group served (the refusal is gone), and the peers that offered
// a followed group (they hold it: the node offers it to them from then
// on, as to the peers its follow code named).
func (l *Local) followed(remote crdt.PublicKey, st catchup.Stats) {
	for g, reason := range st.Refused {
		l.Replica.SetRefused(g, reason)
	}
	for _, g := range st.Answered {
		l.Replica.SetRefused(g, "")
	}
	for _, g := range st.Synced {
		if !slices.Contains(st.Answered, g) {
			l.Replica.SetRefused(g, "")
		}
		l.Replica.AddSource(g, remote)
	}
}
