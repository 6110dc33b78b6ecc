package fan_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp/kb"

	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/internal/browsertest"
)

// Every test here drives Debian's Chromium against a whole gateway on the
// real Redis and Postgres. The pages' failed loads that the contract expects
// (a new user's balance is 404 until the first top-up) are allowed by name.
const newUserBalance = `404 \(Not Found\) \S+/api/pay\?user_id=`

// dropFirstPayment makes the gateway pay the first payment request but lose
// its answer (the connection closes), as a timeout on a phone's network
// would: the page must retry with the same Idempotency-Key.
func dropFirstPayment() func(http.Handler) http.Handler {
	var once sync.Once
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			dropped := false
			if r.Method == "POST" && r.URL.Path == "/api/payment" {
				once.Do(func() {
					dropped = true
					h.ServeHTTP(httptest.NewRecorder(), r)
				})
			}
			if dropped {
				panic(http.ErrAbortHandler)
			}
			h.ServeHTTP(w, r)
		})
	}
}

func TestAFanBuysASeatWithOnlyTheKeyboard(t *testing.T) {
	s := newSite(t, dropFirstPayment(), 1, 10, 10000, nil)
	// A concert of three price tiers over 30 seats a date.
	id := s.newConcert("Rushgate Live 2026", 2, [3]int{1, 6, 150000}, [3]int{7, 18, 110000}, [3]int{19, 30, 90000})
	// Ten people are ahead; three of them hold the only active slots, so
	// the fan waits at place 8 until the operator makes room.
	s.admin(map[string]any{"paused": true})
	tokens := make([]string, 10)
	for i := range tokens {
		tokens[i] = s.enter(fmt.Sprintf("early%02d", i))
	}
	b := browsertest.New(t)
	f := s.fan(b, desktopW, desktopH)
	f.Allow(newUserBalance)
	f.Allow(`ERR_EMPTY_RESPONSE`) // the dropped answer

	f.open(fmt.Sprintf("/wait/%d", id))
	f.waitState("who", 10*time.Second)
	f.waitJS("the id field focused", `document.activeElement?.id === 'who-id'`, 5*time.Second)
	f.snap("who")
	f.tabTo("#who-id")
	f.press("alice", kb.Enter)
	f.waitState("waiting", 10*time.Second)
	s.admin(map[string]any{"paused": false, "max_active": 3, "admit_per_second": 100})
	f.waitJS("place 8", `document.getElementById('w-pos').textContent === '8'`, 15*time.Second)
	if got := f.text("#w-ahead"); got != "7" {
		t.Errorf("people ahead shows %q, want 7", got)
	}
	if est := f.text("#w-est"); est == "—" || est == "" {
		t.Errorf("no estimate shown while the line moves: %q", est)
	}
	f.snap("waiting")

	// One of the admitted holds seats 5 and 20 of the first date: the map
	// shows them taken.
	first := time.Now().AddDate(0, 0, 1).Format(time.DateOnly)
	for _, seat := range []int{5, 20} {
		if code, body := s.api("POST", "/api/reservation", map[string]any{"user_id": "early00", "reservation_date": first, "reservation_seat": seat},
			"Authorization", "Bearer "+tokens[0]); code != 201 {
			t.Fatalf("hold of seat %d: %d %v", seat, code, body)
		}
	}
	s.admin(map[string]any{"max_active": 100})
	f.waitState("checkout", 20*time.Second)
	f.waitJS("dates listed", `document.querySelectorAll('#dates button').length === 2`, 10*time.Second)
	f.snap("dates")

	// Keyboard only from here: Tab, arrows, Enter.
	f.tabTo("#dates button")
	f.press(kb.Enter)
	f.waitJS("seat map", `document.querySelectorAll('#seatmap button').length === 30`, 10*time.Second)
	if got := f.str(`[...document.querySelectorAll('#seatmap button:disabled')].map(b => b.dataset.seat).join(',')`); got != "5,20" {
		t.Errorf("taken seats on the map: %q, want 5,20", got)
	}
	if got := f.str(`[...document.querySelectorAll('#legend .swatch')].map(s => s.textContent).join(' / ')`); got != "₩150,000 / ₩110,000 / ₩90,000 / taken" {
		t.Errorf("legend: %q", got)
	}
	f.tabTo(`#seatmap button[tabindex="0"]`)
	f.press(kb.ArrowRight, kb.ArrowRight, kb.Enter)
	f.waitJS("seat 3 chosen", `document.querySelector('#seatmap button[aria-pressed="true"]')?.dataset.seat === '3'`, 5*time.Second)
	f.snap("seats")
	f.tabTo("#hold")
	f.press(kb.Enter)
	f.waitJS("hold shown", `document.querySelector('main').dataset.step === 'pay' && document.getElementById('balance').textContent !== '…'`, 10*time.Second)
	f.snap("hold")
	f.tabTo("#topup-missing")
	f.press(kb.Enter)
	f.waitJS("topped up", `document.getElementById('topup-missing').hidden`, 10*time.Second)
	f.tabTo("#pay")
	f.press(kb.Enter, kb.Enter) // a double press
	f.waitJS("paid", `document.querySelector('main').dataset.step === 'paid'`, 30*time.Second)
	f.snap("paid")

	// The dropped answer was retried with the same key, and paid once.
	pays := s.log.find("POST", "/api/payment")
	if len(pays) < 2 {
		t.Fatalf("%d payment requests, want the dropped one and its retry", len(pays))
	}
	for _, p := range pays {
		if p.idemKey == "" || p.idemKey != pays[0].idemKey {
			t.Errorf("payment requests carry keys %q and %q: one key per hold expected", pays[0].idemKey, p.idemKey)
		}
	}
	var completed, failed int
	if err := s.rep.DB.Get(&completed, `SELECT count(*) FROM pay_history WHERE payment_status = 'COMPLETED'`); err != nil {
		t.Fatal(err)
	}
	if err := s.rep.DB.Get(&failed, `SELECT count(*) FROM pay_history WHERE payment_status <> 'COMPLETED'`); err != nil {
		t.Fatal(err)
	}
	if completed != 1 || failed != 0 {
		t.Errorf("pay history: %d completed, %d other; want exactly 1 completed", completed, failed)
	}
	if code, body := s.api("GET", "/api/pay?user_id=alice", nil); code != 200 || body["amount"] != float64(0) {
		t.Errorf("balance after paying: %d %v; want 0 (one top-up of the price, one debit)", code, body)
	}
	if got := f.text("#paid-text"); !contains(got, "Seat 3") {
		t.Errorf("receipt says %q", got)
	}
	// A reload shows the receipt, not a new place in line.
	f.reload()
	f.waitJS("receipt after reload", `document.querySelector('main').dataset.step === 'paid'`, 10*time.Second)
}

