package httpapi

import (
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

// This file is what the gateway does about browsers: what another site's
// page may make a visitor's browser do (nothing, unless CORS_ORIGINS names
// it), and the headers that keep answers out of caches and sniffers.

// corsHeaders are the request headers a page on an allowed origin may send:
// the token or admin key, the JSON body's type, and a payment's retry key.
const corsHeaders = "Authorization, Content-Type, Idempotency-Key"

// corsMaxAge is how long, in seconds, a browser may reuse a preflight answer.
const corsMaxAge = "600"

// headers sets what every answer carries. nosniff keeps a browser from
// reading a JSON answer as a script or page; no-store keeps tokens, balances
// and payments out of every cache (shared proxies and the browser's own),
// on errors too. The gateway's own pages set their own Cache-Control.
var nosniff, noStore = []string{"nosniff"}, []string{"no-store"}

func (s *server) headers(c *gin.Context) {
	h := c.Writer.Header()
	// Assigned, not Set: the names are canonical already and the values
	// shared, which spares every answer two allocations. Sharing is safe: an
	// Add appends to a full slice, which copies it.
	h["X-Content-Type-Options"] = nosniff
	if p := c.Request.URL.Path; strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/admin/") {
		h["Cache-Control"] = noStore
	}
	if len(s.CORSOrigins) > 0 {
		// Whether the answer carries Access-Control-Allow-Origin depends on
		// the Origin asked from: a cache must keep one copy per origin.
		h.Add("Vary", "Origin")
		if o := c.GetHeader("Origin"); o != "" && slices.Contains(s.CORSOrigins, o) {
			h.Set("Access-Control-Allow-Origin", o)
			// 429 and 503 tell the client when to come back.
			h.Set("Access-Control-Expose-Headers", "Retry-After")
		}
	}
	c.Next()
}

// requireJSON answers 415 to a request that sends a body of any type but
// JSON. Without it, any web page could make its visitors' browsers post to
// the gateway: a form or text/plain post is a "simple" request that needs no
// CORS preflight, so a site could spread token requests over its visitors'
// addresses. application/json is not simple, so a browser asks first (see
// preflight) and another site's page gets no further. Only the methods that
// carry a body are checked; a request without a body and without a
// Content-Type passes, and the handler answers its missing body. Unknown
// routes and methods pass on to their 404 and 405.
func (s *server) requireJSON(c *gin.Context) {
	switch c.Request.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		c.Next()
		return
	}
	if c.FullPath() == "" {
		c.Next()
		return
	}
	ct := c.GetHeader("Content-Type")
	if ct == "" && c.Request.ContentLength == 0 {
		c.Next()
		return
	}
	if !isJSON(ct) {
		s.writeError(c, errUnsupportedMediaType)
		return
	}
	c.Next()
}

// isJSON reports whether a Content-Type is application/json, with at most a
// charset parameter naming UTF-8 (the contract's only encoding).
func isJSON(contentType string) bool {
	// What nearly every client sends, answered without parsing: the parse
	// allocates a map of the parameters on every token issue and hold.
	if contentType == "application/json" {
		return true
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/json" {
		return false
	}
	for k, v := range params {
		if k != "charset" || (!strings.EqualFold(v, "utf-8") && !strings.EqualFold(v, "utf8")) {
			return false
		}
	}
	return true
}

// addOptions gives every route of e an OPTIONS answer: its Allow header, and
// for a CORS preflight from an allowed origin the Access-Control-Allow-*
// headers. A preflight from any other origin gets no Access-Control-Allow-*
// header, so the browser does not send the request it asked about. Call it
// once, after every route is listed.
func (s *server) addOptions(e *gin.Engine) {
	methods := map[string][]string{}
	var paths []string
	for _, r := range e.Routes() {
		if methods[r.Path] == nil {
			paths = append(paths, r.Path)
		}
		methods[r.Path] = append(methods[r.Path], r.Method)
	}
	for _, p := range paths {
		if slices.Contains(methods[p], http.MethodOptions) {
			continue
		}
		allow := strings.Join(append(methods[p], http.MethodOptions), ", ")
		e.OPTIONS(p, func(c *gin.Context) { s.preflight(c, allow) })
	}
}

func (s *server) preflight(c *gin.Context, allow string) {
	h := c.Writer.Header()
	h.Set("Allow", allow)
	want := c.GetHeader("Access-Control-Request-Method")
	if want != "" && len(s.CORSOrigins) > 0 {
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
		if h.Get("Access-Control-Allow-Origin") != "" && slices.Contains(strings.Split(allow, ", "), want) {
			h.Set("Access-Control-Allow-Methods", allow)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
		} else {
			h.Del("Access-Control-Allow-Origin")
			h.Del("Access-Control-Expose-Headers")
		}
	}
	c.AbortWithStatus(http.StatusNoContent)
}
