package sheet

import (
	"strings"
	"testing"
	"time"
)

func TestDigest(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	day := func(d int) time.Time { return time.Date(2026, 12, d, 23, 59, 59, 0, time.UTC) }
	rows := []Row{
		{Kind: KindNeed, Title: "Groceries", Location: "Eastgate", Category: "food", Urgency: UrgencyNormal, Status: StatusOpen,
			Expires: day(9), Contact: "Ana, 555-0101"},
		{Kind: KindNeed, Title: "Winter coat, size L", Location: "Northside", Category: "clothing", Quantity: 4, Urgency: UrgencyHigh,
			Status: StatusOpen, Expires: day(7), Contact: "Bo, 555-0102 (WhatsApp)"},
		{Kind: KindNeed, Title: "Dog food", Urgency: UrgencyHigh, Status: StatusOpen, Contact: "dog@example.org"},
		{Kind: KindNeed, Title: "Ride to clinic", Urgency: UrgencyHigh, Status: StatusOpen,
			Expires: time.Date(2026, 12, 6, 9, 30, 0, 0, time.UTC), Contact: "555-0104"},
		{Kind: KindNeed, Title: "Cleaning supplies", Urgency: UrgencyLow, Status: StatusOpen, Expires: day(6)},
		{Kind: KindNeed, Title: "Call 555-0105 for the pram", Location: "Ward 5", Status: StatusOpen,
			Contact: "Cy, 555-0105"},
		{Kind: KindNeed, Title: "EXPIRED need", Urgency: UrgencyHigh, Status: StatusOpen, Expires: day(4)},
		{Kind: KindNeed, Title: "EXPIRED right now", Status: StatusOpen, Expires: now},
		{Kind: KindNeed, Title: "FULFILLED need", Urgency: UrgencyHigh, Status: StatusFulfilled},
		{Kind: KindNeed, Title: "CLAIMED need", Status: StatusClaimed},
		{Kind: KindOffer, Title: "WITHDRAWN offer", Status: StatusWithdrawn},
		{Kind: KindOffer, Title: "Van with driver", Location: "Ward 4", Quantity: 1, Urgency: UrgencyNormal,
			Expires: time.Date(2027, 1, 8, 23, 59, 59, 0, time.UTC), Contact: "Di, 555-0106"},
		{Kind: KindOffer, Title: "Hot meals\nevery Friday", Quantity: 20, Urgency: UrgencyNormal, Status: StatusOpen,
			Expires: day(11), Contact: "Ed, 555-0107"},
	}
	var b strings.Builder
	if err := Digest(&b, "Riverside Mutual Aid", rows, now); err != nil {
		t.Fatal(err)
	}
	want := `Riverside Mutual Aid
NEEDS (6)
- [HIGH] Ride to clinic · until Sun 6 Dec 09:30
- [HIGH] Winter coat, size L — clothing (qty 4) · until Mon 7 Dec
- [HIGH] Dog food
- Groceries — food · until Wed 9 Dec
- Call [contact withheld] for the pram
- Cleaning supplies · until Sun 6 Dec

OFFERS (2)
- Hot meals every Friday (qty 20) · until Fri 11 Dec
- Van with driver (qty 1) · until Fri 8 Jan 2027
`
	got := b.String()
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	for _, r := range rows {
		for _, part := range []string{"555-01", "example.org", "WhatsApp", "Ana", "EXPIRED", "FULFILLED", "CLAIMED", "WITHDRAWN",
			"Eastgate", "Northside", "Ward 4", "Ward 5"} { // no location either
			if strings.Contains(got, part) {
				t.Errorf("digest contains %q (row %q)", part, r.Title)
			}
		}
	}
}

func TestDigestSamplesHideContacts(t *testing.T) {
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	for _, s := range samples {
		rows, _ := readFile(t, "testdata/"+s.file, ReadOptions{})
		var b strings.Builder
		if err := Digest(&b, "", rows, now); err != nil {
			t.Fatal(err)
		}
		got := b.String()
		if !strings.Contains(got, "NEEDS (") || !strings.Contains(got, "OFFERS (") {
			t.Errorf("%s: no sections:\n%s", s.file, got)
		}
		for _, r := range rows {
			if strings.Contains(got, r.Contact) {
				t.Errorf("%s: digest shows the contact %q", s.file, r.Contact)
			}
		}
		if strings.Contains(got, "555-") {
			t.Errorf("%s: digest shows a phone number:\n%s", s.file, got)
		}
		// high urgency first within each section
		for _, sec := range strings.Split(got, "\n\n") {
			seenNormal := false
			for _, line := range strings.Split(sec, "\n") {
				if !strings.HasPrefix(line, "- ") {
					continue
				}
				high := strings.HasPrefix(line, "- [HIGH]")
				if high && seenNormal {
					t.Errorf("%s: high urgency after normal: %q", s.file, line)
				}
				seenNormal = seenNormal || !high
			}
		}
	}
}

func TestDigestEmpty(t *testing.T) {
	var b strings.Builder
	rows := []Row{{Kind: KindNeed, Title: "done", Status: StatusFulfilled}}
	if err := Digest(&b, "Board", rows, time.Now()); err != nil {
		t.Fatal(err)
	}
	if want := "Board\nNothing open on the board right now.\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}
