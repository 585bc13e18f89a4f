package crdt

// Op is one signed change to a group. Ops are immutable and
// content-addressed: ID is the hash of the op's signed encoding (computed
// by package protocol, which also signs and verifies). Any node may store
// and forward an op; nobody can alter it without breaking its signature.
type Op struct {
	ID     ID        // hash of the signed encoding; not itself signed
	Group  ID        // the group; zero in a genesis op, whose own ID becomes the group ID
	Author PublicKey // the signer
	Seq    uint64    // per-author, per-group sequence number, from 1
	Prev   ID        // ID of the author's op Seq-1 in this group; zero when Seq is 1
	Time   HLC       // when the author made it
	Body   Body      // the typed payload
	Sig    Signature // ed25519 over the canonical encoding of all fields above but ID
}

// GroupID returns the group the op belongs to: its own ID for a genesis
// op, else op.Group.
func (op *Op) GroupID() ID {
	if _, ok := op.Body.(Genesis); ok {
		return op.ID
	}
	return op.Group
}

// Stamp returns the op's position in last-writer-wins order.
func (op *Op) Stamp() Stamp { return Stamp{Time: op.Time, Author: op.Author, Op: op.ID} }

// Kind numbers the op bodies. The numbers are part of the wire format
// (docs/protocol.md): never reuse one. Gaps are reserved for the issues
// that come next: roles and removal (3–7), group keys for private fields
// (8–15), federation between groups (32–47).
type Kind uint8

// Op kinds.
const (
	KindGenesis    Kind = 1
	KindJoin       Kind = 2
	KindInvite     Kind = 3
	KindRevoke     Kind = 4
	KindAdmit      Kind = 5
	KindSetRole    Kind = 6
	KindLeave      Kind = 7
	KindPostCreate Kind = 16
	KindPostEdit   Kind = 17
	KindPostStatus Kind = 18
	KindRespond    Kind = 19
	KindUnrespond  Kind = 20
)

func (k Kind) String() string {
	switch k {
	case KindGenesis:
		return "genesis"
	case KindJoin:
		return "join"
	case KindInvite:
		return "invite"
	case KindRevoke:
		return "revoke"
	case KindAdmit:
		return "admit"
	case KindSetRole:
		return "role"
	case KindLeave:
		return "leave"
	case KindPostCreate:
		return "post"
	case KindPostEdit:
		return "edit"
	case KindPostStatus:
		return "status"
	case KindRespond:
		return "respond"
	case KindUnrespond:
		return "unrespond"
	}
	return "unknown"
}

// Body is an op's typed payload. The concrete types are the structs in
// this file; package protocol encodes exactly these.
type Body interface {
	Kind() Kind
}

// PostBody is implemented by bodies that change a post.
type PostBody interface {
	Body
	// Target is the ID of the post changed; for PostCreate it is zero
	// (the post's ID is the op's own ID).
	Target() ID
}

// Role is a member's role in a group.
type Role uint8

// Roles, in increasing power. The zero Role is "none": in a SetRole op
// it removes the member.
const (
	RoleNone   Role = 0
	RoleMember Role = 1
	RoleAdmin  Role = 2
)

func (r Role) String() string {
	switch r {
	case RoleMember:
		return "member"
	case RoleAdmin:
		return "admin"
	}
	return "none"
}

// ParseRole parses "member" or "admin".
func ParseRole(s string) (Role, bool) {
	switch s {
	case "member":
		return RoleMember, true
	case "admin":
		return RoleAdmin, true
	}
	return 0, false
}

// Genesis founds a group. Its author is the founder and first admin; the
// group's ID is the genesis op's ID.
type Genesis struct {
	Name       string   // the group's name
	Nonce      [16]byte // makes two groups of the same name and founder distinct
	AuthorName string   // the founder's display name
}

// Invite is a capability signed by an admin: whoever holds it may ask to
// join Group with Role until Expires. It is checked offline by every
// node, so a newcomer can join at a meeting with no admin node online.
//
// The invite names the public half (Key) of a one-time key pair whose
// secret half travels only in the invite code. A join proves possession
// of the secret by signing the joiner's key with it (Join.Proof), so
// whoever sees a join op learns nothing that lets them join again, or
// with another role. Uses limits how many keys may join with it (0 = any
// number until it expires: the QR code on the wall of a meeting room).
type Invite struct {
	ID      ID // hash of the signed encoding (set by package protocol); not itself signed
	Group   ID
	Role    Role
	Expires int64  // Unix milliseconds, by the witnessing member's clock
	Uses    uint32 // how many newcomers may join with it; 0 = unlimited
	Key     PublicKey
	Issuer  PublicKey
	Sig     Signature // by Issuer, over the canonical encoding (package protocol)
}

// Join asks to add its author to a group, carrying the invite that
// allows it and the proof that the author holds the invite's secret. A
// join takes effect once a member has witnessed it (Admit) before the
// invite expired by that member's clock.
type Join struct {
	Invite Invite
	Name   string    // the newcomer's display name
	Proof  Signature // by the invite's one-time key, over the group, invite ID and author (package protocol)
}

// InviteMade records in the issuer's log that an invite was made, so
// that every member's node can list the unused invites and any admin can
// revoke them. A join needs no InviteMade: the invite inside it is
// enough.
type InviteMade struct {
	Invite Invite
}

// Revoke ends an invite: joins that a member witnesses after the revoke
// (in HLC order) do not count.
type Revoke struct {
	Invite ID
}

// Admit is a member's witness of a join: "my node saw this join before
// the invite expired, by my clock". It makes the join count; the
// joiner's own clock plays no part.
type Admit struct {
	Join ID
}

