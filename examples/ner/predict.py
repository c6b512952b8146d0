"""Entities from the fine-tuned NER model (save_dir/best of train.py, loaded by the AutoLoader).

    python examples/ner/predict.py --tiny --task ner-gp       # same config flags as train.py

Prints the first sentences of data/test.jsonl (people, places and organisations whose names never
occur in training) with the entities ``predict_ner`` finds, then the entity F1 over the whole file.
"""
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from finetune import (best_predictor, example_file, format_entities, load_config, read_jsonl,  # noqa: E402
                      score_entities, setup_logging)

DEFAULT_CONFIG = "roberta_ner.yaml"


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, float]:
    config, opts = load_config(argv, DEFAULT_CONFIG)
    predictor = best_predictor(config, opts)  # AutoLoader(task, "save_dir/best") + Predictor

    rows = read_jsonl(example_file(HERE, opts.test_file))
    scores, predicted = score_entities(predictor, rows)  # predictor.predict_ner(text) per row
    for row, entities in list(zip(rows, predicted))[: opts.show]:
        print(f"{row['text']}\n  -> {format_entities(entities)}")
    print(f"test ({len(rows)} sentences): entity F1 {scores['f1']:.3f} (precision {scores['precision']:.3f}, "
          f"recall {scores['recall']:.3f})")
    return scores


if __name__ == "__main__":
    setup_logging()
    main()
