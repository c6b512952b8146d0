"""Tiny, randomly initialised model directories with a tokenizer built from your own texts.

No pretrained weights are needed to try the examples, the demo or a new task head: this module
writes a complete model directory (config.json, weights, tokenizer files) that ``AutoLoader``,
``Model.from_pretrain`` and ``Tokenizer.from_pretrained`` load like any downloaded checkpoint::

    from flagai_lite.tiny import make_tiny_model_dir
    make_tiny_model_dir("t5", texts, "checkpoints/tiny-t5", hidden=64, layers=2)
    loader = AutoLoader("title-generation", "tiny-t5", model_dir="checkpoints")

Tokenizers follow the conventions of the FlagAI checkpoints of each family:

- ``bert`` / ``roberta``: a WordPiece ``vocab.txt`` (lower-cased) holding the special tokens, every
  character of the texts (also as ``##c`` continuation pieces) and their words (FlagAI's
  RoBERTa-base-ch is a BERT architecture with a WordPiece vocab, so ``roberta`` builds the same);
- ``gpt2``: the same WordPiece vocab (FlagAI's GPT2-base-ch convention: ``[CLS]`` is bos, ``[SEP]`` eos);
- ``t5``: a unigram SentencePiece model trained on the texts with T5's ids (``<pad>`` 0, ``</s>`` 1,
  ``<unk>`` 2);
- ``glm``: the WordPiece vocab with GLM's command tokens appended (tokenizer kind ``"glm"``, the
  layout of FlagAI's GLM-large-en).

Every character of ``texts`` and every ASCII letter, digit and punctuation mark is in the
vocabulary, so those texts and English text encode without ``[UNK]`` (unseen words are spelled
with smaller pieces).
"""
import io
import os
import re
import shutil
import string
import unicodedata
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, List, Optional, Union

from .errors import ConfigError

