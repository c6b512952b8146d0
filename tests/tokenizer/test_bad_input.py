"""Bad and awkward input: each case behaves as docs/tokenizer.md says, never a crash in an engine."""
import logging

import pytest

from flagai_lite.errors import TokenizerError

KINDS = ["bert", "gpt2", "t5", "glm-ch", "glm-en"]
# what encode("") gives: only the kind's special tokens
EMPTY = {"bert": [101, 102], "gpt2": [], "t5": [1], "glm-ch": [], "glm-en": []}


def test_directory_without_vocab_lists_the_files_looked_for(load, tmp_path):
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(TokenizerError) as err:
        load(tmp_path)
    for name in ("tokenizer.json", "vocab.json + merges.txt", "vocab.txt", "spiece.model", "*.model"):
        assert name in str(err.value)


def test_missing_directory_is_named(load, tmp_path):
    with pytest.raises(TokenizerError, match="does not exist"):
        load(tmp_path / "nowhere")


@pytest.mark.parametrize("kind", KINDS)
def test_empty_string_gives_only_special_tokens(all_toks, kind):
    tok = all_toks[kind]
    assert tok.encode("") == EMPTY[kind]
    out = tok.encode_plus("", return_offsets_mapping=True)
    assert out["attention_mask"] == [1] * len(EMPTY[kind])
    assert out["offset_mapping"] == [(0, 0)] * len(EMPTY[kind])
    assert tok.tokenize("") == [] and tok.decode([]) == ""
    batch = tok(["", ""], return_tensors="pt")
    assert batch["input_ids"].shape == (2, len(EMPTY[kind]))


@pytest.mark.parametrize("kind", KINDS)
def test_whitespace_only_text(all_toks, kind):
    tok = all_toks[kind]
    text = " \t\n\u3000\u00a0 "
    if kind == "gpt2":  # byte-level BPE is lossless: whitespace is text
        assert tok.encode(text) and tok.decode(tok.encode(text)) == text
    else:
        assert tok.encode(text) == EMPTY[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_control_characters(all_toks, kind):
    tok = all_toks[kind]
    text = "\x00a\x07 b\x1b[0m\x7f c\x0b\x0c"
    out = tok.encode_plus(text, return_offsets_mapping=True)
    assert all(0 <= s <= e <= len(text) for s, e in out["offset_mapping"])
    if kind in ("bert", "glm-en"):  # BERT's clean_text drops controls (tab/newline = space)
        assert tok.encode(text) == tok.encode("a b[0m c")
    elif kind == "gpt2":  # kept as bytes
        assert tok.decode(tok.encode(text)) == text
    else:  # sentencepiece: what the model's normalizer keeps becomes pieces or <unk>
        assert tok.decode(tok.encode(text)).replace(" ", "").endswith("c")


@pytest.mark.parametrize("kind", KINDS)
def test_lone_surrogates_become_replacement_characters(all_toks, kind):
    tok = all_toks[kind]
    text = "ab\ud800cd \udfff!"
    out = tok.encode_plus(text, return_offsets_mapping=True)
    assert out == tok.encode_plus("ab\ufffdcd \ufffd!", return_offsets_mapping=True)
    assert all(0 <= s <= e <= len(text) for s, e in out["offset_mapping"])


@pytest.mark.parametrize("kind", KINDS)
def test_utf8_bytes_are_decoded(all_toks, kind):
    tok = all_toks[kind]
    text = "café 中文 😀"
    assert tok.encode(text.encode("utf-8")) == tok.encode(text)
    assert tok([text.encode("utf-8")])["input_ids"] == [tok.encode(text)]


def test_invalid_utf8_bytes_raise(bert_tok):
    with pytest.raises(TokenizerError, match="not valid UTF-8 \\(byte 3"):
        bert_tok.encode(b"abc\xff\xfe")
    with pytest.raises(TokenizerError, match="batch\\[1\\] is bytes but not valid UTF-8"):
        bert_tok([b"ok", b"\xc3("])


@pytest.mark.parametrize("kind", KINDS)
def test_text_far_past_max_length_is_truncated(all_toks, kind):
    tok = all_toks[kind]
    text = "many words here " * 20000
    out = tok.encode_plus(text, max_length=32, return_offsets_mapping=True)
    assert len(out["input_ids"]) == len(out["offset_mapping"]) == 32
    assert out["input_ids"][:5] == tok.encode_plus(text[:200], max_length=32)["input_ids"][:5]
    pair = tok.encode_plus(text, "short", max_length=32)
    assert len(pair["input_ids"]) == 32 and pair["token_type_ids"][-1] in (0, 1)


def test_text_past_the_limit_without_truncation_is_kept_and_warned(load, bert_dir, caplog):
    tok = load(bert_dir)  # a fresh tokenizer: the warning is given once per tokenizer
    text = "word " * 600
    with caplog.at_level(logging.WARNING, logger="flagai_lite.tokenizer"):
        ids = tok.encode_plus(text, truncation=False)["input_ids"]
        tok.encode(text)
    assert len(ids) == 602
    assert caplog.text.count("more than the limit of 512") == 1


@pytest.mark.parametrize("value", [None, 3, 4.5, ["a", "b"], {"text": "a"}])
def test_non_text_input_raises(bert_tok, value):
    with pytest.raises(TokenizerError, match="must be a str"):
        bert_tok.encode(value)
    with pytest.raises(TokenizerError, match="must be a str"):
        bert_tok.tokenize(value)
    if value is not None and not isinstance(value, list):  # None: no pair; a list: a batch
        with pytest.raises(TokenizerError, match="text_pair must be a str"):
            bert_tok.encode_plus("fine", value)


def test_malformed_batches_raise(bert_tok):
    with pytest.raises(TokenizerError, match="a batch must be a list"):
        bert_tok.batch_encode_plus("not a list")
    with pytest.raises(TokenizerError, match="batch\\[1\\] must be a \\(text, text_pair\\)"):
        bert_tok.batch_encode_plus([("a", "b"), "c"])
    with pytest.raises(TokenizerError, match="batch\\[1\\] must be a str"):
        bert_tok.batch_encode_plus(["a", None])
    with pytest.raises(TokenizerError, match="as long as the batch"):
        bert_tok.batch_encode_plus(["a", "b"], ["c"])


def test_bad_ids_raise_on_decode(bert_tok):
    with pytest.raises(TokenizerError, match="id 30522 is outside the vocabulary"):
        bert_tok.decode([101, 30522])
    with pytest.raises(TokenizerError, match="id -1 is outside"):
        bert_tok.convert_ids_to_tokens([-1])
    with pytest.raises(TokenizerError, match="flat sequence of ints"):
        bert_tok.decode([[101, 102]])
    with pytest.raises(TokenizerError, match="flat sequence of ints"):
        bert_tok.decode([1.5])
