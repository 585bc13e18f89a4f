package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"github.com/mutual-aid/mutual/node/replica"
)

// GET /api/v1/events: Server-Sent Events, one per board change:
//
//	event: post
//	data: {"type":"post","post":{...}}
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
	if !s.subscribe() {
		w.Header().Set("Retry-After", "10")
		return errorf(errBusy, "too many open event streams (%d); try again later", s.cfg.MaxSubscribers)
	}
	defer s.unsubscribe()
	rc := http.NewResponseController(w)
	ch, cancel := s.cfg.Board.Subscribe()
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
			end := s.appendEvent(&buf, v, ev)
		more:
			for !end && buf.Len() < maxEventWrite {
				select {
				case ev, ok = <-ch:
					if !ok {
						end = true
						break more
					}
					end = s.appendEvent(&buf, v, ev)
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
// (nothing for an event the stream does not show), and reports whether
// the stream ends after it: a subscriber that lagged gets "lagged" and
// must reload.
func (s *Server) appendEvent(buf *bytes.Buffer, v *viewer, ev replica.Event) (end bool) {
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
	case ev.Type == "lagged":
		buf.WriteString("event: lagged\ndata: {\"type\":\"lagged\"}\n\n")
		return true
	}
	return false
}
