"""moto in server mode, with each request applied on its own.

Real DynamoDB applies every request, TransactWriteItems included, atomically. moto's threaded
server can interleave two requests' condition checks and writes, which would let two
conditional writes both succeed. Serialising request handling restores the atomicity that the
store's optimistic concurrency relies on; connections are still served by threads.

Usage: python tests/moto_server.py -H 127.0.0.1 -p PORT   (same arguments as moto_server)
"""

import sys
import threading

from moto.moto_server import werkzeug_app

_lock = threading.Lock()
_dispatch = werkzeug_app.DomainDispatcherApplication.__call__


def _one_at_a_time(self, environ, start_response):
    with _lock:
        return _dispatch(self, environ, start_response)


werkzeug_app.DomainDispatcherApplication.__call__ = _one_at_a_time

from moto.server import main  # noqa: E402  (after the patch, on purpose)

if __name__ == "__main__":
    main(sys.argv[1:])
