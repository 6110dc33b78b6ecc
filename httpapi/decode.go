package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/payment"
	"github.com/rushgate/rushgate/userid"
)

// maxBody is the largest request body read; larger ones are 413.
const maxBody = 64 << 10

// fields is a decoded JSON object whose values are checked one by one, so
// that every 400 names the field at fault. Unknown keys are ignored.
type fields map[string]json.RawMessage

// readFields decodes the request body as a JSON object. An empty body is an
// empty object when allowEmpty (GET routes that also accept a body).
func readFields(c *gin.Context, allowEmpty bool) (fields, error) {
	body, err := readBody(c.Request)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, errBodyTooLarge
	}
	if err != nil {
		return nil, invalid("could not read the request body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if allowEmpty {
			return fields{}, nil
		}
		return nil, invalid("request body must be a JSON object")
	}
	if f, ok := decodeFlat(body); ok {
		return f, nil
	}
	var f fields
	if err := json.Unmarshal(body, &f); err != nil || f == nil {
		if name := fieldAtSyntaxError(body); name != "" {
			return nil, invalid(name + " is not a JSON value (JSON has no NaN or Infinity, and strings are quoted)")
		}
		return nil, invalid("request body must be a JSON object")
	}
	return f, nil
}

// readBody reads the request body whole. A body that states its length, as
// every client of the API sends, is read into a buffer of exactly that size
// (limitBody has refused one over maxBody): io.ReadAll starts at 512 bytes,
// five times a token or hold request, and the body is a tenth of the bytes
// a hold allocates.
func readBody(r *http.Request) ([]byte, error) {
	n := r.ContentLength
	if n <= 0 || n > maxBody {
		return io.ReadAll(r.Body)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r.Body, body); err != nil {
		return nil, err
	}
	return body, nil
}

// fieldAtSyntaxError names the key of the top-level object whose value is
// malformed JSON ({"admit_per_second": NaN}), so that the 400 names the
// field as the contract asks; "" when the fault is not in such a value.
func fieldAtSyntaxError(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	for {
		t, err := dec.Token()
		if err != nil {
			return ""
		}
		key, ok := t.(string)
		if !ok {
			return ""
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			var se *json.SyntaxError
			// Only a plain name is echoed back to the client.
			if errors.As(err, &se) && userid.Valid(key) {
				return key
			}
			return ""
		}
	}
}

func (f fields) has(name string) bool {
	v, ok := f[name]
	return ok && string(v) != "null"
}

func (f fields) string(name string) (string, error) {
	if !f.has(name) {
		return "", invalid(name + " is required")
	}
	if s, ok := plainContent(f[name]); ok {
		return s, nil
	}
	var s string
	if err := json.Unmarshal(f[name], &s); err != nil {
		return "", invalid(name + " must be a string")
	}
	return s, nil
}

// int decodes a JSON integer: no fraction, no exponent, no string, within
// [lo, hi].
func (f fields) int(name string, lo, hi int64) (int64, error) {
	if !f.has(name) {
		return 0, invalid(name + " is required")
	}
	return parseInt(name, string(f[name]), lo, hi)
}

func parseInt(name, raw string, lo, hi int64) (int64, error) {
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, invalid(name + " must be an integer from " + strconv.FormatInt(lo, 10) + " to " + strconv.FormatInt(hi, 10))
	}
	return n, nil
}

func (f fields) bool(name string) (bool, error) {
	var b bool
	if err := json.Unmarshal(f[name], &b); err != nil {
		return false, invalid(name + " must be true or false")
	}
	return b, nil
}

func (f fields) number(name string, lo, hi float64) (float64, error) {
	var n float64
	if err := json.Unmarshal(f[name], &n); err != nil || math.IsNaN(n) || math.IsInf(n, 0) || n < lo || n > hi {
		return 0, invalid(name + " must be a number from " + strconv.FormatFloat(lo, 'f', -1, 64) + " to " + strconv.FormatFloat(hi, 'f', -1, 64))
	}
	return n, nil
}

func (f fields) userID() (string, error) {
	u, err := f.string("user_id")
	if err != nil {
		return "", err
	}
	return checkUserID(u)
}

func checkUserID(u string) (string, error) {
	if !userid.Valid(u) {
		return "", invalid("user_id must be 1 to 64 characters of A-Z a-z 0-9 . _ @ -")
	}
	return u, nil
}

func (f fields) amount() (int64, error) {
	return f.int("amount", payment.MinAmount, payment.MaxAmount)
}

// maxSeat bounds seat numbers accepted at all; the catalogue decides which exist.
const maxSeat = 1_000_000

func (f fields) seat() (int, error) {
	n, err := f.int("reservation_seat", 1, maxSeat)
	return int(n), err
}

func (f fields) date() (string, error) {
	s, err := f.string("reservation_date")
	if err != nil {
		return "", err
	}
	return checkDate(s)
}

func checkDate(s string) (string, error) {
	if len(s) != len(booking.DateLayout) {
		return "", invalid("reservation_date must be a date YYYY-MM-DD")
	}
	if _, err := time.Parse(booking.DateLayout, s); err != nil {
		return "", invalid("reservation_date must be a date YYYY-MM-DD")
	}
	return s, nil
}

// maxID bounds ids accepted from clients: JSON-safe integers.
const maxID = 1<<53 - 1

func (f fields) id(name string) (int64, error) {
	return f.int(name, 1, maxID)
}

// request reads the fields of one request, keeping the first error so a
// handler reads every field it needs and checks once:
//
//	r := readRequest(c)
//	user, amount := r.userID(), r.amount()
//	if r.err != nil { … }
//
// After an error every read returns a zero value.
type request struct {
	f   fields
	err error
}

// readRequest reads the JSON body of c (which must be an object).
func readRequest(c *gin.Context) *request {
	f, err := readFields(c, false)
	return &request{f: f, err: err}
}

func (r *request) read(get func() error) {
	if r.err == nil {
		r.err = get()
	}
}

func (r *request) userID() (u string) {
	r.read(func() (err error) { u, err = r.f.userID(); return })
	return u
}

func (r *request) amount() (n int64) {
	r.read(func() (err error) { n, err = r.f.amount(); return })
	return n
}

func (r *request) id(name string) (n int64) {
	r.read(func() (err error) { n, err = r.f.id(name); return })
	return n
}

func (r *request) date() (d string) {
	r.read(func() (err error) { d, err = r.f.date(); return })
	return d
}

func (r *request) seat() (n int) {
	r.read(func() (err error) { n, err = r.f.seat(); return })
	return n
}

// optionalConcertID reads the optional concert_id field, def when absent.
// Concert ids may be any positive 63-bit integer.
func (r *request) optionalConcertID(def int64) (n int64) {
	if r.err != nil || !r.f.has("concert_id") {
		return def
	}
	r.read(func() (err error) {
		n, err = parseInt("concert_id", string(r.f["concert_id"]), 1, maxConcertID)
		return
	})
	return n
}
