package sgidcheck

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/sgid"
)

func TestKeygen(t *testing.T) {
	for _, tc := range []struct {
		name string
		bits int
	}{{"2048", 2048}, {"3072", 3072}} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "sgid-key.pem")
			var w bytes.Buffer
			if err := Keygen(&w, out, tc.bits); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
			}
			raw, _ := os.ReadFile(out)
			block, rest := pem.Decode(raw)
			if block == nil || block.Type != "PRIVATE KEY" || len(bytes.TrimSpace(rest)) != 0 {
				t.Fatalf("key file is not one PKCS#8 PEM block: %q", raw)
			}
			parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			key := parsed.(*rsa.PrivateKey)
			if key.N.BitLen() != tc.bits {
				t.Errorf("key has %d bits, want %d", key.N.BitLen(), tc.bits)
			}
			if _, err := sgid.ParsePrivateKey(string(raw)); err != nil {
				t.Errorf("the handler would not accept the key: %v", err)
			}

			printed := w.String()
			pubBlock, _ := pem.Decode([]byte(printed[strings.Index(printed, "-----BEGIN"):]))
			if pubBlock == nil || pubBlock.Type != "PUBLIC KEY" {
				t.Fatalf("no PEM public key printed:\n%s", printed)
			}
			pub, err := x509.ParsePKIXPublicKey(pubBlock.Bytes)
			if err != nil || !key.PublicKey.Equal(pub) {
				t.Errorf("the printed public key is not the key's (%v)", err)
			}
			if strings.Contains(printed, "PRIVATE KEY-----") {
				t.Error("the private key was printed")
			}
			// No line of the private key's base64 body shows up either.
			for _, line := range strings.Split(string(raw), "\n")[1:5] {
				if strings.Contains(printed, line) {
					t.Errorf("output contains private key text %.10s...", line)
				}
			}
			for _, want := range []string{"private_key {file." + out + "}", "Where to paste it:"} {
				if !strings.Contains(printed, want) {
					t.Errorf("output lacks %q:\n%s", want, printed)
				}
			}
		})
	}
}

func TestKeygenRefuses(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(existing, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		out     string
		bits    int
		wantErr string
	}{
		{"existing file", existing, 2048, "refusing to overwrite"},
		{"no --out", "", 2048, "--out is required"},
		{"0 bits", filepath.Join(dir, "k0.pem"), 0, "--bits 0"},
		{"1024 bits", filepath.Join(dir, "k1024.pem"), 1024, "--bits 1024"},
		{"2047 bits", filepath.Join(dir, "k2047.pem"), 2047, "--bits 2047"},
		{"2049 bits", filepath.Join(dir, "k2049.pem"), 2049, "--bits 2049"},
		{"8192 bits", filepath.Join(dir, "k8192.pem"), 8192, "--bits 8192"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w bytes.Buffer
			err := Keygen(&w, tc.out, tc.bits)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
			if w.Len() != 0 {
				t.Errorf("printed %q", w.String())
			}
			if tc.out == existing {
				if b, _ := os.ReadFile(existing); string(b) != "keep me" {
					t.Errorf("existing file changed to %q", b)
				}
			} else if tc.out != "" {
				if _, err := os.Stat(tc.out); err == nil {
					t.Error("a file was left")
				}
			}
		})
	}
}
