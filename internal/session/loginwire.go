package session

import (
	"encoding/binary"
	"errors"
	"slices"
)

// The plaintext of a login sealed as binaryLogin is its fields in a fixed
// order, each string as its length (uvarint) and bytes:
//
//	State | CodeVerifier | Nonce | RedirectURI | ReturnTo | SessionID |
//	Expires (varint) | number of app values (uvarint) | key | value | ...
//
// with the app values in key order, so that a login always seals to the
// same plaintext. It is a third of the size of the JSON that came before
// it and costs no reflection, which matters on auth-url, the one route
// anyone may call at will.

// errLoginLayout: an opened plaintext that does not follow the layout.
// Only a login sealed with our key gets this far, so this means a bug or
// a format this version does not know, and the login is refused.
var errLoginLayout = errors.New("sealed login does not follow its layout")

// encodedLen is an upper bound of the length of l's plaintext.
func (l *Login) encodedLen() int {
	n := 6*binary.MaxVarintLen64 + len(l.State) + len(l.CodeVerifier) + len(l.Nonce) +
		len(l.RedirectURI) + len(l.ReturnTo) + len(l.SessionID) + 2*binary.MaxVarintLen64
	for k, v := range l.AppValues {
		n += 2*binary.MaxVarintLen64 + len(k) + len(v)
	}
	return n
}

// appendTo appends l's plaintext to b.
func (l *Login) appendTo(b []byte) []byte {
	for _, s := range [...]string{l.State, l.CodeVerifier, l.Nonce, l.RedirectURI, l.ReturnTo, l.SessionID} {
		b = appendString(b, s)
	}
	b = binary.AppendVarint(b, l.Expires)
	b = binary.AppendUvarint(b, uint64(len(l.AppValues)))
	if len(l.AppValues) > 0 {
		keys := make([]string, 0, len(l.AppValues))
		for k := range l.AppValues {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			b = appendString(appendString(b, k), l.AppValues[k])
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// decode reads a plaintext that appendTo wrote into l. Every length is
// checked against what is left, and nothing may follow the last field.
func (l *Login) decode(b []byte) error {
	d := loginDecoder{b: b}
	for _, s := range [...]*string{&l.State, &l.CodeVerifier, &l.Nonce, &l.RedirectURI, &l.ReturnTo, &l.SessionID} {
		*s = d.string()
	}
	l.Expires = d.varint()
	if n := d.uvarint(); n > 0 && d.err == nil {
		// Each pair takes at least two bytes, which bounds the map before
		// it is made.
		if n > uint64(len(d.b))/2 {
			return errLoginLayout
		}
		l.AppValues = make(map[string]string, n)
		for range n {
			k := d.string()
			l.AppValues[k] = d.string()
		}
	}
	if d.err != nil || len(d.b) != 0 {
		return errLoginLayout
	}
	return nil
}

// loginDecoder reads the fields of a plaintext in turn; after the first
// error every read returns a zero value and the error stays.
type loginDecoder struct {
	b   []byte
	err error
}

func (d *loginDecoder) uvarint() uint64 { return readNumber(d, binary.Uvarint) }

func (d *loginDecoder) varint() int64 { return readNumber(d, binary.Varint) }

// readNumber reads one number with read (binary.Uvarint or Varint).
func readNumber[T uint64 | int64](d *loginDecoder, read func([]byte) (T, int)) T {
	if d.err != nil {
		return 0
	}
	v, n := read(d.b)
	if n <= 0 {
		d.err = errLoginLayout
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *loginDecoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = errLoginLayout
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
