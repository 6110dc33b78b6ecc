package httpapi_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/queue"
)

// TestNonJSONBodiesAre415: a form or text/plain post is a "simple" request
// that any web page can make its visitors' browsers send without a CORS
// preflight; only application/json (with at most a UTF-8 charset) is read.
func TestNonJSONBodiesAre415(t *testing.T) {
	w := newWatchedHarness(t)
	tok := w.activeToken("typer")
	routes := []struct {
		method, path string
		headers      []string
		body         string
	}{
		{"POST", "/api/tokens", nil, `{"user_id": "typer2"}`},
		{"POST", "/api/chargePay", nil, `{"user_id": "typer", "amount": 500}`},
		{"POST", "/api/reservation", bearer(tok), mustJSON(holdBody("typer", day(1), 1))},
		{"POST", "/api/payment", bearer(tok), mustJSON(payBody("typer", 1, 10000))},
		{"PATCH", "/admin/queue?concert_id=1", bearer(adminKey), `{"paused": true}`},
	}
	before := w.state(t)
	for _, rt := range routes {
		for _, ct := range []string{
			"", "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
			"application/json; charset=latin1", "application/json; boundary=x", "application/jsonp", "application/problem+json",
			"text/json", "application/json, text/plain", "*/*", ";",
		} {
			r := w.do(rt.method, rt.path, rt.body, append(append([]string{}, rt.headers...), "Content-Type", ct)...)
			if r.Code != http.StatusUnsupportedMediaType || r.code() != "unsupported_media_type" {
				t.Errorf("%s %s with Content-Type %q: %d %q, want 415 unsupported_media_type", rt.method, rt.path, ct, r.Code, r.code())
			}
			checkErrorBody(t, rt.path, r)
		}
	}
	if after := w.state(t); after != before {
		t.Errorf("refused content types changed the state: %s → %s", before, after)
	}

	// application/json in any case, with a UTF-8 charset, is read.
	for i, ct := range []string{"application/json", "Application/JSON", "application/json; charset=utf-8", "application/json;charset=UTF-8"} {
		r := w.do("POST", "/api/chargePay", `{"user_id": "typer", "amount": 500}`, "Content-Type", ct)
		if r.Code != 200 || r.num("pay") != int64(500*(i+1)) {
			t.Errorf("charge with Content-Type %q: %d %s", ct, r.Code, r.Body)
		}
	}
	// GET routes are not JSON routes: a body of any type is theirs to read.
	if r := w.do("GET", "/api/pay?user_id=typer", "x", "Content-Type", "text/plain"); r.Code != 200 {
		t.Errorf("GET with a text/plain body: %d %s", r.Code, r.Body)
	}
}

