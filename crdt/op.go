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

	// Version is the encoding the op was signed in, which its signature
	// and ID depend on: 0 for the one nodes write now (protocol.OpVersion),
	// else the older version it came in (1), so that it re-encodes to the
	// bytes its author signed.
	Version uint8

	// Blob is the sealed blob of a post op's private fields (see
	// PostCreate.Private): it travels after the op's encoding, is not
	// signed (its SHA-256 is), and is nil when the op has none or when
	// this copy of the op comes without it (stored, erased, or sent to a
	// node that may not read it).
	Blob []byte
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
// that come next: federation between groups (32–47). Kind 12 hands a
// visitor's contact on to the group (HandOn).
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
	KindGroupKey   Kind = 8
	KindErase      Kind = 9
	KindSettings   Kind = 10
	KindRename     Kind = 11
	KindHandOn     Kind = 12
	KindVisit      Kind = 33
	KindPostCreate Kind = 16
	KindPostEdit   Kind = 17
	KindPostStatus Kind = 18
	KindRespond    Kind = 19
	KindUnrespond  Kind = 20
	KindFederation Kind = 32
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
	case KindGroupKey:
		return "key"
	case KindErase:
		return "erase"
	case KindSettings:
		return "settings"
	case KindRename:
		return "rename"
	case KindVisit:
		return "visit"
	case KindHandOn:
		return "handon"
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
	case KindFederation:
		return "federation"
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
//
// RoleVisitor is not a member's role and never on the wire: it is the
// standing of a vouched visitor's op (Group.RoleAt), which may respond
// to posts and take its responses back, and nothing else (MayChange).
// Compare roles with ==, never with >= against it.
const (
	RoleNone    Role = 0
	RoleMember  Role = 1
	RoleAdmin   Role = 2
	RoleVisitor Role = 3
)

func (r Role) String() string {
	switch r {
	case RoleMember:
		return "member"
	case RoleAdmin:
		return "admin"
	case RoleVisitor:
		return "visitor"
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
	Box        BoxKey   // the founder's key for receiving group keys
	// Key names the group's first key, which the founder shares with
	// itself in its next op. The GossipSub topic is derived from it, so
	// only those who hold it can find the group's topic.
	Key KeyID
}

// BoxKey is the X25519 public key a member receives group keys on. Each
// node derives it from its signing key (package protocol).
type BoxKey [32]byte

// IsZero reports whether k is the zero key.
func (k BoxKey) IsZero() bool { return k == BoxKey{} }

// KeyID names a group key: a hash of the key (package protocol), so
// naming it reveals nothing and a share can be checked against it.
type KeyID [16]byte

// IsZero reports whether k is the zero ID.
func (k KeyID) IsZero() bool { return k == KeyID{} }

// SealedShareSize is the size of a group key sealed to one member: an
// ephemeral X25519 key, the 32-byte key and an AEAD tag.
const SealedShareSize = 32 + 32 + 16

// Share is a group key sealed to one member's BoxKey.
type Share struct {
	Member PublicKey
	Sealed [SealedShareSize]byte
}

// MaxShares bounds the shares in one GroupKey op; a key goes to more
// members in several ops.
const MaxShares = 64

// GroupKey shares the group key Key with members (a new key, when no op
// named it before: a rotation). Any member may share a key it holds
// with a newcomer, so admission needs no admin online; after a removal
// or a leave an admin's node makes a new key and shares it with the
// members that remain, and private fields are sealed under the newest
// key from then on. Shares are sorted by Member, without repeats.
type GroupKey struct {
	Key    KeyID
	Shares []Share
}

// Erase asks every member's node to erase the private fields of a post
// (the blobs of its ops made before the erase): the signed history
// stays, the personal data goes. Its author must be the post's author
// or an admin.
type Erase struct {
	Post ID
}

// Settings sets a group's settings; only admins' count, the latest
// (by stamp) wins.
type Settings struct {
	// Retention is how long, in milliseconds, a fulfilled or withdrawn
	// post keeps its private fields before member nodes erase them.
	Retention int64
}

// DefaultRetention is the retention of a group without Settings: 14 days.
const DefaultRetention = 14 * 24 * 60 * 60 * 1000

// MaxRetention bounds Settings.Retention: ten years.
const MaxRetention = 10 * 365 * 24 * 60 * 60 * 1000

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
	Box    BoxKey    // the newcomer's key for receiving group keys
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

// Rename sets its author's display name in the group: the name the
// members list shows instead of the one in the author's join (or
// genesis). Any member may rename itself, and only itself; the latest
// (by stamp) of a member's renames that count and the join of its last
// tenure wins (membership.go). Name follows CheckName.
type Rename struct {
	Name string
}

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
// Location and Contact are private: for the group's members only. They
// never travel or rest in an op in clear: the node seals them into the
// op's Blob (under the group key) and the op carries only the blob's
// hash (PostCreate.Private, PostEdit.Private); an encoded op with either
// set here is refused. In a Post, their registers hold the stamp of the
// op whose blob holds the value, and no value.
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
	// Private is the SHA-256 of the op's sealed blob, which holds the
	// post's location and contact; zero when the post has neither.
	Private ID
}

