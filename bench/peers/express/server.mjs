// The comparison peer of the benchmark suite (bench/): an Express server
// that logs users in to sgID with the official TypeScript SDK the way the
// SDK's own Express example does, so that the plugin is measured against
// what a team would otherwise deploy:
//
//   - sessions live in a plain object, keyed by a random id in a cookie
//     read with cookie-parser, and are never removed;
//   - /api/auth-url starts a login (state, nonce and PKCE verifier kept in
//     the session) and answers {"url": ...};
//   - /api/redirect exchanges the code (the SDK verifies the ID token) and
//     keeps the access token and sub in the session;
//   - /api/userinfo calls sgID's userinfo on every request, which the SDK
//     decrypts (RSA for the key layer, then each field).
//
// Configuration comes from the environment: SGID_HOSTNAME (sgID's origin),
// SGID_PRIVATE_KEY_FILE, SGID_CLIENT_ID, SGID_SCOPES (space-separated) and
// PEER_PORT (0 picks a free port). It listens on 127.0.0.1 only and prints
// "PEER_READY <port>" once it accepts connections.
//
// GET /debug/heap (run node with --expose-gc) collects garbage and answers
// the V8 heap in use, so the benchmark can read memory per login after a
// forced GC as it does for Caddy. It exists for the benchmark alone.
import { createRequire } from 'node:module'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'

const require = createRequire(import.meta.url)
const express = require('express')
const cookieParser = require('cookie-parser')
const { SgidClient, generatePkcePair } = require('@opengovsg/sgid-client')

const COOKIE = 'peerSession'
const scopes = (process.env.SGID_SCOPES || 'openid myinfo.name').split(' ')
const sessions = {}

const app = express()
app.use(cookieParser())
let sgid // built once the port, and so the redirect URI, is known

app.get('/api/auth-url', (req, res) => {
  const id = randomBytes(32).toString('base64url')
  const state = randomBytes(16).toString('base64url')
  const { codeVerifier, codeChallenge } = generatePkcePair()
  const { url, nonce } = sgid.authorizationUrl({ state, scope: scopes, codeChallenge })
  sessions[id] = { state, nonce, codeVerifier, iceCream: String(req.query.icecream ?? 'None') }
  res.cookie(COOKIE, id, { httpOnly: true, sameSite: 'lax' }).json({ url })
})

app.get('/api/redirect', async (req, res) => {
  const session = sessions[String(req.cookies[COOKIE])]
  if (session === undefined || session.state !== String(req.query.state)) {
    res.redirect('/error')
    return
  }
  try {
    const { sub, accessToken } = await sgid.callback({
      code: String(req.query.code),
      nonce: session.nonce,
      codeVerifier: session.codeVerifier,
    })
    session.sub = sub
    session.accessToken = accessToken
    res.redirect('/logged-in')
  } catch {
    res.redirect('/error')
  }
})

app.get('/api/userinfo', async (req, res) => {
  const session = sessions[String(req.cookies[COOKIE])]
  if (session?.accessToken === undefined) {
    res.sendStatus(401)
    return
  }
  try {
    const info = await sgid.userinfo({ sub: session.sub, accessToken: session.accessToken })
    info.data.iceCream = session.iceCream
    res.json(info)
  } catch {
    res.sendStatus(502)
  }
})

app.get('/debug/heap', (_req, res) => {
  if (typeof global.gc !== 'function') {
    res.status(500).json({ error: 'start node with --expose-gc' })
    return
  }
  global.gc()
  global.gc()
  res.json({ heapUsed: process.memoryUsage().heapUsed, sessions: Object.keys(sessions).length })
})

const server = app.listen(Number(process.env.PEER_PORT || 0), '127.0.0.1', () => {
  const port = server.address().port
  sgid = new SgidClient({
    clientId: process.env.SGID_CLIENT_ID || 'bench-express',
    clientSecret: 'the-mock-ignores-the-secret',
    privateKey: readFileSync(process.env.SGID_PRIVATE_KEY_FILE, 'utf8'),
    redirectUri: `http://127.0.0.1:${port}/api/redirect`,
    hostname: process.env.SGID_HOSTNAME,
  })
  console.log(`PEER_READY ${port}`)
})
server.on('error', (err) => {
  console.error(`peer: cannot listen: ${err.message}`)
  process.exit(1)
})
