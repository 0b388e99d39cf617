package session

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// TestRecordAtRest: a sealed record shows neither the id, the sub nor the
// data; its store key is a one-way hash of the id that does not open it;
// only the id it was sealed for opens it, and any change is refused.
func TestRecordAtRest(t *testing.T) {
	t.Parallel()
	id := NewID()
	s := Session{Sub: "sgidtest:sub-1", Data: map[string]string{"myinfo.name": "TAN AH KOW"}, Expires: time.Unix(1_900_000_000, 0).UTC()}
	sealed, err := seal(id, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{id, s.Sub, "TAN AH KOW", "myinfo.name"} {
		if bytes.Contains(sealed, []byte(secret)) {
			t.Errorf("the stored record contains %q in clear", secret)
		}
	}
	key := Key(id)
	if key == id || strings.Contains(key, id) || key == Key(NewID()) || key != Key(id) {
		t.Fatalf("store key %q reveals, collides with or does not follow from the id", key)
	}
	got, err := open(id, sealed)
	if err != nil || got.Sub != s.Sub || got.Data["myinfo.name"] != "TAN AH KOW" || !got.Expires.Equal(s.Expires) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	for _, tc := range []struct {
		name   string
		id     string
		sealed []byte
	}{
		{"the store key instead of the id", key, sealed},
		{"another id", NewID(), sealed},
		{"tampered", id, tampered},
		{"truncated", id, sealed[:5]},
		{"empty", id, nil},
		{"the ended mark", id, ended},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := open(tc.id, tc.sealed); !errors.Is(err, errRecordInvalid) {
				t.Fatalf("got %v, want errRecordInvalid", err)
			}
		})
	}
}

// TestValidID: what NewID makes passes; anything else a cookie may carry
// is refused before any store lookup.
func TestValidID(t *testing.T) {
	t.Parallel()
	id := NewID()
	for _, tc := range []struct {
		name string
		id   string
		want bool
	}{
		{"new id", id, true},
		{"another new id", NewID(), true},
		{"empty", "", false},
		{"one short", id[:42], false},
		{"one long", id + "A", false},
		{"padding", id[:42] + "=", false},
		{"standard base64", id[:42] + "+", false},
		{"slash", id[:42] + "/", false},
		{"space", id[:42] + " ", false},
		{"non-ASCII", id[:41] + "é", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidID(tc.id); got != tc.want {
				t.Fatalf("ValidID(%q) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
	if id == NewID() {
		t.Fatal("two NewID calls returned the same id")
	}
}

// maxRecordSize bounds what one session may cost a shared store: a
// session carries the user's data, and every field of the mock's richest
// persona must fit.
const maxRecordSize = 2 << 10

// TestRecordSizeBudget: the record a Manager stores for a session holding
// every field of the mock's richest persona stays under maxRecordSize.
func TestRecordSizeBudget(t *testing.T) {
	t.Parallel()
	persona := sgidtest.DefaultPersonas()[0]
	if len(persona.Data) < 5 {
		t.Fatalf("the richest persona has %d fields; the budget would prove little", len(persona.Data))
	}
	clk := testclock.New(clockStart)
	st := spy(memoryScope(t, 100))
	m := newManager(st, clk, nil)
	id := NewID()
	created, err := m.create(t.Context(), id, Session{Sub: persona.Sub, Data: persona.Data, Expires: clk.Now().Add(12 * time.Hour)}, "")
	if err != nil || !created {
		t.Fatalf("create: %v, %v", created, err)
	}
	w, ok := st.lastWrite(Key(id))
	if !ok {
		t.Fatal("the session record was not written through the store")
	}
	if len(w.value) >= maxRecordSize {
		t.Errorf("the session record is %d bytes, want under %d", len(w.value), maxRecordSize)
	}
	t.Logf("a session with %d fields: record %d B under a %d-character key", len(persona.Data), len(w.value), len(Key(id)))
}

// TestValidIDEveryByte: an id of 43 copies of one byte passes exactly when
// that byte is in the base64url alphabet.
func TestValidIDEveryByte(t *testing.T) {
	t.Parallel()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for b := range 256 {
		id := strings.Repeat(string([]byte{byte(b)}), 43)
		if got, want := ValidID(id), strings.IndexByte(alphabet, byte(b)) >= 0; got != want {
			t.Errorf("byte %#x: ValidID = %v, want %v", b, got, want)
		}
	}
}
