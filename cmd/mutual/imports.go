package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
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
	DryRun  bool `json:"dry_run"`
	Columns []struct {
		Column int    `json:"column"`
		Header string `json:"header"`
		Field  string `json:"field"`
	} `json:"columns"`
	Kind          string            `json:"kind"`
	KindFrom      string            `json:"kind_from"`
	Warnings      []string          `json:"warnings"`
	Imported      int               `json:"imported"`
	Duplicates    int               `json:"duplicates"`
	Completed     int               `json:"completed"`
	CompletedRows []int             `json:"completed_rows"`
	Errors        []rowError        `json:"errors"`
	Rows          []json.RawMessage `json:"rows"`
	Groups        []groupCount      `json:"groups,omitempty"`
	Preview       []struct {
		Row      int    `json:"row"`
		Kind     string `json:"kind"`
		Title    string `json:"title"`
		Category string `json:"category"`
		Quantity uint32 `json:"quantity"`
		Urgency  string `json:"urgency"`
		Status   string `json:"status"`
		Group    string `json:"group"`
	} `json:"preview"`
}

// groupCount is what an import did in one group (a sheet with a Group
// column).
type groupCount struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Imported   int    `json:"imported"`
	Duplicates int    `json:"duplicates"`
	Completed  int    `json:"completed"`
}

// addGroups adds the counts of more to sum, group by group.
func addGroups(sum, more []groupCount) []groupCount {
	for _, g := range more {
		i := slices.IndexFunc(sum, func(s groupCount) bool { return s.ID == g.ID })
		if i < 0 {
			sum = append(sum, groupCount{ID: g.ID, Name: g.Name})
			i = len(sum) - 1
		}
		sum[i].Imported += g.Imported
		sum[i].Duplicates += g.Duplicates
		sum[i].Completed += g.Completed
	}
	return sum
}

// printGroups prints an import's counts per group, for a sheet with a
// Group column.
func printGroups(w io.Writer, verb string, gs []groupCount) {
	for _, g := range gs {
		fmt.Fprintf(w, "  %s (%s): %s %d, already had %d, completed %d\n", oneLine(g.Name), short(g.ID), verb, g.Imported, g.Duplicates, g.Completed)
	}
}

type rowError struct {
	Row   int    `json:"row"`
	Error string `json:"error"`
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
		raw, err := importCSVParts(ctx, e, c, v, data, !o.dryRun)
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
		if rep.DryRun {
			printDryRun(e.stdout, &rep)
			return nil
		}
		fmt.Fprintf(e.stdout, "imported %d, already had %d, completed %d left half done, could not read %d\n", rep.Imported, rep.Duplicates, rep.Completed, len(rep.Errors))
		printGroups(e.stdout, "imported", rep.Groups)
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
		for _, w := range rep.Warnings {
			fmt.Fprintf(e.stderr, "note: %s\n", oneLine(w))
		}
		return nil
	})
}

