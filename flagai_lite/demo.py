"""`make demo`: fine-tune two models, publish them to a modelhub, download them over HTTP, predict.

    python -m flagai_lite.demo            # what `make demo` runs (from a source checkout)
    FLAGAI_OFFLINE=1 python -m flagai_lite.demo     # no hub, no network: the models already downloaded

1. **Hub.** ``build/demo/hub`` is a modelhub directory (index.json, <model>/manifest.json, files)
   served over HTTP on 127.0.0.1 at a free port by a server in this process, which answers Range
   requests with 206 as S3 and nginx do.
2. **Train and publish**, when the demo models are not on that hub yet: the example finetune
   pipeline (``examples/title_generation`` with a tiny GLM, ``examples/ner`` with a tiny RoBERTa,
   their ``_tiny`` configs) trains each model; its ``save_dir/best`` is published with
   :func:`flagai_lite.hub.upload` (what ``flagai-lite hub upload`` runs).
3. **Download and load**: ``AutoLoader(task, "demo-glm", model_dir=build/demo/models,
   hub_options={"endpoint": <http url>})`` finds the fine-tuned ``demo-glm-title-generation`` on
   the hub and fetches it through the real client path: manifest, parallel ranged pieces, sha256,
   file locks, progress bars.
4. **Predict** held-out inputs (``examples/*/data/test.jsonl``, combinations never seen in
   training) and print ROUGE-L of the titles and entity F1 of the NER model.

A second run reuses everything (hub, downloads) and takes seconds; ``--fresh`` starts over.
"""
import argparse
import dataclasses
import functools
import importlib.util
import logging
import mimetypes
import os
import re
import shutil
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


# ------------------------------------------------------------------------------ the hub server
@dataclasses.dataclass
class Request:
    """One request the hub server answered."""

    path: str
    range: Optional[str]
    status: int
    size: int  # bytes of the response body


class _HubHandler(SimpleHTTPRequestHandler):
    """Static files with single-range ``Range: bytes=a-b`` support (206 / 416); records every request."""

    requests: List[Request]
    lock: threading.Lock

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        path = Path(self.translate_path(self.path))
        wanted = self.headers.get("Range")
        if not path.is_file():
            self._record(None, 404, 0)
            self.send_error(404, "not found")
            return
        size = path.stat().st_size
        span = _parse_range(wanted, size) if wanted else (0, size - 1)
        if span is None:
            self._record(wanted, 416, 0)
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start, end = span
        length = end - start + 1
        self._record(wanted, 206 if wanted else 200, length)  # before the body: the client may be done right after it
        self.send_response(206 if wanted else 200)
        self.send_header("Content-Type", mimetypes.guess_type(path.name)[0] or "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        if wanted:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        with open(path, "rb") as f:
            f.seek(start)
            while length > 0:
                block = f.read(min(1 << 16, length))
                if not block:
                    break
                self.wfile.write(block)
                length -= len(block)

    def _record(self, wanted: Optional[str], status: int, size: int) -> None:
        with self.lock:
            self.requests.append(Request(self.path, wanted, status, size))

    def log_message(self, *args: Any) -> None:  # quiet: the demo prints its own summary
        pass


def _parse_range(header: str, size: int) -> Optional[tuple]:
    """``(first, last)`` byte of a single ``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` range; None if unsatisfiable."""
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":  # the last n bytes
        return (max(0, size - int(last)), size - 1) if int(last) > 0 and size else None
    start, end = int(first), min(int(last) if last else size - 1, size - 1)
    return (start, end) if start <= end else None


class HubServer:
    """A hub directory served over HTTP on ``host`` (port 0: a free one) by a thread of this process.

    Use as a context manager; ``url`` is the endpoint and ``requests`` what it served.
    """

    def __init__(self, root: Path, *, host: str = "127.0.0.1", port: int = 0):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.requests: List[Request] = []
        handler = type("Handler", (_HubHandler,), {"requests": self.requests, "lock": threading.Lock()})
        self._server = ThreadingHTTPServer((host, port), functools.partial(handler, directory=str(self.root)))
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True, name="demo-hub")

    def __enter__(self) -> "HubServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()


# ------------------------------------------------------------------------------ settings and models
@dataclasses.dataclass
class DemoSettings:
    """Where the demo works and how long it trains (the tests shrink the budget)."""

    build_dir: Path = ROOT / "build" / "demo"
    port: int = 0  # 0: a free port
    offline: Optional[bool] = None  # None: $FLAGAI_OFFLINE
    title_steps: Optional[int] = None  # None: the tiny config's max_steps
    ner_steps: Optional[int] = None
    threads: int = 1  # torch threads: one is fastest for models this small
    chunk_size: int = 1 << 16  # files above 64 KiB download as parallel ranged pieces, as big checkpoints do
    show: int = 5  # held-out examples printed per model
    progress: Optional[bool] = None  # hub progress bars (None: when stderr is a terminal)

    @property
    def hub_dir(self) -> Path:
        return Path(self.build_dir) / "hub"

    @property
    def models_dir(self) -> Path:
        """The AutoLoader's model_dir: empty until the first download."""
        return Path(self.build_dir) / "models"


