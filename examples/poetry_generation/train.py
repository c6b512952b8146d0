"""Poetry generation: fine-tune GLM (or any generation backbone) to write a two-line poem from a title.

A title such as "autumn river" becomes "the red river falls in autumn, the water dreams of red light."

    python examples/poetry_generation/train.py                                  # configs/glm_poetry_generation.yaml
    python examples/poetry_generation/train.py --tiny                           # a tiny GLM, seconds on a CPU
    torchrun --nproc_per_node 2 examples/poetry_generation/train.py --tiny --env_type pytorchDDP

Data: data/train.jsonl, one {"source", "target"} per line; data/valid.jsonl picks save_dir/best.
"""
import sys
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # examples/finetune.py: the plumbing every example shares

from finetune import (LossHistory, best_dir, best_predictor, example_file, is_main_process, load_config,  # noqa: E402
                      load_model, read_jsonl, score_generation, setup_logging, train)

DEFAULT_CONFIG = "glm_poetry_generation.yaml"


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    config, opts = load_config(argv, DEFAULT_CONFIG)
    train_rows = read_jsonl(example_file(HERE, opts.train_file))
    valid_rows = read_jsonl(example_file(HERE, opts.valid_file))

    # AutoLoader("poetry-generation", model_name, model_dir=...): backbone + seq2seq head, and its tokenizer.
    loader = load_model(opts, tiny_texts=[r["source"] for r in train_rows] + [r["target"] for r in train_rows])
    history = LossHistory()
    model, tokenizer, state = train(config, opts, loader, train_rows, valid_rows, callbacks=[history])
    result: Dict[str, Any] = {"state": state, "losses": history.losses}

    if config.save_dir is not None and is_main_process():  # how good is save_dir/best on the validation set?
        scores, _ = score_generation(best_predictor(config, opts), valid_rows, opts)
        print(f"valid ({len(valid_rows)} poems): ROUGE-L {scores['rouge_l']:.3f}, exact match "
              f"{scores['exact_match']:.3f}; model in {best_dir(config)}")
        result["scores"] = scores
    return result


if __name__ == "__main__":
    setup_logging()
    main()
