package store

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func TestRedisOptions(t *testing.T) {
	t.Setenv("SGID_TEST_ADDRS", "a:1, b:2")
	repl := caddy.NewReplacer()

	o, err := (&Redis{}).options(repl)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o.Addrs, []string{DefaultRedisAddress}) || o.DialTimeout != DefaultRedisDialTimeout ||
		o.ReadTimeout != DefaultRedisReadTimeout || o.WriteTimeout != DefaultRedisWriteTimeout || o.TLSConfig != nil {
		t.Fatalf("defaults: %+v", o)
	}

	o, err = (&Redis{Addresses: []string{"{env.SGID_TEST_ADDRS}", "c:3"}, SentinelMaster: "m", DB: 2, ReadTimeout: caddy.Duration(time.Minute)}).options(repl)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o.Addrs, []string{"a:1", "b:2", "c:3"}) || o.MasterName != "m" || o.DB != 2 || o.ReadTimeout != time.Minute {
		t.Fatalf("options: %+v", o)
	}

	for _, tc := range []struct {
		name    string
		r       Redis
		wantErr string
	}{
		{"cluster with a db", Redis{Addresses: []string{"a:1", "b:1"}, DB: 1}, "only db 0"},
		{"empty address", Redis{Addresses: []string{"{env.SGID_TEST_UNSET}"}}, "empty after replacing"},
		{"missing CA file", Redis{TLS: &RedisTLS{CAFile: filepath.Join(t.TempDir(), "none.pem")}}, "reading the TLS CA file"},
		{"CA file not PEM", Redis{TLS: &RedisTLS{CAFile: writeFile(t, "not a certificate")}}, "no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := tc.name
			if _, err := tc.r.options(repl); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error = %v, want %q", name, err, tc.wantErr)
			}
		})
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRedisValidate(t *testing.T) {
	for _, r := range []*Redis{{DB: -1}, {DialTimeout: -1}, {WriteTimeout: -1}} {
		if err := r.Validate(); err == nil {
			t.Errorf("%+v accepted", r)
		}
	}
	if err := (&Redis{}).Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := (&Redis{}).Open(randomKey(t)); err == nil {
		t.Fatal("Open before Provision succeeded")
	}
}
