"""What a generation must produce: the pattern the guide follows and how its text becomes a value.

`make_constraint(schema=..., regex=...)` checks the arguments and translates a schema to a regex
without touching any model, so every bad argument fails before model work:
- both given, or a value of the wrong type: `UsageError`;
- a schema that does not translate: the `schema2re.errors.SchemaToRegexError` from `schema2re`;
- a regex that does not parse (automaton engine): the `PatternError` from `decoding.syntax`
  (schema2re's output is valid for the automaton engine by its contract and is not re-parsed).
Translations come from the disk cache (`decoding.persist.cached_to_regex`) when it has them.

`Constraint.parse(text)` turns a generated text into the caller's value and never returns an
invalid one (`OutputValidationError` instead):
- regex: the text itself;
- JSON Schema (dict or JSON text): `json.loads` of the text, validated with `jsonschema`;
- Pydantic model class: `Model.model_validate_json(text)`.
`Constraint.key` is (pattern text, flags, engine): what a compiled guide depends on.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

import regex as regex_module

from decoding.errors import OutputValidationError, UsageError

ENGINES = ("automaton", "partial")


@dataclass(frozen=True)
class Constraint:
    """A pattern (`str` or `regex.Pattern`) plus the conversion of a matching text to a value."""

    pattern: Any
    key: tuple
    engine: str = "automaton"
    _parse: Callable[[str], Any] = field(default=lambda text: text, repr=False, compare=False)

    def parse(self, text: str) -> Any:
        """The value for `text`; `OutputValidationError` if it does not parse or validate."""
        return self._parse(text)


_MEMO: OrderedDict[tuple, Constraint] = OrderedDict()
_MEMO_SIZE = 128
_LOCK = threading.Lock()


def make_constraint(schema: Any = None, regex: Any = None, engine: str = "automaton",
                    cache_dir: Any = None) -> Constraint | None:
    """The constraint for a call's `schema` / `regex` arguments, or None for plain generation.

    Memoized per process (the same schema or regex is translated and checked once); schema
    translations are also kept in the disk cache at `cache_dir` (as for `decoding.compile`).
    """
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    if schema is not None and regex is not None:
        raise UsageError("pass either schema= or regex=, not both")
    if schema is None and regex is None:
        return None
    key = _argument_key(schema, regex, engine)
    with _LOCK:
        hit = _MEMO.get(key) if key is not None else None
        if hit is not None:
            _MEMO.move_to_end(key)
            return hit
    if regex is not None:
        constraint = _regex_constraint(regex, engine)
    else:
        constraint = _schema_constraint(schema, engine, cache_dir)
    if key is not None:
        with _LOCK:
            _MEMO[key] = constraint
            if len(_MEMO) > _MEMO_SIZE:
                _MEMO.popitem(last=False)
    return constraint


def _argument_key(schema: Any, regex: Any, engine: str) -> tuple | None:
    """A hashable identity for the arguments, or None when they have none (never memoized)."""
    if regex is not None:
        if isinstance(regex, (re.Pattern, regex_module.Pattern)):
            return ("regex", type(regex), regex.pattern, regex.flags, engine)
        return ("regex", regex, engine) if isinstance(regex, str) else None
    if isinstance(schema, type):
        return ("class", schema, engine)
    if isinstance(schema, (str, bytes)):
        return ("json-text", schema, engine)
    try:  # key order kept: properties are generated in schema order
        return ("json", json.dumps(schema), engine)
    except (TypeError, ValueError):
        return None


def _regex_constraint(pattern: Any, engine: str) -> Constraint:
    if isinstance(pattern, re.Pattern):
        pattern = regex_module.compile(pattern.pattern, pattern.flags)
    if not isinstance(pattern, (str, regex_module.Pattern)):
        raise UsageError(f"regex must be a str or a compiled pattern, got "
                         f"{type(pattern).__name__}")
    _check_syntax(pattern, engine)
    return Constraint(pattern, _pattern_key(pattern, engine), engine)


def _pattern_key(pattern: Any, engine: str) -> tuple:
    if isinstance(pattern, regex_module.Pattern):
        return (pattern.pattern, pattern.flags, engine)
    return (pattern, 0, engine)


def _check_syntax(pattern: Any, engine: str) -> None:
    if engine == "automaton":
        from decoding.syntax import parse

        parse(pattern)


def _schema_constraint(schema: Any, engine: str, cache_dir: Any) -> Constraint:
    from pydantic import BaseModel

    from decoding import persist

    if isinstance(schema, type) and issubclass(schema, BaseModel):
        parser = _pydantic_parser(schema)
    elif isinstance(schema, (dict, bool, str, bytes)):
        parser = None
    else:
        raise UsageError(f"schema must be a Pydantic model class, a JSON Schema dict or JSON "
                         f"text, got {type(schema).__name__}")
    pattern = persist.cached_to_regex(schema, persist.store_for(cache_dir))
    if parser is None:
        parser = _json_schema_parser(json.loads(schema) if isinstance(schema, (str, bytes))
                                     else schema)
    return Constraint(pattern, _pattern_key(pattern, engine), engine, parser)


def _pydantic_parser(model: type) -> Callable[[str], Any]:
    from pydantic import ValidationError

    def parse(text: str) -> Any:
        try:
            return model.model_validate_json(text)
        except ValidationError as exc:
            raise OutputValidationError(f"the output does not validate as {model.__name__}: "
                                        f"{exc}", text) from exc

    return parse


def _json_schema_parser(document: Any) -> Callable[[str], Any]:
    from jsonschema import exceptions, validators

    validator = validators.validator_for(document)(document)

    def parse(text: str) -> Any:
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise OutputValidationError(f"the output is not JSON: {exc}", text) from exc
        error = exceptions.best_match(validator.iter_errors(value))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "the root"
            raise OutputValidationError(f"the output does not validate against the schema at "
                                        f"{where}: {error.message}", text)
        return value

    return parse
