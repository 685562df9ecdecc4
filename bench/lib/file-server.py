#!/usr/bin/env python3
"""The capture benchmark's origin server, run as a process of its own:
    python3 bench/lib/file-server.py <file> <sourceBytes> <magicHex>
Listens on 127.0.0.1:0 and prints {"port": N} on stdout once listening; exits when its
standard input closes (the benchmark went away) or on SIGTERM.
  GET /big      <file>, sent with sendfile(2): the kernel moves page-cache pages to the
                socket, so the origin costs next to no CPU on the machine the capture is
                measured on (a real origin is another machine; a Node origin here spent
                ~1 CPU-second per GiB, competing with the capture for the 2 cores)
  GET /src/<i>  <sourceBytes> bytes unique to i: <magic>, i as 8 bytes big-endian, then
                random bytes (the same for every i)
Every body starts with <magic>, which no sniffer recognises (stored as a document).
"""
import json
import os
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    path, source_bytes, magic = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])
    size = os.path.getsize(path)
    random = os.urandom(max(16, source_bytes))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'

        def log_message(self, *args) -> None:  # quiet
            pass

        def head(self, length: int) -> None:
            self.send_response(200)
            self.send_header('content-type', 'application/octet-stream')
            self.send_header('content-length', str(length))
            self.end_headers()
            self.wfile.flush()

        def do_GET(self) -> None:
            route = self.path.split('?')[0]
            if route == '/big':
                self.head(size)
                fd = os.open(path, os.O_RDONLY)
                try:
                    sent = 0
                    while sent < size:
                        n = os.sendfile(self.connection.fileno(), fd, sent, size - sent)
                        if n == 0:
                            break
                        sent += n
                finally:
                    os.close(fd)
            elif route.startswith('/src/') and route[5:].isdigit():
                body = bytearray(random[:source_bytes])
                body[: len(magic)] = magic[:source_bytes]
                if source_bytes >= 16:
                    body[8:16] = struct.pack('>Q', int(route[5:]))
                self.head(len(body))
                self.wfile.write(body)
            else:
                self.send_error(404)

    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    server.daemon_threads = True
    print(json.dumps({'port': server.server_address[1]}), flush=True)
    # The parent going away (killed, crashed) must not leave this server behind.
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    server.serve_forever()


if __name__ == '__main__':
    main()
