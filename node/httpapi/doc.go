// Package httpapi serves a node's HTTP API under /api/v1 (the contract is
// in docs/design.md, section "HTTP API") and the embedded web UI at "/".
//
// Every handler returns an error instead of writing one; the error is
// turned into a status and a {"error": "..."} body in one place,
// statusOf in errors.go. A handler writes its response only once it has
// succeeded, so a client never sees half a body after a failure, and a
// write to the board is one replica call: it either happened, durably,
// or did not.
//
// Trust. Requests from the loopback interface are trusted, as for any
// program of the same user, unless their Host header is an mDNS (.local)
// name, which any machine on the LAN can claim and rebind to 127.0.0.1:
// those are treated like requests from another machine (refused outside
// meeting mode). In meeting mode (Config.Meeting) the node also listens
// on the LAN; there every /api/v1 request from another machine needs a
// session, which a browser gets by opening the join link
// (Server.JoinURL) shown on the organiser's screen. A session has a
// phone's rights, not the organiser's: it may read the board, post and
// respond under the name it gave, and change or withdraw only what it
// made; phoneRoutes in phones.go is the whole list. Whatever the mode,
// the API refuses requests whose Host header names a domain other than
// localhost (DNS rebinding), state-changing requests that a browser
// marks as cross-origin (CSRF), and JSON or CSV bodies sent under any
// other content type, which a plain cross-site form cannot send.
package httpapi
