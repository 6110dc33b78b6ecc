package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/payment"
)

func TestAuditPassesOnHonestBooksAndFailsOnMoneyFromNowhere(t *testing.T) {
	db, dsn := testenv.Postgres(t)
	ctx := context.Background()
	svc := payment.NewService(db, nil, payment.Config{})
	for _, u := range []string{"a", "b"} {
		if _, err := svc.Charge(ctx, u, 7000); err != nil {
			t.Fatal(err)
		}
	}
	env := func(k string) string {
		if k == "DATABASE_URL" {
			return dsn
		}
		return ""
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"audit"}, env, &out, io.Discard); err != nil {
		t.Fatalf("audit of honest books: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "charged 14000 = balances 14000 + paid 0  ok") {
		t.Errorf("audit said:\n%s", out.String())
	}
	db.MustExec(`UPDATE users SET pay = pay + 1 WHERE user_id = 'a'`)
	out.Reset()
	if err := run(ctx, []string{"audit"}, env, &out, io.Discard); err == nil {
		t.Fatalf("audit passed with a won from nowhere:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "BROKEN") {
		t.Errorf("audit said:\n%s", out.String())
	}
}
