"""Layer-level checks against reference formulas and transformers' own helpers."""
import pytest
import torch

from flagai_lite.errors import ConfigError
from flagai_lite.layer import (
    Attention,
    KVCache,
    RMSNorm,
    build_attn_bias,
    get_activation,
    relative_position_bucket,
    roberta_position_ids,
)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_relative_position_bucket_matches_transformers(bidirectional):
    t5 = pytest.importorskip("transformers.models.t5.modeling_t5")
    relative = torch.arange(-300, 300)[None, :] - torch.arange(0, 40)[:, None]
    expected = t5.T5Attention._relative_position_bucket(relative, bidirectional=bidirectional, num_buckets=32,
                                                        max_distance=128)
    got = relative_position_bucket(relative, bidirectional=bidirectional, num_buckets=32, max_distance=128)
    assert torch.equal(got, expected)


def test_rms_norm_matches_formula_in_float32_and_bfloat16():
    torch.manual_seed(0)
    norm = RMSNorm(8, eps=1e-6)
    norm.weight.data = torch.randn(8)
    x = torch.randn(2, 3, 8)
    expected = norm.weight * (x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6))
    torch.testing.assert_close(norm(x), expected)
    norm_bf16 = norm.to(torch.bfloat16)
    out = norm_bf16(x.to(torch.bfloat16))
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), expected, atol=5e-2, rtol=2e-2)


def test_padding_and_causal_bias():
    mask = torch.tensor([[0, 1, 1]])
    bias, is_causal = build_attn_bias(attention_mask=mask, query_length=3, key_length=3, causal=True,
                                      dtype=torch.float32, device=torch.device("cpu"))
    allowed = bias[0, 0] == 0
    assert not is_causal
    assert allowed.tolist() == [[False, False, False], [False, True, False], [False, True, True]]
    assert torch.isfinite(bias).all()
    none, causal = build_attn_bias(attention_mask=torch.ones(1, 3), query_length=3, key_length=3, causal=True,
                                   dtype=torch.float32, device=torch.device("cpu"))
    assert none is None and causal


def test_roberta_positions_skip_padding():
    ids = torch.tensor([[5, 6, 7, 1, 1]])
    assert roberta_position_ids(ids, padding_idx=1).tolist() == [[2, 3, 4, 1, 1]]


def test_kv_cache_grows_and_reorders():
    cache = KVCache(num_layers=1, capacity=2)
    k = torch.arange(2 * 1 * 3 * 1, dtype=torch.float32).view(2, 1, 3, 1)
    keys, _ = cache.update(0, k, k)
    assert keys.shape == (2, 1, 3, 1) and cache.seq_length == 3
    keys, _ = cache.update(0, k[:, :, :1] + 100, k[:, :, :1])
    assert keys.shape == (2, 1, 4, 1) and torch.equal(keys[:, :, :3], k)
    cache.reorder(torch.tensor([1, 1]))
    assert torch.equal(cache.keys[0][0, :4], cache.keys[0][1, :4])


def test_attention_with_cache_equals_without():
    torch.manual_seed(0)
    attn = Attention(hidden_size=16, num_heads=4, num_kv_heads=2).eval()
    x = torch.randn(2, 5, 16)
    full = attn(x, is_causal=True)
    cache = KVCache(1)
    steps = [attn(x[:, t : t + 1], cache=cache) for t in range(5)]
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-6, rtol=1e-5)


def test_bad_layer_arguments():
    with pytest.raises(ConfigError, match="must divide hidden_size"):
        Attention(hidden_size=10, num_heads=4)
    with pytest.raises(ConfigError, match="must divide num_heads"):
        Attention(hidden_size=16, num_heads=4, num_kv_heads=3)
    with pytest.raises(ConfigError, match="unknown activation 'nope'.*gelu"):
        get_activation("nope")
