"""BaseModel: construction from config files, loading checkpoints (ours and Hugging Face's), saving."""
import logging
import os
from pathlib import Path
from typing import Any, ClassVar, Dict, Optional, Tuple, Type, TypeVar, Union

import torch
from torch import nn

from ..checkpoint import KeyMap, LoadedState, convert_state_dict, load_model_state, save_model_state
from ..errors import CheckpointError, ConfigError, InputError
from .config import ModelConfig, read_json_config
from .loading import LoadReport, fill_from_tensors, resolve_dtype, skip_init

logger = logging.getLogger(__name__)

M = TypeVar("M", bound="BaseModel")
PathLike = Union[str, "os.PathLike[str]"]


class BaseModel(nn.Module):
    """Shared behaviour of every flagai_lite model.

    Subclasses set ``config_class``, the foreign ``key_map`` (the one place that knows another
    library's names), the wrapper ``checkpoint_prefixes`` that may precede those names, and
    ``head_prefixes``: weights a checkpoint may lack (they are initialised with a warning).
    Tied parameters are listed in ``self.tied_weights`` as ``alias -> source`` and stored once.
    """

    config_class: ClassVar[Type[ModelConfig]] = ModelConfig
    # "encoder" (BERT), "decoder" (GPT-2, LLaMA), "encoder-decoder" (T5) or "glm": what task heads fit.
    architecture: ClassVar[str] = ""
    key_map: ClassVar[KeyMap] = {}
    checkpoint_prefixes: ClassVar[Tuple[str, ...]] = ("module.", "model.")
    head_prefixes: ClassVar[Tuple[str, ...]] = ()

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.tied_weights: Dict[str, str] = {}
        self.load_report: Optional[LoadReport] = None
        # generation_config.json of the checkpoint (defaults for chat / generate), {} when absent
        self.generation_config: Dict[str, Any] = {}
        # Module name -> device when loaded with a device_map (like Hugging Face's ``hf_device_map``).
        self.device_map: Optional[Dict[str, Union[int, str]]] = None

    # ------------------------------------------------------------------------ construction
    @classmethod
    def init_from_json(cls: Type[M], config_file: PathLike, **overrides: Any) -> M:
        """A randomly initialised model from a config.json file; ``overrides`` win over the file."""
        return cls.from_config(cls.config_class.from_json(config_file, **overrides))

    @classmethod
    def from_config(cls: Type[M], config: ModelConfig) -> M:
        """A randomly initialised model of ``config``."""
        model = cls(config)
        model.apply(model._init_weights)
        model.tie_weights()
        return model

    @classmethod
    def from_pretrain(
        cls: Type[M],
        download_path: Optional[PathLike] = None,
        model_name: Optional[str] = None,
        *,
        device: Union[str, torch.device] = "cpu",
        torch_dtype: Any = None,
        device_map: Any = None,
        max_memory: Optional[Dict[Union[int, str], Union[int, str]]] = None,
        hub_options: Optional[Dict[str, Any]] = None,
        **config_overrides: Any,
    ) -> M:
        """Load ``download_path/model_name/`` (or the directory ``download_path`` when no name is given).

        Files missing locally are fetched through the modelhub client (local first). The directory
        may hold our own save or a Hugging Face one; foreign names go through the family key map.

        Args:
            download_path: parent directory of the model directory (FlagAI's ``download_path``).
            model_name: model directory / hub name; None to load ``download_path`` itself.
            device: where the model ends up (each tensor goes there as it is loaded).
            torch_dtype: None or "auto" keep the checkpoint's dtype; a dtype converts tensor by tensor.
            device_map: spread whole blocks over devices instead of ``device``: "auto" / "balanced"
                (even over GPUs, then CPU), "sequential" (fill GPU 0 first), or a dict of module name ->
                device (``{"embeddings": 0, "layers": 0, "layers.7": "cpu", "": "cpu"}``). The
                placement is kept in ``model.device_map``; see :mod:`flagai_lite.model.device_map`.
            max_memory: weight budget per device for the strategies, e.g. ``{0: "10GiB", "cpu": "30GiB"}``.
            hub_options: keyword arguments for :func:`flagai_lite.hub.download` (endpoint, offline, ...).
            **config_overrides: config fields that win over config.json (e.g. dropout rates).

        Returns:
            The model in eval mode, with ``model.load_report`` describing the load.

        Raises:
            ConfigError: config.json is missing, malformed or of another family; a bad device_map
                or max_memory (unknown or unplaced modules, weights that do not fit).
            CheckpointError: weights are missing, unexpected, mis-shaped, corrupt or unsafe.
        """
        if device_map is not None and str(device) != "cpu":
            raise ConfigError(f"pass either device ({device!r}) or device_map, not both")
        model_dir = resolve_model_dir(download_path, model_name, **(hub_options or {}))
        raw = read_json_config(model_dir / "config.json")
        native = "flagai_lite_version" in raw
        config_data = raw if native else cls.config_from_foreign(raw)
        config = cls.config_class.from_dict(config_data, source=str(model_dir / "config.json"), **config_overrides)
        model = cls.from_state(
            config, load_model_state(model_dir), native=native, torch_dtype=torch_dtype,
            device=None if device_map is not None else device, device_map=device_map, max_memory=max_memory,
        )
        return (model if device_map is not None else model.to(device)).eval()

    @classmethod
    def config_from_foreign(cls, raw: Dict[str, Any]) -> Dict[str, Any]:
        """Translate a foreign config.json into our field names (identity unless a family needs more)."""
        return raw

    @classmethod
    def from_state(
        cls: Type[M],
        config: ModelConfig,
        state: LoadedState,
        *,
        native: bool,
        torch_dtype: Any = None,
        device: Union[str, torch.device, None] = None,
        device_map: Any = None,
        max_memory: Optional[Dict[Union[int, str], Union[int, str]]] = None,
    ) -> M:
        """Build on the meta device and assign ``state``'s tensors (no copy unless a dtype or device is asked).

        Each tensor is converted to ``torch_dtype`` and moved to its device (``device``, or its
        block's under ``device_map``) on its own, so no full-size intermediate copy is ever made.
        """
        with torch.device("meta"), skip_init():
            model = cls(config)
        where = str(Path(state.files[0]).parent) if state.files else "the checkpoint"
        ignored = []
        tensors = dict(state.tensors)
        dtype = resolve_dtype(torch_dtype)
        if not native:
            if dtype is not None:  # cast before fusing: fused projections are built in the target dtype
                tensors = {k: t.to(dtype) if t.is_floating_point() else t for k, t in tensors.items()}
            tensors, ignored = convert_state_dict(
                tensors, cls.key_map, file_of=state.file_of, prefixes=cls.checkpoint_prefixes, family=config.family
            )
        placement = None
        if device_map is not None:
            from .device_map import device_for_key, resolve_device_map

            weights_dtype = dtype or next((t.dtype for t in tensors.values() if t.is_floating_point()), None)
            placement = resolve_device_map(model, device_map, max_memory=max_memory, dtype=weights_dtype)
            device_of = device_for_key(placement)
        else:
            device_of = None if device is None else (lambda key, _d=torch.device(device): _d)
        initialized = fill_from_tensors(
            model,
            tensors,
            file_of=state.file_of,
            tied=model.tied_weights,
            head_prefixes=cls.head_prefixes,
            init_module=model._init_weights,
            dtype=dtype,
            where=where,
            device_of=device_of,
        )
        model.tie_weights()
        if placement is not None:
            from .device_map import dispatch_model

            dispatch_model(model, placement)
        if state.files:
            model.generation_config = read_generation_config(Path(state.files[0]).parent)
        model.load_report = LoadReport(
            source_format="flagai_lite" if native else "huggingface",
            files=list(state.files),
            initialized=initialized,
            ignored=ignored,
        )
        logger.info("loaded %s from %s (%s format)", cls.__name__, where, model.load_report.source_format)
        return model

    # ------------------------------------------------------------------------ saving
    def save_pretrained(
        self, save_directory: PathLike, *, max_shard_size: Union[int, str] = "5GB", safe_serialization: bool = True
    ) -> None:
        """Write config.json and the weights (tied weights once) where ``from_pretrain`` reads them.

        Args:
            save_directory: created if needed.
            max_shard_size: split the weights into shards no larger than this ("5GB", bytes).
            safe_serialization: safetensors (default) or ``pytorch_model.bin``.
        """
        save_directory = Path(save_directory)
        state = {k: v for k, v in self.state_dict().items() if k not in self.tied_weights}
        save_model_state(state, save_directory, max_shard_size=max_shard_size, safe_serialization=safe_serialization)
        self.config.save(save_directory / "config.json")

    def load_pretrained_weights(self, directory: PathLike) -> None:
        """Copy the weights of our own save in ``directory`` into this model (e.g. to resume training).

        Raises:
            CheckpointError: keys or shapes that do not fit this model.
        """
        copy_saved_weights(self, load_model_state(directory).tensors, tied=self.tied_weights, where=str(directory))

    # ------------------------------------------------------------------------ weights
    def tie_weights(self) -> None:
        """Point every alias in ``self.tied_weights`` at its source parameter."""
        for alias, source in self.tied_weights.items():
            owner, _, name = alias.rpartition(".")
            setattr(self.get_submodule(owner), name, self.get_parameter(source))

    def _init_weights(self, module: nn.Module) -> None:
        """Initialise one module's own parameters (normal(0, initializer_range), as BERT/GPT-2 do)."""
        std = getattr(self.config, "initializer_range", 0.02)
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=std)
            if module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif hasattr(module, "reset_parameters"):
            module.reset_parameters()

    @property
    def hidden_size(self) -> int:
        """Width of the hidden states :meth:`features` returns."""
        raise NotImplementedError

    def features(self, *, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
                 token_type_ids: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Final hidden states ``[B, L, H]`` for task heads; ``attention_mask`` is a 0/1 padding mask ``[B, L]``."""
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        """Device of the first parameter."""
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        """Dtype of the first floating-point parameter."""
        return next(p.dtype for p in self.parameters() if p.is_floating_point())


def read_generation_config(model_dir: Path) -> Dict[str, Any]:
    """generation_config.json of ``model_dir`` as a dict ({} when absent)."""
    path = Path(model_dir) / "generation_config.json"
    return read_json_config(path) if path.is_file() else {}


def copy_saved_weights(model: nn.Module, tensors: Dict[str, torch.Tensor], *, tied: Dict[str, str], where: str) -> None:
    """``model.load_state_dict`` (copying) after checking every key; tied aliases may be absent."""
    expected = model.state_dict()
    unexpected = sorted(set(tensors) - set(expected))
    missing = sorted(set(expected) - set(tensors) - set(tied))
    if unexpected or missing:
        raise CheckpointError(f"{where}: checkpoint does not fit {type(model).__name__}: missing {missing[:5]}, "
                              f"unexpected {unexpected[:5]}")
    for key, tensor in tensors.items():
        if tensor.shape != expected[key].shape:
            raise CheckpointError(f"{where}: shape mismatch for {key!r}: checkpoint {tuple(tensor.shape)}, "
                                  f"model {tuple(expected[key].shape)}")
    tensors = {**tensors, **{alias: tensors[source] for alias, source in tied.items() if alias not in tensors}}
    model.load_state_dict(tensors, strict=True)


def resolve_model_dir(download_path: Optional[PathLike], model_name: Optional[str], **hub_options: Any) -> Path:
    """The local model directory, fetching missing files through the hub when a name is given."""
    if model_name is None:
        if download_path is None:
            raise InputError("from_pretrain needs a model directory or (download_path, model_name)")
        return Path(download_path)
    from ..hub import download

    return Path(download(model_name, download_path if download_path is not None else "./checkpoints", **hub_options))
