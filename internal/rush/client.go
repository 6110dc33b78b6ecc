package rush

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// maxRetries bounds the retries of one request after transport errors, 429
// and 5xx.
const maxRetries = 5

// NewClient returns an HTTP client that keeps up to conns connections to one
// host alive.
func NewClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
			IdleConnTimeout: 90 * time.Second, DisableCompression: true,
		},
	}
}

// ErrGatewayDown is returned by Run and Tokens when the gateway does not
// answer GET /healthz before anything starts.
var ErrGatewayDown = errors.New("rush: gateway does not answer")

// ping checks that the gateway answers before the clock starts.
func (r *runner) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.opt.BaseURL+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrGatewayDown, r.opt.BaseURL, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s/healthz answered %d", ErrGatewayDown, r.opt.BaseURL, resp.StatusCode)
	}
	return nil
}

// answer is an HTTP answer with the moments its request was sent and its
// body received, as offsets from the start of the run.
type answer struct {
	status     int
	body       []byte
	sent, recv time.Duration
	retryAfter time.Duration
}

// errorCode is the contract's error code in a, if any.
func (a answer) errorCode() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	json.Unmarshal(a.body, &e)
	return e.Error.Code
}

// transient reports whether a failed request may be retried as is.
func transient(a answer, err error) bool {
	return err != nil || a.status == http.StatusTooManyRequests || a.status >= 500
}

// do sends one request, waiting first for a free slot among Concurrency.
// The latency recorded runs from sending to the end of the body, without
// the wait for a slot.
func (r *runner) do(ctx context.Context, method, route, path string, body any, headers ...string) (answer, error) {
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return answer{}, ctx.Err()
	}
	defer func() { <-r.sem }()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return answer{}, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.opt.BaseURL+path, rd)
	if err != nil {
		return answer{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	r.requests.Add(1)
	t0 := time.Now()
	a := answer{sent: t0.Sub(r.start)}
	resp, err := r.client.Do(req)
	if err == nil {
		a.body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	t1 := time.Now()
	a.recv = t1.Sub(r.start)
	if err != nil {
		if ctx.Err() == nil {
			r.stats.transportError(route)
		}
		return a, err
	}
	a.status = resp.StatusCode
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			a.retryAfter = time.Duration(n) * time.Second
		}
	}
	r.stats.observe(route, a.status, t1.Sub(t0))
	return a, nil
}

// backoff is the wait before retry number attempt (from 0).
func backoff(a answer, attempt int) time.Duration {
	if a.retryAfter > 0 {
		return a.retryAfter
	}
	return time.Duration(50<<attempt) * time.Millisecond
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return " transport error"
}

// send sends a request and sends it again, after the backoff, while retry
// says so, at most maxRetries times: the one way the rush retries. retry sees
// every answer, so that it may also note what a lost answer means. send
// returns the last answer, with ctx's error when ctx ends during a wait.
func (r *runner) send(ctx context.Context, retry func(answer, error) bool, method, route, path string, body any, headers ...string) (answer, error) {
	for attempt := 0; ; attempt++ {
		a, err := r.do(ctx, method, route, path, body, headers...)
		if !retry(a, err) || ctx.Err() != nil || attempt >= maxRetries {
			return a, err
		}
		if !sleepCtx(ctx, backoff(a, attempt)) {
			return a, ctx.Err()
		}
	}
}

// get sends a GET, retrying transient failures.
func (r *runner) get(ctx context.Context, route, path, auth string) (answer, error) {
	var hdr []string
	if auth != "" {
		hdr = []string{"Authorization", auth}
	}
	return r.send(ctx, transient, http.MethodGet, route, path, nil, hdr...)
}
