package store

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalStore(t *testing.T) {
	for _, tc := range []struct {
		name, input string
		want        string // JSON, when the input is valid
		wantErr     string // part of the error, when it is not
	}{
		{name: "memory", input: `store memory`, want: `{"module":"memory"}`},
		{name: "memory bound", input: "store memory {\n max_entries 500\n}", want: `{"max_entries":500,"module":"memory"}`},
		{name: "storage", input: `store storage`, want: `{"module":"storage"}`},
		{name: "storage empty block", input: "store storage {\n}", want: `{"module":"storage"}`},
		{name: "redis defaults", input: `store redis`, want: `{"module":"redis"}`},
		{name: "redis everything", input: `store redis {
			address 10.0.0.1:6379 10.0.0.2:6379
			username {env.REDIS_USER}
			password {env.REDIS_PASSWORD}
			db 0
			key_prefix app1:
			sentinel_master mymaster
			tls {
				ca_file {file.ca_path}
				server_name redis.internal
			}
			dial_timeout 3s
			read_timeout 500ms
			write_timeout 2s
		}`, want: `{"addresses":["10.0.0.1:6379","10.0.0.2:6379"],"dial_timeout":3000000000,"key_prefix":"app1:","module":"redis","password":"{env.REDIS_PASSWORD}","read_timeout":500000000,"sentinel_master":"mymaster","tls":{"ca_file":"{file.ca_path}","server_name":"redis.internal"},"username":"{env.REDIS_USER}","write_timeout":2000000000}`},
		{name: "redis tls without block", input: "store redis {\n tls\n db 3\n}", want: `{"db":3,"module":"redis","tls":{}}`},

		{name: "no store name", input: `store`, wantErr: "wrong argument count"},
		{name: "unknown store", input: `store mysql`, wantErr: "getting module named 'sgid.stores.mysql'"},
		{name: "argument after name", input: `store memory 5`, wantErr: "wrong argument count"},
		{name: "memory unknown", input: "store memory {\n size 5\n}", wantErr: "unrecognized store memory subdirective 'size'"},
		{name: "memory zero", input: "store memory {\n max_entries 0\n}", wantErr: "at least 1, got '0'"},
		{name: "memory not a number", input: "store memory {\n max_entries many\n}", wantErr: "got 'many'"},
		{name: "memory repeat", input: "store memory {\n max_entries 5\n max_entries 6\n}", wantErr: "max_entries specified more than once"},
		{name: "memory two values", input: "store memory {\n max_entries 5 6\n}", wantErr: "wrong argument count"},
		{name: "storage subdirective", input: "store storage {\n root /tmp\n}", wantErr: "unrecognized store storage subdirective 'root'"},
		{name: "redis unknown", input: "store redis {\n addr x:1\n}", wantErr: "unrecognized store redis subdirective 'addr'"},
		{name: "redis address empty", input: "store redis {\n address\n}", wantErr: "wrong argument count"},
		{name: "redis address repeat", input: "store redis {\n address a:1\n address b:1\n}", wantErr: "address specified more than once"},
		{name: "redis password missing", input: "store redis {\n password\n}", wantErr: "wrong argument count"},
		{name: "redis password two", input: "store redis {\n password a b\n}", wantErr: "wrong argument count"},
		{name: "redis db negative", input: "store redis {\n db -1\n}", wantErr: "at least 0, got '-1'"},
		{name: "redis bad duration", input: "store redis {\n dial_timeout soon\n}", wantErr: "positive duration, got 'soon'"},
		{name: "redis zero duration", input: "store redis {\n read_timeout 0s\n}", wantErr: "positive duration, got '0s'"},
		{name: "redis tls argument", input: "store redis {\n tls yes\n}", wantErr: "wrong argument count"},
		{name: "redis tls unknown", input: "store redis {\n tls {\n insecure_skip_verify\n }\n}", wantErr: "unrecognized store redis tls subdirective 'insecure_skip_verify'"},
		{name: "redis tls repeat", input: "store redis {\n tls {\n ca_file a\n ca_file b\n }\n}", wantErr: "tls ca_file specified more than once"},
		{name: "redis timeout repeat", input: "store redis {\n write_timeout 1s\n write_timeout 2s\n}", wantErr: "write_timeout specified more than once"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := caddyfile.NewTestDispenser(tc.input)
			d.Next() // the store token, as the handler's parser leaves it
			got, err := UnmarshalStore(d)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q (JSON %s)", err, tc.wantErr, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("JSON =\n%s\nwant\n%s", got, tc.want)
			}
			// The JSON loads back into the module it names.
			var probe struct{ Module string }
			if err := json.Unmarshal(got, &probe); err != nil || probe.Module == "" {
				t.Fatalf("JSON %s names no module: %v", got, err)
			}
		})
	}
}

// TestUnmarshalStoreStopsAtItsBlock checks that the store's parser leaves
// the handler's next subdirective to the handler.
func TestUnmarshalStoreStopsAtItsBlock(t *testing.T) {
	d := caddyfile.NewTestDispenser("sgid {\n store redis {\n db 2\n }\n cookie_name x\n}")
	d.Next()
	var seen []string
	for d.NextBlock(0) {
		seen = append(seen, d.Val())
		if d.Val() != "store" {
			d.RemainingArgs()
			continue
		}
		if _, err := UnmarshalStore(d); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(seen, ",") != "store,cookie_name" {
		t.Fatalf("the handler saw %v, want store then cookie_name", seen)
	}
}
