// Issue 10's encryption at rest, for the stores that keep data outside the
// process. Remove the build constraint above when the stores land.

package cluster

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/cluster"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testredis"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// secretPersona is a person whose sub and fields are random, so that
// finding one of them anywhere cannot be chance (unlike "MALE" or "NA").
func secretPersona() sgidtest.Persona {
	r := make([]byte, 12)
	rand.Read(r)
	tag := hex.EncodeToString(r)
	return sgidtest.Persona{
		Sub:   "sgidtest:at-rest-" + tag,
		Label: "Person whose data must not be readable at rest",
		Data: map[string]string{
			"myinfo.name":  "ATREST NAME " + strings.ToUpper(tag),
			"myinfo.email": "atrest." + tag + "@example.com",
		},
	}
}

// needles are what must not be readable at rest after b logged in as
// persona: the sub, every personal field, the app value, the session id
// and the code sgID sent.
func needles(t *testing.T, persona sgidtest.Persona, appValue string, b *cluster.Browser, callback string) map[string]string {
	t.Helper()
	u, err := url.Parse(callback)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]string{"sub": persona.Sub, "app value": appValue, "code": u.Query().Get("code")}
	for k, v := range persona.Data {
		n[k] = v
	}
	if c := b.Cookie(sessionCookie); c != nil {
		n["session id"] = c.Value
	}
	for what, v := range n {
		if len(v) < 16 {
			t.Fatalf("needle %s %q is too short to mean anything when found", what, v)
		}
	}
	return n
}

// findNeedles reports each needle found in data, naming where.
func findNeedles(t *testing.T, where string, data []byte, n map[string]string) {
	t.Helper()
	for what, v := range n {
		if bytes.Contains(data, []byte(v)) {
			t.Errorf("%s holds the %s in the clear", where, what)
		}
	}
}

// loginForAtRest logs a browser in as a secret persona, started on a and
// finished on b, and returns the needles.
func loginForAtRest(t *testing.T, p *cluster.Provider, persona sgidtest.Persona, a, b *cluster.Instance) map[string]string {
	t.Helper()
	r := make([]byte, 12)
	rand.Read(r)
	appValue := "flavour-" + hex.EncodeToString(r)
	br := cluster.NewBrowser(t)
	loc, callback := loginAcross(br, cluster.NewBalancer(t), a, b, "icecream="+appValue)
	if loc != "/logged-in" {
		t.Fatalf("login ended at %q", loc)
	}
	wantUser(t, br, a, persona.Sub, appValue)
	return needles(t, persona, appValue, br, callback)
}

// The logs are at rest too: nothing of the login may be in them, except
// the sub in the audit lines of a login and a logout, which name the user
// by the pseudonymous id sgID gave this client so that an operator can
// audit logins without an access log.
func checkLogs(t *testing.T, n map[string]string, is ...*cluster.Instance) {
	t.Helper()
	for _, i := range is {
		log, err := os.ReadFile(i.LogFile)
		if err != nil {
			t.Fatal(err)
		}
		audited := 0
		for line := range bytes.Lines(log) {
			var entry struct {
				Msg string `json:"msg"`
				Sub string `json:"sub"`
			}
			if json.Unmarshal(line, &entry) == nil && entry.Sub == n["sub"] &&
				(entry.Msg == "user logged in" || entry.Msg == "user logged out") {
				audited++
				line = bytes.ReplaceAll(line, []byte(n["sub"]), nil)
			}
			findNeedles(t, "the log of "+i.Name, line, n)
		}
		if i == is[len(is)-1] && audited == 0 {
			t.Errorf("the log of %s has no audit line for the login it finished", i.Name)
		}
	}
}

func TestNothingReadableInTheStorageFolder(t *testing.T) {
	persona := secretPersona()
	p := cluster.NewProvider(t, sgidtest.Options{Personas: []sgidtest.Persona{persona}})
	folder := t.TempDir()
	a := cluster.Start(t, cluster.Options{Name: "A", Site: sgidSite(p, "store storage"), StorageDir: folder})
	b := cluster.Start(t, cluster.Options{Name: "B", Site: sgidSite(p, "store storage"), StorageDir: folder})
	before := files(t, folder)
	n := loginForAtRest(t, p, persona, a, b)

	after := files(t, folder)
	written := 0
	for path, data := range after {
		if !bytes.Equal(before[path], data) {
			written++
		}
		findNeedles(t, path, data, n)
	}
	// A grep of a folder the login never wrote to would prove nothing.
	if written == 0 {
		t.Fatalf("the login wrote nothing to the storage folder (%d files)", len(after))
	}
	checkLogs(t, n, a, b)
}

// files reads every regular file below dir.
func files(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out[path] = data
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestNothingReadableInRedis(t *testing.T) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		msg := "redis-cli not found; install Debian's redis-tools (it comes with redis-server)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg + " (CI is set, so this fails instead of skipping)")
		}
		t.Skip(msg)
	}
	redis := testredis.Start(t, testredis.Options{})
	persona := secretPersona()
	p := cluster.NewProvider(t, sgidtest.Options{Personas: []sgidtest.Persona{persona}})
	site := sgidSite(p, redisStore(redis.Addr))
	a := cluster.Start(t, cluster.Options{Name: "A", Site: site})
	b := cluster.Start(t, cluster.Options{Name: "B", Site: site})
	n := loginForAtRest(t, p, persona, a, b)

	host, port, err := net.SplitHostPort(redis.Addr)
	if err != nil {
		t.Fatal(err)
	}
	// redis-cli writes values raw (no quoting) when its output is not a
	// terminal, so the bytes are searched as Redis holds them.
	rc := func(args ...string) []byte {
		t.Helper()
		out, err := exec.Command(cli, append([]string{"-h", host, "-p", port}, args...)...).Output()
		if err != nil {
			t.Fatalf("redis-cli %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	var keys []string
	for _, k := range strings.Split(string(rc("--scan")), "\n") {
		if k != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		t.Fatal("the login wrote no key to Redis; a grep of nothing proves nothing")
	}
	for _, key := range keys {
		findNeedles(t, "the name of Redis key "+key, []byte(key), n)
		// DUMP may compress a value, so every type is also read plainly.
		findNeedles(t, "DUMP of Redis key "+key, rc("DUMP", key), n)
		var plain []byte
		switch typ := strings.TrimSpace(string(rc("TYPE", key))); typ {
		case "string":
			plain = rc("GET", key)
		case "hash":
			plain = rc("HGETALL", key)
		case "list":
			plain = rc("LRANGE", key, "0", "-1")
		case "set":
			plain = rc("SMEMBERS", key)
		case "zset":
			plain = rc("ZRANGE", key, "0", "-1", "WITHSCORES")
		case "none":
			continue // expired since the scan
		default:
			t.Errorf("Redis key %s has type %s, which this test cannot read", key, typ)
		}
		findNeedles(t, "Redis key "+key, plain, n)
	}
	checkLogs(t, n, a, b)
}
