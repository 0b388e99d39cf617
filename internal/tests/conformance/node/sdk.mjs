// Runs the official sgID TypeScript SDK (@opengovsg/sgid-client) for the Go
// conformance tests, so that they can compare our Go client with it.
//
// Input on stdin: one JSON request, or an array of them. Every request names
// the client: {hostname, clientId, clientSecret, privateKey, redirectUri}, and
// then either
//   - {code, codeVerifier, nonce}: SgidClient.callback(), i.e. the token
//     exchange and the ID token checks; with "userinfo": true, userinfo() is
//     called next with the sub and access token callback() returned; or
//   - {accessToken, sub}: SgidClient.userinfo() alone; or
//   - {parseData: {field: value, ...}}: SgidClient.parseData() alone, on
//     data the test made up (the client fields may then be placeholders:
//     parseData talks to nobody).
// Output on stdout: one JSON result per request, in the same shape (object
// or array): {ok: true, sub, accessToken, idToken, data, parsed} with the
// fields that step produced (parsed = SgidClient.parseData(data)), or
// {ok: false, step, error} when the SDK threw. The exit status is 0 whenever
// the input could be read; a per-request error is an answer, not a crash.
//
// Requests run a few at a time, and the SDK's HTTP client (openid-client,
// whose default is 3.5 s per request) waits up to 20 s: the tests run
// beside other packages' tests on a small machine, and a batch of SDK
// logins all at once against one mockpass process timed out there. The
// timeout is not what the tests compare.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { SgidClient } = require('@opengovsg/sgid-client')
// The openid-client the SDK itself loads, wherever npm placed it.
const sdkRequire = createRequire(require.resolve('@opengovsg/sgid-client'))
sdkRequire('openid-client').custom.setHttpOptionsDefaults({ timeout: 20000 })

const concurrency = 4

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
    if (req.parseData !== undefined) {
      step = 'parseData'
      out.parsed = client.parseData(req.parseData)
      return out
    }
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

// runAll runs reqs, at most concurrency at a time, and returns their
// results in order.
async function runAll(reqs) {
  const out = new Array(reqs.length)
  let next = 0
  async function worker() {
    while (next < reqs.length) {
      const i = next++
      out[i] = await run(reqs[i])
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, reqs.length) }, worker))
  return out
}

const input = JSON.parse(await readStdin())
const output = Array.isArray(input) ? await runAll(input) : await run(input)
process.stdout.write(JSON.stringify(output) + '\n')
