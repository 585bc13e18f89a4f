package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mutual-aid/mutual/crdt"
	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/node/store"
	"github.com/mutual-aid/mutual/node/web"
	"github.com/mutual-aid/mutual/protocol"
)

// Board is what the API needs of a node's boards. *replica.Replica
// implements it.
type Board interface {
	Self() crdt.PublicKey
	Groups() []replica.GroupInfo
	Group(id crdt.ID) (replica.GroupInfo, error)
	MemberName(group crdt.ID, k crdt.PublicKey) string
	IsMember(group crdt.ID, k crdt.PublicKey) bool

	Posts(f replica.Filter) ([]*crdt.Post, error)
	Post(id crdt.ID) (*crdt.Post, error)

	CreatePost(ctx context.Context, group crdt.ID, in replica.PostInput) (*crdt.Post, bool, error)
	ImportPost(ctx context.Context, group crdt.ID, in replica.PostInput) (*crdt.Post, replica.Imported, error)
	EditPost(ctx context.Context, group, post crdt.ID, mask crdt.FieldMask, f crdt.Fields) (*crdt.Post, error)
	SetStatus(ctx context.Context, group, post crdt.ID, s crdt.Status) (*crdt.Post, error)
	Respond(ctx context.Context, group, post crdt.ID, qty uint32, note, by string) (*crdt.Post, crdt.ID, error)
	RespondFrom(ctx context.Context, group, post crdt.ID, in replica.RespondInput) (*crdt.Post, crdt.ID, error)
	VisitorOf(group crdt.ID, k crdt.PublicKey) *crdt.Visitor
	ResponseContact(p *crdt.Post, r *crdt.Response) (string, bool)
	Block(ctx context.Context, group, from crdt.ID, blocked bool) error
	Federation(group crdt.ID) (crdt.Federation, error)
	Unrespond(ctx context.Context, group, post, response crdt.ID) (*crdt.Post, error)
	Erase(ctx context.Context, group, post crdt.ID) (*crdt.Post, error)
	SetRetention(ctx context.Context, group crdt.ID, d time.Duration) error
	Retention(group crdt.ID) (time.Duration, error)

	Invite(ctx context.Context, group crdt.ID, o replica.InviteOptions) (string, *protocol.InviteCode, error)
	Members(group crdt.ID) ([]crdt.Member, error)
	Invites(group crdt.ID) ([]crdt.InviteState, error)
	SetRole(ctx context.Context, group crdt.ID, member crdt.PublicKey, role crdt.Role) error
	Leave(ctx context.Context, group crdt.ID) error
	Rename(ctx context.Context, name string) ([]crdt.ID, error)
	RevokeInvite(ctx context.Context, group crdt.ID, id crdt.ID) error
	CreateGroup(ctx context.Context, name string) (crdt.ID, error)
	Check(group crdt.ID) (stored, recomputed crdt.ID, err error)
	Audit(group crdt.ID) ([]string, error)
	CheckFiles() ([]store.FileProblem, error)
	Writable() error
	Forks(group crdt.ID) ([]store.Fork, error)
	Export(w io.Writer, groups []crdt.ID) (int, error)
	ExportSince(w io.Writer, groups []crdt.ID, since *protocol.Summary) (int, error)
	Summary(groups []crdt.ID) (*protocol.Summary, error)
	Import(ctx context.Context, r io.Reader) (replica.ImportReport, error)
	Receipt(rep *replica.ImportReport) ([]byte, error)
	Join(ctx context.Context, code string) (*protocol.InviteCode, error)
	Follow(ctx context.Context, group crdt.ID, name string, addrs []string, via []crdt.PublicKey) error
	Unfollow(ctx context.Context, group crdt.ID) error
	SetFederation(ctx context.Context, group crdt.ID, f crdt.Federation) error
	Subscribe() (<-chan replica.Event, func())
	SubscribeGroups() (<-chan replica.Event, func()) // Subscribe with "group" events too
}

var _ Board = (*replica.Replica)(nil)

// NodeInfo describes the node for GET /api/v1/node.
type NodeInfo struct {
	PeerID string
	Name   string
	Addrs  []string // multiaddrs the libp2p host listens on; may be empty
	// Bootstrap lists nodes to join the DHT through (p2p.Host.BootstrapAddrs):
	// a follow code carries them.
	Bootstrap []string
}

// PeerInfo describes a peer for GET /api/v1/peers.
type PeerInfo struct {
	PeerID    string
	Name      string
	Addrs     []string
	Groups    []crdt.ID
	Connected bool
	// Via is how the peer is reached: "direct", "lan" (a private or
	// loopback address: mDNS, a mesh) or "relayed"; "" if never.
	Via        string
	LastSeen   time.Time // zero: never
	LastSynced time.Time // zero: never
	// Syncing, while a catch-up session with the peer receives ops, is
	// how many have arrived of how many are coming; nil otherwise.
	Syncing *Syncing
}

