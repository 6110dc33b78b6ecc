// Package web serves the browser pages that ship inside the binary: the fan's
// waiting page and the operator's console. The pages are plain files (HTML,
// ES modules, CSS) embedded with go:embed; this package turns a file tree
// into an http.Handler that a phone on a crowded network can load cheaply
// and a browser can trust:
//
//   - every file is read, hashed and gzipped once at start, so a request
//     costs a map lookup and one write;
//   - assets are fingerprinted: HTML that names "app.js" is rewritten to
//     "app.js?v=<hash>", and so is a module's import of another module of
//     the site; a request carrying the current hash is cached for a year
//     ("immutable"); anything else revalidates with its ETag;
//   - HTML pages carry a strict Content-Security-Policy (no inline script or
//     style, same-origin connections only) and the usual hardening headers.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"sort"
	"strings"
)

// ContentSecurityPolicy is sent with every page: scripts, styles, images and
// API calls come from the gateway's own origin only, nothing inline, and no
// other site may frame the page (clickjacking a pay button).
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// immutable is the Cache-Control of a fingerprinted asset: its URL changes
// whenever its bytes do, so a browser may keep it for a year unasked.
const immutable = "public, max-age=31536000, immutable"

// revalidate is the Cache-Control of pages and unfingerprinted requests: the
// browser keeps them but asks with If-None-Match before each use, so a new
// release is seen at once and an unchanged file costs a 304.
const revalidate = "no-cache"

// file is one embedded file, ready to serve.
type file struct {
	name        string
	body        []byte
	gzipped     []byte // nil when gzip would not make it smaller
	etag        string // quoted, strong
	hash        string // first 12 hex digits of the body's SHA-256
	contentType string
	html        bool
}

// Site is a file tree prepared for serving.
type Site struct {
	files map[string]*file
}

// NewSite reads every file of fsys, fingerprints the asset references of its
// HTML pages and compresses what compresses. It fails on an unreadable tree.
func NewSite(fsys fs.FS) (*Site, error) {
	s := &Site{files: map[string]*file{}}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = http.DetectContentType(body)
		}
		s.files[name] = &file{name: name, body: body, contentType: ct, html: path.Ext(name) == ".html"}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: reading pages: %w", err)
	}
	// Assets first, so pages can name their hashes; a module after the
	// modules it imports, so it can name theirs.
	sealing := map[*file]bool{}
	for _, f := range s.files {
		if !f.html {
			if err := s.sealModule(f, sealing); err != nil {
				return nil, err
			}
		}
	}
	for _, f := range s.files {
		if f.html {
			f.body = s.fingerprint(f)
			f.seal()
		}
	}
	return s, nil
}

// importSpec matches the specifier of a static or dynamic import of a local
// module ("./x.js", "../x.js" or "/x.js") in a script.
var importSpec = regexp.MustCompile(`(\bfrom\s*|\bimport\s*\(?\s*)(["'])([./][^"'?#:]*\.js)(["'])`)

// sealModule seals f, a script first rewriting its imports of the site's
// modules to "x.js?v=<hash>", after sealing those modules: a module's URL
// then changes whenever anything it loads does, and a browser may cache the
// whole graph for a year, as it does the script a page names. sealing holds
// the files being sealed on the way, to refuse an import cycle (whose hashes
// could not name each other).
func (s *Site) sealModule(f *file, sealing map[*file]bool) error {
	if f.hash != "" {
		return nil
	}
	if path.Ext(f.name) != ".js" {
		f.seal()
		return nil
	}
	if sealing[f] {
		return fmt.Errorf("web: %s imports itself through other modules", f.name)
	}
	sealing[f] = true
	var err error
	f.body = importSpec.ReplaceAllFunc(f.body, func(m []byte) []byte {
		sub := importSpec.FindSubmatch(m)
		ref := string(sub[3])
		target := strings.TrimPrefix(ref, "/")
		if !strings.HasPrefix(ref, "/") {
			target = path.Join(path.Dir(f.name), ref)
		}
		dep, ok := s.files[target]
		if !ok {
			dep = s.bySuffix(target)
		}
		if dep == nil {
			return m
		}
		if e := s.sealModule(dep, sealing); e != nil {
			err = e
			return m
		}
		return bytes.Replace(m, sub[3], []byte(ref+"?v="+dep.hash), 1)
	})
	delete(sealing, f)
	if err != nil {
		return err
	}
	f.seal()
	return nil
}

