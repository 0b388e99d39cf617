// Command caddy is the benchmark suite's Caddy for the scale pair (bench,
// pair 7): Caddy with the standard modules and the sgid handler, as
// cmd/caddy builds it, plus an admin module of the benchmark's own (see
// benchAPI) that fills a site's session store through the store's API.
// The other pairs measure cmd/caddy itself.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-sgid/caddy-sgid"
)

func main() {
	caddycmd.Main()
}
