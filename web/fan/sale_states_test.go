package fan_test

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rushgate/rushgate/draw"
	"github.com/rushgate/rushgate/internal/browsertest"
)

// The two states at the edges of a sale: before it opens (the pre-queue and
// its draw) and after the last seat sold. Both are about polling: a page
// that keeps asking a sold-out concert, or asks a scheduled one every
// second, is load for nothing at the worst moment.

func TestASoldOutConcertSaysSoAndStopsPolling(t *testing.T) {
	s := newSite(t, nil, 1, 10, 10000, nil)
	const price = 50000
	id := s.newConcert("Last Seat Live", 1, [3]int{1, 1, price})
	date := time.Now().AddDate(0, 0, 1).Format(time.DateOnly)
	// The buyer is admitted; then nobody more (max_active 0, not paused, so
	// the line shows an estimate), so that the fan waits first in line and
	// cannot be admitted in the moment between the sale and the sell-out.
	buyer := s.enter("buyer")
	s.waitActive(buyer)
	s.admin(map[string]any{"max_active": 0})

	b := browsertest.New(t)
	f := s.fan(b, desktopW, desktopH)
	f.open(fmt.Sprintf("/wait/%d?user_id=fan", id))
	f.waitJS("place 1", `document.getElementById('w-pos')?.textContent === '1'`, 10*time.Second)
	token := f.token("fan")
	for deadline := time.Now().Add(10 * time.Second); len(s.polls(token)) < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("the waiting page polled %d times in 10 s", len(s.polls(token)))
		}
		time.Sleep(100 * time.Millisecond)
	}

	s.buy("buyer", buyer, date, 1, price)
	f.waitState("soldout", 15*time.Second)
	polls := s.polls(token)
	last := polls[len(polls)-1]
	if !strings.Contains(string(last.body), `"status":"sold_out"`) {
		t.Fatalf("the page shows sold out, but its last poll was answered %d %s", last.status, last.body)
	}
	f.waitJS("sold out said aloud", `document.getElementById('alert').textContent === 'Sold out. Every seat of this concert has been sold. Thank you for waiting.'`, 5*time.Second)
	if got := f.str(`document.activeElement?.id || ''`); got != "soldout-title" {
		t.Errorf("focus after sold out is on %q; want the sold-out heading, so a screen reader starts there", got)
	}
	f.expectIn("en", "#s-soldout h2", "Sold out")
	f.expectIn("en", "#s-soldout p", "Every seat of this concert has been sold. Thank you for waiting.")
	f.expectIn("ko", "#s-soldout h2", "매진")
	f.expectIn("ko", "#s-soldout p", "이 공연의 모든 좌석이 판매되었습니다. 기다려 주셔서 감사합니다.")
	if f.token("fan") != "" {
		t.Error("the page kept the released token")
	}
	f.snap("soldout")

	// A fan who opens the page after the sell-out: the entry answers 409
	// sold_out, and the page says so without polling or entering again.
	late := s.fan(b, phoneW, phoneH)
	late.Allow(`409 \(Conflict\) \S+/api/tokens`)
	late.open(fmt.Sprintf("/wait/%d?user_id=latecomer", id))
	late.waitState("soldout", 10*time.Second)
	late.expectIn("en", "#s-soldout h2", "Sold out")
	late.expectIn("ko", "#s-soldout h2", "매진")

	// Watch both pages for a while: five times the last poll_after_ms the
	// fan was given (1 s at the front of the line), at least 5 s.
	window := max(5*time.Second, 5*time.Duration(polls[len(polls)-2].pollAfterMs)*time.Millisecond)
	time.Sleep(window)
	var after []string
	for _, r := range s.log.find("GET", "/api/queue/position") {
		if r.at.After(last.at) {
			after = append(after, fmt.Sprintf("%s by %.20s…", r.at.Format("15:04:05.000"), r.auth))
		}
	}
	if len(after) != 0 {
		t.Errorf("%d polls in the %v after the sold-out answer, want none: %v", len(after), window, after)
	}
	var entries []string
	for _, r := range s.log.find("POST", "/api/tokens") {
		if strings.Contains(string(r.body), `"sold_out"`) || r.at.After(last.at) {
			entries = append(entries, fmt.Sprintf("%d %s", r.status, r.body))
		}
	}
	if len(entries) != 1 || !strings.HasPrefix(entries[0], "409 ") {
		t.Errorf("entries after the sell-out: %v; want exactly the latecomer's one, answered 409 sold_out", entries)
	}
	t.Logf("after the sold-out answer: %d polls, %d entries over %v", len(after), len(entries), window)

	// The list of concerts still shows it, last, as sold out, with no way in.
	home := s.fan(b, desktopW, desktopH)
	home.open("/")
	home.waitState("list", 10*time.Second)
	home.waitJS("sold out on the list", `(() => {
		const cards = [...document.querySelectorAll('#concerts li')];
		const last = cards[cards.length - 1];
		return cards.length === 2 && last.querySelector('h2').textContent === 'Last Seat Live' &&
			last.querySelector('.badge.sold_out')?.textContent === 'Sold out';
	})()`, 10*time.Second)
	if n := home.str(fmt.Sprintf(`String(document.querySelectorAll('a[data-concert="%d"]').length)`, id)); n != "0" {
		t.Errorf("the sold-out concert has %s links to its waiting page, want none", n)
	}
	if n := home.str(`String(document.querySelectorAll('a[data-concert="1"]').length)`); n != "1" {
		t.Errorf("the concert on sale has %s links to its waiting page, want one", n)
	}
}

