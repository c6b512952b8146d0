"""Reusable layers. They take explicit keyword arguments and never see a config."""
from .activation import activation_names, get_activation
from .attention import Attention
from .embedding import TextEmbeddings
from .feedforward import FeedForward, GatedFeedForward
from .kv_cache import KVCache
from .mask import build_attn_bias, causal_bias, check_cached_mask, padding_bias
from .norm import LayerNorm, RMSNorm
from .position import RelativePositionBias, default_position_ids, relative_position_bucket, roberta_position_ids
from .rotary import RotaryEmbedding, apply_rotary, rope_frequencies

__all__ = [
    "Attention",
    "FeedForward",
    "GatedFeedForward",
    "KVCache",
    "LayerNorm",
    "RMSNorm",
    "RelativePositionBias",
    "RotaryEmbedding",
    "TextEmbeddings",
    "activation_names",
    "apply_rotary",
    "build_attn_bias",
    "causal_bias",
    "check_cached_mask",
    "default_position_ids",
    "get_activation",
    "padding_bias",
    "relative_position_bucket",
    "roberta_position_ids",
    "rope_frequencies",
]
