"""Hub download throughput: flagai_lite.hub.download against curl, on one file over loopback.

    .venv/bin/python benchmarks/bench_hub.py [--size-mb 1024] [--repeat 3] [--workers 8]

Starts a static file server (a subprocess: threaded http.server answering Range requests with
os.sendfile) on 127.0.0.1 at a free port, publishes one random file with its manifest, then
times ``curl -o FILE URL`` (one stream) and our client (parallel ranged pieces, sha256-verified,
fsync'ed, atomically renamed) on the same URL. Prints a table with throughput and the ratio ours/curl.
Not part of the test suite.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MODEL = "bench-model"
FILE = "weights.bin"


class RangeHandler(BaseHTTPRequestHandler):
    """GET of files under the served root, with single-range support, body sent with os.sendfile."""

    protocol_version = "HTTP/1.1"
    root = Path(".")

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        path = (self.root / self.path.split("?")[0].lstrip("/")).resolve()
        if not path.is_file() or self.root.resolve() not in path.parents:
            self.send_error(404)
            return
        size = path.stat().st_size
        start, end = 0, size
        match = re.match(r"bytes=(\d+)-(\d*)$", self.headers.get("Range", ""))
        if match:
            start = int(match.group(1))
            end = min(size, int(match.group(2)) + 1) if match.group(2) else size
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(end - start))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        with open(path, "rb") as f:
            offset = start
            while offset < end:
                sent = os.sendfile(self.wfile.fileno(), f.fileno(), offset, min(end - offset, 64 << 20))
                if sent == 0:
                    break
                offset += sent


def serve(root: str, port_file: str) -> None:
    """Server mode (in the subprocess): serve ``root``, write the port to ``port_file``."""
    RangeHandler.root = Path(root)
    server = ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    server.daemon_threads = True
    Path(port_file).write_text(str(server.server_address[1]))
    server.serve_forever()


def make_hub(hub: Path, size: int) -> str:
    """A hub tree with one model holding one random file of ``size`` bytes; returns its sha256."""
    model_dir = hub / MODEL
    model_dir.mkdir(parents=True)
    digest = hashlib.sha256()
    block = 16 << 20
    with open(model_dir / FILE, "wb") as f:
        written = 0
        while written < size:
            data = os.urandom(min(block, size - written))
            f.write(data)
            digest.update(data)
            written += len(data)
    manifest = {"version": 1, "model": MODEL, "files": [{"path": FILE, "size": size, "sha256": digest.hexdigest()}]}
    (model_dir / "manifest.json").write_text(json.dumps(manifest))
    (hub / "index.json").write_text(json.dumps({"version": 1, "models": [MODEL]}))
    return digest.hexdigest()


def time_curl(url: str, out: Path, fsync: bool = False) -> float:
    start = time.perf_counter()
    subprocess.run(["curl", "-sSf", "--noproxy", "127.0.0.1", "-o", str(out), url], check=True)
    if fsync:  # what a download that survives a power cut must also pay
        fd = os.open(out, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    elapsed = time.perf_counter() - start
    out.unlink()
    return elapsed


def time_ours(endpoint: str, target: Path, workers: int, chunk_mb: int | None = None, fsync: bool = True) -> float:
    from flagai_lite.hub import download

    start = time.perf_counter()
    download(MODEL, target, endpoint=endpoint, progress=False, max_workers=workers,
             chunk_size=chunk_mb << 20 if chunk_mb else None, fsync=fsync)
    elapsed = time.perf_counter() - start
    shutil.rmtree(target)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--chunk-mb", type=int, help="bytes per ranged piece, in MiB (default: the client's)")
    parser.add_argument("--dir", help="where the hub and the downloads live (default: the system temp dir)")
    parser.add_argument("--serve", nargs=2, metavar=("ROOT", "PORT_FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(*args.serve)
        return

    size = args.size_mb << 20
    work = Path(tempfile.mkdtemp(prefix="bench_hub_", dir=args.dir))
    server = None
    try:
        print(f"writing a {args.size_mb} MiB random file ...", flush=True)
        make_hub(work / "hub", size)
        port_file = work / "port"
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(work / "hub"), str(port_file)])
        while not port_file.exists() or not port_file.read_text():
            time.sleep(0.05)
        endpoint = f"http://127.0.0.1:{port_file.read_text()}"
        with socket.create_connection(("127.0.0.1", int(port_file.read_text())), timeout=5):
            pass
        url = f"{endpoint}/{MODEL}/{FILE}"
        os.environ.setdefault("NO_PROXY", "127.0.0.1")

        pieces = f"flagai_lite.hub ({args.workers} pieces)"
        clients = {
            "curl (1 stream)": lambda: time_curl(url, work / "curl.out"),
            "curl + fsync": lambda: time_curl(url, work / "curl.out", fsync=True),
            "flagai_lite.hub (1 stream)": lambda: time_ours(endpoint, work / "one", 1),
            "flagai_lite.hub (1 stream, FSYNC=0)": lambda: time_ours(endpoint, work / "nosync", 1, fsync=False),
            pieces: lambda: time_ours(endpoint, work / "par", args.workers, args.chunk_mb),
        }
        runs: dict[str, list[float]] = {name: [] for name in clients}
        for _ in range(args.repeat):  # interleaved so that all clients see the same machine state
            for name, run in clients.items():
                runs[name].append(run())

        print(f"\n{args.size_mb} MiB over loopback, {args.repeat} runs, {os.cpu_count()} CPU cores, "
              f"load average {os.getloadavg()[0]:.1f}; throughput from the median (best) time")
        print(f"{'client':<30}{'median s':>10}{'MiB/s':>8}{'best s':>9}{'MiB/s':>8}{'ours/curl':>16}")
        curl_med, curl_best = statistics.median(runs["curl (1 stream)"]), min(runs["curl (1 stream)"])
        for name, times in runs.items():
            med, best = statistics.median(times), min(times)
            print(f"{name:<30}{med:>10.2f}{args.size_mb / med:>8.0f}{best:>9.2f}{args.size_mb / best:>8.0f}"
                  f"{curl_med / med:>9.2f}x ({curl_best / best:.2f}x)")
        print("ours = download + sha256 verification + fsync + atomic rename; curl only writes the file; "
              "FSYNC=0 skips the fsync (FLAGAI_HUB_FSYNC=0).")
        from common import save_results

        save_results("hub", {"ratios": {f"{name} / curl": curl_med / statistics.median(times)
                                        for name, times in runs.items() if not name.startswith("curl")}})
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
