package sgid

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"regexp"
	"strings"
)

// pemArmor finds the BEGIN/END lines of a PEM block even when the newlines
// between them were lost (keys pasted into one-line environment variables).
var pemArmor = regexp.MustCompile(`-----BEGIN ([A-Z ]+)-----(?s)(.*?)-----END ([A-Z ]+)-----`)

// ParsePrivateKey reads the client's RSA private key from PEM text, PKCS#1
// ("BEGIN RSA PRIVATE KEY") or PKCS#8 ("BEGIN PRIVATE KEY"). It tolerates the
// ways keys get mangled in configuration: literal `\n` escapes, surrounding
// whitespace and quotes, and newlines replaced by spaces.
func ParsePrivateKey(text string) (*rsa.PrivateKey, error) {
	s := strings.TrimSpace(text)
	s = strings.Trim(s, `"'`)
	s = strings.ReplaceAll(s, `\r\n`, "\n")
	s = strings.ReplaceAll(s, `\n`, "\n")
	m := pemArmor.FindStringSubmatch(s)
	switch {
	case s == "":
		// Most often a placeholder such as {env.SGID_KEY} that resolved to
		// nothing; the caller knows which, so the message stays neutral.
		return nil, fmt.Errorf("%w: the private key is empty", ErrConfig)
	case m == nil && looksLikePath(s):
		// The path is not repeated: it came from the same setting as the
		// key would have, and errors must never echo key material.
		return nil, fmt.Errorf("%w: private key: this looks like a file path: use {file./path} to read the key from a file", ErrConfig)
	case m == nil:
		return nil, fmt.Errorf("%w: private key: no PEM block found; the key must start with -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----", ErrConfig)
	case isEncryptedPEM(m[1], m[2]):
		// Checked before the base64 body: an OpenSSL-encrypted key's
		// Proc-Type and DEK-Info headers would otherwise be reported as
		// bad base64, which sends people looking for the wrong problem.
		return nil, fmt.Errorf("%w: private key: the key is encrypted: sgID keys must be unencrypted PKCS#1/PKCS#8 (openssl pkey -in key.pem -out plain.pem removes the passphrase)", ErrConfig)
	}
	if m[1] != m[3] {
		return nil, fmt.Errorf("%w: private key: PEM block begins %q but ends %q", ErrConfig, m[1], m[3])
	}
	// Rebuild the block with the base64 body on clean lines, so that spaces
	// standing in for newlines do not matter.
	body := strings.Join(strings.Fields(m[2]), "")
	block, _ := pem.Decode([]byte("-----BEGIN " + m[1] + "-----\n" + body + "\n-----END " + m[1] + "-----\n"))
	if block == nil {
		return nil, fmt.Errorf("%w: private key: the PEM body is not valid base64", ErrConfig)
	}
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%w: private key: PEM type %q is not a private key; use PKCS#1 or PKCS#8", ErrConfig, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: private key: %w", ErrConfig, err)
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: private key: it is a %T, but sgID encrypts to RSA keys", ErrConfig, key)
	}
	if rsaKey.N.BitLen() < 2048 {
		return nil, fmt.Errorf("%w: private key: RSA key has %d bits; sgID needs at least 2048", ErrConfig, rsaKey.N.BitLen())
	}
	if err := rsaKey.Validate(); err != nil {
		return nil, fmt.Errorf("%w: private key: %w", ErrConfig, err)
	}
	return rsaKey, nil
}

// looksLikePath reports whether s, which holds no PEM block, is most likely
// a file name written where the key itself belongs (a bare path instead of
// {file./path}). Only single-line text counts, so a mangled key is not
// mistaken for a path.
func looksLikePath(s string) bool {
	if strings.ContainsAny(s, "\n\r") {
		return false
	}
	for _, prefix := range []string{"/", "./", "../", "~/"} {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	lower := strings.ToLower(s)
	return strings.HasSuffix(lower, ".pem") || strings.HasSuffix(lower, ".key")
}

// isEncryptedPEM reports whether a PEM block of type typ with the given
// body is passphrase-protected: PKCS#8 "ENCRYPTED PRIVATE KEY", or a
// traditional OpenSSL key with a "Proc-Type: 4,ENCRYPTED" header.
func isEncryptedPEM(typ, body string) bool {
	return strings.Contains(typ, "ENCRYPTED") ||
		(strings.Contains(body, "Proc-Type:") && strings.Contains(body, "ENCRYPTED"))
}
