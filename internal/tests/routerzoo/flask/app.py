"""The router zoo's Flask app: the zoo's route table on Werkzeug's own server.

    python3 app.py <port> <hits-file>

Port 0 lets the system pick one; the port bound is printed as
"ZOO_READY <port> Flask <version> Werkzeug <version>". Without Flask the app
ends at once with status 3. Every route that runs appends one JSON line to the hits
file (the X-Zoo-Id request header, the route's name, the method and the path
Flask saw) and flushes it before it answers, so that the test reads it
beside Caddy, never through it. The app ends when its standard input closes,
that is when the test process that started it ends.
"""

import importlib.metadata
import json
import logging
import os
import sys
import threading

try:
    from flask import Flask, request
    from werkzeug.serving import make_server
except ImportError as e:
    print("no Flask for %s: %s" % (sys.executable, e), file=sys.stderr)
    sys.exit(3)

METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]

app = Flask(__name__)
hits_lock = threading.Lock()
hits = open(sys.argv[2], "a", encoding="utf-8")


def ran(name):
    entry = {
        "id": request.headers.get("X-Zoo-Id", ""),
        "route": name,
        "method": request.method,
        "path": request.path,
    }
    with hits_lock:
        hits.write(json.dumps(entry) + "\n")
        hits.flush()
    return "route=" + name + "\n", 200, {"Content-Type": "text/plain"}


@app.route("/", methods=METHODS)
def root():
    return ran("root")


@app.route("/public/<path:rest>", methods=METHODS)
def public(rest):
    return ran("public")


@app.route("/api/<path:rest>", methods=METHODS)
def api(rest):
    return ran("api")


@app.route("/secret", methods=METHODS)
def secret():
    return ran("secret")


@app.route("/key/<path:rest>", methods=METHODS)
def key(rest):
    return ran("key")


def exit_when_stdin_closes():
    sys.stdin.buffer.read()
    os._exit(0)


if __name__ == "__main__":
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", int(sys.argv[1]), app, threaded=True)
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    versions = " ".join(
        "%s %s" % (name, importlib.metadata.version(name.lower()))
        for name in ("Flask", "Werkzeug")
    )
    print("ZOO_READY %d %s" % (server.server_port, versions), flush=True)
    server.serve_forever()
