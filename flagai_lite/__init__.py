"""flagai_lite: a FlagAI-style model zoo.

Imports are lazy: ``import flagai_lite`` loads nothing heavy; ``flagai_lite.BertModel`` imports the
model module on first use.
"""
import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY = {
    "BertModel": "flagai_lite.model.bert",
    "GPT2Model": "flagai_lite.model.gpt2",
    "T5Model": "flagai_lite.model.t5",
    "GLMModel": "flagai_lite.model.glm",
    "AutoLoader": "flagai_lite.auto_loader",
    "Predictor": "flagai_lite.predictor",
    "Tokenizer": "flagai_lite.tokenizer",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flagai_lite' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
