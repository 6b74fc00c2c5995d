"""Terms with finitely many instances (`enum`, `const`, null/boolean-only): enumerate and validate.

For such a term the generated language is exactly the compact JSON text of each candidate value
that `jsonschema` accepts under every node of the term (each node in full, applicators
included). This is exact whatever other keywords sit next to the enum (`not`, `if`,
`uniqueItems`, ...). Candidates include both spellings of an integral number (`1` and `1.0`),
which JSON Schema treats as equal, so that the `enum` value's spelling does not matter.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from fractions import Fraction
from typing import Any

from schema2re import terms
from schema2re.context import Context
from schema2re.terms import Term

_EXACT_FLOAT = 2**53


def pool(ctx: Context, term: Term) -> list[Any] | None:
    """The smallest enum/const value list of the term (unvalidated), else None.

    Null/boolean-only terms have the pool of their possible values.
    """
    return _pool(ctx, term)[1]


def _pool(ctx: Context, term: Term) -> tuple[Term, list[Any] | None]:
    """`pool`, and the term its values still have to be checked against: without the
    enum/const they came from, which every variant of them satisfies (JSON Schema compares
    numbers by value), so each candidate is checked in time independent of that list's length."""
    best: list[Any] | None = None
    rest = term
    for i, node in enumerate(term):
        if ctx.doc.active(node, "const"):
            found, keyword = [node.schema["const"]], "const"
        elif ctx.doc.active(node, "enum"):
            found, keyword = list(node.schema["enum"]), "enum"
        else:
            continue
        if best is None or len(found) < len(best):
            best = found
            schema = {k: v for k, v in node.schema.items() if k != keyword}
            rest = term[:i] + (replace(node, schema=schema),) + term[i + 1:]
    if best is None:
        types = terms.term_types(ctx, term)
        if types <= {"null", "boolean"}:
            best = [v for v in (None, True, False) if json_type(v) in types]
    return rest, None if best is None else variants(best)


def candidates(ctx: Context, term: Term) -> list[Any] | None:
    """The term's instances (see module doc), or None if the term is not known to be finite.
    Each candidate checked is one translation step (`Context.tick`)."""
    rest, found = _pool(ctx, term)
    if found is None:
        return None
    out = []
    for v in found:
        ctx.tick()
        if ctx.doc.is_valid(v, rest):
            out.append(v)
    return out


def variants(values: list[Any]) -> list[Any]:
    """`values` plus the other spelling of each integral number; no two with the same text."""
    out: dict[str, Any] = {}
    for value in values:
        for v in _spellings(value):
            text = serialize(v)
            if text is not None:
                out.setdefault(text, v)
    return list(out.values())


def _spellings(value: Any) -> list[Any]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return [value]
    if isinstance(value, float) and value.is_integer() and abs(value) < _EXACT_FLOAT:
        return [value, int(value)]
    if isinstance(value, int) and abs(value) < _EXACT_FLOAT:
        return [value, float(value)]
    return [value]


def serialize(value: Any) -> str | None:
    """Compact JSON text of `value` (None if it has none, e.g. NaN); lone surrogates escaped."""
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:
        return None
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        text = "".join(f"\\u{ord(c):04x}" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    return text


def json_type(value: Any) -> str:
    """The JSON type name of a Python JSON value ("integer" for integral numbers)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def equality_key(value: Any) -> Any:
    """A hashable key equal for JSON values JSON Schema considers equal (1 == 1.0, key order)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    if isinstance(value, (int, float)):
        return ("number", Fraction(value) if math.isfinite(value) else value)
    if isinstance(value, list):
        return ("array", tuple(equality_key(v) for v in value))
    return ("object", frozenset((k, equality_key(v)) for k, v in value.items()))
