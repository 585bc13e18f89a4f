package sheet

import (
	"strings"
	"unicode"
)

// role is what a column feeds.
type role int

const (
	roleNone role = iota
	roleKind
	roleTitle
	roleDetails
	roleCategory
	roleLocation
	roleQuantity
	roleUrgency
	roleExpires
	roleContact
	roleName   // joined in front of Contact
	roleMethod // appended to Contact in brackets
	roleStatus
	roleStamp // form timestamp: checked, feeds the Ref
	numRoles
)

var roleNames = [numRoles]string{"", "Type", "Title", "Details", "Category", "Location", "Quantity",
	"Urgency", "Expires", "Contact", "Name", "Contact method", "Status", "Timestamp"}

// aliases maps a normalised header (see normHeader) to its role.
var aliases = map[string]role{}

func init() {
	for r, hs := range map[role][]string{
		roleKind: {"type", "kind", "need or offer", "offer or need", "need offer", "offer need",
			"request or offer", "offer or request", "post type", "type of post", "entry type",
			"needs or offers", "needs offers"},
		roleTitle: {"title", "request", "requests", "offer", "offers", "need", "needs", "item", "items",
			"summary", "subject", "headline", "what", "post", "need title", "offer title",
			"request title", "requested item", "requested items", "offered item", "what do you need",
			"what is needed", "what can you offer", "what are you offering", "what do you have",
			"what can you give", "i need", "i can offer"},
		roleDetails: {"details", "detail", "description", "tell us more", "notes", "note", "comments",
			"comment", "more details", "additional details", "more info", "more information",
			"additional information", "additional info", "anything else", "anything else we should know",
			"other information", "request details", "offer details", "description of need"},
		roleCategory: {"category", "categories", "type of support", "support type", "kind of support",
			"type of help", "kind of help", "help type", "type of need", "need type", "type of request",
			"request type", "type of offer", "offer type", "tag", "tags"},
		roleLocation: {"location", "neighbourhood", "neighborhood", "area", "address", "where", "zone",
			"district", "ward", "town", "city", "suburb", "region", "postcode", "post code", "zip",
			"zip code", "postal code", "cross streets", "pickup location", "delivery address"},
		roleQuantity: {"quantity", "qty", "household size", "size of household", "how many", "number",
			"count", "amount", "number of people", "people", "units"},
		roleUrgency: {"urgency", "urgent", "priority", "how urgent", "how urgent is your need",
			"how urgent is it", "how urgent is this"},
		roleExpires: {"expires", "expiry", "expiry date", "expiration", "expiration date", "expires on",
			"needed by", "need by", "needed before", "available until", "available till", "deadline",
			"until", "due", "due date", "due by", "by when", "valid until", "end date"},
		roleContact: {"contact", "phone", "phone or email", "email or phone", "phone email", "email",
			"e mail", "email address", "phone number", "telephone", "tel", "mobile", "cell",
			"contact number", "contact info", "contact information", "contact details", "whatsapp",
			"signal", "how can we reach you"},
		roleName: {"name", "your name", "full name", "first name", "volunteer", "volunteer name",
			"requester", "requester name", "requested by", "offered by", "contact name", "contact person",
			"person", "neighbour", "neighbor"},
		roleMethod: {"preferred contact method", "contact method", "preferred contact",
			"preferred method of contact", "best way to reach you", "best way to contact you",
			"how should we contact you", "contact preference"},
		roleStatus: {"status", "state", "stage", "request status", "offer status"},
		roleStamp: {"timestamp", "submitted", "submitted at", "submission time", "submission date",
			"date submitted", "created", "created at", "created time", "date", "time"},
	} {
		for _, h := range hs {
			aliases[h] = r
		}
	}
}

// keywordRoles is tried, in order, on a header no alias matched.
var keywordRoles = []struct {
	prefix, contains string
	r                role
}{
	{prefix: "how urgent", r: roleUrgency},
	{contains: "urgency", r: roleUrgency},
	{contains: "check all", r: roleCategory}, // a multi-choice question
	{contains: "select all", r: roleCategory},
	{contains: "tick all", r: roleCategory},
	{prefix: "what do you need", r: roleTitle},
	{prefix: "what can you offer", r: roleTitle},
	{prefix: "what are you offering", r: roleTitle},
	{prefix: "tell us more", r: roleDetails},
	{contains: "description", r: roleDetails},
	{contains: "neighbourhood", r: roleLocation},
	{contains: "neighborhood", r: roleLocation},
	{contains: "address", r: roleLocation},
	{prefix: "how many", r: roleQuantity},
	{contains: "household size", r: roleQuantity},
	{contains: "quantity", r: roleQuantity},
	{contains: "needed by", r: roleExpires},
	{contains: "available until", r: roleExpires},
	{contains: "deadline", r: roleExpires},
	{contains: "expir", r: roleExpires},
	{contains: "contact method", r: roleMethod},
	{contains: "phone", r: roleContact},
	{contains: "email", r: roleContact},
	{contains: "status", r: roleStatus},
	{contains: "timestamp", r: roleStamp},
}

// offerWords in a header make a sheet without a Type column a sheet of
// offers (unless ReadOptions.DefaultKind says otherwise).
var offerWords = map[string]bool{"offer": true, "offers": true, "offering": true, "offered": true,
	"donation": true, "donations": true}

// normHeader lower-cases h, turns punctuation into spaces and collapses
// runs of spaces: "What do you need? (check all that apply)" becomes
// "what do you need check all that apply".
func normHeader(h string) string {
	h = strings.TrimPrefix(h, "\ufeff")
	var b strings.Builder
	space := false
	for _, c := range strings.ToLower(h) {
		if unicode.IsLetter(c) || unicode.IsDigit(c) {
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteRune(c)
			space = false
		} else {
			space = true
		}
	}
	return b.String()
}

func headerRole(h string) role {
	n := normHeader(h)
	if n == "" {
		return roleNone
	}
	if r, ok := aliases[n]; ok {
		return r
	}
	for _, k := range keywordRoles {
		if (k.prefix != "" && strings.HasPrefix(n, k.prefix)) || (k.contains != "" && strings.Contains(n, k.contains)) {
			return k.r
		}
	}
	return roleNone
}

// layout is a header mapped to roles.
type layout struct {
	names  []string        // the header cells as written, for messages
	cols   [numRoles][]int // column indexes feeding each role, in order
	offers bool            // the headers look like a sheet of offers
}

func mapHeader(header []string) layout {
	l := layout{names: header}
	for i, h := range header {
		r := headerRole(h)
		if r != roleNone {
			l.cols[r] = append(l.cols[r], i)
		}
		if r == roleKind {
			continue // "Need or offer" says nothing about the rows
		}
		for _, w := range strings.Fields(normHeader(h)) {
			if offerWords[w] {
				l.offers = true
			}
		}
	}
	return l
}

// usable reports whether a post can be made from the sheet's columns.
func (l *layout) usable() bool {
	return len(l.cols[roleTitle]) > 0 || len(l.cols[roleDetails]) > 0 || len(l.cols[roleCategory]) > 0
}

// colName is the header of column i as written, or the role's name.
func (l *layout) colName(r role, i int) string {
	if i < len(l.names) {
		if n := strings.TrimSpace(strings.TrimPrefix(l.names[i], "\ufeff")); n != "" {
			return n
		}
	}
	return roleNames[r]
}
