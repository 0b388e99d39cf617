package caddysgid

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/caddy-sgid/caddy-sgid/internal/sgidcheck"
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
	if err := sgidcheck.Keygen(os.Stdout, fl.String("out"), fl.Int("bits")); err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	return caddy.ExitCodeSuccess, nil
}

func cmdCheck(fl caddycmd.Flags) (int, error) {
	return runCheck(context.Background(), os.Stdout, fl.String("config"), fl.String("adapter"), nil)
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
	found, err := sgidcheck.FindHandlers(cfg)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	sites := make([]sgidcheck.Site, 0, len(found))
	for _, f := range found {
		var h Handler
		if err := json.Unmarshal(f.JSON, &h); err != nil {
			return caddy.ExitCodeFailedStartup, fmt.Errorf("server %s: sgid handler: %w", f.Server, err)
		}
		sites = append(sites, checkedSite(f.Server, h))
	}
	return sgidcheck.Checks{HTTPClient: hc}.Run(ctx, w, configFile, sites)
}

// checkedSite is what the checks read of the handler h of server, with
// the defaults the checks need applied.
func checkedSite(server string, h Handler) sgidcheck.Site {
	return sgidcheck.Site{
		Server:       server,
		Mock:         h.Mock,
		Config:       h.clientConfig(),
		CallbackPath: cmp.Or(h.CallbackPath, DefaultCallbackPath),
		SealingKey:   h.SealingKey,
		Store:        h.StoreRaw,
	}
}
