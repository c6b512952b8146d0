"""GPT-2 byte-level BPE: a vocab trained here with `tokenizers`, compared with GPT2TokenizerFast."""
import pytest

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def hf_gpt2(gpt2_dir):
    return transformers.GPT2TokenizerFast.from_pretrained(gpt2_dir)


def test_engine_and_kind(gpt2_tok):
    assert gpt2_tok.engine.name == "bpe" and gpt2_tok.kind == "gpt2"
    assert gpt2_tok.vocab_size == 1200


def test_ids_match_gpt2_fast(gpt2_tok, hf_gpt2, corpus):
    ours = gpt2_tok.batch_encode_plus(corpus, padding=False)["input_ids"]
    theirs = hf_gpt2(corpus)["input_ids"]
    assert [line for line, a, b in zip(corpus, ours, theirs) if a != b] == []
    assert [gpt2_tok.encode(x) for x in corpus[:20]] == theirs[:20]
    assert [gpt2_tok.tokenize(x) for x in corpus] == [hf_gpt2.tokenize(x) for x in corpus]


def test_pair_ids_are_the_concatenation(gpt2_tok, hf_gpt2, pairs):
    for a, b in pairs[:20]:
        assert gpt2_tok.encode(a, b) == hf_gpt2(a, b)["input_ids"] == gpt2_tok.encode(a) + gpt2_tok.encode(b)


def test_no_special_tokens_are_added(gpt2_tok):
    assert gpt2_tok.encode("") == []
    assert gpt2_tok.encode("hello") == gpt2_tok.encode("hello", add_special_tokens=False)


def test_decode_gives_every_line_back(gpt2_tok, corpus):
    # skip_special_tokens=False: one corpus line holds a literal <|endoftext|>, which decode
    # drops by default like any special token
    assert [x for x in corpus if gpt2_tok.decode(gpt2_tok.encode(x), skip_special_tokens=False) != x] == []
    plain = [x for x in corpus if "<|endoftext|>" not in x]
    assert [x for x in plain if gpt2_tok.decode(gpt2_tok.encode(x)) != x] == []


def test_endoftext_in_text_is_one_special_token(gpt2_tok, hf_gpt2):
    eot = gpt2_tok.get_command_id("eos")
    ids = gpt2_tok.encode("one<|endoftext|>two")
    assert ids.count(eot) == 1 and ids == hf_gpt2("one<|endoftext|>two")["input_ids"]
    assert gpt2_tok.decode(ids) == "onetwo"


def test_offsets_cover_the_word_not_the_space_before_it(gpt2_tok):
    # "Ġworld" spans "world", not " world"; the three byte tokens of an emoji share its span
    text = "hello world  café 😀!"
    spans = gpt2_tok.encode_plus(text, return_offsets_mapping=True)["offset_mapping"]
    assert all(text[s:e] == text[s:e].strip() for s, e in spans)
    covered = sorted({i for s, e in spans for i in range(s, e)})
    assert covered == [i for i, ch in enumerate(text) if not ch.isspace()]
    assert (6, 7) in spans and (13, 17) in spans  # "w" of world, "café"


def test_gpt2_pads_with_endoftext_like_flagai(gpt2_tok):
    batch = gpt2_tok(["a", "a much longer line"], padding_side="left")
    eot = gpt2_tok.get_command_id("eos")
    assert gpt2_tok.get_command_id("pad") == eot
    assert batch["input_ids"][0][0] == eot and batch["attention_mask"][0][0] == 0
