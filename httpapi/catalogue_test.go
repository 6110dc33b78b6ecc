package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// decodeInto re-reads a response body into v, keeping 63-bit ids exact.
func decodeInto(t *testing.T, r response, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body.Bytes(), v); err != nil {
		t.Fatalf("body %s: %v", r.Body, err)
	}
}

type concertJSON struct {
	ConcertID int64      `json:"concert_id"`
	Name      string     `json:"name"`
	OpensAt   *time.Time `json:"opens_at"`
	State     string     `json:"state"`
	Dates     []struct {
		Date                    string
		Seats, Sold, Held, Free int
	} `json:"dates"`
	Seats []struct{ From, To, Price int64 } `json:"seats"`
}

func TestCatalogueCreateGetAndCount(t *testing.T) {
	h := newHarness(t, nil)
	r := h.admin("POST", "/admin/concerts", map[string]any{
		"name": "IU 2026", "dates": []string{day(3), day(2)},
		"seats": []any{map[string]any{"from": 101, "to": 105, "price": 90000}, map[string]any{"from": 1, "to": 3, "price": 150000}},
	})
	if r.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Code, r.Body)
	}
	var c concertJSON
	decodeInto(t, r, &c)
	if c.ConcertID <= 1 || c.Name != "IU 2026" || c.OpensAt != nil || c.State != "open" {
		t.Errorf("created %+v", c)
	}
	if got, want := fmt.Sprint(c.Dates), fmt.Sprintf("[{%s 8 0 0 8} {%s 8 0 0 8}]", day(2), day(3)); got != want {
		t.Errorf("dates = %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(c.Seats), "[{1 3 150000} {101 105 90000}]"; got != want {
		t.Errorf("seats = %s, want %s", got, want)
	}
	id := strconv.FormatInt(c.ConcertID, 10)

	t.Run("a hold shows in the counts of its date", func(t *testing.T) {
		if r := h.do("POST", "/api/tokens", map[string]any{"user_id": "fan2", "concert_id": c.ConcertID}); r.Code != 201 {
			t.Fatalf("enter: %d %s", r.Code, r.Body)
		}
		ctx := h.ctx
		if _, err := h.gw.Booking.Hold(ctx, c.ConcertID, "fan2", day(2), 102); err != nil {
			t.Fatal(err)
		}
		var got concertJSON
		decodeInto(t, h.admin("GET", "/admin/concerts/"+id, nil), &got)
		if s := fmt.Sprint(got.Dates); s != fmt.Sprintf("[{%s 8 0 1 7} {%s 8 0 0 8}]", day(2), day(3)) {
			t.Errorf("after a hold: %s", s)
		}
	})

	t.Run("the list shows every concert", func(t *testing.T) {
		r := h.admin("GET", "/admin/concerts", nil)
		var list struct {
			Concerts []struct {
				ConcertID int64    `json:"concert_id"`
				Name      string   `json:"name"`
				Dates     []string `json:"dates"`
			}
		}
		decodeInto(t, r, &list)
		if len(list.Concerts) != 2 || list.Concerts[1].ConcertID != c.ConcertID || fmt.Sprint(list.Concerts[1].Dates) != fmt.Sprint([]string{day(2), day(3)}) {
			t.Errorf("list = %s", r.Body)
		}
	})

	t.Run("the public routes show no counts and may be cached briefly", func(t *testing.T) {
		r := h.do("GET", "/api/concerts/"+id, nil)
		if r.Code != 200 || r.Header().Get("Cache-Control") != "public, max-age=5" {
			t.Fatalf("public get: %d %q %s", r.Code, r.Header().Get("Cache-Control"), r.Body)
		}
		var pub map[string]any
		decodeInto(t, r, &pub)
		for _, k := range []string{"concert_id", "name", "opens_at", "state", "dates", "seats"} {
			if _, ok := pub[k]; !ok {
				t.Errorf("public concert lacks %q: %s", k, r.Body)
			}
		}
		if len(pub) != 6 || fmt.Sprint(pub["dates"]) != fmt.Sprint([]string{day(2), day(3)}) {
			t.Errorf("public concert = %s", r.Body)
		}
		r = h.do("GET", "/api/concerts", nil)
		var list struct{ Concerts []map[string]any }
		decodeInto(t, r, &list)
		if len(list.Concerts) != 2 || r.Header().Get("Cache-Control") != "public, max-age=5" {
			t.Fatalf("public list: %s", r.Body)
		}
		for _, con := range list.Concerts {
			if len(con) != 5 || con["state"] != "open" {
				t.Errorf("public list item = %v", con)
			}
		}
	})
}

