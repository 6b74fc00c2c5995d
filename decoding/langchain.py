"""LangChain integration: `RELLM`, a langchain-core LLM whose output follows a regex or schema.

Needs the `langchain` extra (`pip install "typedecode[langchain]"`); importing this module
without langchain-core raises ImportError saying so. Nothing else in typedecode imports it.

`RELLM(pipeline=..., regex=... | schema=..., max_new_tokens=200, temperature=..., ...,
cache_dir=None)` is a drop-in for the documented
`langchain_experimental.llms.RELLM(pipeline=hf_pipeline, regex=pattern, max_new_tokens=200)`;
the fields after `pipeline`, `regex` and `schema` are those of
`decoding.hf.options.GenerationOptions` (`stop` excepted: it is per call), with its defaults
(read from it) except `max_new_tokens`, 200 as in langchain_experimental.

Contract:
- `pipeline`: a transformers text-generation pipeline, or anything `decoding.Generator` accepts
  (a `(model, tokenizer)` pair, a local model folder); None (default) is the embedded model.
  The model is loaded on the first call and shared by the copies `as_typed` makes.
- `regex` / `schema` / neither: every LangChain entry point (`invoke`, `batch`, `stream`,
  `generate` and their async forms) generates under the constraint, so the text fullmatches
  the pattern (the schema's pattern for `schema`, which may be anything `decoding.generate`
  takes). Bad arguments, options included, raise at construction (`UsageError`, `PatternError`,
  schema2re errors).
- `stop` (per call, LangChain's convention): the text is cut before the first stop string.
  Under a constraint a stop string ends the output only where the pattern accepts the text up to
  and including it (see `decoding.hf.generation`), so the pattern may name it (`...\\nHuman:`).
- Per-call keyword arguments may override `max_new_tokens`, `temperature`, `top_p`, `seed`;
  any other raises `UsageError`.
- `batch` / `generate` with several prompts run as one padded batch; `generation_info` has
  `finish_reason` and `num_tokens`. `stream` yields text pieces that join to the `invoke` text
  and passes each to `run_manager.on_llm_new_token`.
- `as_typed(schema=None)` / `with_structured_output(schema)`: a Runnable (`llm | parse`) whose
  output is the validated value: the Pydantic instance, the Enum member, the `list[int]`... for a
  Python type, the JSON value for a JSON Schema.
- One instance runs one generation at a time (calls are serialized, streams are not).
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any, Iterator, Mapping

try:
    from langchain_core.callbacks import CallbackManagerForLLMRun
    from langchain_core.language_models.llms import BaseLLM
    from langchain_core.outputs import Generation, GenerationChunk, LLMResult
    from langchain_core.runnables import Runnable, RunnableLambda
except ImportError as exc:  # pragma: no cover - exercised by hiding langchain_core
    raise ImportError('decoding.langchain needs langchain-core; install it with: '
                      'pip install "typedecode[langchain]"') from exc

from pydantic import Field, PrivateAttr

from decoding.errors import UsageError
from decoding.hf.constraint import Constraint, make_constraint
from decoding.hf.generation import Generator
from decoding.hf.options import GenerationOptions, with_keywords

__all__ = ["RELLM"]

_CALL_OPTIONS = ("max_new_tokens", "temperature", "top_p", "seed")
_OPTION_FIELDS = tuple(f.name for f in dataclasses.fields(GenerationOptions) if f.name != "stop")
"""The RELLM fields that are `GenerationOptions` fields."""
_DEFAULTS = GenerationOptions()
"""Where those fields' defaults come from (`max_new_tokens` excepted)."""


class _GeneratorSlot:
    """The lazily loaded Generator, shared by an RELLM and its copies."""

    def __init__(self) -> None:
        self.generator: Generator | None = None
        self.lock = threading.RLock()


