package caddysgid

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/caddy-sgid/caddy-sgid/sgid"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "sgid",
		Short: "Makes a key pair for sgID and checks sgid handlers against sgID",
		Long: `
Commands for operating the sgid handler:

  caddy sgid keygen --out sgid-key.pem [--bits 2048|3072|4096]
  caddy sgid check --config Caddyfile [--adapter caddyfile]
`,
		CobraFunc: func(cmd *cobra.Command) {
			keygenCmd := &cobra.Command{
				Use:   "keygen --out <file> [--bits 2048|3072|4096]",
				Short: "Writes a new RSA private key and prints its public key",
				Long: `
Writes a new RSA private key (PKCS#8 PEM, mode 0600) to the --out file, which
must not exist yet, and prints the public key (PEM, "BEGIN PUBLIC KEY"). The
private key is never printed.
`,
				Args: cobra.NoArgs,
				RunE: caddycmd.WrapCommandFuncForCobra(cmdKeygen),
			}
			keygenCmd.Flags().StringP("out", "o", "", "File to write the private key to (required; must not exist)")
			keygenCmd.Flags().Int("bits", 2048, "Key size: 2048, 3072 or 4096")
			cmd.AddCommand(keygenCmd)

			checkCmd := &cobra.Command{
				Use:   "check --config <path> [--adapter <name>]",
				Short: "Checks every sgid handler of a config against sgID",
				Long: `
Loads the config as 'caddy adapt' does and, for every sgid handler in it,
parses the private keys (each is shown by its thumbprint, with whether a
test message encrypted to it decrypts), warns when a shared session store
is used without sealing_key, fetches sgID's discovery document and JWKS
from the configured host, compares the configured scopes with those sgID
supports and checks that the redirect URI is set and HTTPS. Placeholders such as
{env.SGID_CLIENT_SECRET} and {file./path} are resolved in this shell, so run
it with the environment Caddy runs with. It prints one line per check (ok,
warn or FAIL) and exits with status 1 when a check fails.
`,
				Args: cobra.NoArgs,
				RunE: caddycmd.WrapCommandFuncForCobra(cmdCheck),
			}
			checkCmd.Flags().StringP("config", "c", "", "Configuration file (default: ./Caddyfile)")
			checkCmd.Flags().StringP("adapter", "a", "", "Name of config adapter")
			cmd.AddCommand(checkCmd)
		},
	})
}

func cmdKeygen(fl caddycmd.Flags) (int, error) {
	if err := keygen(os.Stdout, fl.String("out"), fl.Int("bits")); err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	return caddy.ExitCodeSuccess, nil
}

func cmdCheck(fl caddycmd.Flags) (int, error) {
	return runCheck(context.Background(), os.Stdout, fl.String("config"), fl.String("adapter"), nil)
}

// keygenSizes are the key sizes keygen makes. sgID issues 2048-bit keys;
// smaller ones are too weak, and beyond 4096 only startup gets slower.
var keygenSizes = []int{2048, 3072, 4096}

