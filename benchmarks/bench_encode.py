"""Encoder throughput: flagai_lite BertModel against transformers' BertModel on the same random weights.

    .venv/bin/python benchmarks/bench_encode.py [--repeats 5] [--threads N] [--dtype float32|bfloat16]

BERT-base shape (12 layers, hidden 768, 12 heads), batch 32 x length 128 where half the rows are
padded to half length. Reports sentences/s and the ratio ours/theirs (median of alternating runs);
outputs are checked to agree on real tokens first.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from common import alternating_medians, print_table, save_results, set_threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    args = parser.parse_args()
    import transformers

    from flagai_lite.model.bert import BertModel

    threads = set_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = getattr(torch, args.dtype)
    torch.manual_seed(0)
    config = transformers.BertConfig()  # bert-base-uncased shape
    with tempfile.TemporaryDirectory() as tmp:
        transformers.BertModel(config).save_pretrained(tmp)
        theirs = transformers.BertModel.from_pretrained(tmp, dtype=dtype).to(device).eval()
        ours = BertModel.from_pretrain(tmp, torch_dtype=dtype).to(device).eval()
    ids = torch.randint(1000, 30000, (args.batch, args.length), device=device)
    mask = torch.ones_like(ids)
    mask[args.batch // 2:, args.length // 2:] = 0  # half the batch padded to half length
    ids = ids.masked_fill(mask == 0, 0)

    def run_ours():
        with torch.inference_mode():
            out = ours.features(input_ids=ids, attention_mask=mask)
        if device == "cuda":
            torch.cuda.synchronize()
        return out

    def run_theirs():
        with torch.inference_mode():
            out = theirs(input_ids=ids, attention_mask=mask).last_hidden_state
        if device == "cuda":
            torch.cuda.synchronize()
        return out

    real = mask.bool()
    diff = (run_ours()[real].float() - run_theirs()[real].float()).abs().max().item()
    t_ours, t_theirs = alternating_medians(run_ours, run_theirs, args.repeats)
    rows = [["bert-base encode", args.batch / t_ours, args.batch / t_theirs, t_theirs / t_ours, f"{diff:.1e}"]]
    print_table(f"encode: sentences/s, batch {args.batch} x {args.length} (half padded to {args.length // 2}), "
                f"{args.dtype}, {threads} threads, {device}, median of {args.repeats}",
                ["case", "ours sent/s", "transformers sent/s", "ratio ours/theirs", "max |diff|"], rows)
    save_results(f"encode-{device}-{args.dtype}", {"threads": threads, "device": device, "dtype": args.dtype,
                                                    "ours": args.batch / t_ours, "theirs": args.batch / t_theirs,
                                                    "ratio": t_theirs / t_ours, "max_abs_diff": diff})


if __name__ == "__main__":
    main()
