package fan_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/rushgate/rushgate/internal/gatewaytest"
	pages "github.com/rushgate/rushgate/web/fan"
)

func TestLanguageFollowsAcceptLanguage(t *testing.T) {
	for _, c := range []struct{ header, want string }{
		{"", "en"},
		{"ko", "ko"},
		{"ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", "ko"},
		{"en-US,en;q=0.9,ko;q=0.8", "en"},
		{"ja,ko;q=0.5", "ko"},
		{"fr, de", "en"},
		{"en;q=0.2, ko;q=0.3", "ko"},
		{"ko;q=0, en;q=0.1", "en"},
		{"KO-kr", "ko"},
		{"ko;q=abc", "ko"},
	} {
		if got := pages.Language(c.header); got != c.want {
			t.Errorf("Language(%q) = %q, want %q", c.header, got, c.want)
		}
	}
}

// fetch sends a GET through the gateway's whole handler.
func fetch(h http.Handler, target string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

var assetRef = regexp.MustCompile(`(?:src|href)="(/fan/[^"]+)"`)

func TestPagesAreServedLockedCachedAndSmall(t *testing.T) {
	h := gatewaytest.New(t, 1, 10, 10000, nil).Handler
	for _, page := range []string{"/", "/wait/1", "/wait/9223372036854775807"} {
		w := fetch(h, page, "Accept-Encoding", "gzip")
		if w.Code != 200 {
			t.Fatalf("GET %s: %d", page, w.Code)
		}
		hd := w.Header()
		if !strings.Contains(hd.Get("Content-Security-Policy"), "script-src 'self'") || hd.Get("Cache-Control") != "no-cache" ||
			!strings.Contains(hd.Get("Vary"), "Accept-Language") || hd.Get("ETag") == "" || hd.Get("Content-Encoding") != "gzip" {
			t.Errorf("GET %s headers: %v", page, hd)
		}
		// A revalidation of an unchanged page is a 304.
		if w2 := fetch(h, page, "If-None-Match", hd.Get("ETag"), "Accept-Encoding", "gzip"); w2.Code != 304 {
			t.Errorf("GET %s with its ETag: %d, want 304", page, w2.Code)
		}
	}
	for _, bad := range []string{"/wait/abc", "/wait/0", "/wait/-1", "/wait/01", "/wait/99999999999999999999", "/fan/wait.html", "/fan/nope.js", "/fan/"} {
		if w := fetch(h, bad); w.Code != 404 || !strings.Contains(w.Body.String(), `"not_found"`) {
			t.Errorf("GET %s: %d %s, want the contract's 404", bad, w.Code, w.Body)
		}
	}

	// Korean from Accept-Language, English otherwise: the same page in two
	// variants, each with its own ETag.
	en := fetch(h, "/wait/1", "Accept-Language", "en-US,en;q=0.9")
	ko := fetch(h, "/wait/1", "Accept-Language", "ko-KR,ko;q=0.9")
	if !strings.Contains(en.Body.String(), `<html lang="en">`) || !strings.Contains(ko.Body.String(), `<html lang="ko">`) {
		t.Error("html lang does not follow Accept-Language")
	}
	if en.Header().Get("ETag") == ko.Header().Get("ETag") {
		t.Error("the English and Korean pages share an ETag")
	}

	// Every asset the page names is fingerprinted and immutable, and the
	// whole first load (page and assets, gzipped) is under 60 KB.
	page := fetch(h, "/wait/1", "Accept-Encoding", "gzip")
	html := gunzip(t, page.Body.Bytes())
	total, requests := page.Body.Len(), 1
	seen := map[string]bool{}
	queue := []string{}
	for _, m := range assetRef.FindAllStringSubmatch(html, -1) {
		queue = append(queue, m[1])
	}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		if seen[u] {
			continue
		}
		seen[u] = true
		if !strings.Contains(u, "?v=") {
			t.Errorf("%s is not fingerprinted", u)
		}
		w := fetch(h, u, "Accept-Encoding", "gzip")
		if w.Code != 200 || w.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: %d, Cache-Control %q", u, w.Code, w.Header().Get("Cache-Control"))
		}
		total += w.Body.Len()
		requests++
		// A module's imports are fingerprinted too; follow them.
		body := w.Body.Bytes()
		if w.Header().Get("Content-Encoding") == "gzip" {
			body = []byte(gunzip(t, body))
		}
		for _, m := range regexp.MustCompile(`from '\./([^']+)'`).FindAllStringSubmatch(string(body), -1) {
			queue = append(queue, "/fan/"+m[1])
		}
	}
	t.Logf("GET /wait/1: %d bytes of page and assets gzipped, in %d requests (API calls aside)", total, requests)
	if total > 60*1024 {
		t.Errorf("first load is %d bytes gzipped; want under 60 KB", total)
	}
}

func gunzip(t *testing.T, b []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
