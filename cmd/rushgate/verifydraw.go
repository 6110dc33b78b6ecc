package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/rushgate/rushgate/draw"
)

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
	first, pub, err := draw.Fetch(ctx, client, *base, *concert)
	if errors.Is(err, draw.ErrNotOpen) {
		return fmt.Errorf("verify-draw: concert %d opens at %s: the seed is published after the open (commitment %s, %d entrants so far)",
			*concert, first.OpensAt, first.Commitment, first.Entrants)
	}
	if err != nil {
		return fmt.Errorf("verify-draw: %w", err)
	}
	seed, err := draw.Verify(pub)
	if err != nil {
		return fmt.Errorf("verify-draw: concert %d: %w", *concert, err)
	}
	fmt.Fprintf(stdout, "concert %d, opened %s: sha256(seed) = commitment %s; %d keys ascending; keys_digest %s matches\n",
		*concert, first.OpensAt, pub.Commitment, len(pub.Keys), pub.KeysDigest)
	if *user != "" {
		key := draw.Key(seed, *user)
		place := draw.Place(pub.Keys, key)
		if place == 0 {
			return fmt.Errorf("verify-draw: %s (key %s) is not in the draw", *user, key)
		}
		fmt.Fprintf(stdout, "user %s: key %s, place %d of %d\n", *user, key, place, len(pub.Keys))
	}
	if *printKeys {
		fmt.Fprintln(stdout, strings.Join(pub.Keys, "\n"))
	}
	return nil
}
