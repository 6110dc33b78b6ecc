package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rushgate/rushgate/config"
)

func TestAdminAuth(t *testing.T) {
	h := newHarness(t, nil)
	for _, tc := range []struct {
		name    string
		headers []string
		status  int
	}{
		{"NoKey", nil, 401},
		{"WrongKey", bearer("wrong"), 401},
		{"PrefixOfKey", bearer(adminKey[:5]), 401},
		{"QueueTokenIsNoAdminKey", bearer(h.enter("sneaky")), 401},
		{"RightKey", bearer(adminKey), 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, method := range []string{"GET", "PATCH"} {
				r := h.do(method, "/admin/queue?concert_id=1", map[string]any{"admit_per_second": 5}, tc.headers...)
				if r.Code != tc.status {
					t.Errorf("%s: status %d, want %d (%s)", method, r.Code, tc.status, r.Body)
				}
			}
		})
	}
	t.Run("UnsetAdminTokenDisablesAdmin", func(t *testing.T) {
		off := newHarness(t, func(c *config.Config) { c.AdminToken = "" })
		for _, headers := range [][]string{nil, bearer(""), bearer(adminKey)} {
			if r := off.do("GET", "/admin/queue", nil, headers...); r.Code != http.StatusForbidden {
				t.Errorf("status %d, want 403", r.Code)
			}
		}
	})
}

func TestAdminQueue(t *testing.T) {
	h := newHarness(t, nil)
	h.enter("a")
	h.enter("b")
	t.Run("Get", func(t *testing.T) {
		r := h.admin("GET", "/admin/queue?concert_id=1", nil)
		if r.Code != 200 || r.num("concert_id") != 1 || r.num("waiting") != 2 || r.num("admit_per_second") != 100 ||
			r.num("max_active") != 1000 || r.num("active_ttl_seconds") != 600 || r.body["paused"] != false {
			t.Errorf("GET = %d %s", r.Code, r.Body)
		}
		for _, f := range []string{"active", "admitted_total"} {
			if _, ok := r.body[f]; !ok {
				t.Errorf("missing %s", f)
			}
		}
	})
	t.Run("Patch", func(t *testing.T) {
		r := h.admin("PATCH", "/admin/queue?concert_id=1", map[string]any{
			"admit_per_second": 250, "max_active": 50, "active_ttl_seconds": 120, "paused": true, "unknown": "ignored",
		})
		if r.Code != 200 || r.num("admit_per_second") != 250 || r.num("max_active") != 50 ||
			r.num("active_ttl_seconds") != 120 || r.body["paused"] != true {
			t.Fatalf("PATCH = %d %s", r.Code, r.Body)
		}
		if r := h.admin("GET", "/admin/queue", nil); r.num("admit_per_second") != 250 || r.body["paused"] != true {
			t.Errorf("settings not kept: %s", r.Body)
		}
	})
	for _, tc := range []struct {
		name string
		body any
	}{
		{"ErrNegativeRate", map[string]any{"admit_per_second": -1}},
		{"ErrRateNotNumber", map[string]any{"admit_per_second": "fast"}},
		{"ErrMaxActiveFraction", map[string]any{"max_active": 1.5}},
		{"ErrTTLZero", map[string]any{"active_ttl_seconds": 0}},
		{"ErrPausedNotBool", map[string]any{"paused": "yes"}},
		{"ErrMalformed", `{"paused":`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.admin("GET", "/admin/queue", nil)
			r := h.admin("PATCH", "/admin/queue", tc.body)
			if r.Code != 400 || r.code() != "invalid_request" {
				t.Errorf("got %d %q, want 400 invalid_request", r.Code, r.code())
			}
			after := h.admin("GET", "/admin/queue", nil)
			if before.Body.String() != after.Body.String() {
				t.Errorf("a rejected PATCH changed settings: %s → %s", before.Body, after.Body)
			}
		})
	}
	t.Run("ErrUnknownConcert", func(t *testing.T) {
		if r := h.admin("GET", "/admin/queue?concert_id=77", nil); r.Code != 404 || r.code() != "concert_not_found" {
			t.Errorf("got %d %q", r.Code, r.code())
		}
		if r := h.admin("GET", "/admin/queue?concert_id=abc", nil); r.Code != 400 {
			t.Errorf("got %d, want 400", r.Code)
		}
	})
}

func TestOperations(t *testing.T) {
	h := newHarness(t, nil)
	for _, path := range []string{"/healthz", "/readyz"} {
		if r := h.do("GET", path, nil); r.Code != 200 {
			t.Errorf("%s: %d %s", path, r.Code, r.Body)
		}
	}
	h.enter("metered")
	if _, err := h.gw.Queue.Admit(h.ctx, 1); err != nil { // a tick of this replica's admission loop
		t.Fatal(err)
	}
	r := h.do("GET", "/metrics", nil)
	for _, want := range []string{
		`rushgate_http_requests_total{route="/api/tokens",status="201"} 1`,
		`rushgate_queue_waiting{concert_id="1"} 1`,
		`rushgate_queue_admit_per_second{concert_id="1"} 100`,
		`rushgate_queue_paused{concert_id="1"} 0`,
	} {
		if r.Code != 200 || !strings.Contains(r.Body.String(), want) {
			t.Errorf("/metrics: %d, missing %s", r.Code, want)
		}
	}
	if r := h.do("GET", "/no/such/route", nil); r.Code != 404 || r.code() != "not_found" {
		t.Errorf("unknown route: %d %q", r.Code, r.code())
	}
}
