package rush

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Routes that Open can load.
const (
	OpenPoll   = "poll"   // GET /api/queue/position with waiting tokens, round robin
	OpenTokens = "tokens" // POST /api/tokens, a new user each
	OpenHold   = "hold"   // POST /api/reservation, a different seat each
)

// OpenOptions configure Open: Conns keep-alive connections that together
// send Rate requests a second, on a fixed schedule, for Duration.
type OpenOptions struct {
	BaseURL  string
	Route    string
	Conns    int
	Rate     float64
	Duration time.Duration
	// Timeout is the longest latency that is not a timeout (as wrk's
	// -timeout). A late answer still counts, with its latency: giving up on
	// it would only add a new connection to the load of a gateway already
	// behind. A connection silent for giveUpFactor × Timeout after a send is
	// dropped, its request a timeout, and opened again for its next one.
	Timeout time.Duration
	// Settle is the pause between opening the connections and the first
	// send, so that the gateway has accepted them all before the clock
	// starts: the crowd is already on the page.
	Settle time.Duration
	// Warm sends one GET /healthz on every connection before the clock
	// starts (not counted), as the crowd's phones have each loaded the page
	// before: the first request of a connection costs both ends more (its
	// buffers, its goroutine's stack) than those after it.
	Warm bool
	// Label names the run in its Result.
	Label string
	// Tokens are the tokens of OpenPoll (waiting) and OpenHold (admitted).
	Tokens []Issued
	// UserPrefix and ConcertID shape OpenTokens' users: request i enters
	// user UserPrefix + i for ConcertID.
	UserPrefix string
	ConcertID  int64
	// OpenHold: request i takes hold number g = Offset + i, seat g counted
	// across Dates of Seats seats each, for the user of Tokens[g /
	// HoldsPerUser] (the gateway's MAX_HOLDS_PER_USER), as
	// scripts/bench/hold.lua does, so that every hold can succeed.
	Dates        []string
	Seats        int
	HoldsPerUser int
	Offset       int
}

// OpenResult is one open-loop run, in the fields of the JSON lines that
// scripts/bench/common.lua writes for wrk, plus the offered load. Latencies
// run from each request's scheduled send time, not from when it was sent, so
// that a gateway that falls behind shows it in full.
type OpenResult struct {
	Label string `json:"label"`
	// Requests counts answers of any status; Seconds runs from the first
	// scheduled send to the last answer.
	Requests int64   `json:"requests"`
	Seconds  float64 `json:"seconds"`
	RPS      float64 `json:"rps"`
	P50      float64 `json:"p50_ms"`
	P90      float64 `json:"p90_ms"`
	P99      float64 `json:"p99_ms"`
	Max      float64 `json:"max_ms"`
	Mean     float64 `json:"mean_ms"`
	Non2xx   int64   `json:"non_2xx"`
	// Statuses counts the answers by HTTP status.
	Statuses map[int]int64 `json:"statuses"`
	// ConnectErrors counts failed dials (and the scheduled requests they
	// cost); ReadErrors and WriteErrors requests whose connection failed;
	// Timeouts answers later than OpenOptions.Timeout after their scheduled
	// time (also in Requests, and in Non2xx if so) and requests given up on.
	ConnectErrors int64 `json:"connect_errors"`
	ReadErrors    int64 `json:"read_errors"`
	WriteErrors   int64 `json:"write_errors"`
	Timeouts      int64 `json:"timeouts"`
	// OfferedRate is the scheduled rate; Scheduled the requests on the
	// schedule; Conns the connections asked for, Dials those opened in all
	// (Conns when none had to be opened again).
	OfferedRate float64 `json:"offered_rate"`
	Scheduled   int64   `json:"scheduled"`
	Conns       int     `json:"conns"`
	Dials       int64   `json:"dials"`
	// LagP99 is the 99th percentile of the wait from a request's scheduled
	// time to its send: the load generator's own delay plus any wait for the
	// connection's previous answer. Small next to P99 means the generator
	// kept its schedule.
	LagP99 float64 `json:"send_lag_p99_ms"`
}

