// Package protocol is mutual's wire and disk format: the canonical
// msgpack encoding of ops and invites, their signatures and IDs, the
// limits every decoder enforces, and the protocol IDs and topic names.
//
// Decoding is defensive, because every byte here may come from a hostile
// peer or file: a frame is capped before anything is parsed, a pre-scan
// checks that every msgpack length prefix fits in the bytes that remain
// (msgpack v5.4.1 will otherwise allocate gigabytes for a few bytes),
// values are decoded only into fixed structs, trailing bytes are refused,
// and an op must re-encode to exactly the bytes it came in (so one op has
// exactly one encoding and one ID).
//
// docs/protocol.md specifies all of it for a second implementation.
package protocol
