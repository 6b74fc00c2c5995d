"""LangChain integration: `RELLM`, a langchain-core LLM whose output follows a regex or schema,
and `ChatTypedecode`, a chat model whose tool calls and structured outputs always validate.

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

`ChatTypedecode(model=None, max_new_tokens=256, <the other GenerationOptions fields>,
tool_format=None, cache_dir=None)`, a langchain-core `BaseChatModel`:
- `model`: what `decoding.Generator` accepts (None: the embedded default model, a pipeline, a
  `(model, tokenizer)` pair, a folder, an embedded model's name); loaded on first use.
- The messages are rendered by the tokenizer's chat template: system, human -> user, ai ->
  assistant (its tool calls written after its text in the wire format, `tool_format`, see
  `decoding.hf.tool_calls`), tool -> role "tool" (SmolLM2's template writes any role as is),
  `ChatMessage` with its own role.
- `bind_tools(tools, tool_choice=None)`: LangChain tools (their `tool_call_schema`), callables or
  Pydantic models; every answer is then a call with arguments valid for the tool's schema
  (`AIMessage.tool_calls`, content "", an id `call_<hex>`), or with "auto" (the default) either
  that or text. `tool_choice` as LangChain's chat models take it (see `bind_tools`).
- `with_structured_output(schema, include_raw=False)`: generation constrained to `schema`, then
  parsed: the value always validates (anything `decoding.generate` takes as a schema).
- `stream` yields the text piece by piece; with tools bound, one chunk with the whole call
  (`tool_call_chunks`), as a call is known only once complete.
- `response_metadata` holds `finish_reason` and `num_tokens`. Per-call options as for `RELLM`.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from typing import Any, Iterator, Mapping, Sequence

try:
    from langchain_core.callbacks import CallbackManagerForLLMRun
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.language_models.llms import BaseLLM
    from langchain_core.messages import (AIMessage, AIMessageChunk, BaseMessage,
                                         ChatMessage)
    from langchain_core.outputs import (ChatGeneration, ChatGenerationChunk, ChatResult,
                                        Generation, GenerationChunk, LLMResult)
    from langchain_core.tools import BaseTool
    from langchain_core.runnables import Runnable, RunnableLambda
except ImportError as exc:  # pragma: no cover - exercised by hiding langchain_core
    raise ImportError('decoding.langchain needs langchain-core; install it with: '
                      'pip install "typedecode[langchain]"') from exc

from pydantic import BaseModel, Field, PrivateAttr

from decoding.errors import UsageError
from decoding.hf.constraint import Constraint, make_constraint
from decoding.hf.generation import Completion, Generator
from decoding.hf.options import GenerationOptions, with_keywords
from decoding.hf.tool_calls import ToolFormat, tool_format_of, tool_request
from decoding.hf.tools import Tool, ToolCall, tool_of

__all__ = ["ChatTypedecode", "RELLM"]

_CALL_OPTIONS = ("max_new_tokens", "temperature", "top_p", "seed")
_OPTION_FIELDS = tuple(f.name for f in dataclasses.fields(GenerationOptions) if f.name != "stop")
"""The RELLM fields that are `GenerationOptions` fields."""
_DEFAULTS = GenerationOptions()
"""Where those fields' defaults come from (`max_new_tokens` excepted)."""


class _GeneratorSlot:
    """The lazily loaded Generator, shared by a model object and its copies."""

    def __init__(self) -> None:
        self.generator: Generator | None = None
        self.lock = threading.RLock()


