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
// The data flow. Group.Check judges one op alone (accept, reject, or
// ignore a far-future stamp). Board, the reference model, holds every op
// it accepts and decides what counts lazily, from the whole set: on
// Refresh it finds each author's fork (two ops at one seq, or an op whose
// Prev is not the op held before it), and the Group evaluates the
// membership from the membership ops held before their authors' forks;
// each post is then rebuilt from its ops with the role each author had at
// each op (Group.RoleAt). Gaps in an author's log cut nothing off; only a
// fork does. Package node does the same against its store, incrementally
// (node/replica/apply.go): it keeps what Storable allows, tells
// Group.Fork of a fork as it links the op to its neighbours in the log,
// stores the op and gives it to Group.Hold. If the membership is
// unchanged (Group.Evaluated), it merges the op into its post with
// ApplyPost; if it changed, it compares Group.Spans and Group.Forks
// before and after, and rebuilds with RebuildPost the posts touched by
// every op whose standing changed.
package crdt
