"""The Tokenizer API shared by every engine: encode_plus, batches, padding, tensors, truncation,
decode, lookups, offsets for NER."""
import json
import subprocess
import sys

import pytest
import torch

from flagai_lite.errors import TokenizerError

transformers = pytest.importorskip("transformers")

KINDS = ["bert", "gpt2", "t5", "glm-ch", "glm-en"]


def test_package_import_is_cheap():
    script = ("import sys, json\nfrom flagai_lite.tokenizer import Tokenizer\n"
              "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    heavy = ["transformers", "requests", "torch", "tokenizers", "sentencepiece", "flagai_lite.hub"]
    assert [m for m in heavy if m in loaded] == []


@pytest.mark.parametrize("kind", KINDS)
def test_encode_plus_returns_model_inputs(all_toks, kind):
    tok = all_toks[kind]
    out = tok.encode_plus("Hello world", "second text", return_offsets_mapping=True)
    assert set(out) == {"input_ids", "attention_mask", "token_type_ids", "offset_mapping"}
    n = len(out["input_ids"])
    assert out["input_ids"] == tok.encode("Hello world", "second text")
    assert out["attention_mask"] == [1] * n and len(out["token_type_ids"]) == n
    assert len(out["offset_mapping"]) == n


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("side", ["right", "left"])
def test_batch_pads_to_the_longest_on_either_side(all_toks, kind, side):
    tok = all_toks[kind]
    texts = ["short", "a noticeably longer line of text", ""]
    out = tok(texts, padding_side=side, return_offsets_mapping=True)
    singles = [tok.encode(t) for t in texts]
    width = max(len(s) for s in singles)
    pad = tok.get_command_id("pad")
    for ids, mask, offsets, single in zip(out["input_ids"], out["attention_mask"],
                                          out["offset_mapping"], singles):
        fill = width - len(single)
        assert len(ids) == len(mask) == len(offsets) == width
        if side == "right":
            assert ids == single + [pad] * fill and mask == [1] * len(single) + [0] * fill
        else:
            assert ids == [pad] * fill + single and mask == [0] * fill + [1] * len(single)


def test_left_padding_can_be_the_tokenizer_default(load, gpt2_dir):
    tok = load(gpt2_dir, padding_side="left")
    out = tok(["a", "a b c d"])
    assert out["attention_mask"][0][0] == 0 and out["attention_mask"][0][-1] == 1


@pytest.mark.parametrize("kind", KINDS)
def test_return_tensors_pt(all_toks, kind):
    tok = all_toks[kind]
    out = tok(["one", "two three four"], return_tensors="pt", return_offsets_mapping=True)
    assert out["input_ids"].dtype == torch.long and out["input_ids"].dim() == 2
    assert out["offset_mapping"].shape == (*out["input_ids"].shape, 2)
    single = tok.encode_plus("one", return_tensors="pt")
    assert single["input_ids"].shape == (1, len(tok.encode("one")))


def test_tensors_need_padding(bert_tok):
    with pytest.raises(TokenizerError, match="padding=True"):
        bert_tok(["one", "two three four"], padding=False, return_tensors="pt")
    with pytest.raises(TokenizerError, match="'np'"):
        bert_tok(["one"], return_tensors="np")


def test_padding_to_max_length(bert_tok, hf_bert):
    ours = bert_tok("hello", padding="max_length", max_length=8)
    theirs = hf_bert("hello", padding="max_length", max_length=8)
    assert ours == {k: theirs[k] for k in ours}


@pytest.fixture(scope="module")
def hf_bert(bert_dir):
    return transformers.BertTokenizerFast.from_pretrained(bert_dir)


@pytest.mark.parametrize("max_length", [3, 8, 17, 64])
def test_pair_truncation_matches_transformers_longest_first(bert_tok, hf_bert, t5_tok, hf_t5,
                                                            corpus, max_length):
    pairs = [(corpus[i], corpus[-1 - i]) for i in range(0, 60, 3)]
    firsts, seconds = [a for a, _ in pairs], [b for _, b in pairs]
    for ours, theirs in ((bert_tok, hf_bert), (t5_tok, hf_t5)):
        got = ours(pairs, max_length=max_length, padding=False)["input_ids"]
        want = theirs(firsts, seconds, max_length=max_length, truncation="longest_first")["input_ids"]
        assert got == want, ours


def test_single_truncation_keeps_the_special_tokens(bert_tok, t5_tok):
    long_text = "word " * 1000
    ids = bert_tok.encode_plus(long_text, max_length=10)["input_ids"]
    assert len(ids) == 10 and ids[0] == 101 and ids[-1] == 102
    ids = t5_tok.encode_plus(long_text, max_length=10)["input_ids"]
    assert len(ids) == 10 and ids[-1] == t5_tok.get_command_id("eos")


def test_default_max_length_is_model_max_length(bert_tok):
    assert bert_tok.model_max_length == 512
    assert len(bert_tok.encode_plus("word " * 1000)["input_ids"]) == 512


def test_max_length_must_fit_the_special_tokens(bert_tok):
    with pytest.raises(TokenizerError, match="below the 3 special tokens"):
        bert_tok.encode_plus("a", "b", max_length=2)
    with pytest.raises(TokenizerError, match="positive int"):
        bert_tok.encode_plus("a", max_length=0)


@pytest.mark.parametrize("kind", KINDS)
def test_decode_and_batch_decode(all_toks, kind):
    tok = all_toks[kind]
    ids = tok.encode("hello world")
    text = tok.decode(ids)
    assert text.strip() == "hello world"
    assert tok.batch_decode([ids, ids]) == [text, text]
    assert tok.decode(torch.tensor(ids)) == text


def test_decode_keeps_special_tokens_on_request(bert_tok):
    ids = bert_tok.encode("hello")
    assert bert_tok.decode(ids, skip_special_tokens=False) == "[CLS] hello [SEP]"
    assert bert_tok.decode(ids) == "hello"


@pytest.mark.parametrize("kind", KINDS)
def test_token_id_lookups_round_trip(all_toks, kind):
    tok = all_toks[kind]
    ids = tok.encode("hello world", add_special_tokens=False)
    tokens = tok.convert_ids_to_tokens(ids)
    assert tokens == tok.tokenize("hello world")
    assert tok.convert_tokens_to_ids(tokens) == ids
    assert tok.convert_tokens_to_ids(tokens[0]) == ids[0]
    assert len(tok) == tok.vocab_size


def test_unknown_token_maps_to_unk(bert_tok):
    assert bert_tok.convert_tokens_to_ids("not-a-real-token-xyz") == bert_tok.get_command_id("unk")


def test_bert_offsets_give_ner_spans_in_the_original_text(bert_tok):
    text = "Angela Merkel visited 北京 on 2019-09-06, said Reuters."
    enc = bert_tok.encode_plus(text, return_offsets_mapping=True)
    tokens = bert_tok.convert_ids_to_tokens(enc["input_ids"])
    for token, (start, end) in zip(tokens, enc["offset_mapping"]):
        if token in ("[CLS]", "[SEP]"):
            assert (start, end) == (0, 0)
        elif token != "[UNK]":
            assert text[start:end].lower() == token.removeprefix("##"), (token, start, end)
    assert bert_tok.encode_plus(text)["input_ids"] == enc["input_ids"]


def test_call_dispatches_on_type(bert_tok):
    assert bert_tok("hello")["input_ids"] == bert_tok.encode("hello")
    assert bert_tok(["hello"])["input_ids"] == [bert_tok.encode("hello")]
    assert bert_tok(["a"], ["b"])["input_ids"] == [bert_tok.encode("a", "b")]


def test_bad_options_are_refused(bert_tok, load, bert_dir):
    with pytest.raises(TokenizerError, match="padding must be"):
        bert_tok(["a"], padding="yes")
    with pytest.raises(TokenizerError, match="padding_side"):
        bert_tok(["a"], padding_side="middle")
    with pytest.raises(TokenizerError, match="unknown option.*lowercase"):
        load(bert_dir, lowercase=True)
