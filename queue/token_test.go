package queue_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rushgate/rushgate/queue"
)

func sample() queue.Token {
	return queue.Token{ConcertID: 7, Seq: 12345, UserID: "test1234",
		IssuedAt: time.Unix(1_900_000_000, 0), ExpiresAt: time.Unix(1_900_007_200, 0)}
}

func TestSignedTokensRoundTrip(t *testing.T) {
	s := queue.NewSigner([]byte("k"))
	raw := s.Sign(sample())
	got, err := s.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got != sample() {
		t.Errorf("Parse = %+v, want %+v", got, sample())
	}
	if s.Sign(sample()) != raw {
		t.Error("signing is not deterministic")
	}
}

func TestTokensCarryAnyPositive63BitConcertID(t *testing.T) {
	s := queue.NewSigner([]byte("k"))
	for _, id := range []int64{1<<53 + 1, 1<<62 + 12345, 1<<63 - 1} {
		tk := sample()
		tk.ConcertID = id
		got, err := s.Parse(s.Sign(tk))
		if err != nil || got != tk {
			t.Errorf("concert %d: Parse = %+v, %v; want %+v", id, got, err, tk)
		}
	}
}

func TestForgedOrAlteredTokensAreRejected(t *testing.T) {
	s := queue.NewSigner([]byte("k"))
	raw := s.Sign(sample())
	other := sample()
	other.UserID = "mallory"
	foreign := queue.NewSigner([]byte("other key")).Sign(sample())
	payload, mac, _ := strings.Cut(raw, ".")
	otherPayload, _, _ := strings.Cut(s.Sign(other), ".")
	for name, tok := range map[string]string{
		"empty":            "",
		"no dot":           payload,
		"foreign key":      foreign,
		"moved to a user":  otherPayload + "." + mac,
		"flipped mac":      payload + "." + flip(mac),
		"flipped payload":  flip(payload) + "." + mac,
		"not base64":       "!!!." + mac,
		"oversized":        strings.Repeat("a", 300) + "." + mac,
		"trailing garbage": raw + "x",
	} {
		if _, err := s.Parse(tok); !errors.Is(err, queue.ErrInvalidToken) {
			t.Errorf("%s: err = %v, want ErrInvalidToken", name, err)
		}
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

func FuzzParse(f *testing.F) {
	s := queue.NewSigner([]byte("k"))
	f.Add(s.Sign(sample()))
	f.Add("")
	f.Add("a.b")
	f.Add("AQcBAQE.")
	f.Fuzz(func(t *testing.T, raw string) {
		tok, err := s.Parse(raw)
		if err != nil {
			return
		}
		// Anything accepted must be exactly what the key signed.
		if s.Sign(tok) != raw {
			t.Fatalf("accepted %q which is not the signature of %+v", raw, tok)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	s := queue.NewSigner([]byte("k"))
	raw := s.Sign(sample())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Parse(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
