"""File detection: which engine a directory gets, config files beside the vocab, clear errors."""
import json
import logging
import shutil

import pytest

from flagai_lite.errors import TokenizerError


def _copy(src, dst, *names):
    dst.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(src / name, dst / name)
    return dst


def test_tokenizer_json_wins_over_vocab_txt(load, minilm_dir):
    assert load(minilm_dir).engine.name == "tokenizer.json"
    assert load(minilm_dir, engine="wordpiece").engine.name == "wordpiece"


def test_bpe_needs_both_vocab_json_and_merges(load, gpt2_dir, tmp_path):
    only_vocab = _copy(gpt2_dir, tmp_path / "m", "vocab.json")
    with pytest.raises(TokenizerError, match="looked for tokenizer.json, vocab.json \\+ merges.txt"):
        load(only_vocab)


def test_bpe_wins_over_vocab_txt_and_sentencepiece(load, gpt2_dir, bert_dir, t5_dir, tmp_path):
    directory = _copy(gpt2_dir, tmp_path / "m", "vocab.json", "merges.txt")
    _copy(bert_dir, directory, "vocab.txt")
    _copy(t5_dir, directory, "spiece.model")
    assert load(directory).engine.name == "bpe"
    (directory / "merges.txt").unlink()
    assert load(directory).engine.name == "wordpiece"
    (directory / "vocab.txt").unlink()
    assert load(directory).engine.name == "sentencepiece"


def test_any_single_model_file_is_sentencepiece(load, spiece_model, tmp_path):
    (tmp_path / "my_tokenizer.model").write_bytes(spiece_model)
    tok = load(tmp_path)
    assert tok.engine.name == "sentencepiece" and tok.kind == "plain"
    assert tok.encode("hello")[-1] != tok.get_command_id("eos")  # plain: nothing appended
    (tmp_path / "other.model").write_bytes(spiece_model)
    with pytest.raises(TokenizerError, match="several SentencePiece candidates"):
        load(tmp_path)


def test_stray_model_files_do_not_matter_beside_another_vocab(load, bert_dir, tmp_path):
    directory = _copy(bert_dir, tmp_path / "m", "vocab.txt")
    (directory / "a.model").write_bytes(b"x")
    (directory / "b.model").write_bytes(b"y")
    assert load(directory).engine.name == "wordpiece"


def test_cog_pretrain_model_is_glm(load, spiece_model, tmp_path):
    (tmp_path / "cog-pretrain.model").write_bytes(spiece_model)
    assert load(tmp_path).kind == "glm"


def test_unknown_engine_or_kind_is_refused(load, bert_dir):
    with pytest.raises(TokenizerError, match="unknown engine 'bert'"):
        load(bert_dir, engine="bert")
    with pytest.raises(TokenizerError, match="engine 'bpe' was requested"):
        load(bert_dir, engine="bpe")
    with pytest.raises(TokenizerError, match="unknown kind 'roberta'"):
        load(bert_dir, kind="roberta")


def test_model_name_joins_download_path(load, bert_dir):
    tok = load(bert_dir.parent, model_name=bert_dir.name)
    assert tok.engine.name == "wordpiece"


def test_special_tokens_map_and_config_are_honoured(load, bert_dir, tmp_path):
    directory = _copy(bert_dir, tmp_path / "m", "vocab.txt")
    (directory / "special_tokens_map.json").write_text(json.dumps(
        {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
         "mask_token": {"content": "[unused1]", "lstrip": False}}), encoding="utf-8")
    (directory / "tokenizer_config.json").write_text(json.dumps(
        {"do_lower_case": True, "model_max_length": 16}), encoding="utf-8")
    tok = load(directory)
    assert tok.get_command_id("mask") == 2  # "[unused1]" is line 3 of the vocab
    assert tok.encode("a [unused1] b") == [101, 1037, 2, 1038, 102]  # matched whole, special
    assert tok.model_max_length == 16


def test_configured_token_missing_from_vocab_warns_instead_of_key_error(load, bert_dir, tmp_path,
                                                                         caplog):
    # FlagAI's "KeyError '</s>'" with BERT NER: a config naming a token the vocab lacks
    directory = _copy(bert_dir, tmp_path / "m", "vocab.txt")
    (directory / "tokenizer_config.json").write_text(json.dumps({"eos_token": "</s>"}),
                                                     encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="flagai_lite.tokenizer"):
        tok = load(directory)
    assert "eos_token '</s>'" in caplog.text
    assert tok.encode("hello") == [101, 7592, 102]
    with pytest.raises(TokenizerError, match="no command token 'eos'.*valid names: pad, unk, cls"):
        tok.get_command_id("eos")


def test_added_tokens_json_is_honoured(load, bert_dir, tmp_path):
    directory = _copy(bert_dir, tmp_path / "m", "vocab.txt", "tokenizer_config.json")
    (directory / "added_tokens.json").write_text(json.dumps({"<ent>": 30522, "</ent>": 30523}),
                                                 encoding="utf-8")
    tok = load(directory)
    assert tok.vocab_size == 30524
    assert tok.encode("x <ent>y</ent>") == [101, 1060, 30522, 1061, 30523, 102]


def test_added_token_ids_must_be_contiguous(load, bert_dir, tmp_path):
    directory = _copy(bert_dir, tmp_path / "m", "vocab.txt")
    (directory / "added_tokens.json").write_text(json.dumps({"<ent>": 30600}), encoding="utf-8")
    with pytest.raises(TokenizerError, match="next free id is 30522"):
        load(directory)


def test_malformed_config_is_named(load, bert_dir, tmp_path):
    directory = _copy(bert_dir, tmp_path / "m", "vocab.txt")
    (directory / "tokenizer_config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(TokenizerError, match="tokenizer_config.json is not valid JSON"):
        load(directory)


def test_corrupt_sentencepiece_model_is_named(load, tmp_path):
    (tmp_path / "spiece.model").write_bytes(b"definitely not a protobuf")
    with pytest.raises(TokenizerError, match="spiece.model is not a SentencePiece model"):
        load(tmp_path)