func TestPauseShowsThePausedStateAndResumes(t *testing.T) {
	s := newSite(t, nil, 1, 20, 10000, nil)
	s.admin(map[string]any{"paused": true})
	s.enter("first")
	b := browsertest.New(t)
	f := s.fan(b, phoneW, phoneH)
	f.open("/wait/1?user_id=bob")
	f.waitState("waiting", 10*time.Second)
	f.waitJS("paused", `document.querySelector('main').dataset.paused === 'yes'`, 10*time.Second)
	if got := f.text("#paused strong"); got != "The line is paused" {
		t.Errorf("title while paused: %q", got)
	}
	if got := f.text("#w-pos"); got != "2" {
		t.Errorf("place while paused: %q, want 2", got)
	}
	f.snap("paused")
	s.admin(map[string]any{"paused": false})
	f.waitState("checkout", 20*time.Second)
}

func TestAReloadOrASecondTabKeepsThePlace(t *testing.T) {
	s := newSite(t, nil, 1, 20, 10000, nil)
	s.admin(map[string]any{"paused": true})
	s.enter("ahead1")
	s.enter("ahead2")
	b := browsertest.New(t)
	f := s.fan(b, desktopW, desktopH)
	f.open("/wait/1?user_id=bob")
	f.waitJS("place 3", `document.getElementById('w-pos')?.textContent === '3'`, 10*time.Second)
	token := f.token("bob")
	if token == "" {
		t.Fatal("no token kept in localStorage")
	}
	s.enter("behind1")
	s.enter("behind2")

	// Polls follow poll_after_ms, never sooner.
	time.Sleep(5 * time.Second) // let a few polls happen; the assertion is on their spacing
	checkPollSpacing(t, s.log.find("GET", "/api/queue/position"), "Bearer "+token)

	f.reload()
	f.waitJS("place 3 after reload", `document.getElementById('w-pos')?.textContent === '3'`, 10*time.Second)
	if got := f.token("bob"); got != token {
		t.Errorf("token after reload differs")
	}
	second := s.fan(b, phoneW, phoneH)
	second.open("/wait/1?user_id=bob")
	second.waitJS("place 3 in a second tab", `document.getElementById('w-pos')?.textContent === '3'`, 10*time.Second)
	entries := 0
	for _, r := range s.log.find("POST", "/api/tokens") {
		if contains(string(r.body), `"user_id":"bob"`) {
			entries++
		}
	}
	if entries != 1 {
		t.Errorf("bob entered the line %d times; a reload and a second tab must reuse the kept token", entries)
	}
	s.admin(map[string]any{"paused": false})
	f.waitState("checkout", 20*time.Second)
	second.waitState("checkout", 20*time.Second)
}