func TestThePrequeueCountsDownThenShowsTheDrawnPlace(t *testing.T) {
	s := newSite(t, nil, 1, 10, 10000, nil)
	// Far enough ahead for the page to load and be photographed before it.
	opens := time.Now().Add(30 * time.Second).Truncate(time.Second)
	id := s.newConcertOpening("Rushgate Live 2026", opens, 1, [3]int{1, 30, 90000})
	// Nobody is admitted (max_active 0; not paused, which the page would
	// show too), so the drawn places stay as drawn while they are read.
	s.admin(map[string]any{"max_active": 0})
	early := []string{"early-a", "early-b", "early-c", "early-d"}
	for _, u := range early {
		s.enter(u)
	}

	b := browsertest.New(t)
	f := s.fan(b, desktopW, desktopH)
	f.open(fmt.Sprintf("/wait/%d?user_id=mina", id))
	f.waitState("prequeue", 10*time.Second)
	token := f.token("mina")
	if token == "" {
		t.Fatal("no token kept for the pre-queue")
	}
	first := f.countdown()
	if want := time.Until(opens); first < want-2*time.Second || first > want+2*time.Second {
		t.Errorf("countdown shows %v; the sale opens in %v", first, want.Round(time.Second))
	}
	f.expectIn("en", "#s-prequeue h2", "You are in the pre-queue")
	f.expectIn("ko", "#s-prequeue h2", "사전 대기열에 있습니다")
	if got := f.text("#pq-left"); !strings.HasPrefix(got, "Sale opens in") {
		t.Errorf("the time left in words, for screen readers: %q", got)
	}
	if got := f.text("#pq-at"); !strings.HasPrefix(got, "Opening time: ") {
		t.Errorf("the opening time: %q", got)
	}
	f.snap("prequeue")
	// The countdown shows whole seconds: read until it moves (the checks
	// above may take less than a second on an idle machine), for up to
	// three seconds.
	next := f.countdown()
	for deadline := time.Now().Add(3 * time.Second); next >= first && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		next = f.countdown()
	}
	if next >= first {
		t.Errorf("the countdown stood still for 3s: %v, then %v", first, next)
	}

	f.waitState("waiting", time.Until(opens)+20*time.Second)
	t.Logf("the page showed the line %v after the open", time.Since(opens).Round(100*time.Millisecond))
	// The page shows the place the draw gave: the published seed's key of
	// this user, among the pre-queue's sorted keys.
	code, d := s.api("GET", fmt.Sprintf("/api/concerts/%d/draw", id), nil)
	if code != 200 || d["seed"] == nil {
		t.Fatalf("draw after the open: %d %v", code, d)
	}
	seed, err := hex.DecodeString(d["seed"].(string))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, k := range d["keys"].([]any) {
		keys = append(keys, k.(string))
	}
	place := slices.Index(keys, draw.Key(seed, "mina")) + 1
	if place < 1 || len(keys) != len(early)+1 {
		t.Fatalf("mina's key is not among the %d drawn keys", len(keys))
	}
	f.waitJS(fmt.Sprintf("drawn place %d", place), fmt.Sprintf(`document.getElementById('w-pos')?.textContent === '%d'`, place), 10*time.Second)
	f.waitJS("the drawn place said aloud", fmt.Sprintf(`document.getElementById('alert').textContent === 'The sale has opened. Your place was drawn in a fair random order among everyone who waited in the pre-queue. Your place: %d'`, place), 5*time.Second)
	if got := f.text("#w-ahead"); got != strconv.Itoa(place-1) {
		t.Errorf("people ahead shows %q at drawn place %d", got, place)
	}
	f.expectIn("en", "#drawn", "The sale has opened. Your place was drawn in a fair random order among everyone who waited in the pre-queue.")
	f.expectIn("ko", "#drawn", "예매가 시작되었습니다. 사전 대기열에서 기다린 모든 분 가운데 공정한 무작위 순서로 순서가 정해졌습니다.")
	// Whoever comes after the open queues behind the whole pre-queue.
	if code, body := s.api("POST", "/api/tokens", map[string]any{"user_id": "after-open", "concert_id": id}); code != 201 || body["queue_position"] != float64(len(keys)+1) {
		t.Errorf("entry after the open: %d %v; want place %d", code, body, len(keys)+1)
	}
	f.snap("drawn")

	// Never sooner than asked, before the open, across it and after it.
	for deadline := time.Now().Add(10 * time.Second); len(s.polls(token)) < 4; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d polls by the drawn fan in 10 s after the open", len(s.polls(token)))
		}
	}
	checkPollSpacing(t, s.polls(token), "Bearer "+token)

	// A reload keeps the drawn place and its note, and then polls as asked
	// again (its first poll comes at once: it is a new page).
	reloaded := time.Now()
	f.reload()
	f.waitJS("drawn place after reload", fmt.Sprintf(`document.getElementById('w-pos')?.textContent === '%d' && !document.getElementById('drawn').hidden`, place), 10*time.Second)
	time.Sleep(3 * time.Second)
	var again []logged
	for _, p := range s.polls(token) {
		if p.at.After(reloaded) {
			again = append(again, p)
		}
	}
	checkPollSpacing(t, again, "Bearer "+token)
	var before int
	for _, p := range s.polls(token) {
		if p.at.Before(opens) {
			before++
		}
	}
	// One poll on entering, one that the first answer timed to land at the
	// open; a page that counted down by polling would have sent ~30.
	if before > 3 {
		t.Errorf("%d polls before the open; the pre-queue's poll_after_ms asked for about 2", before)
	}

	s.admin(map[string]any{"max_active": 100})
	f.waitState("checkout", 20*time.Second)
}

