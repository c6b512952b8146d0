"""WordPiece parity with transformers (test-only reference) on the real all-MiniLM-L6-v2 vocab.txt.

transformers 5 has one BertTokenizer (Rust-backed, = BertTokenizerFast) and the pure-Python
BertTokenizerLegacy (the old "slow" tokenizer). Ids and tokens are compared with both; offsets only
with the fast one (the slow tokenizer has none).
"""
import pytest

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def hf_fast(bert_dir):
    return transformers.BertTokenizerFast.from_pretrained(bert_dir)


@pytest.fixture(scope="module")
def hf_slow(bert_dir):
    from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy

    return BertTokenizerLegacy(vocab_file=str(bert_dir / "vocab.txt"), do_lower_case=True)


def _mismatches(corpus, ours, theirs):
    return [line for line, a, b in zip(corpus, ours, theirs) if a != b]


def test_engine_is_wordpiece_from_vocab_txt(bert_tok):
    assert bert_tok.engine.name == "wordpiece" and bert_tok.kind == "bert"
    assert bert_tok.vocab_size == 30522


def test_single_ids_tokens_offsets_match_bert_fast(bert_tok, hf_fast, corpus):
    ours = bert_tok.batch_encode_plus(corpus, padding=False, return_offsets_mapping=True)
    theirs = hf_fast(corpus, return_offsets_mapping=True)
    assert _mismatches(corpus, ours["input_ids"], theirs["input_ids"]) == []
    assert _mismatches(corpus, ours["offset_mapping"],
                       [[tuple(o) for o in row] for row in theirs["offset_mapping"]]) == []
    assert ours["token_type_ids"] == theirs["token_type_ids"]
    assert _mismatches(corpus, [bert_tok.tokenize(x) for x in corpus],
                       [hf_fast.tokenize(x) for x in corpus]) == []


def test_pairs_match_bert_fast(bert_tok, hf_fast, pairs):
    ours = bert_tok.batch_encode_plus(pairs, padding=False, return_offsets_mapping=True)
    theirs = hf_fast([a for a, _ in pairs], [b for _, b in pairs], return_offsets_mapping=True)
    assert ours["input_ids"] == theirs["input_ids"]
    assert ours["token_type_ids"] == theirs["token_type_ids"]
    assert ours["offset_mapping"] == [[tuple(o) for o in row] for row in theirs["offset_mapping"]]


def test_single_and_pair_ids_match_bert_slow(bert_tok, hf_slow, corpus, pairs):
    assert _mismatches(corpus, [bert_tok.encode(x) for x in corpus],
                       [hf_slow.encode(x) for x in corpus]) == []
    assert _mismatches(corpus, [bert_tok.tokenize(x) for x in corpus],
                       [hf_slow.tokenize(x) for x in corpus]) == []
    assert [bert_tok.encode(a, b) for a, b in pairs] == [hf_slow.encode(a, b) for a, b in pairs]


def test_encode_plus_matches_single_encode(bert_tok, hf_fast):
    text = "Paris is the [MASK] of France."
    ours = bert_tok.encode_plus(text)
    assert ours["input_ids"] == hf_fast(text)["input_ids"] == bert_tok.encode(text)
    assert bert_tok.get_command_id("mask") in ours["input_ids"]


def test_tokenizer_json_gives_the_same_ids(load, minilm_dir, bert_tok, corpus):
    from_json = load(minilm_dir)  # the folder also has tokenizer.json, which wins
    assert from_json.engine.name == "tokenizer.json"
    ours = from_json.batch_encode_plus(corpus, padding=False, return_offsets_mapping=True)
    ref = bert_tok.batch_encode_plus(corpus, padding=False, return_offsets_mapping=True)
    assert ours == ref


def test_tokenizer_json_fixed_padding_is_not_applied(load, minilm_dir):
    # that tokenizer.json pads every sequence to 128 and truncates at 128; we decide per call
    tok = load(minilm_dir)
    assert tok.encode("hello") == [101, 7592, 102]


def test_chinese_vocab_splits_one_token_per_character(load, chinese_bert_dir, corpus):
    ours = load(chinese_bert_dir)
    hf = transformers.BertTokenizerFast.from_pretrained(chinese_bert_dir)
    assert ours.tokenize("我爱北京天安门。") == ["我", "爱", "北", "京", "天", "安", "门", "。"]
    got = ours.batch_encode_plus(corpus, padding=False, return_offsets_mapping=True)
    want = hf(corpus, return_offsets_mapping=True)
    assert _mismatches(corpus, got["input_ids"], want["input_ids"]) == []
    assert got["offset_mapping"] == [[tuple(o) for o in row] for row in want["offset_mapping"]]


@pytest.mark.parametrize("options", [
    {"do_lower_case": False},
    {"do_lower_case": True, "strip_accents": False},
    {"do_lower_case": True, "tokenize_chinese_chars": False},
])
def test_config_flags_are_honoured(load, bert_dir, corpus, options):
    ours = load(bert_dir, **options)
    hf = transformers.BertTokenizerFast.from_pretrained(bert_dir, **options)
    got = ours.batch_encode_plus(corpus, padding=False)["input_ids"]
    assert _mismatches(corpus, got, hf(corpus)["input_ids"]) == []


def test_vocab_without_config_is_lowercased_when_uncased(load, tmp_path, minilm_dir):
    (tmp_path / "vocab.txt").write_bytes((minilm_dir / "vocab.txt").read_bytes())
    tok = load(tmp_path)
    assert tok.tokenize("HELLO World") == ["hello", "world"]


def test_cased_vocab_without_config_keeps_case(load, tmp_path):
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "Hello", "hello", "World", "world"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tok = load(tmp_path)
    assert tok.tokenize("Hello world") == ["Hello", "world"]
