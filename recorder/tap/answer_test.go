package tap

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// janusAnswer is an answer as Janus 1.1.2 writes one.
const janusAnswer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nAccess-Control-Allow-Origin: *\r\n" +
	"Access-Control-Max-Age: 86400\r\nContent-Length: 64\r\nDate: Wed, 25 Nov 2026 00:00:00 GMT\r\n\r\n" +
	"{\n   \"janus\": \"ack\",\n   \"session_id\": 1,\n   \"transaction\": \"t\"\n}"

// answerSeeds are answers of every kind readAnswer must read as
// http.ReadResponse does.
var answerSeeds = []string{
	janusAnswer,
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive, Close\r\nX-A: 1\r\nX-A: 2\r\nx-lower: v\r\n\r\n{}",
	"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 502 \r\nContent-Length: 3\r\n\r\nbad",
	"HTTP/1.1 200 OK\r\nContent-Length:  5  \r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
	"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n2\r\nab\r\n0\r\nX-T: v\r\n\r\n",
	"HTTP/1.1 200 OK\r\n\r\nuntil the end",
	"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}",
	"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
	"HTTP/1.1 204 No Content\r\n\r\n",
	"HTTP/1.1 200 OK\nContent-Length: 2\n\n{}",
	"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\n{}",
	"HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 2\r\n\r\n{}",
	"HTTP/1.1 200 OK\r\nX-Utf8: \xc3\xa9\r\nContent-Length: 2\r\n\r\n{}",
	"HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\n{}",
	"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n{}",
	"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\n{}",
	"garbage\r\n\r\n",
	"",
	"HTTP/1.1 200 OK\r\nX-Long: " + strings.Repeat("v", 5000) + "\r\nContent-Length: 2\r\n\r\n{}",
}

// readBoth reads data as an answer to a request of method, with
// http.ReadResponse (its body read whole) and with readAnswer.
func readBoth(data []byte, method string) (ref, ours *http.Response, refBody, ourBody []byte, refErr, ourErr error) {
	req := &http.Request{Method: method}
	ref, refErr = http.ReadResponse(bufio.NewReaderSize(bytes.NewReader(data), 4096), req)
	if refErr == nil && !(ref.StatusCode >= 100 && ref.StatusCode < 200 && ref.StatusCode != 101) {
		refBody, refErr = io.ReadAll(ref.Body)
	}
	ours, ourErr = readAnswer(bufio.NewReaderSize(bytes.NewReader(data), 4096), req)
	if ourErr == nil && !(ours.StatusCode >= 100 && ours.StatusCode < 200 && ours.StatusCode != 101) {
		ourBody, ourErr = bodyBytes(ours)
	}
	return
}

func compareAnswers(t *testing.T, data []byte, method string) {
	t.Helper()
	ref, ours, refBody, ourBody, refErr, ourErr := readBoth(data, method)
	if (refErr == nil) != (ourErr == nil) {
		t.Fatalf("%s %q: http.ReadResponse: %v; readAnswer: %v", method, data, refErr, ourErr)
	}
	if refErr != nil {
		return
	}
	if ref.Status != ours.Status || ref.StatusCode != ours.StatusCode || ref.Proto != ours.Proto ||
		ref.ContentLength != ours.ContentLength || ref.Close != ours.Close ||
		!reflect.DeepEqual(ref.TransferEncoding, ours.TransferEncoding) || !bytes.Equal(refBody, ourBody) {
		t.Fatalf("%s %q:\nhttp.ReadResponse %q %d %s length %d close %v te %v body %q\nreadAnswer        %q %d %s length %d close %v te %v body %q",
			method, data, ref.Status, ref.StatusCode, ref.Proto, ref.ContentLength, ref.Close, ref.TransferEncoding, refBody,
			ours.Status, ours.StatusCode, ours.Proto, ours.ContentLength, ours.Close, ours.TransferEncoding, ourBody)
	}
	if !reflect.DeepEqual(ref.Header, ours.Header) || !reflect.DeepEqual(ref.Trailer, ours.Trailer) {
		t.Fatalf("%s %q: headers %v trailer %v; readAnswer: %v, %v", method, data, ref.Header, ref.Trailer, ours.Header, ours.Trailer)
	}
}

// TestReadAnswer reads each seed both ways, and checks that the tap then
// takes the body without copying it.
func TestReadAnswer(t *testing.T) {
	for _, seed := range answerSeeds {
		for _, method := range []string{"GET", "POST", "HEAD"} {
			compareAnswers(t, []byte(seed), method)
		}
	}
	resp, err := readAnswer(bufio.NewReader(strings.NewReader(janusAnswer)), &http.Request{Method: "POST"})
	if err != nil {
		t.Fatal(err)
	}
	if allocs := testing.AllocsPerRun(10, func() { bodyBytes(resp) }); allocs != 0 {
		t.Errorf("bodyBytes: %.0f allocations, want none", allocs)
	}
	if b, _ := bodyBytes(resp); !strings.HasSuffix(janusAnswer, string(b)) || len(b) < 10 {
		t.Errorf("body %q", b)
	}
}
