package p2p

import (
	"context"
	"testing"
	"time"
)

// TestPublishStoredRefusesOtherGroup: ops of another group are not sent
// on a group's topic (checked where the frame is encoded, which decodes
// each op once).
func TestPublishStoredRefusesOtherGroup(t *testing.T) {
	tg, other := newTestGroup(t), newTestGroup(t)
	a := start(t, loopbackConfig(t, tg.a), tg.replica(t, tg.a))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stranger := other.a.post(t, other.id, "another group's post")
	mine := tg.a.post(t, tg.id, "this group's post")
	if err := a.PublishStored(ctx, tg.id, [][]byte{mine, stranger}); err == nil {
		t.Fatal("a frame holding an op of another group was published")
	}
	if err := a.PublishStored(ctx, tg.id, [][]byte{mine}); err != nil {
		t.Fatalf("this group's op: %v", err)
	}
}
