"""Tiny random GPT-2 and T5 models in both libraries, from the same weights."""
import pytest
import torch

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def gpt2_pair(tmp_path_factory):
    from flagai_lite.model.gpt2 import GPT2Model

    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=99, n_positions=64, n_embd=32, n_layer=2, n_head=4,
                                  bos_token_id=1, eos_token_id=2, pad_token_id=0)
    hf = transformers.GPT2LMHeadModel(cfg).eval()
    path = tmp_path_factory.mktemp("gen-gpt2")
    hf.save_pretrained(path)
    return hf, GPT2Model.from_pretrain(path)


@pytest.fixture(scope="module")
def t5_pair(tmp_path_factory):
    from flagai_lite.model.t5 import T5Model

    torch.manual_seed(0)
    cfg = transformers.T5Config(vocab_size=99, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                                relative_attention_num_buckets=8, relative_attention_max_distance=20,
                                decoder_start_token_id=0, eos_token_id=1, pad_token_id=0)
    hf = transformers.T5ForConditionalGeneration(cfg).eval()
    path = tmp_path_factory.mktemp("gen-t5")
    hf.save_pretrained(path)
    return hf, T5Model.from_pretrain(path)