// SetRole changes a member's role, or removes the member (Role
// RoleNone). Cut is the highest seq of the member's ops that the admin's
// node held: the change applies to the member's ops after the cut,
// wherever and whenever they arrive. A removal therefore also voids ops
// the member made while offline, even backdated ones.
type SetRole struct {
	Member PublicKey
	Role   Role
	Cut    uint64
}

// Leave ends its author's membership: the author's later ops are void.
type Leave struct{}

// PostKind says whether a post is a need or an offer.
type PostKind uint8

// Post kinds.
const (
	Need  PostKind = 1
	Offer PostKind = 2
)

func (k PostKind) String() string {
	switch k {
	case Need:
		return "need"
	case Offer:
		return "offer"
	}
	return "unknown"
}

// ParsePostKind parses "need" or "offer".
func ParsePostKind(s string) (PostKind, bool) {
	switch s {
	case "need":
		return Need, true
	case "offer":
		return Offer, true
	}
	return 0, false
}

// Urgency of a post.
type Urgency uint8

// Urgencies. The zero value means normal.
const (
	UrgencyNormal Urgency = 0
	UrgencyLow    Urgency = 1
	UrgencyHigh   Urgency = 2
)

func (u Urgency) String() string {
	switch u {
	case UrgencyLow:
		return "low"
	case UrgencyHigh:
		return "high"
	}
	return "normal"
}

// ParseUrgency parses "low", "normal" (or "") and "high".
func ParseUrgency(s string) (Urgency, bool) {
	switch s {
	case "low":
		return UrgencyLow, true
	case "normal", "":
		return UrgencyNormal, true
	case "high":
		return UrgencyHigh, true
	}
	return 0, false
}

// Status of a post. The zero value is open.
type Status uint8

// Statuses.
const (
	Open      Status = 0
	Claimed   Status = 1
	Fulfilled Status = 2
	Withdrawn Status = 3
)

func (s Status) String() string {
	switch s {
	case Open:
		return "open"
	case Claimed:
		return "claimed"
	case Fulfilled:
		return "fulfilled"
	case Withdrawn:
		return "withdrawn"
	}
	return "unknown"
}

// ParseStatus parses a status name.
func ParseStatus(s string) (Status, bool) {
	switch s {
	case "open":
		return Open, true
	case "claimed":
		return Claimed, true
	case "fulfilled":
		return Fulfilled, true
	case "withdrawn":
		return Withdrawn, true
	}
	return 0, false
}

// Fields are a post's editable fields.
//
// Contact and Location are for the group's members only. Today they
// travel in clear inside ops that are only ever sent to members; the
// privacy issue will move them into a field sealed to the group's key,
// under a new op kind, without changing the others.
type Fields struct {
	Title    string
	Details  string
	Category string
	Location string
	Contact  string
	Quantity uint32 // 0 = unspecified
	Urgency  Urgency
	Expires  int64 // Unix milliseconds; 0 = never
}

// FieldMask says which Fields a PostEdit sets.
type FieldMask uint16

// Field bits.
const (
	FieldTitle FieldMask = 1 << iota
	FieldDetails
	FieldCategory
	FieldLocation
	FieldContact
	FieldQuantity
	FieldUrgency
	FieldExpires

	AllFields = FieldTitle | FieldDetails | FieldCategory | FieldLocation | FieldContact |
		FieldQuantity | FieldUrgency | FieldExpires
)

// PostCreate creates a post; the post's ID is the op's ID.
type PostCreate struct {
	PostKind PostKind
	Fields   Fields
	Ref      string // optional external key (e.g. a spreadsheet row), for idempotent imports
	// By is the display name of the person who made the post through
	// the author's node (a phone at a meeting, on the laptop's key);
	// empty when the node's own user did.
	By string
}

// PostEdit sets the fields named by Set.
type PostEdit struct {
	Post   ID
	Set    FieldMask
	Fields Fields
}

// PostStatus sets a post's status.
type PostStatus struct {
	Post   ID
	Status Status
}

// Respond says "I can help" with a post, optionally with a quantity. A
// response is an element of an add-wins set, identified by its op ID.
type Respond struct {
	Post     ID
	Quantity uint32
	Note     string
	By       string // who responded through the author's node; as PostCreate.By
}

// Unrespond withdraws a response. Only the response's author may.
type Unrespond struct {
	Post     ID
	Response ID
}

func (Genesis) Kind() Kind    { return KindGenesis }
func (Join) Kind() Kind       { return KindJoin }
func (InviteMade) Kind() Kind { return KindInvite }
func (Revoke) Kind() Kind     { return KindRevoke }
func (Admit) Kind() Kind      { return KindAdmit }
func (SetRole) Kind() Kind    { return KindSetRole }
func (Leave) Kind() Kind      { return KindLeave }
func (PostCreate) Kind() Kind { return KindPostCreate }
func (PostEdit) Kind() Kind   { return KindPostEdit }
func (PostStatus) Kind() Kind { return KindPostStatus }
func (Respond) Kind() Kind    { return KindRespond }
func (Unrespond) Kind() Kind  { return KindUnrespond }

func (PostCreate) Target() ID   { return ID{} }
func (b PostEdit) Target() ID   { return b.Post }
func (b PostStatus) Target() ID { return b.Post }
func (b Respond) Target() ID    { return b.Post }
func (b Unrespond) Target() ID  { return b.Post }

// PostOf returns the ID of the post an op changes, and false for ops
// that change no post.
func PostOf(op *Op) (ID, bool) {
	pb, ok := op.Body.(PostBody)
	if !ok {
		return ID{}, false
	}
	if _, create := pb.(PostCreate); create {
		return op.ID, true
	}
	return pb.Target(), true
}
