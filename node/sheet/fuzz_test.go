package sheet

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRead: Read never panics; every row it returns is within the limits
// and well formed; every row error has a line; and what it returns can be
// written and read back unchanged.
func FuzzRead(f *testing.F) {
	// Seeds are small on purpose: the fuzzer minimises every new
	// interesting input, for up to a minute, and a 10 KB sheet makes that
	// the whole run. testdata/fuzz/FuzzRead holds cut-down samples.
	f.Add([]byte("Type,Title,Quantity,Needed by\nneed,Coats,3,2026-12-01\noffer,'=1+1,-1,2026-02-30\n"), "")
	f.Add([]byte("Type (Need/Offer),Título,Categoría,Urgencia,Vence\nNecesidad,Mantas,Ropa,urgente,25/12/2026\nOferta,Sopa,,baja,\nquizás,x,,,\n"), "")
	f.Add([]byte("Title,Phone,Notes\nCoats\u202e,555\u2066,a\u2028b\n"), "offer")
	f.Add([]byte("ID,Type,Title\n0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef,need,Coats\n0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef,need,Coats\n7,offer,Van\n"), "")
	f.Add([]byte("Grupo,Tipo,Título,Cantidad,Vence\nEste,Necesidad,Mantas,3 personas,25 dic\n,Oferta,Sopa,2 ollas,\"viernes, 3 de enero de 2027 18:00\"\nX,Oferta,Pan,10 uds,ene 2027\n"), "")
	f.Fuzz(func(t *testing.T, data []byte, kind string) {
		if kind != KindNeed && kind != KindOffer {
			kind = ""
		}
		rows, bad, err := Read(bytes.NewReader(data), ReadOptions{DefaultKind: kind})
		if err != nil {
			if rows != nil || bad != nil {
				t.Fatalf("rows and an error: %v", err)
			}
			return
		}
		for _, b := range bad {
			if b.Line < 1 || b.Err == "" || !utf8.ValidString(b.Err) {
				t.Fatalf("bad row error %#v", b)
			}
		}
		for _, r := range rows {
			if err := r.check(); err != nil {
				t.Fatalf("line %d: %v: %+v", r.Line, err, r)
			}
			if r.Urgency == "" || r.Status == "" || r.Line < 1 || !refPattern.MatchString(r.Ref) {
				t.Fatalf("row not well formed: %+v", r)
			}
			if strings.ContainsAny(r.Title+r.Category+r.Location+r.Contact, "\n\r\t\u2028\u2029") {
				t.Fatalf("line break in a one-line field: %+v", r)
			}
			if strings.ContainsFunc(r.Title+r.Details+r.Category+r.Location+r.Contact, isBidiControl) {
				t.Fatalf("bidi control kept: %+v", r)
			}
		}
		var buf bytes.Buffer
		if err := Write(&buf, rows); err != nil {
			t.Fatalf("Write of read rows: %v", err)
		}
		back, bad, err := Read(&buf, ReadOptions{})
		if err != nil || len(bad) > 0 || len(back) != len(rows) {
			t.Fatalf("read back: %d rows (want %d), bad %v, err %v\n%q", len(back), len(rows), bad, err, buf.String())
		}
		for i := range back {
			g, w := back[i], rows[i]
			g.Line, g.Ref, w.Line, w.Ref = 0, "", 0, ""
			if !rowsEqual(g, w) {
				t.Fatalf("row %d changed:\ngot  %+v\nwant %+v", i, g, w)
			}
		}
	})
}
