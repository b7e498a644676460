"""A stand-in for the NAT gateway: the VPC's only way out, from an address of its own.

A forward proxy bound to its own loopback address (127.0.0.2), whose connections onward leave
from that address too: WeCom (the fake, on 127.0.0.3) sees every call of the functions in the
VPC as coming from it, the address the app's Trusted IP list holds, as it would see the NAT's
Elastic IP. Functions outside the VPC have no proxy and reach WeCom from 127.0.0.1.
"""

import http.client
import urllib.parse

from .quiet import answer, serve

NAT_IP = "127.0.0.2"


class Nat:
    def __init__(self):
        self.calls = 0
        self.server = serve(NAT_IP, self._forward)
        self.url = f"http://{NAT_IP}:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def _forward(self, h):
        url = urllib.parse.urlsplit(h.path)
        if url.scheme != "http" or not url.hostname:
            return answer(h, 501, [], b"NAT stand-in: plain http:// forwarding only")
        self.calls += 1
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else None
        headers = {k: v for k, v in h.headers.items() if not k.lower().startswith("proxy-") and k.lower() != "connection"}
        target = url.path + (f"?{url.query}" if url.query else "")
        conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=60, source_address=(NAT_IP, 0))
        try:
            conn.request(h.command, target or "/", body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as e:
            return answer(h, 502, [], f"NAT stand-in: {e}".encode())
        finally:
            conn.close()
        answer(h, resp.status, resp.getheaders(), data)

