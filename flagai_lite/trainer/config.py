"""TrainerConfig: every Trainer option as a typed field, read from YAML and overridden on the command line.

A YAML file holds TrainerConfig fields at the top level and, optionally, one ``example:`` section with
fields that only the example script knows (data paths, model name, max length...). The command line
overrides both: ``--lr 1e-4 --epochs 3 --resume --no-progress_bar --example.max_length 128``.
Every key and value is checked before training starts; errors name the key and the expected type.
"""
import dataclasses
import difflib
import re
import sys
import typing
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Type, Union

import yaml

from ..errors import ConfigError
# The model configs' type check, shared so both kinds of config accept and refuse the same values.
from ..model.config import read_config_text, type_name, value_matches_type

ENV_TYPES = ("pytorch", "pytorchDDP")
PRECISIONS = ("fp32", "bf16", "fp16")
SCHEDULES = ("linear", "cosine", "constant")
BACKENDS = ("auto", "gloo", "nccl")
EXAMPLE_SECTION = "example"


@dataclasses.dataclass
class TrainerConfig:
    """Every Trainer option (FlagAI's keyword names where FlagAI has one). See configs/base.yaml."""

    # --- run
    env_type: str = "pytorch"  # "pytorch": one process; "pytorchDDP": one process per device, via torchrun
    experiment_name: str = "flagai_lite"  # names the TensorBoard run
    pytorch_device: str = "auto"  # "auto" (cuda when available), "cpu", "cuda"; DDP on GPU uses cuda:LOCAL_RANK
    ddp_backend: str = "auto"  # "auto" (nccl on GPU, gloo on CPU), "gloo", "nccl"
    ddp_find_unused_parameters: bool = False  # set when some parameters get no gradient in a step
    seed: int = 1234  # process r seeds python/numpy/torch with seed + r; data order uses seed + epoch
    # --- length
    epochs: int = 1
    max_steps: int = 0  # optimizer steps; > 0 replaces epochs (the data is cycled as needed)
    # --- batches
    batch_size: int = 8  # per process and micro-batch
    gradient_accumulation_steps: int = 1  # global batch = batch_size * world size * this
    eval_batch_size: Optional[int] = None  # None: batch_size
    num_workers: int = 0  # DataLoader worker processes
    # --- optimizer: AdamW; biases and norm weights (every parameter with < 2 dims) get no weight decay
    lr: float = 1e-4
    weight_decay: float = 0.01
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_eps: float = 1e-8
    clip_grad: float = 1.0  # max global gradient norm; 0 disables clipping
    # --- learning-rate schedule: warm-up, then decay (one step per optimizer step)
    lr_schedule: str = "linear"  # "linear", "cosine" or "constant" after warm-up
    warm_up: float = 0.0  # warm-up length as a fraction of all optimizer steps (FlagAI's meaning)
    warm_up_iters: int = 0  # warm-up length in optimizer steps; set this or warm_up, not both
    min_lr_ratio: float = 0.0  # floor of the decay, as a fraction of lr
    # --- precision
    precision: str = "fp32"  # "fp32", "bf16" (autocast; CPU or GPU), "fp16" (autocast + GradScaler; GPU only)
    fp16: bool = False  # FlagAI's switch: same as precision: fp16
    # --- evaluation, logging, checkpoints (intervals count optimizer steps)
    log_interval: int = 10
    eval_interval: int = 0  # 0: at the end of every epoch; always at the end of training
    save_interval: int = 0  # 0: at the end of every epoch; always at the end of training
    save_dir: Optional[str] = None  # None: no checkpoints; else save_dir/latest and save_dir/best
    best_metric: str = "loss"  # evaluation metric that picks save_dir/best
    greater_is_better: Optional[bool] = None  # None: false when best_metric contains "loss", else true
    resume: bool = False  # continue from save_dir/latest when it exists
    # --- progress
    progress_bar: bool = True  # tqdm on rank 0, and only when stderr is a terminal
    tensorboard_dir: Optional[str] = None  # write TensorBoard scalars here (needs the tensorboard package)

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value, expected = getattr(self, f.name), hints[f.name]
            if not value_matches_type(value, expected):
                raise ConfigError(f"option '{f.name}' must be {type_name(expected)}, got {value!r}")
            if expected is float and isinstance(value, int):
                setattr(self, f.name, float(value))
        if self.fp16:
            if self.precision not in ("fp32", "fp16"):
                raise ConfigError(f"option 'fp16' is true but 'precision' is {self.precision!r}; set only one")
            self.precision = "fp16"
        self._validate()

    def _validate(self) -> None:
        _choice("env_type", self.env_type, ENV_TYPES, " (DeepSpeed and BMTrain are not supported)")
        _choice("precision", self.precision, PRECISIONS)
        _choice("lr_schedule", self.lr_schedule, SCHEDULES)
        _choice("ddp_backend", self.ddp_backend, BACKENDS)
        for name in ("batch_size", "gradient_accumulation_steps", "log_interval"):
            if getattr(self, name) < 1:
                raise ConfigError(f"option '{name}' must be >= 1, got {getattr(self, name)}")
        for name in ("epochs", "max_steps", "num_workers", "eval_interval", "save_interval", "warm_up_iters",
                     "weight_decay", "clip_grad", "adam_eps"):
            if getattr(self, name) < 0:
                raise ConfigError(f"option '{name}' must be >= 0, got {getattr(self, name)}")
        if self.eval_batch_size is not None and self.eval_batch_size < 1:
            raise ConfigError(f"option 'eval_batch_size' must be >= 1 or null, got {self.eval_batch_size}")
        if self.lr <= 0:
            raise ConfigError(f"option 'lr' must be > 0, got {self.lr}")
        if self.epochs == 0 and self.max_steps == 0:
            raise ConfigError("options 'epochs' and 'max_steps' are both 0; set one of them")
        for name in ("warm_up", "adam_beta1", "adam_beta2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"option '{name}' must lie in [0, 1), got {getattr(self, name)}")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ConfigError(f"option 'min_lr_ratio' must lie in [0, 1], got {self.min_lr_ratio}")
        if self.warm_up and self.warm_up_iters:
            raise ConfigError("options 'warm_up' (a fraction) and 'warm_up_iters' (steps) are both set; keep one")
        if self.resume and self.save_dir is None:
            raise ConfigError("option 'resume' is true but 'save_dir' is null; resuming reads save_dir/latest")

    # ------------------------------------------------------------------ derived values
    @property
    def maximize_best(self) -> bool:
        """Whether a larger ``best_metric`` is better."""
        if self.greater_is_better is not None:
            return self.greater_is_better
        return "loss" not in self.best_metric

    def to_dict(self) -> Dict[str, Any]:
        """Plain dict of every option."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "options") -> "TrainerConfig":
        """Build from a mapping; unknown keys raise ConfigError naming the key and the closest option."""
        check_keys(data, field_types(cls), source)
        try:
            return cls(**data)
        except ConfigError as err:
            raise ConfigError(f"{source}: {err}") from None


# ---------------------------------------------------------------------------------- loading
def load_train_config(
    path: Union[str, Path, None],
    argv: Optional[Sequence[str]] = None,
    *,
    example_class: Optional[Type[Any]] = None,
) -> Tuple[TrainerConfig, Any]:
    """Read a YAML training config and apply command-line overrides.

    Args:
        path: the YAML file; ``--config FILE`` in ``argv`` replaces it. None requires ``--config``.
        argv: command-line words (``sys.argv[1:]`` when None): ``--lr 1e-4``, ``--epochs=3``,
            ``--resume`` / ``--no-resume`` for booleans, ``--save_dir null``, ``--example.max_length 128``.
        example_class: a dataclass describing the ``example:`` section; None returns that section
            as a dict whose keys and value types the YAML file fixes.

    Returns:
        ``(trainer_config, example)``: the TrainerConfig, and the example section (a dataclass
        instance, or a dict; ``{}`` / defaults when the file has none).

    Raises:
        ConfigError: the file is missing or not a mapping; a key is unknown (the message suggests the
            closest valid one); a value has the wrong type or range. Raised before any training work.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    path, argv = _pop_config_path(path, argv)
    data = read_yaml(path)
    example_data = data.pop(EXAMPLE_SECTION, None) or {}
    if not isinstance(example_data, dict):
        raise ConfigError(f"{path}: section '{EXAMPLE_SECTION}' must be a mapping, got {example_data!r}")
    trainer_types = field_types(TrainerConfig)
    check_keys(data, trainer_types, str(path))
    example_types = field_types(example_class) if example_class else _types_of_values(example_data)
    check_keys(example_data, example_types, f"{path}: section '{EXAMPLE_SECTION}'")
    for key, value in parse_overrides(argv, trainer_types, example_types):
        section, _, name = key.rpartition(".")
        (example_data if section else data)[name] = value
    config = TrainerConfig.from_dict(data, source=str(path))
    if example_class is None:
        return config, example_data
    return config, _build_example(example_class, example_data, f"{path}: section '{EXAMPLE_SECTION}'")


def read_yaml(path: Union[str, Path]) -> Dict[str, Any]:
    """A YAML mapping (empty file: ``{}``); ConfigError naming the file when absent or malformed."""
    path = Path(path)
    text = read_config_text(path)
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of option: value, got {type(data).__name__}")
    return data


def field_types(cls: Type[Any]) -> Dict[str, Any]:
    """Field name -> type hint of a dataclass."""
    if not dataclasses.is_dataclass(cls):
        raise ConfigError(f"example_class must be a dataclass, got {cls!r}")
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def check_keys(data: Mapping[str, Any], known: Mapping[str, Any], source: str) -> None:
    """ConfigError for the first key of ``data`` not in ``known``, suggesting the closest valid key."""
    for key in data:
        if key not in known:
            raise ConfigError(f"{source}: unknown option {key!r}{_suggest(str(key), known)}")


def parse_overrides(
    argv: Sequence[str], trainer_types: Mapping[str, Any], example_types: Mapping[str, Any]
) -> List[Tuple[str, Any]]:
    """``[(key, typed value)]`` from ``--key value`` words; example keys come back as ``example.key``."""
    out: List[Tuple[str, Any]] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        if not word.startswith("--") or word == "--":
            raise ConfigError(f"command line: unexpected argument {word!r}; options look like --lr 1e-4")
        key, has_value, text = word[2:].partition("=")
        key = key.replace("-", "_")
        negated = not has_value and _is_negated_flag(key, trainer_types, example_types)
        if negated:
            key = key.replace("no_", "", 1) if key.startswith("no_") else key.replace(".no_", ".", 1)
        expected, name = _lookup(key, trainer_types, example_types)
        if expected is None:
            known = {**trainer_types, **{f"{EXAMPLE_SECTION}.{k}": t for k, t in example_types.items()}}
            raise ConfigError(f"command line: unknown option '--{key}'{_suggest(key, known)}")
        if negated or (not has_value and expected is bool and (i + 1 == len(argv) or argv[i + 1].startswith("--"))):
            value: Any = not negated
        else:
            if not has_value:
                i += 1
                if i == len(argv):
                    raise ConfigError(f"command line: '--{key}' needs a value of type {type_name(expected)}")
                text = argv[i]
            value = convert_text(text, expected, f"command line: '--{key}'")
        out.append((name, value))
        i += 1
    return out


def convert_text(text: str, expected: Any, where: str) -> Any:
    """``text`` as a value of type ``expected`` (Optional, bool, int, float, str; else parsed as YAML)."""
    args = typing.get_args(expected)
    if typing.get_origin(expected) is Union and type(None) in args:
        if text.strip().lower() in ("null", "none", "~"):
            return None
        inner = [a for a in args if a is not type(None)]
        expected = inner[0] if len(inner) == 1 else Any
    try:
        if expected is bool:
            lowered = text.strip().lower()
            if lowered not in _BOOLS:
                raise ValueError(text)
            return _BOOLS[lowered]
        if expected is int:
            return int(text)
        if expected is float:
            return float(text)
        if expected is str:
            return text
        value = yaml.load(text, Loader=_Loader)
    except (ValueError, yaml.YAMLError):
        raise ConfigError(f"{where} must be {type_name(expected)}, got {text!r}") from None
    if not value_matches_type(value, expected):
        raise ConfigError(f"{where} must be {type_name(expected)}, got {text!r}")
    return value


# ---------------------------------------------------------------------------------- helpers
_BOOLS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


class _Loader(yaml.SafeLoader):
    """SafeLoader reading ``1e-4`` as a float (YAML 1.2), not a string, and refusing duplicate keys."""

    def construct_mapping(self, node, deep=False):  # noqa: D102 (yaml API)
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _choice(name: str, value: str, choices: Sequence[str], note: str = "") -> None:
    if value not in choices:
        raise ConfigError(f"option '{name}' must be one of {list(choices)}, got {value!r}{note}")


def _suggest(key: str, known: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f"; valid options: {', '.join(sorted(known))}"


def _lookup(key: str, trainer_types: Mapping[str, Any], example_types: Mapping[str, Any]) -> Tuple[Any, str]:
    """(expected type, key to store) for a command-line key, or (None, key) when unknown."""
    prefix = EXAMPLE_SECTION + "."
    if key.startswith(prefix):
        name = key[len(prefix):]
        return (example_types[name], key) if name in example_types else (None, key)
    return (trainer_types[key], key) if key in trainer_types else (None, key)


def _is_negated_flag(key: str, trainer_types: Mapping[str, Any], example_types: Mapping[str, Any]) -> bool:
    """Whether ``key`` is ``no_<bool option>`` (or ``example.no_<bool option>``)."""
    prefix = EXAMPLE_SECTION + "."
    head, rest = (prefix, key[len(prefix):]) if key.startswith(prefix) else ("", key)
    if not rest.startswith("no_"):
        return False
    return _lookup(head + rest[3:], trainer_types, example_types)[0] is bool


def _types_of_values(data: Mapping[str, Any]) -> Dict[str, Any]:
    """Expected types of a free-form example section: the type of each YAML value (Any for null/lists)."""
    types: Dict[str, Any] = {}
    for key, value in data.items():
        kind = type(value)
        types[key] = kind if kind in (bool, int, float, str) else Any
        if kind is float:
            types[key] = float  # an int on the command line is fine for a float key
    return types


def _build_example(cls: Type[Any], data: Dict[str, Any], source: str) -> Any:
    types = field_types(cls)
    for key, value in data.items():
        if not value_matches_type(value, types[key]):
            raise ConfigError(f"{source}: option '{key}' must be {type_name(types[key])}, got {value!r}")
    try:
        return cls(**data)
    except TypeError as err:  # a required field is missing
        raise ConfigError(f"{source}: {err}") from None


def _pop_config_path(path: Union[str, Path, None], argv: List[str]) -> Tuple[Path, List[str]]:
    rest: List[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--config" and i + 1 < len(argv):
            path, i = argv[i + 1], i + 2
            continue
        if word.startswith("--config="):
            path = word.split("=", 1)[1]
        else:
            rest.append(word)
        i += 1
    if path is None:
        raise ConfigError("no training config given; pass a YAML file path or --config FILE")
    return Path(path), rest