// PrivateFields are the fields sealed into a blob.
const PrivateFields = FieldLocation | FieldContact

// PostEdit sets the fields named by Set. When Set names a private field,
// its value comes from the blob whose SHA-256 is Private (which holds
// both: the one Set does not name is ignored); a private field set with
// no blob (Private zero) is cleared.
type PostEdit struct {
	Post    ID
	Set     FieldMask
	Fields  Fields
	Private ID
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
	// Private is the SHA-256 of the op's sealed blob, which holds the
	// responder's contact sealed to the group's members (a visitor's
	// response, docs/protocol.md 14.6); zero when there is none.
	Private ID
}

// Visit is an outsider's first op (seq 1) in a group's log: a member of
// group From, which is not this group, who answers this group's posts
// without joining it. Only the visitor's Respond and Unrespond ops
// count, and only while the group has not blocked From and the visitor
// is a member of From as the replica knows it (Group.Vouch).
type Visit struct {
	From ID     // the visitor's own group
	Name string // the visitor's display name
	Box  BoxKey // the visitor's key for receiving sealed replies
}

// HandOn hands a visitor's contact on to the whole group: a member's
// node that opened the contact sealed to the members of the moment
// (Respond.Private, a blob sealed to box keys) seals it again under the
// group key, into the op's blob (as a post's private fields), so that
// every member, present or future, reads it as it reads a post's
// contact. It counts when its author is a member (any role) at its seq
// and Response is a response to Post that counts and was written by a
// visitor (RebuildPost); it is erased with the response (an Unrespond, an
// Erase of the post, a block of the visitor's group: the replica).
type HandOn struct {
	Post     ID
	Response ID // the Respond op whose contact this hands on
	Private  ID // the SHA-256 of the op's sealed blob: never zero
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
func (GroupKey) Kind() Kind   { return KindGroupKey }
func (Erase) Kind() Kind      { return KindErase }
func (Settings) Kind() Kind   { return KindSettings }
func (Rename) Kind() Kind     { return KindRename }
func (Visit) Kind() Kind      { return KindVisit }
func (PostCreate) Kind() Kind { return KindPostCreate }
func (PostEdit) Kind() Kind   { return KindPostEdit }
func (PostStatus) Kind() Kind { return KindPostStatus }
func (Respond) Kind() Kind    { return KindRespond }
func (Unrespond) Kind() Kind  { return KindUnrespond }
func (HandOn) Kind() Kind     { return KindHandOn }

func (PostCreate) Target() ID   { return ID{} }
func (b PostEdit) Target() ID   { return b.Post }
func (b PostStatus) Target() ID { return b.Post }
func (b Respond) Target() ID    { return b.Post }
func (b Unrespond) Target() ID  { return b.Post }
func (b Erase) Target() ID      { return b.Post }
func (b HandOn) Target() ID     { return b.Post }

// PrivateOf returns the hash of op's sealed blob, and false when the op
// has none.
func PrivateOf(op *Op) (ID, bool) {
	switch b := op.Body.(type) {
	case PostCreate:
		return b.Private, !b.Private.IsZero()
	case PostEdit:
		return b.Private, !b.Private.IsZero()
	case Respond:
		return b.Private, !b.Private.IsZero()
	case HandOn:
		return b.Private, !b.Private.IsZero()
	}
	return ID{}, false
}

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
