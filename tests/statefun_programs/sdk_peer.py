"""Runs in the real SDK's virtualenv: serves the handler of a module (argv[1]) over stdin and
stdout. A request is a 4-byte big-endian length and ToFunction bytes; a reply is a status byte
(0 ok, 1 the handler raised), a 4-byte length and the FromFunction bytes (or the error text)."""

import struct
import sys

import google.protobuf
import runpy
import statefun

module = runpy.run_path(sys.argv[1])
handler = module["handler"]
out = sys.stdout.buffer
hello = f"{statefun.__file__}|{google.protobuf.__version__}".encode()
out.write(struct.pack(">BI", 0, len(hello)) + hello)
out.flush()
while True:
    head = sys.stdin.buffer.read(4)
    if len(head) < 4:
        break
    (size,) = struct.unpack(">I", head)
    data = sys.stdin.buffer.read(size)
    try:
        status, reply = 0, handler.handle_sync(data)
    except Exception as exc:
        status, reply = 1, f"{type(exc).__name__}: {exc}".encode()
    out.write(struct.pack(">BI", status, len(reply)) + reply)
    out.flush()
