// Command caddy is Caddy with the standard modules and the sgid handler,
// for running this checkout without xcaddy:
//
//	go run ./cmd/caddy run --config Caddyfile.example
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-sgid/caddy-sgid"
)

func main() {
	caddycmd.Main()
}
