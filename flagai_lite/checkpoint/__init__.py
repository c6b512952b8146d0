"""Checkpoint file formats (io) and key-map conversion of foreign checkpoints (convert)."""
from .convert import IGNORE, KeyMap, Target, convert_state_dict
from .io import (
    LoadedState,
    find_weight_files,
    load_model_state,
    load_weight_file,
    parse_size,
    save_model_state,
)

__all__ = [
    "IGNORE",
    "KeyMap",
    "LoadedState",
    "Target",
    "convert_state_dict",
    "find_weight_files",
    "load_model_state",
    "load_weight_file",
    "parse_size",
    "save_model_state",
]