// seal computes what serving needs from the final body.
func (f *file) seal() {
	sum := sha256.Sum256(f.body)
	f.hash = hex.EncodeToString(sum[:6])
	f.etag = `"` + hex.EncodeToString(sum[:16]) + `"`
	f.gzipped = nil
	if compressible(f.contentType) && len(f.body) > 256 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(f.body)
		zw.Close()
		if buf.Len() < len(f.body) {
			f.gzipped = buf.Bytes()
		}
	}
}

func compressible(contentType string) bool {
	for _, p := range []string{"text/", "application/javascript", "application/json", "image/svg+xml"} {
		if strings.HasPrefix(contentType, p) {
			return true
		}
	}
	return false
}

// reference matches the value of a src or href attribute.
var reference = regexp.MustCompile(`(?:src|href)="([^"?#:]+)"`)

// fingerprint rewrites a page's references to files of the site (relative to
// the page, or absolute under mount points that end in the same relative
// path) into "name?v=<hash>".
func (s *Site) fingerprint(page *file) []byte {
	dir := path.Dir(page.name)
	return reference.ReplaceAllFunc(page.body, func(m []byte) []byte {
		sub := reference.FindSubmatch(m)
		ref := string(sub[1])
		target := ref
		if !strings.HasPrefix(ref, "/") {
			target = path.Join(dir, ref)
		}
		target = strings.TrimPrefix(target, "/")
		f, ok := s.files[target]
		if !ok {
			// An absolute reference such as "/admin/app.js": find the file by
			// the longest suffix of its path.
			f = s.bySuffix(target)
		}
		if f == nil || f.html {
			return m
		}
		return bytes.Replace(m, sub[1], []byte(ref+"?v="+f.hash), 1)
	})
}

// bySuffix is the one file whose name is a trailing part of p, if any.
func (s *Site) bySuffix(p string) *file {
	var found *file
	for name, f := range s.files {
		if strings.HasSuffix(p, "/"+name) || p == name {
			if found != nil {
				return nil
			}
			found = f
		}
	}
	return found
}

// Names lists the site's files, sorted (for tests and page-weight reports).
func (s *Site) Names() []string {
	names := make([]string, 0, len(s.files))
	for n := range s.files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Hash is the fingerprint of the named file ("" when there is none).
func (s *Site) Hash(name string) string {
	if f, ok := s.files[name]; ok {
		return f.hash
	}
	return ""
}

// Has reports whether the site holds the named file.
func (s *Site) Has(name string) bool {
	_, ok := s.files[name]
	return ok
}

// ServeFile writes the named file of the site, or reports false (and writes
// nothing) when there is none. It answers GET and HEAD; conditional requests
// get 304; a client that accepts gzip gets the compressed bytes.
func (s *Site) ServeFile(w http.ResponseWriter, r *http.Request, name string) bool {
	f, ok := s.files[name]
	if !ok {
		return false
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("ETag", f.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Vary", "Accept-Encoding")
	switch {
	case f.html:
		h.Set("Cache-Control", revalidate)
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
	case r.URL.Query().Get("v") == f.hash:
		h.Set("Cache-Control", immutable)
	default:
		h.Set("Cache-Control", revalidate)
	}
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	body := f.body
	if f.gzipped != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		body = f.gzipped
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
	return true
}

// etagMatches reports whether an If-None-Match header names etag (or "*").
// Weak forms match too, as RFC 9110 §13.1.2 asks for If-None-Match.
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip (and does
// not refuse it with q=0).
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		params = strings.ReplaceAll(params, " ", "")
		return !(params == "q=0" || params == "q=0.0" || params == "q=0.00" || params == "q=0.000")
	}
	return false
}

// Handler serves the site's files under prefix ("/admin/" serves
// "index.html" at "/admin/" and "app.js" at "/admin/app.js"). Paths with no
// file get notFound (nil: a plain 404).
func (s *Site) Handler(prefix string, notFound http.Handler) http.Handler {
	if notFound == nil {
		notFound = http.NotFoundHandler()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			notFound.ServeHTTP(w, r)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, prefix)
		if name == "" || strings.HasSuffix(name, "/") {
			name += "index.html"
		}
		if !s.ServeFile(w, r, name) {
			notFound.ServeHTTP(w, r)
		}
	})
}
