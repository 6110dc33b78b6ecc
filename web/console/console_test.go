package console_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rushgate/rushgate/gateway"
	"github.com/rushgate/rushgate/internal/browsertest"
	"github.com/rushgate/rushgate/internal/gatewaytest"
	"github.com/rushgate/rushgate/queue"
)

// shots is where screenshots go: $CONSOLE_SCREENSHOTS (the README's come
// from `CONSOLE_SCREENSHOTS=$PWD/docs/img go test ./web/console/`), else a
// temporary directory.
func shots(t *testing.T) string {
	if d := os.Getenv("CONSOLE_SCREENSHOTS"); d != "" {
		return d
	}
	return t.TempDir()
}

// cluster is several gateway replicas on one Redis and one Postgres, each
// behind its own HTTP server, with their admission loops running.
type cluster struct {
	replicas []*gateway.Gateway
	urls     []string
}

func newCluster(t *testing.T, n int) *cluster {
	first := gatewaytest.New(t, 3, 200, 10000, nil)
	c := &cluster{}
	for i := 0; i < n; i++ {
		gw := first.Gateway
		if i > 0 {
			var err error
			gw, err = gateway.New(first.Config, first.Redis, first.DB, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := gw.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(gw.StopAdmitting)
		srv := httptest.NewServer(gw.Handler)
		t.Cleanup(srv.Close)
		c.replicas = append(c.replicas, gw)
		c.urls = append(c.urls, srv.URL)
	}
	return c
}

func (c *cluster) serve(rec *httptest.ResponseRecorder, req *http.Request) int {
	c.replicas[0].Handler.ServeHTTP(rec, req)
	return rec.Code
}

// rush enters fans through every replica in turn, about perSecond of them a
// second, until stop is closed.
func (c *cluster) rush(t *testing.T, perSecond int, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second / time.Duration(perSecond))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			body := fmt.Sprintf(`{"user_id": "fan%d"}`, i)
			res, err := http.Post(c.urls[i%len(c.urls)]+"/api/tokens", "application/json", strings.NewReader(body))
			if err != nil {
				t.Errorf("enter: %v", err)
				return
			}
			res.Body.Close()
		}
	}()
	return &wg
}

