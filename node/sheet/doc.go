// Package sheet reads and writes the board as a spreadsheet (CSV), and
// renders it as a short text digest for a group chat.
//
// # Reading
//
// [Read] takes the CSV export of whatever intake sheet a group already
// keeps (a Google Form, an Airtable base, a hand-made sheet) and maps its
// columns onto a post's fields by header; [Parse] does the same and says
// how it mapped each column ([Column]) and what it did not use or had to
// guess ([Sheet.Warnings]). Headers are compared case-insensitively,
// trimmed, with accents folded and punctuation ignored, so "Qty.",
// " QTY " and "qty", or "Título" and "titulo", are the same header. In
// order: a header naming a column for organisers only ("Internal notes",
// "Dispatcher notes", "Notas internas") is never used; a header listing
// need and offer as its values ("Type (Need/Offer)", "Kind: need /
// offer") is the Type; the whole header, then the header without its
// value list, is looked up in the table below (English and Spanish); a
// header naming both need and offer is the Type; a few keyword rules (a
// header starting "How urgent..." is Urgency, one containing "check all
// that apply" is Category, "...phone..." or "...email..." is Contact, and
// so on); last, the longest name from the table found inside the header
// ("Title of request", "Your phone number (optional)"), counting single
// words only when they are unmistakable (title, phone, category...). A
// header "Type (Food/Housing)" lists categories, not kinds: it is the
// Category. What matches nothing is not used, and named in the warnings.
//
//	Field     Headers (examples; see header.go for the full list)
//	Kind      Type, Kind, Need or offer, Tipo, Necesidad u oferta
//	Title     Title, Request, Offer, Need, Item, Summary, What do you need?, What can you offer?, Título, Pedido
//	Details   Details, Description, Tell us more, Notes, Comments, More details, Detalles, Descripción, Notas
//	Category  Category, Type of support, Type of help, What do you need? (check all that apply), Categoría
//	Location  Location, Neighbourhood, Neighborhood, Area, Address, Ward, District, Postcode, Ubicación, Barrio
//	Quantity  Quantity, Qty, Household size, How many, Number of people, Cantidad
//	Urgency   Urgency, Priority, How urgent is your need?, Urgencia, Prioridad
//	Expires   Expires, Needed by, Available until, Deadline, Due date, Valid until, Vence, Fecha límite
//	Contact   Contact, Phone, Phone or email, Email, Mobile, WhatsApp, Teléfono, Correo
//	(name)    Name, Your name, Full name, Volunteer, Requester, Contact name, Nombre
//	(method)  Preferred contact method, Contact method, Medio de contacto
//	Status    Status, State, Stage, Estado
//	(stamp)   Timestamp, Submitted, Created, Date submitted, Marca temporal
//	ID        ID, Post ID (a post's 64-hex-digit ID, as Write writes it)
//	Group     Group, Group name, Group ID, Grupo (the group a row goes to)
//
// Values are mapped as follows.
//
//   - Kind: "need", "request", "necesidad", ... is a need; "offer",
//     "have", "give", "oferta", ... is an offer; anything else is a bad
//     row. With no Type column, or an empty cell,
//     [ReadOptions.DefaultKind] is used; when that is empty too, the kind
//     the other headers name ("Offer", "What can you offer?" for offers,
//     "Request", "What do you need?" for needs; a warning says so). When
//     they name none or both, a row with an empty Type cell is bad and a
//     sheet with no Type column is not read at all ([ErrNoKind]).
//   - Title: when the sheet has no title column, the title is the first
//     line of Details cut to about 80 characters, or else the Category.
//     When it has one and the cell is empty, the row is bad: we do not
//     guess a title for a row someone left blank.
//   - Contact: the contact cells; when the sheet also has a name column it
//     comes first ("Ana Evans, 555-0107"), and a preferred contact method
//     is appended in brackets ("Ana Evans, 555-0107 (WhatsApp)").
//   - Urgency (English and Spanish): "Urgent! (within 24 hours)", "ASAP",
//     "high", "emergency", "today", "urgente", "alta" are high; "Whenever possible", "low", "not urgent",
//     "no rush", "flexible" are low; anything else (including empty) is
//     normal.
//   - Status: Open, New, Dispatch needed, Available, Pending are open;
//     Taken, Claimed, In progress, Assigned, Delivery assigned are
//     claimed; Done, Complete, Request complete, Fulfilled, Delivered,
//     Closed are fulfilled; Cancelled, Withdrawn, Expired, Duplicate are
//     withdrawn. Other wording is matched by its words (anything
//     "...assigned" is claimed, "...complete" fulfilled) and what is
//     still unknown, or empty, is open.
//   - Text: control characters and line breaks in one-line fields
//     become a space; bidirectional embeddings, overrides and isolates
//     (U+202A-U+202E, U+2066-U+2069) are dropped everywhere.
//   - ID: a 64-hex-digit post ID is the row's [Row.ID] and its Ref is
//     made from the ID alone; a second row with the same ID is bad; other
//     values (an organiser's own row numbers) are ignored, with a warning.
//   - Expires: YYYY-MM-DD, M/D/YYYY (US order, as Google Forms writes it;
//     D/M/YYYY when a date in the sheet can only be read so, or when no
//     date decides and the headers are Spanish),
//     "M/D/YYYY H:MM:SS", "YYYY-MM-DD HH:MM[:SS]", RFC 3339, and
//     "2 Jan 2006" / "Jan 2, 2006"; then dates that name their month in
//     Spanish or English, as people type them: "25 dic", "3 de enero",
//     "25 de diciembre de 2026", "viernes, 3 de enero de 2027 18:00",
//     "Dec 25th". A day and month with no year are the next such day
//     after [ReadOptions.Now], or one of the 31 days before it; a month
//     and a year with no day ("ene 2027") are the end of that month; a
//     day the month lacks ("31 feb") is a bad row. A date without a time means the end of
//     that day (23:59:59); a time without a zone is read in
//     [ReadOptions.Location] (UTC by default). The Timestamp column is
//     checked the same way and feeds the Ref, but is not a post field.
//   - Quantity: a whole number; empty or 0 means unspecified. The number
//     may be followed by words that say what it counts ("3 personas",
//     "2 familias", "10 kg of rice"): the number is the quantity, and the
//     header and the cell go into Details as a paragraph of their own
//     ("Cantidad: 2 familias") unless the words only count things
//     ("units", "unidades", "pcs") or the header says them already
//     ("Número de personas"). The Ref is made before they are added, so
//     "4 personas" in the next version of the sheet is the same post.
//   - Group: the cell as written (a group's name or ID), in [Row.Group];
//     finding the group is the importer's work.
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
// [MaxRows] rows ([ErrTooManyRows]), or no way to tell needs from
// offers ([ErrNoKind]). [ReadOptions.FromLine] and ToLine keep the rows
// that start on those lines, with the Refs they have in the whole file,
// so that a big file can be imported in parts.
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
// ID,Type,Title,Details,Category,Location,Quantity,Urgency,Expires,Contact,Status
// (ID is the post's ID: reading the file back finds the same posts),
// with a Group column after the ID when a row names its group (an
// export of several groups).
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
