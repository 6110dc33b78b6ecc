package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/queue"
)

func TestEnter(t *testing.T) {
	h := newHarness(t, nil)
	t.Run("OK", func(t *testing.T) {
		r := h.do("POST", "/api/tokens", map[string]any{"user_id": "test1234", "concert_id": 1})
		if r.Code != http.StatusCreated {
			t.Fatalf("status = %d %s", r.Code, r.Body)
		}
		if r.str("token") == "" || r.num("token_id") < 1 || r.str("user_id") != "test1234" || r.num("concert_id") != 1 ||
			r.str("status") != "waiting" || r.num("queue_position") != 1 {
			t.Errorf("body = %s", r.Body)
		}
		issued, err1 := time.Parse(time.RFC3339, r.str("issued_at"))
		expires, err2 := time.Parse(time.RFC3339, r.str("expiration_time"))
		if err1 != nil || err2 != nil || expires.Sub(issued) != 2*time.Hour {
			t.Errorf("times %q %q: want RFC 3339, two hours apart", r.str("issued_at"), r.str("expiration_time"))
		}
	})
	t.Run("AgainReturnsTheSameTokenWith200", func(t *testing.T) {
		first := h.do("POST", "/api/tokens", map[string]any{"user_id": "again"})
		second := h.do("POST", "/api/tokens", map[string]any{"user_id": "again"})
		if first.Code != 201 || second.Code != 200 || first.str("token") != second.str("token") {
			t.Errorf("statuses %d %d, tokens equal %v", first.Code, second.Code, first.str("token") == second.str("token"))
		}
	})
	t.Run("DefaultConcert", func(t *testing.T) {
		if r := h.do("POST", "/api/tokens", map[string]any{"user_id": "nodefault"}); r.num("concert_id") != 1 {
			t.Errorf("concert_id = %d, want 1", r.num("concert_id"))
		}
	})
	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"ErrMissingUser", map[string]any{}, 400, "invalid_request"},
		{"ErrUserNotString", map[string]any{"user_id": 42}, 400, "invalid_request"},
		{"ErrUserTooLong", map[string]any{"user_id": strings.Repeat("x", 65)}, 400, "invalid_request"},
		{"ErrUserHostile", map[string]any{"user_id": "x'; DROP TABLE users;--"}, 400, "invalid_request"},
		{"ErrUserLuaMeta", map[string]any{"user_id": "a:b{c}"}, 400, "invalid_request"},
		{"ErrConcertNotInteger", map[string]any{"user_id": "u", "concert_id": "1"}, 400, "invalid_request"},
		{"ErrConcertFraction", map[string]any{"user_id": "u", "concert_id": 1.5}, 400, "invalid_request"},
		{"ErrConcertZero", map[string]any{"user_id": "u", "concert_id": 0}, 400, "invalid_request"},
		{"ErrConcertNotFound", map[string]any{"user_id": "u", "concert_id": 99}, 404, "concert_not_found"},
		{"ErrMalformedJSON", `{"user_id":`, 400, "invalid_request"},
		{"ErrNotAnObject", `["user_id"]`, 400, "invalid_request"},
		{"ErrEmptyBody", "", 400, "invalid_request"},
		{"ErrBodyTooLarge", `{"user_id":"u","pad":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "body_too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do("POST", "/api/tokens", tc.body)
			if r.Code != tc.status || r.code() != tc.code {
				t.Errorf("got %d %q, want %d %q (%s)", r.Code, r.code(), tc.status, tc.code, r.Body)
			}
			if msg, _ := r.body["error"].(map[string]any)["message"].(string); msg == "" {
				t.Errorf("error without a message: %s", r.Body)
			}
		})
	}
	t.Run("ErrBadInputChangesNothing", func(t *testing.T) {
		st, _ := h.gw.Queue.Status(h.ctx, 1)
		h.do("POST", "/api/tokens", map[string]any{"user_id": "bad user"})
		after, _ := h.gw.Queue.Status(h.ctx, 1)
		if after.Waiting != st.Waiting {
			t.Errorf("waiting %d → %d after a rejected entry", st.Waiting, after.Waiting)
		}
	})
}

func TestEnterIsRateLimitedPerClient(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.EnterRatePerIP = 2; c.TrustedProxies = []string{"192.0.2.1"} })
	for i := 0; i < 2; i++ {
		if r := h.do("POST", "/api/tokens", map[string]any{"user_id": "burst"}); r.Code >= 400 {
			t.Fatalf("request %d: %d", i, r.Code)
		}
	}
	r := h.do("POST", "/api/tokens", map[string]any{"user_id": "burst"})
	if r.Code != http.StatusTooManyRequests || r.code() != "rate_limited" || r.Header().Get("Retry-After") == "" {
		t.Errorf("third request: %d %q Retry-After=%q", r.Code, r.code(), r.Header().Get("Retry-After"))
	}
	// Behind the trusted proxy, another client (by X-Forwarded-For) has its own budget.
	r = h.do("POST", "/api/tokens", map[string]any{"user_id": "other"}, "X-Forwarded-For", "198.51.100.7")
	if r.Code >= 400 {
		t.Errorf("another client behind the proxy: %d", r.Code)
	}
}

func TestTokenTable(t *testing.T) {
	h := newHarness(t, nil)
	active := h.activeToken("active-user")
	released := h.activeToken("released-user")
	claims, err := h.gw.Queue.Signer().Parse(released)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.gw.Queue.Release(h.ctx, claims); err != nil {
		t.Fatal(err)
	}
	behind := h.enter("behind") // waiting, first in line now
	forged := queue.NewSigner([]byte("another key")).Sign(claims)
	datesPath := "/api/reservationData/available"
	for _, tc := range []struct {
		name    string
		headers []string
		status  int
		code    string
	}{
		{"NoHeader", nil, 401, "invalid_token"},
		{"NotBearer", []string{"Authorization", "Basic abc"}, 401, "invalid_token"},
		{"Malformed", bearer("not-a-token"), 401, "invalid_token"},
		{"BadSignature", bearer(forged), 401, "invalid_token"},
		{"Released", bearer(released), 401, "token_expired"},
		{"Waiting", bearer(behind), 403, "not_admitted"},
		{"Active", bearer(active), 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do("GET", datesPath, nil, tc.headers...)
			if r.Code != tc.status || r.code() != tc.code {
				t.Errorf("got %d %q, want %d %q (%s)", r.Code, r.code(), tc.status, tc.code, r.Body)
			}
		})
	}
	t.Run("WaitingCarriesItsPosition", func(t *testing.T) {
		r := h.do("GET", datesPath, nil, bearer(behind)...)
		if got := r.num("queue_position"); got != 1 {
			t.Errorf("queue_position = %d, want 1 (%s)", got, r.Body)
		}
	})
	t.Run("UserMismatch", func(t *testing.T) {
		r := h.do("POST", "/api/reservation", map[string]any{
			"user_id": "someone-else", "reservation_date": time.Now().AddDate(0, 0, 1).Format("2006-01-02"), "reservation_seat": 1,
		}, bearer(active)...)
		if r.Code != 403 || r.code() != "user_mismatch" {
			t.Errorf("got %d %q, want 403 user_mismatch", r.Code, r.code())
		}
	})
	t.Run("ExpiredActive", func(t *testing.T) {
		ttl := time.Second
		if _, err := h.gw.Queue.UpdateSettings(h.ctx, 1, queue.SettingsPatch{ActiveTTL: &ttl}); err != nil {
			t.Fatal(err)
		}
		short := h.activeToken("short-lived")
		deadline := time.Now().Add(5 * time.Second)
		for {
			r := h.do("GET", datesPath, nil, bearer(short)...)
			if r.Code == 401 && r.code() == "token_expired" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("active token never expired: %d %s", r.Code, r.Body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

func TestPosition(t *testing.T) {
	h := newHarness(t, nil)
	rate := 10.0
	if _, err := h.gw.Queue.UpdateSettings(h.ctx, 1, queue.SettingsPatch{AdmitPerSecond: &rate}); err != nil {
		t.Fatal(err)
	}
	var last string
	for _, u := range []string{"p1", "p2", "p3", "p4", "p5"} {
		last = h.enter(u)
	}
	t.Run("Waiting", func(t *testing.T) {
		r := h.do("GET", "/api/queue/position", nil, bearer(last)...)
		if r.Code != 200 || r.str("status") != "waiting" || r.num("queue_position") != 5 || r.num("ahead") != 4 ||
			r.num("poll_after_ms") < 1000 || r.num("token_id") < 1 {
			t.Fatalf("poll = %d %s", r.Code, r.Body)
		}
		if _, ok := r.body["estimated_wait_seconds"].(float64); !ok {
			t.Errorf("estimated_wait_seconds = %v, want a number", r.body["estimated_wait_seconds"])
		}
	})
	t.Run("PausedHasNullEstimate", func(t *testing.T) {
		h.admin("PATCH", "/admin/queue", map[string]any{"paused": true})
		h.gw.Queue.Admit(h.ctx, 1) // the replica's loop tick
		r := h.do("GET", "/api/queue/position", nil, bearer(last)...)
		if v, present := r.body["estimated_wait_seconds"]; !present || v != nil {
			t.Errorf("estimated_wait_seconds = %v (present %v), want null", v, present)
		}
		h.admin("PATCH", "/admin/queue", map[string]any{"paused": false})
	})
	t.Run("Active", func(t *testing.T) {
		h.admitAll()
		r := h.do("GET", "/api/queue/position", nil, bearer(last)...)
		if r.Code != 200 || r.str("status") != "active" || r.num("queue_position") != 0 {
			t.Fatalf("poll = %d %s", r.Code, r.Body)
		}
		if _, err := time.Parse(time.RFC3339, r.str("active_until")); err != nil {
			t.Errorf("active_until = %q: %v", r.str("active_until"), err)
		}
	})
	t.Run("ErrNoToken", func(t *testing.T) {
		if r := h.do("GET", "/api/queue/position", nil); r.Code != 401 || r.code() != "invalid_token" {
			t.Errorf("got %d %q", r.Code, r.code())
		}
	})
}

// Token issues arriving together share script runs (REDIS_BATCH): each
// still gets its own place, 201 once per user and 200 with the same token
// after, and the line admits as before.
func TestQueueWithBatchedIssuesKeepsStrictOrder(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.RedisBatch = 16 })
	const n = 200
	type answer struct {
		user   int
		code   int
		pos    int64
		seq    int64
		status string
	}
	answers := make(chan answer, 2*n)
	var wg sync.WaitGroup
	for i := 0; i < 2*n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			u := i % n // every user twice, at once
			r := h.do("POST", "/api/tokens", map[string]any{"user_id": fmt.Sprintf("ap%d", u)})
			answers <- answer{u, r.Code, r.num("queue_position"), r.num("token_id"), r.str("status")}
		}(i)
	}
	wg.Wait()
	close(answers)
	seen := make(map[int64]bool)
	seqOf := make(map[int]int64)
	created := make(map[int]int)
	for a := range answers {
		if a.code != http.StatusCreated && a.code != http.StatusOK || a.status != "waiting" {
			t.Fatalf("user %d: %d %q", a.user, a.code, a.status)
		}
		if s, ok := seqOf[a.user]; ok && s != a.seq {
			t.Fatalf("user %d got two places: token ids %d and %d", a.user, s, a.seq)
		}
		seqOf[a.user] = a.seq
		if a.code == http.StatusCreated {
			created[a.user]++
			if a.pos < 1 || a.pos > n || seen[a.pos] {
				t.Fatalf("position %d repeated or out of 1..%d", a.pos, n)
			}
			seen[a.pos] = true
		}
	}
	for u := 0; u < n; u++ {
		if created[u] != 1 {
			t.Fatalf("user %d was answered 201 %d times, want once", u, created[u])
		}
	}
	tok := h.activeToken("ap-buyer")
	if r := h.do("POST", "/api/reservation", holdBody("ap-buyer", day(1), 1), bearer(tok)...); r.Code != http.StatusCreated {
		t.Errorf("hold after admission: %d %s", r.Code, r.Body)
	}
}
