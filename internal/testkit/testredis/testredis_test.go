package testredis

import (
	"context"
	"crypto/tls"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func client(t *testing.T, s *Server, password string, tlsConf *tls.Config) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr: s.Addr, Password: password, TLSConfig: tlsConf,
		DialTimeout: time.Second, MaxRetries: -1,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRestartWithoutPersistenceForgets(t *testing.T) {
	s := Start(t, Options{})
	c := client(t, s, "", nil)
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := c.Get(ctx, "k").Err(); err == nil {
		t.Fatal("GET answered while the server was stopped")
	}
	s.Restart()
	if err := c.Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET after a restart without persistence = %v, want nil reply", err)
	}
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "dump.rdb" || e.Name() == "appendonlydir" {
			t.Errorf("the server wrote %s without persistence", e.Name())
		}
	}
}

func TestRestartWithPersistenceKeeps(t *testing.T) {
	s := Start(t, Options{Persist: true})
	c := client(t, s, "", nil)
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr
	s.Restart()
	if s.Addr != addr {
		t.Fatalf("restarted on %s, want %s", s.Addr, addr)
	}
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET after restart = %q, %v", got, err)
	}
}

func TestPassword(t *testing.T) {
	s := Start(t, Options{Password: "s3cret"})
	ctx := context.Background()
	if err := client(t, s, "", nil).Ping(ctx).Err(); err == nil {
		t.Fatal("PING without the password succeeded")
	}
	if err := client(t, s, "s3cret", nil).Ping(ctx).Err(); err != nil {
		t.Fatalf("PING with the password: %v", err)
	}
}

func TestTLS(t *testing.T) {
	s := Start(t, Options{TLS: true})
	ctx := context.Background()
	if err := client(t, s, "", s.tls).Ping(ctx).Err(); err != nil {
		t.Fatalf("PING over TLS: %v", err)
	}
	if err := client(t, s, "", nil).Ping(ctx).Err(); err == nil {
		t.Fatal("PING in plain text to a TLS-only server succeeded")
	}
	if s.CAFile == "" {
		t.Fatal("no CA file")
	}
}
