"""A download in its own process, for the multi-process hub tests.

    python hub_worker.py '{"name": ..., "path": ..., "kwargs": {...}, "dist": {"rank": 0, "world": 2, "init": URL}}'

Prints one JSON line: {"ok": true, "dir": ...} or {"ok": false, "error": CLASS, "message": ...}.
"""
import json
import os
import sys
import time


def main() -> None:
    job = json.loads(sys.argv[1])
    dist = job.get("dist")
    if dist:
        import torch.distributed as torch_dist

        os.environ["LOCAL_RANK"] = str(dist["rank"])
        torch_dist.init_process_group("gloo", init_method=dist["init"], rank=dist["rank"], world_size=dist["world"])
    from flagai_lite.hub import download

    start = time.monotonic()
    try:
        model_dir = download(job["name"], job["path"], **job.get("kwargs", {}))
        result = {"ok": True, "dir": str(model_dir)}
    except Exception as exc:  # reported to the test
        result = {"ok": False, "error": type(exc).__name__, "message": str(exc)}
    result["seconds"] = time.monotonic() - start
    print(json.dumps(result), flush=True)
    if dist:
        torch_dist.destroy_process_group()


if __name__ == "__main__":
    main()
