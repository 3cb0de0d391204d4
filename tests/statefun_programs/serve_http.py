"""Serve a request-reply handler with the standard library's HTTP server (``python PROGRAM.py
PORT``): the same few lines under the real SDK and under nbstream. Prints ``serving`` once up."""

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve(handler, port=None):
    class Endpoint(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: a caller reuses its connection
        wbufsize = -1  # headers and body in one write: no Nagle/delayed-ACK stall on a kept-alive one

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            try:
                reply, status = handler.handle_sync(body), 200
            except Exception as exc:
                reply, status = str(exc).encode(), 500
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer.request_queue_size = 256  # callers send one request per address at once
    server = ThreadingHTTPServer(("127.0.0.1", int(port or sys.argv[1])), Endpoint)
    print("serving", flush=True)
    server.serve_forever()
