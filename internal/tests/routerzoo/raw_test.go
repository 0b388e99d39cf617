package routerzoo

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// answer is what Caddy answered one raw request.
type answer struct {
	status int    // 0 when no response came back
	body   string // the first response's body
	err    error  // why no response came back
}

// rawTimeout bounds one raw request, from the dial to the end of the
// answer.
const rawTimeout = 10 * time.Second

// sendRaw writes one request with this exact method and target to addr
// over a connection of its own, so that no client library cleans or
// refuses the target, and reads until the server closes the connection
// (the request says Connection: close), so that every request the bytes
// held, had the target split them, was answered before it returns. The
// X-Zoo-Id header names the request in the router's hits; cookie, when
// not empty, is sent as the Cookie header.
func sendRaw(addr, method, target, id, cookie string) answer {
	conn, err := net.DialTimeout("tcp4", addr, rawTimeout)
	if err != nil {
		return answer{err: err}
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(rawTimeout))
	var req strings.Builder
	req.WriteString(method + " " + target + " HTTP/1.1\r\nHost: " + addr + "\r\nX-Zoo-Id: " + id + "\r\n")
	if cookie != "" {
		req.WriteString("Cookie: " + cookie + "\r\n")
	}
	if method == http.MethodPost || method == http.MethodPut {
		req.WriteString("Content-Length: 0\r\n")
	}
	req.WriteString("Connection: close\r\n\r\n")
	if _, err := io.WriteString(conn, req.String()); err != nil {
		return answer{err: err}
	}
	raw, err := io.ReadAll(conn)
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) && len(raw) == 0 {
		return answer{err: err}
	}
	resp, perr := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), &http.Request{Method: method})
	if perr != nil {
		if err == nil {
			err = perr
		}
		return answer{err: err}
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return answer{status: resp.StatusCode, body: string(body), err: err}
}
