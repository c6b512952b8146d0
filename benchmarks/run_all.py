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


def collect() -> list[tuple[str, float, str, float]]:
    """(label, ratio, which direction is better, target as an advantage) rows from the JSON results present.

    The ratio is ours / theirs; the "advantage" plotted is the ratio when higher is better and its
    inverse when lower is better, so that > 1 always favours flagai_lite. Targets are the issues'.
    """
    rows = []
    results = HERE / "results"
    for path in sorted(results.glob("*.json")):
        data = json.loads(path.read_text())
        if path.stem == "load":
            for case in data["cases"]:
                rows.append((f"load time {case['format']}", case["time_ratio"], "lower", 2.0))
                rows.append((f"load peak RSS {case['format']}", case["ours_peak"] / case["theirs_peak"], "lower",
                             case["theirs_vs_floor"] / 1.03))
        elif path.stem.startswith("encode"):
            rows.append((f"encode {data['dtype']} {data['device']}", data["ratio"], "higher", 1.1))
        elif path.stem.startswith("generate"):
            for case in data["cases"]:
                rows.append((f"generate {case['case']} {data['device']}", case["ratio"], "higher", 1.0))
        elif path.stem == "tokenizer":
            rows.extend((f"tokenizer {k}", v, "higher", 0.9) for k, v in data["ratios"].items())
        elif path.stem == "train":
            rows.extend((f"train {k}", v, "higher", 0.95) for k, v in data["ratios"].items())
        elif path.stem == "hub":
            rows.extend((f"hub {k}", v, "higher", 1.0) for k, v in data["ratios"].items())
    return rows


def chart(rows: list[tuple[str, float, str, float]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [r[0] for r in rows]
    values = [r[1] if r[2] == "higher" else 1 / r[1] for r in rows]
    fig, ax = plt.subplots(figsize=(10, 0.38 * len(rows) + 1.4))
    colors = ["#2a9d8f" if v >= r[3] - 1e-9 else "#e76f51" for v, r in zip(values, rows)]
    ax.barh(labels, values, color=colors)
    ax.scatter([r[3] for r in rows], range(len(rows)), marker="|", s=300, color="black", zorder=3, label="target")
    ax.axvline(1.0, color="grey", linewidth=0.8, linestyle="--")
    ax.set_xlabel("advantage of flagai_lite (x, > 1 favours flagai_lite; green = target met)")
    ax.legend(loc="lower right")
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
    for label, ratio, direction, _ in rows:
        print(f"  {label:45s} {ratio:6.3f}  ({direction} is better)")


if __name__ == "__main__":
    main()
