package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Long work shows progress on a terminal: import-csv of a big sheet,
// import of a big bundle. Progress goes to stderr, and only when stderr
// is a terminal (showProgress), so that scripts and logs see only the
// result.

// showProgress reports whether progress is printed to w; tests replace it.
var showProgress = isTerminal

// csvStepRows is the least number of rows import-csv sends per step when
// it shows progress (a variable for tests).
var csvStepRows = 500

// csvSteps is the most steps import-csv takes.
const csvSteps = 20

type importReport struct {
	Imported      int   `json:"imported"`
	Duplicates    int   `json:"duplicates"`
	Completed     int   `json:"completed"`
	CompletedRows []int `json:"completed_rows"`
	Errors        []struct {
		Row   int    `json:"row"`
		Error string `json:"error"`
	} `json:"errors"`
}

func cmdImportCSV(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) != 1 {
		return usagef("usage: mutual import-csv FILE [--group G] [--kind need|offer] [--dry-run]")
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	v := url.Values{}
	if o.group != "" {
		v.Set("group", o.group)
	}
	if o.kind != "" {
		k := strings.ToLower(strings.TrimSpace(o.kind))
		if k != "need" && k != "offer" {
			return fmt.Errorf("--kind %q is not need or offer", o.kind)
		}
		v.Set("kind", k)
	}
	if o.dryRun {
		v.Set("dry_run", "1")
	}
	return withClient(o, func(c *client) error {
		path := "/api/v1/import/csv?" + v.Encode()
		if o.dryRun {
			var raw json.RawMessage
			if err := c.doRaw(ctx, "POST", path, "text/csv", bytes.NewReader(data), &raw); err != nil {
				return err
			}
			return printJSON(e.stdout, raw)
		}
		raw, err := importCSVSteps(ctx, e, c, path, data)
		if err != nil {
			return err
		}
		if o.json {
			return printJSON(e.stdout, raw)
		}
		var rep importReport
		if err := json.Unmarshal(raw, &rep); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "imported %d, already had %d, completed %d left half done, could not read %d\n", rep.Imported, rep.Duplicates, rep.Completed, len(rep.Errors))
		if len(rep.CompletedRows) > 0 {
			rows := make([]string, len(rep.CompletedRows))
			for i, r := range rep.CompletedRows {
				rows[i] = strconv.Itoa(r)
			}
			fmt.Fprintf(e.stdout, "  completed (status set): rows %s\n", strings.Join(rows, ", "))
		}
		for _, x := range rep.Errors {
			fmt.Fprintf(e.stdout, "  row %d: %s\n", x.Row, oneLine(x.Error))
		}
		return nil
	})
}

// importCSVSteps imports a sheet and returns the API's report. On a
// terminal, a big sheet goes in steps, each a longer prefix of the file
// that ends at a row's end, with "N of M rows" printed after each. Each
// step is a whole file from the start, so that rows are numbered and
// told apart (identical rows by their order) exactly as in one request,
// and the rows earlier steps imported are found already there; the last
// step is the whole file, whose report (errors, rows already had) is the
// file's, less the rows the earlier steps imported.
func importCSVSteps(ctx context.Context, e *env, c *client, path string, data []byte) (json.RawMessage, error) {
	var ends []int
	var total int
	if showProgress(e.stderr) {
		ends, total = csvRowEnds(data)
	}
	if total < 2*csvStepRows {
		var raw json.RawMessage
		err := c.doRaw(ctx, "POST", path, "text/csv", bytes.NewReader(data), &raw)
		return raw, err
	}
	every := max(csvStepRows, (total+csvSteps-1)/csvSteps)
	var sum importReport
	var completed []int
	for done := every; ; done += every {
		last := done >= total
		end := len(data)
		if !last {
			end = ends[done-1]
		}
		var raw json.RawMessage
		if err := c.doRaw(ctx, "POST", path, "text/csv", bytes.NewReader(data[:end]), &raw); err != nil {
			fmt.Fprintln(e.stderr)
			return nil, err
		}
		var rep importReport
		if err := json.Unmarshal(raw, &rep); err != nil {
			return nil, err
		}
		if last {
			fmt.Fprintf(e.stderr, "\rimported %d of %d rows\n", total, total)
			// Rows the earlier steps imported or completed are "already
			// had" in the last step's report.
			rep.Duplicates -= sum.Imported + sum.Completed
			rep.Imported += sum.Imported
			rep.Completed += sum.Completed
			rep.CompletedRows = append(completed, rep.CompletedRows...)
			if rep.CompletedRows == nil {
				rep.CompletedRows = []int{}
			}
			return json.Marshal(rep)
		}
		sum.Imported += rep.Imported
		sum.Completed += rep.Completed
		completed = append(completed, rep.CompletedRows...)
		fmt.Fprintf(e.stderr, "\rimported %d of %d rows", done, total)
	}
}