// ---------------------------------------------------------------- helpers

// polls are the position requests made with token, oldest first.
func (s *site) polls(token string) []logged {
	var out []logged
	for _, p := range s.log.find("GET", "/api/queue/position") {
		if p.auth == "Bearer "+token {
			out = append(out, p)
		}
	}
	return out
}

// waitActive polls token through the API until it is admitted.
func (s *site) waitActive(token string) {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body := s.api("GET", "/api/queue/position", nil, "Authorization", "Bearer "+token)
		if code == 200 && body["status"] == "active" {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("not admitted in 15 s: %d %v", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// buy holds seat on date for user, tops the price up and pays, through the API.
func (s *site) buy(user, token, date string, seat int, price int64) {
	s.t.Helper()
	auth := []string{"Authorization", "Bearer " + token}
	code, hold := s.api("POST", "/api/reservation", map[string]any{"user_id": user, "reservation_date": date, "reservation_seat": seat}, auth...)
	if code != 201 {
		s.t.Fatalf("hold: %d %v", code, hold)
	}
	if code, body := s.api("POST", "/api/chargePay", map[string]any{"user_id": user, "amount": price}); code != 200 {
		s.t.Fatalf("top-up: %d %v", code, body)
	}
	if code, body := s.api("POST", "/api/payment", map[string]any{"user_id": user, "reservation_id": hold["reservation_id"], "amount": price}, auth...); code != 201 {
		s.t.Fatalf("payment: %d %v", code, body)
	}
}

// setLang switches the page to lang with its own button, if it is not already.
func (f *fan) setLang(lang string) {
	f.t.Helper()
	if f.str(`document.documentElement.lang`) != lang {
		f.click("#lang")
		f.waitJS("language "+lang, fmt.Sprintf(`document.documentElement.lang === %q`, lang), 5*time.Second)
	}
}

// expectIn checks the text of selector in lang, and leaves the page in English.
func (f *fan) expectIn(lang, selector, want string) {
	f.t.Helper()
	f.setLang(lang)
	if got := f.text(selector); got != want {
		f.t.Errorf("%s in %s: %q, want %q", selector, lang, got, want)
	}
	f.setLang("en")
}

// countdown reads the pre-queue's countdown (m:ss or h:mm:ss).
func (f *fan) countdown() time.Duration {
	f.t.Helper()
	text := f.text("#pq-countdown")
	var d time.Duration
	for _, part := range strings.Split(text, ":") {
		n, err := strconv.Atoi(part)
		if err != nil {
			f.t.Fatalf("countdown shows %q", text)
		}
		d = d*60 + time.Duration(n)
	}
	return d * time.Second
}
