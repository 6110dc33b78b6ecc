// Package fan is the fan's side of the gateway in a browser: the list of
// concerts on sale (GET /) and the waiting page (GET /wait/{concert_id}),
// which enters the line, shows the place, and continues to picking a seat and
// paying once admitted. The pages are plain HTML, ES modules and CSS embedded
// in the binary; they call the public API like any other client.
//
// The page's language is chosen here from Accept-Language (Korean or
// English) and written into <html lang>; the page can switch it.
package fan

import (
	"bytes"
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/rushgate/rushgate/web"
)

//go:embed *.html *.js *.css
var files embed.FS

// AssetPrefix is where the pages' scripts and styles are served.
const AssetPrefix = "/fan/"

// Pages serves the fan pages.
type Pages struct {
	en, ko *web.Site
}

// New prepares the pages (read, fingerprinted and compressed once).
func New() (*Pages, error) {
	en, err := web.NewSite(files)
	if err != nil {
		return nil, err
	}
	ko, err := web.NewSite(korean{files})
	if err != nil {
		return nil, err
	}
	return &Pages{en: en, ko: ko}, nil
}

// Home is GET /: the concerts on sale.
func (p *Pages) Home(w http.ResponseWriter, r *http.Request) { p.page(w, r, "index.html") }

// Wait is GET /wait/{concert_id}: the waiting page. It answers false (and
// writes nothing) when id is not a concert id, so the caller can answer 404.
func (p *Pages) Wait(w http.ResponseWriter, r *http.Request, id string) bool {
	if n, err := strconv.ParseInt(id, 10, 64); err != nil || n <= 0 || id[0] == '0' {
		return false
	}
	p.page(w, r, "wait.html")
	return true
}

// Asset serves a script or style sheet of the pages by its name under
// AssetPrefix; false when there is none.
func (p *Pages) Asset(w http.ResponseWriter, r *http.Request, name string) bool {
	if path.Ext(name) == ".html" {
		return false
	}
	return p.en.ServeFile(w, r, name)
}

// Site is the English site, for page-weight reports and tests.
func (p *Pages) Site() *web.Site { return p.en }

func (p *Pages) page(w http.ResponseWriter, r *http.Request, name string) {
	site := p.en
	if Language(r.Header.Get("Accept-Language")) == "ko" {
		site = p.ko
	}
	site.ServeFile(varyLanguage{w}, r, name)
}

// Language is the page language an Accept-Language header asks for: "ko"
// when Korean is preferred over English, else "en".
func Language(header string) string {
	best, bestQ := "en", -1.0
	for i, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if primary != "ko" && primary != "en" {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		// Ties go to the first named, as the header lists preference order.
		q -= float64(i) * 1e-6
		if q > 0 && q > bestQ {
			best, bestQ = primary, q
		}
	}
	return best
}

// varyLanguage adds Accept-Language to the Vary header of a page, which
// differs by it, so a shared cache never hands a Korean page to an English
// reader.
type varyLanguage struct{ http.ResponseWriter }

func (v varyLanguage) WriteHeader(code int) {
	h := v.Header()
	if vary := h.Get("Vary"); vary != "" {
		h.Set("Vary", vary+", Accept-Language")
	} else {
		h.Set("Vary", "Accept-Language")
	}
	v.ResponseWriter.WriteHeader(code)
}

func (v varyLanguage) Write(b []byte) (int, error) { return v.ResponseWriter.Write(b) }

// korean is the page files with <html lang="ko">.
type korean struct{ fs.FS }

func (k korean) ReadFile(name string) ([]byte, error) {
	b, err := fs.ReadFile(k.FS, name)
	if err != nil || path.Ext(name) != ".html" {
		return b, err
	}
	return bytes.Replace(b, []byte(`<html lang="en">`), []byte(`<html lang="ko">`), 1), nil
}
