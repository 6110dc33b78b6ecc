package payment

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/rushgate/rushgate/payment/paymentdb"
)

// idempotency is a request's Idempotency-Key and the hash that tells a retry
// of it from another request under the same key; the zero value is "no key".
type idempotency struct {
	userID, key, hash string
}

func newIdempotency(req Request) idempotency {
	if req.IdempotencyKey == "" {
		return idempotency{}
	}
	// The user is part of the record's key already; the hash covers the
	// rest of the request.
	sum := sha256.Sum256([]byte("v1:" + strconv.FormatInt(req.ConcertID, 10) + ":" +
		strconv.FormatInt(req.ReservationID, 10) + ":" + strconv.FormatInt(req.Amount, 10)))
	return idempotency{userID: req.UserID, key: req.IdempotencyKey, hash: hex.EncodeToString(sum[:])}
}

func (i idempotency) on() bool { return i.key != "" }

func (i idempotency) record(a answer, at time.Time) paymentdb.Record {
	body, _ := json.Marshal(a) // plain fields: cannot fail
	return paymentdb.Record{UserID: i.userID, Key: i.key, RequestHash: i.hash, Response: body, CreatedAt: at}
}

// answer is the stored answer to a payment: a receipt, or the code of a
// final refusal.
type answer struct {
	Error           string `json:"error,omitempty"`
	PaymentID       int64  `json:"payment_id,omitempty"`
	ReservationID   int64  `json:"reservation_id,omitempty"`
	ReservationDate string `json:"reservation_date,omitempty"`
	ReservationSeat int    `json:"reservation_seat,omitempty"`
	Amount          int64  `json:"amount,omitempty"`
	Status          string `json:"payment_status,omitempty"`
	Balance         int64  `json:"balance"`
}

// finalErrors are the refusals stored for replay, by a stable name (the
// contract's error code, so the table reads as the answers did); the HTTP
// layer derives each answer's status from the sentinel, as for any refusal.
var finalErrors = map[string]error{
	"amount_mismatch":       ErrAmountMismatch,
	"reservation_not_found": ErrReservationNotFound,
	"hold_expired":          ErrHoldExpired,
	"already_paid":          ErrAlreadyPaid,
}

func answerOf(r Receipt) answer {
	return answer{PaymentID: r.PaymentID, ReservationID: r.ReservationID,
		ReservationDate: r.ReservationDate, ReservationSeat: r.ReservationSeat,
		Amount: r.Amount, Status: r.Status, Balance: r.Balance}
}

// answerOfError returns the stored form of err and whether err is final.
func answerOfError(err error) (answer, bool) {
	for code, final := range finalErrors {
		if errors.Is(err, final) {
			return answer{Error: code}, true
		}
	}
	return answer{}, false
}

func replayAnswer(body []byte) (Receipt, error) {
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		return Receipt{}, fmt.Errorf("payment: stored answer: %w", err)
	}
	if a.Error != "" {
		final, ok := finalErrors[a.Error]
		if !ok {
			return Receipt{}, fmt.Errorf("payment: stored answer has unknown error %q", a.Error)
		}
		return Receipt{}, final
	}
	return Receipt{PaymentID: a.PaymentID, ReservationID: a.ReservationID,
		ReservationDate: a.ReservationDate, ReservationSeat: a.ReservationSeat,
		Amount: a.Amount, Status: a.Status, Balance: a.Balance, Replayed: true}, nil
}
