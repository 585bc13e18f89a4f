package sheet

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func roundTrip(t *testing.T, rows []Row) []Row {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, rows); err != nil {
		t.Fatalf("Write: %v", err)
	}
	back, bad, err := Read(&buf, ReadOptions{})
	if err != nil || len(bad) > 0 {
		t.Fatalf("Read(Write): %v %v\n%s", err, bad, buf.String())
	}
	return back
}

func assertSameRows(t *testing.T, got, want []Row) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d rows back, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		g.Line, g.Ref, w.Line, w.Ref = 0, "", 0, ""
		if !rowsEqual(g, w) {
			t.Errorf("row %d:\ngot  %+v\nwant %+v", i+1, g, w)
		}
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	for _, s := range samples {
		t.Run(s.file, func(t *testing.T) {
			rows, _ := readFile(t, "testdata/"+s.file, ReadOptions{})
			assertSameRows(t, roundTrip(t, rows), rows)
		})
	}
	t.Run("mixed-headers.csv", func(t *testing.T) {
		rows, _ := readFile(t, "testdata/mixed-headers.csv", ReadOptions{})
		assertSameRows(t, roundTrip(t, rows), rows)
	})
	t.Run("awkward values", func(t *testing.T) {
		plus5 := time.FixedZone("", 5*3600)
		rows := []Row{
			{Kind: KindNeed, Title: "=HYPERLINK(\"http://x\",\"click\")", Details: "-3 coats\nline two, \"quoted\"\n\tindented",
				Category: "@home", Location: "+ Ward 5", Contact: "+44 20 7946 0000", Quantity: 4294967295,
				Urgency: UrgencyHigh, Status: StatusClaimed, Expires: time.Date(2026, 12, 2, 18, 30, 15, 500, time.UTC)},
			{Kind: KindOffer, Title: "'quoted title'", Details: "''", Contact: "'", Urgency: UrgencyLow,
				Status: StatusWithdrawn, Expires: time.Date(2026, 12, 2, 23, 59, 59, 0, plus5)},
			{Kind: KindOffer, Title: "Van, with \"driver\"", Urgency: UrgencyNormal, Status: StatusFulfilled,
				Expires: time.Date(2027, 1, 31, 23, 59, 59, 0, time.UTC)},
			{Kind: KindNeed, Title: "Ünïcödé — 冬のコート", Location: "Straße 5", Urgency: UrgencyNormal, Status: StatusOpen},
		}
		assertSameRows(t, roundTrip(t, rows), rows)
	})
}

func TestWriteFormat(t *testing.T) {
	var buf bytes.Buffer
	err := Write(&buf, []Row{
		{Kind: KindOffer, Title: "Van", Quantity: 1, Urgency: UrgencyNormal, Status: StatusOpen,
			Expires: time.Date(2026, 12, 18, 23, 59, 59, 0, time.UTC), Contact: "Eli, 555-0144", ID: testID},
		{Kind: KindNeed, Title: "=1+1", Expires: time.Date(2026, 12, 18, 9, 0, 0, 0, time.FixedZone("", -5*3600))},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "ID,Type,Title,Details,Category,Location,Quantity,Urgency,Expires,Contact,Status\n" +
		testID + ",offer,Van,,,,1,normal,2026-12-18,\"Eli, 555-0144\",open\n" +
		",need,'=1+1,,,,,,2026-12-18T09:00:00-05:00,,\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

const testID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestWriteRefusesBadRows(t *testing.T) {
	ok := Row{Kind: KindNeed, Title: "Coats"}
	for _, tc := range []struct {
		name string
		edit func(*Row)
	}{
		{"no kind", func(r *Row) { r.Kind = "" }},
		{"no title", func(r *Row) { r.Title = "" }},
		{"bad urgency", func(r *Row) { r.Urgency = "urgent" }},
		{"bad status", func(r *Row) { r.Status = "done" }},
		{"long title", func(r *Row) { r.Title = strings.Repeat("x", MaxTitle+1) }},
		{"long contact", func(r *Row) { r.Contact = strings.Repeat("x", MaxContact+1) }},
		{"not UTF-8", func(r *Row) { r.Details = "\xff" }},
		{"year 10000", func(r *Row) { r.Expires = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
	} {
		r := ok
		tc.edit(&r)
		var buf bytes.Buffer
		err := Write(&buf, []Row{ok, r})
		if !errors.Is(err, ErrInvalidRow) || !strings.Contains(err.Error(), "row 2") {
			t.Errorf("%s: err %v, want ErrInvalidRow for row 2", tc.name, err)
		}
		if buf.Len() != 0 {
			t.Errorf("%s: wrote %q before failing", tc.name, buf.String())
		}
	}
}
