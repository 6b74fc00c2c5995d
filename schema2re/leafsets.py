"""Exact sets of strings and numbers, so that a leaf schema can be subtracted (`not`, `oneOf`).

`leaf_set(ctx, node, kind)` returns the canonical JSON texts of the values of `kind` ("string",
"integer" or "number") that `node` accepts, as an `Rx`, or None when that set is not known
exactly. `universe(kind, patterns)` is the set within which such a subtraction is exact.
`subtract(ctx, positive, nodes, kind, excluded)` is `positive` without the values of `nodes`
and the strings `excluded`, within the universe.

Contract:
- Exact, not a subset: a complement of a subset would accept values the schema accepts. So
  only the keywords whose translation is exact are read: `type`, `allOf`, `anyOf` and `$ref`
  of such schemas, boolean schemas; for strings `minLength`, `maxLength`, `pattern` (`ecma`
  gives the strings both regex readings match) and `enum`/`const` (checked by the validator);
  for numbers the bounds and an integer `multipleOf` (`numbers.integer_rx` is exact on
  canonical integers of at most `numbers.RESIDUE_DIGITS` digits, `number_rx` complete on the
  decimals of the universe). A standard
  `format` (a sound subset, `formats`), a float `multipleOf` and everything else give None; a
  format no draft defines is an annotation (ignored).
- Canonical texts: a string's characters are written one way (`strings.json_content_rx`), as
  `json.dumps(..., ensure_ascii=False)` writes them; numbers are canonical integers of at most
  `numbers.RESIDUE_DIGITS` digits (where an unrolled remainder automaton is exact) and, for
  "number", the decimals `NON_INTEGER` (no exponent, at most 9 integer and 6 fraction digits,
  a last fraction digit other than 0: never an integer, and far enough from one that
  `jsonschema`'s float division by an integer never lands on an integer). The sets and the
  universe hold only those texts, so a difference never keeps another spelling of a
  subtracted value.
- Agreement of the readings: `ecma` gives a pattern the meaning both ECMA-262 and Python's `re`
  agree on, the intersection of the two readings, so its complement is exact only on strings
  where the readings coincide. The string universe leaves out the characters where they
  differ: the C0 controls, U+0085, U+2028 and U+2029 (`.`, `$`, `\\s`), and, when a subtracted
  pattern uses `\\d \\w \\s` or their negations, every character outside printable ASCII.
  A result is thus a subset of the true difference: generation stays sound.
"""

from __future__ import annotations

import re

from decoding.automaton import charclass
from decoding.automaton import expr as x
from decoding.automaton.hir import CharSet, Concat, Repeat
from schema2re import formats, numbers, strings, terms
from schema2re.context import Context
from schema2re.document import Node
from schema2re.errors import UnsupportedSchemaError
from schema2re.numbers import EmptyRangeError
from schema2re.rx import Rx, alt, both, cat, lit, minus, raw

_APPLICATORS = {"type", "allOf", "anyOf", "$ref"}
_OWN = {"string": {"minLength", "maxLength", "pattern", "enum", "const"},
        "integer": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}}
_OWN["number"] = _OWN["integer"]
_DIVERGENT = charclass.normalize([(0x00, 0x1F), (0x85, 0x85), (0x2028, 0x2029)])
_ASCII = ((0x20, 0x7E),)
_CLASS_ESCAPE = re.compile(r"\\[dDwWsS]")
_NOTHING = Rx(x.NOTHING)
NON_INTEGER = r"-?(?:0|[1-9][0-9]{0,8})\.[0-9]{0,5}[1-9]"
_INTEGERS = raw(r"0|-?[1-9][0-9]{0,%d}" % (numbers.RESIDUE_DIGITS - 1))


