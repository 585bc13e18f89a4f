package sheet

import (
	"strings"
	"time"
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
	roleID    // a post ID, as Write writes it: the post's identity
	roleGroup // the group a row goes to (a multi-group export)
	numRoles
)

var roleNames = [numRoles]string{"", "Type", "Title", "Details", "Category", "Location", "Quantity",
	"Urgency", "Expires", "Contact", "Name", "Contact method", "Status", "Timestamp", "ID", "Group"}

// roleFields are the roles as Column.Field names them.
var roleFields = [numRoles]string{"", "kind", "title", "details", "category", "location", "quantity",
	"urgency", "expires", "contact", "contact_name", "contact_method", "status", "timestamp", "id", "group"}

// aliases maps a normalised header (see normHeader: lower case, accents
// folded, punctuation gone) to its role.
var aliases = map[string]role{}

func init() {
	for r, hs := range map[role][]string{
		roleKind: {"type", "kind", "need or offer", "offer or need", "need offer", "offer need",
			"request or offer", "offer or request", "post type", "type of post", "entry type",
			"needs or offers", "needs offers",
			// Spanish
			"tipo", "clase", "necesidad u oferta", "necesidad o oferta", "oferta o necesidad",
			"necesidad oferta", "oferta necesidad", "necesita u ofrece", "necesita o ofrece",
			"pedido u oferta", "solicitud u oferta", "tipo de publicacion", "tipo de entrada"},
		roleTitle: {"title", "request", "requests", "offer", "offers", "need", "needs", "item", "items",
			"summary", "subject", "headline", "what", "post", "need title", "offer title",
			"request title", "requested item", "requested items", "offered item", "what do you need",
			"what is needed", "what can you offer", "what are you offering", "what do you have",
			"what can you give", "i need", "i can offer", "short title",
			"titulo", "pedido", "solicitud", "oferta", "necesidad", "articulo", "resumen", "asunto",
			"que necesita", "que necesitas", "que necesitan", "que ofrece", "que ofreces",
			"que puede ofrecer", "que puedes ofrecer", "necesito", "ofrezco"},
		roleDetails: {"details", "detail", "description", "tell us more", "notes", "note", "comments",
			"comment", "more details", "additional details", "more info", "more information",
			"additional information", "additional info", "anything else", "anything else we should know",
			"other information", "request details", "offer details", "description of need",
			"detalles", "detalle", "descripcion", "notas", "nota", "comentarios", "comentario",
			"mas detalles", "informacion adicional", "mas informacion", "observaciones", "cuentanos mas"},
		roleCategory: {"category", "categories", "type of support", "support type", "kind of support",
			"type of help", "kind of help", "help type", "type of need", "need type", "type of request",
			"request type", "type of offer", "offer type", "tag", "tags",
			"categoria", "categorias", "tipo de ayuda", "tipo de apoyo", "tipo de necesidad",
			"tipo de oferta", "etiqueta", "etiquetas", "rubro"},
		roleLocation: {"location", "neighbourhood", "neighborhood", "area", "address", "where", "zone",
			"district", "ward", "town", "city", "suburb", "region", "postcode", "post code", "zip",
			"zip code", "postal code", "cross streets", "pickup location", "delivery address",
			"ubicacion", "direccion", "barrio", "zona", "colonia", "ciudad", "localidad", "lugar",
			"codigo postal", "sector", "comuna", "municipio", "distrito", "donde"},
		roleQuantity: {"quantity", "qty", "household size", "size of household", "how many", "number",
			"count", "amount", "number of people", "people", "units",
			"cantidad", "cuantos", "cuantas", "numero de personas", "personas", "unidades",
			"tamano del hogar", "integrantes"},
		roleUrgency: {"urgency", "urgent", "priority", "how urgent", "how urgent is your need",
			"how urgent is it", "how urgent is this",
			"urgencia", "urgente", "prioridad", "que tan urgente", "cuan urgente", "nivel de urgencia"},
		roleExpires: {"expires", "expiry", "expiry date", "expiration", "expiration date", "expires on",
			"needed by", "need by", "needed before", "available until", "available till", "deadline",
			"until", "due", "due date", "due by", "by when", "valid until", "end date",
			"vence", "vencimiento", "fecha de vencimiento", "fecha limite", "valido hasta",
			"disponible hasta", "hasta", "caduca", "expira", "plazo", "para cuando", "necesario para"},
		roleContact: {"contact", "phone", "phone or email", "email or phone", "phone email", "email",
			"e mail", "email address", "phone number", "telephone", "tel", "mobile", "cell",
			"contact number", "contact info", "contact information", "contact details", "whatsapp",
			"signal", "how can we reach you",
			"contacto", "telefono", "celular", "movil", "correo", "correo electronico",
			"numero de telefono", "datos de contacto", "telefono o correo", "correo o telefono"},
		roleName: {"name", "your name", "full name", "first name", "volunteer", "volunteer name",
			"requester", "requester name", "requested by", "offered by", "contact name", "contact person",
			"person", "neighbour", "neighbor",
			"nombre", "su nombre", "tu nombre", "nombre completo", "nombre y apellido", "voluntario",
			"voluntaria", "solicitante", "persona", "vecino", "vecina", "nombre de contacto"},
		roleMethod: {"preferred contact method", "contact method", "preferred contact",
			"preferred method of contact", "best way to reach you", "best way to contact you",
			"how should we contact you", "contact preference",
			"metodo de contacto", "medio de contacto", "forma de contacto", "contacto preferido"},
		roleStatus: {"status", "state", "stage", "request status", "offer status",
			"estado", "estatus", "situacion"},
		roleStamp: {"timestamp", "submitted", "submitted at", "submission time", "submission date",
			"date submitted", "created", "created at", "created time", "date", "time",
			"marca temporal", "fecha", "hora", "fecha de envio", "enviado", "creado", "fecha de creacion"},
		roleID:    {"id", "post id", "mutual id", "post ids"},
		roleGroup: {"group", "group name", "group id", "mutual group", "grupo", "nombre del grupo", "id del grupo"},
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
	{contains: "urgencia", r: roleUrgency},
	{contains: "check all", r: roleCategory}, // a multi-choice question
	{contains: "select all", r: roleCategory},
	{contains: "tick all", r: roleCategory},
	{contains: "marque todas", r: roleCategory},
	{contains: "seleccione todas", r: roleCategory},
	{prefix: "what do you need", r: roleTitle},
	{prefix: "what can you offer", r: roleTitle},
	{prefix: "what are you offering", r: roleTitle},
	{prefix: "que necesit", r: roleTitle},
	{prefix: "que ofrec", r: roleTitle},
	{prefix: "que puede ofrecer", r: roleTitle},
	{prefix: "que puedes ofrecer", r: roleTitle},
	{prefix: "tell us more", r: roleDetails},
	{contains: "description", r: roleDetails},
	{contains: "descripcion", r: roleDetails},
	{contains: "neighbourhood", r: roleLocation},
	{contains: "neighborhood", r: roleLocation},
	{contains: "address", r: roleLocation},
	{contains: "direccion", r: roleLocation},
	{prefix: "how many", r: roleQuantity},
	{prefix: "cuantos", r: roleQuantity},
	{prefix: "cuantas", r: roleQuantity},
	{contains: "household size", r: roleQuantity},
	{contains: "quantity", r: roleQuantity},
	{contains: "cantidad", r: roleQuantity},
	{contains: "needed by", r: roleExpires},
	{contains: "available until", r: roleExpires},
	{contains: "deadline", r: roleExpires},
	{contains: "expir", r: roleExpires},
	{contains: "fecha limite", r: roleExpires},
	{contains: "disponible hasta", r: roleExpires},
	{contains: "contact method", r: roleMethod},
	{contains: "medio de contacto", r: roleMethod},
	{contains: "phone", r: roleContact},
	{contains: "email", r: roleContact},
	{contains: "telefono", r: roleContact},
	{contains: "correo", r: roleContact},
	{contains: "status", r: roleStatus},
	{contains: "timestamp", r: roleStamp},
}

// privateWords in a header mark a column for the organisers' eyes only
// ("Dispatcher notes", "Internal comments", "Notas internas"): it is
// never taken as a post field, whatever else its header says, since the
// board is shared with every member.
var privateWords = []string{"internal", "private", "staff", "office use", "admin", "dispatcher",
	"do not share", "confidential", "interno", "interna", "internas", "internos", "privado", "privada",
	"uso interno", "confidencial"}

// strongWords are the single-word aliases that name a field even inside
// a longer header ("Title of request", "Your phone number (optional)").
// Other single words ("date", "name", "type", "number"...) say too little
// outside a header of their own; aliases of several words always count.
var strongWords = map[string]bool{"title": true, "titulo": true, "details": true, "detalles": true,
	"description": true, "descripcion": true, "category": true, "categoria": true, "location": true,
	"ubicacion": true, "address": true, "direccion": true, "quantity": true, "cantidad": true, "qty": true,
	"urgency": true, "urgencia": true, "urgent": true, "urgente": true, "priority": true, "prioridad": true, "expires": true, "expiry": true,
	"deadline": true, "vence": true, "vencimiento": true, "contact": true, "contacto": true, "phone": true,
	"telefono": true, "email": true, "correo": true, "mobile": true, "celular": true, "whatsapp": true,
	"status": true, "estado": true, "timestamp": true, "neighbourhood": true, "neighborhood": true,
	"barrio": true, "postcode": true, "notes": true, "notas": true, "comments": true, "comentarios": true}

// needWords and offerWords are the words that say a row is a need or an
// offer: in a cell of the Type column (see kindWords for whole cells) and
// in headers, where they tell what a sheet without a Type column holds.
var (
	needWords = map[string]bool{"need": true, "needs": true, "needed": true, "request": true,
		"requests": true, "requested": true, "necesidad": true, "necesidades": true, "necesita": true,
		"necesitas": true, "necesito": true, "solicitud": true, "solicitudes": true, "pedido": true,
		"pedidos": true}
	offerWords = map[string]bool{"offer": true, "offers": true, "offering": true, "offered": true,
		"donation": true, "donations": true, "oferta": true, "ofertas": true, "ofrece": true,
		"ofreces": true, "ofrezco": true, "ofrecer": true, "donacion": true, "donaciones": true}
)

// foldAccent maps the accented Latin letters of the languages we read to
// their plain letter, so "Título", "titulo" and "TITULO" are one header.
var foldAccent = strings.NewReplacer(
	"á", "a", "à", "a", "â", "a", "ä", "a", "ã", "a", "å", "a",
	"é", "e", "è", "e", "ê", "e", "ë", "e",
	"í", "i", "ì", "i", "î", "i", "ï", "i",
	"ó", "o", "ò", "o", "ô", "o", "ö", "o", "õ", "o",
	"ú", "u", "ù", "u", "û", "u", "ü", "u",
	"ñ", "n", "ç", "c")

// normHeader lower-cases h, folds accents, turns punctuation into spaces
// and collapses runs of spaces: "What do you need? (check all that
// apply)" becomes "what do you need check all that apply", "¿Categoría?"
// "categoria".
func normHeader(h string) string {
	h = strings.TrimPrefix(h, "\ufeff")
	var b strings.Builder
	space := false
	for _, c := range foldAccent.Replace(strings.ToLower(h)) {
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

// splitValues takes the allowed values out of a header: "Type
// (Need/Offer)" is "Type" with the values need and offer; so are "Type:
// need / offer" and "Type [need|offer]". A header with nothing of the
// sort comes back whole with no values.
func splitValues(h string) (base string, values []string) {
	var b strings.Builder
	var inner []string
	depth := 0
	var cur strings.Builder
	for _, c := range h {
		switch {
		case c == '(' || c == '[':
			if depth == 0 {
				cur.Reset()
			} else {
				cur.WriteRune(c)
			}
			depth++
		case (c == ')' || c == ']') && depth > 0:
			depth--
			if depth == 0 {
				inner = append(inner, cur.String())
			} else {
				cur.WriteRune(c)
			}
		case depth > 0:
			cur.WriteRune(c)
		default:
			b.WriteRune(c)
		}
	}
	base = b.String()
	if before, after, ok := strings.Cut(base, ":"); ok && strings.ContainsAny(after, "/|") {
		base, inner = before, append(inner, after)
	}
	for _, in := range inner {
		for _, v := range strings.FieldsFunc(in, func(c rune) bool { return c == '/' || c == '|' || c == ',' || c == ';' }) {
			for _, w := range strings.Split(" "+normHeader(v)+" ", " or ") {
				for _, w := range strings.Split(w, " o ") {
					for _, w := range strings.Split(w, " u ") {
						if w = strings.TrimSpace(w); w != "" {
							values = append(values, w)
						}
					}
				}
			}
		}
	}
	return base, values
}

// saysBoth reports whether words hold both a need word and an offer word.
func saysBoth(words []string) bool {
	need, offer := false, false
	for _, w := range words {
		need = need || needWords[w] || kindWords[w] == KindNeed
		offer = offer || offerWords[w] || kindWords[w] == KindOffer
	}
	return need && offer
}

func keywordRole(n string) role {
	for _, k := range keywordRoles {
		if (k.prefix != "" && strings.HasPrefix(n, k.prefix)) || (k.contains != "" && strings.Contains(n, k.contains)) {
			return k.r
		}
	}
	return roleNone
}

func headerRole(h string) role {
	r, _ := headerMatch(h)
	return r
}

// headerMatch maps a header to its role, and returns the values it lists
// ("Type (Need/Offer)" lists need and offer). In order: an organisers'
// column (privateWords) is nothing; the whole header or the header
// listing need and offer is the Type; the whole header is an alias or
// meets a keyword rule; so is the header without its value list, or it
// names both need and offer (the Type); the longest
// alias found inside the header (of several words, or a strongWords
// word).
func headerMatch(h string) (role, []string) {
	n := normHeader(h)
	if n == "" {
		return roleNone, nil
	}
	padded := " " + n + " "
	for _, w := range privateWords {
		if strings.Contains(padded, " "+w+" ") {
			return roleNone, nil
		}
	}
	base, values := splitValues(h)
	nb := normHeader(base)
	if len(values) > 0 && saysBoth(values) {
		return roleKind, values
	}
	if r, ok := aliases[n]; ok {
		return r, values
	}
	if r := keywordRole(n); r != roleNone {
		return r, values
	}
	if r, ok := aliases[nb]; ok {
		if r == roleKind && len(values) > 0 {
			// "Type (Food/Housing/Transport)" lists categories.
			return roleCategory, values
		}
		return r, values
	}
	if saysBoth(strings.Fields(nb)) {
		return roleKind, values
	}
	if r := keywordRole(nb); r != roleNone {
		return r, values
	}
	best, bestAt, bestLen := roleNone, 0, 0
	pb := " " + nb + " "
	for a, r := range aliases {
		if !strings.Contains(a, " ") && !strongWords[a] {
			continue
		}
		at := strings.Index(pb, " "+a+" ")
		if at < 0 {
			continue
		}
		if len(a) > bestLen || (len(a) == bestLen && at < bestAt) || (len(a) == bestLen && at == bestAt && r < best) {
			best, bestAt, bestLen = r, at, len(a)
		}
	}
	return best, values
}

// layout is a header mapped to roles.
type layout struct {
	names []string        // the header cells as written, for messages
	roles []role          // each column's role
	cols  [numRoles][]int // column indexes feeding each role, in order
	// hint is the kind the headers of a sheet without a Type column
	// suggest: KindOffer when some header names offers and none names
	// needs ("What can you offer?"), KindNeed the other way round, ""
	// when they say nothing or both. hintFrom is that header.
	hint, hintFrom string
	spanish        bool      // the headers are in Spanish: dates are day first
	dayFirst       bool      // D/M/YYYY, not M/D/YYYY (see dateOrder)
	badIDs         int       // ID cells that are not post IDs
	now            time.Time // ReadOptions.Now: dates without a year are the nearest to it
}

// spanishWords are header words that only a Spanish sheet uses.
var spanishWords = map[string]bool{"tipo": true, "titulo": true, "detalles": true, "descripcion": true,
	"categoria": true, "ubicacion": true, "direccion": true, "cantidad": true, "urgencia": true,
	"urgente": true, "contacto": true, "telefono": true, "vence": true, "fecha": true, "estado": true,
	"nombre": true, "necesidad": true, "oferta": true, "barrio": true, "notas": true, "marca": true,
	"correo": true, "vencimiento": true, "prioridad": true}

func mapHeader(header []string) layout {
	l := layout{names: header, roles: make([]role, len(header))}
	needFrom, offerFrom := "", ""
	for i, h := range header {
		r, _ := headerMatch(h)
		l.roles[i] = r
		for _, w := range strings.Fields(normHeader(h)) {
			l.spanish = l.spanish || spanishWords[w]
		}
		if r != roleNone {
			l.cols[r] = append(l.cols[r], i)
		}
		if r == roleKind || r == roleNone || r == roleID || r == roleGroup {
			continue // "Need or offer" says nothing about the rows
		}
		for _, w := range strings.Fields(normHeader(h)) {
			if offerWords[w] && offerFrom == "" {
				offerFrom = l.colName(r, i)
			}
			if needWords[w] && needFrom == "" {
				needFrom = l.colName(r, i)
			}
		}
	}
	switch {
	case offerFrom != "" && needFrom == "":
		l.hint, l.hintFrom = KindOffer, offerFrom
	case needFrom != "" && offerFrom == "":
		l.hint, l.hintFrom = KindNeed, needFrom
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
