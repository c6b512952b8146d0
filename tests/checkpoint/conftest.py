"""Tiny models of every family built by us, for round-trip and bad-input tests."""
import pytest
import torch

from flagai_lite.model.bert import BertConfig, BertModel
from flagai_lite.model.gpt2 import GPT2Config, GPT2Model
from flagai_lite.model.t5 import T5Config, T5Model

TINY = {
    "bert": (BertModel, BertConfig, dict(vocab_size=64, hidden_size=16, num_hidden_layers=2,
                                         num_attention_heads=2, intermediate_size=24, max_position_embeddings=32)),
    "roberta": (BertModel, BertConfig, dict(vocab_size=64, hidden_size=16, num_hidden_layers=2, model_type="roberta",
                                            num_attention_heads=2, intermediate_size=24, max_position_embeddings=34,
                                            pad_token_id=1)),
    "gpt2": (GPT2Model, GPT2Config, dict(vocab_size=64, n_positions=32, n_embd=16, n_layer=2, n_head=2)),
    "t5": (T5Model, T5Config, dict(vocab_size=64, d_model=16, d_kv=4, d_ff=24, num_layers=2, num_heads=4)),
    "t5-gated": (T5Model, T5Config, dict(vocab_size=64, d_model=16, d_kv=4, d_ff=24, num_layers=2, num_heads=4,
                                         feed_forward_proj="gated-gelu", tie_word_embeddings=False)),
}


@pytest.fixture
def tiny_model():
    """``tiny_model(kind) -> (model_class, model)`` with random weights."""

    def make(kind: str):
        cls, cfg_cls, fields = TINY[kind]
        torch.manual_seed(0)
        return cls, cls.from_config(cfg_cls(**fields)).eval()

    return make
