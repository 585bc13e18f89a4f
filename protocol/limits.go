package protocol

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Limits. Every decoder enforces them; the crdt never sees an op that
// breaks one. They are part of the protocol (docs/protocol.md).
const (
	MaxOpBytes       = 8 << 10 // a whole encoded op
	MaxTitle         = 200
	MaxDetails       = 4000
	MaxCategory      = 64
	MaxLocation      = 200
	MaxContact       = 200
	MaxRef           = 64
	MaxName          = 100 // group and member names
	MaxNote          = 500
	MaxInviteAddrs   = 8
	MaxAddrLen       = 256
	MaxInviteCodeLen = 4096
	maxDepth         = 8
)

// Decoding errors. All wrap ErrMalformed, except ErrBadSignature and
// ErrUnsupported.
var (
	ErrMalformed    = errors.New("malformed")
	ErrTooLarge     = fmt.Errorf("%w: too large", ErrMalformed)
	ErrTruncated    = fmt.Errorf("%w: length prefix larger than the bytes that remain", ErrMalformed)
	ErrTrailing     = fmt.Errorf("%w: trailing bytes", ErrMalformed)
	ErrNotCanonical = fmt.Errorf("%w: not the canonical encoding", ErrMalformed)
	ErrFieldTooLong = fmt.Errorf("%w: field too long", ErrMalformed)
	ErrBadUTF8      = fmt.Errorf("%w: text is not UTF-8", ErrMalformed)
	ErrTooDeep      = fmt.Errorf("%w: nested too deep", ErrMalformed) // more than maxDepth levels below the outermost value
	ErrBadSignature = errors.New("bad signature")
	ErrUnsupported  = errors.New("unsupported version or kind")
)

func checkText(name, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%w: %s is %d bytes, at most %d", ErrFieldTooLong, name, len(s), max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s", ErrBadUTF8, name)
	}
	return nil
}
