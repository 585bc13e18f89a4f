package replica

import (
	"testing"

	"github.com/mutual-aid/mutual/crdt"
)

// TestGroupEventsOnlyToThoseWhoAsked: a catch-up that stores the
// membership of hundreds of groups publishes a "group" event for each;
// a posts-only subscriber gets none of them, so its buffer holds its
// posts and it never lags for events it would not show, while a
// subscriber that asked for them gets them.
func TestGroupEventsOnlyToThoseWhoAsked(t *testing.T) {
	var b broadcaster
	posts, cancelPosts := b.subscribe(false)
	defer cancelPosts()
	all, cancelAll := b.subscribe(true)
	defer cancelAll()
	for i := range 300 {
		b.publish(Event{Type: "group", Group: crdt.ID{byte(i), byte(i >> 8)}})
	}
	b.publish(Event{Type: "post", Post: &crdt.Post{}})
	if e := <-posts; e.Type != "post" {
		t.Fatalf("a posts-only subscriber got %q first, want the post", e.Type)
	}
	if e := <-all; e.Type != "group" {
		t.Fatalf("a subscriber of group events got %q first", e.Type)
	}
	lagged := false
	for len(all) > 0 {
		if e := <-all; e.Type == "lagged" {
			lagged = true
		}
	}
	if !lagged {
		t.Fatal("301 events into a 256-slot buffer, and no lagged notice")
	}
}
