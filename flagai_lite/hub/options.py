"""Hub client settings: keyword arguments first, then environment variables, then defaults."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple, Union

from flagai_lite.errors import HubError

ENV_ENDPOINT = "FLAGAI_HUB_ENDPOINT"
ENV_OFFLINE = "FLAGAI_OFFLINE"
ENV_PROGRESS = "FLAGAI_HUB_PROGRESS"
ENV_CHUNKS = "FLAGAI_HUB_CHUNKS"
ENV_TIMEOUT = "FLAGAI_HUB_TIMEOUT"
ENV_WAIT_TIMEOUT = "FLAGAI_HUB_WAIT_TIMEOUT"
ENV_FSYNC = "FLAGAI_HUB_FSYNC"

# (access_key, secret_key) or (access_key, secret_key, session_token)
Credentials = Union[Tuple[str, str], Tuple[str, str, Optional[str]]]
Timeout = Union[float, Tuple[float, float]]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_flag(name: str) -> bool | None:
    """True/False for a boolean environment variable, None when unset or empty."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise HubError(f"{name}={os.environ[name]!r} is not a boolean; use 1/0, true/false, yes/no or on/off")


def _env_number(name: str, kind: type) -> float | int | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        raise HubError(f"{name}={value!r} is not a {kind.__name__}") from None


def _parse_timeout(value: Timeout | str | None) -> tuple[float, float]:
    if value is None:
        value = os.environ.get(ENV_TIMEOUT, "").strip() or (10.0, 60.0)
    if isinstance(value, str):
        try:
            parts = [float(p) for p in value.split(",")]
        except ValueError:
            raise HubError(f"{ENV_TIMEOUT}={value!r}: expected READ or CONNECT,READ seconds") from None
        value = (parts[0], parts[-1]) if len(parts) == 2 else (min(10.0, parts[0]), parts[0])
    if isinstance(value, (int, float)):
        value = (float(value), float(value))
    connect, read = (float(v) for v in value)
    if connect <= 0 or read <= 0:
        raise HubError(f"timeouts must be positive, got connect={connect}, read={read}")
    return connect, read


def credentials_from_env() -> Credentials | None:
    """(key, secret, token) from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, or None."""
    key = os.environ.get("AWS_ACCESS_KEY_ID")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        return (key, secret, os.environ.get("AWS_SESSION_TOKEN") or None)
    return None


@dataclass(frozen=True)
class HubOptions:
    """Resolved client settings. Build with :meth:`resolve`."""

    endpoint: str | None
    offline: bool
    progress: bool
    max_workers: int
    chunk_size: int
    connect_timeout: float
    read_timeout: float
    retries: int
    backoff: float
    wait_timeout: float
    credentials: Credentials | None
    region: str
    fsync: bool = True  # flush each file to disk before its rename (survives power loss)

    @classmethod
    def resolve(
        cls,
        *,
        endpoint: str | None = None,
        offline: bool | None = None,
        progress: bool | None = None,
        max_workers: int | None = None,
        chunk_size: int | None = None,
        timeout: Timeout | None = None,
        retries: int | None = None,
        backoff: float | None = None,
        wait_timeout: float | None = None,
        credentials: Credentials | Sequence[str] | None = None,
        region: str | None = None,
        fsync: bool | None = None,
    ) -> "HubOptions":
        """Merge arguments with FLAGAI_* / AWS_* environment variables and defaults."""
        if progress is None:
            progress = env_flag(ENV_PROGRESS)
            if progress is None:
                progress = bool(getattr(sys.stderr, "isatty", lambda: False)())
        workers = max_workers if max_workers is not None else _env_number(ENV_CHUNKS, int) or 8
        connect, read = _parse_timeout(timeout)
        wait = wait_timeout if wait_timeout is not None else _env_number(ENV_WAIT_TIMEOUT, float) or 600.0
        creds = tuple(credentials) if credentials is not None else credentials_from_env()
        if creds is not None and len(creds) not in (2, 3):
            raise HubError("credentials must be (access_key, secret_key) or (access_key, secret_key, token)")
        return cls(
            endpoint=(endpoint or os.environ.get(ENV_ENDPOINT) or None),
            offline=bool(offline) if offline is not None else bool(env_flag(ENV_OFFLINE)),
            progress=bool(progress),
            max_workers=max(1, int(workers)),
            chunk_size=max(1 << 16, int(chunk_size or (32 << 20))),
            connect_timeout=connect,
            read_timeout=read,
            retries=max(0, int(retries if retries is not None else 5)),
            backoff=max(0.0, float(backoff if backoff is not None else 0.5)),
            wait_timeout=float(wait),
            credentials=creds,  # type: ignore[arg-type]
            region=region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            fsync=bool(fsync) if fsync is not None else env_flag(ENV_FSYNC) is not False,
        )
