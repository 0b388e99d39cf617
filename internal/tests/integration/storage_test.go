package integration

import (
	"os"
	"path/filepath"
	"testing"

	caddysgid "github.com/caddy-sgid/caddy-sgid"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// TestSessionsStayInTheTestsStorage: the Caddy a test starts keeps its
// sessions in the test's own storage folder, not in the user's Caddy data
// folder shared with every earlier test and run. There, a fake sgID that
// got an earlier one's port would find that one's sessions (same issuer,
// same scope), and a count of sessions ended would count them too.
func TestSessionsStayInTheTestsStorage(t *testing.T) {
	newEnv(t, sgidtest.Options{}, "")
	b := newBrowser(t)
	if loc := b.Login(""); loc != "/logged-in" {
		t.Fatalf("login ended at %q", loc)
	}
	c := b.Cookie(caddysgid.DefaultCookieName)
	if c == nil {
		t.Fatal("no session cookie after the login")
	}
	dir := testcaddy.StorageDir(t)
	records, _ := filepath.Glob(filepath.Join(dir, "sgid", "*", "r", session.Key(c.Value)))
	if len(records) != 1 {
		entries, _ := os.ReadDir(dir)
		t.Fatalf("the session's record is not in the test's storage folder %s (it holds %v)", dir, entries)
	}
}
