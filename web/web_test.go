package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rushgate/rushgate/web"
)

var pages = fstest.MapFS{
	"index.html": {Data: []byte(`<!doctype html><link rel="stylesheet" href="app.css">` +
		`<script type="module" src="app.js"></script><a href="https://example.com/x.js">x</a>` +
		`<img src="/admin/logo.svg">` + strings.Repeat("<p>filler</p>", 50))},
	"app.js":   {Data: []byte("export const x = 1;\n" + strings.Repeat("console.log('compress me');\n", 40))},
	"app.css":  {Data: []byte("body{margin:0}")},
	"logo.svg": {Data: []byte("<svg xmlns='http://www.w3.org/2000/svg'></svg>")},
}

func site(t *testing.T) *web.Site {
	t.Helper()
	s, err := web.NewSite(pages)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func get(t *testing.T, h http.Handler, target string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestPageIsFingerprintedAndLocked(t *testing.T) {
	s := site(t)
	w := get(t, s.Handler("/admin/", nil), "/admin/", nil)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	body := w.Body.String()
	for _, want := range []string{
		`src="app.js?v=` + s.Hash("app.js") + `"`,
		`href="app.css?v=` + s.Hash("app.css") + `"`,
		`src="/admin/logo.svg?v=` + s.Hash("logo.svg") + `"`,
		`href="https://example.com/x.js"`, // other origins are left alone
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s:\n%s", want, body[:200])
		}
	}
	if got, want := w.Header().Get("Cache-Control"), "no-cache"; got != want {
		t.Errorf("Cache-Control = %q, want %q", got, want)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP = %q", csp)
	}
	if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("nosniff missing: %q", got)
	}
}

func TestFingerprintedAssetIsImmutableOthersRevalidate(t *testing.T) {
	s := site(t)
	h := s.Handler("/", nil)
	if got := get(t, h, "/app.js?v="+s.Hash("app.js"), nil).Header().Get("Cache-Control"); !strings.Contains(got, "immutable") {
		t.Errorf("current hash: Cache-Control = %q", got)
	}
	for _, target := range []string{"/app.js", "/app.js?v=stale"} {
		if got := get(t, h, target, nil).Header().Get("Cache-Control"); got != "no-cache" {
			t.Errorf("%s: Cache-Control = %q, want no-cache", target, got)
		}
	}
	if ct := get(t, h, "/app.js", nil).Header().Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestConditionalGetIs304(t *testing.T) {
	h := site(t).Handler("/", nil)
	first := get(t, h, "/app.css", nil)
	etag := first.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		if w := get(t, h, "/app.css", map[string]string{"If-None-Match": inm}); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
			t.Errorf("If-None-Match %s: %d with %d bytes", inm, w.Code, w.Body.Len())
		}
	}
	if w := get(t, h, "/app.css", map[string]string{"If-None-Match": `"other"`}); w.Code != http.StatusOK {
		t.Errorf("stale ETag: %d", w.Code)
	}
}

func TestGzipWhenAcceptedAndSmaller(t *testing.T) {
	h := site(t).Handler("/", nil)
	w := get(t, h, "/app.js", map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
	if w.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("not gzipped: %v", w.Header())
	}
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if !bytes.Equal(plain, pages["app.js"].Data) {
		t.Error("gzipped body does not inflate to the file")
	}
	for _, ae := range []string{"", "identity", "gzip;q=0"} {
		if w := get(t, h, "/app.js", map[string]string{"Accept-Encoding": ae}); w.Header().Get("Content-Encoding") != "" || !bytes.Equal(w.Body.Bytes(), pages["app.js"].Data) {
			t.Errorf("Accept-Encoding %q: got encoding %q", ae, w.Header().Get("Content-Encoding"))
		}
	}
	// A tiny file is not worth compressing.
	if w := get(t, h, "/app.css", map[string]string{"Accept-Encoding": "gzip"}); w.Header().Get("Content-Encoding") != "" {
		t.Error("tiny file gzipped")
	}
}

func TestUnknownPathAndMethodFallThrough(t *testing.T) {
	called := 0
	h := site(t).Handler("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called++
		w.WriteHeader(http.StatusTeapot)
	}))
	if w := get(t, h, "/nope.js", nil); w.Code != http.StatusTeapot {
		t.Errorf("unknown file: %d", w.Code)
	}
	r := httptest.NewRequest(http.MethodPost, "/app.js", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusTeapot || called != 2 {
		t.Errorf("POST: %d, fallback called %d times", w.Code, called)
	}
	head := httptest.NewRequest(http.MethodHead, "/app.js", nil)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, head)
	if w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD: %d, %d bytes, length %q", w.Code, w.Body.Len(), w.Header().Get("Content-Length"))
	}
}

func TestModuleImportsAreFingerprinted(t *testing.T) {
	if _, err := web.NewSite(fstest.MapFS{
		"loop/x.js": {Data: []byte("import './y.js';\n")},
		"loop/y.js": {Data: []byte("import './x.js';\n")},
	}); err == nil {
		t.Fatal("an import cycle was accepted")
	}
	s, err := web.NewSite(fstest.MapFS{
		"page.html": {Data: []byte(`<script type="module" src="main.js"></script>`)},
		"main.js":   {Data: []byte("import { a } from './lib/a.js';\nimport \"./lib/b.js\";\nconst c = await import('./lib/a.js');\nimport x from 'https://cdn.example/x.js';\n")},
		"lib/a.js":  {Data: []byte("import { b } from './b.js';\nexport const a = b;\n")},
		"lib/b.js":  {Data: []byte("export const b = 1;\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler("/", nil)
	main := get(t, h, "/main.js", nil).Body.String()
	a := get(t, h, "/lib/a.js", nil).Body.String()
	for _, want := range []string{
		`from './lib/a.js?v=` + s.Hash("lib/a.js") + `'`,
		`import "./lib/b.js?v=` + s.Hash("lib/b.js") + `"`,
		`import('./lib/a.js?v=` + s.Hash("lib/a.js") + `')`,
		`from 'https://cdn.example/x.js'`, // other origins are left alone
	} {
		if !strings.Contains(main, want) {
			t.Errorf("main.js lacks %s:\n%s", want, main)
		}
	}
	if want := `from './b.js?v=` + s.Hash("lib/b.js") + `'`; !strings.Contains(a, want) {
		t.Errorf("lib/a.js lacks %s:\n%s", want, a)
	}
	// The page names main.js by the hash of its rewritten body, which
	// changes when a module it imports changes.
	page := get(t, h, "/page.html", nil).Body.String()
	if !strings.Contains(page, `main.js?v=`+s.Hash("main.js")) {
		t.Errorf("page does not name main.js's hash: %s", page)
	}
	changed, err := web.NewSite(fstest.MapFS{
		"main.js":  {Data: []byte("import { a } from './lib/a.js';\nimport \"./lib/b.js\";\nconst c = await import('./lib/a.js');\nimport x from 'https://cdn.example/x.js';\n")},
		"lib/a.js": {Data: []byte("import { b } from './b.js';\nexport const a = b;\n")},
		"lib/b.js": {Data: []byte("export const b = 2;\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if changed.Hash("main.js") == s.Hash("main.js") {
		t.Error("main.js kept its hash when a module two imports away changed")
	}
}
