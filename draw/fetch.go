package draw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Page is one answer of a gateway's GET /api/concerts/{id}/draw.
type Page struct {
	ConcertID  int64    `json:"concert_id"`
	OpensAt    string   `json:"opens_at"`
	Commitment string   `json:"commitment"`
	Entrants   int64    `json:"entrants"`
	Seed       string   `json:"seed"`
	KeysDigest string   `json:"keys_digest"`
	Keys       []string `json:"keys"`
}

// MaxPage is the most keys a gateway gives in one page.
const MaxPage = 10000

// ErrNotOpen: the sale has not opened yet, so the seed is not published.
var ErrNotOpen = errors.New("draw: the seed is published after the open")

// Fetch reads a concert's whole published draw from a gateway's public API
// at baseURL, page by page. Before the open it returns the first page and
// ErrNotOpen.
func Fetch(ctx context.Context, client *http.Client, baseURL string, concertID int64) (Page, Published, error) {
	first, err := fetchPage(ctx, client, baseURL, concertID, 0)
	if err != nil {
		return Page{}, Published{}, err
	}
	if first.Seed == "" {
		return first, Published{}, ErrNotOpen
	}
	keys := append([]string(nil), first.Keys...)
	for int64(len(keys)) < first.Entrants {
		p, err := fetchPage(ctx, client, baseURL, concertID, len(keys))
		if err != nil {
			return first, Published{}, err
		}
		if len(p.Keys) == 0 {
			break
		}
		if p.Seed != first.Seed || p.KeysDigest != first.KeysDigest || p.Commitment != first.Commitment {
			return first, Published{}, errors.New("draw: the draw changed between pages")
		}
		keys = append(keys, p.Keys...)
	}
	return first, Published{Commitment: first.Commitment, Seed: first.Seed, KeysDigest: first.KeysDigest,
		Entrants: first.Entrants, Keys: keys}, nil
}

func fetchPage(ctx context.Context, client *http.Client, baseURL string, concertID int64, offset int) (Page, error) {
	u := strings.TrimRight(baseURL, "/") + "/api/concerts/" + strconv.FormatInt(concertID, 10) + "/draw?" +
		url.Values{"offset": {strconv.Itoa(offset)}, "limit": {strconv.Itoa(MaxPage)}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Page{}, fmt.Errorf("draw: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return Page{}, fmt.Errorf("draw: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return Page{}, fmt.Errorf("draw: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Page{}, fmt.Errorf("draw: GET %s: %d %s", u, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	var p Page
	if err := json.Unmarshal(body, &p); err != nil {
		return Page{}, fmt.Errorf("draw: unreadable answer: %w", err)
	}
	return p, nil
}
