package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/internal/gatewaytest"
)

func TestRunExitStatus(t *testing.T) {
	getenv := func(string) string { return "" }
	for _, tc := range []struct {
		name string
		args []string
		want int
		says string
	}{
		{"bad flag is usage", []string{"-no-such-flag"}, exitUsage, "flag provided but not defined"},
		{"stray argument is usage", []string{"extra"}, exitUsage, "bad arguments"},
		{"zero users is usage", []string{"-users", "0"}, exitUsage, "bad arguments"},
		{"a gateway that does not answer", []string{"-url", "http://127.0.0.1:1", "-users", "1"}, exitUsage, "does not answer"},
		{"tokens from a gateway that does not answer", []string{"tokens", "-url", "http://127.0.0.1:1", "-users", "1"}, exitUsage, "does not answer"},
		{"open of an unknown route", []string{"open", "-route", "pay"}, exitUsage, "bad open-loop options"},
		{"open of a gateway that does not answer", []string{"open", "-url", "http://127.0.0.1:1", "-route", "tokens", "-conns", "2"}, exitUsage, "does not answer"},
		{"holds from a gateway that does not answer", []string{"holds", "-url", "http://127.0.0.1:1", "-users", "1"}, exitUsage, "does not answer"},
		{"holds for zero users is usage", []string{"holds", "-users", "0"}, exitUsage, "bad arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := run(context.Background(), tc.args, getenv, &stdout, &stderr); got != tc.want {
				t.Errorf("exit = %d, want %d; stderr %q", got, tc.want, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.says) {
				t.Errorf("stderr = %q, want it to say %q", stderr.String(), tc.says)
			}
		})
	}
}

func TestHoldsWritesOneLinePerHold(t *testing.T) {
	r := gatewaytest.New(t, 1, 10, 10000, func(c *config.Config) { c.AdmitPerSecond = 1000 })
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r.Handler)
	t.Cleanup(func() {
		srv.Close()
		r.StopAdmitting()
	})
	out := filepath.Join(t.TempDir(), "holds.tsv")
	var stdout, stderr bytes.Buffer
	if got := run(context.Background(), []string{"holds", "-url", srv.URL, "-users", "3", "-out", out}, func(string) string { return "" }, &stdout, &stderr); got != exitOK {
		t.Fatalf("exit = %d; stderr %q", got, stderr.String())
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3: %q", len(lines), raw)
	}
	for _, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) != 4 || f[0] == "" || f[1] == "" || f[3] != "10000" {
			t.Errorf("line %q: want token, user_id, reservation_id and amount 10000", l)
		}
		if id, err := strconv.ParseInt(f[2], 10, 64); err != nil || id <= 0 {
			t.Errorf("line %q: reservation_id %q", l, f[2])
		}
	}
}
