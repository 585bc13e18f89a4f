package replica

import (
	"sync"

	"github.com/mutual-aid/mutual/crdt"
)

// Event is one change to a board, for live views (the API's SSE stream).
// Type is "post" (Post is the post as it is now), "gone" (Post holds
// only the ID of a post no longer shown), "group" (ops that may change
// the group's members, their names or roles, or this node's standing
// in it were stored: a Rename, a join, an admit...; Post is nil), or
// "lagged" (the subscriber fell behind and lost events).
type Event struct {
	Type  string
	Group crdt.ID
	Post  *crdt.Post // shared: do not modify
}

// broadcaster fans events out to subscribers. A subscriber that falls
// behind loses events rather than slowing the writer; its channel then
// gets a "lagged" event so it can reload. "group" events go only to the
// subscribers that asked for them (SubscribeGroups), so that a catch-up
// storing the membership of hundreds of groups cannot make a posts-only
// stream lag.
type broadcaster struct {
	mu   sync.Mutex
	subs map[chan Event]bool // whether it takes "group" events
}

// Subscribe returns a channel of the boards' events ("post", "gone",
// "lagged"; no "group") and a function to cancel it.
func (r *Replica) Subscribe() (<-chan Event, func()) { return r.events.subscribe(false) }

// SubscribeGroups is Subscribe with "group" events too.
func (r *Replica) SubscribeGroups() (<-chan Event, func()) { return r.events.subscribe(true) }

func (b *broadcaster) subscribe(groups bool) (<-chan Event, func()) {
	ch := make(chan Event, 256)
	b.mu.Lock()
	if b.subs == nil {
		b.subs = map[chan Event]bool{}
	}
	b.subs[ch] = groups
	b.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			if _, ok := b.subs[ch]; ok {
				delete(b.subs, ch)
				close(ch)
			}
			b.mu.Unlock()
		})
	}
}

// listening reports whether anyone subscribes.
func (b *broadcaster) listening() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs) > 0
}

func (b *broadcaster) publish(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch, groups := range b.subs {
		if e.Type == "group" && !groups {
			continue
		}
		select {
		case ch <- e:
		default:
			select {
			case <-ch: // make room for a notice
			default:
			}
			select {
			case ch <- Event{Type: "lagged"}:
			default:
			}
		}
	}
}

func (b *broadcaster) closeAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		delete(b.subs, ch)
		close(ch)
	}
}
