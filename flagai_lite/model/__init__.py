"""Model families (lazy): ``from flagai_lite.model import BertModel`` imports only the BERT module."""
import importlib
from typing import Any

_LAZY = {
    "BaseModel": "flagai_lite.model.base",
    "ModelConfig": "flagai_lite.model.config",
    "BertModel": "flagai_lite.model.bert",
    "BertConfig": "flagai_lite.model.bert",
    "GPT2Model": "flagai_lite.model.gpt2",
    "GPT2Config": "flagai_lite.model.gpt2",
    "T5Model": "flagai_lite.model.t5",
    "T5Config": "flagai_lite.model.t5",
    "GLMModel": "flagai_lite.model.glm",
    "GLMConfig": "flagai_lite.model.glm",
    "LlamaModel": "flagai_lite.model.llama",
    "LlamaConfig": "flagai_lite.model.llama",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flagai_lite.model' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
