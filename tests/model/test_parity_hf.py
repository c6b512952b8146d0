"""Numerical parity with transformers on tiny random checkpoints written by save_pretrained."""
import pytest
import torch

from flagai_lite.model.bert import BertModel
from flagai_lite.model.gpt2 import GPT2Model
from flagai_lite.model.t5 import T5Model

# Max abs difference 1e-5; the relative term only matters for T5 v1.1 / mT5, whose untied,
# unscaled logits reach ~30 where one float32 ulp is ~2e-6 (measured max abs diff there: ~7e-6).
TOL = dict(atol=1e-5, rtol=1e-6)


@pytest.mark.parametrize("kind,pad", [("bert", 0), ("roberta", 1)])
def test_bert_family_matches_transformers_on_padded_batch(hf_tiny, padded_batch, kind, pad):
    hf, path = hf_tiny(kind)
    ids, mask = padded_batch
    ids = ids.masked_fill(mask == 0, pad)
    ours = BertModel.from_pretrain(path)
    with torch.no_grad():
        expected = hf(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        got = ours(input_ids=ids, attention_mask=mask)
    # Real tokens only: our encoder skips padding (its hidden states there are zeros), while
    # transformers computes meaningless values at padded positions.
    real = mask.bool()
    torch.testing.assert_close(got["logits"][real], expected.logits[real], **TOL)
    torch.testing.assert_close(got["hidden_states"][real], expected.hidden_states[-1][real], **TOL)
    assert (got["hidden_states"][~real] == 0).all()
    assert ours.load_report.source_format == "huggingface"


def test_gpt2_matches_transformers_on_padded_batch(hf_tiny, padded_batch):
    hf, path = hf_tiny("gpt2")
    ids, mask = padded_batch
    ours = GPT2Model.from_pretrain(path)
    with torch.no_grad():
        expected = hf(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        got = ours(input_ids=ids, attention_mask=mask)
    torch.testing.assert_close(got["logits"], expected.logits, **TOL)
    torch.testing.assert_close(got["hidden_states"], expected.hidden_states[-1], **TOL)
    assert ours.lm_head.weight is ours.embeddings.word.weight


def test_gpt2_loss_matches_transformers(hf_tiny, padded_batch):
    hf, path = hf_tiny("gpt2")
    ids, mask = padded_batch
    labels = ids.masked_fill(mask == 0, -100)
    ours = GPT2Model.from_pretrain(path)
    with torch.no_grad():
        expected = hf(input_ids=ids, attention_mask=mask, labels=labels).loss
        got = ours(input_ids=ids, attention_mask=mask, labels=labels)["loss"]
    torch.testing.assert_close(got, expected, **TOL)


def test_gpt2_cached_decoding_equals_full_forward(hf_tiny, padded_batch):
    _, path = hf_tiny("gpt2")
    ids, _ = padded_batch
    ours = GPT2Model.from_pretrain(path)
    with torch.no_grad():
        full = ours(input_ids=ids)["logits"]
        prefix = ours(input_ids=ids[:, :4], use_cache=True)
        steps, cache = [prefix["logits"]], prefix["past_key_values"]
        for t in range(4, ids.shape[1]):
            out = ours(input_ids=ids[:, t : t + 1], past_key_values=cache, use_cache=True)
            steps.append(out["logits"])
            cache = out["past_key_values"]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)
    assert cache.seq_length == ids.shape[1]


def test_gpt2_cached_decoding_with_left_padding_matches_transformers(hf_tiny):
    hf, path = hf_tiny("gpt2")
    ours = GPT2Model.from_pretrain(path)
    ids = torch.tensor([[0, 0, 5, 6, 7], [8, 9, 10, 11, 12]])
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    position_ids = (mask.cumsum(-1) - 1).clamp_min(0)
    nxt = torch.tensor([[13], [14]])
    mask2 = torch.cat([mask, torch.ones(2, 1, dtype=torch.long)], dim=1)
    with torch.no_grad():
        expected = hf(input_ids=torch.cat([ids, nxt], 1), attention_mask=mask2,
                      position_ids=torch.cat([position_ids, position_ids[:, -1:] + 1], 1)).logits[:, -1]
        first = ours(input_ids=ids, attention_mask=mask, position_ids=position_ids, use_cache=True)
        got = ours(input_ids=nxt, attention_mask=mask2, position_ids=position_ids[:, -1:] + 1,
                   past_key_values=first["past_key_values"], use_cache=True)["logits"][:, -1]
    torch.testing.assert_close(got, expected, **TOL)


@pytest.mark.parametrize("kind", ["t5", "t5-v1_1", "mt5"])
def test_t5_matches_transformers_on_padded_batch(hf_tiny, padded_batch, kind):
    hf, path = hf_tiny(kind)
    ids, mask = padded_batch
    decoder_ids = torch.randint(0, 99, (3, 6), generator=torch.Generator().manual_seed(2))
    decoder_mask = torch.ones(3, 6, dtype=torch.long)
    decoder_mask[2, 4:] = 0
    ours = T5Model.from_pretrain(path)
    with torch.no_grad():
        expected = hf(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids,
                      decoder_attention_mask=decoder_mask, output_hidden_states=True)
        got = ours(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids,
                   decoder_attention_mask=decoder_mask)
    torch.testing.assert_close(got["logits"], expected.logits, **TOL)
    torch.testing.assert_close(got["hidden_states"], expected.decoder_hidden_states[-1], **TOL)
    torch.testing.assert_close(got["encoder_hidden_states"], expected.encoder_last_hidden_state, **TOL)


def test_t5_loss_with_labels_matches_transformers(hf_tiny, padded_batch):
    hf, path = hf_tiny("t5-v1_1")
    ids, mask = padded_batch
    labels = torch.tensor([[5, 6, 7, 1], [8, 9, 1, -100], [10, 1, -100, -100]])
    ours = T5Model.from_pretrain(path)
    with torch.no_grad():
        expected = hf(input_ids=ids, attention_mask=mask, labels=labels)
        got = ours(input_ids=ids, attention_mask=mask, labels=labels)
    torch.testing.assert_close(got["loss"], expected.loss, **TOL)
    torch.testing.assert_close(got["logits"], expected.logits, **TOL)


def test_t5_cached_decoding_equals_full_forward(hf_tiny, padded_batch):
    _, path = hf_tiny("t5")
    ids, mask = padded_batch
    decoder_ids = torch.randint(0, 99, (3, 6), generator=torch.Generator().manual_seed(3))
    ours = T5Model.from_pretrain(path)
    with torch.no_grad():
        full = ours(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids)
        encoder_states, cache, steps = full["encoder_hidden_states"], None, []
        for t in range(decoder_ids.shape[1]):
            out = ours(encoder_hidden_states=encoder_states, attention_mask=mask,
                       decoder_input_ids=decoder_ids[:, t : t + 1], past_key_values=cache, use_cache=True)
            cache = out["past_key_values"]
            steps.append(out["logits"])
    torch.testing.assert_close(torch.cat(steps, dim=1), full["logits"], atol=1e-5, rtol=1e-5)
