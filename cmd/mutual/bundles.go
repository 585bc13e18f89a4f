package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/skip2/go-qrcode"

	"github.com/mutual-aid/mutual/protocol"
)

// The sneakernet (docs/operations.md, "No internet: carrying a USB
// stick"): the receiving node's summary goes to the sender (as text or a
// QR code), the sender's bundle carries only what the receiver lacks, and
// the receiver's receipt goes back, so that the next bundle starts from
// what arrived.

// summaryQRMax is the longest summary printed as a QR code on a
// terminal: past it the code is too dense to scan from a screen.
const summaryQRMax = 1200

type summaryOut struct {
	Code   string `json:"code"`
	Bytes  int    `json:"bytes"`
	Groups []struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Authors  int    `json:"authors"`
		Ops      uint64 `json:"ops"`
		Evidence int    `json:"evidence"`
	} `json:"groups"`
}

func cmdSummary(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) > 0 {
		return usagef("summary takes no arguments (use --group, --out)")
	}
	return withClient(o, func(c *client) error {
		v := url.Values{}
		for _, g := range o.groups {
			v.Add("group", g)
		}
		var raw json.RawMessage
		if err := c.do(ctx, "GET", "/api/v1/summary?"+v.Encode(), nil, &raw); err != nil {
			return err
		}
		var s summaryOut
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		if o.out != "" {
			if err := writeFileAtomic(o.out, []byte(s.Code+"\n")); err != nil {
				return err
			}
		}
		if o.json {
			return printJSON(e.stdout, raw)
		}
		if o.out != "" {
			fmt.Fprintf(e.stdout, "wrote %s (%d characters)\n", o.out, len(s.Code))
		} else {
			fmt.Fprintln(e.stdout, s.Code)
			if len(s.Code) <= summaryQRMax {
				if q, err := qrcode.New(s.Code, qrcode.Low); err == nil {
					fmt.Fprint(e.stdout, q.ToSmallString(false))
				}
			} else {
				fmt.Fprintf(e.stderr, "too long for a QR code (%d characters): use --out FILE and carry the file\n", len(s.Code))
			}
		}
		for _, g := range s.Groups {
			fmt.Fprintf(e.stderr, "%s (%s): %d ops of %d authors\n", oneLine(g.Name), g.ID[:8], g.Ops, g.Authors)
		}
		fmt.Fprintln(e.stderr, "the node that brings this one a bundle runs `mutual export FILE --since` this code (or the file)")
		return nil
	})
}

// sinceQuery turns --since into the export's query: a summary code, a
// file holding one or a receipt (whose summary is used), or a prefix of
// the key of a node whose receipt this node has read.
func sinceQuery(v url.Values, since string) error {
	since = strings.TrimSpace(since)
	if strings.HasPrefix(since, protocol.SummaryPrefix) {
		v.Set("since", since)
		return nil
	}
	f, err := os.Open(since)
	if errors.Is(err, os.ErrNotExist) && isHex(since) {
		v.Set("for", since)
		return nil
	}
	if err != nil {
		return fmt.Errorf("--since: %w (give a summary code, a file holding one or a receipt, or a node's key)", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, protocol.MaxReceiptBytes+1))
	if err != nil {
		return err
	}
	if bytes.HasPrefix(b, []byte(protocol.ReceiptMagic)) {
		rc, err := protocol.DecodeReceipt(b)
		if err != nil {
			return fmt.Errorf("--since %s: %w", since, err)
		}
		code, err := protocol.SummaryText(&rc.Summary)
		if err != nil {
			return err
		}
		v.Set("since", code)
		return nil
	}
	code := strings.TrimSpace(string(b))
	if _, err := protocol.ParseSummaryText(code); err != nil {
		return fmt.Errorf("--since %s: %w", since, err)
	}
	v.Set("since", strings.Join(strings.Fields(code), ""))
	return nil
}

