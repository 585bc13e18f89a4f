package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/mutual-aid/mutual/node/replica"
)

// GET /api/v1/events: Server-Sent Events, one per board change:
//
//	event: post
//	data: {"type":"post","post":{...}}
//
// With ?with=group (the web page asks for it), also one when ops that
// may change a group's members were stored (a member renamed itself —
// a Rename op, kind 11, from this node or another — a join, an admit, a
// role, a leave...), with the group as GET /api/v1/node lists it:
//
//	event: group
//	data: {"type":"group","group":{"id":...,"name":...,"role":...}}
//
// A client that shows members' names (the members list, the author
// names of posts and responses) reads GET /api/v1/groups/{id} again on
// it. The event is asked for, not sent to every stream, so that a client
// written for the stream as it was (posts, and "lagged") sees the same
// stream; with=post,group is the same, and an unknown with= value is a
// 400.
//
// A subscriber that falls behind gets "event: lagged" (data
// {"type":"lagged"}) and the stream ends: the browser's EventSource
// reconnects by itself, and a client should then reload the board. A
// comment line every Config.Heartbeat keeps idle connections open. The
// stream ends when the client goes, the node closes, or Server.Close.
//
// At most Config.MaxSubscribers streams are open at once; one more gets
// 503 (the browser's EventSource retries).
func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	var groups bool
	for _, kind := range strings.Split(r.URL.Query().Get("with"), ",") {
		switch kind = strings.TrimSpace(kind); kind {
		case "", "post": // posts are always sent
		case "group":
			groups = true
		default:
			return inputErr("with: %q is no kind of event this node sends (known: post, group)", kind)
		}
	}
	if !s.subscribe() {
		w.Header().Set("Retry-After", "10")
		return errorf(errBusy, "too many open event streams (%d); try again later", s.cfg.MaxSubscribers)
	}
	defer s.unsubscribe()
	rc := http.NewResponseController(w)
	subscribe := s.cfg.Board.Subscribe
	if groups {
		subscribe = s.cfg.Board.SubscribeGroups
	}
	ch, cancel := subscribe()
	defer cancel()
	rc.SetWriteDeadline(time.Time{}) // a stream outlives http.Server.WriteTimeout
	rc.SetReadDeadline(time.Time{})  // and ReadTimeout, which would cancel its request

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write([]byte("retry: 2000\n: connected\n\n")); err != nil {
		return nil
	}
	if err := rc.Flush(); err != nil {
		return nil // the writer cannot stream; nothing more to say
	}
	tick := time.NewTicker(s.cfg.Heartbeat)
	defer tick.Stop()
	var buf bytes.Buffer
	for {
		buf.Reset()
		select {
		case <-r.Context().Done():
			return nil
		case <-s.done:
			return nil
		case <-tick.C:
			buf.WriteString(": ping\n\n")
		case ev, ok := <-ch:
			if !ok {
				return nil // the replica closed
			}
			// The events queued meanwhile go in the same write: a burst
			// of posts costs a syscall and a flush per batch, not per post.
			v := s.viewer(r) // one per write: membership is looked up once
			end := s.appendEvent(&buf, v, ev, groups)
		more:
			for !end && buf.Len() < maxEventWrite {
				select {
				case ev, ok = <-ch:
					if !ok {
						end = true
						break more
					}
					end = s.appendEvent(&buf, v, ev, groups)
				default:
					break more
				}
			}
			if end {
				w.Write(buf.Bytes())
				rc.Flush()
				return nil
			}
			if buf.Len() == 0 {
				continue
			}
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return nil
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}

// maxEventWrite is about how many bytes of events the stream gathers
// into one write.
const maxEventWrite = 64 << 10

// appendEvent adds event ev to buf as the stream sends it to viewer v
// (nothing for an event the stream does not show; "group" events only
// if groups), and reports whether the stream ends after it: a
// subscriber that lagged gets "lagged" and must reload.
func (s *Server) appendEvent(buf *bytes.Buffer, v *viewer, ev replica.Event, groups bool) (end bool) {
	switch {
	case ev.Type == "post" && ev.Post != nil && ev.Post.Created:
		data, err := json.Marshal(struct {
			Type string   `json:"type"`
			Post postJSON `json:"post"`
		}{"post", v.post(ev.Post)})
		if err != nil {
			s.log.Error("events: encode", "err", err)
			return false
		}
		buf.WriteString("event: post\ndata: ")
		buf.Write(data)
		buf.WriteString("\n\n")
	case ev.Type == "group" && groups:
		gi, err := s.cfg.Board.Group(ev.Group)
		if err != nil {
			return false // unfollowed or left meanwhile: nothing to show
		}
		data, err := json.Marshal(struct {
			Type  string       `json:"type"`
			Group groupRefJSON `json:"group"`
		}{"group", groupRef(gi)})
		if err != nil {
			s.log.Error("events: encode", "err", err)
			return false
		}
		buf.WriteString("event: group\ndata: ")
		buf.Write(data)
		buf.WriteString("\n\n")
	case ev.Type == "lagged":
		buf.WriteString("event: lagged\ndata: {\"type\":\"lagged\"}\n\n")
		return true
	}
	return false
}
