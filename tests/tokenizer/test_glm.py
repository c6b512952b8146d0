"""GLM command tokens: the ids FlagAI's GLM tokenizers append after the base vocabulary.

Expected ids are FlagAI's (GLMLargeChTokenizer with fix_command_token=True,
GLMLargeEnWordPieceTokenizer, GLM10bENBPETokenizer), written out for base size N.
"""
import pytest

from flagai_lite.errors import TokenizerError


def _commands(tok):
    return {name: tok.get_command_id(name) for name in tok.command_names}


def test_glm_large_ch_layout_over_sentencepiece(glm_ch_tok):
    n = 700  # pieces in the trained cog-pretrain.model
    assert glm_ch_tok.kind == "glm" and glm_ch_tok.engine.name == "sentencepiece"
    assert _commands(glm_ch_tok) == {
        "pad": n, "eos": n, "sep": n + 1, "cls": n + 2, "mask": n + 3, "unk": n + 4,
        "sop": n + 6, "eop": n + 7, "sMASK": n + 8, "gMASK": n + 9,
    }
    assert glm_ch_tok.vocab_size == n + 10


def test_glm_large_en_layout_over_wordpiece(glm_en_tok):
    assert glm_en_tok.kind == "glm" and glm_en_tok.engine.name == "wordpiece"
    assert _commands(glm_en_tok) == {
        "pad": 0, "cls": 101, "mask": 103, "unk": 100, "sep": 102, "eos": 0,
        "sop": 30522, "eop": 30523, "gMASK": 30524, "sMASK": 30525,
    }
    assert glm_en_tok.vocab_size == 30526


def test_glm_10b_en_layout_over_bpe(load, gpt2_dir):
    tok = load(gpt2_dir, kind="glm")
    n = 1200
    assert _commands(tok) == {
        "pad": 0, "eos": 0, "sop": n, "eop": n + 1, "cls": n + 2, "mask": n + 3, "sep": n + 4,
        "unk": n + 5, "gMASK": n + 6, "sMASK": n + 7,
    }


def test_glm_adds_no_special_tokens_around_text(glm_en_tok, glm_ch_tok, bert_tok, t5_tok):
    # GLM's blank-infilling code lays out [CLS] / [gMASK] / <|startofpiece|> itself
    assert glm_en_tok.encode("hello world") == bert_tok.encode("hello world")[1:-1]
    assert glm_ch_tok.encode("hello world") == t5_tok.encode("hello world")[:-1]


@pytest.mark.parametrize("name", ["glm_ch_tok", "glm_en_tok"])
def test_command_tokens_in_text_are_matched_whole(request, name):
    tok = request.getfixturevalue(name)
    ids = tok.encode("hello [gMASK] world <|startofpiece|>")
    assert tok.get_command_id("gMASK") in ids and tok.get_command_id("sop") in ids
    text = tok.decode(ids, skip_special_tokens=False)
    assert "[gMASK]" in text and "<|startofpiece|>" in text
    assert "[gMASK]" not in tok.decode(ids)


def test_command_names_are_case_insensitive_with_flagai_aliases(glm_en_tok):
    assert glm_en_tok.get_command_id("MASK") == glm_en_tok.get_command_id("mask") == 103
    assert glm_en_tok.get_command_id("ENC") == glm_en_tok.get_command_id("cls") == 101
    assert glm_en_tok.get_command_id("gmask") == 30524


def test_unknown_command_name_lists_valid_names(glm_ch_tok, bert_tok):
    with pytest.raises(TokenizerError, match="valid names: .*sop.*gMASK"):
        glm_ch_tok.get_command_id("blank")
    with pytest.raises(TokenizerError, match="no command token 'sop' .*valid names: pad"):
        bert_tok.get_command_id("sop")  # BERT has no GLM command tokens


def test_glm_kind_is_detected_from_the_model_name(load, bert_dir, glm_en_dir):
    assert load(glm_en_dir.parent, model_name="GLM-large-en").kind == "glm"
    assert load(bert_dir).kind == "bert"
