package sparoutes

import (
	"encoding/json"
	"strconv"
	"sync"
)

// The session route is polled by every open page of the app, so its
// answer is written here without reflection, into buffers kept for the
// next answer: encoding/json was most of the route's own time.

// stateBufs keeps the buffers the session route's answers are written in.
var stateBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// maxKeptState is the largest buffer kept for the next answer: an answer
// is under 300 bytes, and one grown by a long sub is not worth keeping.
const maxKeptState = 1 << 10

// appendState appends st as encoding/json writes it.
func appendState(b []byte, st State) []byte {
	b = append(b, `{"active":`...)
	b = strconv.AppendBool(b, st.Active)
	b = append(b, `,"sub":`...)
	if st.Sub == nil {
		b = append(b, "null"...)
	} else {
		b = appendString(b, *st.Sub)
	}
	for _, f := range []struct {
		name string
		v    *int64
	}{{`,"auth_time":`, st.AuthTime}, {`,"expires_at":`, st.ExpiresAt}, {`,"idle_expires_at":`, st.IdleExpiresAt}} {
		b = append(b, f.name...)
		if f.v == nil {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendInt(b, *f.v, 10)
		}
	}
	b = append(b, `,"login_url":`...)
	b = appendString(b, st.LoginURL)
	b = append(b, `,"logout_url":`...)
	b = appendString(b, st.LogoutURL)
	return append(b, '}')
}

// appendString appends s as a JSON string as encoding/json writes it:
// printable ASCII but for the quote, the backslash and <, > and & (which
// encoding/json escapes for HTML) as it is, written directly; any other
// string through encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			// A copy goes to encoding/json, so that s itself, which may
			// point into the caller's frame, does not escape.
			q, _ := json.Marshal(string([]byte(s)))
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
