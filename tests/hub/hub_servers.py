"""Servers for the hub tests, all on 127.0.0.1 at free ports: a static file server and a fault proxy.

The proxy forwards GETs to an upstream server and counts what it serves; rules make it misbehave:

    proxy.add("model.safetensors", "cut", after=100_000)      # close the connection mid-body
    proxy.add("manifest.json", "status", code=500, times=2)   # answer 500 twice
    proxy.add("model.safetensors", "stall", after=0, seconds=3)  # stop sending for 3 s
    proxy.add("model.safetensors", "flip", offset=10)          # corrupt one byte
    proxy.add("", "ignore_range", times=None)                  # drop Range headers (answers 200)
    proxy.add("model.safetensors", "throttle", rate=1e6, times=None)  # bytes per second
"""
from __future__ import annotations

import functools
import http.client
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


def _serve(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return thread


class StaticServer:
    """``python -m http.server`` in a thread: serves a directory, ignores Range (always 200)."""

    def __init__(self, root: str) -> None:
        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        _serve(self.server)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Rule:
    match: str
    action: str
    times: int | None = 1  # None: every matching request
    params: dict = field(default_factory=dict)


@dataclass
class Served:
    path: str
    range: str | None
    status: int
    sent: int


class FaultProxy:
    """A threaded HTTP proxy in front of ``upstream`` that counts bytes and can misbehave."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.rules: list[Rule] = []
        self.log: list[Served] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                proxy._handle(self)

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        _serve(self.server)

    def add(self, match: str, action: str, times: int | None = 1, **params) -> None:
        with self.lock:
            self.rules.append(Rule(match, action, times, params))

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()
            self.log.clear()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def served(self, match: str = "") -> list[Served]:
        with self.lock:
            return [s for s in self.log if match in s.path]

    def bytes_for(self, match: str) -> int:
        return sum(s.sent for s in self.served(match))

    def _take(self, path: str) -> list[Rule]:
        taken = []
        with self.lock:
            for rule in self.rules:
                if rule.match in path and (rule.times is None or rule.times > 0):
                    if rule.times is not None:
                        rule.times -= 1
                    taken.append(rule)
        return taken

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        rules = {r.action: r.params for r in self._take(handler.path)}
        record = Served(handler.path, handler.headers.get("Range"), 0, 0)
        with self.lock:
            self.log.append(record)
        if "status" in rules:
            record.status = rules["status"]["code"]
            handler.send_response(record.status)
            if "retry_after" in rules["status"]:
                handler.send_header("Retry-After", str(rules["status"]["retry_after"]))
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_BY_HOP}
        if "ignore_range" in rules:
            headers.pop("Range", None)
            record.range = None
        conn = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            conn.request("GET", handler.path, headers=headers)
            response = conn.getresponse()
            record.status = response.status
            handler.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in _HOP_BY_HOP and key.lower() not in ("server", "date"):
                    handler.send_header(key, value)
            handler.send_header("Connection", "close")
            handler.end_headers()
            self._stream(handler, response, rules, record)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            conn.close()
            handler.close_connection = True

    def _stream(self, handler, response, rules: dict, record: Served) -> None:
        cut = rules.get("cut", {}).get("after")
        stall = rules.get("stall")
        flip = rules.get("flip", {}).get("offset")
        rate = rules.get("throttle", {}).get("rate")
        started = time.monotonic()
        while True:
            block = response.read(16 << 10)
            if not block:
                return
            if flip is not None and record.sent <= flip < record.sent + len(block):
                block = bytearray(block)
                block[flip - record.sent] ^= 0xFF
                block = bytes(block)
            if stall is not None and record.sent + len(block) > stall.get("after", 0):
                time.sleep(stall["seconds"])
                return
            if cut is not None and record.sent + len(block) > cut:
                block = block[: cut - record.sent]
                handler.wfile.write(block)
                handler.wfile.flush()
                record.sent += len(block)
                return
            handler.wfile.write(block)
            record.sent += len(block)
            if rate:
                ahead = record.sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
