"""JSON arrays: positional schemas, item counts, unique finite items.

Contract of `array_rx` (the array part of one term):
- Position i satisfies every node's schema for it: `prefixItems[i]` (before 2020-12: `items[i]`
  when `items` is an array), else that node's `items` (before 2020-12: `additionalItems`), and
  `unevaluatedItems` where no node evaluates the position.
- `minItems`/`maxItems` are exact; a position whose schema cannot be generated caps the length.
- `uniqueItems: true` is exact when at most one item is possible, or when the items form a finite
  set (`enum`, `const`, booleans...): each value at most once, in any order while the set is
  small (`sequence.any_order`: at most 8 values, in practice 4-6, within its tree bound), else
  as an ordered subsequence of that set (schema order). Otherwise a typed error.
- `contains` (with `minContains` and `maxContains`): arrays holding the required number of
  matching items, in a canonical layout (see `_with_contains`); with `maxContains` the other
  items fail `contains` (its complement, `schema2re.negate`). `contains` with `prefixItems` or
  `uniqueItems` is a typed error. Several `contains` (as from `not: {items: S}`, "some item
  fails S") each needing one item, without counts or `maxItems`: one item matching all, or one
  item for each in any order (`_with_several`, a subset); otherwise a typed error.
- Elements are separated by `,` and the whitespace policy; size is linear in the prefix length.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from schema2re import finite, terms
from schema2re.context import Context
from schema2re.document import Node, pointer_join
from schema2re.rx import EMPTY, Rx, alt, cat, lit, opt, rep
from schema2re.sequence import any_order, subsequence

if TYPE_CHECKING:
    from schema2re.translate import Translator

MAX_SEVERAL = 3


@dataclass(frozen=True)
class Layout:
    """Nodes constraining each leading position, and every position after them."""

    prefix: tuple[tuple[Node, ...], ...]
    rest: tuple[Node, ...]

    def at(self, index: int) -> list[Node]:
        """The nodes constraining position `index`."""
        return list(self.prefix[index] if index < len(self.prefix) else self.rest)


def layout(ctx: Context, term: terms.Term, *, with_unevaluated: bool = True) -> Layout:
    """The positional layout of the term's arrays (see module doc).

    `with_unevaluated=False` leaves `unevaluatedItems` out (for supersets, as in
    `objects.member_nodes`).
    """
    doc = ctx.doc
    per_node: list[tuple[list[Node], Node | None]] = []
    for node in term:
        items = node.schema["items"] if doc.active(node, "items") else None
        if doc.tuple_items and isinstance(items, list):
            prefix = [doc.child(node, s, "items", i) for i, s in enumerate(items)]
            rest = (doc.child(node, node.schema["additionalItems"], "additionalItems")
                    if doc.active(node, "additionalItems") else None)
        else:
            prefix = ([doc.child(node, s, "prefixItems", i) for i, s in enumerate(node.schema["prefixItems"])]
                      if doc.active(node, "prefixItems") else [])
            rest = doc.child(node, items, "items") if items is not None else None
        per_node.append((prefix, rest))
    width = max((len(p) for p, _ in per_node), default=0)
    positions = []
    for i in range(width):
        nodes = [p[i] if i < len(p) else r for p, r in per_node if i < len(p) or r is not None]
        evaluators = [n for n, (p, r) in zip(term, per_node) if i < len(p) or r is not None]
        extra = terms.unevaluated(ctx, term, evaluators, "unevaluatedItems") if with_unevaluated else []
        positions.append(tuple(nodes + extra))  # type: ignore[operator]
    evaluators = [n for n, (_, r) in zip(term, per_node) if r is not None]
    extra = terms.unevaluated(ctx, term, evaluators, "unevaluatedItems") if with_unevaluated else []
    rest_nodes = tuple([r for _, r in per_node if r is not None] + extra)
    return Layout(tuple(positions), rest_nodes)


def array_rx(ctx: Context, term: terms.Term, tr: "Translator") -> Rx | None:
    """The regex of the term's array instances (see module doc)."""
    lay = layout(ctx, term)
    lo = max((v for v, _ in terms.values(ctx, term, "minItems")), default=0)
    hi = min((v for v, _ in terms.values(ctx, term, "maxItems")), default=None)
    found = _contains(ctx, term)
    if len(found) > 1 and hi is None and not lay.prefix and all(k == 1 and m is None for _, k, m, _ in found):
        return _with_several(ctx, term, lay, [n for n, _, _, _ in found], lo, tr)
    if len(found) > 1:
        ctx.unsupported("contains", pointer_join(found[1][3].pointer, "contains"),
                        "several contains on one array, with counts, maxItems or prefixItems")
    if found:
        return _with_contains(ctx, term, lay, found[0], lo, hi, tr)
    prefix: list[Rx] = []
    for nodes in lay.prefix:
        if hi is not None and len(prefix) >= hi:
            break
        item = tr.translate(nodes)
        if item is None:
            hi = len(prefix)
            break
        prefix.append(item)
    rest = None
    if len(prefix) == len(lay.prefix) and (hi is None or hi > len(prefix)):
        rest = tr.translate(lay.rest)
    if rest is None:
        hi = len(prefix) if hi is None else min(hi, len(prefix))
    if hi is not None and lo > hi:
        return None
    unique = [n for v, n in terms.values(ctx, term, "uniqueItems") if v is True]
    if unique and (hi is None or hi > 1):
        return _unique(ctx, lay, unique[0], lo, hi, tr)
    return tr.ws.container("[", _body(prefix, rest, lo, hi, tr.ws.comma()), "]", allow_empty=lo == 0)


