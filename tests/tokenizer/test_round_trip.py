"""save_pretrained writes what from_pretrained reads: identical ids, commands and settings."""
import pytest


def _fingerprint(tok, corpus, pairs):
    singles = tok.batch_encode_plus(corpus, padding=False, return_offsets_mapping=True)
    paired = tok.batch_encode_plus(pairs, padding=False)
    commands = {name: tok.get_command_id(name) for name in tok.command_names}
    return (singles, paired["input_ids"], paired["token_type_ids"], commands, tok.vocab_size,
            tok.kind, tok.engine.name, tok.model_max_length, tok.padding_side)


@pytest.mark.parametrize("name", ["bert_dir", "minilm_dir", "chinese_bert_dir", "gpt2_dir",
                                  "t5_dir", "glm_ch_dir", "glm_en_dir"])
def test_save_then_load_gives_identical_ids(request, load, name, corpus, pairs, tmp_path):
    original = load(request.getfixturevalue(name))
    written = original.save_pretrained(tmp_path / "saved")
    assert (tmp_path / "saved" / "tokenizer_config.json") in written
    reloaded = load(tmp_path / "saved")
    assert _fingerprint(reloaded, corpus, pairs) == _fingerprint(original, corpus, pairs)


def test_options_survive_the_round_trip(load, bert_dir, tmp_path):
    original = load(bert_dir, do_lower_case=False, padding_side="left", model_max_length=64)
    original.save_pretrained(tmp_path)
    reloaded = load(tmp_path)
    assert reloaded.tokenize("Hello World") == original.tokenize("Hello World")
    assert (reloaded.padding_side, reloaded.model_max_length) == ("left", 64)


def test_added_tokens_survive_the_round_trip(load, gpt2_dir, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for name in ("vocab.json", "merges.txt"):
        (source / name).write_bytes((gpt2_dir / name).read_bytes())
    (source / "added_tokens.json").write_text('{"<sep>": 1200}', encoding="utf-8")
    original = load(source)
    original.save_pretrained(tmp_path / "saved")
    reloaded = load(tmp_path / "saved")
    assert reloaded.encode("a<sep>b") == original.encode("a<sep>b")
    assert 1200 in reloaded.encode("a<sep>b")
