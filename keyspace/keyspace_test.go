package keyspace_test

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/rushgate/rushgate/keyspace"
)

// hashTag is the part of a key Redis Cluster hashes: between the first '{'
// and the next '}', when that is not empty.
func hashTag(key string) string {
	open := strings.IndexByte(key, '{')
	if open < 0 {
		return key
	}
	end := strings.IndexByte(key[open+1:], '}')
	if end <= 0 {
		return key
	}
	return key[open+1 : open+1+end]
}

func TestEveryKeyOfAConcertSharesItsHashSlot(t *testing.T) {
	for _, prefix := range []string{"", "rg:", "rgtest:abc123:"} {
		space := keyspace.New(prefix)
		for _, id := range []int64{1, 42, math.MaxInt64} {
			c := space.Concert(id)
			keys := []string{
				c.Seq(), c.Waiting(), c.Active(), c.ActiveUsers(), c.Timeline(), c.Queue(),
				c.HoldIDs(), c.Seat("2030-01-02", 7), c.Held("2030-01-02"), c.Sold("2030-01-02"),
				c.Hold(12345), c.UserHolds("user.name@example-1"), c.Stats(29_500_000),
				c.Prequeue(), c.Draw(), c.DrawOrder(), c.Heartbeats(), c.Skipped(), c.Rejoined(),
				c.SkippedUsers(),
			}
			want := "c:" + strconv.FormatInt(id, 10)
			seen := map[string]bool{}
			for _, k := range keys {
				if got := hashTag(k); got != want {
					t.Errorf("key %q hashes on %q, want %q", k, got, want)
				}
				if !strings.HasPrefix(k, space.Prefix()) {
					t.Errorf("key %q lacks the prefix %q", k, space.Prefix())
				}
				if seen[k] {
					t.Errorf("two builders make %q", k)
				}
				seen[k] = true
			}
		}
	}
}

func TestSpacesNeverShareKeys(t *testing.T) {
	a, b := keyspace.New("rgtest:a:").Concert(1), keyspace.New("rgtest:b:").Concert(1)
	if a.Waiting() == b.Waiting() {
		t.Error("two key spaces share a key")
	}
	if got, want := keyspace.New("").Prefix(), "rg:"; got != want {
		t.Errorf("default prefix = %q, want %q", got, want)
	}
}
