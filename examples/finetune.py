"""What every example shares: its command line, its data, a tiny model when asked, the Trainer run, metrics.

Each ``examples/<task>/train.py`` reads top to bottom as a FlagAI example does (AutoLoader ->
Trainer -> Predictor); the repeated plumbing lives here, imported with the examples folder on
``sys.path``. Nothing here is library API: copy what you need into your own scripts.

Command line of every example script::

    python examples/<task>/train.py [--config configs/X.yaml] [--tiny] [--model_name NAME] [--model_dir DIR]
                                    [--task TASK] [any Trainer option: --lr 1e-4 --epochs 3 ...]
                                    [any example option: --example.max_length 64 ...]

- ``--config``: the YAML file (default: the script's own config in ``configs/``).
- ``--tiny``: use the config's ``_tiny`` sibling (``configs/X_tiny.yaml``): a tiny model, built with
  :func:`flagai_lite.tiny.make_tiny_model_dir` in ``model_dir/model_name`` when it is not there, and a
  short run.
- ``--model_name``, ``--model_dir``, ``--task``: short for ``--example.model_name`` etc., as in FlagAI.

Paths in the ``example:`` section (data files) are relative to the example's folder; ``save_dir``
and ``model_dir`` to the current directory.
"""
import dataclasses
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from flagai_lite.trainer import TrainerCallback

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
SHORTHANDS = ("model_name", "model_dir", "task")

logger = logging.getLogger("examples")


@dataclasses.dataclass
class ExampleOptions:
    """The ``example:`` section of an example config (what only the example script reads)."""

    model_name: str  # a FlagAI model name, a name on the hub, or a model directory
    task: str  # the AutoLoader task, e.g. "title-generation", "ner-crf"
    model_dir: str = "./checkpoints"  # models live in model_dir/<name>/ (FlagAI's model_dir)
    train_file: str = "data/train.jsonl"
    valid_file: str = "data/valid.jsonl"
    test_file: str = "data/test.jsonl"
    max_length: int = 128  # tokens per training example
    labels: Optional[List[str]] = None  # class names (classification) or entity types (NER)
    head_options: Optional[Dict[str, Any]] = None  # more head options, e.g. {"inner_dim": 32}
    out_max_length: int = 32  # generated tokens at most (generation tasks)
    beam_size: int = 1  # 1: greedy search
    show: int = 5  # predictions printed by predict.py / after training
    num_threads: Optional[int] = None  # torch threads; null: torch's default (tiny models run fastest on 1)
    # A tiny model made from the training texts when model_dir/model_name does not exist (see flagai_lite.tiny).
    tiny_family: Optional[str] = None  # bert, roberta, gpt2, t5 or glm; null: never build one
    tiny_hidden: int = 64
    tiny_layers: int = 2
    tiny_heads: int = 4
    tiny_dropout: float = 0.1
    tiny_vocab_size: Optional[int] = None  # null: every training word is a token (WordPiece); SentencePiece: 1000
    tiny_min_frequency: int = 1  # rarer training words are spelled with character pieces (WordPiece)


# ------------------------------------------------------------------------------ command line
def load_config(argv: Optional[Sequence[str]], default_config: str) -> Tuple[Any, ExampleOptions]:
    """``(TrainerConfig, ExampleOptions)`` from the YAML config and the command line (see the module doc)."""
    from flagai_lite.trainer import load_train_config

    argv = list(sys.argv[1:] if argv is None else argv)
    tiny = "--tiny" in argv
    argv = [word for word in argv if word != "--tiny"]
    path, argv = _pop_option(argv, "config", default=str(CONFIGS / default_config))
    if tiny:
        path = str(Path(path).with_name(Path(path).stem + "_tiny.yaml"))
    for name in SHORTHANDS:
        argv = [re.sub(rf"^--{name}(=|$)", rf"--example.{name}\1", word) for word in argv]
    return load_train_config(path, argv, example_class=ExampleOptions)


def _pop_option(argv: List[str], name: str, default: str) -> Tuple[str, List[str]]:
    value, rest, i = default, [], 0
    while i < len(argv):
        if argv[i] == f"--{name}" and i + 1 < len(argv):
            value, i = argv[i + 1], i + 2
            continue
        if argv[i].startswith(f"--{name}="):
            value = argv[i].split("=", 1)[1]
        else:
            rest.append(argv[i])
        i += 1
    return value, rest


