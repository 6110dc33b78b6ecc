// Package browsertest drives a real, headless Chromium from Go tests, so the
// pages the gateway serves are tested the way people use them. It starts
// Debian's chromium (scripts/dev/chromium.sh installs it when missing) with
// chromedp, opens tabs with a chosen viewport, saves screenshots, and fails
// the test when a page logs an error or throws: a page that "works" while
// its console fills with errors does not work.
//
// A test usually needs only this package: New, Tab, Navigate, Click, Type,
// Text, WaitText, WaitFor, Eval, Screenshot. For anything else use chromedp
// directly on Tab.Ctx; note that chromedp from v0.20 on has a generic API in
// which actions return their values (chromedp.Run(ctx, chromedp.Title())
// returns the title) and selectors are typed (chromedp.CSS("#id")); its
// docs/API.md in the module cache shows the old and new forms side by side.
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// RunTimeout bounds each Tab.Run, so a page that never shows what a test
// waits for fails that test instead of hanging the suite.
var RunTimeout = 30 * time.Second

// Executable is the Chromium binary: $CHROMIUM, else chromium or
// chromium-browser on PATH, else "" (not installed).
func Executable() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Browser is one headless Chromium process.
type Browser struct {
	ctx context.Context
}

// New starts a headless Chromium for the test and stops it at cleanup. With no
// Chromium installed the test fails and says how to install it: a browser
// test that silently does not run proves nothing.
func New(t testing.TB) *Browser {
	t.Helper()
	exe := Executable()
	if exe == "" {
		t.Fatal("browsertest: no Chromium found; run `bash scripts/dev/chromium.sh` (make test does) or set CHROMIUM")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // tests run as root in containers
		chromedp.DisableGPU,
		// A closed network: without these Chromium keeps dialling Google's
		// services, and every refused connection costs time.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	if err := start(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("browsertest: starting %s: %v", exe, err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return &Browser{ctx: ctx}
}

// start makes chromedp create the browser or tab of ctx. The first action
// on a chromedp context binds the browser (or tab) to the context it is given,
// so it must be ctx itself, not a child with a timeout, or the browser would
// close when that child ends; the time is bounded here instead.
func start(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }()
	select {
	case err := <-done:
		return err
	case <-time.After(RunTimeout):
		return fmt.Errorf("no answer within %v", RunTimeout)
	}
}

// Tab is one browser tab (its own target; tabs of one Browser share cookies
// and storage, as tabs of one person's browser do).
type Tab struct {
	// Ctx is the tab's chromedp context, for chromedp.Do and chromedp.Run
	// with actions the helpers below do not cover; bound them in time with
	// context.WithTimeout (Do and Run here do).
	Ctx context.Context
	t   testing.TB

	mu      sync.Mutex
	errs    []string
	allowed []*regexp.Regexp
}

// Tab opens a tab with a width×height viewport (CSS pixels). Phone-sized
// widths (under 600) are emulated as a mobile device with touch and a device
// scale of 2. Errors the page logs, and exceptions it throws, fail the test
// at cleanup unless allowed with Allow.
func (b *Browser) Tab(t testing.TB, width, height int) *Tab {
	t.Helper()
	tab := &Tab{t: t}
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithListener(tab.listen))
	tab.Ctx = ctx
	if err := start(ctx); err != nil {
		cancel()
		t.Fatalf("browsertest: opening a tab: %v", err)
	}
	opts := []chromedp.EmulateViewportOption{chromedp.EmulatePortrait}
	if width < 600 {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2))
	}
	tab.Do(chromedp.EmulateViewport(int64(width), int64(height), opts...))
	t.Cleanup(func() {
		cancel()
		if errs := tab.Errors(); len(errs) > 0 {
			t.Errorf("browsertest: the page reported %d error(s):\n  %s", len(errs), strings.Join(errs, "\n  "))
		}
	})
	return tab
}

