package httpapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// watched is a harness whose Redis keys and Postgres rows the test reads,
// to prove that a refused request changed nothing.
type watched struct {
	*harness
}

func newWatchedHarness(t *testing.T) *watched {
	t.Helper()
	return &watched{harness: newHarness(t, nil)}
}

// state is a digest of every Redis key of the test (name and value) and of
// every Postgres table's rows. It leaves out the concerts' kept seat counts
// (keyspace.Concert.Stock): admission writes one with a life of a quarter of
// a second, so whether it is there depends on the clock, not on the requests
// (a hold that got through would show in its seat lock and record anyway).
func (w *watched) state(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	var keys []string
	iter := w.rdb.Scan(ctx, 0, w.cfg.KeyPrefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if strings.HasSuffix(iter.Val(), "}:stock") {
			continue
		}
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		v, err := w.rdb.Dump(ctx, k).Result()
		if err != nil && err != redis.Nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s=%x\n", k, v)
	}
	var tables []string
	if err := w.db.SelectContext(ctx, &tables, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		var digest string
		q := fmt.Sprintf(`SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM %q t`, tb)
		if err := w.db.GetContext(ctx, &digest, q); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s:%s\n", tb, digest)
	}
	return fmt.Sprintf("%d keys, %d tables, %x", len(keys), len(tables), h.Sum(nil)[:8])
}

// leaks are what no error body may show: SQL, driver and client errors,
// addresses, stack traces.
var leaks = []string{"SELECT", "INSERT", "UPDATE ", "pq:", "redis:", "127.0.0.1", "dial tcp", "goroutine", ".go:", "panic"}

// checkErrorBody fails t unless r is the contract's error body, without
// anything internal in it.
func checkErrorBody(t testing.TB, what string, r response) {
	t.Helper()
	if r.body == nil {
		t.Errorf("%s: %d, body is not JSON: %q", what, r.Code, r.Body.String())
		return
	}
	e, _ := r.body["error"].(map[string]any)
	if msg, _ := e["message"].(string); r.code() == "" || msg == "" {
		t.Errorf("%s: %d, not the contract's error body: %s", what, r.Code, r.Body)
	}
	for _, l := range leaks {
		if strings.Contains(r.Body.String(), l) {
			t.Errorf("%s: error body shows %q: %s", what, l, r.Body)
		}
	}
}

