package pii

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
)

var secret = []byte("a sealing key of at least 32 bytes!!")

var pseudonymShape = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

func TestPseudonym(t *testing.T) {
	p, err := NewPseudonymizer(secret, "crm")
	if err != nil {
		t.Fatal(err)
	}
	a := p.Of("u=11111111-2222-3333-4444-555555555555")
	if !pseudonymShape.MatchString(a) {
		t.Errorf("pseudonym %q is not 43 characters of base64url", a)
	}
	if strings.Contains(a, "11111111") {
		t.Error("the pseudonym shows the sub")
	}

	// Stable across "restarts": a new pseudonymizer from the same secret
	// and label (a copy of the secret, as read again from a config).
	again, _ := NewPseudonymizer([]byte(string(secret)), "crm")
	if again.Of("u=11111111-2222-3333-4444-555555555555") != a {
		t.Error("the pseudonym changed with a new pseudonymizer")
	}
	if p.Of("u=11111111-2222-3333-4444-555555555556") == a {
		t.Error("two subs share a pseudonym")
	}
	other, _ := NewPseudonymizer(secret, "billing")
	if other.Of("u=11111111-2222-3333-4444-555555555555") == a {
		t.Error("two labels give the same pseudonym")
	}
	rotated, _ := NewPseudonymizer([]byte("another sealing key of 32 bytes!!!!"), "crm")
	if rotated.Of("u=11111111-2222-3333-4444-555555555555") == a {
		t.Error("two secrets give the same pseudonym")
	}
	if p.Label() != "crm" {
		t.Errorf("Label = %q", p.Label())
	}
	if got := p.Of(""); got != "" {
		t.Errorf("Of(\"\") = %q, want empty", got)
	}
	if got := (Pseudonymizer{}).Of("u=1"); got != "" {
		t.Errorf("the zero Pseudonymizer gave %q", got)
	}
}

// The documented construction, computed here from its parts: HKDF-SHA256
// of the secret with the label in the info, then HMAC-SHA256 of sub.
// Another implementation (an upstream, a migration script) can rely on it.
func TestPseudonymConstruction(t *testing.T) {
	key, err := hkdf.Key(sha256.New, secret, nil, "caddy-sgid pseudonym v1\x00crm", 32)
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("u=abc"))
	want := base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	p, _ := NewPseudonymizer(secret, "crm")
	if got := p.Of("u=abc"); got != want {
		t.Errorf("Of = %q, want %q", got, want)
	}
}

func TestLabels(t *testing.T) {
	for _, ok := range []string{"a", "crm", "team-a_2", "0", strings.Repeat("z", 32)} {
		if err := ValidLabel(ok); err != nil {
			t.Errorf("ValidLabel(%q) = %v", ok, err)
		}
		if _, err := NewPseudonymizer(secret, ok); err != nil {
			t.Errorf("NewPseudonymizer(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", strings.Repeat("z", 33), "CRM", "a.b", "a b", "a:b", "a/b", "é", "a\x00", "crm\n"} {
		if err := ValidLabel(bad); err == nil {
			t.Errorf("ValidLabel(%q) accepted it", bad)
		}
		if _, err := NewPseudonymizer(secret, bad); err == nil {
			t.Errorf("NewPseudonymizer(%q) accepted it", bad)
		}
	}
	if _, err := NewPseudonymizer(secret[:MinSecretLen-1], "crm"); err == nil {
		t.Error("a short secret was accepted")
	}
	if _, err := NewPseudonymizer(nil, "crm"); err == nil {
		t.Error("no secret was accepted")
	}
}

func TestMaskNRIC(t *testing.T) {
	for in, want := range map[string]string{
		"S1234123A":  "*****123A",
		"T0000001A":  "*****001A",
		"F1234567N":  "*****567N",
		"G0000004A":  "*****004A",
		"M0000007K":  "*****007K",
		"s1234123a":  "*****123a",
		"":           "",
		"NA":         "*****",
		"S123412A":   "*****",
		"S12341234A": "*****",
		"A1234123A":  "*****",
		"X1234123A":  "*****",
		"S1234123":   "*****",
		"S12341231":  "*****",
		"S1234 23A":  "*****",
		"S12X4123A":  "*****",
		"SABCDEFGA":  "*****",
		"S123412３A":  "*****", // a full-width digit
		"S1234123Ä":  "*****",
		"S1234123@":  "*****",
		"S1234123[":  "*****",
		"TAN AH KOW": "*****",
		"1234123A":   "*****",
		" S1234123A": "*****",
		"S1234123A ": "*****",
		"*****123A":  "*****",
	} {
		if got := MaskNRIC(in); got != want {
			t.Errorf("MaskNRIC(%q) = %q, want %q", in, got, want)
		}
	}
}
