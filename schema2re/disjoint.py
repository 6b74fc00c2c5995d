"""Proofs that two schemas share no instance (for `oneOf`, `not` and `if`).

`disjoint_terms(a, b)` returns True only if no JSON value satisfies both terms' own keywords;
False means "not proven" (never "they overlap"). The proof looks at: finite enum/const sets
(checked with the validator against the other side's non-applicator keywords), types, number
intervals, string length intervals, item and property counts, and, recursively to a bounded
depth, array positions and object members that both sides require (e.g. a discriminator
property with different `const` values).

Both sides are read as supersets of their instances (`terms.OVER` expansions, non-applicator
keywords), so a proof holds for the real instances.
"""

from __future__ import annotations

from schema2re import arrays, finite, objects, terms
from schema2re.context import Context
from schema2re.document import Node

MAX_PROOF_DEPTH = 4


def disjoint_terms(ctx: Context, a: terms.Term, b: terms.Term, depth: int) -> bool:
    """Whether the terms provably share no instance (see module doc)."""
    ctx.tick()
    for x, y in ((a, b), (b, a)):
        values = finite.pool(ctx, x)
        if values is None or (ctx.doc.draft == "draft-04" and any(map(_nested_number, values))):
            continue  # draft 4 tells [1] from [1.0], which the pool holds in one spelling only
        if not any(ctx.doc.is_valid(v, y, stripped=True) for v in values):
            return True
    common = _common_types(terms.term_types(ctx, a), terms.term_types(ctx, b))
    if not common:
        return True
    if depth <= 0:
        return False
    return all(_disjoint_as(ctx, t, a, b, depth) for t in common)


def disjoint_nodes(ctx: Context, a: list[Node], b: list[Node], depth: int) -> bool:
    """Whether the conjunctions `a` and `b` provably share no instance."""
    left = terms.expand(ctx, a, terms.OVER)
    right = terms.expand(ctx, b, terms.OVER)
    return all(disjoint_terms(ctx, x, y, depth) for x in left for y in right)


def _common_types(a: frozenset[str], b: frozenset[str]) -> set[str]:
    common = set(a & b)
    if "integer" in common and "number" not in common:
        return common
    common.discard("integer")  # "number" on both sides covers the integers
    return common


def _disjoint_as(ctx: Context, kind: str, a: terms.Term, b: terms.Term, depth: int) -> bool:
    if kind in ("integer", "number"):
        return _apart(_interval(ctx, a), _interval(ctx, b))
    if kind == "string":
        return _counts_apart(ctx, a, b, "minLength", "maxLength")
    if kind == "array":
        if _counts_apart(ctx, a, b, "minItems", "maxItems"):
            return True
        shared = min(_bound(ctx, a, "minItems", max, 0), _bound(ctx, b, "minItems", max, 0))
        la = arrays.layout(ctx, a, with_unevaluated=False)
        lb = arrays.layout(ctx, b, with_unevaluated=False)
        return any(disjoint_nodes(ctx, la.at(i), lb.at(i), depth - 1)
                   for i in range(min(shared, max(len(la.prefix), len(lb.prefix)) + 1)))
    if kind == "object":
        if _counts_apart(ctx, a, b, "minProperties", "maxProperties"):
            return True
        for x, y in ((a, b), (b, a)):
            for name in objects.required_names(ctx, x):
                if not terms.expand(ctx, _members(ctx, y, name), terms.OVER):
                    return True
        both = set(objects.required_names(ctx, a)) & set(objects.required_names(ctx, b))
        return any(disjoint_nodes(ctx, _members(ctx, a, k), _members(ctx, b, k),
                                  depth - 1) for k in sorted(both))
    return False


def _members(ctx: Context, term: terms.Term, name: str) -> list[Node]:
    return objects.member_nodes(ctx, term, name, with_unevaluated=False)


def _bound(ctx: Context, term: terms.Term, keyword: str, pick, default):
    found = [v for v, _ in terms.values(ctx, term, keyword)]
    return pick(found) if found else default


def _counts_apart(ctx: Context, a: terms.Term, b: terms.Term, lo_kw: str, hi_kw: str) -> bool:
    lo_a, hi_a = _bound(ctx, a, lo_kw, max, 0), _bound(ctx, a, hi_kw, min, None)
    lo_b, hi_b = _bound(ctx, b, lo_kw, max, 0), _bound(ctx, b, hi_kw, min, None)
    return (hi_a is not None and hi_a < lo_b) or (hi_b is not None and hi_b < lo_a)


def _interval(ctx: Context, term: terms.Term):
    """(low, low_exclusive, high, high_exclusive) over the term's numeric bounds (None: open)."""
    lo = hi = None
    lo_x = hi_x = False
    for node in term:
        for value, exclusive, is_lo in terms.numeric_bounds(ctx, node):
            if is_lo and (lo is None or value > lo or (value == lo and exclusive)):
                lo, lo_x = value, exclusive
            if not is_lo and (hi is None or value < hi or (value == hi and exclusive)):
                hi, hi_x = value, exclusive
    return lo, lo_x, hi, hi_x


def _apart(a, b) -> bool:
    lo_a, lo_ax, hi_a, hi_ax = a
    lo_b, lo_bx, hi_b, hi_bx = b
    return _below(hi_a, hi_ax, lo_b, lo_bx) or _below(hi_b, hi_bx, lo_a, lo_ax)


def _below(hi, hi_x, lo, lo_x) -> bool:
    if hi is None or lo is None:
        return False
    return hi < lo or (hi == lo and (hi_x or lo_x))


def _nested_number(value) -> bool:
    """Whether a container value holds a number somewhere inside."""
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
    if items is None:
        return False
    return any(isinstance(v, (int, float)) and not isinstance(v, bool) or _nested_number(v) for v in items)
