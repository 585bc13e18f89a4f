// Package web serves the node's browser interface: a small single-page app in plain JavaScript
// (no framework, no build step) embedded in the binary, so it works with no internet at all.
//
// The app talks only to the JSON API under /api/v1 and to its Server-Sent Events stream; this
// package serves nothing but the static files. All user-visible text is in static/i18n/, one file
// per language (en.js, es.js, ar.js; the page picks one from the browser's languages or its
// language switch), and static/app.js lists the routes (#/ board, #/post/{id}, #/new, #/group,
// #/peers).
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed static
var static embed.FS

// contentTypes maps the extensions used in static/ to their content types. It is fixed here rather
// than taken from the mime package, whose answers depend on the host's MIME database.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
}

// csp keeps the page to its own origin: no inline script, no third-party anything.
const csp = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

type asset struct {
	body        []byte
	contentType string
	etag        string
	// gz is body gzipped, when that is smaller (text, not PNG), and gzEtag its ETag: a phone on
	// a bad connection loads about a quarter of the bytes.
	gz     []byte
	gzEtag string
}

// gzipped compresses b (once, when the assets are loaded); nil when that saves nothing.
func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid: no error
	zw.Write(b)
	zw.Close()
	if buf.Len() >= len(b) {
		return nil
	}
	return buf.Bytes()
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip (by name or "*", with a
// q-value other than 0).
func acceptsGzip(r *http.Request) bool {
	for _, h := range r.Header.Values("Accept-Encoding") {
		for _, part := range strings.Split(h, ",") {
			name, params, _ := strings.Cut(part, ";")
			if name = strings.ToLower(strings.TrimSpace(name)); name != "gzip" && name != "*" {
				continue
			}
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
						q = f
					}
				}
			}
			return q > 0
		}
	}
	return false
}

// loadAssets reads the embedded files once, keyed by URL path.
var loadAssets = sync.OnceValue(func() map[string]asset {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err)
	}
	assets := map[string]asset{}
	err = fs.WalkDir(sub, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			return nil
		}
		body, err := fs.ReadFile(sub, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		a := asset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		if a.gz = gzipped(body); a.gz != nil {
			a.gzEtag = `"` + hex.EncodeToString(sum[:8]) + `-gz"`
		}
		assets["/"+name] = a
		return nil
	})
	if err != nil {
		panic(err) // the files are compiled in: this cannot happen at run time
	}
	assets["/"] = assets["/index.html"]
	return assets
})

// Handler serves the web UI: index.html at "/" and the assets next to it ("/app.js",
// "/style.css", "/i18n/en.js", …). Responses carry Cache-Control: no-cache and an ETag, so a browser
// revalidates cheaply and never runs a stale app after the node is upgraded; text is sent gzipped
// to a browser that accepts it (every browser does), with an ETag of its own. Mount it at "/"
// beside the API; it answers 404 for any other path.
func Handler() http.Handler {
	assets := loadAssets()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		a, ok := assets[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Cache-Control", "no-cache")
		body, etag := a.body, a.etag
		if a.gz != nil {
			h.Set("Vary", "Accept-Encoding")
			if acceptsGzip(r) {
				body, etag = a.gz, a.gzEtag
				h.Set("Content-Encoding", "gzip")
			}
		}
		h.Set("ETag", etag)
		h.Set("X-Content-Type-Options", "nosniff")
		if a.contentType == contentTypes[".html"] {
			h.Set("Content-Security-Policy", csp)
			h.Set("Referrer-Policy", "no-referrer")
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
}
