package session

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
)

// sealJSONLogin seals l as sites sealed logins before the binary layout,
// with m's current key, so tests can check that such logins still open.
func sealJSONLogin(t *testing.T, m *Manager, name string, l Login) string {
	t.Helper()
	epoch, aead, err := m.keys.current(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	plain, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	buf := binary.AppendUvarint([]byte{jsonLogin}, epoch)
	header := len(buf)
	buf = append(buf, make([]byte, aead.NonceSize())...)
	buf = aead.Seal(buf, buf[header:], plain, additionalData(nil, name, buf[:header]))
	return base64.RawURLEncoding.EncodeToString(buf)
}

// TestLoginLayouts: a login opens to what was sealed in the binary layout
// and in the JSON one before it, with and without the optional fields; a
// binary login is smaller than the JSON one was.
func TestLoginLayouts(t *testing.T) {
	t.Parallel()
	m := newManager(memoryScope(t, 100), testclock.New(clockStart), nil)
	full := Login{State: "state-1", CodeVerifier: "verifier", Nonce: "nonce", RedirectURI: "http://localhost/api/redirect",
		ReturnTo: "/back?x=1", AppValues: map[string]string{"iceCream": "vanilla", "b": "", "": "empty key"},
		SessionID: NewID(), Expires: clockStart.Add(10 * time.Minute).Unix()}
	bare := Login{State: "state-1", CodeVerifier: "verifier", Nonce: "nonce", RedirectURI: "http://localhost/api/redirect",
		Expires: clockStart.Add(time.Minute).Unix(), SessionID: NewID()}
	const name = "sgid_session_login_abc"
	for _, tc := range []struct {
		name  string
		login Login
	}{{"full", full}, {"bare", bare}} {
		t.Run(tc.name, func(t *testing.T) {
			bin, err := m.sealLogin(t.Context(), name, tc.login)
			if err != nil {
				t.Fatal(err)
			}
			legacy := sealJSONLogin(t, m, name, tc.login)
			for _, v := range []string{bin, legacy} {
				got, err := m.openLogin(t.Context(), name, v, tc.login.State)
				if err != nil || !reflect.DeepEqual(got, tc.login) {
					t.Errorf("opened as %+v, %v; want %+v", got, err, tc.login)
				}
			}
			if len(bin) >= len(legacy) {
				t.Errorf("binary login of %d bytes, JSON one of %d", len(bin), len(legacy))
			}
		})
	}
}

// TestLoginDecodeRefusals: a plaintext that does not follow the layout,
// cut anywhere, with bytes after its end, or with lengths beyond what is
// left, is refused whole.
func TestLoginDecodeRefusals(t *testing.T) {
	t.Parallel()
	l := Login{State: "s", CodeVerifier: "v", Nonce: "n", RedirectURI: "https://a/r", ReturnTo: "/t",
		SessionID: "i", Expires: 1 << 40, AppValues: map[string]string{"k": "v", "k2": "v2"}}
	good := l.appendTo(nil)
	var back Login
	if err := back.decode(good); err != nil || !reflect.DeepEqual(back, l) {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
	if len(good) > l.encodedLen() {
		t.Fatalf("encodedLen %d under the %d bytes written", l.encodedLen(), len(good))
	}
	cases := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"trailing byte", append(append([]byte(nil), good...), 0)},
		{"length beyond the end", []byte{0x7f, 'a'}},
		{"varint overflow", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"more app values than bytes", append(Login{}.withCount(1000), 0, 0)},
	}
	for i := range len(good) {
		cases = append(cases, struct {
			name string
			b    []byte
		}{"cut at " + string(rune('0'+i%10)), good[:i]})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got Login
			if err := got.decode(tc.b); !errors.Is(err, errLoginLayout) {
				t.Errorf("decode(%x) = %v, %+v; want errLoginLayout", tc.b, err, got)
			}
		})
	}
}

// withCount is the plaintext of an empty login up to its count of app
// values, which is n.
func (l Login) withCount(n uint64) []byte {
	b := l.appendTo(nil)
	return binary.AppendUvarint(b[:len(b)-1], n)
}
