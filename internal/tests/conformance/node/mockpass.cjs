// Starts mockpass (@opengovsg/mockpass) for the Go conformance tests.
//
// mockpass's own index.js listens on every interface; the tests must only
// ever listen on the loopback interface, so this runs the same Express app
// (the package's main export, configured by the same environment variables:
// MOCKPASS_NRIC, SHOW_LOGIN_PAGE, ...) bound to 127.0.0.1. MOCKPASS_PORT=0
// (the default here) picks a free port; the chosen one is printed as
// "MOCKPASS_READY <port>" once the server accepts connections.
'use strict'

const { app } = require('@opengovsg/mockpass')

const port = Number(process.env.MOCKPASS_PORT || 0)
const server = app.listen(port, '127.0.0.1', () => {
  console.log(`MOCKPASS_READY ${server.address().port}`)
})
server.on('error', (err) => {
  console.error(`mockpass: cannot listen: ${err.message}`)
  process.exit(1)
})
