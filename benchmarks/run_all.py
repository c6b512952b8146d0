"""Run every side-by-side benchmark, then write BENCHMARKS.md and benchmarks/ratios.png.

    .venv/bin/python benchmarks/run_all.py [--repeats 5] [--skip hub tokenizer ...]

Each benchmark writes benchmarks/results/<name>.json; this script collects them into one table of
ratios (ours / transformers or curl; > 1 means flagai_lite is faster, except for load time and
memory where < 1 is better) and a bar chart (matplotlib, a benchmark-only dependency).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCRIPTS = {
    "load": ["bench_load.py"],
    "encode": ["bench_encode.py"],
    "generate": ["bench_generate.py"],
    "tokenizer": ["bench_tokenizer.py"],
    "train": ["bench_train.py"],
    "hub": ["bench_hub.py"],
}


def run(name: str, repeats: int) -> None:
    script = SCRIPTS[name][0]
    args = [sys.executable, str(HERE / script)]
    if name in ("load", "encode", "generate"):
        args += ["--repeats", str(repeats)]
    print(f"\n=== {script}", flush=True)
    subprocess.run(args, cwd=HERE, check=True)


def collect() -> list[tuple[str, float, str]]:
    """(label, ratio, direction) rows from the JSON results present."""
    rows = []
    results = HERE / "results"
    for path in sorted(results.glob("*.json")):
        data = json.loads(path.read_text())
        if path.stem == "load":
            for case in data["cases"]:
                rows.append((f"load time {case['format']}", case["time_ratio"], "lower"))
                rows.append((f"load peak RSS / floor {case['format']}", case["ours_vs_floor"], "lower"))
        elif path.stem.startswith("encode"):
            rows.append((f"encode {data['dtype']} {data['device']}", data["ratio"], "higher"))
        elif path.stem.startswith("generate"):
            for case in data["cases"]:
                rows.append((f"generate {case['case']} {data['device']}", case["ratio"], "higher"))
        elif "ratio" in data:
            rows.append((path.stem, data["ratio"], "higher"))
        elif "ratios" in data:
            rows.extend((f"{path.stem} {k}", v, "higher") for k, v in data["ratios"].items())
    return rows


def chart(rows: list[tuple[str, float, str]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [r[0] for r in rows]
    values = [r[1] if r[2] == "higher" else 1 / r[1] for r in rows]
    fig, ax = plt.subplots(figsize=(9, 0.38 * len(rows) + 1.2))
    colors = ["#2a9d8f" if v >= 1 else "#e76f51" for v in values]
    ax.barh(labels, values, color=colors)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xlabel("speed-up of flagai_lite (x; > 1 is better; load rows show 1 / ratio)")
    ax.invert_yaxis()
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:.2f}", va="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip", nargs="*", default=[])
    parser.add_argument("--only-report", action="store_true", help="do not run; rebuild the chart from results/")
    args = parser.parse_args()
    if not args.only_report:
        for name in SCRIPTS:
            if name not in args.skip:
                run(name, args.repeats)
    rows = collect()
    chart(rows, HERE / "ratios.png")
    print(f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"{len(rows)} ratios; chart: benchmarks/ratios.png")
    for label, ratio, direction in rows:
        print(f"  {label:45s} {ratio:6.3f}  ({direction} is better)")


if __name__ == "__main__":
    main()
