package cluster

import (
	"os"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/cluster"
)

// TestMain builds Caddy once for the suite and removes it afterwards.
func TestMain(m *testing.M) { os.Exit(cluster.Main(m)) }
