"""Generation throughput: flagai_lite against transformers on the same random weights.

    .venv/bin/python benchmarks/bench_generate.py [--repeats 5] [--threads N] [--new-tokens 128]

GPT-2-small shape (fp32): prompt 32, 128 new tokens, greedy at batch 1 and 8, beam search 4;
T5-small shape: greedy and beam 4. Reports new tokens/s, the ratio ours/theirs, and the time per
decoding step against the floor of reading every weight once from memory (weight bytes / the copy
bandwidth this script measures). No EOS is set, so every run makes exactly ``--new-tokens`` tokens.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from common import alternating_medians, geomean, memory_bandwidth_gbs, print_table, save_results, set_threads


def build_pair(kind: str, directory: Path):
    """The same random weights as a transformers model and one of ours."""
    import transformers

    torch.manual_seed(0)
    if kind == "gpt2":
        from flagai_lite.model.gpt2 import GPT2Model

        config = transformers.GPT2Config(n_layer=12, n_embd=768, n_head=12, vocab_size=50257, n_positions=1024,
                                         bos_token_id=None, eos_token_id=None, pad_token_id=0)
        theirs, ours_cls = transformers.GPT2LMHeadModel(config), GPT2Model
    else:
        from flagai_lite.model.t5 import T5Model

        config = transformers.T5Config(d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_heads=8, vocab_size=32128,
                                       eos_token_id=None, pad_token_id=0, decoder_start_token_id=0)
        theirs, ours_cls = transformers.T5ForConditionalGeneration(config), T5Model
    theirs.eval().save_pretrained(directory)
    ours = ours_cls.from_pretrain(directory)
    return ours, theirs


CASES = [  # name, model kind, batch, beams
    ("gpt2 greedy b1", "gpt2", 1, 1),
    ("gpt2 greedy b8", "gpt2", 8, 1),
    ("gpt2 beam4 b1", "gpt2", 1, 4),
    ("t5 greedy b1", "t5", 1, 1),
    ("t5 beam4 b1", "t5", 1, 4),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--prompt", type=int, default=32)
    parser.add_argument("--cases", nargs="*", default=None, help="subset of case names")
    args = parser.parse_args()
    threads = set_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    bandwidth = memory_bandwidth_gbs()
    rows, results, models = [], [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, kind, batch, beams in CASES:
            if args.cases and name not in args.cases:
                continue
            if kind not in models:
                models[kind] = build_pair(kind, Path(tmp) / kind)
            ours, theirs = models[kind]
            ours, theirs = ours.to(device), theirs.to(device)
            gen = torch.Generator().manual_seed(1)
            ids = torch.randint(5, 1000, (batch, args.prompt), generator=gen).to(device)
            common = dict(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=args.new_tokens,
                          num_beams=beams)

            def run_ours():
                return ours.generate(**common)

            def run_theirs():
                with torch.inference_mode():
                    return theirs.generate(**common, do_sample=False)

            assert torch.equal(run_ours(), run_theirs()), f"{name}: outputs differ"
            t_ours, t_theirs = alternating_medians(run_ours, run_theirs, args.repeats)
            tokens = batch * args.new_tokens
            weight_bytes = sum(p.numel() * p.element_size() for p in ours.parameters())
            floor_ms = weight_bytes / (bandwidth * 1e9) * 1e3
            step_ms = t_ours / args.new_tokens * 1e3
            rows.append([name, tokens / t_ours, tokens / t_theirs, t_theirs / t_ours, step_ms, floor_ms, floor_ms / step_ms])
            results.append({"case": name, "ours_tok_s": tokens / t_ours, "theirs_tok_s": tokens / t_theirs,
                            "ratio": t_theirs / t_ours, "step_ms": step_ms, "floor_ms": floor_ms})
    print_table(f"generate: new tokens/s, {threads} threads, {device}, prompt {args.prompt}, {args.new_tokens} new, "
                f"median of {args.repeats} (memory copy bandwidth {bandwidth:.1f} GB/s)",
                ["case", "ours tok/s", "transformers tok/s", "ratio ours/theirs", "ms/step", "floor ms", "floor/step"],
                rows)
    mean = geomean([r["ratio"] for r in results])
    print(f"\ngeometric mean ratio: {mean:.3f}   (target >= 1.1, every case >= 1.0)")
    save_results(f"generate-{device}", {"threads": threads, "device": device, "bandwidth_gbs": bandwidth,
                                        "cases": results, "geomean": mean})


if __name__ == "__main__":
    main()
