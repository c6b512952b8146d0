"""Semantic matching: fine-tune RoBERTa (or any backbone) to tell whether two questions ask the same thing.

    python examples/semantic_matching/train.py                 # configs/roberta_semantic_matching.yaml
    python examples/semantic_matching/train.py --tiny          # a tiny RoBERTa, seconds on a CPU

Data: data/train.jsonl, one {"text_a", "text_b", "label"} per line (1: same question, 0: different).
The Trainer reports validation accuracy and keeps the most accurate checkpoint as save_dir/best.
"""
import sys
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # examples/finetune.py: the plumbing every example shares

from finetune import (LossHistory, best_dir, best_predictor, example_file, is_main_process, load_config,  # noqa: E402
                      load_model, read_jsonl, score_classes, setup_logging, train)
from flagai_lite.trainer import accuracy  # noqa: E402

DEFAULT_CONFIG = "roberta_semantic_matching.yaml"


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    config, opts = load_config(argv, DEFAULT_CONFIG)
    train_rows = read_jsonl(example_file(HERE, opts.train_file))
    valid_rows = read_jsonl(example_file(HERE, opts.valid_file))

    # AutoLoader("semantic-matching", model_name, model_dir=...): backbone + pair classifier (2 classes).
    loader = load_model(opts, tiny_texts=[r[k] for r in train_rows for k in ("text_a", "text_b")])
    history = LossHistory()
    model, tokenizer, state = train(config, opts, loader, train_rows, valid_rows, metric_methods=[("acc", accuracy)],
                                    callbacks=[history])
    result: Dict[str, Any] = {"state": state, "losses": history.losses}

    if config.save_dir is not None and is_main_process():
        scores, _ = score_classes(best_predictor(config, opts), valid_rows, pair=True)
        print(f"valid ({len(valid_rows)} pairs): accuracy {scores['accuracy']:.3f}; model in {best_dir(config)}")
        result["scores"] = scores
    return result


if __name__ == "__main__":
    setup_logging()
    main()
