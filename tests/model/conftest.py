"""Tiny random Hugging Face models saved with save_pretrained, for parity tests."""
import pytest
import torch

transformers = pytest.importorskip("transformers")

VOCAB = 99


def _tiny_hf(kind: str):
    t = transformers
    torch.manual_seed(0)
    if kind == "bert":
        cfg = t.BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                           intermediate_size=37, max_position_embeddings=64, pad_token_id=0)
        return t.BertForMaskedLM(cfg)
    if kind == "roberta":
        cfg = t.RobertaConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                              intermediate_size=37, max_position_embeddings=64, pad_token_id=1)
        return t.RobertaForMaskedLM(cfg)
    if kind == "gpt2":
        cfg = t.GPT2Config(vocab_size=VOCAB, n_positions=64, n_embd=32, n_layer=2, n_head=4,
                           bos_token_id=1, eos_token_id=2, pad_token_id=0)
        return t.GPT2LMHeadModel(cfg)
    common = dict(vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_decoder_layers=3, num_heads=4,
                  relative_attention_num_buckets=8, relative_attention_max_distance=20, decoder_start_token_id=0)
    if kind == "t5":
        return t.T5ForConditionalGeneration(t.T5Config(**common))
    if kind == "t5-v1_1":
        cfg = t.T5Config(feed_forward_proj="gated-gelu", tie_word_embeddings=False, **common)
        return t.T5ForConditionalGeneration(cfg)
    if kind == "mt5":
        return t.MT5ForConditionalGeneration(t.MT5Config(feed_forward_proj="gated-gelu", **common))
    raise ValueError(kind)


@pytest.fixture(scope="session")
def hf_tiny(tmp_path_factory):
    """``hf_tiny(kind) -> (hf_model_in_eval_mode, saved_dir)``, cached per session."""
    made = {}

    def make(kind: str):
        if kind not in made:
            model = _tiny_hf(kind).eval()
            path = tmp_path_factory.mktemp(f"hf-{kind}")
            model.save_pretrained(path)
            made[kind] = (model, path)
        return made[kind]

    return make


@pytest.fixture
def padded_batch():
    """``(input_ids, attention_mask)``: 3 rows of length 10, rows 1 and 2 right-padded."""
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(3, VOCAB, (3, 10), generator=gen)
    mask = torch.ones(3, 10, dtype=torch.long)
    mask[1, 6:] = 0
    mask[2, 3:] = 0
    return ids, mask
