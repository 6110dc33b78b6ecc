package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/rushgate/rushgate/config"
)

type auditJSON struct {
	Entries []struct {
		At        string          `json:"at"`
		Actor     string          `json:"actor"`
		Action    string          `json:"action"`
		ConcertID *int64          `json:"concert_id"`
		Before    json.RawMessage `json:"before"`
		After     json.RawMessage `json:"after"`
	} `json:"entries"`
}

const opsKey = "ops-kim-key-0123456789"

func withNamedKeys(c *config.Config) {
	c.AdminKeys = map[string]string{"ops-kim": opsKey, "ops-lee": "ops-lee-key-0123456789"}
}

func TestNamedAdminKeysAreTheActorsOfTheAuditLog(t *testing.T) {
	h := newHarness(t, withNamedKeys)
	if r := h.do("PATCH", "/admin/queue?concert_id=1", map[string]any{"admit_per_second": 42}, bearer(opsKey)...); r.Code != 200 {
		t.Fatalf("patch with a named key: %d %s", r.Code, r.Body)
	}
	if r := h.admin("PATCH", "/admin/queue?concert_id=1", map[string]any{"paused": true}); r.Code != 200 {
		t.Fatalf("patch with ADMIN_TOKEN: %d %s", r.Code, r.Body)
	}
	for _, k := range []string{"ops-kim", opsKey + "x", opsKey[:len(opsKey)-1], "ops-kim:" + opsKey} {
		if r := h.do("GET", "/admin/audit", nil, bearer(k)...); r.Code != http.StatusUnauthorized {
			t.Errorf("key %q: %d", k, r.Code)
		}
	}
	var log auditJSON
	decodeInto(t, h.admin("GET", "/admin/audit?concert_id=1&limit=10", nil), &log)
	if len(log.Entries) != 2 {
		t.Fatalf("entries = %+v", log.Entries)
	}
	e0, e1 := log.Entries[0], log.Entries[1]
	if e0.Actor != "admin" || e1.Actor != "ops-kim" || e0.Action != "queue.update" || *e0.ConcertID != 1 {
		t.Errorf("entries newest first: %+v", log.Entries)
	}
	if string(e0.Before) != string(e1.After) {
		t.Errorf("before of the newest %s is not the after of the one before %s", e0.Before, e1.After)
	}
	if got := string(e1.After); got != `{"paused":false,"max_active":1000,"admit_per_second":42,"active_ttl_seconds":600}` {
		t.Errorf("after = %s", got)
	}
}

func TestAdminRoutesAreOffWithoutAnyKey(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.AdminToken = ""; c.AdminKeys = nil })
	for _, p := range []string{"/admin/audit", "/admin/concerts", "/admin/queue/stats"} {
		if r := h.do("GET", p, nil, bearer(adminKey)...); r.Code != http.StatusForbidden {
			t.Errorf("%s: %d", p, r.Code)
		}
	}
}

// Concurrent admin changes, through two keys and of two kinds, are all in
// the log, and in the order they took effect: each entry's before is the
// after of the entry below it, and the newest after is what is in force.
func TestConcurrentAdminChangesAreAllLoggedInOrder(t *testing.T) {
	h := newHarness(t, withNamedKeys)
	const n = 40
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := opsKey
			if i%2 == 1 {
				key = adminKey
			}
			var r response
			if i%4 == 3 {
				r = h.do("PATCH", "/admin/concerts/1", map[string]any{"name": fmt.Sprintf("name %d", i)}, bearer(key)...)
			} else {
				r = h.do("PATCH", "/admin/queue?concert_id=1", map[string]any{"admit_per_second": 100 + i, "max_active": 1000 + i}, bearer(key)...)
			}
			if r.Code != 200 {
				t.Errorf("change %d: %d %s", i, r.Code, r.Body)
			}
		}()
	}
	wg.Wait()
	var log auditJSON
	decodeInto(t, h.admin("GET", "/admin/audit?concert_id=1&limit=1000", nil), &log)
	if len(log.Entries) != n {
		t.Fatalf("%d entries, want %d", len(log.Entries), n)
	}
	last := map[string]json.RawMessage{}
	for i := len(log.Entries) - 1; i >= 0; i-- { // oldest first
		e := log.Entries[i]
		if prev, ok := last[e.Action]; ok && string(prev) != string(e.Before) {
			t.Errorf("entry %d (%s): before %s, but the change before it left %s", i, e.Action, e.Before, prev)
		}
		last[e.Action] = e.After
	}
	st := h.admin("GET", "/admin/queue?concert_id=1", nil)
	var now, logged struct {
		AdmitPerSecond float64 `json:"admit_per_second"`
		MaxActive      int64   `json:"max_active"`
	}
	decodeInto(t, st, &now)
	if err := json.Unmarshal(last["queue.update"], &logged); err != nil {
		t.Fatal(err)
	}
	if now != logged {
		t.Errorf("in force %+v, newest logged %+v", now, logged)
	}
	con := h.admin("GET", "/admin/concerts/1", nil)
	var name struct{ Name string }
	json.Unmarshal(last["concert.update"], &name)
	if con.str("name") != name.Name {
		t.Errorf("concert name %q, newest logged %q", con.str("name"), name.Name)
	}
}

// A change that cannot be recorded is not made.
func TestAChangeThatCannotBeLoggedIsUndone(t *testing.T) {
	h := newHarness(t, nil)
	before := h.admin("GET", "/admin/queue?concert_id=1", nil).num("max_active")
	if _, err := h.db.Exec(`ALTER TABLE admin_audit ADD CONSTRAINT no_more CHECK (false) NOT VALID`); err != nil {
		t.Fatal(err)
	}
	if r := h.admin("PATCH", "/admin/queue?concert_id=1", map[string]any{"max_active": 7}); r.Code < 500 {
		t.Fatalf("unrecordable change answered %d %s", r.Code, r.Body)
	}
	if got := h.admin("GET", "/admin/queue?concert_id=1", nil).num("max_active"); got != before {
		t.Errorf("max_active = %d after a change that could not be logged, want %d", got, before)
	}
}
