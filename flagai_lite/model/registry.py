"""Which model class serves which config.json ``model_type`` (imports are lazy)."""
import importlib
import os
from pathlib import Path
from typing import Dict, Type

from ..errors import ConfigError
from .config import read_json_config

# model_type -> "module:Class"
_MODEL_TYPES: Dict[str, str] = {
    "bert": "flagai_lite.model.bert:BertModel",
    "roberta": "flagai_lite.model.bert:BertModel",
    "gpt2": "flagai_lite.model.gpt2:GPT2Model",
    "t5": "flagai_lite.model.t5:T5Model",
    "mt5": "flagai_lite.model.t5:T5Model",
    # FlagAI's GLM-1 (its configs carry no model_type; ours are told apart by their fields, see below).
    "glm1": "flagai_lite.model.glm:GLMModel",
    # LLaMA family (Hugging Face layouts); "glm" is transformers' GLM-4 (GlmForCausalLM).
    "llama": "flagai_lite.model.llama:LlamaModel",
    "aquila": "flagai_lite.model.llama:LlamaModel",
    "qwen2": "flagai_lite.model.llama:LlamaModel",
    "mistral": "flagai_lite.model.llama:LlamaModel",
    "glm": "flagai_lite.model.llama:LlamaModel",
}

# Fields only FlagAI's GLM-1 config.json has; a "glm" config with them is GLM-1, not GLM-4.
_GLM1_FIELDS = ("max_sequence_length", "block_position_encoding")


def register_model_type(model_type: str, target: str) -> None:
    """Map ``model_type`` to ``"module:Class"``; refuses to overwrite an existing entry."""
    if model_type in _MODEL_TYPES:
        raise ConfigError(f"model_type {model_type!r} is already registered to {_MODEL_TYPES[model_type]}")
    _MODEL_TYPES[model_type] = target


def model_types() -> list:
    """Every registered model_type."""
    return sorted(_MODEL_TYPES)


def model_class_for_type(model_type: str, *, source: str = "config.json") -> Type:
    """The class serving ``model_type``; ConfigError listing the known types otherwise."""
    target = _MODEL_TYPES.get(model_type)
    if target is None:
        raise ConfigError(
            f"{source}: unknown model_type {model_type!r}; flagai_lite supports {', '.join(model_types())}"
        )
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def guess_model_type(config: Dict) -> str:
    """``model_type`` of a config.json; FlagAI's own configs lack it, so it is read off their field names.

    "glm" is transformers' GLM-4 unless the config has GLM-1 fields (FlagAI's GLM-1 files have no
    model_type; GLM-1 saves of this library before the "glm1" type wrote "glm").
    """
    model_type = config.get("model_type")
    if model_type in (None, "glm") and any(field in config for field in _GLM1_FIELDS):
        return "glm1"
    if model_type is not None:
        return model_type
    for field, guess in (("n_layer", "gpt2"), ("d_model", "t5"), ("num_hidden_layers", "bert")):
        if field in config:
            return guess
    raise ConfigError("config.json has no 'model_type' and its fields match no known family; add \"model_type\"")


def model_class_for_dir(model_dir: "os.PathLike[str] | str") -> Type:
    """The model class for a model directory, from its config.json."""
    path = Path(model_dir) / "config.json"
    try:
        model_type = guess_model_type(read_json_config(path))
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    return model_class_for_type(model_type, source=str(path))


# Families whose config presets name FlagAI models (GLM-large-ch, BERT-base-en, ...).
_PRESET_FAMILIES = ("glm1", "bert", "gpt2", "t5", "llama")


def find_preset(name: str) -> "tuple | None":
    """``(canonical name, model class)`` of a preset named ``name`` (case-insensitive), or None."""
    for model_type in _PRESET_FAMILIES:
        if model_type not in _MODEL_TYPES:
            continue
        cls = model_class_for_type(model_type)
        for preset in cls.config_class.presets:
            if preset.lower() == str(name).lower():
                return preset, cls
    return None


def preset_names() -> list:
    """Every preset model name, sorted."""
    names = []
    for model_type in _PRESET_FAMILIES:
        if model_type in _MODEL_TYPES:
            names.extend(model_class_for_type(model_type).config_class.presets)
    return sorted(names, key=str.lower)
