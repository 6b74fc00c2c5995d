"""Exact sets of JSON strings, so that a string schema can be subtracted (`not`, `oneOf`).

`string_set(ctx, node)` returns the quoted, canonically spelled JSON texts of the strings that
`node` accepts, as an `Rx`, or None when that set is not known exactly. `universe(patterns)`
is the set within which subtracting sets that read those patterns is exact. `subtract(ctx, positive, nodes, excluded)`
is `positive` without the strings of `nodes` and the strings `excluded`.

Contract:
- Exact, not a subset: a complement of a subset would accept values the schema accepts. So
  only the keywords whose translation is exact are read: `type`, `minLength`, `maxLength`,
  `pattern` (`ecma` gives the strings both regex readings match), `enum`/`const` (checked by
  the validator), `allOf`, `anyOf` and `$ref` of such schemas, boolean schemas. `format` (a
  sound subset, `formats`) and everything else give None.
- Canonical spelling: each character is written one way (`strings.json_content_rx`), as
  `json.dumps(..., ensure_ascii=False)` writes it; the sets and `universe` hold only those
  texts, so a difference never keeps another spelling of a subtracted value.
- Agreement of the readings: `ecma` gives a pattern the meaning both ECMA-262 and Python's `re`
  agree on, the intersection of the two readings, so its complement is exact only on strings
  where the readings coincide. `universe` leaves out the characters where they differ: the C0
  controls, U+0085, U+2028 and U+2029 (`.`, `$`, `\\s`), and, when a subtracted pattern uses
  `\\d \\w \\s` or their negations, every character outside printable ASCII. A result is thus
  a subset of the true difference: generation stays sound.
"""

from __future__ import annotations

import re
from decoding.automaton import charclass
from decoding.automaton import expr as x
from decoding.automaton.hir import CharSet, Concat, Repeat
from schema2re import strings, terms
from schema2re.context import Context
from schema2re.document import Node
from schema2re.errors import UnsupportedSchemaError
from schema2re.numbers import EmptyRangeError
from schema2re.rx import Rx, alt, both, cat, lit, minus

_LEAF = {"type", "minLength", "maxLength", "pattern", "enum", "const", "allOf", "anyOf", "$ref"}
_DIVERGENT = charclass.normalize([(0x00, 0x1F), (0x85, 0x85), (0x2028, 0x2029)])
_ASCII = ((0x20, 0x7E),)
_NOTHING = Rx(x.NOTHING)
_CLASS_ESCAPE = re.compile(r"\\[dDwWsS]")


def string_set(ctx: Context, node: Node, patterns: list[str] | None = None) -> Rx | None:
    """Canonical texts of the strings `node` accepts (an empty set is `Rx` of nothing);
    None when not known exactly (see module doc). The `pattern`s read are added to `patterns`."""
    ctx.tick()
    patterns = [] if patterns is None else patterns
    schema = node.schema
    if schema is True or schema is False:
        return _spelled(charclass.ALL) if schema else _NOTHING
    if not isinstance(schema, dict):
        return None
    doc = ctx.doc
    active = {k for k in schema if doc.active(node, k)}
    if not active <= _LEAF or (doc.ref_overrides_siblings and "$ref" in active and active != {"$ref"}):
        return None
    if "string" not in terms.term_types(ctx, (node,)):
        return _NOTHING
    if isinstance(schema.get("pattern"), str):
        patterns.append(schema["pattern"])
    parts: list[Rx | None] = [_own(ctx, node)]
    if "$ref" in active:
        target = doc.resolve(node)
        parts.append(None if ctx.is_cut(target.refs) else string_set(ctx, target, patterns))
    for keyword in ("allOf", "anyOf"):
        if keyword in active:
            found = [string_set(ctx, doc.child(node, sub, keyword, i, in_place=True), patterns)
                     for i, sub in enumerate(schema[keyword])]
            parts.append(None if None in found else
                         both(found) if keyword == "allOf" else alt(found) or _NOTHING)  # type: ignore[arg-type]
    if None in parts:
        return None
    return both(parts) or _NOTHING  # type: ignore[arg-type]


def _own(ctx: Context, node: Node) -> Rx | None:
    """The strings of the node's own string keywords and enum/const."""
    schema = node.schema
    if "enum" in schema or "const" in schema:
        values = list(schema.get("enum", [])) + ([schema["const"]] if "const" in schema else [])
        found = {v for v in values if isinstance(v, str) and ctx.doc.is_valid(v, (node,))}
        return alt(literal(v) for v in sorted(found)) or _NOTHING
    try:
        return strings.string_rx(schema.get("minLength", 0), schema.get("maxLength"),
                                 schema.get("pattern"), pointer=node.pointer)
    except EmptyRangeError:
        return _NOTHING
    except UnsupportedSchemaError:
        return None


def literal(value: str) -> Rx:
    """The canonical text of the string `value`."""
    content = strings.json_content_rx(Concat(tuple(CharSet(((ord(c), ord(c)),)) for c in value)))
    return _quoted(content)


def universe(patterns: list[str]) -> Rx:
    """Canonical texts of the strings where subtracting sets that read `patterns` is exact
    (see module doc)."""
    ascii_only = any(_CLASS_ESCAPE.search(p) for p in patterns)
    allowed = _ASCII if ascii_only else charclass.intersect(charclass.ALL, charclass.complement(_DIVERGENT))
    return _spelled(allowed)


def subtract(ctx: Context, positive: Rx | None, nodes: list[Node], excluded: set[str]) -> Rx | None:
    """`positive` (quoted strings) without the strings of `nodes` (each `string_set` not None)
    and without the strings `excluded`, within `universe(nodes)`."""
    patterns: list[str] = []
    removed = [string_set(ctx, n, patterns) for n in nodes] + [literal(v) for v in sorted(excluded)]
    return minus(both([positive, universe(patterns)]), alt(removed))


def _spelled(ranges: charclass.Ranges) -> Rx:
    return _quoted(strings.json_content_rx(Repeat(CharSet(ranges), 0, None)))


def _quoted(content: Rx) -> Rx:
    return cat(lit('"'), content, lit('"'))  # type: ignore[return-value]


