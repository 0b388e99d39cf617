package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testredis"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// maxRecordSize bounds what one session may cost a shared store: a
// session carries the user's data, and every field of the mock's richest
// persona must fit.
const maxRecordSize = 2 << 10

// TestSessionSizeAtRest logs in once through a real Caddy with the storage
// store and once with the redis store, asking for every field of the
// mock's richest persona, and checks what one session costs each store:
// the record under the key the cookie's id hashes to (and, in storage, its
// expiry index entry), each under maxRecordSize. It logs the figures
// docs/sessions.md quotes.
func TestSessionSizeAtRest(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{})
	dir := t.TempDir()
	persona := sgidtest.DefaultPersonas()[0]
	scopes := []string{"openid"}
	for field := range persona.Data {
		scopes = append(scopes, field)
	}
	var sites strings.Builder
	for _, st := range []struct{ name, store string }{
		{"storage", "store storage"},
		{"redis", "store redis {\n\t\t\taddress " + srv.Addr + "\n\t\t}"},
	} {
		fmt.Fprintf(&sites, `
http://%s.localhost:9080 {
	sgid {
		mock
		scopes %s
		app_param icecream iceCream
		%s
	}
	respond "ok" 200
}
`, st.name, strings.Join(scopes, " "), st.store)
	}
	startCaddy(t, fmt.Sprintf("{\n\tstorage file_system %s\n}\n%s", dir, sites.String()))
	transport := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:9080")
	}}
	t.Cleanup(transport.CloseIdleConnections)

	t.Run("storage", func(t *testing.T) {
		key := session.Key(loginWithEveryField(t, transport, "http://storage.localhost:9080", persona))
		// The record is <scope>/r/<key>; its index entry <scope>/x/<bucket>/<key>.
		found := map[string]fs.FileInfo{}
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != key {
				return err
			}
			info, err := d.Info()
			if err == nil {
				found[filepath.Base(filepath.Dir(filepath.Dir(path)))+"/"+filepath.Base(filepath.Dir(path))] = info
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		var record, index, member fs.FileInfo
		for where, info := range found {
			switch {
			case strings.HasSuffix(where, "/r"):
				record = info
			case strings.HasPrefix(where, "x/"):
				index = info
			case strings.HasPrefix(where, "m/"):
				member = info
			}
		}
		if record == nil || index == nil {
			t.Fatalf("the session's record and index entry are not both in the storage folder (found %v)", found)
		}
		if record.Size() >= maxRecordSize {
			t.Errorf("the session record is %d bytes, want under %d", record.Size(), maxRecordSize)
		}
		if os.SameFile(record, index) {
			// On a file system with hard links the index entry is a
			// second name of the record's file: no block of its own; so
			// is the session's entry in its user's set, and its own
			// index entry.
			t.Logf("storage: record %d B (disk %d B), its index entry a hard link of it, its user's index entry a hard link of it too: %v",
				record.Size(), diskUsage(record), member != nil && os.SameFile(record, member))
		} else {
			t.Logf("storage: record %d B (disk %d B), index entry %d B (disk %d B), plus two directory entries of %d-character names",
				record.Size(), diskUsage(record), index.Size(), diskUsage(index), len(key))
		}
	})

	t.Run("redis", func(t *testing.T) {
		key := session.Key(loginWithEveryField(t, transport, "http://redis.localhost:9080", persona))
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
		defer rdb.Close()
		ctx := context.Background()
		names, err := rdb.Keys(ctx, "*:"+key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(names) != 1 {
			t.Fatalf("Redis holds %d keys ending in the session's store key, want 1: %q", len(names), names)
		}
		length, err := rdb.StrLen(ctx, names[0]).Result()
		if err != nil {
			t.Fatal(err)
		}
		usage, err := rdb.MemoryUsage(ctx, names[0]).Result()
		if err != nil {
			t.Fatal(err)
		}
		if length == 0 || length >= maxRecordSize {
			t.Errorf("the session value is %d bytes, want 1 to %d", length, maxRecordSize-1)
		}
		ttl, err := rdb.PTTL(ctx, names[0]).Result()
		if err != nil || ttl <= 0 {
			t.Errorf("the session key has no expiry in Redis (PTTL %v, %v)", ttl, err)
		}
		t.Logf("redis: value %d B, key %d B, MEMORY USAGE %d B", length, len(names[0]), usage)
	})
}

// loginWithEveryField logs in at origin as persona and returns the session
// id, after checking that the session holds every field of the persona (a
// smaller one would understate the size).
func loginWithEveryField(t *testing.T, transport http.RoundTripper, origin string, persona sgidtest.Persona) string {
	t.Helper()
	cookie := mockLoginAt(t, transport, origin, persona.Sub)
	req, _ := http.NewRequest(http.MethodGet, origin+"/api/userinfo", nil)
	req.AddCookie(cookie)
	resp, err := (&http.Client{Transport: transport}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct{ Data map[string]string }
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("userinfo: %d %v", resp.StatusCode, err)
	}
	for field, want := range persona.Data {
		if got.Data[field] != want {
			t.Fatalf("the session lacks %s (%q, want %q)", field, got.Data[field], want)
		}
	}
	return cookie.Value
}

// diskUsage is the space the file system gave a file (its blocks).
func diskUsage(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return -1
}
