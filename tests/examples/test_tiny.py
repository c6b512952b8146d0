"""flagai_lite.tiny: tiny model directories with a tokenizer built from given texts, for every family."""
import json

import pytest
import torch

from flagai_lite.errors import ConfigError
from flagai_lite.model.registry import model_class_for_dir
from flagai_lite.tiny import make_tiny_model_dir, wordpiece_vocab
from flagai_lite.tokenizer import Tokenizer

TEXTS = ["Alice Moreau flew from Lisbon to Paris.", "The cat sat on the mat!", "张三在北京工作", "Café au lait, 2015"]
FAMILIES = {"bert": "BertModel", "roberta": "BertModel", "gpt2": "GPT2Model", "t5": "T5Model", "glm": "GLMModel"}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_makes_a_loadable_directory_whose_tokenizer_covers_the_texts(family, tmp_path):
    rng_before = torch.random.get_rng_state()
    path = make_tiny_model_dir(family, TEXTS, tmp_path / f"tiny-{family}", hidden=32, layers=2, heads=4)
    assert torch.equal(torch.random.get_rng_state(), rng_before)  # the caller's RNG is left alone
    assert model_class_for_dir(path).__name__ == FAMILIES[family]
    tokenizer = Tokenizer.from_pretrained(path)
    unk = tokenizer.get_command_id("unk")
    for text in TEXTS + ["quartz jumps over 7 lazy wolves?"]:  # unseen English words are spelled, not [UNK]
        assert unk not in tokenizer.encode(text, add_special_tokens=False), text
    model = model_class_for_dir(path).from_pretrain(path)
    assert model.config.vocab_size == tokenizer.vocab_size
    expected_kind = {"t5": "t5", "glm": "glm"}.get(family, "bert")
    assert tokenizer.kind == expected_kind
    assert not list(tmp_path.glob(".*tmp*"))  # written under a temporary name, then renamed


def test_sizes_dropout_and_overrides_reach_the_config(tmp_path):
    path = make_tiny_model_dir("t5", TEXTS, tmp_path / "t5", hidden=48, layers=3, heads=6, intermediate=40,
                               dropout=0.0, relative_attention_num_buckets=8)
    config = json.loads((path / "config.json").read_text())
    sizes = [config[k] for k in ("d_model", "d_kv", "d_ff", "num_layers", "num_heads")]
    assert sizes == [48, 8, 40, 3, 6]
    assert config["dropout_rate"] == 0.0 and config["relative_attention_num_buckets"] == 8


def test_same_seed_same_weights_and_an_existing_model_is_refused(tmp_path):
    a = make_tiny_model_dir("bert", TEXTS, tmp_path / "a", seed=3)
    b = make_tiny_model_dir("bert", TEXTS, tmp_path / "b", seed=3)
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    with pytest.raises(FileExistsError, match="already holds a model; pass overwrite=True"):
        make_tiny_model_dir("bert", TEXTS, a)
    make_tiny_model_dir("bert", TEXTS, a, seed=4, overwrite=True)
    assert (a / "model.safetensors").read_bytes() != (b / "model.safetensors").read_bytes()


def test_bad_arguments(tmp_path):
    with pytest.raises(ConfigError, match="unknown tiny model family 'bart'; choose one of bert, roberta"):
        make_tiny_model_dir("bart", TEXTS, tmp_path / "x")
    with pytest.raises(ConfigError, match="needs some texts"):
        make_tiny_model_dir("bert", ["", "  "], tmp_path / "x")
    with pytest.raises(ConfigError, match="num_attention_heads"):
        make_tiny_model_dir("bert", TEXTS, tmp_path / "x", hidden=30, heads=4)
    assert not (tmp_path / "x").exists() and not list(tmp_path.iterdir())


def test_wordpiece_vocab_words_characters_and_rare_words():
    vocab = wordpiece_vocab(["the cat and the dog", "the cat", "Zoë"], min_frequency=2)
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert {"the", "cat", "e", "##e", "q", "##q", "7", "?"} <= set(vocab)  # words seen twice, every character
    assert "dog" not in vocab and "zoe" not in vocab  # seen once: spelled with character pieces
    assert "张" in wordpiece_vocab(["张三在北京工作"]) and "张三在北京工作" not in wordpiece_vocab(["张三在北京工作"])
    assert len(wordpiece_vocab(["a b c dd ee ff gg"], max_size=5 + 2 * 68 + 2)) == 5 + 2 * 68 + 2
