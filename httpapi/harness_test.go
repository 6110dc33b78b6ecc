package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/gateway"
	"github.com/rushgate/rushgate/internal/gatewaytest"
	"github.com/rushgate/rushgate/queue"
)

// harness is a whole gateway replica on the real Redis (own key prefix) and
// Postgres (own database), driven through its real router.
type harness struct {
	t   testing.TB
	gw  *gateway.Gateway
	cfg config.Config
	ctx context.Context
	rdb redis.UniversalClient
	db  *sqlx.DB
	// seats counts the seats paymentSetup has handed out.
	seats int
}

const adminKey = gatewaytest.AdminToken

// newHarness builds a gateway with the contract's defaults, an admin key and
// a seeded concert 1 (3 dates from tomorrow, 10 seats each at 10,000 won).
func newHarness(t testing.TB, change func(*config.Config)) *harness {
	t.Helper()
	r := gatewaytest.New(t, 3, 10, 10000, change)
	return &harness{t: t, gw: r.Gateway, cfg: r.Config, ctx: context.Background(), rdb: r.Redis, db: r.DB}
}

type response struct {
	*httptest.ResponseRecorder
	body map[string]any
}

func (r response) code() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (r response) num(field string) int64 {
	n, _ := r.body[field].(float64)
	return int64(n)
}

func (r response) str(field string) string {
	s, _ := r.body[field].(string)
	return s
}

// do sends a request through the router. body is marshalled unless it is a
// string (sent as is). headers are name, value pairs.
func (h *harness) do(method, path string, body any, headers ...string) response {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	req.RemoteAddr = "192.0.2.1:1234"
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.gw.Handler.ServeHTTP(rec, req)
	r := response{ResponseRecorder: rec}
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(rec.Body.Bytes(), &r.body); err != nil {
			h.t.Fatalf("%s %s: body is not JSON: %q", method, path, rec.Body.String())
		}
	}
	return r
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

func (h *harness) admin(method, path string, body any) response {
	h.t.Helper()
	return h.do(method, path, body, bearer(adminKey)...)
}

// enter puts user in line and returns the token.
func (h *harness) enter(user string) string {
	h.t.Helper()
	r := h.do("POST", "/api/tokens", map[string]any{"user_id": user})
	if r.Code != http.StatusCreated && r.Code != http.StatusOK {
		h.t.Fatalf("enter %s: %d %s", user, r.Code, r.Body)
	}
	return r.str("token")
}

// admitAll admits everyone waiting for concert 1 (as the admission loop
// would).
func (h *harness) admitAll() { h.admitAllOf(1) }

// admitAllOf admits everyone waiting for the concert.
func (h *harness) admitAllOf(concertID int64) {
	h.t.Helper()
	rate := 1e6
	if _, err := h.gw.Queue.UpdateSettings(h.ctx, concertID, queue.SettingsPatch{AdmitPerSecond: &rate}); err != nil {
		h.t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		a, err := h.gw.Queue.Admit(h.ctx, concertID)
		if err != nil {
			h.t.Fatal(err)
		}
		if a.Waiting == 0 {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("could not admit everyone: %+v", a)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// activeToken is the token of a user who entered and was admitted.
func (h *harness) activeToken(user string) string {
	h.t.Helper()
	tok := h.enter(user)
	h.admitAll()
	return tok
}
