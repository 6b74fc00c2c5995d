"""What a generation must produce: the pattern the guide follows and how its text becomes a value.

`make_constraint(schema=..., regex=..., options=ConstraintOptions(...))` checks the arguments and
translates a schema to an expression (`schema2re.to_expression`; regex text for the partial
engine) without touching any model, so every bad argument fails before model work:
- both given, or a regex of the wrong type: `UsageError`;
- a schema that is none of the accepted kinds, or does not translate: the
  `schema2re.errors.SchemaToRegexError` from `schema2re` (a `TypedecodeError`);
- a regex that does not parse (automaton engine): the `PatternError` from `decoding.automaton.syntax`
  (schema2re's output is valid for the automaton engine by its contract and is not re-parsed).
Translations use the options' `to_regex` keywords; a schema translated before by any process
sharing the disk cache is not translated again (`decoding.persist.cached.cached_schema_language`,
keyed by schema and options): its guide comes from the cache. `regex=` also takes an expression
or a `Language`.

What a schema argument is, is decided by `schema2re.inputs.schema_kind` alone. `Constraint.parse`
turns a generated text into the caller's value and never returns an invalid one
(`OutputValidationError` instead):
- regex: the text itself;
- JSON Schema (dict or JSON text): `json.loads` of the text, validated with `jsonschema`;
- a Python type (Pydantic model class, Enum, `Literal[...]`, `list[int]`, anything a
  `pydantic.TypeAdapter` takes, or a TypeAdapter): `TypeAdapter(type).validate_json(text)`,
  the model instance, Enum member, list...
`Constraint.key` is (pattern text or language name, flags, engine): what a compiled guide
depends on.

Per-row constraints (`row_constraints`): in a batch, `schema=` or `regex=` may be a list (or
tuple), one entry per prompt, each made by `make_constraint`; a None entry leaves its row
unconstrained (its value is the plain text). A list needs a list of prompts of the same length
(`UsageError` otherwise); any other argument constrains every row alike.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import regex as regex_module

from decoding.automaton.expr import Expr
from decoding.automaton.language import Language
from decoding.errors import OutputValidationError, TypedecodeError, UsageError
from decoding.hf.options import ConstraintOptions
from decoding.util import LRU


@dataclass(frozen=True)
class Constraint:
    """A pattern (regex text, `regex.Pattern`, expression or `Language`: what
    `decoding.compile` takes) plus the conversion of a matching text to a value."""

    pattern: str | regex_module.Pattern | Expr | Language
    key: tuple
    engine: str = "automaton"
    _parse: Callable[[str], Any] = field(default=lambda text: text, repr=False, compare=False)

    def parse(self, text: str) -> Any:
        """The value for `text`; `OutputValidationError` if it does not parse or validate."""
        return self._parse(text)


_MEMO: LRU[tuple, Constraint] = LRU(128)


def make_constraint(schema: Any = None, regex: Any = None,
                    options: ConstraintOptions | None = None,
                    cache_dir: Any = None) -> Constraint | None:
    """The constraint for a call's `schema` / `regex` arguments, or None for plain generation.

    `options` may be any `ConstraintOptions` (a `GenerationOptions` too: only its constraint
    fields count); None means the defaults. Memoized per process by (arguments, constraint
    options): the same schema or regex is translated and checked once per options; schema
    translations are also kept in the disk cache at `cache_dir` (as for `decoding.compile`).
    """
    if schema is not None and regex is not None:
        raise UsageError("pass either schema= or regex=, not both")
    if schema is None and regex is None:
        return None
    options = (options or ConstraintOptions()).constraint_options()
    key = _argument_key(schema, regex, options)

    def make() -> Constraint:
        if regex is not None:
            return _regex_constraint(regex, options.engine)
        return _schema_constraint(schema, options, cache_dir)

    return make() if key is None else _MEMO.get_or_make(key, make)[0]


def row_constraints(schema: Any, regex: Any, options: ConstraintOptions | None,
                    cache_dir: Any, rows: int | None) -> tuple[Constraint | None, ...]:
    """One constraint per prompt (see the module docstring); `rows`: the number of prompts of a
    batch, None for a single prompt (which takes no list)."""
    if schema is not None and regex is not None:
        raise UsageError("pass either schema= or regex=, not both")
    name, given = ("schema", schema) if schema is not None else ("regex", regex)
    if not isinstance(given, (list, tuple)):
        one = make_constraint(schema=schema, regex=regex, options=options, cache_dir=cache_dir)
        return (one,) * (rows or 1)
    if rows is None:
        raise UsageError(f"{name}= is a list ({len(given)} entries): a constraint per row needs "
                         f"a list of prompts of the same length")
    if len(given) != rows:
        raise UsageError(f"{name}= has {len(given)} entries for {rows} prompts: pass one per "
                         f"prompt (None for an unconstrained row)")
    constraints = []
    for i, entry in enumerate(given):
        try:
            constraints.append(make_constraint(options=options, cache_dir=cache_dir,
                                               **{name: entry}))
        except TypedecodeError as exc:
            exc.add_note(f"(in {name}[{i}])")
            raise
    return tuple(constraints)


def _argument_key(schema: Any, regex: Any, options: ConstraintOptions) -> tuple | None:
    """A hashable identity for the arguments, or None when they have none (never memoized)."""
    if regex is not None:
        if isinstance(regex, (Expr, Language)):
            return ("regex", _pattern_key(regex, options.engine))
        if isinstance(regex, (re.Pattern, regex_module.Pattern)):
            return ("regex", type(regex), regex.pattern, regex.flags, options.engine)
        return ("regex", regex, options.engine) if isinstance(regex, str) else None
    from schema2re.inputs import schema_kind

    kind = schema_kind(schema)
    try:
        if kind == "document":  # key order kept: properties are generated in schema order
            return (kind, json.dumps(schema), options)
        hash(schema)
        return (kind, type(schema), schema, options)
    except (TypeError, ValueError, RecursionError):  # a too-deep dict: load_schema refuses it
        return None


def _regex_constraint(pattern: Any, engine: str) -> Constraint:
    if isinstance(pattern, re.Pattern):
        pattern = regex_module.compile(pattern.pattern, pattern.flags)
    if isinstance(pattern, (Expr, Language)):
        if engine == "partial":
            raise UsageError('engine="partial" needs regex text, not an expression')
        return Constraint(pattern, _pattern_key(pattern, engine), engine)
    if not isinstance(pattern, (str, regex_module.Pattern)):
        raise UsageError(f"regex must be a str, a compiled pattern or an expression, got "
                         f"{type(pattern).__name__}")
    _check_syntax(pattern, engine)
    return Constraint(pattern, _pattern_key(pattern, engine), engine)


def _pattern_key(pattern: Any, engine: str) -> tuple:
    if isinstance(pattern, Language):
        return (pattern.name, 0, engine)
    if isinstance(pattern, Expr):
        return (f"expression:{pattern.fingerprint}", 0, engine)
    if isinstance(pattern, regex_module.Pattern):
        return (pattern.pattern, pattern.flags, engine)
    return (pattern, 0, engine)


def _check_syntax(pattern: Any, engine: str) -> None:
    if engine == "automaton":
        from decoding.automaton.syntax import parse

        parse(pattern)


def _schema_constraint(schema: Any, options: ConstraintOptions, cache_dir: Any) -> Constraint:
    from decoding.persist import cached as persist
    from schema2re.inputs import load_schema, schema_kind, type_adapter

    if schema_kind(schema) == "python-type":
        schema = type_adapter(schema)
        parser = _type_parser(schema)
        document = load_schema(schema)
    else:  # a dict is checked by `cached_schema_language` (not again on a cache hit)
        document = schema if isinstance(schema, (dict, bool)) else load_schema(schema)
        parser = _json_schema_parser(document)
    store, keywords = persist.store_for(cache_dir), options.translation_keywords()
    if options.engine == "partial":  # regex text for the `regex` module
        pattern: Any = persist.cached_to_regex(document, store, **keywords)
    else:
        pattern = persist.cached_schema_language(document, store, **keywords)
    return Constraint(pattern, _pattern_key(pattern, options.engine), options.engine, parser)


def _type_parser(adapter: Any) -> Callable[[str], Any]:
    """Validation of a text with a `pydantic.TypeAdapter`: the typed value."""
    from pydantic import ValidationError

    def parse(text: str) -> Any:
        try:
            return adapter.validate_json(text)
        except ValidationError as exc:  # its message names the type
            raise OutputValidationError(f"the output does not validate: {exc}", text) from exc

    return parse


def _json_schema_parser(document: Any) -> Callable[[str], Any]:
    """Validation of a text against `document` with `jsonschema`, whose validator is made (and
    the package imported, ~0.1 s) at the first output, not before the first token."""
    @functools.cache
    def validator() -> Any:
        from jsonschema import validators

        return validators.validator_for(document)(document)

    def parse(text: str) -> Any:
        from jsonschema import exceptions

        try:
            value = json.loads(text)
        except ValueError as exc:
            raise OutputValidationError(f"the output is not JSON: {exc}", text) from exc
        error = exceptions.best_match(validator().iter_errors(value))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "the root"
            raise OutputValidationError(f"the output does not validate against the schema at "
                                        f"{where}: {error.message}", text)
        return value

    return parse
