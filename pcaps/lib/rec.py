#!/usr/bin/env python3
"""Helpers for pcaps/record.sh: deterministic data, a small HTTP(S) server,
a "video call" UDP peer and the schedule of the low-and-slow scenario.

Everything here runs inside the recording namespaces; nothing talks to a
real network.  All sizes and contents come from seeded generators, so the
volumes in the captures are the same on every recording.

  rec.py blob SEED SIZE                  deterministic bytes to stdout
  rec.py serve [--http P] [--https P] [--cert C --key K] [--bind A] [--log F]
  rec.py call --local IP:PORT --remote IP:PORT --bytes N --pps R --seed S [--answer]
  rec.py plan SEED COUNT MEAN JITTER MIN MAX   "sleep size" lines
"""
import argparse
import http.server
import os
import random
import socket
import socketserver
import ssl
import sys
import threading
import time
import zlib

CHUNK = 65536


def blob_chunks(seed, size):
    """Yields SIZE deterministic bytes (a function of SEED and SIZE only)."""
    rng = random.Random(seed)
    left = size
    while left > 0:
        n = min(CHUNK, left)
        yield rng.randbytes(n)
        left -= n


def cmd_blob(args):
    out = sys.stdout.buffer
    for chunk in blob_chunks(args.seed, args.size):
        out.write(chunk)
    out.flush()


LOREM = (b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do "
         b"eiusmod tempor incididunt ut labore et dolore magna aliqua. ")


def page_body(path):
    """A deterministic HTML page of 2..40 KB chosen by the path."""
    h = zlib.crc32(path.encode())
    size = 2000 + h % 38000
    head = b"<!doctype html><html><head><title>" + path.encode()[:80] + \
        b"</title></head><body><p>"
    body = (LOREM * (size // len(LOREM) + 1))[:max(0, size - len(head) - 18)]
    return head + body + b"</p></body></html>"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    log_file = None

    def log_message(self, fmt, *a):  # noqa: N802 (stdlib name)
        if self.log_file:
            self.log_file.write("%s %s\n" % (self.client_address[0], fmt % a))
            self.log_file.flush()

    def _send(self, code, ctype, length):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def do_GET(self):  # noqa: N802
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) >= 3 and parts[0] == "blob":
            try:
                seed, size = int(parts[1]), int(parts[2])
            except ValueError:
                self._send(400, "text/plain", 0)
                return
            self._send(200, "application/octet-stream", size)
            for chunk in blob_chunks(seed, size):
                self.wfile.write(chunk)
            return
        body = page_body(self.path)
        self._send(200, "text/html; charset=utf-8", len(body))
        self.wfile.write(body)

    def _consume(self):
        left = int(self.headers.get("Content-Length") or 0)
        total = 0
        while left > 0:
            data = self.rfile.read(min(CHUNK, left))
            if not data:
                break
            left -= len(data)
            total += len(data)
        return total

    def do_POST(self):  # noqa: N802
        total = self._consume()
        body = b'{"status":"ok","received":%d}' % total
        self._send(200, "application/json", len(body))
        self.wfile.write(body)

    do_PUT = do_POST


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def cmd_serve(args):
    Handler.log_file = open(args.log, "a") if args.log else None
    servers = []
    if args.http:
        servers.append(Server((args.bind, args.http), Handler))
    if args.https:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        srv = Server((args.bind, args.https), Handler)
        # Handshake in the handler thread, not in accept().
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
                                     do_handshake_on_connect=False)
        servers.append(srv)
    if not servers:
        sys.exit("rec.py serve: no port")
    threads = [threading.Thread(target=s.serve_forever, daemon=True)
               for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def parse_ep(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


def cmd_call(args):
    """Sends RTP-like packets (RFC 3550 header, PT 111) at a steady rate
    while reading what the peer sends; both peers run this."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(parse_ep(args.local))
    sock.setblocking(False)
    remote = parse_ep(args.remote)
    rng = random.Random(args.seed)
    ssrc = rng.getrandbits(32)
    sent = seq = 0
    ts = rng.getrandbits(32)
    interval = 1.0 / args.pps
    if args.answer:
        # The callee speaks only once the caller's media arrives, so neither
        # side ever sends to a port that is not open yet.
        sock.setblocking(True)
        sock.settimeout(30)
        sock.recv(4096)
        sock.setblocking(False)
    t_next = time.monotonic()
    while sent < args.bytes:
        size = min(args.bytes - sent, rng.randint(args.size - 200, args.size))
        hdr = bytes([0x80, 111]) + (seq & 0xffff).to_bytes(2, "big") + \
            (ts & 0xffffffff).to_bytes(4, "big") + ssrc.to_bytes(4, "big")
        payload = hdr + rng.randbytes(max(0, size - len(hdr)))
        try:
            sock.sendto(payload, remote)
        except OSError:
            pass
        sent += len(payload)
        seq += 1
        ts += 960
        t_next += interval
        while True:
            try:
                sock.recv(4096)
            except OSError:
                break
        delay = t_next - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    time.sleep(1.0)
    print("sent %d bytes in %d packets" % (sent, seq))


def cmd_plan(args):
    rng = random.Random(args.seed)
    for _ in range(args.count):
        sleep = args.mean + rng.uniform(-args.jitter, args.jitter)
        print("%.3f %d" % (sleep, rng.randint(args.min, args.max)))


def main():
    ap = argparse.ArgumentParser(prog="rec.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("blob")
    p.add_argument("seed", type=int)
    p.add_argument("size", type=int)
    p = sub.add_parser("serve")
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--http", type=int)
    p.add_argument("--https", type=int)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--log")
    p = sub.add_parser("call")
    p.add_argument("--local", required=True)
    p.add_argument("--remote", required=True)
    p.add_argument("--bytes", type=int, required=True)
    p.add_argument("--pps", type=float, default=100)
    p.add_argument("--size", type=int, default=1100)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--answer", action="store_true",
                   help="wait for the peer's first packet before sending")
    p = sub.add_parser("plan")
    for name, typ in (("seed", int), ("count", int), ("mean", float),
                      ("jitter", float), ("min", int), ("max", int)):
        p.add_argument(name, type=typ)
    args = ap.parse_args()
    {"blob": cmd_blob, "serve": cmd_serve, "call": cmd_call,
     "plan": cmd_plan}[args.cmd](args)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
