// Runs the official sgID TypeScript SDK (@opengovsg/sgid-client) for the Go
// conformance tests, so that they can compare our Go client with it.
//
// Input on stdin: one JSON request, or an array of them. Every request names
// the client: {hostname, clientId, clientSecret, privateKey, redirectUri}, and
// then either
//   - {code, codeVerifier, nonce}: SgidClient.callback(), i.e. the token
//     exchange and the ID token checks; with "userinfo": true, userinfo() is
//     called next with the sub and access token callback() returned; or
//   - {accessToken, sub}: SgidClient.userinfo() alone.
// Output on stdout: one JSON result per request, in the same shape (object
// or array): {ok: true, sub, accessToken, idToken, data, parsed} with the
// fields that step produced (parsed = SgidClient.parseData(data)), or
// {ok: false, step, error} when the SDK threw. The exit status is 0 whenever
// the input could be read; a per-request error is an answer, not a crash.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { SgidClient } = require('@opengovsg/sgid-client')

async function readStdin() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return Buffer.concat(chunks).toString('utf8')
}

async function run(req) {
  let step = 'constructor'
  try {
    const client = new SgidClient({
      clientId: req.clientId,
      clientSecret: req.clientSecret,
      privateKey: req.privateKey,
      redirectUri: req.redirectUri,
      hostname: req.hostname,
    })
    const out = { ok: true }
    let { sub, accessToken } = req
    if (req.code !== undefined) {
      step = 'callback'
      const tokens = await client.callback({
        code: req.code,
        codeVerifier: req.codeVerifier,
        nonce: req.nonce,
        redirectUri: req.redirectUri,
      })
      Object.assign(out, tokens)
      sub = tokens.sub
      accessToken = tokens.accessToken
      if (!req.userinfo) return out
    }
    step = 'userinfo'
    const info = await client.userinfo({ sub, accessToken })
    out.sub = info.sub
    out.data = info.data
    step = 'parseData'
    out.parsed = client.parseData(info.data)
    return out
  } catch (err) {
    return { ok: false, step, error: String(err && err.message ? err.message : err) }
  }
}

const input = JSON.parse(await readStdin())
const output = Array.isArray(input)
  ? await Promise.all(input.map(run))
  : await run(input)
process.stdout.write(JSON.stringify(output) + '\n')
