package outage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"

	"github.com/rushgate/rushgate/internal/svctest"
	"github.com/rushgate/rushgate/payment/paymentdb"
)

// binary is the rushgate binary built for these tests (with -race when the
// tests run with it).
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rushgate-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "rushgate")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "github.com/rushgate/rushgate/cmd/rushgate")...)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build rushgate: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	adminKey    = "outage-admin-key"
	tokenSecret = "outage-token-secret"
	seatPrice   = 1000
)

// stack is one private Redis, one private Postgres, and the settings of a
// rushgate process that uses them.
type stack struct {
	t     *testing.T
	redis *svctest.Redis
	pg    *svctest.Postgres
	env   map[string]string
	db    *sqlx.DB // a handle of the test's own on the gateway's database
}

// newStack starts the services, migrates and seeds concert 1 (3 dates of
// 200 seats at 1,000 won) with the binary itself.
func newStack(t *testing.T, env map[string]string) *stack {
	t.Helper()
	s := &stack{t: t, redis: svctest.StartRedis(t), pg: svctest.StartPostgres(t)}
	s.env = map[string]string{
		"REDIS_URL":         s.redis.URL(),
		"DATABASE_URL":      s.pg.URL("rushgate"),
		"ADMIN_TOKEN":       adminKey,
		"TOKEN_SECRET":      tokenSecret,
		"ENTER_RATE_PER_IP": "0",
		"ADMIT_PER_SECOND":  "1000",
		"MAX_ACTIVE":        "100000",
		"ADMIT_INTERVAL":    "20ms",
		"LOG_LEVEL":         "warn",
	}
	for k, v := range env {
		s.env[k] = v
	}
	out, err := s.command("seed", "--dates", "3", "--seats", "200", "--price", strconv.Itoa(seatPrice)).CombinedOutput()
	if err != nil {
		t.Fatalf("rushgate seed: %v\n%s", err, out)
	}
	s.db, err = sqlx.Open("postgres", s.pg.URL("rushgate")+"&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.db.Close() })
	return s
}

func (s *stack) command(args ...string) *exec.Cmd {
	cmd := exec.Command(binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}
	for k, v := range s.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// proc is a running `rushgate serve`.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	log  *syncBuffer
	done chan struct{}
}

// serve starts `rushgate serve` on a free port and waits until /healthz
// answers. extra overrides the stack's settings for this process.
func (s *stack) serve(extra map[string]string) *proc {
	s.t.Helper()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(svctest.FreePort(s.t)))
	cmd := s.command("serve")
	cmd.Env = append(cmd.Env, "ADDR="+addr)
	for k, v := range extra {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &proc{t: s.t, cmd: cmd, addr: addr, log: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start rushgate: %v", err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	s.t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if s.t.Failed() {
			s.t.Logf("rushgate output:\n%s", p.log.tail(6000))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(p.url("/healthz"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case <-p.done:
			s.t.Fatalf("rushgate exited at start: %v\n%s", cmd.ProcessState, p.log.tail(4000))
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("rushgate did not answer /healthz within a minute\n%s", p.log.tail(4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *proc) url(path string) string { return "http://" + p.addr + path }

// kill ends the process with SIGKILL and waits for it.
func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// waitExit waits up to d for the process to exit and reports whether it did.
func (p *proc) waitExit(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.b.String()
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// ---------------------------------------------------------------- HTTP

// reply is one HTTP exchange as a test sees it.
type reply struct {
	status  int
	header  http.Header
	raw     []byte
	body    map[string]any
	elapsed time.Duration
	err     error // transport error: no complete response
}

func (r reply) code() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (r reply) num(field string) int64 {
	n, _ := r.body[field].(float64)
	return int64(n)
}

func (r reply) str(field string) string {
	s, _ := r.body[field].(string)
	return s
}

func (r reply) String() string {
	if r.err != nil {
		return "error: " + r.err.Error()
	}
	return fmt.Sprintf("%d %s (%v)", r.status, bytes.TrimSpace(r.raw), r.elapsed.Round(time.Millisecond))
}

// client speaks to one gateway. It is safe for concurrent use.
type client struct {
	base string
	http *http.Client
}

func newClient(p *proc) *client {
	return &client{base: "http://" + p.addr, http: &http.Client{
		Timeout:   20 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 256},
	}}
}

// do sends a request; body is marshalled unless it is a string. hdr is name,
// value pairs.
func (c *client) do(method, path string, body any, hdr ...string) reply {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return reply{err: err}
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return reply{err: err, elapsed: time.Since(start)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: raw, elapsed: time.Since(start), err: err}
	json.Unmarshal(raw, &r.body)
	return r
}

func auth(token string) []string { return []string{"Authorization", "Bearer " + token} }

// leaks are what no error body may show: SQL, driver and client errors,
// addresses, stack traces.
var leaks = []string{"SELECT", "INSERT", "UPDATE ", "pq:", "redis:", "127.0.0.1", "dial tcp", "goroutine", ".go:", "panic"}

// checkError reports what is wrong with an error reply: not the contract's
// JSON body, or a body that leaks internals. "" when it is right.
func checkError(r reply) string {
	if r.err != nil || r.status < 400 {
		return ""
	}
	if r.code() == "" {
		return fmt.Sprintf("error reply without the contract's body: %s", r)
	}
	if msg, _ := r.body["error"].(map[string]any)["message"].(string); msg == "" {
		return fmt.Sprintf("error reply without a message: %s", r)
	}
	for _, l := range leaks {
		if bytes.Contains(r.raw, []byte(l)) {
			return fmt.Sprintf("error body shows %q: %s", l, r)
		}
	}
	if r.status == http.StatusServiceUnavailable && (r.code() != "unavailable" || r.header.Get("Retry-After") == "") {
		return fmt.Sprintf("503 without code unavailable and Retry-After: %s %v", r, r.header)
	}
	return ""
}

// ---------------------------------------------------------------- flows

// buyer walks the contract's whole path for one user. Every step returns
// the reply that ended it early, if any.
type buyer struct {
	c     *client
	user  string
	token string
}

func (b *buyer) enter() (reply, bool) {
	r := b.c.do("POST", "/api/tokens", map[string]any{"user_id": b.user, "concert_id": 1})
	if r.status != 200 && r.status != 201 {
		return r, false
	}
	b.token = r.str("token")
	return r, true
}

// waitActive polls until the token is active (with a deadline: this is a
// real process).
func (b *buyer) waitActive(d time.Duration) (reply, bool) {
	deadline := time.Now().Add(d)
	for {
		r := b.c.do("GET", "/api/queue/position", nil, auth(b.token)...)
		if r.status != 200 {
			return r, false
		}
		if r.str("status") == "active" {
			return r, true
		}
		if time.Now().After(deadline) {
			return r, false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hold takes the first free seat of the first date with one.
func (b *buyer) hold() (reply, int64, int64, bool) {
	r := b.c.do("GET", "/api/reservationData/available", nil, auth(b.token)...)
	if r.status != 200 {
		return r, 0, 0, false
	}
	dates, _ := r.body["available_dates"].([]any)
	if len(dates) == 0 {
		return r, 0, 0, false
	}
	date := dates[len(dates)-1].(string)
	r = b.c.do("GET", "/api/reservationSeat/available?reservation_date="+date, nil, auth(b.token)...)
	if r.status != 200 {
		return r, 0, 0, false
	}
	seats, _ := r.body["available_seats"].([]any)
	if len(seats) == 0 {
		return r, 0, 0, false
	}
	// Spread concurrent buyers over the seats.
	seat := seats[int(time.Now().UnixNano()/1000)%len(seats)]
	r = b.c.do("POST", "/api/reservation", map[string]any{"user_id": b.user, "reservation_date": date, "reservation_seat": seat}, auth(b.token)...)
	if r.status != 201 {
		return r, 0, 0, false
	}
	return r, r.num("reservation_id"), r.num("price"), true
}

func (b *buyer) charge(amount int64) reply {
	return b.c.do("POST", "/api/chargePay", map[string]any{"user_id": b.user, "amount": amount})
}

func (b *buyer) pay(rid, amount int64, key string) reply {
	hdr := auth(b.token)
	if key != "" {
		hdr = append(hdr, "Idempotency-Key", key)
	}
	return b.c.do("POST", "/api/payment", map[string]any{"user_id": b.user, "reservation_id": rid, "amount": amount}, hdr...)
}

// tally counts what a load saw, and keeps what must not happen.
type tally struct {
	mu       sync.Mutex
	statuses map[int]int
	paid     int
	bad      []string
}

func (t *tally) add(r reply) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.statuses == nil {
		t.statuses = map[int]int{}
	}
	t.statuses[r.status]++
	if r.status >= 500 && r.status != 503 {
		t.bad = append(t.bad, "server error: "+r.String())
	}
	if msg := checkError(r); msg != "" {
		t.bad = append(t.bad, msg)
	}
}

// runLoad runs n buyers in a loop until stop is closed: enter, wait for
// admission, hold, charge, pay. Failed steps (an outage) start over.
func runLoad(c *client, n int, prefix string, stop <-chan struct{}) (*tally, *sync.WaitGroup) {
	var tl tally
	var wg sync.WaitGroup
	for g := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				b := &buyer{c: c, user: fmt.Sprintf("%s%d-%d", prefix, g, i)}
				step := func(r reply, ok bool) bool {
					if r.err == nil {
						tl.add(r)
					}
					if !ok {
						time.Sleep(20 * time.Millisecond)
					}
					return ok
				}
				if !step(b.enter()) || !step(b.waitActive(5*time.Second)) {
					continue
				}
				r, rid, price, ok := b.hold()
				if !step(r, ok) {
					continue
				}
				if r := b.charge(price); !step(r, r.status == 200) {
					continue
				}
				r = b.pay(rid, price, fmt.Sprintf("pay-%d", rid))
				if step(r, r.status == 201) {
					tl.mu.Lock()
					tl.paid++
					tl.mu.Unlock()
				}
			}
		}()
	}
	return &tl, &wg
}

// ---------------------------------------------------------------- audits

// checkBooks fails the test unless every won charged is on a balance or paid
// for a seat, and no seat or reservation was sold twice.
func (s *stack) checkBooks() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := paymentdb.Audit(ctx, s.db)
	if err != nil {
		s.t.Fatalf("audit: %v", err)
	}
	if !l.Balanced() {
		s.t.Errorf("money created or lost: charged %d, balances %d + paid %d", l.Charged, l.Balances, l.Paid)
	}
	i, err := paymentdb.CheckIntegrity(ctx, s.db)
	if err != nil {
		s.t.Fatalf("integrity: %v", err)
	}
	if !i.OK() {
		s.t.Errorf("integrity: %+v", i)
	}
	var sold, paid int
	s.db.GetContext(ctx, &sold, `SELECT count(*) FROM reservations`)
	s.db.GetContext(ctx, &paid, `SELECT count(*) FROM pay_history WHERE payment_status = 'COMPLETED'`)
	s.t.Logf("books: charged %d, balances %d, paid %d; %d seats sold, %d payments", l.Charged, l.Balances, l.Paid, sold, paid)
}

// eventually polls f (a real process: no clock to drive) until it returns
// "" or d passes; then it fails the test with f's last complaint.
func eventually(t *testing.T, d time.Duration, f func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		msg := f()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
