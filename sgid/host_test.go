package sgid

import (
	"errors"
	"strings"
	"testing"
)

// TestHostSchemeRules: New refuses a plain-http provider unless it is on
// this machine, so the client secret, codes, tokens and the provider's
// signing keys never cross a network in clear text.
func TestHostSchemeRules(t *testing.T) {
	const reason = "http:// is only allowed for loopback hosts"
	for _, tc := range []struct {
		name, host string
		issuer     string // "" when the host is refused for using http
	}{
		{"default", "", "https://api.id.gov.sg/v2"},
		{"https anywhere", "https://api.id.gov.sg", "https://api.id.gov.sg/v2"},
		{"uppercase https", "HTTPS://api.id.gov.sg", "https://api.id.gov.sg/v2"},
		{"localhost with port", "http://localhost:5156", "http://localhost:5156/v2"},
		{"localhost in capitals", "http://LOCALHOST:5156", "http://LOCALHOST:5156/v2"},
		{"127.0.0.1", "http://127.0.0.1:5156", "http://127.0.0.1:5156/v2"},
		{"elsewhere in 127/8", "http://127.10.20.30", "http://127.10.20.30/v2"},
		{"IPv6 loopback", "http://[::1]:80", "http://[::1]:80/v2"},
		{"uppercase scheme, loopback", "HTTP://localhost", "http://localhost/v2"},
		{"uppercase scheme, remote", "HTTP://api.id.gov.sg", ""},
		{"remote name", "http://api.id.gov.sg", ""},
		{"name starting with localhost", "http://localhost.evil.com", ""},
		{"DNS name embedding 127.0.0.1", "http://127.0.0.1.nip.io", ""},
		{"public IPv4", "http://203.0.113.7:5156", ""},
		{"private IPv4", "http://10.0.0.5", ""},
		{"unspecified address", "http://0.0.0.0:5156", ""},
		{"IPv6 non-loopback", "http://[2001:db8::1]", ""},
		{"loopback user, remote host", "http://localhost@evil.example", ""},
		{"shortened 127.1", "http://127.1", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := IssuerForHost(tc.host)
			if tc.issuer != "" {
				if err != nil || got != tc.issuer {
					t.Fatalf("IssuerForHost(%q) = %q, %v; want %q", tc.host, got, err, tc.issuer)
				}
			} else if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), reason) {
				t.Fatalf("IssuerForHost(%q) = %q, %v; want ErrConfig saying %q", tc.host, got, err, reason)
			}

			_, err = New(Config{ClientID: "id", ClientSecret: "secret", PrivateKey: testKeyPEM(t, 0), Host: tc.host})
			if tc.issuer != "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != "Host" || !strings.Contains(err.Error(), "must use https") {
				t.Fatalf("New: err = %v, want a Host ConfigError giving the reason", err)
			}
		})
	}
}
