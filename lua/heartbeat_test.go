package lua_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/lua"
)

// heartbeatKeys are the keys of heartbeat.lua in these tests.
var heartbeatKeys = []string{"{c:1}:heartbeats", "{c:1}:skipped", "{c:1}:rejoined"}

func newHeartbeatRedis(t *testing.T) (*miniredis.Miniredis, *redis.Client) {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	return mr, rdb
}

func TestHeartbeatsExtendWaitersOnlyAndBringBackSkippedTokensInTheirGrace(t *testing.T) {
	const now, grace = 1_900_000_000_000, 60_000
	mr, rdb := newHeartbeatRedis(t)
	hb, skipped, rejoined := heartbeatKeys[0], heartbeatKeys[1], heartbeatKeys[2]
	mr.HSet(hb, "old", "1000", "fresh", "9999999999999")
	mr.ZAdd(skipped, now-1000, "7:back")        // skipped a second ago: within the grace
	mr.ZAdd(skipped, now-grace-1, "8:too-late") // skipped past the grace
	res, err := lua.Heartbeat.Run(context.Background(), rdb, heartbeatKeys, now, grace,
		"1:old", "1900000030000", // a waiter: its life is extended, as sent
		"2:fresh", "1900000030000", // a waiter with a later sign of life already
		"3:admitted", "1900000030000", // no longer waiting: never brought back
		"7:back", "1900000030000",
		"8:too-late", "1900000030000",
	).Int64Slice()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res) != "[1 1]" {
		t.Fatalf("answered %v, want 1 recorded and 1 rejoined", res)
	}
	if got := mr.HGet(hb, "old"); got != "1900000030000" {
		t.Errorf("old's heartbeat is %q, want 1900000030000", got)
	}
	if got := mr.HGet(hb, "fresh"); got != "9999999999999" {
		t.Errorf("fresh's heartbeat went back to %q", got)
	}
	if mr.HGet(hb, "admitted") != "" {
		t.Error("a heartbeat brought back a user who was no longer waiting")
	}
	if s, err := mr.ZScore(rejoined, "7:back"); err != nil || s != now {
		t.Errorf("the skipped token in its grace rejoined at %v (%v), want %d", s, err, int64(now))
	}
	if members, _ := mr.ZMembers(skipped); fmt.Sprint(members) != "[8:too-late]" {
		t.Errorf("skipped tokens left %v, want only the one past its grace", members)
	}
}

func TestHeartbeatsLookIntoTheSkippedTokensOnlyWhenThereAreAny(t *testing.T) {
	mr, rdb := newHeartbeatRedis(t)
	mr.HSet(heartbeatKeys[0], "a", "1000", "b", "1000")
	calls := countCalls(mr)
	if err := lua.Heartbeat.Run(context.Background(), rdb, heartbeatKeys, 5000, 60_000,
		"1:a", "2000", "2:b", "2000").Err(); err != nil {
		t.Fatal(err)
	}
	if n := calls("ZSCORE"); n != 0 {
		t.Errorf("%d ZSCOREs of a skipped set that does not exist, want none", n)
	}
	if n := calls("HSET"); n != 1 {
		t.Errorf("%d HSETs, want one per flush", n)
	}
	if n, m := calls("HGET"), calls("HMGET"); n != 0 || m != 1 {
		t.Errorf("%d HGETs and %d HMGETs, want one HMGET per flush", n, m)
	}
	for user, want := range map[string]string{"a": "2000", "b": "2000"} {
		if got := mr.HGet(heartbeatKeys[0], user); got != want {
			t.Errorf("%s's heartbeat is %s, want %s", user, got, want)
		}
	}
}

// A user polled under two tokens in one flush keeps the later heartbeat,
// whichever comes first, and is written once.
func TestHeartbeatsOfOneUserUnderTwoTokensKeepTheLater(t *testing.T) {
	mr, rdb := newHeartbeatRedis(t)
	mr.HSet(heartbeatKeys[0], "a", "1000", "b", "1000")
	calls := countCalls(mr)
	res, err := lua.Heartbeat.Run(context.Background(), rdb, heartbeatKeys, 5000, 60_000,
		"1:a", "3000", "7:a", "2000", "2:b", "2000", "8:b", "3000").Int64Slice()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res) != "[3 0]" {
		t.Errorf("answered %v, want 3 recorded (a once, b twice) and none rejoined", res)
	}
	for user, want := range map[string]string{"a": "3000", "b": "3000"} {
		if got := mr.HGet(heartbeatKeys[0], user); got != want {
			t.Errorf("%s's heartbeat is %s, want %s", user, got, want)
		}
	}
	if n := calls("HSET"); n != 1 {
		t.Errorf("%d HSETs, want one", n)
	}
}

func TestHeartbeatOfATokenNotOfSeqAndUserIsRefusedAndWritesNothing(t *testing.T) {
	mr, rdb := newHeartbeatRedis(t)
	mr.HSet(heartbeatKeys[0], "a", "1000")
	err := lua.Heartbeat.Run(context.Background(), rdb, heartbeatKeys, 5000, 60_000, "1:a", "2000", "no-colon", "2000").Err()
	if err == nil || !strings.Contains(err.Error(), "is not <seq>:<user>") {
		t.Fatalf("err = %v, want a refusal of the token", err)
	}
	if got := mr.HGet(heartbeatKeys[0], "a"); got != "1000" {
		t.Errorf("a's heartbeat was written (%s) in a refused flush", got)
	}
}

// Heartbeats are compared as text: a later one of more digits, or of as many,
// replaces the kept one; an earlier one never does.
func TestHeartbeatsCompareAsNumbersWhateverTheirLength(t *testing.T) {
	mr, rdb := newHeartbeatRedis(t)
	hb := heartbeatKeys[0]
	mr.HSet(hb, "shorter", "999", "same-earlier", "1899999999999", "same-later", "1900000000001",
		"longer", "19000000000000")
	if err := lua.Heartbeat.Run(context.Background(), rdb, heartbeatKeys, 5000, 60_000,
		"1:shorter", "1000", "2:same-earlier", "1900000000000", "3:same-later", "1900000000000",
		"4:longer", "1900000000000").Err(); err != nil {
		t.Fatal(err)
	}
	for user, want := range map[string]string{
		"shorter": "1000", "same-earlier": "1900000000000",
		"same-later": "1900000000001", "longer": "19000000000000",
	} {
		if got := mr.HGet(hb, user); got != want {
			t.Errorf("%s's heartbeat is %s, want %s", user, got, want)
		}
	}
}

func TestHeartbeatThatIsNotANumberIsRefused(t *testing.T) {
	mr, rdb := newHeartbeatRedis(t)
	mr.HSet(heartbeatKeys[0], "a", "1000")
	for _, bad := range []string{"", "2e3", "-5", "12 "} {
		err := lua.Heartbeat.Run(context.Background(), rdb, heartbeatKeys, 5000, 60_000, "1:a", bad).Err()
		if err == nil || !strings.Contains(err.Error(), "not a number") {
			t.Errorf("heartbeat %q: err = %v, want not a number", bad, err)
		}
		if got := mr.HGet(heartbeatKeys[0], "a"); got != "1000" {
			t.Fatalf("heartbeat %q was written: %s", bad, got)
		}
	}
}
