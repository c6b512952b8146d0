"""Modelhub client: local-first, verified, resumable downloads from S3-compatible, HTTP or file:// hubs.

>>> from flagai_lite.hub import download
>>> model_dir = download("bert-base-en", "./checkpoints")  # doctest: +SKIP

Importing this package is cheap: ``requests`` and ``tqdm`` load only when the network is used.
See docs/hub.md for the hub layout, the environment variables and the ``flagai-lite hub`` CLI.
"""
from flagai_lite.hub.api import download, list_models, verify
from flagai_lite.hub.layout import FileEntry, Manifest, validate_model_name
from flagai_lite.hub.publish import upload

__all__ = ["download", "upload", "verify", "list_models", "Manifest", "FileEntry", "validate_model_name"]