// checkPollSpacing checks that each poll of a token came no sooner than the
// poll_after_ms of the answer before it, and not much later.
func checkPollSpacing(t *testing.T, polls []logged, auth string) {
	t.Helper()
	var mine []logged
	for _, p := range polls {
		if p.auth == auth {
			mine = append(mine, p)
		}
	}
	if len(mine) < 3 {
		t.Fatalf("%d polls in the window, want at least 3", len(mine))
	}
	for i := 1; i < len(mine); i++ {
		gap := mine[i].at.Sub(mine[i-1].at)
		want := time.Duration(mine[i-1].pollAfterMs) * time.Millisecond
		if want == 0 {
			t.Fatalf("answer %d carried no poll_after_ms: %s", i-1, mine[i-1].body)
		}
		// Timers never fire early; 30 ms covers the request's own travel.
		if gap < want-30*time.Millisecond {
			t.Errorf("poll %d came %v after the previous, which asked for %v", i, gap, want)
		}
		if gap > want*3/2+2*time.Second {
			t.Errorf("poll %d came %v after the previous, which asked for %v: far later than asked", i, gap, want)
		}
		t.Logf("poll %d: %v after the previous (asked %v)", i, gap.Round(time.Millisecond), want)
	}
}

func TestTwentyFansInTabsAreAdmittedInTheOrderTheyEntered(t *testing.T) {
	s := newSite(t, nil, 1, 100, 10000, nil)
	s.admin(map[string]any{"paused": true})
	b := browsertest.New(t)
	fans := make([]*fan, 20)
	for i := range fans {
		fans[i] = s.fan(b, phoneW, phoneH)
		fans[i].open(fmt.Sprintf("/wait/1?user_id=fan%02d", i))
	}
	// The order they entered in is the place each was given.
	byPlace := make([]*fan, len(fans))
	for i, f := range fans {
		f.waitState("waiting", 30*time.Second)
		pos, err := strconv.Atoi(f.text("#w-pos"))
		if err != nil || pos < 1 || pos > len(fans) || byPlace[pos-1] != nil {
			t.Fatalf("fan %d shows place %q: want a place of its own in 1..%d", i, f.text("#w-pos"), len(fans))
		}
		byPlace[pos-1] = f
	}
	fans = byPlace
	s.admin(map[string]any{"paused": false, "admit_per_second": 4})
	until := make([]time.Time, len(fans))
	for i, f := range fans {
		f.waitState("checkout", 60*time.Second)
		v := f.str(`document.getElementById('turn-time').dateTime`)
		at, err := time.Parse(time.RFC3339, v)
		if err != nil {
			t.Fatalf("fan at place %d: active until %q: %v", i+1, v, err)
		}
		until[i] = at
	}
	// An admitted token is active for the same time from its admission, so
	// the order of active_until is the order of admission.
	if !sort.SliceIsSorted(until, func(i, j int) bool { return until[i].Before(until[j]) }) {
		t.Errorf("admitted out of entry order; active until, by place: %v", until)
	}
	if !until[len(until)-1].After(until[0]) {
		t.Errorf("all twenty admitted within one second at 4/s: %v", until)
	}
}

