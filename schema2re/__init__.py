"""schema2re: JSON Schema / Pydantic -> an expression (or a regex) matching only valid JSON instances.

    to_expression(schema, *, whitespace=None, lenient=False, max_depth=3, extra_properties=False)
        -> decoding.automaton.expr.Expr
    to_regex(schema, *, same options) -> str

`to_expression` builds a shared expression graph (a `$ref` used many times is one node; see
`decoding.automaton.expr`), which `decoding.compile` turns into a guide and whose `matches(text)`
checks a string without a model. `to_regex` renders the same language as `regex`-module text
when it has one (no intersection or complement, at most `rx.MAX_CHARS` characters) and raises
`UnsupportedSchemaError` otherwise.

Guarantee (soundness): every string the returned expression (or regex) fully matches is JSON text whose value
is valid under the schema; for a Pydantic model class or other Python type, valid for the type
(its JSON Schema without what Pydantic's validation does not need: see `schema2re.inputs`). What cannot be expressed exactly raises `UnsupportedSchemaError`
naming the keyword and its JSON pointer (under `lenient=True` such keywords are ignored instead
and listed in one `IgnoredKeywordsWarning`; the guarantee then no longer holds).

The regex generates a useful subset of the valid instances, in a canonical shape:
- object members in schema order (`properties` order, then other `required` names), then any
  number of members the schema does not name (their keys never equal a named one, but may repeat
  among themselves: JSON parsers keep the last, and every such value is valid). Where
  `additionalProperties` is absent and properties are named, only the named ones are generated
  unless `extra_properties=True` (see `schema2re.objects`);
- compact JSON with one optional space after `:` and `,` by default (see `schema2re.whitespace`);
- recursion (and free-form values) unrolled `max_depth` levels; alternatives that would go deeper
  are dropped, and a schema with no remaining alternative is an error;
- `oneOf` branches restricted to what the other branches reject (`schema2re.exclusive`); `allOf`
  merged keyword by keyword, never concatenated (`schema2re.terms`);
- enum/const values checked one by one with the schema's own validator (`schema2re.finite`);
- a `format` that no JSON Schema draft defines is an annotation and is ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from decoding import limits
from decoding.errors import UsageError
from decoding.util import gc_paused, warn
from schema2re.errors import (
    IgnoredKeywordsWarning,
    SchemaError,
    SchemaTooComplex,
    SchemaToRegexError,
    UnsupportedSchemaError,
)
from schema2re.inputs import load_schema

if TYPE_CHECKING:
    from decoding.automaton.expr import Expr
    from schema2re.rx import Rx
    from schema2re.whitespace import Whitespace

# The translator's modules (and jsonschema, which they use) are imported by the first
# translation, not with the package: a process that finds its schemas' guides in the disk cache
# only needs `schema2re.inputs` to name them.

__all__ = [
    "IgnoredKeywordsWarning",
    "SchemaError",
    "SchemaToRegexError",
    "SchemaTooComplex",
    "UnsupportedSchemaError",
    "check_options",
    "to_expression",
    "to_regex",
]


def check_options(*, whitespace: str | None = None, max_depth: int = 3) -> None:
    """`UsageError` naming a bad `to_regex` option, else nothing. The translator's modules are
    not imported for the default whitespace (a warm process checks options but does not
    translate).

    `lenient` and `extra_properties` are read as booleans and need no check.
    """
    _check_depth(max_depth)
    if whitespace is not None:
        _whitespace(whitespace)


def _check_depth(max_depth: object) -> None:
    if isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 0:
        raise UsageError(f"max_depth must be a non-negative integer, not {max_depth!r}")


def _whitespace(option: str | None) -> Whitespace:
    from schema2re.whitespace import Whitespace

    return Whitespace.parse(option)


def to_regex(schema: Any, *, whitespace: str | None = None, lenient: bool = False, max_depth: int = 3,
             extra_properties: bool = False) -> str:
    """A regex (for `regex.fullmatch` and `decoding.compile`) matching valid instances of `schema`:
    the text of `to_expression`'s result (same options, errors and warning), or
    `UnsupportedSchemaError` when that needs intersection or complement or passes
    `rx.MAX_CHARS` characters."""
    result, ignored = _translate(schema, whitespace=whitespace, lenient=lenient,
                                 max_depth=max_depth, extra_properties=extra_properties)
    text = result.text
    _warn_ignored(ignored)
    return text


def to_expression(schema: Any, *, whitespace: str | None = None, lenient: bool = False,
                  max_depth: int = 3, extra_properties: bool = False) -> Expr:
    """An expression (`decoding.automaton.expr.Expr`) matching valid instances of `schema`.

    `schema`: a dict or bool, JSON text, a Pydantic model class, or a type Pydantic can describe
    (see `schema2re.inputs.schema_kind`).
    `whitespace`: None (default), "flexible", or a regex (see `schema2re.whitespace`).
    `lenient`: ignore unsupported keywords (with one warning) instead of raising.
    `max_depth`: levels of recursion / free-form nesting to unroll (>= 0).
    `extra_properties`: True lets undeclared members follow the named ones where the schema
    leaves `additionalProperties` absent, as the spec allows (False: only the named properties).
    Raises SchemaError (not JSON / invalid schema), UnsupportedSchemaError (not expressible) or
    `decoding.errors.UsageError` (a bad option).
    """
    result, ignored = _translate(schema, whitespace=whitespace, lenient=lenient,
                                 max_depth=max_depth, extra_properties=extra_properties)
    _warn_ignored(ignored)
    return result.expr


def _translate(schema: Any, *, whitespace: str | None, lenient: bool, max_depth: int,
               extra_properties: bool) -> tuple[Rx, list[tuple[str, str]]]:
    from decoding.automaton.expr import node_budget
    from schema2re.context import Context
    from schema2re.document import Document
    from schema2re.exclusive import one_of_terms
    from schema2re.translate import Translator

    _check_depth(max_depth)
    ws = _whitespace(whitespace)  # parsed once: this checks it too
    bounds = limits.current()
    try:  # a collection in there would walk all of torch's heap: it waits for the end
        with gc_paused():
            doc = Document(load_schema(schema))
            ctx = Context(doc, max_depth=max_depth, lenient=bool(lenient),
                          one_of_terms=one_of_terms, extra_properties=bool(extra_properties))
            with node_budget(bounds.expr_nodes, "the schema",
                             explored=bounds.explored_derivatives,
                             steps=bounds.derivative_steps):
                result = Translator(ctx, ws).translate((doc.root_node(),))
    except RecursionError:
        raise UnsupportedSchemaError("the schema is nested too deeply to translate") from None
    if result is None:
        if ctx.dropped:
            keyword, pointer, reason = ctx.dropped[0]
            raise UnsupportedSchemaError(
                f"no alternative of the schema can be generated; first dropped: {reason}", keyword, pointer)
        raise UnsupportedSchemaError("the schema accepts no value that can be generated")
    return result, ctx.ignored


def _warn_ignored(ignored: list[tuple[str, str]]) -> None:
    if ignored:
        listed = ", ".join(f"{kw} at {ptr or '/'!r}" for kw, ptr in ignored)
        warn(f"lenient: ignored {listed}; the regex may accept invalid instances",
             IgnoredKeywordsWarning, stacklevel=3)