// keygen writes a new RSA private key to out and prints the public key to
// w. It never overwrites a file: a key that is lost cannot decrypt the
// userinfo sent to it.
func keygen(w io.Writer, out string, bits int) error {
	if out == "" {
		return errors.New("--out is required: the file to write the private key to")
	}
	if !slices.Contains(keygenSizes, bits) {
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
		return fmt.Errorf("writing %s: %v", out, err)
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

// runCheck loads the config and checks each sgid handler in it, printing a
// line per check to w. It returns the process's exit status: 1 when the
// config cannot be loaded or a check failed. hc talks to sgID; nil means a
// client with a 10-second timeout.
func runCheck(ctx context.Context, w io.Writer, configFile, adapter string, hc *http.Client) (int, error) {
	if configFile == "" && adapter == "" {
		configFile = "Caddyfile"
	}
	cfg, _, _, err := caddycmd.LoadConfig(configFile, adapter)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	handlers, err := findHandlers(cfg)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	if len(handlers) == 0 {
		fmt.Fprintf(w, "FAIL  config: %s has no sgid handler\n", configFile)
		return caddy.ExitCodeFailedStartup, errors.New("nothing to check")
	}
	c := checker{w: w, hc: hc}
	for i, fh := range handlers {
		fmt.Fprintf(w, "sgid handler %d of %d, server %s:\n", i+1, len(handlers), fh.server)
		hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		c.check(hctx, fh.h)
		cancel()
	}
	fmt.Fprintf(w, "%d failed, %d warnings\n", c.failed, c.warned)
	if c.failed > 0 {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("%d checks failed", c.failed)
	}
	return caddy.ExitCodeSuccess, nil
}

// foundHandler is an sgid handler's config and the server it is in.
type foundHandler struct {
	server string
	h      Handler
}

// findHandlers returns the sgid handlers of an adapted JSON config, server
// by server in name order, in route order within each, including those in
// subroutes and in the servers' error routes.
func findHandlers(cfg []byte) ([]foundHandler, error) {
	type routes []struct {
		Handle []json.RawMessage `json:"handle"`
	}
	type server struct {
		Routes routes `json:"routes"`
		Errors *struct {
			Routes routes `json:"routes"`
		} `json:"errors"`
	}
	var doc struct {
		Apps struct {
			HTTP struct {
				Servers map[string]server `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(cfg, &doc); err != nil {
		return nil, fmt.Errorf("reading the adapted config: %v", err)
	}
	var found []foundHandler
	var walk func(name string, rs routes) error
	walk = func(name string, rs routes) error {
		for _, r := range rs {
			for _, raw := range r.Handle {
				var kind struct {
					Handler string `json:"handler"`
					Routes  routes `json:"routes"`
				}
				if err := json.Unmarshal(raw, &kind); err != nil {
					return fmt.Errorf("server %s: %v", name, err)
				}
				switch kind.Handler {
				case "sgid":
					var h Handler
					if err := json.Unmarshal(raw, &h); err != nil {
						return fmt.Errorf("server %s: sgid handler: %v", name, err)
					}
					found = append(found, foundHandler{name, h})
				case "subroute":
					if err := walk(name, kind.Routes); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	names := make([]string, 0, len(doc.Apps.HTTP.Servers))
	for name := range doc.Apps.HTTP.Servers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		srv := doc.Apps.HTTP.Servers[name]
		if err := walk(name, srv.Routes); err != nil {
			return nil, err
		}
		if srv.Errors != nil {
			if err := walk(name, srv.Errors.Routes); err != nil {
				return nil, err
			}
		}
	}
	return found, nil
}

// checker prints check lines and counts failures and warnings.
type checker struct {
	w              io.Writer
	hc             *http.Client
	failed, warned int
}

func (c *checker) ok(what, format string, a ...any) { c.line("ok", what, format, a...) }

func (c *checker) warn(what, format string, a ...any) {
	c.warned++
	c.line("warn", what, format, a...)
}

func (c *checker) fail(what, format string, a ...any) {
	c.failed++
	c.line("FAIL", what, format, a...)
}

func (c *checker) line(status, what, format string, a ...any) {
	fmt.Fprintf(c.w, "  %-5s %s: %s\n", status, what, fmt.Sprintf(format, a...))
}

// check runs the checks of one handler. Placeholders are resolved as
// Provision resolves them.
func (c *checker) check(ctx context.Context, h Handler) {
	if h.Mock {
		c.warn("mock", "this is the built-in mock provider: anyone can log in as anyone; nothing remote to check. Never use it in production")
		return
	}
	repl := caddy.NewReplacer()
	resolve := func(s string) string { return strings.TrimSpace(repl.ReplaceAll(s, "")) }
	cfg := sgid.Config{
		ClientID:     resolve(h.ClientID),
		ClientSecret: resolve(h.ClientSecret),
		PrivateKey:   repl.ReplaceAll(h.PrivateKey, ""),
		Host:         resolve(h.Host),
		RedirectURI:  resolve(h.RedirectURI),
		Scopes:       h.Scopes,
	}
	for _, k := range h.PrivateKeys {
		cfg.PrivateKeys = append(cfg.PrivateKeys, repl.ReplaceAll(k, ""))
	}

	c.checkKeys(cfg)
	// New checks the rest of the settings as Provision will; its errors
	// about the keys were reported above.
	if _, err := sgid.New(cfg); err != nil {
		var ce *sgid.ConfigError
		if !errors.As(err, &ce) || (ce.Field != "PrivateKey" && ce.Field != "PrivateKeys") {
			c.fail("settings", "%v", fieldError(err))
		}
	} else {
		c.ok("settings", "client_id, client_secret, host and scopes are usable")
	}

	c.checkSealingKey(h, repl)
	c.checkProvider(ctx, cfg)
	c.checkRedirectURI(cfg.RedirectURI, h.CallbackPath)
}

// checkKeys reports each private key (private_key, then private_keys) by
// its thumbprint, and whether a test message encrypted to it decrypts as
// userinfo would. The keys are checked by a client of their own, so that a
// mistake in another setting does not hide them. Nothing secret is
// printed: a thumbprint is a hash of the public half.
func (c *checker) checkKeys(cfg sgid.Config) {
	client, err := sgid.New(sgid.Config{ClientID: "key-check", ClientSecret: "key-check", PrivateKey: cfg.PrivateKey, PrivateKeys: cfg.PrivateKeys})
	if err != nil {
		c.fail("private_key", "%v", fieldError(err))
		return
	}
	checks := client.KeyChecks()
	for i, kc := range checks {
		what := "private_key"
		if len(checks) > 1 {
			what = fmt.Sprintf("private_key %d of %d", i+1, len(checks))
		}
		if !kc.Decrypts {
			c.fail(what, "%d-bit RSA, thumbprint %s: a test message encrypted to it does not decrypt: %v", kc.Bits, kc.Thumbprint, kc.Err)
			continue
		}
		c.ok(what, "%d-bit RSA private key, thumbprint %s, decrypts a test message", kc.Bits, kc.Thumbprint)
	}
	given := len(cfg.PrivateKeys)
	if cfg.PrivateKey != "" {
		given++
	}
	if given > len(checks) {
		c.warn("private_key", "%d keys given but %d distinct: the same key is given twice", given, len(checks))
	}
}

// checkSealingKey warns when a shared store holds the keys that a
// sealing_key would otherwise derive: whoever reads such a store can forge
// login cookies and tell whether a known sub has sessions (see
// docs/security.md). The memory store keeps its keys in this process.
func (c *checker) checkSealingKey(h Handler, repl *caddy.Replacer) {
	var st struct {
		Module string `json:"module"`
	}
	if h.StoreRaw != nil {
		_ = json.Unmarshal(h.StoreRaw, &st)
	}
	module := cmp.Or(st.Module, "storage")
	if h.SealingKey == "" {
		if module == "memory" {
			c.ok("sealing_key", "not set; the memory store keeps its keys in this process only")
			return
		}
		c.warn("sealing_key", "not set while sessions live in a shared store (%s): the keys that seal login cookies and name the session index are then kept in the store, so whoever can read it can forge login cookies and test whether a known sub has sessions; set sealing_key to a secret of at least %d random bytes (see docs/security.md)", module, minSealingKey)
		return
	}
	secret := h.SealingKey
	if err := resolvePlaceholders(repl, "sealing_key", &secret, true); err != nil {
		c.fail("sealing_key", "%v", err)
		return
	}
	if len(secret) < minSealingKey {
		c.fail("sealing_key", "%d bytes is too short; use at least %d random bytes", len(secret), minSealingKey)
		return
	}
	c.ok("sealing_key", "set; every key is derived from it and none is kept in the %s store", module)
}

// checkProvider fetches sgID's discovery document and JWKS and compares
// them with the settings.
func (c *checker) checkProvider(ctx context.Context, cfg sgid.Config) {
	issuer, err := sgid.IssuerForHost(cfg.Host)
	if err != nil {
		c.fail("discovery", "%v", err)
		return
	}
	d, err := sgid.Discover(ctx, cfg.Host, c.hc)
	if d == nil {
		c.fail("discovery", "%v", err)
		return
	}
	if d.Issuer != issuer {
		c.fail("discovery", "issuer is %q, but ID tokens are checked against %q: is host right?", d.Issuer, issuer)
	} else {
		c.ok("discovery", "issuer %s", d.Issuer)
	}
	switch {
	case err != nil:
		c.fail("jwks", "%v", err)
	case d.JWKSKeys == 0:
		c.fail("jwks", "the JWKS holds no keys, so no ID token can be verified")
	default:
		c.ok("jwks", "%d signing key(s)", d.JWKSKeys)
	}

	scopes := cfg.Scopes
	if len(scopes) == 0 {
		scopes = sgid.DefaultScopes
	}
	if len(d.ScopesSupported) == 0 {
		c.warn("scopes", "sgID's discovery document lists no scopes_supported; cannot check %s", strings.Join(scopes, " "))
		return
	}
	var missing []string
	for _, s := range scopes {
		if !slices.Contains(d.ScopesSupported, s) {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		c.fail("scopes", "sgID does not support %s (it supports %s)", strings.Join(missing, " "), strings.Join(d.ScopesSupported, " "))
	} else {
		c.ok("scopes", "sgID supports all of %s (whether your client may have them is set at registration)", strings.Join(scopes, " "))
	}
}

// checkRedirectURI: sgID sends the authorization code to the redirect URI,
// so it must be HTTPS outside local development, and should be fixed
// rather than built from a Host header the client chose.
func (c *checker) checkRedirectURI(uri, callbackPath string) {
	if callbackPath == "" {
		callbackPath = DefaultCallbackPath
	}
	if uri == "" {
		c.warn("redirect_uri", "not set: each login derives it from the request's Host header and scheme (+ %s); set it to the URL registered with sgID", callbackPath)
		return
	}
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" {
		c.fail("redirect_uri", "%q is not an absolute URL", uri)
		return
	}
	switch {
	case u.Scheme == "https":
		c.ok("redirect_uri", "%s is HTTPS", uri)
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		c.warn("redirect_uri", "%s is plain HTTP: fine on this machine for development, never in production", uri)
	default:
		c.fail("redirect_uri", "%s is not HTTPS: the authorization code would cross the network in clear", uri)
	}
}

func isLoopbackHost(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
