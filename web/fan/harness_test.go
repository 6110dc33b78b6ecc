package fan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/internal/browsertest"
	"github.com/rushgate/rushgate/internal/gatewaytest"
)

// site is a gateway replica on the real services, served over HTTP for a
// browser, with a log of the requests the pages make.
type site struct {
	t       *testing.T
	concert int64 // the concert the helpers act on: 1 (seeded) unless a test makes another
	rep     *gatewaytest.Replica
	srv     *httptest.Server
	log     *requestLog
	base    string
}

// newSite starts a replica (admission loops running) with concert 1 of
// dates×seats at price won; change alters its settings.
func newSite(t *testing.T, handler func(http.Handler) http.Handler, dates, seats int, price int64, change func(c *config.Config)) *site {
	t.Helper()
	rep := gatewaytest.New(t, dates, seats, price, func(c *config.Config) {
		c.AdmitInterval = 20 * time.Millisecond
		if change != nil {
			change(c)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	if err := rep.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); rep.StopAdmitting() })
	return serve(t, rep, handler)
}

// serve puts a replica behind an HTTP server with a request log.
func serve(t *testing.T, rep *gatewaytest.Replica, wrap func(http.Handler) http.Handler) *site {
	s := &site{t: t, rep: rep, log: &requestLog{}, concert: 1}
	var h http.Handler = rep.Handler
	if wrap != nil {
		h = wrap(h)
	}
	s.srv = httptest.NewServer(s.log.wrap(h))
	t.Cleanup(s.srv.Close)
	s.base = s.srv.URL
	return s
}

// api calls the gateway as a test client; it returns status and decoded body.
func (s *site) api(method, path string, body any, hdr ...string) (int, map[string]any) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// admin changes the queue settings of the site's concert through the admin API.
func (s *site) admin(settings map[string]any) {
	s.t.Helper()
	code, body := s.api("PATCH", fmt.Sprintf("/admin/queue?concert_id=%d", s.concert), settings, "Authorization", "Bearer "+gatewaytest.AdminToken)
	if code != 200 {
		s.t.Fatalf("PATCH /admin/queue: %d %v", code, body)
	}
}

// newConcert creates a concert through the admin API (dates from tomorrow,
// seat blocks as from, to, price triples) and makes it the site's concert.
func (s *site) newConcert(name string, dates int, blocks ...[3]int) int64 {
	s.t.Helper()
	return s.newConcertOpening(name, time.Time{}, dates, blocks...)
}

// newConcertOpening is newConcert with a scheduled open (none when zero):
// until then, fans who enter wait in the pre-queue.
func (s *site) newConcertOpening(name string, opensAt time.Time, dates int, blocks ...[3]int) int64 {
	s.t.Helper()
	var ds []string
	for i := range dates {
		ds = append(ds, time.Now().AddDate(0, 0, 1+i).Format(time.DateOnly))
	}
	var seats []map[string]any
	for _, b := range blocks {
		seats = append(seats, map[string]any{"from": b[0], "to": b[1], "price": b[2]})
	}
	req := map[string]any{"name": name, "dates": ds, "seats": seats}
	if !opensAt.IsZero() {
		req["opens_at"] = opensAt.Format(time.RFC3339)
	}
	code, body := s.api("POST", "/admin/concerts", req, "Authorization", "Bearer "+gatewaytest.AdminToken)
	if code != 201 {
		s.t.Fatalf("POST /admin/concerts: %d %v", code, body)
	}
	s.concert = int64(body["concert_id"].(float64))
	// Every replica learns of a new concert at its next catalogue refresh;
	// this one at once.
	if err := s.rep.Booking.Refresh(context.Background()); err != nil {
		s.t.Fatal(err)
	}
	return s.concert
}

// enter puts a user in the site's concert's line through the API (a fan
// without a browser), and returns the token.
func (s *site) enter(user string) string {
	s.t.Helper()
	code, body := s.api("POST", "/api/tokens", map[string]any{"user_id": user, "concert_id": s.concert})
	if code != 200 && code != 201 {
		s.t.Fatalf("enter %s: %d %v", user, code, body)
	}
	return body["token"].(string)
}

