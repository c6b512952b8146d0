"""Tokenizers: one entry point that picks the engine from the files in a model directory.

    from flagai_lite.tokenizer import Tokenizer
    tokenizer = Tokenizer.from_pretrained("checkpoints", "GLM-large-ch")

Importing this package is cheap: ``tokenizers``, ``sentencepiece`` and ``torch`` are imported only
when a tokenizer is built or tensors are asked for.
"""
from flagai_lite.tokenizer.base import Tokenizer
from flagai_lite.tokenizer.special_tokens import CommandToken

__all__ = ["Tokenizer", "CommandToken"]
