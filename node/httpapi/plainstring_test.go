package httpapi

import (
	"encoding/json"
	"testing"
)

// TestPlainString: jsonString's shortcut takes only strings without
// escapes, and reads them as encoding/json does; anything else is left
// to encoding/json (and its errors).
func TestPlainString(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want string
		ok   bool
	}{
		{`"winter coats"`, "winter coats", true},
		{`""`, "", true},
		{`"Grüße, 冬のコート"`, "Grüße, 冬のコート", true},
		{`"a\"b"`, "", false},
		{`"line\nbreak"`, "", false},
		{`"\u00e9"`, "", false},
		{"\"tab\there\"", "", false},
		{"\"bad \xff byte\"", "", false},
		{`null`, "", false},
		{`42`, "", false},
		{`"unterminated`, "", false},
		{`"`, "", false},
		{` "spaced"`, "", false},
	} {
		got, ok := plainString([]byte(c.raw))
		if got != c.want || ok != c.ok {
			t.Errorf("plainString(%q) = %q, %v; want %q, %v", c.raw, got, ok, c.want, c.ok)
		}
	}
	for _, raw := range []string{`"a\"b"`, `"\u00e9"`, `null`, `"line\nbreak"`} {
		if _, err := jsonString("title", json.RawMessage(raw)); err != nil {
			t.Errorf("jsonString(%s): %v", raw, err)
		}
	}
	if _, err := jsonString("title", json.RawMessage(`42`)); err == nil {
		t.Error("jsonString(42): no error")
	}
}

// FuzzPlainString: whatever plainString takes, encoding/json takes too,
// as the same text.
func FuzzPlainString(f *testing.F) {
	for _, s := range []string{`"winter coats"`, `""`, `"a\"b"`, "\"\xff\"", `"é"`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := plainString(raw)
		if !ok {
			return
		}
		var want string
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatalf("plainString took %q, which encoding/json refuses: %v", raw, err)
		}
		if got != want {
			t.Fatalf("plainString(%q) = %q; encoding/json reads %q", raw, got, want)
		}
	})
}
