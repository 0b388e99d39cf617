package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testredis"
	"github.com/caddy-sgid/caddy-sgid/store"
	"github.com/caddy-sgid/caddy-sgid/store/storetest"
)

// redisBackend provisions the Redis module for srv and cleans it up when
// the test ends.
func redisBackend(t testing.TB, r *store.Redis) *store.Redis {
	t.Helper()
	c, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := r.Provision(c); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if err := r.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	t.Cleanup(func() { _ = r.Cleanup() })
	return r
}

func TestRedisContract(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{})
	storetest.Run(t, openWith(redisBackend(t, &store.Redis{Addresses: []string{srv.Addr}})))
}

// TestRedisPlaceholdersAndTLS connects over TLS with a private CA, to a
// server that wants a password, with the address, password and CA file
// all given as placeholders; the config keeps the placeholders.
func TestRedisPlaceholdersAndTLS(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{Password: "pw-from-env", TLS: true})
	t.Setenv("SGID_TEST_REDIS_ADDR", srv.Addr)
	t.Setenv("SGID_TEST_REDIS_PASSWORD", "pw-from-env")
	t.Setenv("SGID_TEST_REDIS_CA", srv.CAFile)
	r := redisBackend(t, &store.Redis{
		Addresses: []string{"{env.SGID_TEST_REDIS_ADDR}"},
		Password:  "{env.SGID_TEST_REDIS_PASSWORD}",
		TLS:       &store.RedisTLS{CAFile: "{env.SGID_TEST_REDIS_CA}"},
	})
	s, err := r.Open(storetest.RandomKey(t))
	if err != nil {
		t.Fatal(err)
	}
	k := storetest.RandomKey(t)
	if err := s.Put(t.Context(), k, []byte("v"), time.Minute); err != nil {
		t.Fatalf("Put over TLS with a password: %v", err)
	}
	if got, err := s.Get(t.Context(), k); err != nil || string(got) != "v" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "pw-from-env") {
		t.Fatalf("the resolved password was written into the config: %s", b)
	}

	wrong := redisBackend(t, &store.Redis{
		Addresses: []string{srv.Addr},
		Password:  "wrong-secret",
		TLS:       &store.RedisTLS{CAFile: srv.CAFile},
	})
	ws, err := wrong.Open(storetest.RandomKey(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ws.Get(t.Context(), k)
	if err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get with a wrong password = %v, want an authentication error", err)
	}
	if strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("the error reveals the password: %v", err)
	}

	untrusted := redisBackend(t, &store.Redis{
		Addresses: []string{srv.Addr},
		Password:  "pw-from-env",
		TLS:       &store.RedisTLS{},
	})
	us, err := untrusted.Open(storetest.RandomKey(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := us.Get(t.Context(), k); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get trusting only the system roots = %v, want a certificate error", err)
	}
}

// TestRedisOutage stops Redis under an open store: calls return errors
// (not ErrNotFound, not a panic) within the timeouts, and the same store
// works again once Redis is back, with its data (persistence on).
func TestRedisOutage(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{Persist: true})
	r := redisBackend(t, &store.Redis{
		Addresses:   []string{srv.Addr},
		DialTimeout: caddy.Duration(500 * time.Millisecond),
	})
	s, err := r.Open(storetest.RandomKey(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	k := storetest.RandomKey(t)
	if err := s.Put(ctx, k, []byte("before"), time.Hour); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if _, err := s.Get(ctx, k); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get during the outage = %v, want an error other than ErrNotFound", err)
	}
	if err := s.Put(ctx, storetest.RandomKey(t), []byte("x"), time.Hour); err == nil {
		t.Fatal("Put during the outage succeeded")
	}
	if _, err := s.PutIfAbsent(ctx, storetest.RandomKey(t), []byte("x"), time.Hour); err == nil {
		t.Fatal("PutIfAbsent during the outage succeeded")
	}
	if err := s.Delete(ctx, k); err == nil {
		t.Fatal("Delete during the outage succeeded")
	}
	srv.Restart()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, err := s.Get(ctx, k)
		if err == nil {
			if string(got) != "before" {
				t.Fatalf("after the restart Get = %q, want before", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store did not recover after Redis came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRedisKeyLayout checks where records go, under key_prefix and the
// scope, and that Redis's own expiry is set on them.
func TestRedisKeyLayout(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{})
	r := redisBackend(t, &store.Redis{Addresses: []string{srv.Addr}, KeyPrefix: "app1:"})
	scope, k := storetest.RandomKey(t), storetest.RandomKey(t)
	s, err := r.Open(scope)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), k, []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer c.Close()
	ttl, err := c.PTTL(t.Context(), "app1:"+scope+":"+k).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("PTTL of the record = %v, want about an hour", ttl)
	}
}

// A Create whose answer came too late is retried by the client: the retry
// finds the key the first try set. Create reports it created when the key
// holds exactly the value it was given (its own write), and not when it
// holds another value.
func TestRedisCreateRetriedFindsItsOwnWrite(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{})
	r := redisBackend(t, &store.Redis{Addresses: []string{srv.Addr}, KeyPrefix: "app1:"})
	scope := storetest.RandomKey(t)
	s, err := r.Open(scope)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer c.Close()
	mine, theirs := storetest.RandomKey(t), storetest.RandomKey(t)
	// What the first, unanswered try left behind.
	if err := c.Set(t.Context(), "app1:"+scope+":"+mine, "sealed-1", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if created, err := s.Create(t.Context(), mine, []byte("sealed-1"), time.Hour); err != nil || !created {
		t.Errorf("Create over its own write: %v, %v; want created", created, err)
	}
	if err := c.Set(t.Context(), "app1:"+scope+":"+theirs, "sealed-2", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if created, err := s.Create(t.Context(), theirs, []byte("sealed-1"), time.Hour); err != nil || created {
		t.Errorf("Create over another value: %v, %v; want not created", created, err)
	}
	if got, _ := c.Get(t.Context(), "app1:"+scope+":"+theirs).Result(); got != "sealed-2" {
		t.Errorf("the other value became %q", got)
	}
}
