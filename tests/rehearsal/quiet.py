"""The rehearsal's HTTP servers: threaded, silent, and a peer that hangs up (a sandbox stopped
mid-poll) is not an error."""

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


class QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass


def serve(host, on_request):
    """A server on `host` (any free port) whose every request, whatever its method, goes to
    `on_request(handler)`; returns the server, already serving on a thread of its own."""

    class Handler(QuietHandler):
        def _any(self):
            on_request(self)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _any

    server = QuietServer((host, 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


HOP_BY_HOP = ("transfer-encoding", "connection", "content-length")


def answer(h, status, headers, data):
    """Sends a whole answer: status, the headers but hop-by-hop ones, the body."""
    h.send_response(status)
    for k, v in headers:
        if k.lower() not in HOP_BY_HOP:
            h.send_header(k, v)
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(data)
