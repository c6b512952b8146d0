"""Typed model configs: plain values only, read from and written to config.json."""
import dataclasses
import json
import logging
import os
import typing
from pathlib import Path
from typing import Any, ClassVar, Dict, Mapping, Tuple, Type, TypeVar

from ..errors import ConfigError

logger = logging.getLogger(__name__)

C = TypeVar("C", bound="ModelConfig")

# config.json keys that say which library wrote the file and how; never model fields.
_BOOKKEEPING = {"flagai_lite_version", "architectures", "transformers_version", "_name_or_path"}


@dataclasses.dataclass
class ModelConfig:
    """Base of every family's config dataclass.

    Subclasses declare their fields with the names their family's config.json uses, so the same
    class reads Hugging Face / FlagAI files and our own. Fields without a default are required.
    """

    family: ClassVar[str] = ""
    # model_type values (config.json) this family accepts; the first is written on save.
    model_types: ClassVar[Tuple[str, ...]] = ()
    # name -> field overrides; each preset is commented with the source of its numbers.
    presets: ClassVar[Dict[str, Dict[str, Any]]] = {}

    def __post_init__(self) -> None:
        self._check_types()
        self.validate()

    def validate(self) -> None:
        """Check value ranges; subclasses extend it. Raise ConfigError naming the field."""

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_dict(cls: Type[C], data: Mapping[str, Any], *, source: str = "<dict>", **overrides: Any) -> C:
        """Build from a config.json-style mapping; ``overrides`` win. Unknown keys are ignored.

        Raises:
            ConfigError: a required field is missing, a value has the wrong type or range, or
                ``model_type`` belongs to another family. The message names ``source`` and the field.
        """
        merged = {**data, **overrides}
        model_type = merged.get("model_type")
        field_names = {f.name for f in dataclasses.fields(cls)}
        if model_type is not None and cls.model_types and model_type not in cls.model_types:
            raise ConfigError(
                f"{source}: model_type {model_type!r} is not a {cls.family} model "
                f"(expected one of {list(cls.model_types)}); load it with the matching model class or AutoLoader"
            )
        bad = [k for k in overrides if k not in field_names]
        if bad:
            raise ConfigError(f"unknown {cls.family} config field(s) {bad}; known fields: {sorted(field_names)}")
        missing = [
            f.name
            for f in dataclasses.fields(cls)
            if f.name not in merged and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            raise ConfigError(f"{source}: required field(s) {missing} missing from the {cls.family} config")
        ignored = sorted(set(merged) - field_names - _BOOKKEEPING - {"model_type"})
        if ignored:
            logger.debug("%s: ignoring config keys %s", source, ignored)
        try:
            return cls(**{k: v for k, v in merged.items() if k in field_names})
        except ConfigError as err:
            raise ConfigError(f"{source}: {err}") from None

    @classmethod
    def from_json(cls: Type[C], path: "os.PathLike[str] | str", **overrides: Any) -> C:
        """Read ``path`` (a config.json file). Raises ConfigError naming the file on any problem."""
        data = read_json_config(path)
        return cls.from_dict(data, source=str(path), **overrides)

    @classmethod
    def from_name(cls: Type[C], name: str, **overrides: Any) -> C:
        """A named preset (case-insensitive), with ``overrides`` applied."""
        lookup = {k.lower(): k for k in cls.presets}
        key = lookup.get(name.lower())
        if key is None:
            raise ConfigError(f"unknown {cls.family} preset {name!r}; choose one of {sorted(cls.presets)}")
        return cls.from_dict(cls.presets[key], source=f"preset {key}", **overrides)

    # ----------------------------------------------------------------- output
    def to_dict(self) -> Dict[str, Any]:
        """Plain dict for config.json, including ``model_type``."""
        data = dataclasses.asdict(self)
        data.setdefault("model_type", self.model_types[0] if self.model_types else self.family)
        return data

    def save(self, path: "os.PathLike[str] | str") -> None:
        """Write config.json (with the library version, which marks our own checkpoint format)."""
        from .. import __version__

        data = {"flagai_lite_version": __version__, **self.to_dict()}
        tmp = Path(f"{path}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)

    # ----------------------------------------------------------------- checks
    def _check_types(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            expected = hints.get(f.name)
            if not value_matches_type(value, expected):
                raise ConfigError(f"field '{f.name}' must be {type_name(expected)}, got {value!r}")
            if expected is float and isinstance(value, int):
                setattr(self, f.name, float(value))

    def require_positive(self, *names: str) -> None:
        """Raise ConfigError unless every named field is > 0."""
        for name in names:
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"field '{name}' must be positive, got {value}")

    def require_divides(self, divisor_field: str, dividend_field: str) -> None:
        """Raise ConfigError unless ``divisor_field`` divides ``dividend_field``."""
        divisor, dividend = getattr(self, divisor_field), getattr(self, dividend_field)
        if dividend % divisor:
            raise ConfigError(
                f"field '{divisor_field}' ({divisor}) must divide '{dividend_field}' ({dividend})"
            )


def read_config_text(path: "os.PathLike[str] | str") -> str:
    """The text of a config file; ConfigError naming the file when it is absent or unreadable."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read config file ({err})") from None


def read_json_config(path: "os.PathLike[str] | str") -> Dict[str, Any]:
    """Load a JSON object from ``path``; ConfigError naming the file when absent or not JSON."""
    path = Path(path)
    text = read_config_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: not valid JSON at line {err.lineno} column {err.colno}: {err.msg}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def value_matches_type(value: Any, expected: Any) -> bool:
    """Whether ``value`` fits the type hint ``expected`` (bool is not an int; an int is a float)."""
    if expected is None or expected is Any:
        return True
    origin = typing.get_origin(expected)
    if origin is typing.Union:
        return any(value_matches_type(value, arg) for arg in typing.get_args(expected))
    if expected is type(None):
        return value is None
    if expected is bool:
        return isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is not None:
        return isinstance(value, origin)
    return isinstance(value, expected)


def type_name(expected: Any) -> str:
    """A readable name of a type hint, e.g. "int or NoneType"."""
    args = typing.get_args(expected)
    if args:
        return " or ".join(type_name(a) for a in args)
    return getattr(expected, "__name__", str(expected))
