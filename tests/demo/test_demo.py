"""`make demo`'s code path end to end on a reduced training budget: train, publish, download over HTTP, predict."""
import dataclasses
import hashlib
import json
import re

import pytest
import requests

from flagai_lite import demo


def test_hub_server_answers_range_requests(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "file.bin").write_bytes(bytes(range(256)) * 4)
    with demo.HubServer(tmp_path) as server:
        url = f"{server.url}/m/file.bin"
        whole = requests.get(url, timeout=10)
        part = requests.get(url, headers={"Range": "bytes=10-19"}, timeout=10)
        tail = requests.get(url, headers={"Range": "bytes=-4"}, timeout=10)
        open_end = requests.get(url, headers={"Range": "bytes=1020-"}, timeout=10)
        beyond = requests.get(url, headers={"Range": "bytes=5000-"}, timeout=10)
        missing = requests.get(f"{server.url}/m/nope", timeout=10)
    assert whole.status_code == 200 and whole.content == bytes(range(256)) * 4
    assert part.status_code == 206 and part.content == bytes(range(10, 20))
    assert part.headers["Content-Range"] == "bytes 10-19/1024"
    assert tail.status_code == 206 and tail.content == bytes(range(252, 256))
    assert open_end.content == bytes(range(252, 256)) and open_end.headers["Content-Range"] == "bytes 1020-1023/1024"
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == "bytes */1024"
    assert missing.status_code == 404
    assert [(r.status, r.size) for r in server.requests] == [(200, 1024), (206, 10), (206, 4), (206, 4), (416, 0),
                                                             (404, 0)]


def test_demo_publishes_downloads_over_http_and_predicts(tmp_path, capsys):
    settings = demo.DemoSettings(build_dir=tmp_path / "demo", title_steps=20, ner_steps=20, progress=False)
    report = demo.run(settings)
    names = [m.hub_name for m in demo.MODELS]
    assert report["trained"] == names == ["demo-glm-title-generation", "demo-roberta-ner"]
    assert json.loads((settings.hub_dir / "index.json").read_text())["models"] == names

    served = [r for r in report["requests"] if r.status in (200, 206)]
    assert any(r.status == 206 for r in served), "large files should come in ranged pieces"
    for name in names:  # every published file came over HTTP and the local copy is the hub's, verified
        manifest = json.loads((settings.hub_dir / name / "manifest.json").read_text())
        local = settings.models_dir / name
        for entry in manifest["files"]:
            sent = sum(r.size for r in served if r.path == f"/{name}/{entry['path']}")
            assert sent == entry["size"], entry["path"]
            assert hashlib.sha256((local / entry["path"]).read_bytes()).hexdigest() == entry["sha256"]
        assert (local / ".cache").is_dir() and (local / "manifest.json").is_file()

    out = capsys.readouterr().out
    assert f"at {report['url']} (HTTP; Range requests answered with 206)" in out
    assert re.search(r'\[load\]     AutoLoader\("title-generation", "demo-glm", model_dir=".*", '
                     r'hub_options=\{"endpoint": "http://127.0.0.1:\d+"\}\)\n'
                     r"\s+-> .*demo-glm-title-generation: downloaded over HTTP: 7 files", out)
    assert out.count("\n    -> ") == 2 * settings.show
    assert re.search(r"Held-out scores: title ROUGE-L \d\.\d{3} \(exact match \d\.\d{3}, 40 articles\) \| "
                     r"NER entity F1 \d\.\d{3} \(60 sentences\)", out)
    scores = report["scores"]
    assert all(0 <= scores[k] <= 1 for k in ("title_rouge_l", "title_exact_match", "ner_f1"))

    again = demo.run(settings)  # the second run: nothing to train, nothing to download
    assert again["trained"] == [] and again["scores"] == scores
    assert [r.path for r in again["requests"]] == ["/index.json"]
    assert "already downloaded: loaded from disk, nothing fetched" in capsys.readouterr().out

    offline = demo.run(dataclasses.replace(settings, offline=True))  # no server at all
    assert offline["requests"] is None and offline["scores"] == scores


def test_offline_before_any_download_says_what_to_do(tmp_path):
    settings = demo.DemoSettings(build_dir=tmp_path / "demo", offline=True)
    with pytest.raises(SystemExit, match=r"offline and demo-glm-title-generation is not in .* run `make demo` once"):
        demo.run(settings)


@pytest.mark.slow
def test_full_demo_budget_reaches_the_quality_bar(tmp_path):
    """The real `make demo` budget (about 30 s of training on 2 cores): held-out title ROUGE-L and NER F1 >= 0.8."""
    report = demo.run(demo.DemoSettings(build_dir=tmp_path / "demo", progress=False))
    scores = report["scores"]
    assert scores["title_rouge_l"] >= 0.8, scores
    assert scores["ner_f1"] >= 0.8, scores
