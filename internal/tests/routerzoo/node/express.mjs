// The router zoo's Express app: the zoo's route table with Express's
// defaults (case-insensitive and non-strict routing).
//
//     node express.mjs <port> <hits-file>
import express from 'express'
import { listenPort, ran, ready } from './hits.mjs'

const app = express()
const route = (name) => (req, res) => { res.type('text/plain').send(ran(name, req)) }
app.all('/', route('root'))
app.all('/public/*rest', route('public'))
app.all('/api/*rest', route('api'))
app.all('/secret', route('secret'))
app.all('/key/*rest', route('key'))
app.use((req, res) => { res.status(404).type('text/plain').send('no route\n') })
app.use((err, req, res, next) => { res.status(err.status || 500).type('text/plain').send('error\n') })

const server = app.listen(listenPort, '127.0.0.1', () => ready(server.address().port))
