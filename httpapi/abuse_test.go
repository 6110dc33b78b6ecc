package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/queue"
)

// from sends POST /api/tokens for user from peer (ip:port), with extra
// headers as name, value pairs.
func (h *harness) from(peer, user string, headers ...string) response {
	h.t.Helper()
	req := httptest.NewRequest("POST", "/api/tokens", strings.NewReader(fmt.Sprintf(`{"user_id": %q}`, user)))
	req.RemoteAddr = peer
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.gw.Handler.ServeHTTP(rec, req)
	r := response{ResponseRecorder: rec}
	if err := json.Unmarshal(rec.Body.Bytes(), &r.body); err != nil {
		h.t.Fatalf("body is not JSON: %q", rec.Body)
	}
	return r
}

// burst sends requests until one is refused, and returns how many passed
// (at most limit+1 are sent) and the refusal.
func (h *harness) burst(t *testing.T, limit int, send func(i int) response) (int, response) {
	t.Helper()
	for i := 0; i <= limit; i++ {
		r := send(i)
		if r.Code == http.StatusTooManyRequests {
			return i, r
		}
		if r.Code != 201 && r.Code != 200 {
			t.Fatalf("request %d: %d %s", i, r.Code, r.Body)
		}
	}
	return limit + 1, response{}
}

func checkRateLimited(t *testing.T, r response) {
	t.Helper()
	if r.ResponseRecorder == nil {
		t.Fatal("never limited")
	}
	if r.code() != "rate_limited" {
		t.Errorf("429 with code %q, want rate_limited", r.code())
	}
	if secs, err := strconv.Atoi(r.Header().Get("Retry-After")); err != nil || secs < 1 {
		t.Errorf("Retry-After %q, want whole seconds ≥ 1", r.Header().Get("Retry-After"))
	}
	checkErrorBody(t, "429", r)
}

