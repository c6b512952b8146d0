"""Named-entity recognition: fine-tune RoBERTa (or any encoder) to tag people, places and organisations.

Three heads, one script: ``--task ner`` (softmax over BIO tags), ``--task ner-crf`` (BIO tags with a CRF,
Viterbi decoding) or ``--task ner-gp`` (GlobalPointer span scores, nested entities allowed).

    python examples/ner/train.py                              # configs/roberta_ner.yaml (RoBERTa-base-ch, CRF)
    python examples/ner/train.py --tiny --task ner-gp         # a tiny RoBERTa, seconds on a CPU
    torchrun --nproc_per_node 2 examples/ner/train.py --tiny --env_type pytorchDDP

Data: data/train.jsonl, one {"text", "entities": [{"start", "end", "type"}]} per line (character spans).
"""
import sys
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # examples/finetune.py: the plumbing every example shares

from finetune import (LossHistory, best_dir, best_predictor, example_file, is_main_process, load_config,  # noqa: E402
                      load_model, read_jsonl, score_entities, setup_logging, train)

DEFAULT_CONFIG = "roberta_ner.yaml"


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    config, opts = load_config(argv, DEFAULT_CONFIG)
    train_rows = read_jsonl(example_file(HERE, opts.train_file))
    valid_rows = read_jsonl(example_file(HERE, opts.valid_file))

    # AutoLoader("ner-crf", model_name, model_dir=..., labels=["PER", "LOC", "ORG"]): backbone + tagging head.
    loader = load_model(opts, tiny_texts=[r["text"] for r in train_rows])
    history = LossHistory()
    model, tokenizer, state = train(config, opts, loader, train_rows, valid_rows, callbacks=[history])
    result: Dict[str, Any] = {"state": state, "losses": history.losses}

    if config.save_dir is not None and is_main_process():  # entity F1 of save_dir/best on the validation set
        scores, _ = score_entities(best_predictor(config, opts), valid_rows)
        print(f"valid ({len(valid_rows)} sentences): entity F1 {scores['f1']:.3f} "
              f"(precision {scores['precision']:.3f}, recall {scores['recall']:.3f}); model in {best_dir(config)}")
        result["scores"] = scores
    return result


if __name__ == "__main__":
    setup_logging()
    main()
