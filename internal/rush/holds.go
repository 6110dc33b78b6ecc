package rush

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

// HoldsOptions configure Holds.
type HoldsOptions struct {
	BaseURL     string
	Users       int
	Concurrency int
	ConcertID   int64
	// UserPrefix starts every user id (user i is UserPrefix + i).
	UserPrefix string
	// Timeout bounds the whole call.
	Timeout time.Duration
	Client  *http.Client
}

// Held is an admitted user with one unpaid hold and a balance that covers
// it: what a payment needs.
type Held struct {
	Issued
	ReservationID int64
	Amount        int64
}

// Holds puts Users users in line, waits until each is admitted, holds one
// free seat for each (the seats of the concert's dates in order, the next one
// on 409 seat_taken) and charges each user the hold's price: the payments
// that load tools such as wrk then make, each a real payment.
func Holds(ctx context.Context, o HoldsOptions) ([]Held, error) {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.UserPrefix == "" {
		o.UserPrefix = "hd" + randomID() + "-"
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	issued, err := Tokens(ctx, TokensOptions{BaseURL: o.BaseURL, Users: o.Users, Concurrency: o.Concurrency,
		ConcertID: o.ConcertID, UserPrefix: o.UserPrefix, WaitActive: true, Timeout: o.Timeout, Client: o.Client})
	if err != nil {
		return nil, err
	}
	r := newToolRunner(Options{BaseURL: o.BaseURL, Users: o.Users, Concurrency: o.Concurrency, ConcertID: o.ConcertID, Client: o.Client})
	seats, err := r.freeSeats(ctx, "Bearer "+issued[0].Token)
	if err != nil {
		return nil, err
	}
	if len(seats) < o.Users {
		return nil, fmt.Errorf("rush: holds: %d free seats for %d users", len(seats), o.Users)
	}
	out := make([]Held, len(issued))
	var next atomic.Int64
	err = forEach(ctx, len(issued), r.opt.Concurrency, func(i int) error {
		h, err := r.holdNext(ctx, issued[i], seats, &next)
		if err != nil {
			return err
		}
		body := map[string]any{"user_id": issued[i].UserID, "amount": h.price}
		a, err := r.send(ctx, transient, http.MethodPost, "POST /api/chargePay", "/api/chargePay", body)
		if err != nil || a.status != http.StatusOK {
			return fmt.Errorf("user %s: POST /api/chargePay: %d %s%s", issued[i].UserID, a.status, a.errorCode(), errText(err))
		}
		out[i] = Held{Issued: issued[i], ReservationID: h.id, Amount: h.price}
		return nil
	})
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return out, fmt.Errorf("rush: holds: %w", err)
	}
	return out, nil
}

type seatRef struct {
	date string
	seat int
}

// freeSeats lists the free seats of every date of the token's concert, in
// order.
func (r *runner) freeSeats(ctx context.Context, auth string) ([]seatRef, error) {
	var d struct {
		AvailableDates []string `json:"available_dates"`
	}
	if err := r.getJSON(ctx, "/api/reservationData/available", auth, &d); err != nil {
		return nil, err
	}
	var out []seatRef
	for _, day := range d.AvailableDates {
		var s struct {
			AvailableSeats []int `json:"available_seats"`
		}
		if err := r.getJSON(ctx, "/api/reservationSeat/available?reservation_date="+url.QueryEscape(day), auth, &s); err != nil {
			return nil, err
		}
		for _, seat := range s.AvailableSeats {
			out = append(out, seatRef{day, seat})
		}
	}
	return out, nil
}

func (r *runner) getJSON(ctx context.Context, path, auth string, v any) error {
	a, err := r.get(ctx, "GET "+path, path, auth)
	if err != nil || a.status != http.StatusOK {
		return fmt.Errorf("rush: GET %s: %d %s%s", path, a.status, a.errorCode(), errText(err))
	}
	if err := json.Unmarshal(a.body, v); err != nil {
		return fmt.Errorf("rush: GET %s: %w", path, err)
	}
	return nil
}

// holdNext holds the next seat of seats not yet tried (next counts them
// across all users), moving on while seats are taken by others.
func (r *runner) holdNext(ctx context.Context, t Issued, seats []seatRef, next *atomic.Int64) (hold, error) {
	auth := "Bearer " + t.Token
	for {
		k := int(next.Add(1) - 1)
		if k >= len(seats) {
			return hold{}, fmt.Errorf("user %s: no free seat left", t.UserID)
		}
		body := map[string]any{"user_id": t.UserID, "reservation_date": seats[k].date, "reservation_seat": seats[k].seat}
		a, err := r.send(ctx, transient, http.MethodPost, "POST /api/reservation", "/api/reservation", body, "Authorization", auth)
		if err == nil && a.status == http.StatusConflict && a.errorCode() == "seat_taken" {
			continue
		}
		if err != nil || a.status != http.StatusCreated {
			return hold{}, fmt.Errorf("user %s: POST /api/reservation: %d %s%s", t.UserID, a.status, a.errorCode(), errText(err))
		}
		var b struct {
			ReservationID int64 `json:"reservation_id"`
			Price         int64 `json:"price"`
		}
		if json.Unmarshal(a.body, &b) != nil || b.ReservationID == 0 || b.Price <= 0 {
			return hold{}, fmt.Errorf("user %s: POST /api/reservation: unreadable body", t.UserID)
		}
		return hold{id: b.ReservationID, date: seats[k].date, seat: seats[k].seat, price: b.Price}, nil
	}
}
