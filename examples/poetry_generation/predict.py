"""Poems from the fine-tuned poetry-generation model (save_dir/best of train.py, loaded by the AutoLoader).

    python examples/poetry_generation/predict.py --tiny          # same config flags as train.py

Prints the titles of data/test.jsonl (season/scene pairs never seen in training)
with the generated poem, then ROUGE-L and exact match over the whole file.
"""
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from finetune import (best_predictor, example_file, load_config, read_jsonl, score_generation,  # noqa: E402
                      setup_logging)

DEFAULT_CONFIG = "glm_poetry_generation.yaml"


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, float]:
    config, opts = load_config(argv, DEFAULT_CONFIG)
    predictor = best_predictor(config, opts)  # AutoLoader(task, "save_dir/best") + Predictor

    rows = read_jsonl(example_file(HERE, opts.test_file))
    scores, titles = score_generation(predictor, rows, opts)  # predict_generate_greedy / _beamsearch
    for row, title in list(zip(rows, titles))[: opts.show]:
        print(f"{row['source']}\n  -> {title}")
    print(f"test ({len(rows)} titles): ROUGE-L {scores['rouge_l']:.3f}, exact match {scores['exact_match']:.3f}")
    return scores


if __name__ == "__main__":
    setup_logging()
    main()