// csvRowEnds returns the offset just past each row of a CSV file (after
// its line end), the header excluded, and the number of rows. A line end
// inside a quoted cell does not end a row; a quote opens a quoted cell
// only at the cell's start, as for encoding/csv (a stray quote inside a
// cell is the importer's to report, on that row alone). Blank lines
// count as rows here (the importer skips them): the count is for
// progress only.
func csvRowEnds(data []byte) (ends []int, rows int) {
	quoted, cellStart, header := false, true, true
	for i := 0; i < len(data); i++ {
		b := data[i]
		if quoted {
			if b == '"' {
				if i+1 < len(data) && data[i+1] == '"' {
					i++ // an escaped quote
					continue
				}
				quoted = false
			}
			continue
		}
		switch b {
		case '"':
			quoted = cellStart
			cellStart = false
		case '\n':
			cellStart = true
			if header {
				header = false
				continue
			}
			ends = append(ends, i+1)
		case ',', ';', '\t':
			cellStart = true
		case '\r':
		default:
			cellStart = false
		}
	}
	rows = len(ends)
	if n := len(data); n > 0 && data[n-1] != '\n' && !header {
		rows++ // a last row with no line end
	}
	return ends, rows
}

func cmdImport(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) != 1 {
		return usagef("usage: mutual import FILE")
	}
	f, err := os.Open(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	var body io.Reader = f
	if st, err := f.Stat(); err == nil && showProgress(e.stderr) && st.Size() > 1<<20 {
		pr := &progressReader{r: f, total: st.Size(), w: e.stderr}
		defer pr.finish()
		body = pr
	}
	return withClient(o, func(c *client) error {
		var raw json.RawMessage
		if err := c.doRaw(ctx, "POST", "/api/v1/bundle", "application/octet-stream", body, &raw); err != nil {
			return err
		}
		if o.json {
			return printJSON(e.stdout, raw)
		}
		var rep struct {
			New, Had, Refused, Waiting int
			Followed                   []string
			Errors                     []string
		}
		json.Unmarshal(raw, &rep)
		fmt.Fprintf(e.stdout, "new %d, already had %d, refused %d", rep.New, rep.Had, rep.Refused)
		if rep.Waiting > 0 {
			fmt.Fprintf(e.stdout, ", waiting %d (authors not yet known, or clocks ahead)", rep.Waiting)
		}
		fmt.Fprintln(e.stdout)
		for _, g := range rep.Followed {
			fmt.Fprintf(e.stdout, "now following group %s (read-only)\n", g)
		}
		for _, x := range rep.Errors {
			fmt.Fprintf(e.stdout, "  %s\n", x)
		}
		return nil
	})
}

// progressReader prints how much of a bundle the node has read (it
// checks and stores ops as it reads), at most every 200 ms.
type progressReader struct {
	r       io.Reader
	w       io.Writer
	n       int64
	total   int64
	printed time.Time
	shown   bool
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if now := time.Now(); now.Sub(p.printed) >= 200*time.Millisecond || err == io.EOF {
		p.printed = now
		p.shown = true
		fmt.Fprintf(p.w, "\rread %s of %s", mb(p.n), mb(p.total))
	}
	return n, err
}

func (p *progressReader) finish() {
	if p.shown {
		fmt.Fprintf(p.w, "\rread %s of %s\n", mb(p.n), mb(p.total))
	}
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }

func cmdDigest(ctx context.Context, e *env, o *opts, args []string) error {
	if len(args) > 0 {
		return usagef("digest takes no arguments (use --group)")
	}
	return withClient(o, func(c *client) error {
		g, err := groupID(ctx, c, o.group)
		if err != nil {
			return err
		}
		var b []byte
		if err := c.doRaw(ctx, "GET", "/api/v1/digest?group="+g, "", nil, &b); err != nil {
			return err
		}
		if !o.json {
			_, err := e.stdout.Write(b)
			return err
		}
		// The posts the digest lists, without their private fields: a
		// digest is for pasting where non-members read it.
		var posts []map[string]any
		if err := c.do(ctx, "GET", "/api/v1/posts?status=open&group="+g, nil, &posts); err != nil {
			return err
		}
		for _, p := range posts {
			delete(p, "contact")
			delete(p, "location")
		}
		if posts == nil {
			posts = []map[string]any{}
		}
		return printJSON(e.stdout, map[string]any{"group": g, "text": string(b), "posts": posts})
	})
}
