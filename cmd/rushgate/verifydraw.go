package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rushgate/rushgate/draw"
)

// drawPage is one answer of GET /api/concerts/{id}/draw.
type drawPage struct {
	ConcertID  int64    `json:"concert_id"`
	OpensAt    string   `json:"opens_at"`
	Commitment string   `json:"commitment"`
	Entrants   int64    `json:"entrants"`
	Seed       string   `json:"seed"`
	KeysDigest string   `json:"keys_digest"`
	Keys       []string `json:"keys"`
}

// verifyDrawPage is the page size verify-draw asks for: the contract's most.
const verifyDrawPage = 10000

// verifyDraw checks a concert's published draw from the outside, as anyone
// can: it needs only the gateway's public URL. Exits non-zero (an error) on
// any mismatch, or when the draw is not published yet.
func verifyDraw(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("verify-draw", flag.ContinueOnError)
	base := fs.String("url", "http://127.0.0.1:8080", "the gateway's base URL")
	concert := fs.Int64("concert", 1, "concert id")
	user := fs.String("user", "", "also print this user's draw key and place")
	printKeys := fs.Bool("keys", false, "print every key in draw order, one a line")
	fs.SetOutput(stdout)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *concert < 1 {
		return errors.New("verify-draw: --concert must be a positive id")
	}
	client := &http.Client{Timeout: 30 * time.Second}
	first, err := fetchDrawPage(ctx, client, *base, *concert, 0)
	if err != nil {
		return err
	}
	if first.Seed == "" {
		return fmt.Errorf("verify-draw: concert %d opens at %s: the seed is published after the open (commitment %s, %d entrants so far)",
			*concert, first.OpensAt, first.Commitment, first.Entrants)
	}
	keys := append([]string(nil), first.Keys...)
	for int64(len(keys)) < first.Entrants {
		p, err := fetchDrawPage(ctx, client, *base, *concert, len(keys))
		if err != nil {
			return err
		}
		if len(p.Keys) == 0 {
			break
		}
		if p.Seed != first.Seed || p.KeysDigest != first.KeysDigest || p.Commitment != first.Commitment {
			return errors.New("verify-draw: the draw changed between pages")
		}
		keys = append(keys, p.Keys...)
	}
	seed, err := draw.Verify(draw.Published{Commitment: first.Commitment, Seed: first.Seed,
		KeysDigest: first.KeysDigest, Entrants: first.Entrants, Keys: keys})
	if err != nil {
		return fmt.Errorf("verify-draw: concert %d: %w", *concert, err)
	}
	fmt.Fprintf(stdout, "concert %d, opened %s: sha256(seed) = commitment %s; %d keys ascending; keys_digest %s matches\n",
		*concert, first.OpensAt, first.Commitment, len(keys), first.KeysDigest)
	if *user != "" {
		key := draw.Key(seed, *user)
		place := draw.Place(keys, key)
		if place == 0 {
			return fmt.Errorf("verify-draw: %s (key %s) is not in the draw", *user, key)
		}
		fmt.Fprintf(stdout, "user %s: key %s, place %d of %d\n", *user, key, place, len(keys))
	}
	if *printKeys {
		fmt.Fprintln(stdout, strings.Join(keys, "\n"))
	}
	return nil
}

func fetchDrawPage(ctx context.Context, client *http.Client, base string, concert int64, offset int) (drawPage, error) {
	u := strings.TrimRight(base, "/") + "/api/concerts/" + strconv.FormatInt(concert, 10) + "/draw?" +
		url.Values{"offset": {strconv.Itoa(offset)}, "limit": {strconv.Itoa(verifyDrawPage)}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return drawPage{}, fmt.Errorf("verify-draw: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return drawPage{}, fmt.Errorf("verify-draw: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return drawPage{}, fmt.Errorf("verify-draw: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return drawPage{}, fmt.Errorf("verify-draw: GET %s: %d %s", u, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	var p drawPage
	if err := json.Unmarshal(body, &p); err != nil {
		return drawPage{}, fmt.Errorf("verify-draw: unreadable answer: %w", err)
	}
	return p, nil
}
