// Package officer reads the public officer details that sgID's
// pocdex.public_officer_details scope delivers, names each profile with an
// opaque id for a picker, and judges profiles against the allow_officer
// rules. It knows nothing of HTTP, sessions or Caddy: the handler calls it.
//
// # Profiles
//
// sgID gives an officer's jobs as one JSON string, an array with one
// object per job:
//
//	[{"agency_name":"…","department_name":"…","employment_title":"…",
//	  "employment_type":"…","work_email":"…"}, …]
//
// A person who is not a public officer gets "[]" (what sgID's own
// relying parties expect) or "NA" (what mockpass sends for a persona
// without the attribute); both give no profiles.
//
//	func Parse(raw string) ([]Profile, error)
//
// Parse decodes that string. It returns no profiles and no error for "",
// "NA" and "[]"; an error wrapping ErrMalformed for anything else that is
// not a JSON array of objects whose five fields are strings (or absent,
// or null); ErrTooLarge beyond MaxInput bytes or MaxProfiles profiles.
// Unknown fields are ignored. Fields are kept as given, except that
//
//   - a field that is "NA" becomes "" (not applicable: empty);
//   - work_email is trimmed of white space and lower-cased in ASCII only:
//     a non-ASCII letter is kept as given, so that no Unicode case mapping
//     (such as the Kelvin sign K, which lower-cases to an ASCII k) can
//     turn a foreign domain into one that looks like an allowed one;
//   - profiles that are equal after these steps are kept once, so that
//     every profile has its own id.
//
// The errors never quote the value: it holds names and email addresses.
//
//	func (p Profile) Fields() map[string]string
//
// Fields gives the five fields under the keys officer.agency_name,
// officer.department_name, officer.employment_title,
// officer.employment_type and officer.work_email (FieldKeys), for
// placeholders, identity headers and the assertion. All five keys are
// always present; a field sgID left out or sent as "NA" is "".
//
// # Opaque ids
//
// A picker must name a profile without putting the officer's details in a
// URL, and an id must mean nothing outside the session it was made for.
//
//	func IDKey(secret []byte, session string) ([]byte, error)
//	func (p Profile) ID(key []byte) string
//	func List(profiles []Profile, key []byte) []Entry
//	func Find(profiles []Profile, id string, key []byte) (Profile, bool)
//
// IDKey derives a per-session key, HKDF-SHA256 of the handler's secret
// with the session's identifier in the info; the secret must be at least
// MinKeyLen bytes. ID is HMAC-SHA256 under that key of the profile's
// canonical encoding (a version tag, then each field in a fixed order,
// each preceded by its length), cut to IDBytes (16) bytes and encoded in
// unpadded base64url: 22 characters of [A-Za-z0-9_-]. It does not depend on
// the profile's position, so it stays the same when sgID lists the jobs in
// another order. List pairs every profile with its id, in a shape that
// encodes as the picker's JSON: {"id":…, "agency_name":…, …}.
// Find returns the profile whose id is id, comparing ids in constant time;
// an id made under another key (another session, or another secret) or a
// forged one finds nothing. A key shorter than MinKeyLen makes ID return
// "" and Find find nothing: a missing key must never make every id match.
//
// # The session's jobs
//
// A session keeps an officer's jobs in its data, beside sgID's fields:
//
//	func Start(data map[string]string, rules *Rules, keep []string) (map[string]string, error)
//	func Pending(data map[string]string) bool
//	func Read(data map[string]string) (Jobs, bool)
//	func Choose(data map[string]string, id string, key []byte, keep []string) (map[string]string, Entry, bool)
//	func SessionKey(sessionID string) ([]byte, error)
//
// Start runs at login: it keeps the jobs the rules allow under ProfilesKey
// (a JSON array), whatever keep_fields says, since a picker needs them;
// with exactly one it chooses it: ChosenKey holds the chosen job's
// position and FieldKeys its fields (those keep keeps). With several, the
// choice is pending (Pending: jobs and no ChosenKey; it only looks keys
// up, for the guard's every request) until Choose picks the job an id
// names and returns the session's new data, the fields of a job chosen
// before replaced. The ids of a session are made under SessionKey of its
// id. ProfilesKey and ChosenKey are the handler's own (Own): never
// placeholders, headers nor userinfo; Derived adds the chosen job's
// fields, which userinfo leaves out too, so that it stays what sgID's SDK
// returns.
//
// # Rules
//
//	func Compile(patterns []string) (Rules, error)
//	func (r Rules) Allows(p Profile) bool
//	func (r Rules) Filter(profiles []Profile) []Profile
//	func (r Rules) Patterns() []string
//
// A profile passes when it matches ANY of the patterns (OR across the
// patterns of one allow_officer, and across several allow_officer lines,
// which the caller simply concatenates). Each pattern is one of:
//
//   - tech.gov.sg: the work email's domain is exactly tech.gov.sg.
//   - *.gov.sg: the domain ends in .gov.sg with at least one more label:
//     tech.gov.sg and a.b.gov.sg pass, gov.sg itself does not (list it
//     too to allow it). The * stands for whole labels only and must be
//     the leftmost one.
//   - agency:NAME: the agency name equals NAME, ignoring case (simple
//     Unicode case folding) and runs of white space.
//   - type:TYPE: the employment type equals TYPE, the same way.
//
// Domains are compared in ASCII lower case. A domain pattern must be
// ASCII (write an internationalized domain in its xn-- form), hold at
// least one dot (so that a forgotten prefix, as in "Permanent", is an
// error rather than a domain), and be a valid host name without a
// trailing dot; "@", "*" alone, and a * anywhere else are refused. A work
// email passes a domain pattern only when it has exactly one "@", a
// non-empty local part and a domain that is a valid ASCII host name; any
// other address matches no domain pattern, whatever the pattern.
//
// In a Caddyfile a quote opens a token only at its start, so a name with
// spaces is written by quoting the whole pattern:
//
//	allow_officer *.gov.sg "agency:Open Government Products" type:Permanent
//
// (agency:"Open Government Products" would split into three tokens;
// Compile refuses the lone quote that results, with a hint.) In JSON the
// surrounding quotes are optional: "agency:\"Open Government Products\""
// and "agency:Open Government Products" are the same pattern.
//
// Compile refuses an empty list, and its errors name the pattern and what
// is wrong with it. The zero Rules allows nothing: a caller that has no
// allow_officer rules should not filter at all. Patterns returns the
// canonical form of each pattern (lower-case domains, "agency:NAME"
// with the name's spaces collapsed), duplicates removed, for messages and
// tests.
package officer
