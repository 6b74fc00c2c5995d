"""The keywords of a generation call, checked once, as frozen dataclasses.

- `ConstraintOptions`: how a `schema=` / `regex=` becomes a guide: `engine` ("automaton" or
  "partial") and the translator options of `schema2re.to_regex` (`lenient`, `extra_properties`,
  `whitespace`, `max_depth`; they apply to `schema=` only). Used by `decoding.hf.constraint` and
  `RegexLogitsProcessor`.
- `GenerationOptions(ConstraintOptions)`: plus `max_new_tokens`, `stop`, `temperature`, `top_p`,
  `seed`, `jump_forward`, and the agent options `on_length` ("raise" or "finish",
  `decoding.hf.budget`), `reasoning` (a pair of markers, `decoding.hf.reasoning`) and
  `max_reasoning_tokens`. Shared by `generate`, `stream`, `Generator` and the LangChain LLM.

Contract: constructing either checks every field and raises `UsageError` naming the bad one, so
an option is never checked after model work has started. `stop` is normalized to a tuple of
strings. `with_keywords(options, keywords)` applies call keywords on top of an options object
and refuses unknown names with `UsageError` (not Python's bare TypeError), listing the valid
ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from decoding.errors import UsageError
from decoding.guides.protocol import check_engine

_O = TypeVar("_O", bound="ConstraintOptions")


@dataclass(frozen=True)
class ConstraintOptions:
    """How a schema or regex becomes a guide (see the module docstring)."""

    engine: str = "automaton"
    lenient: bool = False
    extra_properties: bool = False
    whitespace: str | None = None
    max_depth: int = 3

    def __post_init__(self) -> None:
        import schema2re

        check_engine(self.engine)
        _check_bool("lenient", self.lenient)
        _check_bool("extra_properties", self.extra_properties)
        schema2re.check_options(whitespace=self.whitespace, max_depth=self.max_depth)

    def constraint_options(self) -> ConstraintOptions:
        """Only the fields a constraint depends on (a key for memoizing constraints)."""
        return ConstraintOptions(**{f.name: getattr(self, f.name)
                                    for f in dataclasses.fields(ConstraintOptions)})

    def translation_keywords(self) -> dict[str, Any]:
        """The keyword arguments of `schema2re.to_regex` these options stand for."""
        return {"lenient": self.lenient, "extra_properties": self.extra_properties,
                "whitespace": self.whitespace, "max_depth": self.max_depth}


@dataclass(frozen=True)
class GenerationOptions(ConstraintOptions):
    """Every keyword of a generation call (see the module docstring)."""

    max_new_tokens: int = 256
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    jump_forward: bool = True
    on_length: str = "raise"
    reasoning: tuple[str, str] | None = None
    max_reasoning_tokens: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_agent_options(self)
        if isinstance(self.max_new_tokens, bool) or not isinstance(self.max_new_tokens, int) \
                or self.max_new_tokens < 1:
            raise UsageError(f"max_new_tokens must be an integer >= 1, got "
                             f"{self.max_new_tokens!r}")
        object.__setattr__(self, "stop", _stop_strings(self.stop))
        temperature = self.temperature
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
                or not 0 <= temperature < float("inf"):
            raise UsageError(f"temperature must be a finite number >= 0, got {temperature!r}")
        top_p = self.top_p
        if isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not 0 < top_p <= 1:
            raise UsageError(f"top_p must be a number in (0, 1], got {top_p!r}")
        if self.seed is not None \
                and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise UsageError(f"seed must be an integer or None, got {self.seed!r}")
        _check_bool("jump_forward", self.jump_forward)
        object.__setattr__(self, "temperature", float(temperature))
        object.__setattr__(self, "top_p", float(top_p))

    def stop_bytes(self) -> tuple[bytes, ...]:
        """The stop strings as UTF-8 (what the decoding loop compares)."""
        return tuple(s.encode("utf-8") for s in self.stop)


def with_keywords(options: _O, keywords: Mapping[str, Any]) -> _O:
    """`options` with `keywords` applied (checked); `UsageError` for a name that is no field."""
    names = [f.name for f in dataclasses.fields(options)]
    unknown = sorted(set(keywords) - set(names))
    if unknown:
        raise UsageError(f"unknown option{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(unknown)}; the options are: {', '.join(names)}")
    return dataclasses.replace(options, **keywords) if keywords else options


def _check_agent_options(options: GenerationOptions) -> None:
    """`on_length`, `reasoning` (normalized to a tuple) and `max_reasoning_tokens`."""
    if options.on_length not in ("raise", "finish"):
        raise UsageError(f'on_length must be "raise" or "finish", got {options.on_length!r}')
    if options.on_length == "finish" and options.engine != "automaton":
        raise UsageError('on_length="finish" needs the automaton engine (engine="automaton")')
    markers = reasoning_markers(options.reasoning)
    object.__setattr__(options, "reasoning", markers)
    limit = options.max_reasoning_tokens
    if limit is not None and (markers is None or isinstance(limit, bool)
                              or not isinstance(limit, int) or limit < 0):
        raise UsageError(f"max_reasoning_tokens must be an integer >= 0 given with reasoning=, "
                         f"got {limit!r}")


def reasoning_markers(value: Any) -> tuple[str, str] | None:
    """A `reasoning=` argument as a pair of non-empty marker strings, or None (`UsageError` for
    anything else)."""
    if value is None:
        return None
    if not isinstance(value, (tuple, list)) or len(value) != 2 \
            or not all(isinstance(m, str) and m for m in value):
        raise UsageError(f"reasoning must be a pair of non-empty marker strings such as "
                         f"('<think>', '</think>'), got {value!r}")
    return (value[0], value[1])


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise UsageError(f"{name} must be True or False, got {value!r}")


def _stop_strings(stop: Any) -> tuple[str, ...]:
    """`stop` (None, a string or a sequence of strings) as a tuple of non-empty strings."""
    if stop is None:
        stops: tuple[str, ...] = ()
    elif isinstance(stop, str):
        stops = (stop,)
    elif isinstance(stop, Sequence) and all(isinstance(s, str) for s in stop):
        stops = tuple(stop)
    else:
        raise UsageError(f"stop must be a string or a list of strings, got {stop!r}")
    if any(s == "" for s in stops):
        raise UsageError("stop strings must not be empty")
    return stops
