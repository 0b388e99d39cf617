// Shared by the zoo's Node.js routers: the hits file, the ready line and
// the end of the process when the test that started it ends.
import { openSync, writeSync } from 'node:fs'

const [port, hitsFile] = process.argv.slice(2)
const hits = openSync(hitsFile, 'a')

// The port to listen on (0: the system picks one).
export const listenPort = Number(port)

// ran appends one JSON line for a route that ran, synchronously, before the
// route answers: the X-Zoo-Id request header, the route's name, the method
// and the request target the router got.
export function ran (name, req) {
  const id = req.headers['x-zoo-id'] || ''
  writeSync(hits, JSON.stringify({ id, route: name, method: req.method, path: req.url }) + '\n')
  return 'route=' + name + '\n'
}

// ready prints the line the test waits for, with the bound port, and ends
// the process when its standard input closes (the test process ended).
export function ready (boundPort) {
  process.stdout.write('ZOO_READY ' + boundPort + '\n')
  process.stdin.on('end', () => process.exit(0))
  process.stdin.on('close', () => process.exit(0))
  process.stdin.resume()
}