def setup_logging() -> None:
    """INFO lines from the library and the examples (the Trainer logs loss, lr and evaluations)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")


# ------------------------------------------------------------------------------ data
def read_jsonl(path: Path) -> List[Dict[str, Any]]:
    """One example per line."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def example_file(example_dir: Path, name: str) -> Path:
    """A data path of the example section, relative to the example's folder unless absolute."""
    return Path(name) if Path(name).is_absolute() else Path(example_dir) / name


# ------------------------------------------------------------------------------ model
def load_model(opts: ExampleOptions, tiny_texts: Iterable[str] = ()):
    """The AutoLoader for ``opts.task`` / ``opts.model_name``, making a tiny model first when the config asks.

    A tiny model is built only when ``tiny_family`` is set and ``model_name`` is neither in
    ``model_dir`` nor on the modelhub: an existing model (yours, or the hub's) is used as it is.
    """
    import torch

    from flagai_lite.auto_loader import AutoLoader

    if opts.num_threads:
        torch.set_num_threads(opts.num_threads)
    if opts.tiny_family and not _available(opts.model_name, opts.model_dir):
        from flagai_lite.tiny import make_tiny_model_dir

        local = Path(opts.model_dir) / opts.model_name
        logger.info("building a tiny %s model in %s (no pretrained weights needed)", opts.tiny_family, local)
        make_tiny_model_dir(opts.tiny_family, tiny_texts, local, hidden=opts.tiny_hidden, layers=opts.tiny_layers,
                            heads=opts.tiny_heads, dropout=opts.tiny_dropout, vocab_size=opts.tiny_vocab_size,
                            min_frequency=opts.tiny_min_frequency)
    options = dict(opts.head_options or {})
    if opts.labels is not None:
        options["labels"] = opts.labels
    return AutoLoader(opts.task, opts.model_name, model_dir=opts.model_dir, **options)


def _available(model_name: str, model_dir: str) -> bool:
    """A model directory, complete in model_dir, or fetched from the hub ($FLAGAI_HUB_ENDPOINT) just now."""
    from flagai_lite.errors import FlagAILiteError
    from flagai_lite.hub import download

    if (Path(model_name) / "config.json").is_file():
        return True
    try:
        download(model_name, model_dir)  # no network when complete locally; an error when there is no hub
        return True
    except FlagAILiteError as err:
        logger.debug("%s is neither in %s nor on the hub (%s)", model_name, model_dir, err)
        return False


class SaveTokenizer(TrainerCallback):
    """Writes the tokenizer into every checkpoint (save_dir/latest, save_dir/best), so each is a model directory
    the AutoLoader loads on its own."""

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer

    def on_save(self, trainer: Any, state: Any, path: Path) -> None:
        self.tokenizer.save_pretrained(path)


class LossHistory(TrainerCallback):
    """The training loss of every logging window (``log_interval`` steps), in order."""

    def __init__(self) -> None:
        self.losses: List[float] = []

    def on_step_end(self, trainer: Any, state: Any) -> None:
        if state.loss is not None and (not self.losses or state.loss != self.losses[-1]):
            self.losses.append(state.loss)

    on_train_end = on_step_end  # the last window is logged after the last on_step_end


def train(config: Any, opts: ExampleOptions, loader: Any, train_rows: List[Dict], valid_rows: List[Dict], *,
          metric_methods: Optional[Sequence[Tuple[str, Callable]]] = None, predict_fn: Optional[Callable] = None,
          callbacks: Sequence[TrainerCallback] = ()):
    """Fine-tune ``loader``'s model on the rows with the Trainer; the head's ``collate`` makes the batches.

    Returns:
        ``(model, tokenizer, trainer_state)``.
    """
    import torch

    from flagai_lite.trainer import Trainer

    torch.manual_seed(config.seed)  # a new task head is initialised here: same seed, same run
    model, tokenizer = loader.get_model(), loader.get_tokenizer()
    trainer = Trainer(config)

    def collate(examples: List[Dict]) -> Dict[str, Any]:
        return model.head.collate(tokenizer, examples, max_length=opts.max_length)

    state = trainer.train(model, train_rows, valid_rows, collate_fn=collate, metric_methods=metric_methods,
                          predict_fn=predict_fn, callbacks=[SaveTokenizer(tokenizer), *callbacks])
    return model, tokenizer, state


def best_dir(config: Any) -> Path:
    """``save_dir/best``: the checkpoint with the best validation result."""
    if config.save_dir is None:
        raise SystemExit("this config has save_dir: null; set --save_dir to keep (and predict with) a model")
    return Path(config.save_dir) / "best"


