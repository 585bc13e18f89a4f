package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/mutual-aid/mutual/node"
	"github.com/mutual-aid/mutual/node/httpapi"
	"github.com/mutual-aid/mutual/node/store"
)

// client reaches a data dir's board through the HTTP API: over the
// network when `mutual serve` runs on it, else in-process on a store
// opened here. Either way the same handlers validate the same input and
// print the same JSON.
type client struct {
	base  string
	hc    *http.Client
	local *node.Local
}

func openClient(dir string) (*client, error) {
	return open(dir, node.OpenLocal)
}

// openCheckClient is openClient for `mutual check`: without a running
// node, the data dir is opened read-only.
func openCheckClient(dir string) (*client, error) {
	return open(dir, node.OpenLocalReadOnly)
}

func open(dir string, openLocal func(string, *slog.Logger) (*node.Local, error)) (*client, error) {
	l, err := openLocal(dir, quietLogger())
	if errors.Is(err, store.ErrLocked) {
		addr := node.APIAddr(dir)
		if addr == "" {
			return nil, fmt.Errorf("%w, and it publishes no API address (is it still starting?)", store.ErrLocked)
		}
		return &client{base: "http://" + addr, hc: &http.Client{Timeout: 60 * time.Second}}, nil
	}
	if err != nil {
		return nil, err
	}
	api := httpapi.New(httpapi.Config{
		Board:  l.Replica,
		Node:   func() httpapi.NodeInfo { return node.LocalInfo(l) },
		Rename: l.Rename,
		Logger: quietLogger(),

		Receipts: node.Receipts{Dir: dir},
		PeerKeys: node.PeerKeys,
	})
	return &client{base: "http://mutual.localhost", hc: &http.Client{Transport: handlerTransport{api}}, local: l}, nil
}

func (c *client) Close() error {
	if c.local != nil {
		return c.local.Close()
	}
	return nil
}

// handlerTransport serves requests with an in-process handler, as from
// the loopback address (the local user is trusted).
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req.RemoteAddr = "127.0.0.1:1"
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	return rec.Result(), nil
}

// do sends a JSON request and decodes a JSON answer into out (unless
// nil). A 4xx/5xx answer becomes its {"error"} message.
func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	return c.doRaw(ctx, method, path, "application/json", rd, out)
}

// record sends a JSON request for a command that prints records: with
// --json it prints the answer as it came and reports printed; else it
// decodes the answer into out for the command to print its own way.
func (c *client) record(ctx context.Context, e *env, o *opts, method, path string, body, out any) (printed bool, err error) {
	var raw json.RawMessage
	if err := c.do(ctx, method, path, body, &raw); err != nil {
		return false, err
	}
	if o.json {
		return true, printJSON(e.stdout, raw)
	}
	return false, json.Unmarshal(raw, out)
}

func (c *client) doRaw(ctx context.Context, method, path, ctype string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("talking to the running node: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	switch o := out.(type) {
	case nil:
		return nil
	case *[]byte:
		*o = b
		return nil
	default:
		return json.Unmarshal(b, out)
	}
}
