package httpapi_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/draw"
	"github.com/rushgate/rushgate/internal/gatewaytest"
)

// smallHarness is a harness whose concert 1 has one date of the given seats.
func smallHarness(t *testing.T, seats int, change func(*config.Config)) *harness {
	t.Helper()
	r := gatewaytest.New(t, 1, seats, 10000, change)
	return &harness{t: t, gw: r.Gateway, cfg: r.Config, ctx: context.Background(), rdb: r.Redis, db: r.DB}
}

func TestPrequeueAndDrawOverHTTP(t *testing.T) {
	// Nobody is admitted here (max_active 0), so the admission step that
	// follows the placement at the open, with the credit the placement's
	// own time earned, cannot take the drawn pre-queue out of the line.
	h := newHarness(t, func(c *config.Config) { c.MaxActive = 0 })
	opens := time.Now().Add(time.Hour).Truncate(time.Second)
	cr := h.admin("POST", "/admin/concerts", map[string]any{
		"name": "Scheduled", "dates": []string{day(2)}, "opens_at": opens.Format(time.RFC3339),
		"seats": []any{map[string]any{"from": 1, "to": 5, "price": 10000}},
	})
	if cr.Code != http.StatusCreated {
		t.Fatalf("create a scheduled concert: %d %s", cr.Code, cr.Body)
	}
	id := cr.num("concert_id")
	ids := strconv.FormatInt(id, 10)
	d0, err := h.gw.Queue.Draw(h.ctx, id, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	sch := struct{ Commitment string }{d0.Commitment}
	if _, err := h.gw.Queue.Admit(h.ctx, id); err != nil {
		t.Fatal(err)
	}
	e := h.do("POST", "/api/tokens", map[string]any{"user_id": "early", "concert_id": id})
	if e.Code != 201 || e.str("status") != "prequeue" || e.body["queue_position"] != nil || e.str("opens_at") != opens.Format(time.RFC3339) {
		t.Fatalf("entry before the open = %d %s, want prequeue, queue_position null, opens_at", e.Code, e.Body)
	}
	tok := e.str("token")
	p := h.do("GET", "/api/queue/position", nil, bearer(tok)...)
	if p.Code != 200 || p.str("status") != "prequeue" || p.body["queue_position"] != nil || p.str("opens_at") == "" || p.num("poll_after_ms") < 1000 {
		t.Errorf("pre-queue poll = %d %s", p.Code, p.Body)
	}
	if r := h.do("GET", "/api/reservationData/available", nil, bearer(tok)...); r.Code != 403 || r.code() != "not_admitted" {
		t.Errorf("pre-queue token at an active route = %d %s, want 403 not_admitted", r.Code, r.Body)
	}
	d := h.do("GET", "/api/concerts/"+ids+"/draw", nil)
	if d.Code != 200 || d.str("commitment") != sch.Commitment || d.num("entrants") != 1 || d.body["seed"] != nil || d.body["keys"] != nil {
		t.Errorf("draw before the open = %d %s, want the commitment, 1 entrant, no seed or keys", d.Code, d.Body)
	}

	past := time.Now().Add(time.Second).Truncate(time.Second)
	if r := h.admin("PATCH", "/admin/concerts/"+ids, map[string]any{"opens_at": past.Format(time.RFC3339)}); r.Code != 200 {
		t.Fatalf("move the open: %d %s", r.Code, r.Body)
	}
	for time.Now().Before(past) {
		time.Sleep(10 * time.Millisecond)
	}
	for _, u := range []string{"early2", "early3"} {
		if r := h.do("POST", "/api/tokens", map[string]any{"user_id": u, "concert_id": id}); r.Code != 201 {
			t.Fatalf("enter %s: %d %s", u, r.Code, r.Body)
		}
	}
	if _, err := h.gw.Queue.Admit(h.ctx, id); err != nil {
		t.Fatal(err)
	}
	d = h.do("GET", "/api/concerts/"+ids+"/draw?offset=0&limit=10000", nil)
	keys, _ := d.body["keys"].([]any)
	var ks []string
	for _, k := range keys {
		s, _ := k.(string)
		ks = append(ks, s)
	}
	seed, err := draw.Verify(draw.Published{Commitment: d.str("commitment"), Seed: d.str("seed"), KeysDigest: d.str("keys_digest"), Entrants: d.num("entrants"), Keys: ks})
	if d.Code != 200 || err != nil || d.str("commitment") != sch.Commitment {
		t.Fatalf("draw after the open = %d %s: %v", d.Code, d.Body, err)
	}
	place := draw.Place(ks, draw.Key(seed, "early"))
	p = h.do("GET", "/api/queue/position", nil, bearer(tok)...)
	if p.Code != 200 || p.str("status") != "waiting" || p.num("queue_position") != int64(place) {
		t.Errorf("poll after the open = %d %s, want waiting at %d (its draw place)", p.Code, p.Body, place)
	}
	if page := h.do("GET", "/api/concerts/"+ids+"/draw?offset=2&limit=5", nil); len(page.body["keys"].([]any)) != 1 {
		t.Errorf("page from offset 2 = %s, want the one last key", page.Body)
	}
	st := h.admin("GET", "/admin/queue?concert_id="+ids, nil)
	if st.str("opens_at") != past.Format(time.RFC3339) || st.str("state") != "open" {
		t.Errorf("admin queue after the open = %s", st.Body)
	}
	for _, c := range []struct {
		path   string
		status int
		code   string
	}{
		{"/api/concerts/abc/draw", 400, "invalid_request"},
		{"/api/concerts/0/draw", 400, "invalid_request"},
		{"/api/concerts/" + ids + "/draw?limit=0", 400, "invalid_request"},
		{"/api/concerts/" + ids + "/draw?limit=10001", 400, "invalid_request"},
		{"/api/concerts/" + ids + "/draw?offset=-1", 400, "invalid_request"},
		{"/api/concerts/99/draw", 404, "concert_not_found"},
	} {
		if r := h.do("GET", c.path, nil); r.Code != c.status || r.code() != c.code {
			t.Errorf("GET %s = %d %s, want %d %s", c.path, r.Code, r.Body, c.status, c.code)
		}
	}
	if r := h.admin("PATCH", "/admin/concerts/"+ids, map[string]any{"opens_at": opens.Format(time.RFC3339)}); r.Code != 409 || r.code() != "sale_open" {
		t.Errorf("moving the open after it: %d %s, want 409 sale_open", r.Code, r.Body)
	}
}

func TestDrawOfAnUnscheduledConcertIs404(t *testing.T) {
	h := newHarness(t, nil)
	if r := h.do("GET", "/api/concerts/1/draw", nil); r.Code != 404 || r.code() != "draw_not_found" {
		t.Errorf("draw of an unscheduled concert = %d %s, want 404 draw_not_found", r.Code, r.Body)
	}
	st := h.admin("GET", "/admin/queue", nil)
	if st.body["opens_at"] != nil || st.str("state") != "open" || st.num("skipped_inactive_total") != 0 {
		t.Errorf("admin queue of an unscheduled concert = %s", st.Body)
	}
}

func TestAdmissionWaitsForAHoldToLapse(t *testing.T) {
	h := smallHarness(t, 1, func(c *config.Config) { c.HoldTTL = time.Second })
	tok := h.activeToken("holder")
	if r := h.do("POST", "/api/reservation", holdBody("holder", day(1), 1), bearer(tok)...); r.Code != 201 {
		t.Fatalf("hold: %d %s", r.Code, r.Body)
	}
	waiter := h.enter("waiter")
	for i := 0; i < 3; i++ {
		if a, err := h.gw.Queue.Admit(h.ctx, 1); err != nil || a.Admitted != 0 || a.FreeSeats != 0 {
			t.Fatalf("admission while the only seat is held = %+v, %v; want nobody admitted", a, err)
		}
	}
	if st := h.admin("GET", "/admin/queue", nil); st.num("free_seats") != 0 || st.str("state") != "open" || st.num("waiting") != 1 {
		t.Errorf("admin queue while all is held = %s, want free_seats 0, state open, 1 waiting", st.Body)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := h.gw.Queue.Admit(h.ctx, 1); err != nil {
			t.Fatal(err)
		}
		if p := h.do("GET", "/api/queue/position", nil, bearer(waiter)...); p.str("status") == "active" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the waiter was not admitted after the hold lapsed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSoldOutOverHTTP(t *testing.T) {
	h := smallHarness(t, 2, nil)
	for i := 0; i < 2; i++ {
		user := "buyer" + strconv.Itoa(i)
		tok, rid := h.paymentSetup(user, 10000)
		if r := h.do("POST", "/api/payment", payBody(user, rid, 10000), bearer(tok)...); r.Code != 201 {
			t.Fatalf("payment: %d %s", r.Code, r.Body)
		}
	}
	waiter := h.enter("waiter")
	if _, err := h.gw.Queue.Admit(h.ctx, 1); err != nil {
		t.Fatal(err)
	}
	p := h.do("GET", "/api/queue/position", nil, bearer(waiter)...)
	if p.Code != http.StatusOK || p.str("status") != "sold_out" || p.body["queue_position"] != nil {
		t.Errorf("poll after the sell-out = %d %s", p.Code, p.Body)
	}
	if _, ok := p.body["poll_after_ms"]; ok {
		t.Errorf("sold-out poll carries poll_after_ms: %s", p.Body)
	}
	if r := h.do("POST", "/api/tokens", map[string]any{"user_id": "latecomer"}); r.Code != http.StatusConflict || r.code() != "sold_out" {
		t.Errorf("entry after the sell-out = %d %s, want 409 sold_out", r.Code, r.Body)
	}
	st := h.admin("GET", "/admin/queue", nil)
	if st.str("state") != "sold_out" || st.num("waiting") != 0 || st.num("free_seats") != 0 {
		t.Errorf("admin queue after the sell-out = %s", st.Body)
	}
}