def leaf_set(ctx: Context, node: Node, kind: str, patterns: list[str] | None = None) -> Rx | None:
    """Canonical texts of the values of `kind` that `node` accepts (an empty set is `Rx` of
    nothing); None when not known exactly (see module doc). The `pattern`s read are added to
    `patterns`."""
    ctx.tick()
    patterns = [] if patterns is None else patterns
    schema = node.schema
    if schema is True or schema is False:
        return universe(kind, []) if schema else _NOTHING
    if not isinstance(schema, dict) or kind not in _OWN:
        return None
    doc = ctx.doc
    active = {k for k in schema if doc.active(node, k)
              and not (k == "format" and schema[k] not in formats.STANDARD_FORMATS)}  # annotations
    if not active <= _APPLICATORS | _OWN[kind] or (
            doc.ref_overrides_siblings and "$ref" in active and active != {"$ref"}):
        return None
    types = terms.term_types(ctx, (node,))
    if kind not in types and not (kind == "number" and "integer" in types):
        return _NOTHING
    if isinstance(schema.get("pattern"), str):
        patterns.append(schema["pattern"])
    parts: list[Rx | None] = [_own(ctx, node, kind, types)]
    if "$ref" in active:
        target = doc.resolve(node)
        parts.append(None if ctx.is_cut(target.refs) else leaf_set(ctx, target, kind, patterns))
    for keyword in ("allOf", "anyOf"):
        if keyword in active:
            found = [leaf_set(ctx, doc.child(node, sub, keyword, i, in_place=True), kind, patterns)
                     for i, sub in enumerate(schema[keyword])]
            parts.append(None if None in found else
                         both(found) if keyword == "allOf" else alt(found) or _NOTHING)  # type: ignore[arg-type]
    if None in parts:
        return None
    return both(parts) or _NOTHING  # type: ignore[arg-type]


def _own(ctx: Context, node: Node, kind: str, types: frozenset[str]) -> Rx | None:
    """The values of the node's own keywords (the applicators aside)."""
    schema = node.schema
    try:
        if kind == "string":
            if "enum" in schema or "const" in schema:
                values = list(schema.get("enum", [])) + ([schema["const"]] if "const" in schema else [])
                found = {v for v in values if isinstance(v, str) and ctx.doc.is_valid(v, (node,))}
                return alt(literal(v) for v in sorted(found)) or _NOTHING
            return strings.string_rx(schema.get("minLength", 0), schema.get("maxLength"),
                                     schema.get("pattern"), pointer=node.pointer)
        return _numbers(ctx, node, kind, types)
    except EmptyRangeError:
        return _NOTHING
    except UnsupportedSchemaError:
        return None


def _numbers(ctx: Context, node: Node, kind: str, types: frozenset[str]) -> Rx | None:
    multiple = node.schema.get("multipleOf")
    if multiple is not None and type(multiple) is not int:
        return None
    bounds: dict[str, object] = {}
    for value, exclusive, is_lower in terms.numeric_bounds(ctx, node):
        name = ("exclusive_" if exclusive else "") + ("minimum" if is_lower else "maximum")
        bounds[name] = value
    integers = numbers.integer_rx(**bounds, multiple_of=multiple, pointer=node.pointer)
    if kind == "integer" or multiple is not None or "number" not in types:
        return integers  # an integer multipleOf holds for no non-integer
    return alt([integers, both([numbers.number_rx(**bounds, pointer=node.pointer),
                                raw(NON_INTEGER)])])


def literal(value: str) -> Rx:
    """The canonical text of the string `value`."""
    content = strings.json_content_rx(Concat(tuple(CharSet(((ord(c), ord(c)),)) for c in value)))
    return _quoted(content)


def universe(kind: str, patterns: list[str]) -> Rx:
    """Canonical texts of the values of `kind` where subtracting sets that read `patterns` is
    exact (see module doc)."""
    if kind == "integer":
        return _INTEGERS
    if kind == "number":
        return alt([_INTEGERS, raw(NON_INTEGER)])  # type: ignore[return-value]
    ascii_only = any(_CLASS_ESCAPE.search(p) for p in patterns)
    allowed = _ASCII if ascii_only else charclass.intersect(charclass.ALL, charclass.complement(_DIVERGENT))
    return _quoted(strings.json_content_rx(Repeat(CharSet(allowed), 0, None)))


def subtract(ctx: Context, positive: Rx | None, nodes: list[Node], kind: str,
             excluded: frozenset[str] | set[str] = frozenset()) -> Rx | None:
    """`positive` without the values of `nodes` (each `leaf_set` not None) and without the
    strings `excluded`, within the universe of `kind`."""
    patterns: list[str] = []
    removed = [leaf_set(ctx, n, kind, patterns) for n in nodes] + [literal(v) for v in sorted(excluded)]
    return minus(both([positive, universe(kind, patterns)]), alt(removed))


def _quoted(content: Rx) -> Rx:
    return cat(lit('"'), content, lit('"'))  # type: ignore[return-value]
