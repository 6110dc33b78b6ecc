package queue_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/keyspace"
	"github.com/rushgate/rushgate/queue"
)

// backends are the two Redis servers the admission script must behave the
// same on: miniredis runs it in gopher-lua, the real Redis in Lua 5.1, and the
// two read "nan" and "inf" differently (C's strtod accepts them).
var backends = []struct {
	name string
	open func(t *testing.T) (redis.UniversalClient, keyspace.Space)
}{
	{"miniredis", func(t *testing.T) (redis.UniversalClient, keyspace.Space) {
		mr := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { rdb.Close() })
		return rdb, keyspace.New("")
	}},
	{"redis", func(t *testing.T) (redis.UniversalClient, keyspace.Space) {
		return testenv.Redis(t)
	}},
}

// bucket reads the stored token bucket of concert 1 as a number.
func bucket(t *testing.T, rdb redis.UniversalClient, keys keyspace.Space) (string, float64) {
	t.Helper()
	raw, err := rdb.HGet(context.Background(), keys.Concert(1).Queue(), "tokens").Result()
	if err != nil {
		t.Fatalf("read the bucket: %v", err)
	}
	n, err := strconv.ParseFloat(raw, 64)
	if err != nil {
		t.Fatalf("bucket %q is no number: %v", raw, err)
	}
	return raw, n
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// TestAdmissionNeverStoresANonFiniteBucket: whatever rate reaches the
// admission step (a default that slipped past the configuration, or a
// setting written into Redis by hand), the bucket it stores stays a finite
// number, and a line whose settings were NaN admits again after one valid
// change of the rate.
func TestAdmissionNeverStoresANonFiniteBucket(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
				t.Run(fmt.Sprint(bad), func(t *testing.T) {
					rdb, keys := be.open(t)
					ctx := context.Background()
					clk := testenv.NewClock(time.Date(2030, 5, 1, 10, 0, 0, 0, time.UTC))
					q := queue.New(rdb, keys, queue.NewSigner([]byte("s")), queue.Config{
						TokenTTL: time.Hour, Now: clk.Now,
						Defaults: queue.Settings{AdmitPerSecond: bad, MaxActive: 100, ActiveTTL: time.Minute},
					})
					for i := range 5 {
						if _, err := q.Enter(ctx, 1, fmt.Sprintf("u%d", i)); err != nil {
							t.Fatal(err)
						}
					}
					for range 3 {
						clk.Add(time.Second)
						a, err := q.Admit(ctx, 1)
						if err != nil {
							t.Fatal(err)
						}
						if a.Admitted != 0 || a.Settings.AdmitPerSecond != 0 {
							t.Errorf("default rate %v: admitted %d at rate %v, want 0 at 0", bad, a.Admitted, a.Settings.AdmitPerSecond)
						}
						if raw, n := bucket(t, rdb, keys); !finite(n) {
							t.Fatalf("default rate %v: bucket stored as %q", bad, raw)
						}
					}

					// A bucket and a rate poisoned in Redis itself.
					k := keys.Concert(1).Queue()
					if err := rdb.HSet(ctx, k, "tokens", "nan", "admit_per_second", "nan").Err(); err != nil {
						t.Fatal(err)
					}
					clk.Add(time.Second)
					a, err := q.Admit(ctx, 1)
					if err != nil {
						t.Fatal(err)
					}
					if raw, n := bucket(t, rdb, keys); !finite(n) || a.Admitted != 0 {
						t.Fatalf("poisoned: bucket %q, admitted %d", raw, a.Admitted)
					}
					st, err := q.Status(ctx, 1)
					if err != nil || st.AdmitPerSecond != 0 {
						t.Fatalf("status of a poisoned rate = %v, %v; want 0", st.AdmitPerSecond, err)
					}

					// One valid PATCH heals the line.
					rate := 10.0
					if _, err := q.UpdateSettings(ctx, 1, queue.SettingsPatch{AdmitPerSecond: &rate}); err != nil {
						t.Fatal(err)
					}
					var admitted int64
					for range 10 {
						clk.Add(100 * time.Millisecond)
						a, err := q.Admit(ctx, 1)
						if err != nil {
							t.Fatal(err)
						}
						admitted += a.Admitted
					}
					if admitted != 5 {
						t.Errorf("after a valid rate: admitted %d of 5 waiting in 1s at 10/s", admitted)
					}
					if raw, n := bucket(t, rdb, keys); !finite(n) {
						t.Errorf("healed line stores bucket %q", raw)
					}
				})
			}
		})
	}
}

// TestUpdateSettingsRefusesNonFiniteRates: NaN fails every comparison, so
// only a check that names it keeps it out.
func TestUpdateSettingsRefusesNonFiniteRates(t *testing.T) {
	f := newFixture(t, fast)
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, err := f.q.UpdateSettings(f.ctx, 1, queue.SettingsPatch{AdmitPerSecond: &v}); !errors.Is(err, queue.ErrInvalidSettings) {
			t.Errorf("UpdateSettings(admit_per_second %v) = %v, want ErrInvalidSettings", v, err)
		}
	}
	st, err := f.q.Status(f.ctx, 1)
	if err != nil || st.AdmitPerSecond != fast.AdmitPerSecond {
		t.Errorf("rate after refused changes = %v, %v; want %v", st.AdmitPerSecond, err, fast.AdmitPerSecond)
	}
}