// TestCORS: only the origins of CORS_ORIGINS get Access-Control-Allow-*
// headers, on preflights and on answers; any other origin, and every origin
// when the list is empty, gets none. A page served by the gateway itself
// needs none and keeps working.
func TestCORS(t *testing.T) {
	const allowed, other = "https://tickets.example.com", "https://evil.example"
	preflight := func(h *harness, origin, method, path string) response {
		return h.do("OPTIONS", path, nil, "Origin", origin, "Access-Control-Request-Method", method,
			"Access-Control-Request-Headers", "authorization,content-type,idempotency-key")
	}
	acHeaders := func(r response) []string {
		var out []string
		for k := range r.Header() {
			if strings.HasPrefix(k, "Access-Control-Allow-") {
				out = append(out, k)
			}
		}
		return out
	}

	t.Run("AllowedOrigin", func(t *testing.T) {
		h := newHarness(t, func(c *config.Config) { c.CORSOrigins = []string{allowed} })
		for _, rt := range [][2]string{{"POST", "/api/tokens"}, {"GET", "/api/queue/position"}, {"POST", "/api/payment"}, {"PATCH", "/admin/queue"}} {
			r := preflight(h, allowed, rt[0], rt[1])
			hd := r.Header()
			if r.Code != http.StatusNoContent || hd.Get("Access-Control-Allow-Origin") != allowed ||
				!strings.Contains(hd.Get("Access-Control-Allow-Methods"), rt[0]) || hd.Get("Access-Control-Max-Age") == "" {
				t.Errorf("preflight %s %s: %d %v", rt[0], rt[1], r.Code, hd)
			}
			for _, want := range []string{"Authorization", "Content-Type", "Idempotency-Key"} {
				if !strings.Contains(hd.Get("Access-Control-Allow-Headers"), want) {
					t.Errorf("preflight %s %s: Access-Control-Allow-Headers %q lacks %s", rt[0], rt[1], hd.Get("Access-Control-Allow-Headers"), want)
				}
			}
			if !slices.Contains(hd.Values("Vary"), "Origin") {
				t.Errorf("preflight %s %s: Vary %q lacks Origin", rt[0], rt[1], hd.Values("Vary"))
			}
		}
		// A method the route does not take is not allowed.
		if r := preflight(h, allowed, "DELETE", "/api/tokens"); len(acHeaders(r)) != 0 {
			t.Errorf("preflight of DELETE /api/tokens: %v", r.Header())
		}
		r := h.do("POST", "/api/tokens", map[string]any{"user_id": "embedded"}, "Origin", allowed)
		if r.Code != 201 || r.Header().Get("Access-Control-Allow-Origin") != allowed ||
			!strings.Contains(r.Header().Get("Access-Control-Expose-Headers"), "Retry-After") ||
			!slices.Contains(r.Header().Values("Vary"), "Origin") {
			t.Errorf("enter from the allowed origin: %d %v", r.Code, r.Header())
		}
		// Errors carry it too, so the page can read them.
		if r := h.do("GET", "/api/queue/position", nil, "Origin", allowed); r.Code != 401 || r.Header().Get("Access-Control-Allow-Origin") != allowed {
			t.Errorf("error to the allowed origin: %d %v", r.Code, r.Header())
		}
		// Another origin gets nothing, preflight or not.
		if r := preflight(h, other, "POST", "/api/tokens"); r.Code != http.StatusNoContent || len(acHeaders(r)) != 0 {
			t.Errorf("preflight from %s: %d %v", other, r.Code, r.Header())
		}
		if r := h.do("POST", "/api/tokens", map[string]any{"user_id": "elsewhere"}, "Origin", other); len(acHeaders(r)) != 0 {
			t.Errorf("answer to %s: %v", other, r.Header())
		}
		// Origins match exactly: no prefix, suffix or case games.
		for _, o := range []string{allowed + ".evil.example", "http://tickets.example.com", allowed + ":8443", "null", "https://TICKETS.example.com.evil"} {
			if r := preflight(h, o, "POST", "/api/tokens"); len(acHeaders(r)) != 0 {
				t.Errorf("preflight from %s: %v", o, r.Header())
			}
		}
	})

	t.Run("NoOriginsByDefault", func(t *testing.T) {
		h := newHarness(t, nil)
		for _, o := range []string{allowed, other} {
			r := preflight(h, o, "POST", "/api/tokens")
			if r.Code != http.StatusNoContent || len(acHeaders(r)) != 0 || !strings.Contains(r.Header().Get("Allow"), "POST") {
				t.Errorf("preflight from %s without CORS_ORIGINS: %d %v", o, r.Code, r.Header())
			}
		}
		// The gateway's own pages: a same-origin fetch carries Origin too,
		// and needs no CORS header to work.
		self := "http://rushgate.test"
		r := h.do("POST", "/api/tokens", map[string]any{"user_id": "fan"}, "Origin", self, "Host", "rushgate.test")
		if r.Code != 201 || len(acHeaders(r)) != 0 {
			t.Errorf("same-origin enter: %d %v %s", r.Code, r.Header(), r.Body)
		}
		if r := h.do("OPTIONS", "/api/nothing", nil, "Origin", allowed, "Access-Control-Request-Method", "GET"); r.Code != 404 {
			t.Errorf("preflight of an unknown route: %d, want 404", r.Code)
		}
	})
}