// Errors is every request that did not get a 2xx answer in time.
func (r OpenResult) Errors() int64 {
	return r.Non2xx + r.ConnectErrors + r.ReadErrors + r.WriteErrors + r.Timeouts
}

// giveUpFactor × OpenOptions.Timeout is how long a connection may stay
// silent after a send before it is dropped.
const giveUpFactor = 5

// ErrOpenOptions is returned by Open for options it cannot run.
var ErrOpenOptions = errors.New("rush: bad open-loop options")

// Open loads one route of the gateway in an open loop: it opens Conns
// distinct keep-alive connections first, then sends request i at start +
// i/Rate on connection i mod Conns, whatever the answers before it, so a
// connection sends once every Conns/Rate seconds, like one phone of a crowd.
// A connection whose previous answer is late sends as soon as it arrives
// (HTTP/1.1 allows one request at a time); its latency still counts from
// the scheduled time. Open returns ErrGatewayDown when no connection opens,
// ErrOpenOptions for options it cannot run.
func Open(ctx context.Context, o OpenOptions) (OpenResult, error) {
	if err := o.check(); err != nil {
		return OpenResult{}, err
	}
	u, err := url.Parse(o.BaseURL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return OpenResult{}, fmt.Errorf("%w: -url %q: want http://host:port", ErrOpenOptions, o.BaseURL)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	total := int64(math.Round(o.Rate * o.Duration.Seconds()))
	l := &openLoad{opt: o, addr: addr, host: u.Host, total: total,
		lat: hdrhistogram.New(histMin, histMax, histDigits), lag: hdrhistogram.New(histMin, histMax, histDigits)}
	conns := l.dialAll(ctx)
	if l.dials.Load() == 0 {
		return OpenResult{}, fmt.Errorf("%w: %s: no connection opened", ErrGatewayDown, o.BaseURL)
	}

	// Every connection's sender is started (and, with Warm, has sent its
	// first request) before the clock starts: 4,096 goroutines started on
	// the clock, each growing its stack on its first send, would make the
	// schedule's first pass over the connections late by tens of
	// milliseconds on the load generator's side alone.
	begin := make(chan struct{})
	var ready, wg sync.WaitGroup
	sem := make(chan struct{}, 64) // warm-up requests in flight at once
	for c := range conns {
		wg.Add(1)
		ready.Add(1)
		go func() {
			defer wg.Done()
			if o.Warm {
				sem <- struct{}{}
				l.warm(conns[c])
				<-sem
			}
			ready.Done()
			select {
			case <-begin:
			case <-ctx.Done():
				return
			}
			l.run(ctx, c, conns[c])
		}()
	}
	ready.Wait()
	if !sleepCtx(ctx, o.Settle) {
		close(begin)
		wg.Wait()
		return OpenResult{}, ctx.Err()
	}
	l.start = time.Now()
	close(begin)
	wg.Wait()
	// Every connection stays open to the end, also those whose last
	// request came early: the crowd is there for the whole run.
	for _, c := range conns {
		c.drop()
	}
	return l.result(), ctx.Err()
}

func (o OpenOptions) check() error {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrOpenOptions, why) }
	switch {
	case o.Conns <= 0 || o.Rate <= 0 || o.Duration <= 0 || o.Timeout <= 0:
		return bad("conns, rate, duration and timeout must be positive")
	case o.Route != OpenPoll && o.Route != OpenTokens && o.Route != OpenHold:
		return bad(fmt.Sprintf("route %q: want poll, tokens or hold", o.Route))
	case o.Route != OpenTokens && len(o.Tokens) == 0:
		return bad(o.Route + " needs tokens")
	case o.Route == OpenHold && (len(o.Dates) == 0 || o.Seats <= 0 || o.HoldsPerUser <= 0 || o.Offset < 0):
		return bad("hold needs dates, seats, holds per user and an offset ≥ 0")
	}
	return nil
}

