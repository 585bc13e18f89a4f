package p2p

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/catchup"
	"github.com/mutual-aid/mutual/protocol"
)

// notifyingReplica reports the IDs of the ops IngestOne accepts.
type notifyingReplica struct {
	*catchup.MemoryReplica
	mu      sync.Mutex
	waiting map[crdt.ID]chan struct{}
}

func (n *notifyingReplica) expect(id crdt.ID) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	ch := make(chan struct{})
	n.waiting[id] = ch
	return ch
}

func (n *notifyingReplica) IngestOne(ctx context.Context, raw []byte) (crdt.Verdict, error) {
	v, err := n.MemoryReplica.IngestOne(ctx, raw)
	if v == crdt.Accept {
		id := protocol.OpID(raw)
		n.mu.Lock()
		if ch := n.waiting[id]; ch != nil {
			close(ch)
			delete(n.waiting, id)
		}
		n.mu.Unlock()
	}
	return v, err
}

// BenchmarkGossipLatency measures a post on A until B's replica has
// accepted (validated and stored) it, three hosts on loopback, once the
// mesh is formed.
func BenchmarkGossipLatency(b *testing.B) {
	tg := newTestGroup(b)
	ra := tg.replica(b, tg.a)
	rb := &notifyingReplica{MemoryReplica: tg.replica(b, tg.b), waiting: map[crdt.ID]chan struct{}{}}
	rc := tg.replica(b, tg.c)
	ha := start(b, loopbackConfig(b, tg.a), ra)
	hb := start(b, loopbackConfig(b, tg.b), rb)
	hc := start(b, loopbackConfig(b, tg.c), rc)
	connect(b, hb, ha)
	connect(b, hc, ha)
	connect(b, hc, hb)
	waitMesh(b, tg.id, ha, hb, hc)

	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		op, raw := tg.a.sign(b, tg.id, crdt.PostCreate{PostKind: crdt.Need, Fields: crdt.Fields{Title: fmt.Sprint("coats ", i)}})
		done := rb.expect(op.ID)
		b.StartTimer()
		t0 := time.Now()
		if err := ha.Publish(ctx, tg.id, raw); err != nil {
			b.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			b.Fatalf("op %d not delivered", i)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}
