"""Names, paths and manifests: anything pointing outside the model directory is refused."""
from __future__ import annotations

import json

import pytest
from hub_helpers import FAST

from flagai_lite.errors import HubError, UnsafePathError
from flagai_lite.hub import Manifest, download, validate_model_name
from flagai_lite.hub.api import fetch_manifest


@pytest.mark.parametrize("name", ["bert-base-en", "BAAI/glm-large", "a.b_c-1", "x" * 128])
def test_good_model_names(name):
    assert validate_model_name(name) == name


@pytest.mark.parametrize("name", ["", "../x", "a/b/c", "-x", ".hidden", "a b", "/abs", "a/../b", "org/",
                                  "a\\b", "x" * 129, "a/.", None])
def test_bad_model_names_are_rejected_before_any_io(name, tmp_path):
    with pytest.raises(UnsafePathError, match="invalid model name"):
        download(name, tmp_path, endpoint="http://127.0.0.1:9/never", **FAST)
    assert list(tmp_path.iterdir()) == []


def _hub_with_manifest(root, files):
    model = root / "evil"
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")
    manifest = {"version": 1, "files": [{"path": p, "size": 2, "sha256": "0" * 64} for p in files]}
    (model / "manifest.json").write_text(json.dumps(manifest))
    return root.as_uri()


@pytest.mark.parametrize("path", ["../escape.txt", "/etc/passwd", "a/../../escape.txt", ".cache/files/x.partial",
                                  "manifest.json", "C:/windows", "a//b", "a\\..\\b", "./config.json"])
def test_unsafe_manifest_entries_are_rejected(path, tmp_path):
    endpoint = _hub_with_manifest(tmp_path / "hub", ["config.json", path])
    with pytest.raises(UnsafePathError, match="unsafe file entry"):
        download("evil", tmp_path / "dl", endpoint=endpoint, **FAST)
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "dl" / "escape.txt").exists()
    assert not (tmp_path / "dl" / "evil" / "config.json").exists()


def test_unsafe_listing_entries_are_rejected():
    class Listing:
        endpoint = "http://example.invalid"

        def read(self, key):
            return None

        def list(self, prefix):
            return [(prefix + "config.json", 2), (prefix + "../../escape", 3)]

        def url(self, key):
            return key

    with pytest.raises(UnsafePathError, match="'../../escape' in the listing"):
        fetch_manifest(Listing(), "m")


def test_symlink_inside_model_dir_cannot_lead_outside(tmp_path):
    hub = tmp_path / "hub" / "linked"
    (hub / "sub").mkdir(parents=True)
    (hub / "sub" / "x.txt").write_text("hi")
    from flagai_lite.hub.layout import compute_manifest

    (hub / "manifest.json").write_text(compute_manifest(hub, "linked").to_json())
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "dl" / "linked").mkdir(parents=True)
    (tmp_path / "dl" / "linked" / "sub").symlink_to(outside)
    with pytest.raises(UnsafePathError, match="resolves outside"):
        download("linked", tmp_path / "dl", endpoint=(tmp_path / "hub").as_uri(), **FAST)
    assert list(outside.iterdir()) == []


def test_unsafe_files_argument(tmp_path):
    with pytest.raises(UnsafePathError):
        download("tiny", tmp_path, ["../x"], endpoint="http://127.0.0.1:9", **FAST)


def test_manifest_validation():
    good = {"path": "a", "size": 1, "sha256": "a" * 64}
    with pytest.raises(HubError, match="lists 'a' twice"):
        Manifest.from_json(json.dumps({"files": [good, good]}))
    with pytest.raises(UnsafePathError, match="both file and directory"):
        Manifest.from_json(json.dumps({"files": [good, {**good, "path": "a/b"}]}))
    with pytest.raises(HubError, match="invalid sha256"):
        Manifest.from_json(json.dumps({"files": [{**good, "sha256": "xyz"}]}))
    with pytest.raises(HubError, match="invalid size"):
        Manifest.from_json(json.dumps({"files": [{**good, "size": -1}]}))
    with pytest.raises(HubError, match="has no sha256"):
        Manifest.from_json(json.dumps({"files": [{"path": "a", "size": 1}]}))
    with pytest.raises(HubError, match="not a valid manifest"):
        Manifest.from_json("[1, 2]")
    manifest = Manifest.from_json(json.dumps({"files": [good]}))
    assert Manifest.from_json(manifest.to_json()) == manifest