// openLoad is the state of one Open run shared by its connections.
type openLoad struct {
	opt         OpenOptions
	addr, host  string
	total       int64
	start       time.Time
	last        atomic.Int64 // nanoseconds from start to the latest answer
	mu          sync.Mutex
	lat, lag    *hdrhistogram.Histogram
	answered    atomic.Int64
	non2xx      atomic.Int64
	statuses    [600]atomic.Int64
	connectErrs atomic.Int64
	readErrs    atomic.Int64
	writeErrs   atomic.Int64
	timeouts    atomic.Int64
	dials       atomic.Int64
}

// openConn is one connection and the buffers it reuses for every request.
type openConn struct {
	nc   net.Conn
	br   *bufio.Reader
	req  []byte
	body []byte
}

// dialAll opens every connection before the clock starts (a crowd already
// on the page), 64 at a time so as not to overrun the listen backlog. A
// connection that fails to open is counted and opened again at its first
// send.
func (l *openLoad) dialAll(ctx context.Context) []*openConn {
	conns := make([]*openConn, l.opt.Conns)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range conns {
		conns[i] = &openConn{req: make([]byte, 0, 512), body: make([]byte, 0, 256)}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := l.dial(ctx, conns[i]); err != nil {
				l.connectErrs.Add(1)
			}
		}()
	}
	wg.Wait()
	return conns
}

// warm sends one GET /healthz on c, if open, and reads its answer; a
// connection that fails is dropped (and opened again at its first send).
func (l *openLoad) warm(c *openConn) {
	if c.nc == nil {
		return
	}
	c.nc.SetDeadline(time.Now().Add(giveUpFactor * l.opt.Timeout))
	if _, err := c.nc.Write(append(append(c.req[:0], "GET /healthz HTTP/1.1\r\nHost: "...), l.host+"\r\n\r\n"...)); err != nil {
		c.drop()
		return
	}
	if _, closes, err := readAnswer(c.br); err != nil || closes {
		c.drop()
	}
}

func (l *openLoad) dial(ctx context.Context, c *openConn) error {
	d := net.Dialer{Timeout: giveUpFactor * l.opt.Timeout, KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", l.addr)
	if err != nil {
		return err
	}
	l.dials.Add(1)
	c.nc = nc
	if c.br == nil {
		c.br = bufio.NewReaderSize(nc, 2048)
	} else {
		c.br.Reset(nc)
	}
	return nil
}

func (c *openConn) drop() {
	if c.nc != nil {
		c.nc.Close()
		c.nc = nil
	}
}

// run sends the requests of connection c: i = c, c+Conns, c+2·Conns, …
func (l *openLoad) run(ctx context.Context, c int, oc *openConn) {
	step := float64(time.Second) / l.opt.Rate
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for i := int64(c); i < l.total; i += int64(l.opt.Conns) {
		due := time.Duration(float64(i) * step)
		if wait := due - time.Since(l.start); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		if oc.nc == nil {
			if err := l.dial(ctx, oc); err != nil {
				l.connectErrs.Add(1)
				continue
			}
		}
		l.one(oc, i, due)
	}
}

// one sends request i, scheduled at due, and reads its answer.
func (l *openLoad) one(oc *openConn, i int64, due time.Duration) {
	oc.req = l.build(oc, i)
	sent := time.Since(l.start)
	oc.nc.SetDeadline(l.start.Add(sent + giveUpFactor*l.opt.Timeout))
	if _, err := oc.nc.Write(oc.req); err != nil {
		l.countFailure(err, &l.writeErrs)
		oc.drop()
		return
	}
	status, closes, err := readAnswer(oc.br)
	if err != nil {
		l.countFailure(err, &l.readErrs)
		oc.drop()
		return
	}
	done := time.Since(l.start)
	for {
		last := l.last.Load()
		if int64(done) <= last || l.last.CompareAndSwap(last, int64(done)) {
			break
		}
	}
	l.answered.Add(1)
	if status < 200 || status > 299 {
		l.non2xx.Add(1)
	}
	if status >= 0 && status < len(l.statuses) {
		l.statuses[status].Add(1)
	}
	if done-due > l.opt.Timeout {
		l.timeouts.Add(1)
	}
	l.mu.Lock()
	l.lat.RecordValue(clampMicros(done - due))
	l.lag.RecordValue(clampMicros(sent - due))
	l.mu.Unlock()
	if closes {
		oc.drop()
	}
}

func (l *openLoad) countFailure(err error, other *atomic.Int64) {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		l.timeouts.Add(1)
		return
	}
	other.Add(1)
}

