"""Text generation: greedy, beam search and sampling over a model's KV-cached decoding session."""
from .api import generate
from .mixins import CausalLMGenerationMixin, GenerationMixin, Seq2SeqGenerationMixin
from .processors import LogitsPipeline
from .streamer import CallbackStreamer, TextStreamer

__all__ = [
    "CallbackStreamer",
    "CausalLMGenerationMixin",
    "GenerationMixin",
    "LogitsPipeline",
    "Seq2SeqGenerationMixin",
    "TextStreamer",
    "generate",
]
