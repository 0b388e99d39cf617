package sgid

import (
	"crypto/rand"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
)

// TestKeyErrorsNameTheCause: each common way of getting the key setting
// wrong gets an error that says what happened, not a generic parse
// failure, and none of them repeats what was configured.
func TestKeyErrorsNameTheCause(t *testing.T) {
	junk := make([]byte, 64)
	_, _ = rand.Read(junk)
	legacy := string(pem.EncodeToMemory(&pem.Block{
		Type:    "RSA PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00112233445566778899AABBCCDDEEFF"},
		Bytes:   junk,
	}))
	pkcs8 := string(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: junk}))
	const (
		empty     = "the private key is empty"
		path      = "this looks like a file path: use {file./path}"
		encrypted = "the key is encrypted: sgID keys must be unencrypted PKCS#1/PKCS#8"
		noPEM     = "no PEM block found"
	)
	for _, tc := range []struct {
		name, text, want string
	}{
		{"empty", "", empty},
		{"only blanks and quotes", " \n\t\"\" ", empty},
		{"absolute path", "/etc/caddy/sgid-key.pem", path},
		{"relative path", "./keys/sgid", path},
		{"parent path", "../sgid.key", path},
		{"home path", "~/sgid/private", path},
		{"bare file name", "sgid-private.PEM", path},
		{"quoted path", `"/run/secrets/sgid.pem"`, path},
		{"legacy encrypted", legacy, encrypted},
		{"legacy encrypted on one line", strings.ReplaceAll(legacy, "\n", `\n`), encrypted},
		{"PKCS#8 encrypted", pkcs8, encrypted},
		{"PKCS#8 encrypted, spaces for newlines", strings.ReplaceAll(pkcs8, "\n", " "), encrypted},
		{"plain words", "not a key", noPEM},
		{"multi-line text ending in .pem", "some\ntext.pem", noPEM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePrivateKey(tc.text)
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParsePrivateKey: err = %v, want ErrConfig saying %q", err, tc.want)
			}
			// New keeps the field, so the Caddy module can name its setting.
			_, err = New(Config{ClientID: "id", ClientSecret: "secret", PrivateKey: tc.text})
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != "PrivateKey" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: err = %v, want a PrivateKey ConfigError saying %q", err, tc.want)
			}
			// What was configured never shows up in the message: it may be
			// key material, and a path is no help in a shared log.
			if s := strings.Trim(strings.TrimSpace(tc.text), `"`); len(s) > 3 && strings.Contains(err.Error(), s) {
				t.Errorf("the error echoes the setting: %v", err)
			}
			for _, line := range strings.Split(tc.text, "\n") {
				if len(line) > 16 && !strings.HasPrefix(line, "-----") && strings.Contains(err.Error(), line) {
					t.Errorf("the error echoes key content %q: %v", line, err)
				}
			}
		})
	}
}

// TestConfigErrorsSaySgidOnce: the package's errors carry one "sgid:"
// prefix, which callers that add their own context can rely on.
func TestConfigErrorsSaySgidOnce(t *testing.T) {
	for _, text := range []string{"", "/etc/key.pem", "nope"} {
		_, err := New(Config{ClientID: "id", ClientSecret: "secret", PrivateKey: text})
		if err == nil || strings.Count(err.Error(), "sgid:") != 1 {
			t.Errorf("%q: %v", text, err)
		}
	}
}