// printDryRun shows how a sheet would be read: the columns, the kind,
// the first rows, and the rows that would be refused.
func printDryRun(w io.Writer, rep *importReport) {
	fmt.Fprintln(w, "dry run: nothing imported")
	fmt.Fprintln(w, "columns:")
	for _, c := range rep.Columns {
		field := c.Field
		if field == "" {
			field = "(not used)"
		}
		fmt.Fprintf(w, "  %d %-24s -> %s\n", c.Column, oneLine(c.Header), field)
	}
	if rep.KindFrom != "" {
		fmt.Fprintf(w, "rows that do not say are %ss (from %s)\n", rep.Kind, oneLine(rep.KindFrom))
	}
	for _, x := range rep.Warnings {
		fmt.Fprintf(w, "note: %s\n", oneLine(x))
	}
	if len(rep.Preview) > 0 {
		fmt.Fprintln(w, "first rows:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		group := len(rep.Groups) > 0
		head := "  ROW\tKIND\tSTATUS\tURGENCY\tQTY\tCATEGORY\tTITLE"
		if group {
			head += "\tGROUP"
		}
		fmt.Fprintln(tw, head)
		for _, p := range rep.Preview {
			qty := ""
			if p.Quantity > 0 {
				qty = fmt.Sprint(p.Quantity)
			}
			line := fmt.Sprintf("  %d\t%s\t%s\t%s\t%s\t%s\t%s", p.Row, p.Kind, p.Status, p.Urgency, qty, oneLine(p.Category), oneLine(p.Title))
			if group {
				line += "\t" + oneLine(p.Group)
			}
			fmt.Fprintln(tw, line)
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "would import %d, already had %d, complete %d, could not read %d\n", rep.Imported, rep.Duplicates, rep.Completed, len(rep.Errors))
	printGroups(w, "would import", rep.Groups)
	for _, x := range rep.Errors {
		fmt.Fprintf(w, "  row %d: %s\n", x.Row, oneLine(x.Error))
	}
}

// importCSVParts imports a sheet and returns the API's report. On a
// terminal, a big sheet goes in parts (the API's lines=A-B: the whole
// file each time, and the rows that start on those lines imported), with
// "N of M rows" printed after each; the parts' reports add up to the
// file's.
func importCSVParts(ctx context.Context, e *env, c *client, v url.Values, data []byte, parts bool) (json.RawMessage, error) {
	var starts []int
	if parts && showProgress(e.stderr) {
		starts = csvRowStarts(data)
	}
	total := len(starts)
	path := "/api/v1/import/csv?"
	if total < 2*csvStepRows {
		var raw json.RawMessage
		err := c.doRaw(ctx, "POST", path+v.Encode(), "text/csv", bytes.NewReader(data), &raw)
		return raw, err
	}
	every := max(csvStepRows, (total+csvSteps-1)/csvSteps)
	var sum importReport
	var rows []json.RawMessage
	for done := 0; done < total; done += every {
		lines := fmt.Sprintf("%d-", starts[done])
		if done+every < total {
			lines += strconv.Itoa(starts[done+every] - 1)
		}
		v.Set("lines", lines)
		var raw json.RawMessage
		if err := c.doRaw(ctx, "POST", path+v.Encode(), "text/csv", bytes.NewReader(data), &raw); err != nil {
			fmt.Fprintln(e.stderr)
			return nil, err
		}
		var rep importReport
		if err := json.Unmarshal(raw, &rep); err != nil {
			return nil, err
		}
		if done == 0 {
			sum = rep
			sum.CompletedRows, sum.Errors, sum.Rows, sum.Groups = nil, nil, nil, nil
			sum.Imported, sum.Duplicates, sum.Completed = 0, 0, 0
		}
		sum.Groups = addGroups(sum.Groups, rep.Groups)
		sum.Imported += rep.Imported
		sum.Duplicates += rep.Duplicates
		sum.Completed += rep.Completed
		sum.CompletedRows = append(sum.CompletedRows, rep.CompletedRows...)
		sum.Errors = append(sum.Errors, rep.Errors...)
		rows = append(rows, rep.Rows...)
		fmt.Fprintf(e.stderr, "\rimported %d of %d rows", min(done+every, total), total)
	}
	fmt.Fprintln(e.stderr)
	// The parts' reports, as one: the fields of the API's answer that
	// add up, added up; the rest from the first part.
	var out map[string]any
	first, _ := json.Marshal(sum)
	json.Unmarshal(first, &out)
	out["rows"] = rows
	for _, k := range []string{"completed_rows", "errors", "rows"} {
		if out[k] == nil {
			out[k] = []any{}
		}
	}
	return json.Marshal(out)
}

// csvRowStarts returns the line on which each row of a CSV file starts
// (the header, on line 1, excluded). A line end inside a quoted cell
// does not end a row; a quote opens a quoted cell only at the cell's
// start, as for encoding/csv (a stray quote inside a cell is the
// importer's to report, on that row alone). Blank lines count as rows
// here (the importer skips them): the count is for progress only.
func csvRowStarts(data []byte) []int {
	var starts []int
	quoted, cellStart := false, true
	line := 1
	for i := 0; i < len(data); i++ {
		b := data[i]
		if b == '\n' {
			line++
		}
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
			if i+1 < len(data) {
				starts = append(starts, line)
			}
		case ',', ';', '\t':
			cellStart = true
		case '\r':
		default:
			cellStart = false
		}
	}
	return starts
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
