// Package p2p is mutual's networking layer: a libp2p host that replicates
// the groups of a catchup.Replica with the nodes of other members.
//
// Two paths carry ops, and together they guarantee delivery:
//
//   - Live: one GossipSub topic per group (protocol.Topic). Messages are
//     unsigned by GossipSub (StrictNoSign: the ops inside are signed
//     already) and identified by the SHA-256 of their data, which is the
//     op ID. Every inbound op goes through one validator that stores it
//     (Replica.IngestOne) before pubsub forwards it, so a node never
//     forwards what it could lose. A topic's mesh is shared only with
//     peers that may read the group (Replica.MayRead); flood publishing
//     and FloodSub peers are off because they bypass that filter.
//   - Catch-up: the request/response protocol of package catchup on a
//     stream (protocol.SyncProtocol), run once on every new connection
//     (by the side with the smaller peer ID) and then periodically with
//     jitter. GossipSub drops messages when a queue fills; catch-up is
//     what makes every replica converge anyway.
//
// Peers are found through mDNS at a meeting, through addresses typed on
// the command line (--peer, redialled with exponential backoff) and
// through a peer file that remembers the members seen before. Discovered
// addresses are untrusted: they are dialled, nothing more. Group access is
// checked in our protocols, never by a network-wide secret
// (libp2p.PrivateNetwork would drop QUIC and mDNS).
//
// A peer that sends an invalid op (a gossip message the replica rejects,
// or a catch-up session failing with catchup.ErrRejected) is disconnected
// and refused by the connection gater for BlockFor.
//
// Start starts everything; Close stops every goroutine Start started.
package p2p
