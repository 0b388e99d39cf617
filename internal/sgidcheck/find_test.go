package sgidcheck

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestFindHandlers(t *testing.T) {
	// sgid returns a handler whose client_id tells the handlers apart.
	sgid := func(id string) string { return `{"handler":"sgid","client_id":"` + id + `"}` }
	routes := func(handles ...string) string {
		return `[{"handle":[` + strings.Join(handles, ",") + `]}]`
	}
	subroute := func(handles ...string) string {
		return `{"handler":"subroute","routes":` + routes(handles...) + `}`
	}
	config := func(servers string) string { return `{"apps":{"http":{"servers":{` + servers + `}}}}` }

	for _, tc := range []struct {
		name    string
		config  string
		want    []string // server/client_id of each handler found, in order
		wantErr string
	}{
		{"no apps", `{}`, nil, ""},
		{"no sgid handler", config(`"srv0":{"routes":` + routes(`{"handler":"static_response"}`) + `}`), nil, ""},
		{"route order", config(`"srv0":{"routes":[{"handle":[` + sgid("a") + `]},{"handle":[{"handler":"headers"},` + sgid("b") + `]}]}`), []string{"srv0/a", "srv0/b"}, ""},
		{"servers in name order", config(`"web":{"routes":` + routes(sgid("w")) + `},"api":{"routes":` + routes(sgid("a")) + `}`), []string{"api/a", "web/w"}, ""},
		{"nested subroutes", config(`"srv0":{"routes":` + routes(subroute(sgid("outer"), subroute(sgid("inner")))) + `}`), []string{"srv0/outer", "srv0/inner"}, ""},
		{"error routes after routes", config(`"srv0":{"errors":{"routes":` + routes(sgid("err")) + `},"routes":` + routes(sgid("main")) + `}`), []string{"srv0/main", "srv0/err"}, ""},
		{"not JSON", `{"apps":`, nil, "reading the adapted config"},
		{"a handler that is not an object", config(`"srv0":{"routes":` + routes(`"sgid"`) + `}`), nil, "server srv0: "},
		{"a bad handler inside a subroute", config(`"srv0":{"routes":` + routes(subroute(`[]`)) + `}`), nil, "server srv0: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			found, err := FindHandlers([]byte(tc.config))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range found {
				var h struct {
					ClientID string `json:"client_id"`
				}
				if err := json.Unmarshal(f.JSON, &h); err != nil {
					t.Fatalf("handler JSON %s: %v", f.JSON, err)
				}
				got = append(got, f.Server+"/"+h.ClientID)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("found %q, want %q", got, tc.want)
			}
		})
	}
}
