package store_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/filestorage"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testredis"
	"github.com/caddy-sgid/caddy-sgid/store"
	"github.com/caddy-sgid/caddy-sgid/store/storetest"
)

// Every backend, and the cache in front of one, passes the same contract.

func openWith(b store.Backend) storetest.Open {
	return func(t *testing.T, scope string) store.Store {
		t.Helper()
		s, err := b.Open(scope)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	}
}

func provisioned[T caddy.Provisioner](t testing.TB, m T) T {
	t.Helper()
	c, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	t.Cleanup(cancel)
	if err := m.Provision(c); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	return m
}

func TestMemoryContract(t *testing.T) {
	storetest.Run(t, openWith(provisioned(t, &store.Memory{})))
}

// TestCachedContract runs the contract through a cache in front of the
// memory store. Its ttl is short so that a deletion through another handle
// (SharedScope) is seen well within the suite's deadline.
func TestCachedContract(t *testing.T) {
	m := provisioned(t, &store.Memory{})
	storetest.Run(t, func(t *testing.T, scope string) store.Store {
		s, err := m.Open(scope)
		if err != nil {
			t.Fatal(err)
		}
		return store.Cached(s, 500*time.Millisecond, 100)
	})
}

// storeHolder stands for the handler: a guest module field loaded the way
// the handler loads its store.
type storeHolder struct {
	StoreRaw json.RawMessage `json:"store,omitempty" caddy:"namespace=sgid.stores inline_key=module"`
}

// loadBackend provisions a real Caddy context whose storage is the file
// system under dir, and loads the store module from its JSON, as Caddy
// does for the handler. The context is cancelled (modules cleaned up) when
// the test ends.
func loadBackend(t testing.TB, dir, storeJSON string) store.Backend {
	t.Helper()
	root, err := caddy.ProvisionContext(&caddy.Config{
		StorageRaw: json.RawMessage(fmt.Sprintf(`{"module":"file_system","root":%q}`, dir)),
	})
	if err != nil {
		t.Fatalf("provisioning a Caddy context: %v", err)
	}
	c, cancel := caddy.NewContext(root)
	t.Cleanup(cancel)
	h := storeHolder{StoreRaw: json.RawMessage(storeJSON)}
	mod, err := c.LoadModule(&h, "StoreRaw")
	if err != nil {
		t.Fatalf("loading %s: %v", storeJSON, err)
	}
	b, ok := mod.(store.Backend)
	if !ok {
		t.Fatalf("%T is not a store.Backend", mod)
	}
	return b
}

// TestStorageContract runs the contract on Caddy's file system storage in
// a temporary folder, reached through a real Caddy context.
func TestStorageContract(t *testing.T) {
	dir := t.TempDir()
	storetest.Run(t, openWith(loadBackend(t, dir, `{"module":"storage"}`)))
}

// TestStorageSharedFolder opens one scope through two Caddy contexts on
// one folder, as two instances sharing a storage would: each sees the
// other's records, and a restart (new context) keeps them.
func TestStorageSharedFolder(t *testing.T) {
	dir := t.TempDir()
	scope := storetest.RandomKey(t)
	a, err := loadBackend(t, dir, `{"module":"storage"}`).Open(scope)
	if err != nil {
		t.Fatal(err)
	}
	b, err := loadBackend(t, dir, `{"module":"storage"}`).Open(scope)
	if err != nil {
		t.Fatal(err)
	}
	k := storetest.RandomKey(t)
	if err := a.Put(t.Context(), k, []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Get(t.Context(), k); err != nil || string(got) != "v" {
		t.Fatalf("other instance Get = %q, %v", got, err)
	}
	a.Close()
	b.Close()
	c, err := loadBackend(t, dir, `{"module":"storage"}`).Open(scope)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, err := c.Get(t.Context(), k); err != nil || string(got) != "v" {
		t.Fatalf("after a restart Get = %q, %v", got, err)
	}
}

// TestCachedRedisContract runs the contract through a cache in front of
// Redis, the setup of several instances sharing one Redis.
func TestCachedRedisContract(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{})
	r := redisBackend(t, &store.Redis{Addresses: []string{srv.Addr}})
	storetest.Run(t, func(t *testing.T, scope string) store.Store {
		s, err := r.Open(scope)
		if err != nil {
			t.Fatal(err)
		}
		return store.Cached(s, 500*time.Millisecond, 100)
	})
}

// TestCaddyfileJSONLoads parses each store's Caddyfile form and loads the
// JSON it gives through a Caddy context, as the handler will: the settings
// arrive in the module.
func TestCaddyfileJSONLoads(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check func(store.Backend) bool
	}{
		{"store memory {\n max_entries 7\n}", func(b store.Backend) bool {
			m, ok := b.(*store.Memory)
			return ok && m.MaxEntries == 7
		}},
		{"store storage", func(b store.Backend) bool {
			_, ok := b.(*store.Storage)
			return ok
		}},
		{"store redis {\n address 127.0.0.1:1\n key_prefix x:\n}", func(b store.Backend) bool {
			r, ok := b.(*store.Redis)
			return ok && r.KeyPrefix == "x:" && len(r.Addresses) == 1
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			input, check := tc.name, tc.check
			d := caddyfile.NewTestDispenser(input)
			d.Next()
			raw, err := store.UnmarshalStore(d)
			if err != nil {
				t.Fatalf("%q: %v", input, err)
			}
			if b := loadBackend(t, t.TempDir(), string(raw)); !check(b) {
				t.Errorf("%q loaded as %#v", input, b)
			}
		})
	}
}