@dataclasses.dataclass(frozen=True)
class DemoModel:
    """A model the demo trains with an example script and serves from its hub."""

    base_name: str  # what the user passes to the AutoLoader
    task: str
    example: str  # examples/<example>/train.py
    config: str  # configs/<config> (its _tiny sibling is used)
    steps_field: str  # the DemoSettings field overriding max_steps

    @property
    def hub_name(self) -> str:
        """FlagAI's name for a fine-tuned model: ``<model_name>-<task>``, which the AutoLoader tries first."""
        return f"{self.base_name}-{self.task}"


TITLE = DemoModel("demo-glm", "title-generation", "title_generation", "glm_title_generation.yaml", "title_steps")
NER = DemoModel("demo-roberta", "ner", "ner", "roberta_ner.yaml", "ner_steps")
MODELS = (TITLE, NER)


@functools.lru_cache(maxsize=None)
def _example_module(relative: str):
    """examples/<relative> as a module (the examples live in the source checkout, not in the package)."""
    path = EXAMPLES / relative
    if not path.is_file():
        raise SystemExit(f"{path} not found: the demo runs from a flagai_lite source checkout (`make demo`)")
    name = "flagai_lite_demo_" + relative.replace("/", "_").removesuffix(".py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------ steps
def train_and_publish(model: DemoModel, settings: DemoSettings) -> Dict[str, Any]:
    """Train ``model`` with its example's tiny config, then publish ``save_dir/best`` to the hub as ``hub_name``."""
    from .hub import upload

    runs = Path(settings.build_dir) / "runs" / model.hub_name
    argv = ["--config", str(ROOT / "configs" / model.config), "--tiny", "--task", model.task,
            "--model_dir", str(Path(settings.build_dir) / "base"), "--save_dir", str(runs)]
    steps = getattr(settings, model.steps_field)
    if steps is not None:
        argv += ["--max_steps", str(steps)]
    config, _ = _example_module("finetune.py").load_config(argv, model.config)
    argv += ["--log_interval", str(max(1, config.max_steps // 5))]  # five loss lines per model
    started = time.perf_counter()
    result = _example_module(f"{model.example}/train.py").main(argv)
    trained = time.perf_counter() - started
    started = time.perf_counter()
    manifest = upload(runs / "best", model.hub_name, settings.hub_dir.as_uri(), progress=False)
    print(f"[publish]  upload({_show(runs / 'best')}, \"{model.hub_name}\"): {len(manifest.files)} files, "
          f"{manifest.total_size / 1e6:.1f} MB -> {_show(settings.hub_dir)}  ({time.perf_counter() - started:.1f} s; "
          f"trained in {trained:.1f} s)")
    return result


def load_through_hub(model: DemoModel, settings: DemoSettings, endpoint: Optional[str], server: Optional[HubServer]):
    """``AutoLoader(task, base_name, model_dir, hub_options)``: fetches from the hub what is not local yet."""
    from .auto_loader import AutoLoader

    hub_options = {"endpoint": endpoint, "offline": endpoint is None, "chunk_size": settings.chunk_size,
                   "progress": settings.progress}
    before = len(server.requests) if server else 0
    started = time.perf_counter()
    loader = AutoLoader(model.task, model.base_name, model_dir=settings.models_dir, hub_options=hub_options)
    loader.get_model(), loader.get_tokenizer()
    took = time.perf_counter() - started
    served = [r for r in server.requests[before:] if r.status in (200, 206)] if server else []
    files = [r for r in served if not r.path.endswith(("manifest.json", "index.json"))]
    if files:
        ranged = sum(r.status == 206 for r in files)
        how = (f"downloaded over HTTP: {len({r.path for r in files})} files, {sum(r.size for r in files) / 1e6:.1f} MB "
               f"in {len(files)} requests ({ranged} ranged), sha256-verified")
    else:
        how = "already downloaded: loaded from disk, nothing fetched"
    options = f', hub_options={{"endpoint": "{endpoint}"}}' if endpoint else ""
    call = f'AutoLoader("{model.task}", "{model.base_name}", model_dir="{_show(settings.models_dir)}"{options})'
    print(f"[load]     {call}\n"
          f"           -> {_show(loader.model_path)}: {how}  ({took:.1f} s)")
    return loader


def _show(path: Path) -> str:
    """``path`` relative to the current directory when it is below it (shorter lines)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _hub_has(endpoint: str, names: Sequence[str]) -> bool:
    from .hub import list_models

    on_hub = set(list_models(endpoint, retries=1))
    return all(name in on_hub for name in names)


def predict(loaders: Dict[str, Any], settings: DemoSettings) -> Dict[str, float]:
    """Print held-out predictions of both models; return their scores over the whole test files."""
    from .predictor import Predictor

    finetune = _example_module("finetune.py")
    titles = finetune.read_jsonl(EXAMPLES / "title_generation" / "data" / "test.jsonl")
    sentences = finetune.read_jsonl(EXAMPLES / "ner" / "data" / "test.jsonl")
    title_predictor = Predictor(loaders[TITLE.task].get_model(), loaders[TITLE.task].get_tokenizer())
    ner_predictor = Predictor(loaders[NER.task].get_model(), loaders[NER.task].get_tokenizer())

    generated = [title_predictor.predict_generate_greedy(r["source"], out_max_length=16) for r in titles]
    print("\nTitle generation, held-out articles (city + event never seen together in training):")
    for row, title in list(zip(titles, generated))[: settings.show]:
        print(f"  {row['source']}\n    -> {title}")
    entities = [ner_predictor.predict_ner(r["text"]) for r in sentences]
    print("\nNamed entities, held-out sentences (PER person, LOC place, ORG organisation):")
    for row, found in list(zip(sentences, entities))[: settings.show]:
        print(f"  {row['text']}\n    -> {finetune.format_entities(found)}")
    n = len(titles)
    return {"title_rouge_l": sum(finetune.rouge_l(g, r["target"]) for g, r in zip(generated, titles)) / n,
            "title_exact_match": sum(finetune.exact_match(g, r["target"]) for g, r in zip(generated, titles)) / n,
            "ner_f1": finetune.entity_f1(entities, [r["entities"] for r in sentences])["f1"],
            "n_titles": n, "n_sentences": len(sentences)}


def run(settings: DemoSettings) -> Dict[str, Any]:
    """The whole demo; returns the scores, what was trained and the server's request log (None offline)."""
    import torch

    from .hub.options import env_flag

    started = time.perf_counter()
    torch.set_num_threads(settings.threads)
    offline = settings.offline if settings.offline is not None else bool(env_flag("FLAGAI_OFFLINE"))
    print(f"flagai_lite demo: fine-tune -> publish to a modelhub -> download over HTTP -> predict  "
          f"({_show(settings.build_dir)})")
    if offline:
        print("[hub]      FLAGAI_OFFLINE=1: no hub server, no network; loading the models downloaded before")
        loaders = {m.task: _load_offline(m, settings) for m in MODELS}
        return {**_finish(loaders, settings, started), "trained": [], "requests": None}
    with HubServer(settings.hub_dir, port=settings.port) as server:
        print(f"[hub]      serving {_show(settings.hub_dir)} at {server.url} (HTTP; Range requests answered with 206)")
        trained = []
        if not _hub_has(server.url, [m.hub_name for m in MODELS]):
            for model in MODELS:
                print(f"[train]    {model.hub_name}: examples/{model.example}/train.py --config configs/{model.config} "
                      f"--tiny --task {model.task}")
                train_and_publish(model, settings)
                trained.append(model.hub_name)
        else:
            print(f"[hub]      {', '.join(m.hub_name for m in MODELS)} already published: no training")
        loaders = {m.task: load_through_hub(m, settings, server.url, server) for m in MODELS}
        report = _finish(loaders, settings, started)
        return {**report, "trained": trained, "requests": list(server.requests), "url": server.url}


def _load_offline(model: DemoModel, settings: DemoSettings):
    from .errors import FlagAILiteError

    try:
        return load_through_hub(model, settings, None, None)
    except FlagAILiteError as err:
        raise SystemExit(f"offline and {model.hub_name} is not in {settings.models_dir} yet: run `make demo` once "
                         f"without FLAGAI_OFFLINE ({err})") from None


def _finish(loaders: Dict[str, Any], settings: DemoSettings, started: float) -> Dict[str, Any]:
    predicted = time.perf_counter()
    scores = predict(loaders, settings)
    now = time.perf_counter()
    print(f"\nHeld-out scores: title ROUGE-L {scores['title_rouge_l']:.3f} "
          f"(exact match {scores['title_exact_match']:.3f}, {scores['n_titles']} articles) | "
          f"NER entity F1 {scores['ner_f1']:.3f} ({scores['n_sentences']} sentences) | "
          f"predict {now - predicted:.1f} s, total {now - started:.1f} s")
    return {"scores": scores, "seconds": now - started}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m flagai_lite.demo [--build_dir DIR] [--port N] [--fresh] [--offline]``."""
    parser = argparse.ArgumentParser(prog="python -m flagai_lite.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--build_dir", type=Path, default=DemoSettings.build_dir, help="where the demo works")
    parser.add_argument("--port", type=int, default=0, help="hub server port (default: a free one)")
    parser.add_argument("--fresh", action="store_true", help="delete build_dir first: train, publish, download again")
    parser.add_argument("--offline", action="store_true", default=None, help="as FLAGAI_OFFLINE=1")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="           %(message)s")
    logging.getLogger("flagai_lite.trainer.progress").setLevel(logging.INFO)  # loss lines while training
    for name in ("NO_PROXY", "no_proxy"):  # the hub is on this machine: never through a proxy
        os.environ[name] = ",".join(filter(None, [os.environ.get(name), "127.0.0.1", "localhost"]))
    if args.fresh and args.build_dir.exists():
        shutil.rmtree(args.build_dir)
    run(DemoSettings(build_dir=args.build_dir, port=args.port, offline=args.offline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
