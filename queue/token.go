package queue

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"strings"
	"sync"
	"time"

	"github.com/rushgate/rushgate/userid"
)

// Token is what a signed queue token says: who holds it, for which concert,
// and its place in that concert's arrival sequence. The place rides in the
// token so that a poll can answer from a subtraction, without Redis.
type Token struct {
	ConcertID int64
	Seq       int64 // arrival sequence; also the token id shown to clients
	UserID    string
	IssuedAt  time.Time // whole seconds
	ExpiresAt time.Time // when it lapses if still waiting; whole seconds
	// Gen is the generation of the line the token was issued in (see
	// Queue.Enter); 0 for tokens signed before lines had generations.
	Gen int64
}

// member is the token's entry in the active set.
func (t Token) member() string { return itoa(t.Seq) + ":" + t.UserID }

// Token payload versions: 2 carries the line's generation; 1 (without it)
// is still accepted so that tokens issued before an upgrade stay valid.
const (
	tokenVersion      = 2
	tokenVersionNoGen = 1
)

// Signer signs and verifies tokens with HMAC-SHA256. It is safe for
// concurrent use.
type Signer struct {
	key []byte
	// verifiers holds HMAC states keyed with key, with scratch buffers:
	// every poll verifies a token, and resetting a state is much cheaper
	// than building one.
	verifiers sync.Pool
}

type verifier struct {
	mac                     hash.Hash
	payload, sig, sum, text [maxTokenLen]byte
}

// NewSigner returns a Signer for secret. An empty secret gets a random key:
// tokens then verify only on this process.
func NewSigner(secret []byte) *Signer {
	if len(secret) == 0 {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			panic("queue: no randomness for a token key: " + err.Error())
		}
	}
	s := &Signer{key: append([]byte(nil), secret...)}
	s.verifiers.New = func() any { return &verifier{mac: hmac.New(sha256.New, s.key)} }
	return s
}

// Sign returns the opaque token string: base64url(payload) "." base64url(mac).
// Signing is deterministic, so the same token state gives the same string.
func (s *Signer) Sign(t Token) string {
	payload := make([]byte, 0, 32+len(t.UserID))
	payload = append(payload, tokenVersion)
	payload = binary.AppendUvarint(payload, uint64(t.ConcertID))
	payload = binary.AppendUvarint(payload, uint64(t.Seq))
	payload = binary.AppendUvarint(payload, uint64(t.IssuedAt.Unix()))
	payload = binary.AppendUvarint(payload, uint64(t.ExpiresAt.Unix()))
	payload = binary.AppendUvarint(payload, uint64(t.Gen))
	payload = append(payload, t.UserID...)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(s.mac(payload))
}

func (s *Signer) mac(payload []byte) []byte {
	v := s.verifiers.Get().(*verifier)
	defer s.verifiers.Put(v)
	return v.sumOf(nil, payload)
}

// sumOf appends the MAC of payload to dst.
func (v *verifier) sumOf(dst, payload []byte) []byte {
	v.mac.Reset()
	v.mac.Write(payload)
	return v.mac.Sum(dst)
}

// maxTokenLen bounds the work spent on a hostile Authorization header.
const maxTokenLen = 256

// Parse verifies a token string and returns what it says. Any malformed,
// altered or foreign token is ErrInvalidToken; the signature is compared in
// constant time before anything else is trusted.
func (s *Signer) Parse(raw string) (Token, error) {
	if len(raw) == 0 || len(raw) > maxTokenLen {
		return Token{}, ErrInvalidToken
	}
	dot := strings.IndexByte(raw, '.')
	if dot < 0 {
		return Token{}, ErrInvalidToken
	}
	// Decoded into pooled buffers: a poll verifies a token without
	// allocating anything but the user id.
	v := s.verifiers.Get().(*verifier)
	defer s.verifiers.Put(v)
	enc := base64.RawURLEncoding
	text := append(v.text[:0], raw...)
	n, err := enc.Decode(v.payload[:], text[:dot])
	if err != nil {
		return Token{}, ErrInvalidToken
	}
	payload := v.payload[:n]
	m, err := enc.Decode(v.sig[:], text[dot+1:])
	if err != nil || !hmac.Equal(v.sig[:m], v.sumOf(v.sum[:0], payload)) {
		return Token{}, ErrInvalidToken
	}
	return decodePayload(payload)
}

func decodePayload(p []byte) (Token, error) {
	if len(p) == 0 || (p[0] != tokenVersion && p[0] != tokenVersionNoGen) {
		return Token{}, ErrInvalidToken
	}
	var fields [5]uint64
	count := len(fields)
	if p[0] == tokenVersionNoGen {
		count-- // no generation
	}
	p = p[1:]
	for i := range count {
		v, n := binary.Uvarint(p)
		// A concert id may be any positive 63-bit integer; the other
		// fields stay below 2^53.
		if n <= 0 || v > 1<<63-1 || (i > 0 && v > 1<<53) {
			return Token{}, ErrInvalidToken
		}
		fields[i] = v
		p = p[n:]
	}
	user := string(p)
	if !userid.Valid(user) || fields[0] == 0 || fields[1] == 0 {
		return Token{}, ErrInvalidToken
	}
	return Token{
		ConcertID: int64(fields[0]),
		Seq:       int64(fields[1]),
		IssuedAt:  time.Unix(int64(fields[2]), 0),
		ExpiresAt: time.Unix(int64(fields[3]), 0),
		Gen:       int64(fields[4]),
		UserID:    user,
	}, nil
}