// ---------------------------------------------------------------- request log

// logged is one request a page made, with what the gateway answered.
type logged struct {
	at          time.Time
	method      string
	path        string
	auth        string
	idemKey     string
	status      int
	pollAfterMs float64 // of a position answer; 0 when none
	body        []byte
}

type requestLog struct {
	mu   sync.Mutex
	reqs []logged
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w, status: 200}
		e := logged{at: time.Now(), method: r.Method, path: r.URL.Path, auth: r.Header.Get("Authorization"), idemKey: r.Header.Get("Idempotency-Key")}
		defer func() {
			e.status = rec.status
			e.body = rec.body.Bytes()
			if r.URL.Path == "/api/queue/position" && rec.status == 200 {
				var m map[string]any
				if json.Unmarshal(e.body, &m) == nil {
					e.pollAfterMs, _ = m["poll_after_ms"].(float64)
				}
			}
			l.mu.Lock()
			l.reqs = append(l.reqs, e)
			l.mu.Unlock()
		}()
		h.ServeHTTP(rec, r)
	})
}

// find returns the logged requests to path (any method when method is "").
func (l *requestLog) find(method, path string) []logged {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []logged
	for _, r := range l.reqs {
		if r.path == path && (method == "" || r.method == method) {
			out = append(out, r)
		}
	}
	return out
}

type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.body.Len() < 4096 {
		r.body.Write(b)
	}
	return r.ResponseWriter.Write(b)
}

// ---------------------------------------------------------------- browser

// fan is one browser tab on the site.
type fan struct {
	tab *browsertest.Tab
	t   *testing.T
	s   *site
}

const (
	desktopW, desktopH = 1280, 860
	phoneW, phoneH     = 390, 844
)

func (s *site) fan(b *browsertest.Browser, width, height int) *fan {
	f := &fan{tab: b.Tab(s.t, width, height), t: s.t, s: s}
	return f
}

// Allow accepts page errors matching pattern (see browsertest.Tab.Allow).
func (f *fan) Allow(pattern string) { f.tab.Allow(pattern) }

// do runs actions in the tab, failing the test on error (bounded in time).
func (f *fan) do(actions ...chromedp.Action[chromedp.Void]) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(f.tab.Ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		f.t.Fatalf("browser: %v (page errors so far: %v)", err, f.tab.Errors())
	}
}

// open loads a page of the site.
func (f *fan) open(path string) {
	f.t.Helper()
	f.do(chromedp.Navigate(f.s.base + path))
}

func (f *fan) reload() {
	f.t.Helper()
	f.do(chromedp.Reload())
}

func (f *fan) click(selector string) {
	f.t.Helper()
	f.do(chromedp.Click(chromedp.CSS(selector), chromedp.NodeVisible))
}

// acceptLanguage makes the tab send this Accept-Language from now on.
func (f *fan) acceptLanguage(v string) {
	f.t.Helper()
	f.do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": v}})
		return err
	}))
}

// evalTo evaluates a JavaScript expression of type T.
func evalTo[T any](f *fan, js string) T {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(f.tab.Ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		f.t.Fatalf("evaluate %s: %v (page errors so far: %v)", js, err, f.tab.Errors())
	}
	return v
}

func (f *fan) str(js string) string {
	f.t.Helper()
	return evalTo[string](f, js)
}

// text is the text content of the first element matching selector.
func (f *fan) text(selector string) string {
	f.t.Helper()
	return f.str(fmt.Sprintf(`document.querySelector(%q)?.textContent.trim() ?? ''`, selector))
}

// state is the page's state: main's data-state (which section shows).
func (f *fan) state() string { return f.str(`document.querySelector('main')?.dataset.state || ''`) }

