"""``flagai-lite hub``: ls, download, upload, verify."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    """Add the ``hub`` command group to the top-level ``flagai-lite`` parser."""
    hub = subparsers.add_parser("hub", help="modelhub: list, download, publish and verify models")
    commands = hub.add_subparsers(dest="hub_command", required=True, metavar="{ls,download,upload,verify}")

    ls = commands.add_parser("ls", help="list the models on the hub")
    _endpoint(ls)
    ls.set_defaults(func=_ls)

    dl = commands.add_parser("download", help="download a model into DIR/NAME (only what is missing)")
    dl.add_argument("name", help="model name, e.g. bert-base-en or org/name")
    dl.add_argument("--dir", required=True, help="download path; the model goes to DIR/NAME")
    dl.add_argument("--file", action="append", dest="files", help="only this file (repeatable)")
    dl.add_argument("--offline", action="store_true", default=None, help="never use the network")
    dl.add_argument("--workers", type=int, help="parallel ranged requests per large file")
    dl.add_argument("--no-progress", action="store_false", dest="progress", default=None)
    _endpoint(dl)
    dl.set_defaults(func=_download)

    up = commands.add_parser("upload", help="publish a model directory with its manifest")
    up.add_argument("dir", help="local model directory")
    up.add_argument("name", help="model name on the hub")
    up.add_argument("--public", action="store_true", help="S3: make objects public-read (anonymous downloads)")
    up.add_argument("--no-index", action="store_false", dest="index", help="do not add the model to index.json")
    up.add_argument("--no-progress", action="store_false", dest="progress", default=None)
    _endpoint(up)
    up.set_defaults(func=_upload)

    vf = commands.add_parser("verify", help="re-hash a local model directory against its manifest")
    vf.add_argument("dir", help="local model directory (DIR/NAME)")
    vf.set_defaults(func=_verify)


def _endpoint(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint", help="hub URL (default: $FLAGAI_HUB_ENDPOINT)")


def _ls(args: argparse.Namespace) -> int:
    from flagai_lite.hub import list_models

    for name in list_models(args.endpoint):
        print(name)
    return 0


def _download(args: argparse.Namespace) -> int:
    from flagai_lite.hub import download

    path = download(args.name, args.dir, args.files, endpoint=args.endpoint, offline=args.offline,
                    progress=args.progress, max_workers=args.workers)
    print(path)
    return 0


def _upload(args: argparse.Namespace) -> int:
    from flagai_lite.hub import upload

    manifest = upload(args.dir, args.name, args.endpoint, acl="public-read" if args.public else None,
                      update_index=args.index, progress=args.progress)
    print(f"published {args.name}: {len(manifest.files)} files, {manifest.total_size} bytes")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from flagai_lite.hub import verify

    manifest = verify(args.dir)
    print(f"ok: {len(manifest.files)} files match {args.dir}/manifest.json")
    return 0