FAMILIES = ("bert", "roberta", "gpt2", "t5", "glm")
WORDPIECE_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def make_tiny_model_dir(
    family: str,
    texts: Iterable[str],
    directory: Union[str, "os.PathLike[str]"],
    *,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 4,
    intermediate: Optional[int] = None,
    max_length: int = 256,
    vocab_size: Optional[int] = None,
    min_frequency: int = 1,
    dropout: float = 0.1,
    seed: int = 0,
    overwrite: bool = False,
    **config_overrides: Any,
) -> Path:
    """Write a randomly initialised ``family`` model and a tokenizer built from ``texts`` to ``directory``.

    Args:
        family: "bert", "roberta", "gpt2", "t5" or "glm".
        texts: the text the tokenizer must cover (e.g. every field of a training set).
        directory: the model directory to create (its parents are created too).
        hidden: hidden size (T5's ``d_model``).
        layers: transformer blocks (T5: in the encoder and in the decoder).
        heads: attention heads; must divide ``hidden``.
        intermediate: feed-forward width; default ``4 * hidden`` (GLM-1 always uses ``4 * hidden``).
        max_length: longest sequence in tokens (position tables; GLM's ``max_sequence_length``).
        vocab_size: SentencePiece (t5): the target vocabulary size (default 1000; smaller when the
            texts cannot fill it). WordPiece: the most entries, keeping the most frequent words
            (default: every word). Characters are always kept (see :func:`wordpiece_vocab`).
        min_frequency: WordPiece: a word seen fewer times in ``texts`` is not a token of its own but
            spelled with character pieces (e.g. the many rare names of an NER corpus, so that the
            model learns to read names it has never seen rather than memorise a list).
        dropout: every dropout probability of the model.
        seed: seeds the weight initialisation (the caller's RNG state is left untouched).
        overwrite: replace an existing model directory; otherwise one is refused.
        **config_overrides: any field of the family's config (``relative_attention_num_buckets=8``).

    Returns:
        ``Path(directory)``, complete: written under a temporary name and renamed into place.

    Raises:
        ConfigError: unknown family, no texts, bad sizes (from the family's config).
        FileExistsError: ``directory`` already holds a model and ``overwrite`` is false.
    """
    import torch

    family = family.lower()
    if family not in FAMILIES:
        raise ConfigError(f"unknown tiny model family {family!r}; choose one of {', '.join(FAMILIES)}")
    texts = [t for t in texts if isinstance(t, str) and t.strip()]
    if not texts:
        raise ConfigError("make_tiny_model_dir needs some texts to build the tokenizer from")
    target = Path(directory)
    if (target / "config.json").exists() and not overwrite:
        raise FileExistsError(f"{target} already holds a model; pass overwrite=True to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        tokenizer = _build_tokenizer(family, texts, tmp, vocab_size, min_frequency, max_length)
        sizes = dict(hidden=hidden, layers=layers, heads=heads, intermediate=intermediate or 4 * hidden,
                     max_length=max_length, dropout=dropout)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = _build_model(family, tokenizer, sizes, config_overrides)
        model.save_pretrained(tmp)
        if overwrite and target.exists():
            shutil.rmtree(target)
        try:
            os.replace(tmp, target)
        except OSError:
            if overwrite or not (target / "config.json").exists():
                raise
            # Another process (e.g. another rank under torchrun) made it meanwhile, from the same seed.
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


# ---------------------------------------------------------------------------------- tokenizers
def wordpiece_vocab(texts: Iterable[str], *, lowercase: bool = True, max_size: Optional[int] = None,
                    min_frequency: int = 1) -> List[str]:
    """A WordPiece vocabulary for ``texts``: specials, characters (also as ``##c``), then words by frequency.

    The characters are those of ``texts`` plus ASCII letters, digits and punctuation, so English text
    never becomes ``[UNK]``; a word outside the vocabulary is split into characters. Words are split
    as BERT splits them (whitespace, punctuation, one token per CJK character), after lower-casing
    and accent stripping when ``lowercase``. Words seen fewer than ``min_frequency`` times are left
    out, and ``max_size`` drops the rarest words beyond that size.
    """
    words: Counter = Counter()
    for text in texts:
        words.update(_bert_words(_bert_normalize(text, lowercase)))
    alphabet = string.ascii_lowercase + string.digits + string.punctuation
    if not lowercase:
        alphabet += string.ascii_uppercase
    chars = sorted({c for word in words for c in word} | set(alphabet))
    vocab = WORDPIECE_SPECIALS + chars + ["##" + c for c in chars]
    ranked = sorted((w for w in words if len(w) > 1 and words[w] >= min_frequency), key=lambda w: (-words[w], w))
    if max_size is not None:
        ranked = ranked[: max(0, max_size - len(vocab))]
    return list(dict.fromkeys(vocab + ranked))


def _bert_normalize(text: str, lowercase: bool) -> str:
    if not lowercase:
        return text
    text = unicodedata.normalize("NFD", text.lower())
    return "".join(c for c in text if unicodedata.category(c) != "Mn")


def _bert_words(text: str) -> List[str]:
    out: List[str] = []
    for word in re.findall(r"[^\W_]+|[^\w\s]|_", text):
        run = ""
        for char in word:  # BERT gives every CJK character its own token
            if _is_cjk(char):
                out += [run, char] if run else [char]
                run = ""
            else:
                run += char
        if run:
            out.append(run)
    return out


def _is_cjk(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff"


def _build_tokenizer(family: str, texts: List[str], directory: Path, vocab_size: Optional[int], min_frequency: int,
                     max_length: int):
    from .tokenizer import Tokenizer

    if family == "t5":
        (directory / "spiece.model").write_bytes(train_sentencepiece(texts, vocab_size or 1000))
        kind = None
    else:
        vocab = wordpiece_vocab(texts, max_size=vocab_size, min_frequency=min_frequency)
        (directory / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
        kind = "glm" if family == "glm" else None
    options = {"do_lower_case": True} if family != "t5" else {}
    tokenizer = Tokenizer.from_pretrained(directory, kind=kind, model_max_length=max_length, **options)
    tokenizer.save_pretrained(directory)  # records the kind and options beside the vocabulary
    return Tokenizer.from_pretrained(directory)


def train_sentencepiece(texts: List[str], vocab_size: int) -> bytes:
    """A unigram SentencePiece model (T5's ids: ``<pad>`` 0, ``</s>`` 1, ``<unk>`` 2, no ``<s>``) trained on ``texts``
    (plus the ASCII characters, so English text never becomes ``<unk>``)."""
    import sentencepiece

    # Every ASCII letter, digit and punctuation mark gets a piece, as in the WordPiece vocabularies.
    texts = texts + [" ".join(string.ascii_letters + string.digits + string.punctuation)]
    # SentencePiece samples sentences; repeating a small corpus keeps rare pieces in the vocabulary.
    repeat = max(1, 2000 // len(texts))
    vocab_size = max(vocab_size, len(set("".join(texts))) + 4)  # room for every character and the 3 specials
    buffer = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(texts * repeat), model_writer=buffer, vocab_size=vocab_size,
        hard_vocab_limit=False, model_type="unigram", pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
        character_coverage=1.0, minloglevel=2,
    )
    return buffer.getvalue()


# ---------------------------------------------------------------------------------- models
def _build_model(family: str, tokenizer: Any, s: dict, overrides: dict):
    vocab = tokenizer.vocab_size
    if family in ("bert", "roberta"):
        from .model.bert import BertConfig, BertModel

        config = BertConfig(**{**dict(
            vocab_size=vocab, hidden_size=s["hidden"], num_hidden_layers=s["layers"], num_attention_heads=s["heads"],
            intermediate_size=s["intermediate"], max_position_embeddings=s["max_length"],
            pad_token_id=tokenizer.pad_token_id, hidden_dropout_prob=s["dropout"],
            attention_probs_dropout_prob=s["dropout"]), **overrides})
        return BertModel.from_config(config)
    if family == "gpt2":
        from .model.gpt2 import GPT2Config, GPT2Model

        config = GPT2Config(**{**dict(
            vocab_size=vocab, n_positions=s["max_length"], n_embd=s["hidden"], n_layer=s["layers"], n_head=s["heads"],
            n_inner=s["intermediate"], bos_token_id=tokenizer.get_command_id("cls"),
            eos_token_id=tokenizer.get_command_id("sep"), pad_token_id=tokenizer.pad_token_id,
            resid_pdrop=s["dropout"], embd_pdrop=s["dropout"], attn_pdrop=s["dropout"]), **overrides})
        return GPT2Model.from_config(config)
    if family == "t5":
        from .model.t5 import T5Config, T5Model

        if s["hidden"] % s["heads"]:
            raise ConfigError(f"heads ({s['heads']}) must divide hidden ({s['hidden']})")
        config = T5Config(**{**dict(
            vocab_size=vocab, d_model=s["hidden"], d_kv=s["hidden"] // s["heads"], d_ff=s["intermediate"],
            num_layers=s["layers"], num_heads=s["heads"], dropout_rate=s["dropout"]), **overrides})
        return T5Model.from_config(config)
    from .model.glm import GLMConfig, GLMModel

    config = GLMConfig(**{**dict(
        num_layers=s["layers"], vocab_size=vocab, hidden_size=s["hidden"], num_attention_heads=s["heads"],
        max_sequence_length=s["max_length"], embedding_dropout_prob=s["dropout"],
        attention_dropout_prob=s["dropout"], output_dropout_prob=s["dropout"]), **overrides})
    return GLMModel.from_config(config)