def best_predictor(config: Any, opts: ExampleOptions) -> Any:
    """A Predictor over ``save_dir/best``, loaded by the AutoLoader as any model directory is."""
    from flagai_lite.auto_loader import AutoLoader
    from flagai_lite.predictor import Predictor

    loader = AutoLoader(opts.task, str(best_dir(config)))
    return Predictor(loader.get_model(), loader.get_tokenizer())


def is_main_process() -> bool:
    """Rank 0 (or no torchrun at all): the process that prints."""
    return os.environ.get("RANK", "0") == "0"


# ------------------------------------------------------------------------------ metrics
def words(text: str) -> List[str]:
    """Lower-cased words of ``text`` without punctuation (what ROUGE compares)."""
    return re.findall(r"[^\W_]+", text.lower())


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F1 of two texts over their words: the longest common subsequence (Lin 2004), β = 1."""
    pred, ref = words(prediction), words(reference)
    if not pred or not ref:
        return float(pred == ref)
    previous = [0] * (len(ref) + 1)  # LCS lengths of pred[:i] against every prefix of ref
    for token in pred:
        current = [0]
        for j, other in enumerate(ref):
            current.append(previous[j] + 1 if token == other else max(previous[j + 1], current[j]))
        previous = current
    lcs = previous[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(pred), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, reference: str) -> float:
    """1.0 when the words are the same (case and punctuation ignored)."""
    return float(words(prediction) == words(reference))


def entity_f1(predicted: Sequence[Sequence[Dict]], gold: Sequence[Sequence[Dict]]) -> Dict[str, float]:
    """Micro precision / recall / F1 of exact ``(start, end, type)`` entity matches over a corpus."""
    tp = n_pred = n_gold = 0
    for pred, ref in zip(predicted, gold):
        pred_set = {(e["start"], e["end"], e["type"]) for e in pred}
        ref_set = {(e["start"], e["end"], e["type"]) for e in ref}
        tp, n_pred, n_gold = tp + len(pred_set & ref_set), n_pred + len(pred_set), n_gold + len(ref_set)
    precision, recall = tp / max(n_pred, 1), tp / max(n_gold, 1)
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


# ------------------------------------------------------------------------------ prediction
def generate_all(predictor: Any, sources: Sequence[str], opts: ExampleOptions) -> List[str]:
    """One generated text per source (greedy when ``beam_size`` is 1, else beam search)."""
    if opts.beam_size > 1:
        return [predictor.predict_generate_beamsearch(s, out_max_length=opts.out_max_length, beam_size=opts.beam_size)
                for s in sources]
    return [predictor.predict_generate_greedy(s, out_max_length=opts.out_max_length) for s in sources]


def score_generation(predictor: Any, rows: Sequence[Dict], opts: ExampleOptions) -> Tuple[Dict[str, float], List[str]]:
    """Mean ROUGE-L F1 and exact match of the generated targets of ``rows``; and the generated texts."""
    outputs = generate_all(predictor, [r["source"] for r in rows], opts)
    n = max(len(rows), 1)
    scores = {"rouge_l": sum(rouge_l(o, r["target"]) for o, r in zip(outputs, rows)) / n,
              "exact_match": sum(exact_match(o, r["target"]) for o, r in zip(outputs, rows)) / n}
    return scores, outputs


def score_entities(predictor: Any, rows: Sequence[Dict]) -> Tuple[Dict[str, float], List[List[Dict]]]:
    """Entity precision / recall / F1 of ``rows``; and the predicted entities."""
    predicted = [predictor.predict_ner(r["text"]) for r in rows]
    return entity_f1(predicted, [r["entities"] for r in rows]), predicted


def score_classes(predictor: Any, rows: Sequence[Dict], *, pair: bool = False) -> Tuple[Dict[str, float], List[Any]]:
    """Accuracy of ``predict_cls_classifier`` on ``rows`` (labels as names or indices); and the predicted labels."""
    predicted = []
    for row in rows:
        result = predictor.predict_cls_classifier((row["text_a"], row["text_b"]) if pair else row["text"])
        predicted.append(result["name"] if isinstance(row["label"], str) else result["label"])
    correct = sum(p == r["label"] for p, r in zip(predicted, rows))
    return {"accuracy": correct / max(len(rows), 1)}, predicted


def format_entities(entities: Sequence[Dict]) -> str:
    """``Alice Moreau/PER, Lisbon/LOC`` (or ``-``)."""
    return ", ".join(f"{e['text']}/{e['type']}" for e in entities) or "-"
