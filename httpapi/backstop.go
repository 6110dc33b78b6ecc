package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// backstop answers 503 unavailable, with Retry-After, for a request whose
// handler is still running limit after it began, and drops what the handler
// writes afterwards. Every handler is already bounded by the request
// deadline; this is for the calls that do not honour it — lib/pq stays
// blocked on a silent network whatever its context says — so that the
// contract's "never a hang" holds whatever a domain package does. The
// handler runs on in the background until its call returns.
//
// Polls skip it: they read only memory and Redis, whose client has its own
// deadlines, and they are the hot path of a rush.
type backstop struct {
	next  http.Handler
	limit time.Duration
	skip  func(*http.Request) bool
}

func (b backstop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if b.skip != nil && b.skip(r) {
		b.next.ServeHTTP(w, r)
		return
	}
	bw := &bufferedWriter{header: make(http.Header)}
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		b.next.ServeHTTP(bw, r)
	}()
	timer := time.NewTimer(b.limit)
	defer timer.Stop()
	select {
	case p := <-done:
		if p != nil {
			panic(p) // http.ErrAbortHandler: abort the response as the handler meant
		}
		bw.copyTo(w)
	case <-timer.C:
		bw.abandon()
		var body errorBody
		body.Error.Code, body.Error.Message = "unavailable", messages["unavailable"]
		raw, _ := json.Marshal(body)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write(raw)
	}
}

// bufferedWriter holds a handler's response until it is known to be in time.
type bufferedWriter struct {
	mu        sync.Mutex
	header    http.Header
	status    int
	body      bytes.Buffer
	abandoned bool
}

func (w *bufferedWriter) Header() http.Header { return w.header }

func (w *bufferedWriter) WriteHeader(status int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.status == 0 {
		w.status = status
	}
}

func (w *bufferedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.abandoned {
		return 0, http.ErrHandlerTimeout
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(p)
}

// Flush does nothing: the response goes out whole once the handler is done.
// (gin's writer asserts http.Flusher when asked to flush.)
func (w *bufferedWriter) Flush() {}

func (w *bufferedWriter) abandon() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.abandoned = true
}

func (w *bufferedWriter) copyTo(dst http.ResponseWriter) {
	h := dst.Header()
	for k, v := range w.header {
		h[k] = v
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	dst.WriteHeader(w.status)
	dst.Write(w.body.Bytes())
}
