"""`make demo`: build a small model, save it, load it back with from_pretrain and show its outputs."""
import logging
from pathlib import Path

import torch

from flagai_lite.model.gpt2 import GPT2Config, GPT2Model

BUILD = Path("build/demo")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=1000, n_positions=128, n_embd=64, n_layer=2, n_head=4)
    model = GPT2Model.from_config(config).eval()
    target = BUILD / "tiny-gpt2"
    model.save_pretrained(target)
    print(f"saved a {sum(p.numel() for p in model.parameters()):,}-parameter GPT-2 to {target}")
    loaded = GPT2Model.from_pretrain(BUILD, "tiny-gpt2")
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    with torch.inference_mode():
        before, after = model(input_ids=ids)["logits"], loaded(input_ids=ids)["logits"]
    print(f"load report: {loaded.load_report}")
    print(f"logits shape {tuple(after.shape)}, max |saved - loaded| = {(before - after).abs().max().item():.1e}")
    print(f"next-token predictions: {after[0].argmax(-1).tolist()}")


if __name__ == "__main__":
    main()