func TestEnterRateLimitCannotBeDodged(t *testing.T) {
	const limit = 3
	t.Run("SpoofedForwardedForFromAnUntrustedPeerIsIgnored", func(t *testing.T) {
		h := newHarness(t, func(c *config.Config) { c.EnterRatePerIP = limit })
		n, r := h.burst(t, limit, func(i int) response {
			// A fresh forwarded address and user each time: only the
			// peer counts.
			return h.from("203.0.113.9:4000", fmt.Sprintf("spoof-%d", i),
				"X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1), "X-Real-IP", fmt.Sprintf("198.51.100.%d", i+1))
		})
		if n != limit {
			t.Errorf("%d requests passed before the limit, want %d", n, limit)
		}
		checkRateLimited(t, r)
		// Another peer has its own budget.
		if r := h.from("203.0.113.10:4000", "another-peer"); r.Code != 201 {
			t.Errorf("another peer: %d %s", r.Code, r.Body)
		}
		// Another port of the same peer is the same client.
		if r := h.from("203.0.113.9:4001", "same-peer-other-port"); r.Code != http.StatusTooManyRequests {
			t.Errorf("same peer, other port: %d, want 429", r.Code)
		}
	})
	t.Run("ForwardedForFromATrustedProxyIsBelievedRightmostFirst", func(t *testing.T) {
		h := newHarness(t, func(c *config.Config) { c.EnterRatePerIP = limit; c.TrustedProxies = []string{"10.0.0.0/8"} })
		// The client prepends made-up addresses; the proxy appends the
		// real one. Only the real one counts.
		n, r := h.burst(t, limit, func(i int) response {
			return h.from("10.1.2.3:5555", fmt.Sprintf("behind-%d", i), "X-Forwarded-For", fmt.Sprintf("192.0.2.%d, 198.51.100.7", i+1))
		})
		if n != limit {
			t.Errorf("%d requests passed before the limit, want %d", n, limit)
		}
		checkRateLimited(t, r)
		// Another client behind the same proxy is not limited.
		if r := h.from("10.1.2.3:5555", "other-client", "X-Forwarded-For", "198.51.100.8"); r.Code != 201 {
			t.Errorf("another client behind the proxy: %d %s", r.Code, r.Body)
		}
		// X-Real-IP is not a header the gateway believes, even from the proxy.
		if r := h.from("10.1.2.3:5555", "real-ip", "X-Forwarded-For", "198.51.100.7", "X-Real-IP", "198.51.100.99"); r.Code != http.StatusTooManyRequests {
			t.Errorf("X-Real-IP from the proxy: %d, want 429 (the limited client)", r.Code)
		}
	})
	t.Run("RefusedEntriesTakeNoPlaceInLine", func(t *testing.T) {
		h := newHarness(t, func(c *config.Config) { c.EnterRatePerIP = 1 })
		h.from("203.0.113.50:1", "first")
		before, err := h.gw.Queue.Status(h.ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			if r := h.from("203.0.113.50:1", fmt.Sprintf("flood-%d", i)); r.Code != http.StatusTooManyRequests {
				t.Fatalf("flood %d: %d", i, r.Code)
			}
		}
		after, _ := h.gw.Queue.Status(h.ctx, 1)
		if after.Waiting != before.Waiting || after.Active != before.Active {
			t.Errorf("refused entries changed the line: %+v → %+v", before, after)
		}
	})
}

// tamper re-encodes a token's payload with change applied, keeping the
// original signature.
func tamper(t *testing.T, token string, change func(p []byte) []byte) string {
	t.Helper()
	dot := strings.IndexByte(token, '.')
	payload, err := base64.RawURLEncoding.DecodeString(token[:dot])
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(change(payload)) + token[dot:]
}

func TestTokensCannotBeForgedMovedOrReplayed(t *testing.T) {
	h := newHarness(t, nil)
	aliceTok, aliceRes := h.paymentSetup("alice", 10000)
	bobTok, bobRes := h.paymentSetup("bob", 10000)
	alice, err := h.gw.Queue.Signer().Parse(aliceTok)
	if err != nil {
		t.Fatal(err)
	}

	// Alice's claims made into Bob's, another concert's, another place.
	asBob, toConcert2, toSeq1 := alice, alice, alice
	asBob.UserID = "bob"
	toConcert2.ConcertID = 2
	toSeq1.Seq = 1
	otherKey := queue.NewSigner([]byte("a key of another deployment"))
	dot := strings.IndexByte(aliceTok, '.')
	forged := map[string]string{
		"SignedWithAnotherKey":         otherKey.Sign(alice),
		"BobsClaimsAnotherKey":         otherKey.Sign(asBob),
		"UserChangedSignatureKept":     tamper(t, aliceTok, func(p []byte) []byte { return append(p[:len(p)-len("alice")], "bob"...) }),
		"ConcertChangedSignatureKept":  tamper(t, aliceTok, func(p []byte) []byte { p[1] = 2; return p }),
		"SignatureOfAnotherToken":      aliceTok[:dot] + bobTok[strings.IndexByte(bobTok, '.'):],
		"SignatureTruncated":           aliceTok[:len(aliceTok)-4],
		"SignatureEmpty":               aliceTok[:dot+1],
		"PayloadOnly":                  aliceTok[:dot],
		"ConcertMovedAnotherKey":       otherKey.Sign(toConcert2),
		"PlaceInLineMovedAnotherKey":   otherKey.Sign(toSeq1),
		"UnsignedJSONClaims":           base64.RawURLEncoding.EncodeToString([]byte(`{"user":"bob","seq":1}`)) + ".",
		"AlgNoneStyle":                 "eyJhbGciOiJub25lIn0.eyJ1c2VyIjoiYm9iIn0.",
		"TokenTwiceJoined":             aliceTok + "." + aliceTok,
		"SignatureCaseFlipped":         aliceTok[:dot+1] + strings.ToUpper(aliceTok[dot+1:]),
		"Base64StdPaddingAdded":        aliceTok + "==",
		"WhitespaceInside":             aliceTok[:dot] + " " + aliceTok[dot:],
		"OtherVersionSignatureKept":    tamper(t, aliceTok, func(p []byte) []byte { p[0] = 9; return p }),
		"TrailingBytesSignatureKept":   tamper(t, aliceTok, func(p []byte) []byte { return append(p, 'x') }),
		"UserWithColonSignatureKept":   tamper(t, aliceTok, func(p []byte) []byte { return append(p, ":1"...) }),
		"UserWithHashTagSignatureKept": tamper(t, aliceTok, func(p []byte) []byte { return append(p, "{c:1}"...) }),
	}
	routes := []struct{ method, path string }{
		{"GET", "/api/queue/position"},
		{"GET", "/api/reservationData/available"},
		{"GET", "/api/reservationSeat/available?reservation_date=" + day(1)},
		{"POST", "/api/reservation"},
		{"POST", "/api/payment"},
	}
	for name, tok := range forged {
		t.Run(name, func(t *testing.T) {
			for _, rt := range routes {
				r := h.do(rt.method, rt.path, payBody("bob", bobRes, 10000), bearer(tok)...)
				if r.Code != 401 || r.code() != "invalid_token" {
					t.Errorf("%s %s: %d %q, want 401 invalid_token", rt.method, rt.path, r.Code, r.code())
				}
				checkErrorBody(t, rt.path, r)
			}
		})
	}

	t.Run("AnotherUsersRequestsWithMyToken", func(t *testing.T) {
		// Alice's token cannot hold or pay for Bob.
		if r := h.do("POST", "/api/reservation", holdBody("bob", day(1), 9), bearer(aliceTok)...); r.Code != 403 || r.code() != "user_mismatch" {
			t.Errorf("hold for bob with alice's token: %d %q", r.Code, r.code())
		}
		if r := h.do("POST", "/api/payment", payBody("bob", bobRes, 10000), bearer(aliceTok)...); r.Code != 403 || r.code() != "user_mismatch" {
			t.Errorf("pay bob's hold as bob with alice's token: %d %q", r.Code, r.code())
		}
		// Nor pay Bob's hold as herself.
		if r := h.do("POST", "/api/payment", payBody("alice", bobRes, 10000), bearer(aliceTok)...); r.Code != 404 || r.code() != "reservation_not_found" {
			t.Errorf("pay bob's hold as alice: %d %q, want 404 reservation_not_found", r.Code, r.code())
		}
		// Bob's hold and balance are untouched.
		if r := h.do("GET", "/api/pay?user_id=bob", nil); r.num("amount") != 10000 {
			t.Errorf("bob's balance: %s", r.Body)
		}
	})

	t.Run("ReleasedTokenIsDeadExceptForItsOwnReceipt", func(t *testing.T) {
		const key = "alice-pays-once"
		first := h.do("POST", "/api/payment", payBody("alice", aliceRes, 10000), append(bearer(aliceTok), "Idempotency-Key", key)...)
		if first.Code != 201 {
			t.Fatalf("pay: %d %s", first.Code, first.Body)
		}
		for _, rt := range routes[:4] {
			r := h.do(rt.method, rt.path, holdBody("alice", day(1), 8), bearer(aliceTok)...)
			if r.Code != 401 || r.code() != "token_expired" {
				t.Errorf("%s %s after release: %d %q, want 401 token_expired", rt.method, rt.path, r.Code, r.code())
			}
		}
		// Paying again: without a key, or with a new one, the token is dead.
		for _, hdr := range [][]string{bearer(aliceTok), append(bearer(aliceTok), "Idempotency-Key", "a-new-key")} {
			if r := h.do("POST", "/api/payment", payBody("alice", aliceRes, 10000), hdr...); r.Code != 401 || r.code() != "token_expired" {
				t.Errorf("pay again after release: %d %q, want 401 token_expired", r.Code, r.code())
			}
		}
		// The same key and request: the first receipt, not a second payment.
		again := h.do("POST", "/api/payment", payBody("alice", aliceRes, 10000), append(bearer(aliceTok), "Idempotency-Key", key)...)
		if again.Code != 201 || again.num("payment_id") != first.num("payment_id") {
			t.Errorf("retry with the key: %d %s; want the first receipt %s", again.Code, again.Body, first.Body)
		}
		// The same key for another request: a conflict, never someone's receipt.
		other := h.do("POST", "/api/payment", payBody("alice", bobRes, 10000), append(bearer(aliceTok), "Idempotency-Key", key)...)
		if other.Code != 409 || other.code() != "idempotency_conflict" {
			t.Errorf("the key used for another reservation: %d %s, want 409 idempotency_conflict", other.Code, other.Body)
		}
		// Bob cannot read Alice's receipt with her key.
		bobAsks := h.do("POST", "/api/payment", payBody("bob", aliceRes, 10000), append(bearer(bobTok), "Idempotency-Key", key)...)
		if bobAsks.Code != 404 || bobAsks.code() != "reservation_not_found" {
			t.Errorf("bob paying alice's hold with her key: %d %s, want 404 reservation_not_found", bobAsks.Code, bobAsks.Body)
		}
		if r := h.do("GET", "/api/pay?user_id=alice", nil); r.num("amount") != 0 {
			t.Errorf("alice charged twice or not at all: %s", r.Body)
		}
	})
}

func TestAdminKeyMustMatchExactly(t *testing.T) {
	h := newHarness(t, nil)
	for name, hdr := range map[string][]string{
		"KeyWithSuffix":       bearer(adminKey + "x"),
		"KeyLastByteChanged":  bearer(adminKey[:len(adminKey)-1] + "X"),
		"KeyUpperCase":        bearer(strings.ToUpper(adminKey)),
		"EmptyBearer":         {"Authorization", "Bearer "},
		"KeyWithoutScheme":    {"Authorization", adminKey},
		"KeyAsBasic":          {"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+adminKey))},
		"KeyInAnotherHeader":  {"X-Admin-Token", adminKey},
		"KeyWithNUL":          bearer(adminKey + "\x00"),
		"KeyHashInstead":      bearer(fmt.Sprintf("%x", adminKey)),
		"KeyTwice":            bearer(adminKey + adminKey),
		"KeyCommaSeparated":   bearer("wrong, " + adminKey),
		"LongKeySameHashSize": bearer(strings.Repeat("k", 32)),
	} {
		t.Run(name, func(t *testing.T) {
			for _, m := range []string{"GET", "PATCH"} {
				r := h.do(m, "/admin/queue?concert_id=1", map[string]any{"paused": true}, hdr...)
				if r.Code != 401 || r.code() != "unauthorized" {
					t.Errorf("%s: %d %q, want 401 unauthorized", m, r.Code, r.code())
				}
				checkErrorBody(t, m, r)
			}
			if r := h.do("GET", "/admin/queue?concert_id=1&admin_token="+adminKey, nil); r.Code != 401 {
				t.Errorf("key in the query: %d, want 401", r.Code)
			}
		})
	}
	st, err := h.gw.Queue.Status(h.ctx, 1)
	if err != nil || st.Paused {
		t.Errorf("a refused PATCH paused the queue: %+v, %v", st, err)
	}
}