// Syncing is a catch-up's progress: Done ops received of Total coming.
type Syncing struct {
	Done, Total int64
}

// Config configures a Server. Only Board is required.
type Config struct {
	Board Board
	// Node describes the node; nil reports only its key as peer ID.
	Node func() NodeInfo
	// Peers lists the known peers; nil reports none.
	Peers func() []PeerInfo
	// Meeting turns meeting mode on: the node listens beyond loopback,
	// and requests from other addresses need a session from the join
	// link (JoinURL).
	Meeting bool
	// Hosts are host names, besides IP literals, "localhost", names
	// under .localhost and .local, that the Host header may carry (e.g.
	// a name the organiser gave the laptop in the LAN's DNS). Any other
	// name is refused, so that a web page cannot reach the API by
	// rebinding its own domain to 127.0.0.1.
	Hosts []string
	// Heartbeat is the interval of comments on the event stream, which
	// keep proxies and browsers from dropping an idle stream. Default 15 s.
	Heartbeat time.Duration
	// Rename, if set, renames the node (PATCH /api/v1/node): it keeps
	// the name (in the data dir) after the server has written the Rename
	// ops of the groups the node is in (Board.Rename).
	Rename func(name string) error
	// OnGroup, if set, is called after this node created or joined a
	// group, with the inviter's addresses for a join (to subscribe to the
	// group's topic and dial the inviter).
	OnGroup func(group crdt.ID, inviterAddrs []string)
	// OnImport, if set, is called after a bundle's import stored new ops
	// (to spread them to connected peers at once).
	OnImport func()
	// Receipts, if set, keeps the receipts of the nodes this node sent
	// bundles to (POST /api/v1/receipts, GET /api/v1/bundle?for=).
	Receipts ReceiptBook
	// PeerKeys, if set, returns the keys of the peers that addresses
	// (multiaddrs with a /p2p/ suffix) name: a follow code's, to which
	// the node offers the group it follows.
	PeerKeys func(addrs []string) []crdt.PublicKey
	// MaxSubscribers caps the open event streams (GET /api/v1/events);
	// one more gets 503. Default DefaultMaxSubscribers.
	MaxSubscribers int
	// Now is the clock for expiry and invites' display; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// DefaultMaxSubscribers is Config.MaxSubscribers' default: a meeting's
// phones and laptops, a few tabs each.
const DefaultMaxSubscribers = 64

// Timeouts of the http.Server that HTTPServer returns. There is no
// WriteTimeout: it would end every event stream. ReadTimeout bounds the
// reading of a request (header and body; a bundle import's body gets
// importReadTimeout) and is lifted once the body is read, so that a
// long handler is not cancelled (endReadTimeout).
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = time.Minute
	IdleTimeout       = 2 * time.Minute
	importReadTimeout = 30 * time.Minute
)

// Limits on request bodies.
const (
	maxJSONBody = 1 << 20
	maxCSVBody  = 10 << 20
)

// Server is the HTTP API and web UI. It is an http.Handler; call Close
// when the HTTP server shuts down, to end the event streams (which
// http.Server.Shutdown would otherwise wait for).
type Server struct {
	cfg  Config
	log  *slog.Logger
	mux  *http.ServeMux
	ui   http.Handler
	cop  *http.CrossOriginProtection
	done chan struct{}
	once sync.Once

	allow map[string][]string // path pattern → methods, for 405s

	sessions *sessions // nil unless meeting mode

	mu          sync.Mutex
	draining    bool           // Drain called: new requests get 503
	running     sync.WaitGroup // requests being served
	subscribers int            // open event streams
}

// New returns a Server. It panics if cfg.Board is nil.
func New(cfg Config) *Server {
	if cfg.Board == nil {
		panic("httpapi: Config.Board is nil")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.MaxSubscribers <= 0 {
		cfg.MaxSubscribers = DefaultMaxSubscribers
	}
	s := &Server{
		cfg:   cfg,
		log:   cfg.Logger,
		mux:   http.NewServeMux(),
		ui:    web.Handler(),
		cop:   http.NewCrossOriginProtection(),
		done:  make(chan struct{}),
		allow: map[string][]string{},
	}
	if cfg.Meeting {
		s.sessions = newSessions()
	}
	s.routes()
	return s
}

// Close ends the open event streams. Safe twice.
func (s *Server) Close() error {
	s.once.Do(func() { close(s.done) })
	return nil
}

// HTTPServer returns an http.Server for s with the read, header and idle
// timeouts above and base as every request's parent context: cancelling
// base tells running requests (an import) to stop.
func (s *Server) HTTPServer(base context.Context) *http.Server {
	return &http.Server{
		Handler:           s,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		IdleTimeout:       IdleTimeout,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
}

// Drain refuses new requests (503) and waits until those running have
// returned, or ctx ends. Call it before closing what the Board uses: the
// store must not close under a running import.
func (s *Server) Drain(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	s.Close()
	done := make(chan struct{})
	go func() { s.running.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// enter counts a request as running, unless the server is draining.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return false
	}
	s.running.Add(1)
	return true
}

// subscribe counts an event stream, unless MaxSubscribers are open.
func (s *Server) subscribe() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.subscribers >= s.cfg.MaxSubscribers {
		return false
	}
	s.subscribers++
	return true
}

func (s *Server) unsubscribe() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subscribers--
}

