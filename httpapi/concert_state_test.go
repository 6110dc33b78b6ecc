package httpapi_test

import (
	"testing"
)

// The operator's console shows a concert's state from the catalogue and the
// queue routes; once the last seat is sold each of them says sold_out.
func TestEveryRouteShowsTheStateSoldOut(t *testing.T) {
	h := smallHarness(t, 1, nil)
	routes := []struct {
		name  string
		state func() string
	}{
		{"GET /admin/queue", func() string { return h.admin("GET", "/admin/queue?concert_id=1", nil).str("state") }},
		{"GET /admin/concerts/1", func() string { return h.admin("GET", "/admin/concerts/1", nil).str("state") }},
		{"GET /admin/concerts", func() string { return listedState(h.admin("GET", "/admin/concerts", nil)) }},
		{"GET /api/concerts/1", func() string { return h.do("GET", "/api/concerts/1", nil).str("state") }},
	}
	if _, err := h.gw.Queue.Admit(h.ctx, 1); err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		if got := r.state(); got != "open" {
			t.Errorf("%s before the sale: state %q, want open", r.name, got)
		}
	}
	tok, rid := h.paymentSetup("buyer", 10000)
	if r := h.do("POST", "/api/payment", payBody("buyer", rid, 10000), bearer(tok)...); r.Code != 201 {
		t.Fatalf("payment: %d %s", r.Code, r.Body)
	}
	if _, err := h.gw.Queue.Admit(h.ctx, 1); err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		if got := r.state(); got != "sold_out" {
			t.Errorf("%s after the last seat sold: state %q, want sold_out", r.name, got)
		}
	}
}

// listedState is the state of concert 1 in a concert list.
func listedState(r response) string {
	list, _ := r.body["concerts"].([]any)
	for _, c := range list {
		if m, ok := c.(map[string]any); ok && m["concert_id"] == float64(1) {
			s, _ := m["state"].(string)
			return s
		}
	}
	return ""
}
