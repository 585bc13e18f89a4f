// Package sheet reads and writes the board as a spreadsheet (CSV), and
// renders it as a short text digest for a group chat.
//
// # Reading
//
// [Read] takes the CSV export of whatever intake sheet a group already
// keeps (a Google Form, an Airtable base, a hand-made sheet) and maps its
// columns onto a post's fields by header. Headers are compared
// case-insensitively, trimmed, with punctuation ignored, so "Qty.",
// " QTY " and "qty" are the same header. A header that matches no row
// of the table below is tried against a few keyword rules (a header
// starting "How urgent..." is Urgency, one containing "check all that
// apply" is Category, "...phone..." or "...email..." is Contact, and so
// on); what matches nothing is ignored.
//
//	Field     Headers (examples; see header.go for the full list)
//	Kind      Type, Kind, Need or offer
//	Title     Title, Request, Offer, Need, Item, Summary, What do you need?, What can you offer?
//	Details   Details, Description, Tell us more, Notes, Comments, More details
//	Category  Category, Type of support, Type of help, What do you need? (check all that apply)
//	Location  Location, Neighbourhood, Neighborhood, Area, Address, Ward, District, Postcode
//	Quantity  Quantity, Qty, Household size, How many, Number of people
//	Urgency   Urgency, Priority, How urgent is your need?
//	Expires   Expires, Needed by, Available until, Deadline, Due date, Valid until
//	Contact   Contact, Phone, Phone or email, Email, Mobile, WhatsApp
//	(name)    Name, Your name, Full name, Volunteer, Requester, Contact name
//	(method)  Preferred contact method, Contact method
//	Status    Status, State, Stage
//	(stamp)   Timestamp, Submitted, Created, Date submitted
//
// Values are mapped as follows.
//
//   - Kind: "need", "request", ... is a need; "offer", "have", "give", ...
//     is an offer. With no Type column, or an empty cell,
//     [ReadOptions.DefaultKind] is used; when that is empty too, a sheet
//     with an offer-like header ("Offer", "What can you offer?") holds
//     offers and any other sheet holds needs.
//   - Title: when the sheet has no title column, the title is the first
//     line of Details cut to about 80 characters, or else the Category.
//     When it has one and the cell is empty, the row is bad: we do not
//     guess a title for a row someone left blank.
//   - Contact: the contact cells; when the sheet also has a name column it
//     comes first ("Ana Evans, 555-0107"), and a preferred contact method
//     is appended in brackets ("Ana Evans, 555-0107 (WhatsApp)").
//   - Urgency: "Urgent! (within 24 hours)", "ASAP", "high", "emergency",
//     "today" are high; "Whenever possible", "low", "not urgent",
//     "no rush", "flexible" are low; anything else (including empty) is
//     normal.
//   - Status: Open, New, Dispatch needed, Available, Pending are open;
//     Taken, Claimed, In progress, Assigned, Delivery assigned are
//     claimed; Done, Complete, Request complete, Fulfilled, Delivered,
//     Closed are fulfilled; Cancelled, Withdrawn, Expired, Duplicate are
//     withdrawn. Other wording is matched by its words (anything
//     "...assigned" is claimed, "...complete" fulfilled) and what is
//     still unknown, or empty, is open.
//   - Expires: YYYY-MM-DD, M/D/YYYY (US order, as Google Forms writes it),
//     "M/D/YYYY H:MM:SS", "YYYY-MM-DD HH:MM[:SS]", RFC 3339, and
//     "2 Jan 2006" / "Jan 2, 2006". A date without a time means the end of
//     that day (23:59:59); a time without a zone is read in
//     [ReadOptions.Location] (UTC by default). The Timestamp column is
//     checked the same way and feeds the Ref, but is not a post field.
//   - Quantity: a whole number; empty or 0 means unspecified.
//
// A row is bad, reported as a [RowError] with its line number while the
// other rows are imported, when no title can be derived, the quantity is
// not a whole number or is negative, a date (Expires or Timestamp) is
// unreadable or impossible (2026-02-30), the row has fewer cells than the
// header, the Type is neither need nor offer, a cell is not UTF-8, or a
// field is over its limit ([MaxTitle], [MaxDetails], [MaxCategory],
// [MaxLocation], [MaxContact] bytes, the protocol's limits). Rows whose
// cells are all empty are skipped silently. Line numbers are lines of
// the file, the header being line 1; a row is numbered by the line it
// starts on. Only an unreadable file is an error: no header
// ([ErrNoHeader]), not a CSV ([ErrNotCSV]), no column a post can be made
// from ([ErrNoColumns]), over [MaxFileSize] bytes ([ErrTooLarge]) or over
// [MaxRows] rows ([ErrTooManyRows]).
//
// Every row read gets a Ref, "csv:" and 16 hex digits of a SHA-256 over
// the row's normalised identity cells: kind, title, details, category,
// location, contact and the Timestamp cell when there is one. Status,
// urgency, quantity and expiry are left out on purpose, so re-importing
// a sheet in which a volunteer has marked a request "Delivered" finds the
// same post rather than create a second one. (The node's importer then
// gives that post the sheet's status only if no status was set on the
// board since the post was created: the board's changes are newer.) Rows
// identical in every identity cell are told apart by their order in the
// file. The same file read twice gives the same Refs.
//
// # Writing
//
// [Write] writes rows under the header
// Type,Title,Details,Category,Location,Quantity,Urgency,Expires,Contact,Status.
// Expires is YYYY-MM-DD when it is the end of a day (as [Read] makes it
// from a date) and RFC 3339 otherwise. A text cell that a spreadsheet
// would run as a formula (starting with = + - @) or that starts with an
// apostrophe is written with a leading apostrophe, which spreadsheets
// hide and [Read] removes; a post titled "=HYPERLINK(...)" cannot become
// a live formula on a volunteer's laptop. For rows as Read returns them,
// Read(Write(rows)) returns the same rows (times compare with
// time.Time.Equal when read back in the same Location), apart from Line
// and Ref.
//
// # Digest
//
// [Digest] writes the open, unexpired posts as plain text short enough to
// paste into WhatsApp or Signal: needs, then offers, high urgency first,
// then the soonest expiry. It never prints a contact.
package sheet
