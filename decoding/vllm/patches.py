"""Opening vLLM's closed list of structured-output backends to typedecode (imports vLLM).

vLLM 0.32 names its backends in three places, each patched here by `install(name)`:
1. `vllm.config.structured_outputs.StructuredOutputsConfig.backend`, typed by the `Literal`
   `StructuredOutputsBackend` (pydantic rejects other names): the `Literal` gets `name` and the
   dataclass is rebuilt;
2. `vllm.sampling_params.SamplingParams._validate_structured_outputs` (front end), which turns an
   unknown name into "auto" behaviour (xgrammar): for `name` it is wrapped to record `name` as the
   request's backend and check the request with `decoding.vllm.requests.pattern_for` (a bad
   request is a `VLLMValidationError`, HTTP 400), leaving every other backend to vLLM;
3. `vllm.v1.structured_output.StructuredOutputManager.grammar_init` (engine core), an if/elif that
   raises "Unsupported structured output backend": it is wrapped to create the
   `decoding.vllm.backend.TypedecodeBackend` first when the request names `name`.
Before patching, `install` checks the vLLM release (`TESTED_VERSIONS`) and every shape it relies on
(the `Literal`'s names, the patched functions' parameters and the source lines they branch on), and
raises `VllmMismatch` naming each difference; it patches nothing then. Idempotent per process.
"""

from __future__ import annotations

import functools
import inspect
import typing
from typing import Any, Literal

import vllm
from pydantic.dataclasses import rebuild_dataclass
from vllm.config import structured_outputs as config_module
from vllm.exceptions import VLLMValidationError
from vllm.sampling_params import SamplingParams
from vllm.v1.structured_output import StructuredOutputManager

from decoding.errors import TypedecodeError, VllmMismatch
from decoding.vllm.requests import pattern_for

TESTED_VERSIONS = ("0.32.0",)
_BACKENDS = ("auto", "xgrammar", "guidance", "outlines", "lm-format-enforcer")
_VALIDATE_PARAMS = ["self", "model_config", "structured_outputs_config", "tokenizer"]
_GRAMMAR_INIT_LINES = ("if self.backend is None:", "structured_outputs._backend",
                       "self.tokenizer", "get_vocab_size()")
_installed: set[str] = set()


def install(name: str) -> None:
    """Make vLLM accept and run backend `name` (see the module docstring)."""
    if name in _installed:
        return
    problems = mismatches()
    if problems:
        raise VllmMismatch("typedecode cannot register its vLLM backend: "
                           + "; ".join(problems))
    _open_config(name)
    _wrap_validation(name)
    _wrap_grammar_init(name)
    _installed.add(name)


def mismatches() -> list[str]:
    """What differs from the vLLM internals tested (empty when nothing does)."""
    found = []
    if vllm.__version__ not in TESTED_VERSIONS:
        found.append(f"vLLM {vllm.__version__} is installed, typedecode was tested with "
                     f"{', '.join(TESTED_VERSIONS)}")
    field = config_module.StructuredOutputsConfig.__dataclass_fields__.get("backend")
    names = typing.get_args(field.type) if field is not None else ()
    if names[:len(_BACKENDS)] != _BACKENDS:
        found.append(f"StructuredOutputsConfig.backend admits {names}, expected {_BACKENDS}")
    params = list(inspect.signature(SamplingParams._validate_structured_outputs).parameters)
    if params != _VALIDATE_PARAMS:
        found.append(f"SamplingParams._validate_structured_outputs takes {params}, expected "
                     f"{_VALIDATE_PARAMS}")
    source = inspect.getsource(StructuredOutputManager.grammar_init)
    missing = [line for line in _GRAMMAR_INIT_LINES if line not in source]
    if missing:
        found.append(f"StructuredOutputManager.grammar_init no longer contains {missing}")
    return found


def _open_config(name: str) -> None:
    cls = config_module.StructuredOutputsConfig
    field = cls.__dataclass_fields__["backend"]
    names = typing.get_args(field.type)
    if name in names:
        return
    widened = Literal[(*names, name)]  # type: ignore[valid-type]
    field.type = widened
    cls.__annotations__["backend"] = widened
    config_module.StructuredOutputsBackend = widened
    rebuild_dataclass(cls, force=True)


def _wrap_validation(name: str) -> None:
    original = SamplingParams._validate_structured_outputs

    @functools.wraps(original)
    def validate(self: SamplingParams, model_config: Any, structured_outputs_config: Any,
                 tokenizer: Any) -> None:
        if (structured_outputs_config is None or self.structured_outputs is None
                or structured_outputs_config.backend != name):
            return original(self, model_config, structured_outputs_config, tokenizer)
        requested = self.structured_outputs._backend
        if requested and requested != name:
            raise VLLMValidationError(f"the request names backend {requested!r}, but vLLM "
                                      f"was started with {name!r}")
        self.structured_outputs._backend = name
        _check_request(self.structured_outputs)
        self.structured_outputs.__post_init__()

    SamplingParams._validate_structured_outputs = validate


def _check_request(params: Any) -> None:
    from vllm.v1.structured_output.request import get_structured_output_key

    from decoding.vllm.backend import kind_of

    try:
        request_type, spec = get_structured_output_key(params)
        pattern_for(kind_of(request_type), spec)
    except (TypedecodeError, ValueError) as exc:
        raise VLLMValidationError(f"typedecode: {exc}") from None


def _wrap_grammar_init(name: str) -> None:
    original = StructuredOutputManager.grammar_init

    @functools.wraps(original)
    def grammar_init(self: StructuredOutputManager, request: Any) -> None:
        if (self.backend is None and request.structured_output_request is not None
                and request.sampling_params.structured_outputs._backend == name):
            from decoding.vllm.backend import TypedecodeBackend

            self.backend = TypedecodeBackend(
                self.vllm_config, tokenizer=self.tokenizer,
                vocab_size=self.vllm_config.model_config.get_vocab_size())
        return original(self, request)

    StructuredOutputManager.grammar_init = grammar_init
