package booking_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/booking/bookingdb"
	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/keyspace"
)

// start is the test clock's origin: a day before the first date of the
// catalogue the tests create.
var start = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

// firstDay is the first date of every test concert.
const firstDay = "2030-01-02"

// mini is a booking service on miniredis (time driven by the test) and a real
// Postgres catalogue.
type mini struct {
	svc   *booking.Service
	mr    *miniredis.Miniredis
	rdb   *redis.Client
	clock *testenv.Clock
	db    *sqlx.DB
	keys  keyspace.Space
}

// newMini returns a service on a fresh miniredis over db; the clock starts at
// start and moves miniredis with it.
func newMini(t *testing.T, db *sqlx.DB, cfg booking.Config) *mini {
	t.Helper()
	mr := miniredis.RunT(t)
	mr.SetTime(start)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	clk := testenv.NewClock(start)
	cfg.Now = clk.Now
	cfg.Location = time.UTC
	keys := keyspace.New("")
	return &mini{svc: booking.NewService(db, rdb, keys, cfg), mr: mr, rdb: rdb, clock: clk, db: db, keys: keys}
}

// advance moves both the service's clock and miniredis's key expiry.
func (m *mini) advance(d time.Duration) {
	m.clock.Add(d)
	m.mr.FastForward(d)
}

// createConcert creates concert id with dates days from firstDay and seats
// seats per date at price 10000.
func createConcert(t testing.TB, db *sqlx.DB, id int64, dates, seats int) {
	t.Helper()
	first, _ := time.Parse(booking.DateLayout, firstDay)
	_, err := bookingdb.New(db).CreateConcert(context.Background(), bookingdb.NewConcert{
		ID: id, Name: "test", Days: booking.Days(first, dates), Blocks: []bookingdb.Block{{From: 1, To: seats, Price: 10000}},
	})
	if err != nil {
		t.Fatalf("create concert %d: %v", id, err)
	}
}

// sellInPostgres writes a sale straight into reservations, as a payment
// would, without telling Redis.
func sellInPostgres(t testing.TB, db *sqlx.DB, concertID int64, day string, seat int, reservationID int64, user string) {
	t.Helper()
	ctx := context.Background()
	var userSeq int64
	if err := db.GetContext(ctx, &userSeq, `
		INSERT INTO users (user_id) VALUES ($1)
		ON CONFLICT (user_id) DO UPDATE SET user_id = EXCLUDED.user_id RETURNING user_seq`, user); err != nil {
		t.Fatalf("insert user: %v", err)
	}
	if _, err := db.ExecContext(ctx, `
		INSERT INTO reservations (reservation_id, concert_id, date_id, seat_id, user_seq, reservation_date, seat_number, price)
		SELECT $1, d.concert_id, d.date_id, s.seat_id, $2, d.concert_date, s.seat_number, s.price
		FROM concert_dates d JOIN seats s ON s.date_id = d.date_id
		WHERE d.concert_id = $3 AND d.concert_date = $4::date AND s.seat_number = $5`,
		reservationID, userSeq, concertID, day, seat); err != nil {
		t.Fatalf("insert reservation: %v", err)
	}
}

// reservedID is a reservation id no hold will ever be given, as a sale's
// would be: the first id of a block reserved in Postgres.
func reservedID(t testing.TB, db *sqlx.DB) int64 {
	t.Helper()
	b, err := bookingdb.New(db).ReserveIDBlock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return b.First
}

// realEnv is a booking service on the machine's real Redis (own key prefix)
// and a fresh Postgres database with concert 1 seeded.
type realEnv struct {
	svc  *booking.Service
	rdb  redis.UniversalClient
	db   *sqlx.DB
	keys keyspace.Space
}

