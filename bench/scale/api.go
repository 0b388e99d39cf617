package scale

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The admin routes of the benchmark's Caddy module, under Caddy's admin
// endpoint. Each takes a POST of its request as JSON.
const (
	FillPath   = "/sgid-bench/fill"
	RevokePath = "/sgid-bench/revoke"
	ExpirePath = "/sgid-bench/expire"
)

// Target names a site's session store: its configuration, as in the
// site's "store" field ({"module":"memory","max_entries":...}), and the
// site's scope.
type Target struct {
	Store json.RawMessage `json:"store"`
	Scope string          `json:"scope"`
}

// Fill asks for sessions From to To (not included) of the fill named
// Seed: session i has the id ID(Seed, i) and belongs to user i / PerUser,
// whose sub is Sub(Seed, user). Each has Data and a lifetime of Lifetime,
// and logged in Age(i, Spread) ago, so that the fill's sessions expire
// spread over Lifetime - Spread to Lifetime from now. Concurrency calls
// run at once.
type Fill struct {
	Target
	Seed        string            `json:"seed"`
	From        int               `json:"from"`
	To          int               `json:"to"`
	PerUser     int               `json:"per_user"`
	Data        map[string]string `json:"data"`
	Lifetime    time.Duration     `json:"lifetime"`
	Spread      time.Duration     `json:"spread"`
	Concurrency int               `json:"concurrency"`
}

// Check refuses a fill that makes no sense.
func (f *Fill) Check() error {
	switch {
	case f.Seed == "":
		return errors.New("seed is empty")
	case f.From < 0 || f.To < f.From:
		return fmt.Errorf("from %d to %d is no range", f.From, f.To)
	case f.PerUser < 1:
		return errors.New("per_user must be at least 1")
	case f.Lifetime <= 0 || f.Spread < 0 || f.Spread >= f.Lifetime:
		return fmt.Errorf("lifetime %s and spread %s: want 0 <= spread < lifetime", f.Lifetime, f.Spread)
	case f.Concurrency < 1 || f.Concurrency > 1024:
		return errors.New("concurrency must be 1 to 1024")
	}
	return nil
}

// FillAnswer says how many sessions a fill created, and how long it took.
type FillAnswer struct {
	Created int     `json:"created"`
	Seconds float64 `json:"seconds"`
}

// Revoke asks to end every session of Sub, as the admin API's DELETE
// /sgid/sessions?sub= does for the site.
type Revoke struct {
	Target
	Sub string `json:"sub"`
}

// RevokeAnswer says how many sessions a revocation ended, the store calls
// it made, by method, and how long it took.
type RevokeAnswer struct {
	Ended   int              `json:"ended"`
	Calls   map[string]int64 `json:"calls"`
	Seconds float64          `json:"seconds"`
}

// TotalCalls is the number of store calls, all methods together.
func (a RevokeAnswer) TotalCalls() int64 {
	var n int64
	for _, c := range a.Calls {
		n += c
	}
	return n
}

// Expire asks to create Count sessions of the fill named Seed that expire
// TTL from now, wait until they have, and time their removal: first one
// write, the store call a login makes, then a count of the sessions, which
// on the memory store removes every expired one left.
type Expire struct {
	Target
	Seed  string            `json:"seed"`
	Count int               `json:"count"`
	TTL   time.Duration     `json:"ttl"`
	Data  map[string]string `json:"data"`
}

// ExpireAnswer holds the store's count of sessions before the expiring
// ones were made and after they were removed, and the time of the write
// and of the count.
type ExpireAnswer struct {
	Before       int     `json:"before"`
	After        int     `json:"after"`
	PutSeconds   float64 `json:"put_seconds"`
	SweepSeconds float64 `json:"sweep_seconds"`
}
