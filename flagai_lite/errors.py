"""One exception hierarchy for flagai_lite.

Every error raised on purpose by the library derives from :class:`FlagAILiteError`, names the
file / key / field at fault, and says what to do about it. Catch the base class to catch them all.
"""


class FlagAILiteError(Exception):
    """Base class of every error flagai_lite raises on purpose."""


class ConfigError(FlagAILiteError, ValueError):
    """A configuration (config.json, YAML, keyword arguments) is invalid."""


class CheckpointError(FlagAILiteError):
    """A checkpoint file is missing, corrupt, unsafe or does not fit the model."""


class UnsafeCheckpointError(CheckpointError):
    """A pickle checkpoint would run code or build arbitrary objects when loaded."""


class TokenizerError(FlagAILiteError):
    """A tokenizer directory or tokenizer input cannot be handled."""


class HubError(FlagAILiteError):
    """The modelhub cannot serve a request."""


class ModelNotFoundError(HubError):
    """The model (or a file of it) is not on the hub."""


class OfflineError(HubError):
    """Files are missing locally and the network may not be used."""


class IntegrityError(HubError):
    """A downloaded file does not match its manifest (size or sha256)."""


class UnsafePathError(HubError):
    """A manifest, listing or model name points outside the model directory."""


class TaskError(FlagAILiteError, ValueError):
    """Unknown task, unknown model, or a task the backbone cannot do."""


class CapabilityError(FlagAILiteError):
    """The model or head cannot serve the requested operation (e.g. a Predictor method)."""


class GenerationError(FlagAILiteError, ValueError):
    """Invalid generation arguments."""


class TrainerError(FlagAILiteError):
    """The Trainer cannot start or resume."""


class InputError(FlagAILiteError, ValueError):
    """Arguments passed to a model call are inconsistent (missing inputs, wrong shapes)."""


class HubUnreachableError(HubError):
    """The modelhub cannot be reached: no endpoint configured, or connection errors, timeouts or 5xx after retries."""
