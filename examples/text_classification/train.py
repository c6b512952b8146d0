"""Text classification: fine-tune BERT (or any backbone) to sort news sentences into topics.

    python examples/text_classification/train.py               # configs/bert_text_classification.yaml
    python examples/text_classification/train.py --tiny        # a tiny BERT, seconds on a CPU

Data: data/train.jsonl, one {"text", "label"} per line; the label names are listed in the config
(``example.labels``). The Trainer keeps the most accurate checkpoint on data/valid.jsonl as save_dir/best.
"""
import sys
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # examples/finetune.py: the plumbing every example shares

from finetune import (LossHistory, best_dir, best_predictor, example_file, is_main_process, load_config,  # noqa: E402
                      load_model, read_jsonl, score_classes, setup_logging, train)
from flagai_lite.trainer import accuracy  # noqa: E402

DEFAULT_CONFIG = "bert_text_classification.yaml"


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    config, opts = load_config(argv, DEFAULT_CONFIG)
    train_rows = read_jsonl(example_file(HERE, opts.train_file))
    valid_rows = read_jsonl(example_file(HERE, opts.valid_file))

    # AutoLoader("classification", model_name, model_dir=..., labels=[...]): backbone + classifier.
    loader = load_model(opts, tiny_texts=[r["text"] for r in train_rows])
    history = LossHistory()
    model, tokenizer, state = train(config, opts, loader, train_rows, valid_rows, metric_methods=[("acc", accuracy)],
                                    callbacks=[history])
    result: Dict[str, Any] = {"state": state, "losses": history.losses}

    if config.save_dir is not None and is_main_process():
        scores, _ = score_classes(best_predictor(config, opts), valid_rows)
        print(f"valid ({len(valid_rows)} sentences): accuracy {scores['accuracy']:.3f}; model in {best_dir(config)}")
        result["scores"] = scores
    return result


if __name__ == "__main__":
    setup_logging()
    main()
