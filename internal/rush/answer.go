package rush

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
)

// errAnswer is an HTTP answer readAnswer cannot read.
var errAnswer = errors.New("rush: malformed HTTP answer")

// readAnswer reads one HTTP/1.1 answer from br and discards its body,
// returning its status and whether the server closes the connection after
// it. It is http.ReadResponse for a load generator: it keeps nothing of the
// answer, so it allocates nothing, which on a machine it shares with the
// gateway leaves the gateway the CPU that a parsed header map would take.
// Bodies are framed by Content-Length or chunked, as net/http sends them.
func readAnswer(br *bufio.Reader) (status int, closes bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false, errAnswer
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, errAnswer
	}
	closes = line[7] == '0' // HTTP/1.0 closes unless told otherwise
	length, chunked := int64(-1), false
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		h := bytes.TrimRight(line, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			return 0, false, errAnswer
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			length, err = strconv.ParseInt(string(value), 10, 64)
			if err != nil || length < 0 {
				return 0, false, errAnswer
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closes = bytes.EqualFold(value, []byte("close"))
		}
	}
	switch {
	case status == 204 || status == 304 || (status >= 100 && status < 200):
		return status, closes, nil
	case chunked:
		return status, closes, discardChunked(br)
	case length >= 0:
		_, err = br.Discard(int(length))
		return status, closes, err
	default: // the body runs to the end of the connection
		_, err = io.Copy(io.Discard, br)
		return status, true, err
	}
}

// discardChunked discards a chunked body and its trailer.
func discardChunked(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || n < 0 {
			return errAnswer
		}
		if n == 0 {
			for { // trailer lines, then the empty line
				line, err = br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if _, err := br.Discard(int(n) + 2); err != nil {
			return err
		}
	}
}
