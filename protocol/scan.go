package protocol

import (
	"encoding/binary"
	"fmt"
)

// scan walks the msgpack value at the start of b without allocating and
// returns its length in bytes. It fails when any length prefix claims
// more bytes (or, for arrays and maps, more elements) than remain, or
// when values nest deeper than maxDepth. Decoders run it before handing
// bytes to the msgpack library, whose allocation limit does not hold.
func scan(b []byte, depth int) (int, error) {
	if depth > maxDepth {
		return 0, ErrTooDeep
	}
	if len(b) == 0 {
		return 0, ErrTruncated
	}
	c := b[0]
	var hdr int
	var n uint64   // payload bytes, or element count for containers (uint64: no overflow on 32-bit)
	container := 0 // 1 = array, 2 = map
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return 1, nil
	case c >= 0x80 && c <= 0x8f:
		hdr, n, container = 1, uint64(c&0x0f), 2
	case c >= 0x90 && c <= 0x9f:
		hdr, n, container = 1, uint64(c&0x0f), 1
	case c >= 0xa0 && c <= 0xbf:
		hdr, n = 1, uint64(c&0x1f)
	case c == 0xcc || c == 0xd0:
		hdr, n = 1, 1
	case c == 0xcd || c == 0xd1:
		hdr, n = 1, 2
	case c == 0xce || c == 0xd2 || c == 0xca:
		hdr, n = 1, 4
	case c == 0xcf || c == 0xd3 || c == 0xcb:
		hdr, n = 1, 8
	case c == 0xd4:
		hdr, n = 2, 1
	case c == 0xd5:
		hdr, n = 2, 2
	case c == 0xd6:
		hdr, n = 2, 4
	case c == 0xd7:
		hdr, n = 2, 8
	case c == 0xd8:
		hdr, n = 2, 16
	case c == 0xc4 || c == 0xd9: // bin8, str8
		if len(b) < 2 {
			return 0, ErrTruncated
		}
		hdr, n = 2, uint64(b[1])
	case c == 0xc5 || c == 0xda: // bin16, str16
		if len(b) < 3 {
			return 0, ErrTruncated
		}
		hdr, n = 3, uint64(binary.BigEndian.Uint16(b[1:]))
	case c == 0xc6 || c == 0xdb: // bin32, str32
		if len(b) < 5 {
			return 0, ErrTruncated
		}
		hdr, n = 5, uint64(binary.BigEndian.Uint32(b[1:]))
	case c == 0xc7: // ext8
		if len(b) < 3 {
			return 0, ErrTruncated
		}
		hdr, n = 3, uint64(b[1])
	case c == 0xc8: // ext16
		if len(b) < 4 {
			return 0, ErrTruncated
		}
		hdr, n = 4, uint64(binary.BigEndian.Uint16(b[1:]))
	case c == 0xc9: // ext32
		if len(b) < 6 {
			return 0, ErrTruncated
		}
		hdr, n = 6, uint64(binary.BigEndian.Uint32(b[1:]))
	case c == 0xdc: // array16
		if len(b) < 3 {
			return 0, ErrTruncated
		}
		hdr, n, container = 3, uint64(binary.BigEndian.Uint16(b[1:])), 1
	case c == 0xdd: // array32
		if len(b) < 5 {
			return 0, ErrTruncated
		}
		hdr, n, container = 5, uint64(binary.BigEndian.Uint32(b[1:])), 1
	case c == 0xde: // map16
		if len(b) < 3 {
			return 0, ErrTruncated
		}
		hdr, n, container = 3, uint64(binary.BigEndian.Uint16(b[1:])), 2
	case c == 0xdf: // map32
		if len(b) < 5 {
			return 0, ErrTruncated
		}
		hdr, n, container = 5, uint64(binary.BigEndian.Uint32(b[1:])), 2
	default: // 0xc1 is never used
		return 0, fmt.Errorf("%w: byte %#x", ErrMalformed, c)
	}
	if hdr > len(b) {
		return 0, ErrTruncated
	}
	rest := uint64(len(b) - hdr)
	if container == 0 {
		if n > rest {
			return 0, ErrTruncated
		}
		return hdr + int(n), nil
	}
	elems := n * uint64(container)
	if elems > rest { // every element takes at least one byte
		return 0, ErrTruncated
	}
	off := hdr
	for i := uint64(0); i < elems; i++ {
		m, err := scan(b[off:], depth+1)
		if err != nil {
			return 0, err
		}
		off += m
	}
	return off, nil
}

// checkFrame caps b at max bytes and checks that it holds exactly one
// well-formed msgpack value.
func checkFrame(b []byte, max int) error {
	if len(b) > max {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(b), max)
	}
	n, err := scan(b, 0)
	if err != nil {
		return err
	}
	if n != len(b) {
		return ErrTrailing
	}
	return nil
}
