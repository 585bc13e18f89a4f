// Package catchup runs mutual's catch-up protocol (protocol.SyncProtocol):
// two peers exchange per-group version vectors and stream each other
// exactly the ops the other lacks, in bounded batches, over one
// bidirectional stream.
//
// Live gossip may lose ops (GossipSub drops when its queues fill, nodes
// are offline, networks split); catch-up is what guarantees that two
// nodes that meet end up with the same board. It is idempotent and
// resumable: the receiver stores every batch as it arrives, so a session
// cut short resumes from the stored progress next time.
//
// Run talks to an io.ReadWriter, so tests join two peers with net.Pipe;
// package node/p2p wires it to libp2p streams. The node's board is seen
// through the small Replica interface; MemoryReplica is its in-memory
// twin, used by the tests and the deterministic simulation here.
//
// docs/protocol-catchup.md specifies the messages and their order.
package catchup