class _LocalModel(BaseModel):
    """What `RELLM` and `ChatTypedecode` share: the `GenerationOptions` fields (`stop` is per
    call), the lazily loaded Generator of `_source()`, and a call's options."""

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

    def _source(self) -> Any:
        """What `decoding.Generator` loads (None: the embedded default model)."""
        raise NotImplementedError

    def _model_name(self) -> str:
        source = self._source()
        if source is None:
            return "default"
        if isinstance(source, str):
            return source
        model = getattr(source, "model", None)
        return str(getattr(model, "name_or_path", None) or type(source).__name__)

    @property
    def generator(self) -> Generator:
        """The `decoding.Generator` of the model (loaded on first use)."""
        slot = self._slot
        with slot.lock:
            if slot.generator is None:
                slot.generator = Generator(self._source(), cache_dir=self.cache_dir)
            return slot.generator

    def _options(self, overrides: Mapping[str, Any]) -> GenerationOptions:
        """The fields' `GenerationOptions` with a call's `overrides` (`_CALL_OPTIONS` only)."""
        unknown = sorted(set(overrides) - set(_CALL_OPTIONS))
        if unknown:
            raise UsageError(f"{type(self).__name__} got unknown call option(s) "
                             f"{', '.join(unknown)}; supported: {', '.join(_CALL_OPTIONS)}")
        fields = {name: getattr(self, name) for name in _OPTION_FIELDS}
        return with_keywords(GenerationOptions(), {**fields, **overrides})


class RELLM(_LocalModel, BaseLLM):
    """A local Hugging Face model as a LangChain LLM, constrained to `regex` or `schema`.

    See the module docstring for the contract.
    """

    pipeline: Any = None
    regex: Any = None
    schema_: Any = Field(default=None, alias="schema")

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

    def _source(self) -> Any:
        return self.pipeline

    def _constraint(self) -> Constraint | None:
        """The constraint of `regex` / `schema` under this LLM's options (memoized)."""
        return make_constraint(schema=self.schema_, regex=self.regex,
                               options=self._options({}), cache_dir=self.cache_dir)

    def _pattern(self) -> Any:
        """The regex the output follows (a schema's translation), or None for plain text."""
        constraint = self._constraint()
        return None if constraint is None else constraint.pattern

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


# --- the chat model ---------------------------------------------------------------------------

_CHOICES = {"auto": "auto", "any": "required", "required": "required"}