func (s *Server) routes() {
	s.handle("GET /api/v1/node", s.getNode)
	s.handle("PATCH /api/v1/node", s.patchNode)
	s.handle("GET /api/v1/session", s.getSession)
	s.handle("POST /api/v1/session", s.setSession)
	s.handle("GET /api/v1/peers", s.getPeers)
	s.handle("GET /api/v1/groups/{id}", s.getGroup)
	s.handle("GET /api/v1/groups/{id}/check", s.checkGroup)
	s.handle("POST /api/v1/groups/{id}/members/{key}/remove", s.changeMember(crdt.RoleNone))
	s.handle("POST /api/v1/groups/{id}/members/{key}/promote", s.changeMember(crdt.RoleAdmin))
	s.handle("POST /api/v1/groups/{id}/members/{key}/demote", s.changeMember(crdt.RoleMember))
	s.handle("POST /api/v1/groups/{id}/leave", s.leaveGroup)
	s.handle("GET /api/v1/groups/{id}/invites", s.listInvites)
	s.handle("POST /api/v1/groups/{id}/invites/{invite}/revoke", s.revokeInvite)
	s.handle("GET /api/v1/check", s.checkAll)
	s.handle("GET /api/v1/resolve", s.resolve)
	s.handle("GET /api/v1/posts", s.listPosts)
	s.handle("POST /api/v1/posts", s.createPost)
	s.handle("GET /api/v1/posts/{id}", s.getPost)
	s.handle("PATCH /api/v1/posts/{id}", s.editPost)
	s.handle("POST /api/v1/posts/{id}/status", s.setStatus)
	s.handle("POST /api/v1/posts/{id}/erase", s.erasePost)
	s.handle("POST /api/v1/groups/{id}/retention", s.setRetention)
	s.handle("POST /api/v1/groups/{id}/blocked", s.setBlocked)
	s.handle("POST /api/v1/posts/{id}/responses", s.respond)
	s.handle("DELETE /api/v1/posts/{id}/responses/{rid}", s.unrespond)
	s.handle("POST /api/v1/groups", s.createGroup)
	s.handle("POST /api/v1/join", s.joinGroup)
	s.handle("POST /api/v1/follow", s.follow)
	s.handle("DELETE /api/v1/follow/{group}", s.unfollow)
	s.handle("GET /api/v1/groups/{id}/share", s.shareGroup)
	s.handle("POST /api/v1/groups/{id}/federation", s.setFederation)
	s.handle("GET /api/v1/bundle", s.exportBundle)
	s.handle("POST /api/v1/bundle", s.importBundle)
	s.handle("GET /api/v1/summary", s.summary)
	s.handle("POST /api/v1/receipts", s.readReceipt)
	s.handle("POST /api/v1/invites", s.createInvite)
	s.handle("GET /api/v1/invites/qr.png", s.inviteQR)
	s.handle("GET /api/v1/events", s.events)
	s.handle("GET /api/v1/digest", s.digest)
	s.handle("GET /api/v1/posts.csv", s.exportCSV)
	s.handle("POST /api/v1/import/csv", s.importCSV)
	s.handle("POST /api/v1/sessions/revoke", s.revokeSessions)
	s.handle("GET /join", s.join)
	// A known path with another method: 405 with Allow, as JSON.
	for path, methods := range s.allow {
		if slices.Contains(methods, http.MethodGet) {
			methods = append(methods, http.MethodHead)
		}
		slices.Sort(methods)
		allow := strings.Join(methods, ", ")
		s.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			s.writeError(w, r, errorf(errNotAllowed, "%s is not allowed here; use %s", r.Method, allow))
		})
	}
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errorf(errNotFound, "no such API endpoint: %s", r.URL.Path))
	})
	s.mux.Handle("/", s.ui)
}