// listen records the page's errors: console.error and console.assert calls,
// uncaught exceptions, and the browser's own error log (failed loads,
// Content-Security-Policy violations).
func (tab *Tab) listen(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range ev.Args {
				if len(a.Value) > 0 {
					parts = append(parts, string(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			tab.record("console." + string(ev.Type) + ": " + strings.Join(parts, " "))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		tab.record(fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, msg))
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError {
			tab.record("log: " + ev.Entry.Text + " " + ev.Entry.URL)
		}
	}
}

func (tab *Tab) record(msg string) {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	for _, re := range tab.allowed {
		if re.MatchString(msg) {
			return
		}
	}
	tab.errs = append(tab.errs, msg)
}

// Allow accepts page errors matching the regular expression pattern from now
// on: a test that cuts Redis expects "the server responded with a status of
// 503". Errors recorded before the call are kept.
func (tab *Tab) Allow(pattern string) {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	tab.allowed = append(tab.allowed, regexp.MustCompile(pattern))
}

// Errors are the page errors recorded so far that no Allow accepted.
func (tab *Tab) Errors() []string {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	return append([]string(nil), tab.errs...)
}

// Forget drops the errors recorded so far, for a test that has checked them
// itself.
func (tab *Tab) Forget() {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	tab.errs = nil
}

// Do runs actions that return nothing, in order, within RunTimeout, and
// stops the test on the first error.
func (tab *Tab) Do(actions ...chromedp.Action[chromedp.Void]) {
	tab.t.Helper()
	ctx, cancel := context.WithTimeout(tab.Ctx, RunTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tab.t.Fatalf("browsertest: %v (page errors so far: %v)", err, tab.Errors())
	}
}

// Run runs one action within RunTimeout and returns its value, stopping the
// test on error.
func Run[T any](tab *Tab, action chromedp.Action[T]) T {
	tab.t.Helper()
	v, err := TryRun(tab, RunTimeout, action)
	if err != nil {
		tab.t.Fatalf("browsertest: %v (page errors so far: %v)", err, tab.Errors())
	}
	return v
}

// TryRun runs one action within timeout and returns its value and error.
func TryRun[T any](tab *Tab, timeout time.Duration, action chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(tab.Ctx, timeout)
	defer cancel()
	return chromedp.Run(ctx, action)
}

// Navigate loads url and waits for its load event.
func (tab *Tab) Navigate(url string) {
	tab.t.Helper()
	tab.Do(chromedp.Navigate(url))
}

// Click clicks the first element matching the CSS selector, once visible.
func (tab *Tab) Click(selector string) {
	tab.t.Helper()
	tab.Do(chromedp.Click(chromedp.CSS(selector), chromedp.NodeVisible))
}

// Type types text into the element matching the CSS selector, as keystrokes.
func (tab *Tab) Type(selector, text string) {
	tab.t.Helper()
	tab.Do(chromedp.SendKeys(chromedp.CSS(selector), text, chromedp.NodeVisible))
}

// Eval evaluates a JavaScript expression in the page and decodes its value
// (a promise is awaited).
func Eval[T any](tab *Tab, expression string) T {
	tab.t.Helper()
	return Run(tab, chromedp.Evaluate[T](expression, chromedp.EvalAwaitPromise))
}

// Text is the visible text of the first element matching the CSS selector,
// waiting for it to be visible.
func (tab *Tab) Text(selector string) string {
	tab.t.Helper()
	return Run(tab, chromedp.Text(chromedp.CSS(selector), chromedp.NodeVisible))
}

// WaitVisible waits until an element matching the CSS selector is visible.
func (tab *Tab) WaitVisible(selector string) {
	tab.t.Helper()
	tab.Do(chromedp.WaitVisible(chromedp.CSS(selector)))
}

// WaitText waits until the text content of the first element matching the
// CSS selector contains want, failing the test after timeout with the last
// text seen.
func (tab *Tab) WaitText(selector, want string, timeout time.Duration) {
	tab.t.Helper()
	tab.WaitFor(timeout, "document.querySelector("+jsString(selector)+")?.textContent ?? ''", func(text string) bool {
		return strings.Contains(text, want)
	}, selector+" to show "+jsString(want))
}

// WaitFor evaluates expression every 100 ms until ok accepts its value,
// failing the test after timeout with the last value seen.
func (tab *Tab) WaitFor(timeout time.Duration, expression string, ok func(string) bool, what string) string {
	tab.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	var err error
	for {
		last, err = TryRun(tab, 2*time.Second, chromedp.Evaluate[string]("String("+expression+")"))
		if err == nil && ok(last) {
			return last
		}
		if time.Now().After(deadline) {
			tab.t.Fatalf("browsertest: waited %v for %s; last value %q (err %v; page errors %v)",
				timeout, what, last, err, tab.Errors())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Screenshot saves a PNG of the whole page to path (directories are made).
func (tab *Tab) Screenshot(path string) {
	tab.t.Helper()
	png := Run(tab, chromedp.FullScreenshot(100))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tab.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tab.t.Fatal(err)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
