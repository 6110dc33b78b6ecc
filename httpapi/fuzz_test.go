package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// fuzzRoutes are the routes that read a body or a query, with the
// credentials that let a request reach its decoding.
var fuzzRoutes = []struct {
	method, path string
	auth         string // "token", "admin" or ""
}{
	{"POST", "/api/tokens", ""},
	{"GET", "/api/queue/position", "token"},
	{"GET", "/api/reservationData/available", "token"},
	{"GET", "/api/reservationSeat/available", "token"},
	{"POST", "/api/reservation", "token"},
	{"GET", "/api/pay", ""},
	{"POST", "/api/chargePay", ""},
	{"POST", "/api/payment", "token"},
	{"GET", "/admin/queue", "admin"},
	{"PATCH", "/admin/queue", "admin"},
}

// FuzzRequest feeds arbitrary bodies and query strings to every route
// through the real router: whatever comes in, the answer is never a 5xx,
// and every error is the contract's JSON body with nothing internal in it.
// `make test` runs the seed corpus; `go test -fuzz FuzzRequest ./httpapi`
// searches further.
func FuzzRequest(f *testing.F) {
	h := newHarness(f, nil)
	const user = "fuzzer"
	tok := h.activeToken(user)
	date := day(1)
	seeds := []struct {
		route uint8
		query string
		body  string
	}{
		{0, "", `{"user_id": "fuzzer", "concert_id": 1}`},
		{0, "", `{"user_id": "x'; DROP TABLE users;--"}`},
		{0, "", `{"user_id": "{c:1}", "concert_id": 1e400}`},
		{0, "", `{"user_id": "a\u0000b"}`},
		{0, "", `{"user_id": "ユーザー", "concert_id": -0}`},
		{1, "", ``},
		{2, "", `{}`},
		{3, "reservation_date=" + date, ``},
		{3, "", `{"reservation_date": "` + date + `"}`},
		{3, "reservation_date=2024-02-30", `[`},
		{4, "", `{"user_id": "fuzzer", "reservation_date": "` + date + `", "reservation_seat": 3}`},
		{4, "", `{"user_id": "fuzzer", "reservation_date": "` + date + `", "reservation_seat": 99999999999999999999}`},
		{5, "user_id=fuzzer", ``},
		{5, "user_id=%00", ``},
		{5, "", `{"user_id": "fuzzer"}`},
		{6, "", `{"user_id": "fuzzer", "amount": 100000000}`},
		{6, "", `{"user_id": "fuzzer", "amount": 1.0}`},
		{6, "", `{"user_id": "fuzzer", "amount": "5000"}`},
		{7, "", `{"user_id": "fuzzer", "reservation_id": 1, "amount": 10000}`},
		{7, "", `{"user_id": "fuzzer", "reservation_id": 9007199254740993, "amount": 10000}`},
		{8, "concert_id=1", ``},
		{8, "concert_id=1;DROP", ``},
		{9, "concert_id=1", `{"admit_per_second": 1e308, "paused": "no"}`},
		{9, "concert_id=1", `{"max_active": 1000, "active_ttl_seconds": 600}`},
		{9, "", `{"admit_per_second": NaN}`},
		{6, "", `{"user_id": "fuzzer", "amount": 5000, "user_id": "other"}`},
		{6, "", "\xef\xbb\xbf{\"user_id\": \"fuzzer\", \"amount\": 1}"},
		{4, "", strings.Repeat("[", 10000)},
		{6, "", `{"user_id": "` + strings.Repeat("a", 70<<10) + `"}`},
	}
	for _, s := range seeds {
		f.Add(s.route, s.query, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, route uint8, query string, body []byte) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		path := rt.path
		if query != "" {
			path += "?" + query
		}
		if _, err := url.ParseRequestURI(path); err != nil || strings.ContainsAny(path, " #") {
			return // no request line a client could send
		}
		req := httptest.NewRequest(rt.method, "http://rushgate"+path, strings.NewReader(string(body)))
		req.RemoteAddr = "192.0.2.1:1234"
		req.Header.Set("Content-Type", "application/json")
		switch rt.auth {
		case "token":
			req.Header.Set("Authorization", "Bearer "+tok)
		case "admin":
			req.Header.Set("Authorization", "Bearer "+adminKey)
		}
		rec := httptest.NewRecorder()
		h.gw.Handler.ServeHTTP(rec, req)
		checkFuzzAnswer(t, rt.method+" "+path, rec)
	})
}

// FuzzBearer feeds arbitrary Authorization headers to the token routes and
// the admin routes: never a 5xx, never anything but a refusal for what is not
// a token this gateway signed or the admin key.
func FuzzBearer(f *testing.F) {
	h := newHarness(f, nil)
	tok := h.activeToken("bearer-fuzzer")
	for _, s := range []string{
		"Bearer " + tok, "bearer " + tok, "Bearer  " + tok + " ", "Bearer " + tok[:len(tok)-2],
		"Bearer " + adminKey, "Bearer " + adminKey[:4], "Basic YWRtaW46YWRtaW4=", "", "Bearer", "Bearer .", "Bearer a.b.c",
		"Bearer " + strings.Repeat("A", 100000), "Bearer AQcBAQE.", "Bearer \x00",
	} {
		f.Add(uint8(0), s)
		f.Add(uint8(3), s)
	}
	routes := []struct{ method, path string }{
		{"GET", "/api/queue/position"},
		{"GET", "/api/reservationData/available"},
		{"POST", "/api/payment"},
		{"GET", "/admin/queue"},
	}
	f.Fuzz(func(t *testing.T, route uint8, header string) {
		rt := routes[int(route)%len(routes)]
		req := httptest.NewRequest(rt.method, rt.path, strings.NewReader(`{"user_id": "bearer-fuzzer", "reservation_id": 1, "amount": 10000}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", header)
		rec := httptest.NewRecorder()
		h.gw.Handler.ServeHTTP(rec, req)
		checkFuzzAnswer(t, rt.method+" "+rt.path, rec)
		// Only the exact token or admin key gets past the check.
		credential := strings.TrimSpace(header)
		if len(credential) > 7 {
			credential = strings.TrimSpace(credential[7:])
		}
		if rec.Code < 400 && credential != tok && credential != adminKey {
			t.Errorf("%s with Authorization %q: %d %s", rt.path, header, rec.Code, rec.Body)
		}
	})
}

func checkFuzzAnswer(t *testing.T, what string, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("%s: %d %s", what, rec.Code, truncate(rec.Body.String()))
	}
	if rec.Code < 400 {
		return
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: %d with Content-Type %q: %s", what, rec.Code, ct, truncate(rec.Body.String()))
	}
	r := response{ResponseRecorder: rec}
	if err := json.Unmarshal(rec.Body.Bytes(), &r.body); err != nil {
		t.Fatalf("%s: %d, body is not JSON: %q", what, rec.Code, truncate(rec.Body.String()))
	}
	checkErrorBody(t, what, r)
	if rec.Code == http.StatusTooManyRequests || rec.Code == http.StatusServiceUnavailable {
		if rec.Header().Get("Retry-After") == "" {
			t.Errorf("%s: %d without Retry-After", what, rec.Code)
		}
	}
}