func TestCatalogueChangesOpeningOnlyBeforeTheSale(t *testing.T) {
	h := newHarness(t, nil)
	opens := time.Now().Add(time.Hour).Truncate(time.Second)
	r := h.admin("POST", "/admin/concerts", map[string]any{
		"name": "later", "dates": []string{day(4)}, "opens_at": opens.Format(time.RFC3339),
		"seats": []any{map[string]any{"from": 1, "to": 10, "price": 1000}},
	})
	var c concertJSON
	decodeInto(t, r, &c)
	if r.Code != 201 || c.OpensAt == nil || !c.OpensAt.Equal(opens) || c.State != "scheduled" {
		t.Fatalf("create scheduled: %d %s", r.Code, r.Body)
	}
	path := "/admin/concerts/" + strconv.FormatInt(c.ConcertID, 10)
	later := opens.Add(time.Hour)
	if r := h.admin("PATCH", path, map[string]any{"opens_at": later.Format(time.RFC3339), "name": "later still"}); r.Code != 200 {
		t.Fatalf("move the opening: %d %s", r.Code, r.Body)
	}
	decodeInto(t, h.admin("GET", path, nil), &c)
	if c.Name != "later still" || !c.OpensAt.Equal(later) {
		t.Errorf("after patch: %+v", c)
	}
	// Clearing opens_at opens the sale now; from then on it is fixed.
	if r := h.admin("PATCH", path, map[string]any{"opens_at": nil}); r.Code != 200 || r.body["opens_at"] != nil || r.str("state") != "open" {
		t.Fatalf("clear the opening: %d %s", r.Code, r.Body)
	}
	if r := h.admin("PATCH", path, map[string]any{"opens_at": later.Format(time.RFC3339)}); r.Code != 409 || r.code() != "sale_open" {
		t.Errorf("reschedule an open sale: %d %s", r.Code, r.Body)
	}
	if r := h.admin("PATCH", path, map[string]any{"name": "renamed while open"}); r.Code != 200 || r.str("name") != "renamed while open" {
		t.Errorf("rename an open sale: %d %s", r.Code, r.Body)
	}
}

// createConcertNumbered has Postgres give the next concert the id, then
// creates it through the admin API: one date (day 2) of seats seats at 1,000
// won.
func (h *harness) createConcertNumbered(t *testing.T, id int64, seats int) {
	t.Helper()
	if _, err := h.db.Exec(`SELECT setval(pg_get_serial_sequence('concerts', 'concert_id'), $1)`, id-1); err != nil {
		t.Fatal(err)
	}
	r := h.admin("POST", "/admin/concerts", map[string]any{
		"name": "big id", "dates": []string{day(2)}, "seats": []any{map[string]any{"from": 1, "to": seats, "price": 1000}},
	})
	var c concertJSON
	decodeInto(t, r, &c)
	if r.Code != 201 || c.ConcertID != id {
		t.Fatalf("create concert %d: %d %s", id, r.Code, r.Body)
	}
}

func TestCatalogueTakesAny63BitConcertID(t *testing.T) {
	h := newHarness(t, nil)
	const big = int64(1)<<62 + 12345
	h.createConcertNumbered(t, big, 2)
	id := strconv.FormatInt(big, 10)
	for _, path := range []string{"/admin/concerts/" + id, "/api/concerts/" + id, "/admin/queue?concert_id=" + id,
		"/admin/queue/stats?seconds=5&concert_id=" + id, "/admin/queue/projection?concert_id=" + id, "/admin/audit?concert_id=" + id} {
		if r := h.admin("GET", path, nil); r.Code != 200 {
			t.Errorf("GET %s: %d %s", path, r.Code, r.Body)
		}
	}
	if r := h.do("POST", "/api/tokens", `{"user_id": "fan", "concert_id": `+id+`}`); r.Code != 201 {
		t.Errorf("enter the line of concert %s: %d %s", id, r.Code, r.Body)
	}
}
