package access

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-sgid/caddy-sgid/internal/pathview"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
)

func TestJudge(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	fresh := Rules{FreshPaths: caddyhttp.MatchPath{"/api/admin/*"}, MaxAge: time.Minute, Now: clock}
	s := session.Session{Sub: "s1", Login: now.Add(-30 * time.Second), Data: map[string]string{"role": "admin", "myinfo.residentialstatus": "PR"}}
	old := s
	old.Login = now.Add(-2 * time.Minute)
	undated := s
	undated.Login = time.Time{}
	for _, tc := range []struct {
		name string
		ru   Rules
		path string
		s    session.Session
		want Verdict
	}{
		{"no rules", Rules{}, "/api/x", s, Allowed},
		{"sub listed", Rules{Subs: []string{"s0", "s1"}}, "/api/x", s, Allowed},
		{"sub not listed", Rules{Subs: []string{"s0"}}, "/api/x", s, Forbidden},
		{"field passes", Rules{Fields: []Field{{"myinfo.residentialstatus", []string{"CITIZEN", "PR"}}}}, "/api/x", s, Allowed},
		{"field case differs", Rules{Fields: []Field{{"myinfo.residentialstatus", []string{"pr"}}}}, "/api/x", s, Forbidden},
		{"field missing", Rules{Fields: []Field{{"myinfo.email", []string{""}}}}, "/api/x", s, Forbidden},
		{"sub as a field", Rules{Fields: []Field{{"sub", []string{"s1"}}}}, "/api/x", s, Allowed},
		{"one field of two fails", Rules{Fields: []Field{{"role", []string{"admin"}}, {"myinfo.residentialstatus", []string{"CITIZEN"}}}}, "/api/x", s, Forbidden},
		{"fresh path, recent login", fresh, "/api/admin/x", s, Allowed},
		{"fresh path, old login", fresh, "/api/admin/x", old, TooOld},
		{"fresh path, undated login", fresh, "/api/admin/x", undated, TooOld},
		{"fresh path by another case", fresh, "/API/Admin/x", old, TooOld},
		{"other path, old login", fresh, "/api/x", old, Allowed},
		{"forbidden wins over too old", Rules{Subs: []string{"s0"}, FreshPaths: fresh.FreshPaths, MaxAge: time.Minute, Now: clock}, "/api/admin/x", old, Forbidden},
	} {
		r := httptest.NewRequest("GET", tc.path, nil)
		r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
		p := pathview.Read(r.URL)
		if got := tc.ru.Judge(r, &p, tc.s); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
