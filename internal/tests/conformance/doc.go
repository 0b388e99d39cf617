// Package conformance holds tests that run our sgID client (package sgid)
// and the Caddy handler against two independent peers from the npm
// registry: @opengovsg/mockpass 4.3.4, a mock sgID server, and
// @opengovsg/sgid-client 2.3.0, the official TypeScript SDK. Both are pinned
// in node/package.json; install them with
//
//	npm ci --prefix internal/tests/conformance/node
//
// Without Node.js or those packages the tests skip, except under CI (the
// CI environment variable is set), where a missing prerequisite fails them.
//
// node/mockpass.cjs starts mockpass; node/sdk.mjs runs the SDK on JSON
// requests from stdin (see there).
//
// The tests prove:
//
//   - TestSgidAgainstMockpass: sgid.Client logs in to mockpass (authorize,
//     token exchange with ID token verification, encrypted userinfo) for
//     several scope sets and personas, and decrypts exactly the values of
//     mockpass's persona file (static/myinfo/v3.json), an oracle independent
//     of both implementations.
//   - TestPersonaFromMockpassNRIC: the persona mockpass serves without a
//     login page (MOCKPASS_NRIC) is the one logged in, and a userinfo sub
//     that differs from the ID token's is refused by us and by the SDK.
//   - TestUserinfoMatchesSDK: for the same logins (every persona of
//     mockpass, every scope it knows), our Exchange, Userinfo and ParseData
//     give field for field what the SDK's callback(), userinfo() and
//     parseData() give.
//   - TestIDTokenAcceptanceMatchesSDK: through a proxy that hands both
//     implementations the very same ID token (mockpass's own, or a tampered
//     or re-signed variant), our Exchange and VerifyIDToken accept exactly
//     the tokens the SDK's callback() accepts, except for two deliberate
//     differences (our one-minute clock leeway, and our check that iat is
//     not in the future). The suite first found eight differences that
//     were bugs of ours (empty field values, no kid with a one-key JWKS,
//     azp, nbf, string dates, crit, at_hash, app values overriding sgID
//     data); they are fixed and these tests keep them fixed.
//   - TestTypedDataMatchesSDK: the SDK logs in to our built-in mock
//     (sgidtest) as every one of its personas with every scope the
//     persona has; its userinfo() decrypts exactly the persona's data, and
//     typed.Data of that data equals its parseData() but for the
//     documented "NA is null" (package typed lists the differences).
//   - TestTypedEdgesMatchSDK: made-up values (JSON in string scopes, white
//     space around JSON, NUL bytes, nested NA, numbers out of range) go
//     through parseData() alone; each shows exactly the documented
//     difference, or none.
//   - TestOfficerProfilesFromMockpass: for mockpass's public officer, the
//     profiles officer.Parse reads from our userinfo equal the jobs of the
//     SDK's parseData() and of mockpass's persona file, with the work
//     email lower-cased, and each kind of allow_officer rule finds them.
//   - TestCaddyLoginAgainstMockpass: the sgid Caddy handler walks the whole
//     login of sgID's demo SPA (auth-url with an app parameter, sgID,
//     callback, userinfo, identity placeholders, replayed callback, logout)
//     against mockpass, for several personas and scope sets.
//
// # What mockpass does differently from real sgID
//
// These are quirks of the mock. Do not "fix" the plugin or the sgid package
// to match them; the tests work around them instead.
//
//   - Userinfo encryption algorithms: mockpass encrypts the `key` with
//     RSA-OAEP + A128CBC-HS256 and each field with dir + A256GCM (the key is
//     a 256-bit A256GCM JWK); real sgID uses RSA-OAEP-256 + A256GCM and
//     A128GCMKW + A128GCM (a 128-bit A128GCM JWK). The sgid package accepts
//     both, within an allow-list per layer.
//   - It ignores PKCE (code_challenge, code_verifier) and the client secret,
//     and does not check the redirect URI or the client ID (the ID token's
//     aud is whatever client_id the token request names). None of these
//     checks can be proved against it.
//   - It never invalidates an authorization code: a code can be exchanged
//     again and again for 5 minutes. Replay protection is the plugin's own
//     (single-use pending logins); the Caddy test shows a replayed callback
//     fails, but sgID's own single use is untested here.
//   - The access token is the authorization code itself, known for 5
//     minutes (it also sends refresh_token and expires_in=86400, which mean
//     nothing). A userinfo call with a token it does not know (older than 5
//     minutes, or issued before a restart) makes the whole process exit
//     ("Cannot destructure property 'profile'"), so the tests log in afresh
//     right before every userinfo call and check the process is still alive.
//   - Userinfo for a persona without Myinfo data (e.g. its default persona
//     S8979373D when MOCKPASS_NRIC is not set) crashes the process as soon as
//     any Myinfo scope is asked for; so does myinfo.registered_address for a
//     persona whose address is "Unformatted" (S9912364H, S6005055D). The
//     tests use personas with data.
//   - Even with scope openid alone it answers a `key` and
//     data["myinfo.nric_number"] (real sgID sends neither key nor data then),
//     and it always adds myinfo.nric_number whatever the scopes.
//   - Scopes it does not know (e.g. myinfo.sponsored_child_records) come back
//     as the string "NA" instead of being refused.
//   - myinfo.vehicles is broken: it encrypts a JavaScript array of objects
//     as if it were bytes, so a persona with n vehicles gets n NUL bytes
//     instead of JSON, one with an empty vehicle list gets the empty string
//     "", and one without the attribute gets "[]".
//     pocdex.public_officer_details is the JSON-valued field it gets right.
//   - Field values are encrypted as Latin-1 ("binary" strings in node-jose),
//     so non-ASCII data would arrive mangled; its persona file is ASCII.
//   - For foreign personas (NRIC starting with Y) the ID token's sub is
//     "fid=..." while userinfo's sub is "u=<uuid>": a mismatch every client
//     must refuse (and both implementations do).
//   - Its discovery document has a doubled slash (`/v2//oauth/...`); endpoint
//     URLs are built from the issuer, never from that document.
//   - The issuer is taken from the request's Host header
//     (`http://<host>/v2`), so it changes with the name the client uses.
//   - Its index.js listens on every interface; node/mockpass.cjs runs the
//     same app on 127.0.0.1 only and on a free port. It needs no environment
//     besides MOCKPASS_NRIC (and MOCKPASS_PORT); it reads a .env file from
//     its working directory (dotenv), and MOCKPASS_STATELESS=true would make
//     codes self-contained base64url JSON instead of random strings.
//   - The login page (SHOW_LOGIN_PAGE=true or the X-Show-Login-Page: true
//     header) lists one pre-made callback URL per persona with Myinfo data;
//     the tests pick personas from it.
package conformance