class ChatTypedecode(_LocalModel, BaseChatModel):
    """A local Hugging Face model as a LangChain chat model whose tool calls and structured
    outputs always validate.

    See the module docstring for the contract.
    """

    model: Any = None
    max_new_tokens: int = _DEFAULTS.max_new_tokens
    tool_format: Any = None

    def __init__(self, **data: Any):
        super().__init__(**data)
        self._options({})
        tool_format_of(self.tool_format)

    @property
    def _llm_type(self) -> str:
        return "typedecode-chat"

    @property
    def _identifying_params(self) -> Mapping[str, Any]:
        return {"model": self._model_name(),
                **{name: getattr(self, name) for name in _OPTION_FIELDS}}

    def _source(self) -> Any:
        return self.model

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None,
                   **kwargs: Any) -> Runnable:
        """This model with `tools` (LangChain tools, callables, Pydantic models) bound: its
        `AIMessage.tool_calls` name one of them with validated arguments. `tool_choice`: None or
        "auto" (a call or a plain answer), "any" / "required" / True (a call), a tool's name or
        `{"type": "function", "function": {"name": ...}}` (a call of that tool), "none" (no
        call). Bad tools or choices raise `UsageError` here."""
        converted = [_tool_of(t) for t in tools]
        choice = _choice(tool_choice)
        if choice is None:
            return self.bind(**kwargs)
        tool_request(converted, choice, self.tool_format)
        return self.bind(tools=converted, tool_choice=choice, **kwargs)

    def with_structured_output(self, schema: Any, *, include_raw: bool = False,
                               **kwargs: Any) -> Runnable:
        """A Runnable whose output is the validated value of `schema` (anything `generate`
        takes: the Pydantic instance for a model class, the JSON value for a JSON Schema); the
        generation is constrained to it, so it always validates. `include_raw=True` gives
        `{"raw": AIMessage, "parsed": value, "parsing_error": None}` instead."""
        if kwargs:
            raise UsageError(f"ChatTypedecode.with_structured_output takes include_raw only, got "
                             f"{', '.join(sorted(kwargs))}")
        constraint = make_constraint(schema=schema, options=self._options({}),
                                     cache_dir=self.cache_dir)

        def parse(message: BaseMessage) -> Any:
            value = constraint.parse(message.text)
            return {"raw": message, "parsed": value, "parsing_error": None} if include_raw \
                else value

        return self.bind(schema=schema) | RunnableLambda(parse, name="typedecode_parse")

    def _call(self, kwargs: dict[str, Any]) -> tuple[dict[str, Any], GenerationOptions]:
        """A call's constraint keywords (`schema`, `tools`, `tool_choice`) and options."""
        constraint = {name: kwargs.pop(name) for name in ("schema", "tools", "tool_choice")
                      if name in kwargs}
        if "tools" in constraint:
            constraint["tool_format"] = self.tool_format
        return constraint, self._options(kwargs)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        constraint, options = self._call(kwargs)
        fmt = tool_format_of(self.tool_format)
        generator = self.generator
        with self._slot.lock:
            completion = generator.complete(_chat_messages(messages, fmt), options=options,
                                            stop=stop, **constraint)
        info = {"finish_reason": completion.finish_reason, "num_tokens": completion.num_tokens}
        return ChatResult(generations=[ChatGeneration(message=_ai_message(completion),
                                                      generation_info=info)])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        if "tools" in kwargs:  # a call is known whole only at the end: one chunk
            result = self._generate(messages, stop, run_manager, **kwargs).generations[0]
            message = result.message
            yield ChatGenerationChunk(message=AIMessageChunk(
                content=message.content, tool_call_chunks=[
                    {"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i}
                    for i, c in enumerate(message.tool_calls)]),
                generation_info=result.generation_info)
            return
        constraint, options = self._call(kwargs)
        fmt = tool_format_of(self.tool_format)
        for piece in self.generator.stream(_chat_messages(messages, fmt), options=options,
                                           stop=stop, **constraint):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager is not None:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk


def _tool_of(tool: Any) -> Tool:
    """A LangChain tool (its `tool_call_schema` as the arguments; LangChain runs it), or what
    `decoding.hf.tools.tool_of` takes."""
    if isinstance(tool, BaseTool):
        schema = tool.tool_call_schema
        if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
            raise UsageError(f"tool {tool.name}: its arguments schema is no Pydantic model")
        return Tool(tool.name, tool.description, schema)
    return tool_of(tool)


def _choice(tool_choice: Any) -> str | None:
    """LangChain's `tool_choice` as `generate`'s ("none": None, no tools)."""
    if tool_choice is None:
        return "auto"
    if tool_choice is True:
        return "required"
    if tool_choice == "none":
        return None
    if isinstance(tool_choice, dict):
        name = tool_choice.get("function", {}).get("name") or tool_choice.get("name")
        if name is None:
            raise UsageError(f"tool_choice {tool_choice!r} names no tool")
        return name
    return _CHOICES.get(tool_choice, tool_choice) if isinstance(tool_choice, str) else tool_choice


def _chat_messages(messages: Sequence[BaseMessage], fmt: ToolFormat) -> list[dict[str, str]]:
    """LangChain messages as chat-template messages: an assistant's tool calls written in the
    wire format after its text, a tool's result as role "tool"."""
    roles = {"system": "system", "human": "user", "ai": "assistant", "tool": "tool"}
    out = []
    for message in messages:
        role = message.role if isinstance(message, ChatMessage) else roles.get(message.type)
        if role is None:
            raise UsageError(f"ChatTypedecode cannot render a {type(message).__name__}")
        content = message.text
        if isinstance(message, AIMessage) and message.tool_calls:
            calls = [fmt.render(c["name"], json.dumps(c["args"])) for c in message.tool_calls]
            content = "\n".join(([content] if content else []) + calls)
        out.append({"role": role, "content": content})
    return out


def _ai_message(completion: Completion) -> AIMessage:
    """The AIMessage of a completion: a `ToolCall` value as `tool_calls` (with a fresh id)."""
    value = completion.value
    if not isinstance(value, ToolCall):
        return AIMessage(content=completion.text)
    return AIMessage(content="", tool_calls=[{
        "name": value.name, "args": value.arguments.model_dump(mode="json"),
        "id": f"call_{uuid.uuid4().hex[:24]}", "type": "tool_call"}])
