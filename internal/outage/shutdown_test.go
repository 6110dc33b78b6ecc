package outage_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/internal/faultproxy"
	"github.com/rushgate/rushgate/internal/gatewaytest"
	"github.com/rushgate/rushgate/keyspace"
	"github.com/rushgate/rushgate/queue"
)

// TestReadyzFailsOnceDrainingStarts: the first step of a shutdown takes the
// replica out of its load balancer, while it still serves what it has.
func TestReadyzFailsOnceDrainingStarts(t *testing.T) {
	gw := gatewaytest.New(t, 1, 5, seatPrice, func(c *config.Config) { c.TokenSecret = tokenSecret })
	ctx := context.Background()
	if err := gw.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw.Handler)
	defer srv.Close()
	c := &client{base: srv.URL, http: srv.Client()}

	if r := c.do("GET", "/readyz", nil); r.status != 200 {
		t.Fatalf("readyz before draining: %s", r)
	}
	gw.StopAdmitting()
	r := c.do("GET", "/readyz", nil)
	if r.status != http.StatusServiceUnavailable || r.code() != "unavailable" || r.header.Get("Retry-After") == "" {
		t.Errorf("readyz while draining: %s %v; want 503 unavailable with Retry-After", r, r.header)
	}
	if msg := checkError(r); msg != "" {
		t.Error(msg)
	}
	// Requests still reaching the replica are served.
	if r := c.do("POST", "/api/tokens", map[string]any{"user_id": "late"}); r.status != 201 {
		t.Errorf("enter while draining: %s", r)
	}
	if r := c.do("GET", "/healthz", nil); r.status != 200 {
		t.Errorf("healthz while draining: %s", r)
	}
}

// TestGracefulShutdown sends SIGTERM to the real binary under load: admission
// stops, new connections are refused, requests in flight get their whole
// answer, and the process exits within SHUTDOWN_GRACE even when a client
// never finishes its request.
func TestGracefulShutdown(t *testing.T) {
	const grace = 3 * time.Second
	s := newStack(t, map[string]string{"SHUTDOWN_GRACE": grace.String(), "ADMIT_PER_SECOND": "20"})
	gw := s.serve(nil)
	c := newClient(gw)

	// A line that admission works through while the test runs.
	for i := range 150 {
		if r := c.do("POST", "/api/tokens", map[string]any{"user_id": fmt.Sprintf("line-%d", i)}); r.status != 201 {
			t.Fatalf("enter: %s", r)
		}
	}

	// In flight at SIGTERM: a charge whose body is half sent, and one whose
	// body never ends.
	inflight := slowRequest(t, gw.addr, "/api/chargePay", `{"user_id": "slow", "amount": 700}`)
	stuck := slowRequest(t, gw.addr, "/api/chargePay", `{"user_id": "stuck", "amount": 700}`)
	defer stuck.Close()

	// Load on fresh connections, each traced: when it connected and how it
	// ended.
	var termAt time.Time
	var termMu sync.Mutex
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var cutOff []string
	var served, refused, lateReset int
	loadClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var connectedAt time.Time
				trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { connectedAt = time.Now() }}
				body := fmt.Sprintf(`{"user_id": "load-%d-%d", "concert_id": 1}`, g, i)
				req, _ := http.NewRequest("POST", gw.url("/api/tokens"), strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req = req.WithContext(httptrace.WithClientTrace(context.Background(), trace))
				resp, err := loadClient.Do(req)
				if err == nil {
					raw, rerr := io.ReadAll(resp.Body)
					resp.Body.Close()
					mu.Lock()
					if rerr != nil || (resp.StatusCode != 201 && resp.StatusCode != 200) {
						cutOff = append(cutOff, fmt.Sprintf("partial or failed answer: %d %q %v", resp.StatusCode, raw, rerr))
					} else {
						served++
					}
					mu.Unlock()
					continue
				}
				var opErr *net.OpError
				termMu.Lock()
				term := termAt
				termMu.Unlock()
				mu.Lock()
				switch {
				case connectedAt.IsZero() && (errors.As(err, &opErr) && opErr.Op == "dial"):
					// Never connected: refused, or reset by a listener
					// closing under the handshake.
					refused++
				case !term.IsZero() && connectedAt.After(term.Add(-50*time.Millisecond)):
					// Connected around the listener's close: the kernel
					// took it, the server never accepted it, and it is
					// reset. Clients see a failed connection.
					lateReset++
				default:
					cutOff = append(cutOff, fmt.Sprintf("connected %v before SIGTERM, then: %v", term.Sub(connectedAt), err))
				}
				mu.Unlock()
				if connectedAt.IsZero() {
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)

	status := func() queue.Status {
		rdb := redis.NewClient(&redis.Options{Addr: s.redis.Addr()})
		defer rdb.Close()
		q := queue.New(rdb, keyspace.New("rg:"), queue.NewSigner([]byte(tokenSecret)), queue.Config{})
		st, err := q.Status(context.Background(), 1)
		if err != nil {
			t.Fatalf("queue status: %v", err)
		}
		return st
	}
	before := status()

	termMu.Lock()
	termAt = time.Now()
	termMu.Unlock()
	if err := gw.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	// New connections are refused soon after.
	refusedAt := time.Time{}
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		conn, err := net.DialTimeout("tcp", gw.addr, time.Second)
		if err != nil {
			refusedAt = time.Now()
			break
		}
		conn.Close()
	}
	if refusedAt.IsZero() {
		t.Fatal("new connections still accepted 2s after SIGTERM")
	}
	t.Logf("new connections refused %v after SIGTERM", refusedAt.Sub(termAt).Round(time.Millisecond))
	atRefusal := status()

	// The request in flight finishes and gets its whole answer.
	resp, err := inflight.finish()
	if err != nil {
		t.Fatalf("request in flight at SIGTERM: %v", err)
	}
	if resp.status != 200 || resp.num("pay") != 700 {
		t.Errorf("request in flight at SIGTERM: %s; want 200 with pay 700", resp)
	}

	// The stuck one holds the server until the grace period ends, no longer.
	if !gw.waitExit(grace + 3*time.Second) {
		t.Fatalf("still running %v after SIGTERM (SHUTDOWN_GRACE %v)", time.Since(termAt), grace)
	}
	exitAfter := time.Since(termAt)
	t.Logf("exited %v after SIGTERM, code %d", exitAfter.Round(time.Millisecond), gw.cmd.ProcessState.ExitCode())
	if code := gw.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	close(stop)
	wg.Wait()

	after := status()
	t.Logf("admitted_total: %d before SIGTERM, %d when refusing, %d at exit", before.AdmittedTotal, atRefusal.AdmittedTotal, after.AdmittedTotal)
	if after.AdmittedTotal != atRefusal.AdmittedTotal {
		t.Errorf("admission went on while draining: admitted_total %d → %d", atRefusal.AdmittedTotal, after.AdmittedTotal)
	}
	if atRefusal.AdmittedTotal <= 0 || before.Waiting == 0 {
		t.Errorf("admission never ran before SIGTERM: %+v", before)
	}

	t.Logf("load: %d served, %d refused, %d reset at the listener's close", served, refused, lateReset)
	for _, m := range cutOff {
		t.Error(m)
	}
	if served == 0 || refused == 0 {
		t.Errorf("the load did not span the shutdown: %d served, %d refused", served, refused)
	}
	var pay int64
	if err := s.db.GetContext(context.Background(), &pay, `SELECT pay FROM users WHERE user_id = 'slow'`); err != nil || pay != 700 {
		t.Errorf("the charge in flight at SIGTERM: balance %d, %v; want 700", pay, err)
	}
}

