package sheet

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadHostile(t *testing.T) {
	junk := make([]byte, 64<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range junk {
		junk[i] = byte(rng.UintN(256))
	}
	junkNoNUL := bytes.ReplaceAll(junk, []byte{0}, []byte{1})
	manyRows := func(n int) io.Reader {
		var b strings.Builder
		b.WriteString("Title\n")
		for range n {
			b.WriteString("x\n")
		}
		return strings.NewReader(b.String())
	}
	for _, tc := range []struct {
		name string
		in   io.Reader
		want []error // any of
	}{
		{"empty", strings.NewReader(""), []error{ErrNoHeader}},
		{"blank lines", strings.NewReader("\n\n  \n"), []error{ErrNoHeader}},
		{"only empty cells", strings.NewReader(",,\n,,\n"), []error{ErrNoHeader}},
		{"no usable column", strings.NewReader("Foo,Bar\n1,2\n"), []error{ErrNoColumns}},
		{"huge line", io.MultiReader(strings.NewReader("Title,Details\nx,"), strings.NewReader(strings.Repeat("y", MaxFileSize))), []error{ErrTooLarge}},
		{"endless input", iotest.OneByteReader(io.LimitReader(zeroes{}, MaxFileSize+10)), []error{ErrTooLarge}},
		{"binary junk", bytes.NewReader(junk), []error{ErrNotCSV}},
		{"binary junk without NUL", bytes.NewReader(junkNoNUL), []error{ErrNotCSV, ErrNoColumns}},
		{"UTF-16", bytes.NewReader([]byte("\xff\xfeT\x00i\x00t\x00l\x00e\x00\n\x00")), []error{ErrNotCSV}},
		{"bad quote in header", strings.NewReader("Title,\"Det\"ails\nx,y\n"), []error{ErrNotCSV}},
		{"200k rows", manyRows(200_000), []error{ErrTooManyRows}},
		{"one row too many", manyRows(MaxRows + 1), []error{ErrTooManyRows}},
		{"read error", iotest.ErrReader(errors.New("disk on fire")), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, bad, err := Read(tc.in, ReadOptions{DefaultKind: KindNeed})
			if err == nil {
				t.Fatalf("no error; %d rows, %d bad", len(rows), len(bad))
			}
			if rows != nil || bad != nil {
				t.Errorf("rows returned with the error %v", err)
			}
			if !strings.HasPrefix(err.Error(), "sheet: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			ok := len(tc.want) == 0
			for _, w := range tc.want {
				ok = ok || errors.Is(err, w)
			}
			if !ok {
				t.Errorf("err = %v, want one of %v", err, tc.want)
			}
		})
	}
}

type zeroes struct{}

func (zeroes) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

// Big but within the file limit: the rows are judged, the file is read.
func TestReadLargeButAllowed(t *testing.T) {
	t.Run("huge cell", func(t *testing.T) {
		in := "Title,Details\nCoats," + strings.Repeat("y", 5<<20) + "\nHats,warm\n"
		rows, bad, err := Read(strings.NewReader(in), ReadOptions{DefaultKind: KindNeed})
		if err != nil || len(rows) != 1 || len(bad) != 1 || bad[0].Line != 2 || !strings.Contains(bad[0].Err, "details is") {
			t.Errorf("rows %d, bad %v, err %v", len(rows), bad, err)
		}
	})
	t.Run("MaxRows rows", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("Title\n")
		for range MaxRows {
			b.WriteString("x\n")
		}
		rows, bad, err := Read(strings.NewReader(b.String()), ReadOptions{DefaultKind: KindNeed})
		if err != nil || len(rows) != MaxRows || len(bad) != 0 {
			t.Errorf("rows %d, bad %d, err %v", len(rows), len(bad), err)
		}
	})
	t.Run("unterminated quote", func(t *testing.T) {
		in := "Title,Details\nCoats,warm\nHats,\"never closed\nScarves,red\n"
		rows, bad, err := Read(strings.NewReader(in), ReadOptions{DefaultKind: KindNeed})
		if err != nil || len(rows) != 1 || len(bad) != 1 || bad[0].Line != 3 {
			t.Errorf("rows %v, bad %v, err %v", rows, bad, err)
		}
	})
	t.Run("control characters", func(t *testing.T) {
		in := "Title,Details\n\"Co\x01ats\x1b[31m\",\"a\x07b\r\nc\"\n"
		rows, _, err := Read(strings.NewReader(in), ReadOptions{DefaultKind: KindNeed})
		if err != nil || len(rows) != 1 || rows[0].Title != "Co ats [31m" || rows[0].Details != "ab\nc" {
			t.Errorf("rows %+v, err %v", rows, err)
		}
	})
}
