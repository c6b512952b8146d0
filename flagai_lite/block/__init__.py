"""Transformer blocks: how layers form one block of each family."""
from .bert import BertBlock, BertPooler, MaskedLMHead
from .glm import GLMBlock, GLMClassificationHead
from .gpt2 import GPT2Block
from .llama import LlamaBlock
from .t5 import T5DecoderBlock, T5EncoderBlock

__all__ = [
    "BertBlock", "BertPooler", "MaskedLMHead", "GLMBlock", "GLMClassificationHead", "GPT2Block", "LlamaBlock",
    "T5DecoderBlock", "T5EncoderBlock",
]
