"""typedecode inside vLLM: a structured-output backend and a per-request logits processor.

Two routes, both backed by `decoding` guides (thread-safe, shared by every request of a pattern,
their masks memoized per state and kept in the disk cache that `TYPEDECODE_CACHE_DIR` names):

- the backend: `LLM(..., structured_outputs_config={"backend": BACKEND_NAME})` or
  `vllm serve ... --structured-outputs-config.backend typedecode`; requests carry
  `StructuredOutputsParams(regex=... | json=... | choice=...)` (over HTTP: `response_format`
  json_schema, `structured_outputs`). vLLM fills its batch bitmask with our packed masks.
- the logits processor: `LLM(..., logits_processors=[TypedecodeLogitsProcessor])`, requests carry
  `SamplingParams(extra_args={"typedecode": {"regex": ...} | {"json_schema": ...}})` or the flat
  keys of `decoding.vllm.requests.FLAT_KEYS` (what `vllm_xargs` can carry over HTTP).

`register()` makes vLLM accept `BACKEND_NAME` (vLLM's backend names are a closed list:
`decoding.vllm.patches` says where and how it is opened). The `vllm.general_plugins` entry point
`typedecode` (`plugin()`) calls it in every vLLM process, logging rather than raising a release it
was not tested with; a process that builds an `LLM` itself must call `register()` before (the entry
point runs only once vLLM starts building the engine). Only this package's
modules that name vLLM in their docstring import it; `decoding.vllm.requests` and
`decoding.vllm.cursor` (the semantics) do not, so the normal suite tests them without vLLM.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from decoding.errors import UsageError

BACKEND_NAME = "typedecode"
"""The backend name for `structured_outputs_config` (accepted once `register()` has run)."""

__all__ = ["BACKEND_NAME", "TypedecodeLogitsProcessor", "register"]


def register() -> None:
    """Make vLLM accept `BACKEND_NAME` in this process (idempotent; what the plugin entry point
    `plugin` runs).
    Raises `decoding.errors.VllmMismatch` naming what differs when the installed vLLM is not
    the release and shape this was tested with, `UsageError` when vLLM is not installed."""
    try:
        from decoding.vllm.patches import install
    except ModuleNotFoundError as exc:
        if exc.name != "vllm":
            raise
        raise UsageError("decoding.vllm needs vLLM: install it (README, \"Serving with vLLM\")") \
            from None
    install(BACKEND_NAME)


def plugin() -> None:
    """The `vllm.general_plugins` entry point: `register()`, except that a vLLM release or
    internals other than the tested ones are logged as an error naming each difference instead of
    raised, so that having typedecode installed never stops vLLM from starting for users who do
    not pick its backend (a request naming `BACKEND_NAME` is then refused by vLLM itself)."""
    from decoding.errors import VllmMismatch

    try:
        register()
    except VllmMismatch as exc:
        logging.getLogger("vllm").error("%s; the %r backend is not available", exc, BACKEND_NAME)


def __getattr__(name: str) -> Any:
    if name == "TypedecodeLogitsProcessor":
        return importlib.import_module("decoding.vllm.processor").TypedecodeLogitsProcessor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
