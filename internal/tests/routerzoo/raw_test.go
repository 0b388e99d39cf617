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
	"syscall"
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

// keepAlive sends raw requests to one address over one connection, kept
// open between requests while the server keeps it, so that a fuzzing run
// opens a handful of connections, not one for each input. A target that
// holds CR or LF, which could split the bytes into several requests, goes
// over a connection of its own (sendRaw), since only reading to the end
// of that connection tells that all of them were answered; so does a
// method outside keepMethods, such as CONNECT, after which the connection
// may be a tunnel that no longer passes through Caddy's handlers. Not safe
// for concurrent use.
type keepAlive struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
}

// send writes one request and reads its answer.
func (k *keepAlive) send(method, target, id string) answer {
	if strings.ContainsAny(target, "\r\n") || !keepMethods[method] {
		k.close()
		return sendRaw(k.addr, method, target, id, "")
	}
	for attempt := 0; ; attempt++ {
		reused := k.conn != nil
		if !reused {
			conn, err := net.DialTimeout("tcp4", k.addr, rawTimeout)
			if err != nil {
				return answer{err: err}
			}
			k.conn, k.br = conn, bufio.NewReader(conn)
		}
		k.conn.SetDeadline(time.Now().Add(rawTimeout))
		req := method + " " + target + " HTTP/1.1\r\nHost: " + k.addr + "\r\nX-Zoo-Id: " + id + "\r\n"
		if method == http.MethodPost || method == http.MethodPut {
			req += "Content-Length: 0\r\n"
		}
		_, werr := io.WriteString(k.conn, req+"\r\n")
		var resp *http.Response
		err := werr
		if err == nil {
			resp, err = http.ReadResponse(k.br, &http.Request{Method: method})
		}
		if err != nil {
			k.close()
			// The server may have closed the idle connection before it
			// read the request: send it once more on a new one.
			if reused && attempt == 0 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
				continue
			}
			return answer{err: err}
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		// A server that closes, or more bytes than one answer, end the
		// connection: the next request starts clean.
		if err != nil || resp.Close || resp.StatusCode == http.StatusSwitchingProtocols || k.br.Buffered() > 0 {
			k.close()
		}
		return answer{status: resp.StatusCode, body: string(body), err: err}
	}
}

// keepMethods are the methods keepAlive sends over its kept connection.
var keepMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "DELETE": true, "PATCH": true, "OPTIONS": true}

func (k *keepAlive) close() {
	if k.conn != nil {
		k.conn.Close()
		k.conn, k.br = nil, nil
	}
}