// Hostile and malformed values, by the kind of field they are sent as.
var (
	badUserIDs = []any{
		nil, // null is missing
		"", 42, 4.2, true, []any{"a"}, map[string]any{"a": 1},
		strings.Repeat("a", 65), strings.Repeat("a", 10000),
		"x'; DROP TABLE users;--", `x" OR "1"="1`, "a;b", "a b", "a\tb", "a\nb",
		"{c:1}", "rg:{c:1}:waiting", "a:b", "*", "a?b", "a[b]",
		"redis.call('FLUSHALL')", "');redis.call('del',KEYS[1]);--",
		"a\x00b", "\x00", "a\u202eb", "ユーザー", "usér", "😀", "a\ufffd",
		"../../etc/passwd", "%00", "$(id)", "<script>", `\`,
	}
	badInts = []any{
		"1", "", 1.5, raw("1e3"), -1, 0, true, []any{1}, map[string]any{},
		"1; DROP TABLE seats", 1 << 53, "9007199254740993", raw("1e400"), raw("99999999999999999999"), raw("-0"), raw("1E2"), raw("0x10"),
	}
	// Concert ids may be any positive 63-bit integer: 2^53 is fine, 2^63 is not.
	badConcertIDs = []any{
		"1", "", 1.5, raw("1e3"), -1, 0, true, []any{1}, map[string]any{},
		"1; DROP TABLE seats", raw("9223372036854775808"), "9007199254740993", raw("1e400"), raw("99999999999999999999"), raw("-0"), raw("1E2"), raw("0x10"),
	}
	badAmounts = []any{
		nil, 0, -1, 1.5, "10000", 100_000_001, raw("1e5"), raw("1e400"), raw("10000.0"), raw("1e4"), raw("-0"), true,
		"1e5", "9223372036854775808", []any{10000},
	}
	badDates = []any{
		nil, "", 20241013, true, "2024-13-01", "2024-02-30", "20241013", "2024/10/13",
		"2024-10-13T00:00:00Z", "2024-10-13' OR '1'='1", "2024-1-3", " 2024-10-13",
		"２０２４-１０-１３", "2024-10-13\x00", strings.Repeat("9", 1000),
	}
)

// raw is a body value sent as is: numbers JSON allows but Go cannot hold
// (1e400), spellings of a number (1e4, 10000.0), and what is no JSON at all.
type raw string

// bodyWith is base as a JSON object with field set to v.
func bodyWith(base map[string]any, field string, v any) string {
	parts := []string{}
	keys := make([]string, 0, len(base))
	for k := range base {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == field {
			continue
		}
		parts = append(parts, fmt.Sprintf("%q: %s", k, jsonOf(base[k])))
	}
	parts = append(parts, fmt.Sprintf("%q: %s", field, jsonOf(v)))
	return "{" + strings.Join(parts, ", ") + "}"
}

func jsonOf(v any) string {
	switch x := v.(type) {
	case raw:
		return string(x)
	case nil:
		return "null"
	}
	return mustJSON(v)
}

// badCase is one request that the contract answers with a 4xx.
type badCase struct {
	name    string
	method  string
	path    string
	body    any // string: sent as is
	headers []string
	status  int
	code    string
}

// TestBadInputIsRefusedAndChangesNothing sends every route of the contract
// missing, wrong-typed, out-of-range, oversized, unicode and hostile values,
// and checks each gets its 4xx and leaves Redis and Postgres as they were.
func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	w := newWatchedHarness(t)
	const user = "victim"
	tok := w.activeToken(user)
	hold := w.do("POST", "/api/reservation", holdBody(user, day(1), 1), bearer(tok)...)
	if hold.Code != 201 {
		t.Fatalf("hold: %d %s", hold.Code, hold.Body)
	}
	rid := hold.num("reservation_id")
	if r := w.do("POST", "/api/chargePay", map[string]any{"user_id": user, "amount": 10000}); r.Code != 200 {
		t.Fatalf("charge: %d %s", r.Code, r.Body)
	}
	auth := bearer(tok)
	adminAuth := bearer(adminKey)

	var cases []badCase
	add := func(c badCase) {
		if c.status == 0 {
			c.status, c.code = 400, "invalid_request"
		}
		cases = append(cases, c)
	}
	// Each JSON route: every field replaced by every bad value of its kind.
	type route struct {
		method, path string
		headers      []string
		base         map[string]any
		kinds        map[string][]any
	}
	for _, rt := range []route{
		{"POST", "/api/tokens", nil, map[string]any{"user_id": "newcomer", "concert_id": 1},
			map[string][]any{"user_id": badUserIDs, "concert_id": badConcertIDs}},
		{"POST", "/api/reservation", auth, map[string]any{"user_id": user, "reservation_date": day(2), "reservation_seat": 2},
			map[string][]any{"user_id": badUserIDs, "reservation_date": badDates, "reservation_seat": append([]any{nil, 1_000_001}, badInts...)}},
		{"POST", "/api/chargePay", nil, map[string]any{"user_id": user, "amount": 500},
			map[string][]any{"user_id": badUserIDs, "amount": badAmounts}},
		{"POST", "/api/payment", auth, map[string]any{"user_id": user, "reservation_id": rid, "amount": 10000},
			map[string][]any{"user_id": badUserIDs, "reservation_id": append([]any{nil}, badInts...), "amount": badAmounts}},
		{"GET", "/api/pay", nil, map[string]any{"user_id": user},
			map[string][]any{"user_id": badUserIDs}},
		{"GET", "/api/reservationSeat/available", auth, map[string]any{"reservation_date": day(1)},
			map[string][]any{"reservation_date": badDates}},
		{"PATCH", "/admin/queue?concert_id=1", adminAuth, map[string]any{"max_active": 1000},
			map[string][]any{
				"admit_per_second": {-1, "10", 1e12, true, []any{1}, raw("1e400"), raw("NaN"), raw("Infinity"),
					raw("-Infinity"), raw("nan"), raw("inf"), raw("1e309"), raw("-1e309"), "NaN", "Infinity", raw("-0.5")},
				"max_active":         {-1, 1.5, "10", 1 << 40, true},
				"active_ttl_seconds": {0, -5, 1e9, "600", 1.5},
				"paused":             {"true", 1, "yes", []any{true}},
			}},
		{"POST", "/admin/concerts", adminAuth, map[string]any{
			"name": "IU 2026", "dates": []any{day(5), day(6)}, "opens_at": "2099-01-01T20:00:00+09:00",
			"seats": []any{map[string]any{"from": 1, "to": 100, "price": 150000}, map[string]any{"from": 101, "to": 500, "price": 90000}}},
			map[string][]any{
				"name":     {nil, "", "   ", 5, true, []any{"a"}, strings.Repeat("가", 201), "a\x00b", "tab\tname"},
				"dates":    {nil, "2026-12-24", []any{}, []any{"2026-13-01"}, []any{"2026-02-30"}, []any{20261224}, []any{day(5), day(5)}, []any{"26-12-24"}, []any{nil}, map[string]any{}},
				"opens_at": {"tomorrow", 5, "2026-12-24", "2026-12-24T20:00:00", "2026-12-24 20:00:00+09:00", true},
				"seats": {nil, []any{}, "1-100", []any{5},
					[]any{map[string]any{"from": 0, "to": 10, "price": 1}},
					[]any{map[string]any{"from": 1, "to": 100_001, "price": 1}},
					[]any{map[string]any{"from": 10, "to": 9, "price": 1}},
					[]any{map[string]any{"from": 1, "to": 10, "price": 0}},
					[]any{map[string]any{"from": 1, "to": 10, "price": 100_000_001}},
					[]any{map[string]any{"from": 1, "to": 10, "price": 1.5}},
					[]any{map[string]any{"from": 1, "to": 10, "price": "1000"}},
					[]any{map[string]any{"from": 1, "to": 10}},
					[]any{map[string]any{"from": "1", "to": 10, "price": 1}},
					[]any{map[string]any{"from": 1, "to": 10, "price": 5}, map[string]any{"from": 10, "to": 20, "price": 5}},
					[]any{map[string]any{"from": 1, "to": 100_000, "price": 5}, map[string]any{"from": -5, "to": -1, "price": 5}},
				},
			}},
		{"PATCH", "/admin/concerts/1", adminAuth, map[string]any{"name": "renamed"},
			map[string][]any{
				"name":     {"", " ", 5, true, strings.Repeat("x", 201)},
				"opens_at": {"soon", 5, "2026-12-24", true},
			}},
	} {
		for field, values := range rt.kinds {
			for i, v := range values {
				if v == nil && field == "concert_id" {
					continue // optional: null is the default concert
				}
				add(badCase{
					name:   fmt.Sprintf("%s %s %s #%d %.20q", rt.method, rt.path, field, i, fmt.Sprint(v)),
					method: rt.method, path: rt.path, headers: rt.headers, body: bodyWith(rt.base, field, v),
				})
			}
		}
		// Whole bodies that are no JSON object, and one too large.
		const nulUser = `{"user_id": "a\u0000"}`
		for i, b := range []string{`{"user_id":`, `[]`, `"user_id"`, `42`, `null`, `{"a":1}{"b":2}`, "\xff\xfe{}", nulUser} {
			if b == `null` && rt.method == "GET" {
				continue // no body: the GET is answered from its query
			}
			if b == nulUser && rt.kinds["user_id"] == nil {
				continue // an unknown key is ignored, not an error
			}
			add(badCase{name: fmt.Sprintf("%s %s body #%d", rt.method, rt.path, i), method: rt.method, path: rt.path, headers: rt.headers, body: b})
		}
		huge := `{"user_id": "` + strings.Repeat("a", 70<<10) + `"}`
		add(badCase{name: rt.method + " " + rt.path + " 70 KiB body", method: rt.method, path: rt.path, headers: rt.headers, body: huge,
			status: 413, code: "body_too_large"})
	}
	// Empty bodies where one is required.
	for _, p := range []string{"/api/tokens", "/api/reservation", "/api/chargePay", "/api/payment"} {
		h := []string(nil)
		if p == "/api/reservation" || p == "/api/payment" {
			h = auth
		}
		add(badCase{name: "POST " + p + " empty body", method: "POST", path: p, headers: h, body: " "})
	}
	// Query parameters.
	for i, v := range []string{"", "ユーザー", "a;b", "{c:1}", "a\x00b", strings.Repeat("a", 65), "x' OR '1'='1"} {
		add(badCase{name: fmt.Sprintf("GET /api/pay?user_id #%d", i), method: "GET", path: "/api/pay?user_id=" + url.QueryEscape(v)})
	}
	for i, v := range []string{"", "2024-13-01", "tomorrow", "2024-10-13%00", "２０２４-１０-１３", "2024-10-13' OR 1=1--"} {
		add(badCase{name: fmt.Sprintf("GET seats?reservation_date #%d", i), method: "GET",
			path: "/api/reservationSeat/available?reservation_date=" + url.QueryEscape(v), headers: auth})
	}
	for i, v := range []string{"", "abc", "0", "-1", "1.5", "1e3", "1;DROP TABLE concerts", "99999999999999999999", "１"} {
		for _, m := range []string{"GET", "PATCH"} {
			add(badCase{name: fmt.Sprintf("%s /admin/queue?concert_id #%d", m, i), method: m,
				path: "/admin/queue?concert_id=" + url.QueryEscape(v), headers: adminAuth, body: `{"max_active": 5}`})
		}
	}
	// Bodies of JSON routes sent as anything but JSON: what a form or a
	// text/plain post from another site's page would be.
	for _, rt := range []struct {
		method, path string
		headers      []string
		body         string
	}{
		{"POST", "/api/tokens", nil, `{"user_id": "newcomer"}`},
		{"POST", "/api/reservation", auth, mustJSON(holdBody(user, day(2), 2))},
		{"POST", "/api/chargePay", nil, `{"user_id": "victim", "amount": 500}`},
		{"POST", "/api/payment", auth, mustJSON(payBody(user, rid, 10000))},
		{"PATCH", "/admin/queue?concert_id=1", adminAuth, `{"paused": true}`},
	} {
		for i, ct := range []string{"", "text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded",
			"multipart/form-data; boundary=b", "application/json; charset=iso-8859-1", "application/xml", "text/json", "application/json-seq", "garbage/"} {
			add(badCase{name: fmt.Sprintf("%s %s Content-Type #%d %q", rt.method, rt.path, i, ct), method: rt.method, path: rt.path,
				headers: append(append([]string{}, rt.headers...), "Content-Type", ct), body: rt.body,
				status: 415, code: "unsupported_media_type"})
		}
	}
	// Known routes, wrong methods.
	for _, mp := range [][2]string{{"GET", "/api/tokens"}, {"DELETE", "/api/tokens"}, {"PUT", "/api/payment"}, {"POST", "/api/pay"},
		{"DELETE", "/api/reservation"}, {"POST", "/api/queue/position"}, {"PUT", "/admin/queue"}, {"POST", "/readyz"}} {
		add(badCase{name: mp[0] + " " + mp[1], method: mp[0], path: mp[1], headers: adminAuth, body: `{"user_id": "victim"}`,
			status: 405, code: "method_not_allowed"})
	}
	// Ids in paths and query parameters of the catalogue and the live view.
	for i, v := range []string{"abc", "0", "-1", "1.5", "1e3", "9223372036854775808", "１", "1;DROP TABLE concerts"} {
		for _, p := range []string{"/admin/concerts/", "/api/concerts/"} {
			add(badCase{name: fmt.Sprintf("GET %s #%d", p, i), method: "GET", path: p + url.PathEscape(v), headers: adminAuth})
		}
		add(badCase{name: fmt.Sprintf("PATCH /admin/concerts/ #%d", i), method: "PATCH", path: "/admin/concerts/" + url.PathEscape(v), headers: adminAuth, body: `{"name": "x"}`})
		for _, p := range []string{"/admin/queue/stats", "/admin/queue/projection", "/admin/audit"} {
			add(badCase{name: fmt.Sprintf("GET %s concert_id #%d", p, i), method: "GET", path: p + "?concert_id=" + url.QueryEscape(v), headers: adminAuth})
		}
	}
	for i, v := range []string{"0", "-1", "3601", "abc", "1.5", ""} {
		add(badCase{name: fmt.Sprintf("GET stats seconds #%d", i), method: "GET", path: "/admin/queue/stats?concert_id=1&seconds=" + url.QueryEscape(v), headers: adminAuth})
	}
	for i, v := range []string{"0", "-1", "1001", "abc", "1.5", ""} {
		add(badCase{name: fmt.Sprintf("GET audit limit #%d", i), method: "GET", path: "/admin/audit?limit=" + url.QueryEscape(v), headers: adminAuth})
	}
	for i, v := range []string{"-1", "1e12", "abc", "NaN", "Inf", ""} {
		add(badCase{name: fmt.Sprintf("GET projection rate #%d", i), method: "GET", path: "/admin/queue/projection?concert_id=1&admit_per_second=" + url.QueryEscape(v), headers: adminAuth})
	}
	// Idempotency-Key.
	for i, k := range []string{strings.Repeat("k", 256), "key\x01", "ключ", "key\x7f"} {
		add(badCase{name: fmt.Sprintf("POST /api/payment Idempotency-Key #%d", i), method: "POST", path: "/api/payment",
			headers: append(append([]string{}, auth...), "Idempotency-Key", k), body: mustJSON(payBody(user, rid, 10000))})
	}
	// Well-formed, out of the catalogue.
	for _, c := range []badCase{
		{name: "enter unknown concert", method: "POST", path: "/api/tokens", body: `{"user_id": "newcomer", "concert_id": 9007199254740991}`, status: 404, code: "concert_not_found"},
		{name: "hold unknown date", method: "POST", path: "/api/reservation", headers: auth, body: mustJSON(holdBody(user, "1999-01-01", 1)), status: 404, code: "date_not_found"},
		{name: "hold unknown seat", method: "POST", path: "/api/reservation", headers: auth, body: mustJSON(holdBody(user, day(1), 1_000_000)), status: 404, code: "seat_not_found"},
		{name: "seats of unknown date", method: "GET", path: "/api/reservationSeat/available?reservation_date=1999-01-01", headers: auth, status: 404, code: "date_not_found"},
		{name: "pay unknown reservation", method: "POST", path: "/api/payment", headers: auth, body: mustJSON(payBody(user, 9007199254740991, 10000)), status: 404, code: "reservation_not_found"},
		{name: "pay wrong amount", method: "POST", path: "/api/payment", headers: auth, body: mustJSON(payBody(user, rid, 9999)), status: 400, code: "amount_mismatch"},
		{name: "balance of nobody", method: "GET", path: "/api/pay?user_id=nobody", status: 404, code: "user_not_found"},
		{name: "admin unknown concert", method: "GET", path: "/admin/queue?concert_id=9007199254740991", headers: adminAuth, status: 404, code: "concert_not_found"},
		{name: "admin unknown 63-bit concert", method: "GET", path: "/admin/concerts/9223372036854775807", headers: adminAuth, status: 404, code: "concert_not_found"},
		{name: "patch unknown concert", method: "PATCH", path: "/admin/concerts/9223372036854775807", headers: adminAuth, body: `{"name": "x"}`, status: 404, code: "concert_not_found"},
		{name: "reopen an open sale", method: "PATCH", path: "/admin/concerts/1", headers: adminAuth, body: `{"opens_at": "2099-01-01T00:00:00Z"}`, status: 409, code: "sale_open"},
		{name: "public unknown concert", method: "GET", path: "/api/concerts/9223372036854775807", status: 404, code: "concert_not_found"},
		{name: "a concert of more than a million seats", method: "POST", path: "/admin/concerts", headers: adminAuth,
			body: mustJSON(map[string]any{"name": "big", "dates": []any{day(5), day(6), day(7), day(8), day(9), day(10), day(11), day(12), day(13), day(14), day(15)},
				"seats": []any{map[string]any{"from": 1, "to": 100_000, "price": 5}}})},
		{name: "hold for another user", method: "POST", path: "/api/reservation", headers: auth, body: mustJSON(holdBody("someone-else", day(1), 3)), status: 403, code: "user_mismatch"},
		{name: "pay for another user", method: "POST", path: "/api/payment", headers: auth, body: mustJSON(payBody("someone-else", rid, 10000)), status: 403, code: "user_mismatch"},
		{name: "no such route", method: "GET", path: "/api/nothing", status: 404, code: "not_found"},
		{name: "route with NUL", method: "GET", path: "/api/pay%00", status: 404, code: "not_found"},
	} {
		add(c)
	}
	// Token routes with every kind of bad token.
	for i, h := range [][]string{
		nil, {"Authorization", ""}, {"Authorization", "Bearer"}, {"Authorization", "Bearer "}, {"Authorization", "Basic " + tok},
		{"Authorization", "Bearer " + tok[:len(tok)-1]}, {"Authorization", "Bearer " + tok + "x"}, {"Authorization", "Bearer x.y"},
		{"Authorization", "Bearer " + strings.Repeat("A", 5000) + "." + strings.Repeat("B", 5000)},
		{"Authorization", "Bearer ' OR 1=1--"}, {"Authorization", "Bearer {c:1}"}, {"Authorization", "Bearer ..."},
	} {
		for _, rt := range [][2]string{
			{"GET", "/api/queue/position"}, {"GET", "/api/reservationData/available"},
			{"GET", "/api/reservationSeat/available?reservation_date=" + day(1)},
			{"POST", "/api/reservation"}, {"POST", "/api/payment"},
		} {
			body := ""
			if rt[0] == "POST" {
				body = mustJSON(holdBody(user, day(1), 5))
			}
			add(badCase{name: fmt.Sprintf("%s %s token #%d", rt[0], rt[1], i), method: rt[0], path: rt[1], headers: h, body: body,
				status: 401, code: "invalid_token"})
		}
	}

	before := w.state(t)
	for _, c := range cases {
		var body any
		if c.body != nil && c.body != "" {
			body = c.body
		}
		r := w.do(c.method, c.path, body, c.headers...)
		if r.Code != c.status || r.code() != c.code {
			t.Errorf("%s: got %d %q, want %d %q: %s", c.name, r.Code, r.code(), c.status, c.code, truncate(r.Body.String()))
		}
		checkErrorBody(t, c.name, r)
	}
	if after := w.state(t); after != before {
		t.Errorf("bad input changed the state: %s → %s", before, after)
	}
	t.Logf("%d bad requests, state %s", len(cases), before)

	// The victim's hold is still theirs to pay, at its price.
	if r := w.do("POST", "/api/payment", payBody(user, rid, 10000), auth...); r.Code != 201 {
		t.Errorf("pay after the bad input: %d %s", r.Code, r.Body)
	}
	if w.state(t) == before {
		t.Error("the state digest did not see a payment: it proves nothing")
	}
}

func truncate(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

func mustJSON(v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(raw)
}

// bodyRoute is a route that reads a JSON body, and whose credentials.
type bodyRoute struct {
	method, path string
	auth         bool // the user's token (else none, or the admin key on /admin)
}

// bodyRoutes are the routes that read a request body.
var bodyRoutes = []bodyRoute{
	{"POST", "/api/tokens", false}, {"POST", "/api/chargePay", false}, {"POST", "/api/reservation", true},
	{"POST", "/api/payment", true}, {"GET", "/api/pay", false}, {"GET", "/api/reservationSeat/available", true},
	{"PATCH", "/admin/queue", false},
}

// sendBody sends body to rt with the given Content-Length (-1: none, as a
// chunked body) and the route's credentials, and checks that the answer is
// status with code in the contract's error shape.
func sendBody(t *testing.T, w *watched, token string, rt bodyRoute, body io.Reader, length int64, status int, code string) {
	t.Helper()
	req := httptest.NewRequest(rt.method, rt.path, io.NopCloser(body))
	req.ContentLength = length
	req.Header.Set("Content-Type", "application/json")
	if rt.auth {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rt.path == "/admin/queue" {
		req.Header.Set("Authorization", "Bearer "+adminKey)
	}
	rec := httptest.NewRecorder()
	w.gw.Handler.ServeHTTP(rec, req)
	r := response{ResponseRecorder: rec}
	json.Unmarshal(rec.Body.Bytes(), &r.body)
	if rec.Code != status || r.code() != code {
		t.Errorf("%s %s: %d %s, want %d %s", rt.method, rt.path, rec.Code, truncate(rec.Body.String()), status, code)
	}
	checkErrorBody(t, rt.path, r)
}

// TestOversizedBodyWithoutLengthIs413: a chunked body (no Content-Length)
// is cut at 64 KiB as it is read, and answered like a declared one.
func TestOversizedBodyWithoutLengthIs413(t *testing.T) {
	w := newWatchedHarness(t)
	tok := w.activeToken("chunky")
	before := w.state(t)
	for _, rt := range bodyRoutes {
		body := io.MultiReader(strings.NewReader(`{"user_id": "chunky", "pad": "`), strings.NewReader(strings.Repeat("x", 80<<10)), strings.NewReader(`"}`))
		sendBody(t, w, tok, rt, body, -1, 413, "body_too_large")
	}
	if after := w.state(t); after != before {
		t.Errorf("oversized bodies changed the state: %s → %s", before, after)
	}
}

// TestBodyShorterThanItsLengthIs400: a body that ends before its
// Content-Length (a client cut off mid-request) is read into a buffer of the
// stated size and found short: 400 invalid_request, and nothing changes.
func TestBodyShorterThanItsLengthIs400(t *testing.T) {
	w := newWatchedHarness(t)
	tok := w.activeToken("short")
	before := w.state(t)
	for _, rt := range bodyRoutes {
		body := `{"user_id":"short","concert_id":1}`
		sendBody(t, w, tok, rt, strings.NewReader(body), int64(len(body))+10, 400, "invalid_request")
	}
	if after := w.state(t); after != before {
		t.Errorf("short bodies changed the state: %s → %s", before, after)
	}
}
