// The router zoo's Fastify app (find-my-way): the zoo's route table with
// the router's lenient options on: case-insensitive (JavaScript's
// Unicode-aware toLowerCase), trailing and duplicate slashes ignored, and
// `;` taken as the start of the query.
//
//     node fastify.mjs <port> <hits-file>
import Fastify from 'fastify'
import { listenPort, ran, ready } from './hits.mjs'

const app = Fastify({
  logger: false,
  routerOptions: {
    caseSensitive: false,
    ignoreTrailingSlash: true,
    ignoreDuplicateSlashes: true,
    useSemicolonDelimiter: true
  }
})
const route = (name) => async (req, reply) => { reply.type('text/plain'); return ran(name, req.raw) }
app.all('/', route('root'))
app.all('/public/*', route('public'))
app.all('/api/*', route('api'))
app.all('/secret', route('secret'))
app.all('/key/*', route('key'))

await app.listen({ host: '127.0.0.1', port: listenPort })
ready(app.server.address().port)
