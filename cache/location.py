"""Where typedecode keeps its on-disk cache.

Resolution order: an explicit `cache_dir` argument, then the `TYPEDECODE_CACHE_DIR` environment
variable, then the platform's user cache folder. `False` (or the variable set to `0`, `off`,
`false` or `none`) turns the disk cache off, in which case the result is None. Any other
`cache_dir` than a str, a PathLike, a bool or None raises `decoding.errors.UsageError`.

`TYPEDECODE_CACHE_READONLY` set to `1`, `on`, `true` or `yes` asks every store to only read its
folder (`readonly_requested`; see `cache.store`), e.g. a pre-warmed folder shared by a fleet.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from decoding.errors import UsageError

ENV_VAR = "TYPEDECODE_CACHE_DIR"
READONLY_VAR = "TYPEDECODE_CACHE_READONLY"
_OFF = {"0", "off", "false", "none", "no"}
_ON = {"1", "on", "true", "yes"}


def resolve_cache_dir(cache_dir: str | os.PathLike | bool | None = None) -> Path | None:
    """The cache folder to use, or None when the disk cache is turned off."""
    if cache_dir is False:
        return None
    if isinstance(cache_dir, (str, os.PathLike)):
        return Path(cache_dir).expanduser()
    if cache_dir is not None and cache_dir is not True:
        raise UsageError(f"cache_dir must be a folder path, True, False or None, not {cache_dir!r}")
    env = os.environ.get(ENV_VAR)
    if env is not None and env.strip():
        if env.strip().lower() in _OFF:
            return None
        return Path(env).expanduser()
    return _platform_cache_root() / "typedecode"


def readonly_requested() -> bool:
    """Whether `TYPEDECODE_CACHE_READONLY` asks for read-only cache folders."""
    return os.environ.get(READONLY_VAR, "").strip().lower() in _ON


def _platform_cache_root() -> Path:
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA")
        return Path(base) if base else Path.home() / "AppData" / "Local"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) if xdg else Path.home() / ".cache"
