package caddysgid

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSessionRecordAtRest(t *testing.T) {
	t.Parallel()
	id := newID()
	s := session{Sub: "sgidtest:sub-1", Data: map[string]string{"myinfo.name": "TAN AH KOW"}, Expires: time.Unix(1_900_000_000, 0).UTC()}
	sealed, err := sealSession(id, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{id, s.Sub, "TAN AH KOW", "myinfo.name"} {
		if bytes.Contains(sealed, []byte(secret)) {
			t.Errorf("the stored record contains %q in clear", secret)
		}
	}
	key := sessionKey(id)
	if key == id || strings.Contains(key, id) || key == sessionKey(newID()) {
		t.Fatalf("store key %q reveals or collides with the id", key)
	}
	got, err := openSession(id, sealed)
	if err != nil || got.Sub != s.Sub || got.Data["myinfo.name"] != "TAN AH KOW" || !got.Expires.Equal(s.Expires) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	// The store key does not open the record: only the cookie's id does.
	if _, err := openSession(key, sealed); !errors.Is(err, errRecordInvalid) {
		t.Fatalf("opened with the store key: %v", err)
	}
	if _, err := openSession(newID(), sealed); !errors.Is(err, errRecordInvalid) {
		t.Fatalf("opened with another id: %v", err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := openSession(id, sealed); !errors.Is(err, errRecordInvalid) {
		t.Fatalf("tampered record: %v", err)
	}
	if _, err := openSession(id, sealed[:5]); !errors.Is(err, errRecordInvalid) {
		t.Fatalf("truncated record: %v", err)
	}
}