// TestAnswersAreNotCachedNorSniffed: tokens, positions, balances, charges,
// payments and admin answers carry Cache-Control: no-store (errors too);
// every answer carries X-Content-Type-Options: nosniff.
func TestAnswersAreNotCachedNorSniffed(t *testing.T) {
	h := newHarness(t, nil)
	tok, rid := h.paymentSetup("cached", 10000)
	for _, c := range []struct {
		name string
		r    response
	}{
		{"token", h.do("POST", "/api/tokens", map[string]any{"user_id": "cached2"})},
		{"position", h.do("GET", "/api/queue/position", nil, bearer(tok)...)},
		{"dates", h.do("GET", "/api/reservationData/available", nil, bearer(tok)...)},
		{"balance", h.do("GET", "/api/pay?user_id=cached", nil)},
		{"charge", h.do("POST", "/api/chargePay", map[string]any{"user_id": "cached", "amount": 1})},
		{"payment", h.do("POST", "/api/payment", payBody("cached", rid, 10000), bearer(tok)...)},
		{"admin", h.admin("GET", "/admin/queue", nil)},
		{"admin patch", h.admin("PATCH", "/admin/queue", map[string]any{"paused": false})},
		{"error", h.do("GET", "/api/pay?user_id=nobody", nil)},
	} {
		if c.r.Code >= 500 {
			t.Fatalf("%s: %d %s", c.name, c.r.Code, c.r.Body)
		}
		if got := c.r.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s (%d): Cache-Control %q, want no-store", c.name, c.r.Code, got)
		}
		if got := c.r.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q, want nosniff", c.name, got)
		}
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/nothing"} {
		if got := h.do("GET", p, nil).Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options %q, want nosniff", p, got)
		}
	}
}

// TestHealthChecksAnswerHEAD: load balancers probe with HEAD. Served over a
// real connection, so the body the server would drop is really dropped.
func TestHealthChecksAnswerHEAD(t *testing.T) {
	h := newHarness(t, nil)
	srv := httptest.NewServer(h.gw.Handler)
	defer srv.Close()
	for _, p := range []string{"/healthz", "/readyz"} {
		get, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		get.Body.Close()
		resp, err := http.Head(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != get.StatusCode || resp.StatusCode != 200 || len(body) != 0 ||
			resp.Header.Get("Content-Type") != get.Header.Get("Content-Type") {
			t.Errorf("HEAD %s: %d %q %q; GET: %d %q", p, resp.StatusCode, resp.Header.Get("Content-Type"), body, get.StatusCode, get.Header.Get("Content-Type"))
		}
	}
}

// TestWrongMethodIs405WithAllow: a known route asked with a method it does
// not take is 405 with the route's methods in Allow, and the contract's
// error body; an unknown route stays 404.
func TestWrongMethodIs405WithAllow(t *testing.T) {
	h := newHarness(t, nil)
	for _, c := range []struct {
		method, path string
		allow        []string
	}{
		{"GET", "/api/tokens", []string{"POST"}},
		{"PUT", "/api/tokens", []string{"POST"}},
		{"DELETE", "/api/queue/position", []string{"GET"}},
		{"POST", "/api/pay", []string{"GET"}},
		{"GET", "/api/chargePay", []string{"POST"}},
		{"GET", "/api/payment", []string{"POST"}},
		{"DELETE", "/admin/queue", []string{"GET", "PATCH"}},
		{"POST", "/healthz", []string{"GET", "HEAD"}},
		{"PATCH", "/api/reservation", []string{"POST"}},
	} {
		r := h.do(c.method, c.path, `{}`, bearer(adminKey)...)
		allow := r.Header().Get("Allow")
		if r.Code != http.StatusMethodNotAllowed || r.code() != "method_not_allowed" {
			t.Errorf("%s %s: %d %q, want 405 method_not_allowed", c.method, c.path, r.Code, r.code())
		}
		for _, m := range c.allow {
			if !strings.Contains(allow, m) {
				t.Errorf("%s %s: Allow %q lacks %s", c.method, c.path, allow, m)
			}
		}
		if strings.Contains(allow, c.method) {
			t.Errorf("%s %s: Allow %q lists the refused method", c.method, c.path, allow)
		}
		checkErrorBody(t, c.method+" "+c.path, r)
	}
	if r := h.do("PUT", "/api/nothing", `{}`); r.Code != 404 || r.code() != "not_found" {
		t.Errorf("PUT of an unknown route: %d %q, want 404 not_found", r.Code, r.code())
	}
}

// TestEnterRateBelowOnePerSecondStillAdmitsAClient: a bucket capped at a
// rate below one never held a whole token, answering 429 to everyone.
func TestEnterRateBelowOnePerSecondStillAdmitsAClient(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.EnterRatePerIP = 0.5 })
	if r := h.from("203.0.113.70:1", "slow-1"); r.Code != 201 {
		t.Fatalf("first entry at 0.5/s: %d %s", r.Code, r.Body)
	}
	r := h.from("203.0.113.70:1", "slow-2")
	checkRateLimited(t, r)
	if r := h.from("203.0.113.71:1", "another-client"); r.Code != 201 {
		t.Errorf("another client at 0.5/s: %d %s", r.Code, r.Body)
	}
}

