package p2p

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
)

// TestFollowerSessionSettles: real hosts on loopback. F follows A's
// group; once it holds the board, a session between them settles the
// group by its digest (A passes the groups it served F as a follower,
// catchup.Options.Followers) and A still counts F as a follower, so it
// goes on pushing new ops to it; and a spread of the group's new ops
// goes to F, while one of another group's does not.
func TestFollowerSessionSettles(t *testing.T) {
	tg := newTestGroup(t)
	ra := tg.replica(t, tg.a)
	for i := range 5 {
		if _, err := ra.IngestOne(context.Background(), tg.a.post(t, tg.id, "coats")); err != nil {
			t.Fatal(err, i)
		}
	}
	fm := newMember(t)
	rf := catchup.NewMemoryReplica(fm.pub, nowMillis)
	rf.Follow(tg.id, tg.a.pub)
	a := start(t, loopbackConfig(t, tg.a), ra)
	f := start(t, loopbackConfig(t, fm), rf)
	connect(t, f, a)
	waitFor(t, 10*time.Second, "the follower gets the board", func() bool { return converged(tg.id, len(tg.setup)+5, ra, rf) })

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	waitFor(t, 10*time.Second, "A records F as a follower", func() bool { return slices.Contains(a.followsOf(f.ID()), tg.id) })
	st, err := a.SyncNow(ctx, f.ID())
	if err != nil {
		t.Fatal(err)
	}
	if st.Settled != 1 || st.OpsSent+st.OpsReceived != 0 || !slices.Contains(st.Followers, tg.id) {
		t.Fatalf("an idle session with a follower: %+v", st)
	}
	if !a.shares(f.ID(), []crdt.ID{tg.id}) || a.shares(f.ID(), []crdt.ID{{7}}) {
		t.Fatal("a spread of the group does not go to its follower, or one of another group does")
	}
}