func newReal(t testing.TB, cfg booking.Config, dates, seats int) *realEnv {
	t.Helper()
	db, _ := testenv.Postgres(t)
	rdb, keys := testenv.Redis(t)
	svc := booking.NewService(db, rdb, keys, cfg)
	first, _ := time.Parse(booking.DateLayout, firstDay)
	if _, err := svc.Seed(context.Background(), dates, seats, 10000, first); err != nil {
		t.Fatalf("seed: %v", err)
	}
	return &realEnv{svc: svc, rdb: rdb, db: db, keys: keys}
}

// recordFieldNames are the fields of a hold record, in the order of its
// string form ("state|lease|exp|price|seat|date|user").
var recordFieldNames = []string{"state", "lease", "exp", "price", "seat", "date", "user"}

// recordFields reads the hold record at key as its fields, whether it is a
// string or a hash made by an older version; a record not claimed has no
// lease. It answers an empty map when there is no record.
func recordFields(ctx context.Context, rdb redis.Cmdable, key string) (map[string]string, error) {
	v, err := rdb.Get(ctx, key).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return map[string]string{}, nil
	case redis.HasErrorPrefix(err, "WRONGTYPE"):
		return rdb.HGetAll(ctx, key).Result()
	case err != nil:
		return nil, err
	}
	f := strings.SplitN(v, "|", len(recordFieldNames))
	if len(f) != len(recordFieldNames) {
		return nil, fmt.Errorf("record %s = %q: not of the string form", key, v)
	}
	out := map[string]string{}
	for i, name := range recordFieldNames {
		if f[i] != "" || name != "lease" {
			out[name] = f[i]
		}
	}
	return out, nil
}

// holdRecord finds the record of hold id wherever it is: its own key, or its
// member of the set of one of users (the "user-set" form, found by the id
// and '|' it starts with); an empty map when there is none.
func holdRecord(ctx context.Context, rdb redis.Cmdable, kc keyspace.Concert, id string, users []string) (map[string]string, error) {
	n, _ := strconv.ParseInt(id, 10, 64)
	rec, err := recordFields(ctx, rdb, kc.Hold(n))
	if err != nil || len(rec) > 0 {
		return rec, err
	}
	for _, user := range users {
		members, err := rdb.ZRange(ctx, kc.UserHolds(user), 0, -1).Result()
		if err != nil && !redis.HasErrorPrefix(err, "WRONGTYPE") {
			return nil, err
		}
		for _, m := range members {
			if rest, ok := strings.CutPrefix(m, id+"|"); ok {
				// The member is the record less its user, whose set it is.
				f := strings.SplitN(rest+"|"+user, "|", len(recordFieldNames))
				out := map[string]string{}
				for i, name := range recordFieldNames {
					if f[i] != "" || name != "lease" {
						out[name] = f[i]
					}
				}
				return out, nil
			}
		}
	}
	return map[string]string{}, nil
}

// inUserSet reports whether the set of user has the record of hold id as a
// member (the "user-set" form).
func inUserSet(ctx context.Context, rdb redis.Cmdable, kc keyspace.Concert, id, user string) bool {
	rec, err := holdRecord(ctx, rdb, kc, id, []string{user})
	n, _ := strconv.ParseInt(id, 10, 64)
	kind, _ := rdb.Type(ctx, kc.Hold(n)).Result()
	return err == nil && len(rec) > 0 && kind == "none"
}

// toHashRecord rewrites the hold record at key as the hash an older version
// wrote (the same fields, the same ttl), as if such a version had made it.
func toHashRecord(t testing.TB, rdb redis.Cmdable, key string) {
	t.Helper()
	ctx := context.Background()
	rec, err := recordFields(ctx, rdb, key)
	if err != nil || len(rec) == 0 {
		t.Fatalf("record %s: %v, %v", key, rec, err)
	}
	ttl, err := rdb.PTTL(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	args := []any{"user", rec["user"], "date", rec["date"], "seat", rec["seat"], "price", rec["price"],
		"exp", rec["exp"], "state", rec["state"]}
	if lease, ok := rec["lease"]; ok {
		args = append(args, "lease", lease)
	}
	if _, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, key)
		p.HSet(ctx, key, args...)
		p.PExpire(ctx, key, ttl)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
