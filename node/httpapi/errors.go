package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/mutual-aid/mutual/node/replica"
	"github.com/mutual-aid/mutual/node/sheet"
	"github.com/mutual-aid/mutual/node/store"
	"github.com/mutual-aid/mutual/protocol"
)

// Errors of this package. A handler wraps one of them (with apiError, so
// that the client sees only the detail) and statusOf maps it.
var (
	errInput        = errors.New("invalid input")                          // 400
	errUnauthorized = errors.New("no session")                             // 401
	errForbidden    = errors.New("forbidden")                              // 403
	errNotFound     = errors.New("not found")                              // 404
	errMediaType    = errors.New("unsupported content type")               // 415
	errNotAllowed   = errors.New("method not allowed")                     // 405
	errConflict     = errors.New("conflicts with the node's state")        // 409
	errNotMeeting   = errors.New("the node is not in meeting mode")        // 404
	errBadHost      = errors.New("the Host header names a foreign domain") // 403
	errBusy         = errors.New("the node is busy or stopping")           // 503
)

// apiError is an error whose message is for the client and whose kind is
// one of the sentinels above.
type apiError struct {
	kind error
	msg  string
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.kind }

func inputErr(format string, args ...any) error {
	return &apiError{errInput, fmt.Sprintf(format, args...)}
}

func errorf(kind error, format string, args ...any) error {
	return &apiError{kind, fmt.Sprintf(format, args...)}
}

// statusOf maps an error to an HTTP status. It is the only place that
// does: replica's sentinel errors, sheet's whole-file errors, and this
// package's own.
func statusOf(err error) int {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe), errors.Is(err, sheet.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, errInput),
		errors.Is(err, replica.ErrInvalidPost),
		errors.Is(err, replica.ErrInviteOld),
		errors.Is(err, replica.ErrNotBundle),
		errors.Is(err, protocol.ErrMalformed),
		errors.Is(err, protocol.ErrBadSignature),
		errors.Is(err, protocol.ErrUnsupported),
		errors.Is(err, sheet.ErrNotCSV),
		errors.Is(err, sheet.ErrNoHeader),
		errors.Is(err, sheet.ErrNoColumns),
		errors.Is(err, sheet.ErrNoKind),
		errors.Is(err, sheet.ErrTooManyRows):
		return http.StatusBadRequest
	case errors.Is(err, errUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, errForbidden),
		errors.Is(err, errBadHost),
		errors.Is(err, replica.ErrNotAdmin),
		errors.Is(err, replica.ErrNotMember),
		errors.Is(err, replica.ErrFollower),
		errors.Is(err, replica.ErrNotAllowed),
		errors.Is(err, replica.ErrNotVisitor),
		errors.Is(err, replica.ErrFormerMember),
		errors.Is(err, replica.ErrFromBlocked):
		return http.StatusForbidden
	case errors.Is(err, errNotFound),
		errors.Is(err, errNotMeeting),
		errors.Is(err, replica.ErrNoGroup),
		errors.Is(err, replica.ErrNoPost),
		errors.Is(err, replica.ErrNoMember),
		errors.Is(err, replica.ErrNoInvite):
		return http.StatusNotFound
	case errors.Is(err, errNotAllowed):
		return http.StatusMethodNotAllowed
	case errors.Is(err, errConflict), errors.Is(err, replica.ErrInviteUsed), errors.Is(err, replica.ErrInviteAgain),
		errors.Is(err, replica.ErrMemberUnfollow), errors.Is(err, replica.ErrHelping),
		errors.Is(err, replica.ErrLastAdmin), errors.Is(err, replica.ErrNoKey),
		errors.Is(err, replica.ErrOtherVisit), errors.Is(err, replica.ErrNoRecipients),
		errors.Is(err, replica.ErrCannotCheck), errors.Is(err, replica.ErrVisitorsFull):
		return http.StatusConflict
	case errors.Is(err, errMediaType):
		return http.StatusUnsupportedMediaType
	case errors.Is(err, store.ErrDiskFull):
		return http.StatusInsufficientStorage
	case errors.Is(err, replica.ErrClosed),
		errors.Is(err, errBusy),
		errors.Is(err, replica.ErrUnconfirmed),
		errors.Is(err, context.Canceled),
		errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// writeError answers with err's status and {"error": message}. Internal
// errors are logged and not shown in detail.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := statusOf(err)
	msg := err.Error()
	var mbe *http.MaxBytesError
	var full *store.DiskFullError
	switch {
	case errors.As(err, &mbe):
		msg = fmt.Sprintf("request body is over %d bytes", mbe.Limit)
	case errors.As(err, &full):
		msg = full.Error()
	}
	var damaged *store.DamageError
	if code == http.StatusInternalServerError && errors.As(err, &damaged) {
		s.log.Error("api", "method", r.Method, "path", r.URL.Path, "err", err)
		writeJSON(w, code, map[string]string{"error": damaged.Error()})
		return
	}
	if code == http.StatusInternalServerError {
		s.log.Error("api", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "internal error (see the node's log)"
	}
	writeJSON(w, code, map[string]string{"error": msg})
}
