#!/usr/bin/python3
"""HTTP fault-injecting proxy in front of an S3 server (tests only; stdlib only).

  fault_proxy.py LISTEN_PORT UPSTREAM_PORT [--fail-every N] [--drop-every M] [--log FILE]

Forwards every request unchanged (Host and the SigV4 headers included, so signatures stay valid)
to 127.0.0.1:UPSTREAM_PORT. Every Nth request is answered 503 SlowDown without being forwarded;
every Mth GET with a body is cut off halfway through the body (connection closed), like a reset.
With --log, one line per injected fault is appended to FILE. SIGTERM stops it.
"""
import argparse, http.client, http.server, sys, threading

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("upstream", type=int)
ap.add_argument("--fail-every", type=int, default=0)
ap.add_argument("--drop-every", type=int, default=0)
ap.add_argument("--log")
args = ap.parse_args()
lock = threading.Lock()
count = {"req": 0, "get": 0}


def note(msg):
    if args.log:
        with lock, open(args.log, "a") as f:
            f.write(msg + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        with lock:
            count["req"] += 1
            nreq = count["req"]
            if self.command == "GET":
                count["get"] += 1
            nget = count["get"]
        if args.fail_every and nreq % args.fail_every == 0:
            note(f"503 {self.command} {self.path}")
            msg = b"<?xml version='1.0'?><Error><Code>SlowDown</Code><Message>injected</Message></Error>"
            self.send_response(503)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(msg)
            return
        up = http.client.HTTPConnection("127.0.0.1", args.upstream, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
        up.request(self.command, self.path, body=body if (n or self.command in ("PUT", "POST")) else None,
                   headers=headers)
        r = up.getresponse()
        data = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(k, v)
        # HEAD: the upstream length describes the object, not this (empty) body.
        self.send_header("Content-Length", r.getheader("Content-Length", "0")
                         if self.command == "HEAD" else str(len(data)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if (args.drop_every and self.command == "GET" and len(data) > 1
                and nget % args.drop_every == 0):
            note(f"drop {self.path} {self.headers.get('Range')}")
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(data)
        up.close()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = handle_any


srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
srv.daemon_threads = True
print("fault proxy on", args.port, flush=True)
srv.serve_forever()