func clampMicros(d time.Duration) int64 { return max(histMin, min(histMax, d.Microseconds())) }

// build writes request i into oc's buffers and returns it.
func (l *openLoad) build(oc *openConn, i int64) []byte {
	o := &l.opt
	b := oc.req[:0]
	switch o.Route {
	case OpenPoll:
		t := o.Tokens[i%int64(len(o.Tokens))]
		b = append(b, "GET /api/queue/position HTTP/1.1\r\nHost: "...)
		b = append(b, l.host...)
		b = append(b, "\r\nAuthorization: Bearer "...)
		b = append(b, t.Token...)
		return append(b, "\r\n\r\n"...)
	case OpenTokens:
		body := append(oc.body[:0], `{"user_id":"`...)
		body = append(body, o.UserPrefix...)
		body = strconv.AppendInt(body, i, 10)
		body = append(body, `","concert_id":`...)
		body = strconv.AppendInt(body, o.ConcertID, 10)
		body = append(body, '}')
		oc.body = body
		b = append(b, "POST /api/tokens HTTP/1.1\r\nHost: "...)
		b = append(b, l.host...)
		return appendJSONBody(b, body)
	default: // OpenHold
		g := int64(o.Offset) + i
		t := o.Tokens[(g/int64(o.HoldsPerUser))%int64(len(o.Tokens))]
		seats := int64(o.Seats)
		body := append(oc.body[:0], `{"user_id":"`...)
		body = append(body, t.UserID...)
		body = append(body, `","reservation_date":"`...)
		body = append(body, o.Dates[(g/seats)%int64(len(o.Dates))]...)
		body = append(body, `","reservation_seat":`...)
		body = strconv.AppendInt(body, g%seats+1, 10)
		body = append(body, '}')
		oc.body = body
		b = append(b, "POST /api/reservation HTTP/1.1\r\nHost: "...)
		b = append(b, l.host...)
		b = append(b, "\r\nAuthorization: Bearer "...)
		b = append(b, t.Token...)
		return appendJSONBody(b, body)
	}
}

func appendJSONBody(b, body []byte) []byte {
	b = append(b, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	return append(b, body...)
}

func (l *openLoad) result() OpenResult {
	ms := func(us int64) float64 { return float64(us) / 1000 }
	secs := time.Duration(l.last.Load()).Seconds()
	if secs == 0 {
		secs = time.Since(l.start).Seconds()
	}
	r := OpenResult{
		Label: l.opt.Label, Requests: l.answered.Load(), Seconds: secs,
		P50: ms(l.lat.ValueAtQuantile(50)), P90: ms(l.lat.ValueAtQuantile(90)), P99: ms(l.lat.ValueAtQuantile(99)),
		Max: ms(l.lat.Max()), Mean: l.lat.Mean() / 1000,
		Non2xx: l.non2xx.Load(), ConnectErrors: l.connectErrs.Load(), ReadErrors: l.readErrs.Load(),
		WriteErrors: l.writeErrs.Load(), Timeouts: l.timeouts.Load(),
		OfferedRate: l.opt.Rate, Scheduled: l.total, Conns: l.opt.Conns, Dials: l.dials.Load(),
		LagP99: ms(l.lag.ValueAtQuantile(99)),
	}
	r.RPS = float64(r.Requests) / secs
	r.Statuses = map[int]int64{}
	for code := range l.statuses {
		if n := l.statuses[code].Load(); n > 0 {
			r.Statuses[code] = n
		}
	}
	return r
}

// ReadIssued reads "token<TAB>user_id" lines, as rushload tokens writes
// them.
func ReadIssued(r io.Reader) ([]Issued, error) {
	var out []Issued
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		tok, user, ok := strings.Cut(sc.Text(), "\t")
		if !ok || tok == "" || user == "" {
			continue
		}
		out = append(out, Issued{Token: tok, UserID: user})
	}
	return out, sc.Err()
}