// handlerFunc is an API handler: it writes its response only on success,
// and returns the error otherwise.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle registers an API route. A phone's session reaches the handler
// only as phoneRoutes allows.
func (s *Server) handle(pattern string, h handlerFunc) {
	method, path, _ := strings.Cut(pattern, " ")
	s.allow[path] = append(s.allow[path], method)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		err := s.phoneMay(pattern, r)
		if err == nil {
			err = h(w, r)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	})
}

// ServeHTTP checks the request's Host, session, origin and content type,
// then routes it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		w.Header().Set("Connection", "close")
		s.writeError(w, r, errorf(errBusy, "the node is stopping"))
		return
	}
	defer s.running.Done()
	endReadTimeout(w, r)
	if err := s.checkHost(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		sid, err := s.guard(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if sid != "" {
			r = withSession(r, sid)
		}
	}
	s.mux.ServeHTTP(w, r)
}

// endReadTimeout lifts ReadTimeout once the request's body is read (at
// once if it has none). The timeout guards against a client that sends
// slowly; left on, it would also cancel a request whose handler runs
// longer (net/http's background read fails at the deadline and cancels
// the request's context): a large CSV import on a slow disk.
func endReadTimeout(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		_ = rc.SetReadDeadline(time.Time{})
		return
	}
	r.Body = &readUntilEOF{ReadCloser: r.Body, rc: rc}
}

// readUntilEOF lifts the connection's read deadline when the body ends.
type readUntilEOF struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *readUntilEOF) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// guard admits an API request: one not from this machine's own user
// needs a session in meeting mode (whose ID it returns) and is refused
// otherwise; one that changes anything must not come cross-origin from a
// browser, and must declare the content type its body has.
func (s *Server) guard(r *http.Request) (session string, err error) {
	if !s.trusted(r) {
		if s.sessions == nil {
			return "", errorf(errForbidden, "this node serves only its own machine: open http://localhost on it (a .local name is not trusted)")
		}
		if session = s.sessions.lookup(r, time.Now()); session == "" {
			return "", errorf(errUnauthorized, "open the join link shown on the organiser's screen to use this board")
		}
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return session, nil
	}
	if err := s.cop.Check(r); err != nil {
		return "", errorf(errForbidden, "cross-origin request refused: %v", err)
	}
	if r.Method == http.MethodDelete || r.URL.Path == "/api/v1/sessions/revoke" {
		return session, nil // no body is read
	}
	want := "application/json"
	switch r.URL.Path {
	case "/api/v1/import/csv":
		want = "text/csv"
	case "/api/v1/bundle", "/api/v1/receipts":
		want = "application/octet-stream"
	}
	if !hasMediaType(r, want) {
		return "", errorf(errMediaType, "send the body as Content-Type: %s", want)
	}
	return session, nil
}

func hasMediaType(r *http.Request, want string) bool {
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	return strings.EqualFold(strings.TrimSpace(ct), want)
}

// trusted reports whether the request is from this machine's own user:
// it comes over loopback and does not name the node by an mDNS (.local)
// name. Any machine on the LAN can answer for a .local name, so a web
// page served under one can rebind it to 127.0.0.1 and send requests
// over loopback with its own name in the Host header; such a request is
// treated like one from another machine.
func (s *Server) trusted(r *http.Request) bool {
	return isLoopback(r) && !isMDNS(hostName(r))
}

// isMDNS reports whether host is an mDNS name.
func isMDNS(host string) bool {
	return host == "local" || strings.HasSuffix(host, ".local")
}

// hostName returns the request's Host without port, brackets or final
// dot, in lower case.
func hostName(r *http.Request) string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
}

// isLoopback reports whether the request comes from this machine.
func isLoopback(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		a, err2 := netip.ParseAddr(r.RemoteAddr)
		if err2 != nil {
			return false
		}
		return a.Unmap().IsLoopback()
	}
	return ap.Addr().Unmap().IsLoopback()
}

// checkHost refuses a Host header that names a domain the node was not
// told about: a page on evil.example that rebinds its name to 127.0.0.1
// would otherwise be same-origin with the API.
// A .local name passes here (phones at a meeting may use one) but is
// not trusted as this machine's user (see trusted).
func (s *Server) checkHost(r *http.Request) error {
	host := hostName(r)
	switch {
	case host == "", host == "localhost",
		strings.HasSuffix(host, ".localhost"), strings.HasSuffix(host, ".local"):
		return nil
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	for _, h := range s.cfg.Hosts {
		if strings.EqualFold(strings.TrimSuffix(h, "."), host) {
			return nil
		}
	}
	return errorf(errBadHost, "host %q is not this node's; use its IP address or localhost", r.Host)
}

func (s *Server) now() time.Time { return s.cfg.Now() }