// everyReplica waits until every replica's admission loop runs with settings
// that ok accepts.
func (c *cluster) everyReplica(t *testing.T, what string, ok func(queue.Settings) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		all := true
		for _, gw := range c.replicas {
			a, _, _, seen := gw.Queue.Observed(1)
			all = all && seen && ok(a.Settings)
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every replica obeys: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func signIn(t *testing.T, tab *browsertest.Tab, url string) {
	tab.Navigate(url + "/admin/")
	tab.Type("#key", gatewaytest.AdminToken)
	tab.Click("#signin-form button[type=submit]")
	tab.WaitVisible("#console")
}

func TestConsoleRunsARush(t *testing.T) {
	c := newCluster(t, 3)
	// Admission slower than arrivals, so a line forms to watch.
	slow := httptest.NewRequest("PATCH", "/admin/queue?concert_id=1", strings.NewReader(`{"admit_per_second": 15}`))
	slow.Header.Set("Authorization", "Bearer "+gatewaytest.AdminToken)
	slow.Header.Set("Content-Type", "application/json")
	if rec := httptest.NewRecorder(); c.serve(rec, slow) != 200 {
		t.Fatalf("set the first rate: %s", rec.Body)
	}
	stop := make(chan struct{})
	rushing := c.rush(t, 40, stop)
	defer func() { close(stop); rushing.Wait() }()
	dir := shots(t)

	b := browsertest.New(t)
	tab := b.Tab(t, 1280, 900)

	t.Run("a wrong key is refused", func(t *testing.T) {
		tab.Allow("status of 401") // the browser logs the refused request
		tab.Navigate(c.urls[0] + "/admin/")
		tab.Type("#key", "not-the-key")
		tab.Click("#signin-form button[type=submit]")
		tab.WaitText("#signin-error", "not an admin key", 10*time.Second)
		browsertest.Eval[string](tab, "document.getElementById('key').value = ''")
	})

	t.Run("sign in and read the live numbers while a rush runs", func(t *testing.T) {
		tab.Type("#key", gatewaytest.AdminToken)
		tab.Click("#signin-form button[type=submit]")
		tab.WaitVisible("#console")
		tab.WaitFor(30*time.Second, "document.getElementById('waiting').textContent", func(s string) bool {
			n, err := strconv.Atoi(strings.ReplaceAll(s, ",", ""))
			return err == nil && n > 100
		}, "a line of people waiting")
		// The chart fills with points of admissions from the stats.
		tab.WaitFor(20*time.Second, "document.getElementById('admitted-rate').textContent", func(s string) bool {
			n, err := strconv.Atoi(s)
			return err == nil && n > 0
		}, "admissions per second")
		if n := browsertest.Eval[int](tab, "document.querySelectorAll('#chart canvas').length"); n != 1 {
			t.Errorf("%d chart canvases", n)
		}
		if rows := browsertest.Eval[int](tab, "document.querySelectorAll('#seats tr').length"); rows != 3 {
			t.Errorf("%d seat rows, want 3 dates", rows)
		}
		tab.Screenshot(filepath.Join(dir, "console-live.png"))
	})

	t.Run("change the rate after its projection and every replica obeys", func(t *testing.T) {
		// Set the field as typing would (a refresh cannot overwrite a field
		// being edited).
		browsertest.Eval[bool](tab, "(() => { const e = document.getElementById('rate'); e.value = '75'; return e.dispatchEvent(new Event('input')) })()")
		tab.Click("#apply")
		tab.WaitVisible("#confirm")
		tab.WaitText("#confirm-body", "Line empty in", 5*time.Second)
		tab.Screenshot(filepath.Join(dir, "console-confirm.png"))
		tab.Click("#confirm-ok")
		c.everyReplica(t, "rate 75", func(s queue.Settings) bool { return s.AdmitPerSecond == 75 })
		tab.WaitText("#set-rate", "75", 10*time.Second)
		tab.WaitText("#audit", "admit_per_second: 75", 10*time.Second)
	})

	t.Run("pause and resume", func(t *testing.T) {
		tab.Click("#pause")
		tab.WaitText("#confirm-title", "Pause admission?", 5*time.Second)
		tab.Click("#confirm-ok")
		c.everyReplica(t, "paused", func(s queue.Settings) bool { return s.Paused })
		tab.WaitText("#state", "paused", 10*time.Second)
		tab.WaitText("#pause", "Resume", 5*time.Second)
		tab.Click("#pause")
		tab.WaitText("#confirm-title", "Resume admission?", 5*time.Second)
		tab.WaitText("#confirm-body", "Last in line waits", 5*time.Second)
		tab.Click("#confirm-ok")
		c.everyReplica(t, "resumed", func(s queue.Settings) bool { return !s.Paused })
		tab.WaitText("#state", "open", 10*time.Second)
	})

	t.Run("create a concert", func(t *testing.T) {
		day := time.Now().AddDate(0, 0, 30).Format("2006-01-02")
		tab.Type("#new-name", "Winter Gala")
		tab.Type("#new-dates", day)
		tab.Type("#new-seats", "1-50 150000\n51-120 90000")
		tab.Click("#create")
		tab.WaitText("#create-ok", "Created Winter Gala", 45*time.Second)
		tab.WaitText("#concert", "Winter Gala", 5*time.Second)
		tab.WaitFor(10*time.Second, "document.querySelectorAll('#seats tr').length", func(s string) bool { return s == "1" }, "the new concert's one date")
		tab.WaitText("#seats", "120", 5*time.Second)
		// Another replica sees it within its catalogue refresh.
		deadline := time.Now().Add(15 * time.Second)
		for {
			concerts, err := c.replicas[1].Booking.Concerts(context.Background())
			if err == nil && len(concerts) == 2 && concerts[1].Name == "Winter Gala" && len(concerts[1].Blocks) == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("catalogue of another replica after creating: %+v %v", concerts, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		tab.Screenshot(filepath.Join(dir, "console-created.png"))
	})

	t.Run("a bad concert is refused with the field named", func(t *testing.T) {
		tab.Allow("status of 400")
		tab.Type("#new-name", "Broken")
		tab.Type("#new-dates", "2026-02-30")
		tab.Type("#new-seats", "1-10 5000")
		tab.Click("#create")
		tab.WaitText("#create-error", "dates[0]", 45*time.Second)
	})

	t.Run("works on a phone", func(t *testing.T) {
		phone := b.Tab(t, 390, 844)
		signIn(t, phone, c.urls[1])
		phone.WaitFor(20*time.Second, "document.querySelectorAll('#seats tr').length", func(s string) bool { return s == "3" }, "numbers and seats")
		if w := browsertest.Eval[int](phone, "document.documentElement.scrollWidth"); w > 390 {
			t.Errorf("the page is %d px wide on a 390 px phone", w)
		}
		if w := browsertest.Eval[int](phone, "Math.round(document.querySelector('#chart canvas').getBoundingClientRect().width)"); w > 370 || w < 260 {
			t.Errorf("chart %d px wide on a 390 px phone", w)
		}
		phone.Screenshot(filepath.Join(dir, "console-phone.png"))
	})
}
