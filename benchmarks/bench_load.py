"""Load time and peak memory: flagai_lite against transformers on a GPT-2-medium-shaped checkpoint.

    .venv/bin/python benchmarks/bench_load.py [--repeats 5] [--threads N] [--dir build/bench-load]

The checkpoint (24 layers, hidden 1024, vocab 50257: ~1.4 GB fp32) is written once in Hugging Face
format, as model.safetensors and as sharded pytorch_model.bin with its index. Every measurement is a
fresh process (ours and theirs alternating): wall time from spawning it to a model ready for forward
(imports included), and its peak RSS after one forward pass (which reads every weight, so lazily
mapped weights are counted too). The floor is a bare ``import torch`` process plus the weight bytes.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from common import print_table, save_results

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent(
    """
    import sys, time, json
    def peak():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    which, path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    import torch
    torch.set_num_threads(threads)
    if which == "floor":
        pass
    elif which == "ours":
        from flagai_lite.model.gpt2 import GPT2Model
        model = GPT2Model.from_pretrain(path)
    else:
        import transformers
        model = transformers.GPT2LMHeadModel.from_pretrained(path).eval()
    ready = time.time()
    if which != "floor":  # one forward reads every weight, so every mapped page is counted
        with torch.inference_mode():
            model(input_ids=torch.tensor([[1, 2, 3, 4]]))
    print(json.dumps({"ready": ready, "peak": peak()}))
    """
)


def write_checkpoints(directory: Path) -> dict:
    """GPT-2-medium-shaped random weights as HF safetensors and as sharded pytorch_model.bin."""
    import torch
    import transformers

    safe, binary = directory / "safetensors", directory / "bin-sharded"
    if (safe / "config.json").is_file() and (binary / "pytorch_model.bin.index.json").is_file():
        return {"safetensors": safe, "bin-sharded": binary}
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=24, n_embd=1024, n_head=16, vocab_size=50257, n_positions=1024)
    model = transformers.GPT2LMHeadModel(config)
    model.save_pretrained(safe)
    binary.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(binary)
    state = {k: v.contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
    shards, current, size, limit = [], {}, 0, 500 * 10**6
    for key, tensor in state.items():
        if current and size + tensor.numel() * 4 > limit:
            shards.append(current)
            current, size = {}, 0
        current[key] = tensor
        size += tensor.numel() * 4
    shards.append(current)
    weight_map = {}
    for i, shard in enumerate(shards, start=1):
        name = f"pytorch_model-{i:05d}-of-{len(shards):05d}.bin"
        torch.save({k: v.clone() for k, v in shard.items()}, binary / name)
        weight_map.update({k: name for k in shard})
    total = sum(t.numel() * 4 for t in state.values())
    (binary / "pytorch_model.bin.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2))
    return {"safetensors": safe, "bin-sharded": binary}


def measure(which: str, path: Path, threads: int) -> tuple[float, int]:
    start = time.time()
    out = subprocess.run([sys.executable, "-c", CHILD, which, str(path), str(threads)], capture_output=True,
                         text=True, check=True, cwd=ROOT)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return data["ready"] - start, data["peak"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dir", default=str(ROOT / "build" / "bench-load"))
    args = parser.parse_args()
    paths = write_checkpoints(Path(args.dir))
    weight_bytes = json.loads((paths["bin-sharded"] / "pytorch_model.bin.index.json").read_text())["metadata"]["total_size"]
    floor_rss = statistics.median(measure("floor", paths["safetensors"], args.threads)[1] for _ in range(3))
    floor = floor_rss + weight_bytes
    rows, results = [], []
    for fmt, path in paths.items():
        times = {"ours": [], "theirs": []}
        peaks = {"ours": [], "theirs": []}
        measure("ours", path, args.threads)  # warm the page cache for both
        for _ in range(args.repeats):
            for which in ("ours", "theirs"):
                seconds, peak = measure(which, path, args.threads)
                times[which].append(seconds)
                peaks[which].append(peak)
        t_ours, t_theirs = statistics.median(times["ours"]), statistics.median(times["theirs"])
        p_ours, p_theirs = max(peaks["ours"]), max(peaks["theirs"])
        rows.append([fmt, t_ours, t_theirs, t_ours / t_theirs, p_ours / 1e9, p_theirs / 1e9, p_ours / floor,
                     p_theirs / floor])
        results.append({"format": fmt, "ours_s": t_ours, "theirs_s": t_theirs, "time_ratio": t_ours / t_theirs,
                        "ours_peak": p_ours, "theirs_peak": p_theirs, "ours_vs_floor": p_ours / floor,
                        "theirs_vs_floor": p_theirs / floor})
    print_table(f"load: GPT-2-medium shape ({weight_bytes / 1e9:.2f} GB fp32), fresh processes, median of {args.repeats}; "
                f"floor = import torch ({floor_rss / 1e6:.0f} MB) + weights",
                ["format", "ours s", "transformers s", "time ours/theirs", "ours peak GB", "theirs peak GB",
                 "ours/floor", "theirs/floor"], rows)
    print("\ntargets: time ours/theirs <= 0.5, ours/floor <= 1.03")
    save_results("load", {"weight_bytes": weight_bytes, "floor_bytes": floor, "threads": args.threads,
                          "cases": results})


if __name__ == "__main__":
    main()
