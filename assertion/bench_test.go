package assertion

import (
	"strconv"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
)

var benchClaims = Claims{
	Issuer:   "https://app.example.sg",
	Subject:  "u-2f6c0e0a-5b4f-4d7e-9c1a-4f3b2a1e0d9c",
	AuthTime: start.Add(-time.Hour),
	Fields:   []Field{{"myinfo.name", "TAN AH KOW"}, {"iceCream", "vanilla"}},
}

// BenchmarkAssertionHit is a session's repeated requests within a second:
// the guard's usual case, which must cost next to nothing.
func BenchmarkAssertionHit(b *testing.B) {
	s := newSigner(b, openStore(b), testclock.New(start), Config{})
	if _, err := s.Assertion(ctx, "session", "https://api.example.sg", benchClaims); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Assertion(ctx, "session", "https://api.example.sg", benchClaims); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAssertionHitParallel is many users' sessions at once, on the
// real clock: mostly reuse, one signature per session and second.
func BenchmarkAssertionHitParallel(b *testing.B) {
	s, err := New(Config{Store: openStore(b)})
	if err != nil {
		b.Fatal(err)
	}
	sessions := make([]string, 64)
	for i := range sessions {
		sessions[i] = "session-" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if _, err := s.Assertion(ctx, sessions[i%len(sessions)], "https://api.example.sg", benchClaims); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAssertionMiss is a request that signs: the first of a session
// in each second.
func BenchmarkAssertionMiss(b *testing.B) {
	clk := testclock.New(start)
	s := newSigner(b, openStore(b), clk, Config{})
	if _, err := s.Assertion(ctx, "warm", "https://api.example.sg", benchClaims); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	sec := 0
	for b.Loop() {
		// A new second each time: the cached assertion may not be reused.
		sec++
		clk.Set(start.Add(time.Duration(sec%3600) * time.Second))
		if _, err := s.Assertion(ctx, "session", "https://api.example.sg", benchClaims); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJWKS is a request for the key set, encoded once per epoch.
func BenchmarkJWKS(b *testing.B) {
	s := newSigner(b, openStore(b), testclock.New(start), Config{})
	if _, _, err := s.JWKS(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.JWKS(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
