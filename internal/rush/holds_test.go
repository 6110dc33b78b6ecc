package rush_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/internal/rush"
)

func TestHoldsLeaveEachUserOnePayableHold(t *testing.T) {
	const users = 20
	srv := newGateway(t, 2, 15, func(c *config.Config) { c.AdmitPerSecond = 1000 })
	held, err := rush.Holds(context.Background(), rush.HoldsOptions{BaseURL: srv.URL, Users: users, Concurrency: 8, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != users {
		t.Fatalf("got %d holds, want %d", len(held), users)
	}
	seenUser, seenRes := map[string]bool{}, map[int64]bool{}
	for _, h := range held {
		if h.Token == "" || h.ReservationID == 0 || h.Amount != 10000 || seenUser[h.UserID] || seenRes[h.ReservationID] {
			t.Fatalf("bad or repeated hold %+v", h)
		}
		seenUser[h.UserID], seenRes[h.ReservationID] = true, true
	}
	// Each hold is paid as a load tool pays it: the balance covers it and
	// the payment is real (201, COMPLETED, nothing left over).
	for i, h := range held {
		body := fmt.Sprintf(`{"user_id":%q,"reservation_id":%d,"amount":%d}`, h.UserID, h.ReservationID, h.Amount)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/payment", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+h.Token)
		req.Header.Set("Idempotency-Key", fmt.Sprintf("holds-test-%d", i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			ReservationID int64  `json:"reservation_id"`
			Status        string `json:"payment_status"`
			Balance       int64  `json:"balance"`
		}
		var raw bytes.Buffer
		raw.ReadFrom(resp.Body)
		resp.Body.Close()
		json.Unmarshal(raw.Bytes(), &p)
		if resp.StatusCode != http.StatusCreated || p.ReservationID != h.ReservationID || p.Status != "COMPLETED" || p.Balance != 0 {
			t.Fatalf("payment of %+v: %d %s", h, resp.StatusCode, raw.String())
		}
	}
}

func TestHoldsFailsWhenSeatsRunShort(t *testing.T) {
	srv := newGateway(t, 1, 5, func(c *config.Config) { c.AdmitPerSecond = 1000 })
	_, err := rush.Holds(context.Background(), rush.HoldsOptions{BaseURL: srv.URL, Users: 6, Concurrency: 4, Timeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "5 free seats for 6 users") {
		t.Fatalf("err = %v, want one about too few seats", err)
	}
}

func TestTokensSaysWhyUsersGotNoToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":{"code":"bad_request","message":"no"}}`))
	}))
	defer srv.Close()
	_, err := rush.Tokens(context.Background(), rush.TokensOptions{BaseURL: srv.URL, Users: 3, Concurrency: 2, Timeout: 10 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "3× no_token: POST /api/tokens: 400 bad_request") {
		t.Fatalf("err = %v, want the gateway's answer counted", err)
	}
}
