// Package crdt holds mutual's data model and its merge rules: hybrid
// logical clocks, signed operations (as plain values), group membership,
// posts made of last-writer-wins registers, and the state hash.
//
// The package only computes. It reads no clock (time is passed in), does
// no I/O, starts no goroutines and logs nothing. Signing, hashing and
// encoding ops into bytes live in package protocol; package node persists
// ops and feeds them here.
//
// The central guarantee: the board is a pure function of the set of
// accepted ops. Applying the same ops in any order, any number of times,
// yields the same state and so the same StateHash.
//
// The data flow for one op is:
//
//	verdict, err := group.Check(op, nowMillis)   // pure validation: accept, reject, ignore
//	ready := group.Admit(op)                      // membership: apply joins, park ops of unknown authors
//	for _, r := range ready { ApplyPost(posts, r) } // posts: merge LWW registers
//
// Board bundles a Group and an in-memory post set for tests and
// simulations; package node does the same against its Badger store.
package crdt