// The page's language follows Accept-Language, and the switch changes it.
func TestThePageSpeaksTheFansLanguage(t *testing.T) {
	s := newSite(t, nil, 1, 10, 10000, func(c *config.Config) {})
	s.admin(map[string]any{"paused": true})
	b := browsertest.New(t)
	f := s.fan(b, phoneW, phoneH)
	f.acceptLanguage("ko-KR,ko;q=0.9,en;q=0.8")
	f.open("/wait/1?user_id=minji")
	f.waitState("waiting", 10*time.Second)
	if got := f.str(`document.documentElement.lang`); got != "ko" {
		t.Errorf("html lang %q with Accept-Language ko", got)
	}
	if got := f.text("#wait-title"); got != "대기 중입니다" {
		t.Errorf("Korean title: %q", got)
	}
	f.click("#lang")
	f.waitJS("English", `document.getElementById('wait-title').textContent === 'You are in line'`, 5*time.Second)
	// The choice is remembered over a reload.
	f.reload()
	f.waitJS("English after reload", `document.getElementById('wait-title')?.textContent === 'You are in line'`, 10*time.Second)

	// The first load (a browser with nothing cached) transfers under 60 KB
	// (gzip), API answers aside.
	g := s.fan(browsertest.New(t), desktopW, desktopH)
	g.open("/wait/1?user_id=jisoo")
	g.waitState("waiting", 10*time.Second)
	type pageWeight struct {
		Bytes    float64 `json:"bytes"`
		Requests float64 `json:"requests"`
	}
	weight := evalTo[pageWeight](g, `(() => {
		const nav = performance.getEntriesByType('navigation')[0];
		const res = performance.getEntriesByType('resource').filter(r => !r.name.includes('/api/'));
		return {bytes: nav.transferSize + res.reduce((n, r) => n + r.transferSize, 0), requests: 1 + res.length};
	})()`)
	t.Logf("first load of /wait/1: %.0f bytes transferred in %.0f requests (API calls aside)", weight.Bytes, weight.Requests)
	if weight.Bytes <= 0 || weight.Bytes > 60*1024 {
		t.Errorf("first load transferred %.0f bytes; want under 60 KB", weight.Bytes)
	}
}

// The list of concerts on sale links to each one's waiting page, with the
// user id typed there.
func TestTheHomePageListsConcertsOnSale(t *testing.T) {
	s := newSite(t, nil, 1, 10, 10000, nil)
	id := s.newConcert("Rushgate Live 2026", 3, [3]int{1, 50, 120000})
	s.admin(map[string]any{"paused": true}) // so the fan stays on the waiting page
	b := browsertest.New(t)
	f := s.fan(b, desktopW, desktopH)
	f.open("/")
	f.waitState("list", 10*time.Second)
	if got := f.str(`[...document.querySelectorAll('#concerts h2')].map(h => h.textContent).join(' | ')`); got != "Concert 1 | Rushgate Live 2026" {
		t.Errorf("concerts listed: %q", got)
	}
	f.click("#who-id")
	f.press("dana")
	f.snap("home")
	f.click(fmt.Sprintf(`a[data-concert="%d"]`, id))
	f.waitState("waiting", 15*time.Second)
	if got := f.str(`location.pathname + location.search`); got != fmt.Sprintf("/wait/%d?user_id=dana", id) {
		t.Errorf("the link led to %s", got)
	}
	if got := f.text("#concert-name"); got != "Rushgate Live 2026" {
		t.Errorf("waiting page names the concert %q", got)
	}
}