class RELLM(BaseLLM):
    """A local Hugging Face model as a LangChain LLM, constrained to `regex` or `schema`.

    See the module docstring for the contract.
    """

    pipeline: Any = None
    regex: Any = None
    schema_: Any = Field(default=None, alias="schema")
    max_new_tokens: int = 200
    temperature: float = _DEFAULTS.temperature
    top_p: float = _DEFAULTS.top_p
    seed: int | None = _DEFAULTS.seed
    engine: str = _DEFAULTS.engine
    lenient: bool = _DEFAULTS.lenient
    extra_properties: bool = _DEFAULTS.extra_properties
    whitespace: str | None = _DEFAULTS.whitespace
    max_depth: int = _DEFAULTS.max_depth
    jump_forward: bool = _DEFAULTS.jump_forward
    on_length: str = _DEFAULTS.on_length
    reasoning: tuple[str, str] | None = _DEFAULTS.reasoning
    max_reasoning_tokens: int | None = _DEFAULTS.max_reasoning_tokens
    cache_dir: Any = None

    _slot: _GeneratorSlot = PrivateAttr(default_factory=_GeneratorSlot)

    def __init__(self, **data: Any):
        super().__init__(**data)
        self._constraint()

    @property
    def _llm_type(self) -> str:
        return "typedecode-rellm"

    @property
    def _identifying_params(self) -> Mapping[str, Any]:
        constraint = self._constraint()
        return {"model": self._model_name(),
                "pattern": None if constraint is None else constraint.key,
                **{name: getattr(self, name) for name in _OPTION_FIELDS}}

    def _model_name(self) -> str:
        if self.pipeline is None:
            return "default"
        model = getattr(self.pipeline, "model", None)
        return str(getattr(model, "name_or_path", None) or type(self.pipeline).__name__)

    @property
    def generator(self) -> Generator:
        """The `decoding.Generator` for `pipeline` (loaded on first use)."""
        slot = self._slot
        with slot.lock:
            if slot.generator is None:
                slot.generator = Generator(self.pipeline, cache_dir=self.cache_dir)
            return slot.generator

    def _constraint(self) -> Constraint | None:
        """The constraint of `regex` / `schema` under this LLM's options (memoized)."""
        return make_constraint(schema=self.schema_, regex=self.regex,
                               options=self._options({}), cache_dir=self.cache_dir)

    def _pattern(self) -> Any:
        """The regex the output follows (a schema's translation), or None for plain text."""
        constraint = self._constraint()
        return None if constraint is None else constraint.pattern

    def _options(self, overrides: Mapping[str, Any]) -> GenerationOptions:
        """The fields' `GenerationOptions` with a call's `overrides` (`_CALL_OPTIONS` only)."""
        unknown = sorted(set(overrides) - set(_CALL_OPTIONS))
        if unknown:
            raise UsageError(f"RELLM got unknown call option(s) {', '.join(unknown)}; "
                             f"supported: {', '.join(_CALL_OPTIONS)}")
        fields = {name: getattr(self, name) for name in _OPTION_FIELDS}
        return with_keywords(GenerationOptions(), {**fields, **overrides})

    def _generate(self, prompts: list[str], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> LLMResult:
        options = self._options(kwargs)
        regex = self._pattern()
        generator = self.generator
        with self._slot.lock:
            completions = generator.complete(list(prompts), regex=regex, options=options,
                                             stop=stop)
        return LLMResult(generations=[
            [Generation(text=c.text, generation_info={"finish_reason": c.finish_reason,
                                                      "num_tokens": c.num_tokens})]
            for c in completions])

    def _stream(self, prompt: str, stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None,
                **kwargs: Any) -> Iterator[GenerationChunk]:
        options = self._options(kwargs)
        for piece in self.generator.stream(prompt, regex=self._pattern(), options=options,
                                           stop=stop):
            chunk = GenerationChunk(text=piece)
            if run_manager is not None:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk

    def as_typed(self, schema: Any = None) -> Runnable:
        """A Runnable: this LLM constrained to `schema` (default: its own), then the parse.

        Its output is the validated value (the Pydantic instance, Enum member... for a Python
        type; the JSON value for a JSON Schema). Raises `UsageError`
        when there is no schema, and the schema's translation errors at once.
        """
        llm = self if schema is None else self.model_copy(update={"schema_": schema,
                                                                  "regex": None})
        if llm.schema_ is None:
            raise UsageError("as_typed needs a schema: RELLM(schema=...) or as_typed(schema)")
        constraint = llm._constraint()
        return llm | RunnableLambda(constraint.parse, name="typedecode_parse")

    def with_structured_output(self, schema: Any, **kwargs: Any) -> Runnable:
        """LangChain's structured-output entry point: `as_typed(schema)` (no options)."""
        if kwargs:
            raise UsageError(f"RELLM.with_structured_output takes no options, got "
                             f"{', '.join(sorted(kwargs))}")
        return self.as_typed(schema)
