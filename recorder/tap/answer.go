package tap

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
)

// readAnswer reads a gateway's answer to req from br with
// http.ReadResponse, and its whole body, which then reads from memory (see
// bodyBytes). An interim answer (1xx) has no body; the caller reads on.
func readAnswer(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
		return resp, nil
	}
	var body []byte
	if resp.Body != http.NoBody {
		if body, err = readAll(resp.Body, resp.ContentLength); err != nil {
			return nil, err
		}
	}
	resp.Body = &answerBody{Reader: bytes.NewReader(body), b: body}
	return resp, nil
}

// answerBody is a body already in memory; bodyBytes takes it without a copy.
type answerBody struct {
	*bytes.Reader
	b []byte
}

func (*answerBody) Close() error { return nil }

// bodyBytes returns the whole body of an answer readAnswer read, or reads
// it from another Body.
func bodyBytes(resp *http.Response) ([]byte, error) {
	if b, ok := resp.Body.(*answerBody); ok && b.Len() == len(b.b) {
		return b.b, nil
	}
	return io.ReadAll(resp.Body)
}

// readAll reads r whole, or its first n bytes when n is not negative
// (fewer is io.ErrUnexpectedEOF).
func readAll(r io.Reader, n int64) ([]byte, error) {
	if n < 0 {
		return io.ReadAll(r)
	}
	if n > 64<<20 { // grown as it comes rather than all at once
		b, err := io.ReadAll(io.LimitReader(r, n))
		if err == nil && int64(len(b)) < n {
			err = io.ErrUnexpectedEOF
		}
		return b, err
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}
