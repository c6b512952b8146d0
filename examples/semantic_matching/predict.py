"""Same question or not? The fine-tuned matching model (save_dir/best of train.py) on held-out pairs.

    python examples/semantic_matching/predict.py --tiny        # same config flags as train.py

data/test.jsonl pairs questions about (intent, thing) combinations never seen in training.
"""
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from finetune import best_predictor, example_file, load_config, read_jsonl, score_classes, setup_logging  # noqa: E402

DEFAULT_CONFIG = "roberta_semantic_matching.yaml"


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, float]:
    config, opts = load_config(argv, DEFAULT_CONFIG)
    predictor = best_predictor(config, opts)  # AutoLoader(task, "save_dir/best") + Predictor

    rows = read_jsonl(example_file(HERE, opts.test_file))
    scores, predicted = score_classes(predictor, rows, pair=True)  # predict_cls_classifier((a, b))
    for row, label in list(zip(rows, predicted))[: opts.show]:
        print(f"{row['text_a']} | {row['text_b']}\n  -> {'same' if label == 1 else 'different'}")
    print(f"test ({len(rows)} pairs): accuracy {scores['accuracy']:.3f}")
    return scores


if __name__ == "__main__":
    setup_logging()
    main()