def _body(prefix: list[Rx], rest: Rx | None, lo: int, hi: int | None, sep: Rx) -> Rx | None:
    """Non-empty element lists: prefix[0], prefix[1], ..., then `rest` items; lo..hi elements.

    Requires len(prefix) <= hi; `rest` None means no element after the prefix.
    """
    k = len(prefix)
    if hi == 0 or (k == 0 and rest is None):
        return None
    start = max(k, 1)  # elements written before the repeated rest region
    rest_lo = max(0, lo - start)
    rest_hi = None if hi is None else hi - start
    if rest is None:
        tail = EMPTY if rest_lo == 0 else None
    else:
        tail = rep(cat(sep, rest), rest_lo, rest_hi)
    for i in range(k - 1, 0, -1):  # positions k-1 .. 1, each after a separator
        piece = cat(sep, prefix[i], tail)
        tail = piece if i < lo else opt(piece)
    return cat(prefix[0] if k else rest, tail)


def _unique(ctx: Context, lay: Layout, node: Node, lo: int, hi: int | None, tr: "Translator") -> Rx | None:
    """Arrays of distinct items drawn from a finite item set, in any order where it stays small,
    else in the set's order."""
    where = pointer_join(node.pointer, "uniqueItems")
    values: list | None = [] if not lay.prefix else None
    if values is not None:
        for term in terms.expand(ctx, lay.rest, terms.GEN):
            found = finite.candidates(ctx, term)
            if found is None:
                values = None
                break
            values.extend(found)
    if values is None:
        ctx.unsupported("uniqueItems", where,
                        "uniqueItems is only expressible for finite item sets or at most one item")
        return tr.ws.container("[", _body([], tr.translate(lay.rest), lo, hi, tr.ws.comma()), "]",
                               allow_empty=lo == 0)
    groups: dict = {}
    for value in values:
        groups.setdefault(finite.equality_key(value), []).append(value)
    entries = [(alt(lit(finite.serialize(v)) for v in group), False) for group in groups.values()]
    sep = tr.ws.comma()
    shape = any_order(entries, sep, lo, hi) or subsequence(entries, sep, lo, hi)  # type: ignore[arg-type]
    body, empty_ok = shape
    return tr.ws.container("[", body, "]", allow_empty=empty_ok)