// slow is an HTTP request sent by hand, its body held back.
type slow struct {
	conn net.Conn
	rest string
}

// slowRequest sends the headers and the first half of a JSON body, and waits
// for the server to have read them (it is then in a handler).
func slowRequest(t *testing.T, addr, path, body string) *slow {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	half := len(body) / 2
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		path, addr, len(body), body[:half])
	return &slow{conn: conn, rest: body[half:]}
}

func (s *slow) finish() (reply, error) {
	defer s.conn.Close()
	s.conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(s.conn, s.rest); err != nil {
		return reply{}, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(s.conn), nil)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, fmt.Errorf("body cut off after %d bytes: %w", len(raw), err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		return r, fmt.Errorf("body is not JSON: %q", raw)
	}
	return r, nil
}

func (s *slow) Close() { s.conn.Close() }

// TestShutdownDuringPartition: SIGTERM while Redis or Postgres is silent (a
// partition, not a refusal). Work stuck on either must not hold the process
// past SHUTDOWN_GRACE.
func TestShutdownDuringPartition(t *testing.T) {
	for _, tc := range []struct {
		name string
		// wait lets the background loops start a call on the silent line:
		// admission runs every ADMIT_INTERVAL, the catalogue refresh every 5s.
		wait time.Duration
	}{
		{"Redis", time.Second},
		{"Postgres", 6 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const grace = 2 * time.Second
			s := newStack(t, nil)
			env := map[string]string{"SHUTDOWN_GRACE": grace.String()}
			var proxy *faultproxy.Proxy
			if tc.name == "Redis" {
				proxy = faultproxy.Start(t, s.redis.Addr())
				env["REDIS_URL"] = "redis://" + proxy.Addr() + "/0"
			} else {
				proxy = faultproxy.Start(t, s.pg.Addr())
				env["DATABASE_URL"] = "postgres://postgres@" + proxy.Addr() + "/rushgate?sslmode=disable"
			}
			gw := s.serve(env)
			c := newClient(gw)
			f := newFixture(t, c, "partition-shutdown")

			proxy.Stall()
			// Requests stuck on the silent line while the signal comes.
			go f.active.charge(1)
			go f.active.pay(f.rid, f.price, "partition-shutdown")
			time.Sleep(tc.wait)
			if r := c.do("GET", "/readyz", nil); r.status != 503 {
				t.Errorf("readyz during the partition: %s", r)
			}
			termAt := time.Now()
			if err := gw.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if !gw.waitExit(grace + 3*time.Second) {
				gw.cmd.Process.Signal(syscall.SIGQUIT) // its goroutines, in the log
				gw.waitExit(2 * time.Second)
				t.Fatalf("still running %v after SIGTERM during the partition (SHUTDOWN_GRACE %v)", time.Since(termAt), grace)
			}
			t.Logf("exited %v after SIGTERM, code %d", time.Since(termAt).Round(time.Millisecond), gw.cmd.ProcessState.ExitCode())
			proxy.Restore()
			s.checkBooks()
		})
	}
}