// TestAPoisonedRateHealsOnTheNextValidChange: a NaN rate and bucket stored
// in Redis (as a NaN ADMIT_PER_SECOND once left them) stop admission, and
// one valid PATCH starts it again. PATCH itself refuses non-finite numbers.
func TestAPoisonedRateHealsOnTheNextValidChange(t *testing.T) {
	h := newHarness(t, nil)
	tok := h.enter("stuck")
	if _, err := h.gw.Queue.Admit(h.ctx, 1); err != nil {
		t.Fatal(err)
	}
	k := h.gw.Keys.Concert(1).Queue()
	if err := h.rdb.HSet(h.ctx, k, "admit_per_second", "nan", "tokens", "nan").Err(); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"NaN", "Infinity", "-Infinity", "1e309", `"NaN"`} {
		if r := h.admin("PATCH", "/admin/queue?concert_id=1", `{"admit_per_second": `+v+`}`); r.Code != 400 || r.code() != "invalid_request" ||
			!strings.Contains(r.body["error"].(map[string]any)["message"].(string), "admit_per_second") {
			t.Errorf("PATCH admit_per_second %s: %d %s", v, r.Code, r.Body)
		}
	}
	if r := h.admin("PATCH", "/admin/queue?concert_id=1", map[string]any{"admit_per_second": 100}); r.Code != 200 || r.num("admit_per_second") != 100 {
		t.Fatalf("valid PATCH: %d %s", r.Code, r.Body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := h.gw.Queue.Admit(h.ctx, 1); err != nil {
			t.Fatal(err)
		}
		if p := h.do("GET", "/api/queue/position", nil, bearer(tok)...); p.str("status") == queue.StatusActive {
			break
		}
		if time.Now().After(deadline) {
			raw, _ := h.rdb.HGetAll(h.ctx, k).Result()
			t.Fatalf("never admitted after a valid PATCH; queue hash %v", raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if b, _ := h.rdb.HGet(h.ctx, k, "tokens").Result(); strings.Contains(strings.ToLower(b), "nan") || strings.Contains(strings.ToLower(b), "inf") {
		t.Errorf("bucket stored as %q", b)
	}
}

// TestARefusedPaymentDoesNotCreateTheUser: the first charge creates a user;
// a 402 only writes its FAILED PayHistory row.
func TestARefusedPaymentDoesNotCreateTheUser(t *testing.T) {
	h := newHarness(t, nil)
	tok, rid := h.paymentSetup("broke", 0)
	if r := h.do("POST", "/api/payment", payBody("broke", rid, 10000), bearer(tok)...); r.Code != 402 || r.code() != "insufficient_balance" {
		t.Fatalf("pay without a balance: %d %s", r.Code, r.Body)
	}
	if r := h.do("GET", "/api/pay?user_id=broke", nil); r.Code != 404 || r.code() != "user_not_found" {
		t.Errorf("balance after a refused payment: %d %s, want 404 user_not_found", r.Code, r.Body)
	}
	var failed int
	if err := h.db.Get(&failed, `SELECT count(*) FROM pay_history WHERE user_id = 'broke' AND reservation_id = $1 AND payment_status = 'FAILED'`, rid); err != nil || failed != 1 {
		t.Errorf("FAILED rows = %d, %v; want 1", failed, err)
	}
	// The first charge creates the user, and the hold can then be paid.
	if r := h.do("POST", "/api/chargePay", map[string]any{"user_id": "broke", "amount": 10000}); r.Code != 200 || r.num("pay") != 10000 {
		t.Fatalf("charge: %d %s", r.Code, r.Body)
	}
	if r := h.do("POST", "/api/payment", payBody("broke", rid, 10000), bearer(tok)...); r.Code != 201 || r.num("balance") != 0 {
		t.Errorf("pay after the charge: %d %s", r.Code, r.Body)
	}
}

// TestAnotherConcertsSaleIsNotFound: a token of another concert asking to
// pay concert 1's paid reservation learns nothing of it.
func TestAnotherConcertsSaleIsNotFound(t *testing.T) {
	h := newHarness(t, nil)
	tok, rid := h.paymentSetup("fan", 10000)
	if r := h.do("POST", "/api/payment", payBody("fan", rid, 10000), bearer(tok)...); r.Code != 201 {
		t.Fatalf("pay: %d %s", r.Code, r.Body)
	}
	created := h.admin("POST", "/admin/concerts", map[string]any{
		"name": "Another concert", "dates": []string{day(1)}, "seats": []any{map[string]any{"from": 1, "to": 5, "price": 10000}},
	})
	if created.Code != http.StatusCreated {
		t.Fatalf("create a second concert: %d %s", created.Code, created.Body)
	}
	other := created.num("concert_id")
	r := h.do("POST", "/api/tokens", map[string]any{"user_id": "fan", "concert_id": other})
	if r.Code != 201 {
		t.Fatalf("enter concert %d: %d %s", other, r.Code, r.Body)
	}
	tok2 := r.str("token")
	rate := 1e6
	if _, err := h.gw.Queue.UpdateSettings(h.ctx, other, queue.SettingsPatch{AdmitPerSecond: &rate}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.do("GET", "/api/queue/position", nil, bearer(tok2)...).str("status") != queue.StatusActive {
		if time.Now().After(deadline) {
			t.Fatalf("never admitted to concert %d", other)
		}
		if _, err := h.gw.Queue.Admit(h.ctx, other); err != nil {
			t.Fatal(err)
		}
	}
	r = h.do("POST", "/api/payment", payBody("fan", rid, 10000), bearer(tok2)...)
	if r.Code != 404 || r.code() != "reservation_not_found" {
		t.Errorf("concert 2's token paying concert 1's sale: %d %s, want 404 reservation_not_found", r.Code, r.Body)
	}
	// Within its own concert the buyer still hears it is paid.
	if r := h.do("POST", "/api/tokens", map[string]any{"user_id": "fan"}); r.Code != 201 {
		t.Fatalf("enter concert 1 again: %d %s", r.Code, r.Body)
	} else {
		tok1 := r.str("token")
		h.admitAll()
		if r := h.do("POST", "/api/payment", payBody("fan", rid, 10000), bearer(tok1)...); r.Code != 409 || r.code() != "already_paid" {
			t.Errorf("concert 1's token paying its paid reservation again: %d %s, want 409 already_paid", r.Code, r.Body)
		}
	}
}

// TestUserIDsAreCaseSensitive: Alice and alice are two accounts, as the
// ticketing site that issues the ids may have both (see docs/api.md).
func TestUserIDsAreCaseSensitive(t *testing.T) {
	h := newHarness(t, nil)
	if r := h.do("POST", "/api/chargePay", map[string]any{"user_id": "Alice", "amount": 700}); r.Code != 200 {
		t.Fatalf("charge Alice: %d %s", r.Code, r.Body)
	}
	if r := h.do("GET", "/api/pay?user_id=alice", nil); r.Code != 404 {
		t.Errorf("alice after charging Alice: %d %s, want 404", r.Code, r.Body)
	}
	upper, lower := h.enter("Bob"), h.enter("bob")
	if upper == lower {
		t.Error("Bob and bob got one token")
	}
	for _, tok := range []string{upper, lower} {
		if r := h.do("GET", "/api/queue/position", nil, bearer(tok)...); r.Code != 200 {
			t.Errorf("poll: %d %s", r.Code, r.Body)
		}
	}
	if s, err := h.gw.Queue.Status(h.ctx, 1); err != nil || s.Waiting != 2 {
		t.Errorf("waiting = %d, %v; want 2 (two places for two accounts)", s.Waiting, err)
	}
}