def _contains(ctx: Context, term: terms.Term) -> list[tuple[Node, int, int | None, Node]]:
    """The term's effective `contains`: (its schema node, minContains, maxContains or None,
    holder) each. A `{"not": {"items": S}}` marked `terms.SUBTRACTED` for arrays counts as
    `contains: {"not": S}`."""
    found = []
    for value, node in terms.values(ctx, term, "not"):
        if node.get(terms.SUBTRACTED) == "array":  # "some item fails S" (`negate`)
            items = ctx.doc.child(ctx.doc.child(node, value, "not"), value["items"], "items")
            found.append((terms.failing(items), 1, None, node))
    for value, node in terms.values(ctx, term, "contains"):
        newer = ctx.doc.draft in ("2019-09", "2020-12")
        least = node.schema.get("minContains", 1) if newer else 1
        most = node.schema.get("maxContains") if newer else None
        if least > 0 or most is not None:
            found.append((ctx.doc.child(node, value, "contains"), int(least),
                          None if most is None else int(most), node))
    return found


def _with_several(ctx: Context, term: terms.Term, lay: Layout, wanted: list[Node], lo: int,
                  tr: "Translator") -> Rx | None:
    """Arrays with, for each of several `contains` (each at least once, no maxContains, no
    maxItems), an item matching it (a subset): one item matching all of them, or one item per
    `contains` in any order (at most `MAX_SEVERAL` of them), other items anywhere."""
    if any(v is True for v, _ in terms.values(ctx, term, "uniqueItems")) or len(wanted) > MAX_SEVERAL:
        ctx.unsupported("contains", wanted[1].pointer,
                        f"several contains with uniqueItems, or more than {MAX_SEVERAL} of them")
    other = tr.translate(lay.rest)
    sep = tr.ws.comma()
    gap = rep(cat(sep, other), 0, None)
    orders = [[tuple(wanted)]] + [[(n,) for n in p] for p in itertools.permutations(wanted)]
    bodies = []
    for order in orders:
        matching = [tr.translate(lay.rest + nodes) for nodes in order]
        if None in matching:
            continue
        first = cat(rep(cat(other, sep), 0, None), matching[0])
        body = cat(first, *[cat(gap, sep, m) for m in matching[1:]],
                   rep(cat(sep, other), max(0, lo - len(order)), None))
        bodies.append(body)
    return tr.ws.container("[", alt(bodies), "]", allow_empty=False)


def _with_contains(ctx: Context, term: terms.Term, lay: Layout,
                   contains: tuple[Node, int, int | None, Node], lo: int, hi: int | None,
                   tr: "Translator") -> Rx | None:
    """Arrays with k..m items valid under `contains` (a subset of them, see below).

    Unbounded: `[O, ..., C, (O, ...,) C, ..., O]` (other items, then c matching ones with other
    items between, then at least lo-k more), k <= c <= m, where the other items are any items
    without maxContains and items failing `contains` with it (`{"not": contains}`, a subset of
    them where the complement is not expressible exactly); with k = 0 also arrays of other items
    only. With maxItems: the k matching items first (or none when k = 0), then other items.
    """
    node, k, most, holder = contains
    if lay.prefix or any(v is True for v, _ in terms.values(ctx, term, "uniqueItems")):
        ctx.unsupported("contains", pointer_join(holder.pointer, "contains"),
                        "contains together with prefixItems or uniqueItems is not supported")
    if most is not None and most < k:
        return None
    other = tr.translate(lay.rest if most is None else lay.rest + (terms.failing(node),))
    matching = tr.translate(lay.rest + (node,)) if most is None or most > 0 else None
    first = max(k, 1)  # matching items in the canonical layout (when any)
    if hi is not None and hi < max(k, lo):
        return None
    sep = tr.ws.comma()
    bodies = []
    if matching is not None and (most is None or most >= first) and (hi is None or hi >= first):
        if hi is None:
            between = rep(cat(sep, other), 0, None)
            extra = None if most is None else most - 1
            bodies.append(cat(rep(cat(other, sep), 0, None), matching,
                              rep(cat(between, sep, matching), first - 1, extra),
                              rep(cat(sep, other), max(0, lo - first), None)))
        else:
            bodies.append(cat(matching, rep(cat(sep, matching), first - 1, first - 1),
                              rep(cat(sep, other), max(0, lo - first), hi - first)))
    if k == 0 and hi != 0:
        bodies.append(cat(other, rep(cat(sep, other), max(0, lo - 1), None if hi is None else hi - 1)))
    return tr.ws.container("[", alt(bodies), "]", allow_empty=k == 0 and lo == 0)
