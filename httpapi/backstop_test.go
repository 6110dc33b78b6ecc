package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestBackstop(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/stuck": // a call that ignores its context, as lib/pq on a silent network
			<-release
			w.Write([]byte("too late"))
		case "/abort":
			panic(http.ErrAbortHandler)
		default:
			w.Header().Set("X-Answer", "42")
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`{"ok":true}`))
		}
	})
	b := backstop{next: handler, limit: 50 * time.Millisecond, skip: isPoll}

	t.Run("InTimeIsPassedOn", func(t *testing.T) {
		rec := httptest.NewRecorder()
		b.ServeHTTP(rec, httptest.NewRequest("GET", "/fine", nil))
		if rec.Code != 201 || rec.Header().Get("X-Answer") != "42" || rec.Body.String() != `{"ok":true}` {
			t.Errorf("got %d %v %q", rec.Code, rec.Header(), rec.Body)
		}
	})
	t.Run("StuckIsAnswered503", func(t *testing.T) {
		rec := httptest.NewRecorder()
		start := time.Now()
		b.ServeHTTP(rec, httptest.NewRequest("POST", "/stuck", nil))
		if d := time.Since(start); d > time.Second {
			t.Errorf("answered after %v", d)
		}
		var body errorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 503 || body.Error.Code != "unavailable" ||
			rec.Header().Get("Retry-After") == "" || rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("got %d %v %q", rec.Code, rec.Header(), rec.Body)
		}
	})
	t.Run("AbortStillAborts", func(t *testing.T) {
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Errorf("recovered %v, want http.ErrAbortHandler", p)
			}
		}()
		b.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/abort", nil))
	})
	t.Run("PollsSkipIt", func(t *testing.T) {
		direct := false
		probe := backstop{next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, direct = w.(*httptest.ResponseRecorder)
		}), limit: time.Hour, skip: isPoll}
		probe.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/queue/position", nil))
		if !direct {
			t.Error("the poll was buffered, not served directly")
		}
	})
}
