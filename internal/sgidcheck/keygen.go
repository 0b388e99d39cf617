package sgidcheck

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
)

// KeygenSizes are the key sizes Keygen makes. sgID issues 2048-bit keys;
// smaller ones are too weak, and beyond 4096 only startup gets slower.
var KeygenSizes = []int{2048, 3072, 4096}

// Keygen writes a new RSA private key to out and prints the public key to
// w. It never overwrites a file: a key that is lost cannot decrypt the
// userinfo sent to it.
func Keygen(w io.Writer, out string, bits int) error {
	if out == "" {
		return errors.New("--out is required: the file to write the private key to")
	}
	if !slices.Contains(KeygenSizes, bits) {
		return fmt.Errorf("--bits %d: use 2048, 3072 or 4096", bits)
	}
	// O_EXCL makes the existence check and the creation one step, so a key
	// that appears in between is not overwritten either.
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists; refusing to overwrite it (a replaced key cannot decrypt what was encrypted to the old one)", out)
	}
	if err != nil {
		return err
	}
	pub, err := writeNewKey(f, bits)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out)
		return fmt.Errorf("writing %s: %w", out, err)
	}
	fmt.Fprintf(w, "Wrote a new %d-bit RSA private key (PKCS#8 PEM, mode 0600) to %s.\n", bits, out)
	fmt.Fprintf(w, "Give it to the sgid handler as: private_key {file.%s}\n\n", out)
	fmt.Fprint(w, pub)
	fmt.Fprintln(w, "\nWhere to paste it: wherever sgID asks for your client's public key. sgID's documented portal registration (docs.id.gov.sg) has no such field and issues a key pair itself; if so, use the private key from sgID's credentials instead and delete this one.")
	return nil
}

// writeNewKey generates the key, writes the private half to f and returns
// the public half as PEM.
func writeNewKey(f *os.File, bits int) (string, error) {
	// The mode given to OpenFile is reduced by the umask; set it outright,
	// so that the file is never more open than 0600 nor unreadable to the
	// owner.
	if err := f.Chmod(0o600); err != nil {
		return "", err
	}
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		return "", err
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})), nil
}
