// Package draw is the verifiable random order of a scheduled sale's
// pre-queue: a secret seed drawn when the open is scheduled, its published
// commitment, each entrant's draw key, and the digest of the sorted keys.
// The gateway orders the pre-queue with it and anyone can check the result
// with the same functions (rushgate verify-draw).
package draw

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"sort"
	"strings"
)

// SeedSize is the length of a seed in bytes.
const SeedSize = 32

// NewSeed returns a fresh secret seed from the system's randomness.
func NewSeed() ([]byte, error) {
	seed := make([]byte, SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, fmt.Errorf("draw: no randomness for a seed: %w", err)
	}
	return seed, nil
}

// Commitment is hex(sha256(seed)): published before the open, it binds the
// gateway to the seed it reveals after.
func Commitment(seed []byte) string {
	sum := sha256.Sum256(seed)
	return hex.EncodeToString(sum[:])
}

// Keyer computes draw keys for one seed, reusing its HMAC state.
type Keyer struct {
	mac hash.Hash
	buf []byte
}

// NewKeyer returns a Keyer for seed. Not safe for concurrent use.
func NewKeyer(seed []byte) *Keyer {
	return &Keyer{mac: hmac.New(sha256.New, seed)}
}

// Key is the entrant's draw key: hex(HMAC-SHA256(key = seed, message = user id)).
func (k *Keyer) Key(userID string) string {
	k.mac.Reset()
	k.mac.Write([]byte(userID))
	k.buf = k.mac.Sum(k.buf[:0])
	return hex.EncodeToString(k.buf)
}

// Key is the draw key of one entrant for seed.
func Key(seed []byte, userID string) string { return NewKeyer(seed).Key(userID) }

// Entry is an entrant with their draw key.
type Entry struct {
	Key    string
	UserID string
}

// Order returns the entrants sorted by draw key ascending: the order in
// which the pre-queue is placed in line.
func Order(seed []byte, users []string) []Entry {
	k := NewKeyer(seed)
	out := make([]Entry, len(users))
	for i, u := range users {
		out[i] = Entry{Key: k.Key(u), UserID: u}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Digest is hex(sha256(keys joined with "\n")) of the sorted keys.
func Digest(keys []string) string {
	h := sha256.New()
	for i, k := range keys {
		if i > 0 {
			h.Write([]byte{'\n'})
		}
		h.Write([]byte(k))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Errors of Verify.
var (
	ErrCommitment = errors.New("draw: sha256(seed) differs from the commitment")
	ErrDigest     = errors.New("draw: the keys' digest differs from the published one")
	ErrOrder      = errors.New("draw: the keys are not in ascending order")
	ErrCount      = errors.New("draw: the number of keys differs from the entrants")
	ErrBadKey     = errors.New("draw: a key is not 64 hex digits")
)

// Published is what the gateway publishes of a draw after the open.
type Published struct {
	Commitment string
	Seed       string // hex
	KeysDigest string
	Entrants   int64
	Keys       []string // every key, in the published order
}

// Verify checks a published draw from the outside: the seed matches the
// commitment, the keys are well formed, ascending, as many as the entrants,
// and their digest is the published one. It returns the seed.
func Verify(p Published) ([]byte, error) {
	seed, err := hex.DecodeString(p.Seed)
	if err != nil || len(seed) != SeedSize {
		return nil, fmt.Errorf("%w: the seed is not %d hex bytes", ErrCommitment, SeedSize)
	}
	if Commitment(seed) != strings.ToLower(p.Commitment) {
		return nil, ErrCommitment
	}
	if int64(len(p.Keys)) != p.Entrants {
		return nil, fmt.Errorf("%w: %d keys, %d entrants", ErrCount, len(p.Keys), p.Entrants)
	}
	for i, k := range p.Keys {
		if len(k) != 2*sha256.Size || strings.ToLower(k) != k {
			return nil, fmt.Errorf("%w: key %d", ErrBadKey, i)
		}
		if _, err := hex.DecodeString(k); err != nil {
			return nil, fmt.Errorf("%w: key %d", ErrBadKey, i)
		}
		if i > 0 && p.Keys[i-1] >= k {
			return nil, fmt.Errorf("%w: at %d", ErrOrder, i)
		}
	}
	if Digest(p.Keys) != strings.ToLower(p.KeysDigest) {
		return nil, ErrDigest
	}
	return seed, nil
}

// Place returns the 1-based place of userID's key in the sorted keys, or 0
// when the key is not among them.
func Place(keys []string, key string) int {
	i := sort.SearchStrings(keys, key)
	if i < len(keys) && keys[i] == key {
		return i + 1
	}
	return 0
}