func isHex(s string) bool {
	if len(s) < 4 {
		return false
	}
	for _, c := range strings.ToLower(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func cmdExport(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) != 1 {
		return usagef("usage: mutual export FILE [--group G] [--since SUMMARY|FILE|NODE]")
	}
	v := url.Values{}
	if o.group != "" {
		v.Set("group", o.group)
	}
	if o.since != "" {
		if err := sinceQuery(v, o.since); err != nil {
			return err
		}
	}
	return withClient(o, func(c *client) error {
		var b []byte
		if err := c.doRaw(ctx, "GET", "/api/v1/bundle?"+v.Encode(), "", nil, &b); err != nil {
			return err
		}
		// Write to a temporary file and rename, so a full USB stick never
		// leaves half a bundle under the real name.
		if err := writeFileAtomic(args[0], b); err != nil {
			return err
		}
		ops := bundleOpCount(b)
		if o.json {
			return printJSON(e.stdout, map[string]any{"file": args[0], "bytes": len(b), "ops": ops})
		}
		what := ""
		if o.since != "" {
			what = ", the ones the other node lacks"
		}
		fmt.Fprintf(e.stdout, "wrote %s (%d ops%s, %d bytes)\n", args[0], ops, what, len(b))
		return nil
	})
}

// writeFileAtomic writes a file under a temporary name, then renames it.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// bundleOpCount counts the ops of a bundle this node just wrote.
func bundleOpCount(b []byte) int {
	br := bufio.NewReader(bytes.NewReader(b))
	if _, err := br.Discard(len("mutual-bundle/1\n")); err != nil {
		return 0
	}
	n := 0
	for {
		f, err := protocol.ReadFrame(br)
		if err != nil {
			return n
		}
		n += len(f.Ops)
	}
}

// importOut is the API's answer to an import.
type importOut struct {
	New, Had, Refused, Waiting int
	Followed                   []string
	Errors                     []string
	Groups                     []receiptGroup
	Cut                        string
	Receipt                    string
}

type receiptGroup struct {
	Group, Name                string
	New, Had, Waiting, Refused uint64
	Refusals                   []struct {
		Frame, Index uint64
		Op, Author   string
		Seq          uint64
		Reason       string
	}
}

func cmdImport(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) != 1 {
		return usagef("usage: mutual import FILE [--receipt OUT]")
	}
	f, err := os.Open(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	// A receipt brought back: what the bundle brought over there.
	if head := make([]byte, len(protocol.ReceiptMagic)); readFull(f, head) && string(head) == protocol.ReceiptMagic {
		return cmdReceipt(ctx, e, o, args)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	var body io.Reader = f
	if st, err := f.Stat(); err == nil && showProgress(e.stderr) && st.Size() > 1<<20 {
		pr := &progressReader{r: f, total: st.Size(), w: e.stderr}
		defer pr.finish()
		body = pr
	}
	path := "/api/v1/bundle"
	if o.receipt != "" {
		path += "?receipt=1"
	}
	return withClient(o, func(c *client) error {
		var raw json.RawMessage
		if err := c.doRaw(ctx, "POST", path, "application/octet-stream", body, &raw); err != nil {
			return err
		}
		var rep importOut
		if err := json.Unmarshal(raw, &rep); err != nil {
			return err
		}
		if o.receipt != "" {
			b, err := base64.StdEncoding.DecodeString(rep.Receipt)
			if err != nil {
				return fmt.Errorf("the node's receipt: %w", err)
			}
			if err := writeFileAtomic(o.receipt, b); err != nil {
				return err
			}
		}
		if o.json {
			if err := printJSON(e.stdout, raw); err != nil {
				return err
			}
		} else {
			printImport(e.stdout, &rep)
			if o.receipt != "" {
				fmt.Fprintf(e.stdout, "wrote the receipt to %s: take it back to the node that made the bundle, which runs `mutual receipt %s`\n", o.receipt, o.receipt)
			}
		}
		if rep.Cut != "" {
			return fmt.Errorf("%s; the ops before that were imported", rep.Cut)
		}
		return nil
	})
}

func readFull(r io.Reader, b []byte) bool {
	_, err := io.ReadFull(r, b)
	return err == nil
}

// printImport prints an import's report: the totals, then each group's.
func printImport(w io.Writer, rep *importOut) {
	fmt.Fprintf(w, "new %d, already had %d, refused %d", rep.New, rep.Had, rep.Refused)
	if rep.Waiting > 0 {
		fmt.Fprintf(w, ", waiting %d (authors not yet known, or clocks ahead)", rep.Waiting)
	}
	fmt.Fprintln(w)
	for _, g := range rep.Followed {
		fmt.Fprintf(w, "now following group %s (read-only)\n", g)
	}
	printReceiptGroups(w, rep.Groups)
}

// printReceiptGroups prints each group's counts and refused ops.
func printReceiptGroups(w io.Writer, gs []receiptGroup) {
	for _, g := range gs {
		name := oneLine(g.Name)
		if name == "" {
			name = "group"
		}
		fmt.Fprintf(w, "%s (%s): new %d, already had %d, refused %d", name, g.Group[:min(8, len(g.Group))], g.New, g.Had, g.Refused)
		if g.Waiting > 0 {
			fmt.Fprintf(w, ", waiting %d", g.Waiting)
		}
		fmt.Fprintln(w)
		for _, x := range g.Refusals {
			where := fmt.Sprintf("frame %d, op %d", x.Frame, x.Index)
			if x.Op != "" {
				where += fmt.Sprintf(" (%s, by %s, seq %d)", x.Op[:12], x.Author[:12], x.Seq)
			}
			fmt.Fprintf(w, "  refused %s: %s\n", where, oneLine(x.Reason))
		}
		if n := int(g.Refused) - len(g.Refusals); n > 0 {
			fmt.Fprintf(w, "  and %d more refused\n", n)
		}
	}
}

func cmdReceipt(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) != 1 {
		return usagef("usage: mutual receipt FILE")
	}
	b, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	return withClient(o, func(c *client) error {
		var raw json.RawMessage
		if err := c.doRaw(ctx, "POST", "/api/v1/receipts", "application/octet-stream", bytes.NewReader(b), &raw); err != nil {
			return err
		}
		if o.json {
			return printJSON(e.stdout, raw)
		}
		var rc struct {
			Node, Time, Cut string
			Groups          []receiptGroup
			Kept            bool
		}
		if err := json.Unmarshal(raw, &rc); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "receipt from node %s, %s:\n", rc.Node[:12], rc.Time)
		printReceiptGroups(e.stdout, rc.Groups)
		if rc.Cut != "" {
			fmt.Fprintf(e.stdout, "the import stopped early: %s\n", oneLine(rc.Cut))
		}
		if rc.Kept {
			fmt.Fprintf(e.stdout, "remembered: `mutual export FILE --since %s` carries only what that node still lacks\n", rc.Node[:12])
		} else {
			fmt.Fprintln(e.stdout, "a newer receipt from that node is remembered already")
		}
		return nil
	})
}
