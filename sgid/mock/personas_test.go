package mock

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// personasDigest hashes personas (sub, label and every field, in a fixed
// order) so that a test can pin them.
func personasDigest(ps []Persona) string {
	h := sha256.New()
	for _, p := range ps {
		keys := make([]string, 0, len(p.Data))
		for k := range p.Data {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b, _ := json.Marshal([]any{p.Sub, p.Label, keys, func() []string {
			vs := make([]string, len(keys))
			for i, k := range keys {
				vs[i] = p.Data[k]
			}
			return vs
		}()})
		h.Write(b)
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestFirstPersonasUnchanged pins the five personas that predate the
// officer personas: tests elsewhere log in as them by index and check
// their data, so they may not change, move or be removed. New personas
// go after them.
func TestFirstPersonasUnchanged(t *testing.T) {
	const want = "7cd1641c0ee51f146bbbce3545614a59bffea52f42e4ded3b6f3fa6b651a3d80"
	ps := DefaultPersonas()
	if len(ps) < 5 {
		t.Fatalf("%d personas", len(ps))
	}
	if got := personasDigest(ps[:5]); got != want {
		t.Errorf("the first five personas changed: digest %s, want %s", got, want)
	}
	for i, sub := range []string{"sgidtest:tan-wei-ming", "sgidtest:nur-aisyah", "sgidtest:renee-lim", "sgidtest:arjun-kumar", "sgidtest:lee-jia-hui"} {
		if ps[i].Sub != sub {
			t.Errorf("persona %d is %s, want %s", i, ps[i].Sub, sub)
		}
	}
}

func personaBySub(t *testing.T, sub string) Persona {
	t.Helper()
	for _, p := range DefaultPersonas() {
		if p.Sub == sub {
			return p
		}
	}
	t.Fatalf("no persona %s", sub)
	return Persona{}
}

// jsonArray decodes a persona's JSON-valued field, which must be an array
// of objects with string values.
func jsonArray(t *testing.T, p Persona, scope string) []map[string]string {
	t.Helper()
	var out []map[string]string
	if err := json.Unmarshal([]byte(p.Data[scope]), &out); err != nil {
		t.Fatalf("%s %s: %v", p.Sub, scope, err)
	}
	return out
}

func TestOfficerPersonas(t *testing.T) {
	officerFields := []string{"agency_name", "department_name", "employment_title", "employment_type", "work_email"}

	// An officer with three jobs in two agencies.
	goh := personaBySub(t, "sgidtest:goh-mei-ling")
	jobs := jsonArray(t, goh, "pocdex.public_officer_details")
	agencies := map[string]bool{}
	for _, j := range jobs {
		for _, f := range officerFields {
			if _, ok := j[f]; !ok {
				t.Errorf("a job lacks %s: %v", f, j)
			}
		}
		agencies[j["agency_name"]] = true
	}
	if len(jobs) != 3 || len(agencies) != 2 {
		t.Errorf("%d jobs in %d agencies, want 3 in 2", len(jobs), len(agencies))
	}
	if goh.Data["myinfo.date_of_birth"] != "1990-05" {
		t.Errorf("date of birth %q, want the partial 1990-05", goh.Data["myinfo.date_of_birth"])
	}

	// Nur Aisyah keeps her one job.
	if jobs := jsonArray(t, personaBySub(t, "sgidtest:nur-aisyah"), "pocdex.public_officer_details"); len(jobs) != 1 {
		t.Errorf("nur-aisyah has %d jobs, want 1", len(jobs))
	}

	// Two people who are not officers, in both shapes.
	chua := personaBySub(t, "sgidtest:chua-kok-leong")
	if v := chua.Data["pocdex.public_officer_details"]; v != "[]" {
		t.Errorf("chua-kok-leong's officer details %q, want []", v)
	}
	if v := personaBySub(t, "sgidtest:nguyen-thi-lan").Data["pocdex.public_officer_details"]; v != "NA" {
		t.Errorf("nguyen-thi-lan's officer details %q, want NA", v)
	}
}

func TestDataPersonas(t *testing.T) {
	chua := personaBySub(t, "sgidtest:chua-kok-leong")
	if chua.Data["myinfo.date_of_birth"] != "1990" {
		t.Errorf("date of birth %q, want the year 1990", chua.Data["myinfo.date_of_birth"])
	}
	children := jsonArray(t, chua, "myinfo.children_birth_records")
	if len(children) != 2 {
		t.Fatalf("%d children, want 2", len(children))
	}
	for _, c := range children {
		if c["birth_cert_no"] == "" || c["name"] == "" || c["date_of_birth"] == "" {
			t.Errorf("a birth record lacks its number, name or date: %v", c)
		}
	}

	fin := personaBySub(t, "sgidtest:nguyen-thi-lan")
	if id := fin.Data["myinfo.nric_number"]; !strings.HasPrefix(id, "M") {
		t.Errorf("FIN %q is not of the M series", id)
	}
	na := 0
	for _, v := range fin.Data {
		if v == "NA" {
			na++
		}
	}
	if na < 10 {
		t.Errorf("the NA persona has %d NA fields", na)
	}

	// Every scope of the new personas is in the discovery document.
	scopes := supportedScopes(DefaultPersonas())
	for _, s := range []string{"pocdex.public_officer_details", "myinfo.children_birth_records", "myinfo.sponsored_children_records"} {
		if !slices.Contains(scopes, s) {
			t.Errorf("scopes_supported lacks %s", s)
		}
	}
}

// TestLoginPageShowsEveryPersona renders the login page and finds one
// button per persona, with its name, label and ID, escaped.
func TestLoginPageShowsEveryPersona(t *testing.T) {
	p, err := NewProvider("https://mock.example/v2", Options{LoginPage: true, ClientPublicKey: &benchKey().PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{
		"client_id": {p.clientID}, "redirect_uri": {"https://app.example/cb"}, "response_type": {"code"},
		"scope": {"openid myinfo.name pocdex.public_officer_details"}, "code_challenge": {strings.Repeat("a", 43)},
		"code_challenge_method": {"S256"}, "state": {"st"}, "nonce": {"nn"},
	}
	w := httptest.NewRecorder()
	p.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v2/oauth/authorize?"+q.Encode(), nil))
	if w.Code != http.StatusOK {
		t.Fatalf("login page: %d %s", w.Code, w.Body)
	}
	page := w.Body.String()
	personas := p.Personas()
	if n := strings.Count(page, `<button class="persona"`); n != len(personas) {
		t.Errorf("%d persona buttons for %d personas", n, len(personas))
	}
	for _, pe := range personas {
		want := []string{
			`value="` + html.EscapeString(pe.Sub) + `"`,
			`<span class="name">` + html.EscapeString(pe.Name()) + `</span>`,
			`<span class="label">` + html.EscapeString(pe.Label) + `</span>`,
		}
		if id := pe.Data["myinfo.nric_number"]; id != "" {
			want = append(want, `<span class="id">`+html.EscapeString(id)+`</span>`)
		}
		for _, want := range want {
			if !strings.Contains(page, want) {
				t.Errorf("the login page lacks %s", want)
			}
		}
	}
	if !strings.HasSuffix(strings.TrimSpace(page), "</html>") {
		t.Error("the login page does not end with </html>")
	}
}
