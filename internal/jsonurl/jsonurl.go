// Package jsonurl writes {"url": u}, the answer of the auth-url route, as
// encoding/json would, without reflection and into buffers kept for the
// next answer: the route answers it on every call.
package jsonurl

import (
	"encoding/json"
	"sync"
)

// Answer is {"url": u} as encoding/json writes it, in a buffer kept
// for the next answer: release it once written. Auth-url answers it on
// every call, and its URL is printable ASCII, written here in runs
// without reflection; anything else goes through encoding/json.
func Answer(u string) *Buf {
	a := answers.Get().(*Buf)
	a.body = appendAnswer(a.body[:0], u)
	return a
}

// appendAnswer appends {"url": u} to b, as encoding/json writes it.
func appendAnswer(b []byte, u string) []byte {
	b = append(b, `{"url":"`...)
	run := 0 // the start of the run of bytes not yet written
	for i := 0; i < len(u); i++ {
		c := u[i]
		if jsonAsIs[c] {
			continue
		}
		b = append(b, u[run:i]...)
		run = i + 1
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '<', '>', '&':
			// encoding/json escapes these so the JSON is safe inside HTML.
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		default:
			v, _ := json.Marshal(struct {
				URL string `json:"url"`
			}{u})
			return append(b[:0], v...)
		}
	}
	b = append(b, u[run:]...)
	return append(b, `"}`...)
}

// Buf is a buffer holding an answer: read it with Bytes, then Release it.
type Buf struct{ body []byte }

// Bytes is the answer's JSON; valid until Release.
func (a *Buf) Bytes() []byte { return a.body }

// answers keeps the buffers of auth-url's answers for the next answer.
var answers = sync.Pool{New: func() any { return new(Buf) }}

// maxKeptAnswer is the largest answer buffer kept for the next answer:
// an authorization URL is a few hundred bytes, and a rare larger one
// (a long redirect URI) is not worth keeping.
const maxKeptAnswer = 4 << 10

// Release hands a back for the next answer, but for one grown past
// maxKeptAnswer, which is dropped.
func (a *Buf) Release() {
	if cap(a.body) <= maxKeptAnswer {
		answers.Put(a)
	}
}

// jsonAsIs marks the bytes encoding/json writes unchanged inside a string:
// printable ASCII but for the quote, the backslash and <, > and &.
var jsonAsIs = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()