// waitJS waits until the JavaScript expression is true, failing the test after timeout.
func (f *fan) waitJS(what, js string, timeout time.Duration) {
	f.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(f.tab.Ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("waited %v for %s (%s); state %q, text %q; page errors %v (err %v)",
				timeout, what, js, f.state(), f.str(`document.querySelector('main')?.innerText.slice(0, 600) ?? ''`), f.tab.Errors(), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitState waits until the page shows state.
func (f *fan) waitState(state string, timeout time.Duration) {
	f.t.Helper()
	f.waitJS("state "+state, fmt.Sprintf(`document.querySelector('main')?.dataset.state === %q`, state), timeout)
}

// press sends keys to the focused element, as a keyboard does.
func (f *fan) press(keys ...string) {
	f.t.Helper()
	for _, k := range keys {
		f.do(chromedp.KeyEvent(k))
	}
}

// tabTo presses Tab until the focused element matches selector, as a
// keyboard user does, failing after 60 presses.
func (f *fan) tabTo(selector string) {
	f.t.Helper()
	for range 60 {
		if evalTo[bool](f, fmt.Sprintf(`!!document.activeElement?.matches(%q)`, selector)) {
			return
		}
		f.press(kb.Tab)
	}
	f.t.Fatalf("Tab never reached %s; focus is on %s", selector, f.str(`document.activeElement?.outerHTML.slice(0, 200) || ''`))
}

// token is what the page keeps in localStorage for user on concert 1.
func (f *fan) token(user string) string {
	return f.str(fmt.Sprintf(`(JSON.parse(localStorage.getItem('rushgate:place:%d:%s') || '{}').token) || ''`, f.s.concert, user))
}

// ---------------------------------------------------------------- screenshots

// shotDir is where screenshots go: $FAN_SCREENSHOTS (make screenshots sets
// docs/img), else a temporary directory (they are still taken: a page that
// cannot be drawn fails).
func shotDir(t *testing.T) string {
	if d := os.Getenv("FAN_SCREENSHOTS"); d != "" {
		if !filepath.IsAbs(d) {
			// Relative to the repository root (tests run in web/fan).
			d = filepath.Join("..", "..", d)
		}
		return d
	}
	return t.TempDir()
}

// snap saves screenshots of the page as it is now, in both languages, on a
// desktop and a phone: fan-<name>-<lang>-<device>.png. Each view is checked
// to fit its width. It leaves the tab in English on the desktop.
func (f *fan) snap(name string) {
	f.t.Helper()
	dir := shotDir(f.t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.t.Fatal(err)
	}
	for _, lang := range []string{"en", "ko"} {
		if f.str(`document.documentElement.lang`) != lang {
			f.click("#lang")
			f.waitJS("language "+lang, fmt.Sprintf(`document.documentElement.lang === %q`, lang), 5*time.Second)
		}
		for _, dev := range []struct {
			name string
			w, h int64
			opts []chromedp.EmulateViewportOption
		}{
			{"desktop", desktopW, desktopH, nil},
			{"phone", phoneW, phoneH, []chromedp.EmulateViewportOption{chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait, chromedp.EmulateScale(2)}},
		} {
			f.do(chromedp.EmulateViewport(dev.w, dev.h, dev.opts...))
			f.checkFits(fmt.Sprintf("%s, %s, %s", name, lang, dev.name))
			ctx, cancel := context.WithTimeout(f.tab.Ctx, 30*time.Second)
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			cancel()
			if err != nil {
				f.t.Fatalf("screenshot: %v", err)
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("fan-%s-%s-%s.png", name, lang, dev.name)), png, 0o644); err != nil {
				f.t.Fatal(err)
			}
		}
	}
	f.click("#lang")
	f.waitJS("language en", `document.documentElement.lang === 'en'`, 5*time.Second)
	f.do(chromedp.EmulateViewport(desktopW, desktopH))
}

// checkFits fails the test when the page is wider than the viewport: on a
// phone nothing may need sideways scrolling.
func (f *fan) checkFits(view string) {
	f.t.Helper()
	over := f.str(`(() => {
		const w = document.documentElement.clientWidth;
		if (document.documentElement.scrollWidth <= w) return '';
		const bad = [...document.querySelectorAll('body *')].find(e => e.getBoundingClientRect().right > w + 1);
		return bad ? bad.outerHTML.slice(0, 160) : 'page';
	})()`)
	if over != "" {
		f.t.Errorf("%s: page wider than the viewport; first element over the edge: %s", view, over)
	}
}

// contains is strings.Contains for messages.
func contains(s, sub string) bool { return strings.Contains(s, sub) }
