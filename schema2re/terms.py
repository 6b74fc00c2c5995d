"""Disjunctive normal form of schemas: expand `$ref`, `allOf`, `anyOf` and `oneOf` into terms.

A term is a tuple of nodes that must all hold; each node contributes only its own
(non-applicator) keywords, since its applicators have been expanded into the term list. A list
of terms stands for their union. `allOf` is never concatenated: its branches become nodes of the
same term, which the type builders then merge keyword by keyword.

Two modes:
- `GEN` (generation): the union of the terms is a SUBSET of the schema's valid instances.
  Recursion past `max_depth` yields no term; each `oneOf` branch is restricted to the instances
  the other branches reject (`ctx.one_of_terms`, i.e. `exclusive`).
- `OVER` (analysis, for disjointness proofs): the union is a SUPERSET of the valid instances.
  Anything not understood (recursion past the limit, dynamic references, too many terms) becomes
  "no constraint", which only enlarges the set.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from schema2re.context import Context
from schema2re.document import Node, pointer_join
from schema2re.errors import SchemaError, UnsupportedSchemaError

GEN = "gen"
OVER = "over"
MAX_TERMS = 2048

Term = tuple[Node, ...]
TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")

# Keywords that may restrict the values of each type (anything else leaves the type whole).
RESTRICTS = {
    "integer": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"},
    "string": {"minLength", "maxLength", "pattern", "format"},
    "array": {"items", "prefixItems", "additionalItems", "minItems", "maxItems", "uniqueItems",
              "contains", "unevaluatedItems"},
    "object": {"properties", "patternProperties", "additionalProperties", "required",
               "minProperties", "maxProperties", "dependentRequired", "dependentSchemas",
               "dependencies", "propertyNames", "unevaluatedProperties"},
    "null": set(),
    "boolean": set(),
}
RESTRICTS["number"] = RESTRICTS["integer"]
SUBTRACTED = "x-typedecode-subtracted"
"""Marks a synthetic `{"not": S}` whose values of the type it names that type's builder makes
(`schema2re.negate` writes it; `leafsets`, `arrays` and `objects` read it)."""
RESTRICTS_ALL = {"enum", "const", "not", "if", "$ref", "$dynamicRef", "$recursiveRef",
                 "allOf", "anyOf", "oneOf"}


def expand(ctx: Context, nodes: Iterable[Node], mode: str) -> list[Term]:
    """Terms whose union is the conjunction of `nodes` (see module doc for the modes)."""
    result: list[Term] = [()]
    for node in nodes:
        result = _product(ctx, [result, expand_node(ctx, node, mode)], node, mode)
        if not result:
            break
    return result


def expand_node(ctx: Context, node: Node, mode: str) -> list[Term]:
    """Terms whose union is `node` (see module doc)."""
    ctx.tick()
    schema = node.schema
    if schema is True:
        return [()]
    if schema is False or not isinstance(schema, dict):
        return []
    doc = ctx.doc
    parts: list[list[Term]] = [[(node,)]]
    for keyword in ("$ref", "$dynamicRef", "$recursiveRef"):
        if not doc.active(node, keyword):
            continue
        target = _resolve(ctx, node, keyword, mode)
        if target is None:
            target_terms: list[Term] = [()]
        elif ctx.is_cut(target.refs):
            if mode == OVER:
                target_terms = [()]
            else:
                ctx.drop(keyword, pointer_join(node.pointer, keyword),
                         f"recursion deeper than max_depth={ctx.max_depth} levels")
                return []
        else:
            target_terms = expand_node(ctx, target, mode)
        if keyword == "$ref" and doc.ref_overrides_siblings:
            return target_terms
        parts.append(target_terms)
    if doc.active(node, "allOf"):
        for i, sub in enumerate(schema["allOf"]):
            parts.append(expand_node(ctx, doc.child(node, sub, "allOf", i, in_place=True), mode))
    if doc.active(node, "anyOf"):
        parts.append(_union(ctx, node, "anyOf", mode))
    if doc.active(node, "oneOf"):
        if mode == GEN:
            parts.append(ctx.one_of_terms(ctx, node))
        else:
            parts.append(_union(ctx, node, "oneOf", mode))
    return _product(ctx, parts, node, mode)


def conjoin(ctx: Context, term: Term, nodes: Iterable[Node]) -> list[Term]:
    """GEN terms of `term` (already expanded) and `nodes` (expanded here) together."""
    return [term + u for u in expand(ctx, nodes, GEN)]


def _resolve(ctx: Context, node: Node, keyword: str, mode: str) -> Node | None:
    """The reference's target; None when it is ignored (OVER, or GEN under lenient).

    `$dynamicRef` resolves in the node's dynamic scope, which its resolver carries (the path
    from the root, as the validator walks it: see `Document.resolve`); `$recursiveRef` is
    followed only where it provably resolves like a plain reference.
    """
    try:
        target = ctx.doc.resolve(node, keyword)
        if keyword == "$recursiveRef" and not ctx.doc.dynamic_is_static(node, keyword, target):
            raise UnsupportedSchemaError(f"{keyword} depends on the dynamic scope", keyword,
                                         node.pointer + "/" + keyword)
        return target
    except UnsupportedSchemaError as exc:
        if mode == GEN:
            ctx.unsupported(keyword, exc.pointer, exc.reason)
        return None
    except SchemaError:
        if mode == GEN:
            raise
        return None


def branches(ctx: Context, node: Node, keyword: str) -> list[Node]:
    """The in-place subschemas of an anyOf/oneOf/allOf keyword of `node`."""
    return [ctx.doc.child(node, sub, keyword, i, in_place=True) for i, sub in enumerate(node.schema[keyword])]


def _union(ctx: Context, node: Node, keyword: str, mode: str) -> list[Term]:
    return [t for branch in branches(ctx, node, keyword) for t in expand_node(ctx, branch, mode)]


def _product(ctx: Context, parts: list[list[Term]], node: Node, mode: str) -> list[Term]:
    result: list[Term] = [()]
    for options in parts:
        if not options:
            return []
        if len(result) * len(options) > MAX_TERMS:
            if mode == OVER:
                return [(node,)]
            ctx.unsupported("anyOf", node.pointer,
                            f"the combinations of anyOf/oneOf branches exceed {MAX_TERMS}")
            options = options[: max(1, MAX_TERMS // len(result))]  # lenient: keep a subset
        result = [a + b for a in result for b in options]
    return result


def failing(node: Node) -> Node:
    """A schema node for the values `node` rejects (`{"not": ...}`, resolved like it)."""
    return Node({"not": node.schema}, node.resolver, f"{node.pointer} (failing)", node.refs)


def values(ctx: Context, term: Term, keyword: str) -> list[tuple[Any, Node]]:
    """Each active occurrence of `keyword` in the term: (value, node)."""
    return [(n.schema[keyword], n) for n in term if ctx.doc.active(n, keyword)]


def unevaluated(ctx: Context, term: Term, evaluators: list[Node], keyword: str) -> list[Node]:
    """The `keyword` schemas (`unevaluatedItems` or `unevaluatedProperties`) of the term that
    apply to an item or member evaluated only by the nodes `evaluators`."""
    doc = ctx.doc
    return [doc.child(h, h.schema[keyword], keyword) for h in term
            if doc.active(h, keyword) and not any(n.evaluated_by(h) for n in evaluators)]


def term_types(ctx: Context, term: Term) -> frozenset[str]:
    """The JSON types the term allows ("number" includes "integer": both present means all numbers)."""
    allowed = set(TYPES)
    for value, _ in values(ctx, term, "type"):
        names = {value} if isinstance(value, str) else set(value)
        if "number" in names:
            names.add("integer")
        allowed &= names
    return frozenset(allowed)


def numeric_bounds(ctx: Context, node: Node) -> Iterator[tuple[Any, bool, bool]]:
    """Each numeric bound of `node`: (value, exclusive, is_lower); draft-4 boolean forms included."""
    doc = ctx.doc
    for keyword, exclusive_kw, is_lower in (("minimum", "exclusiveMinimum", True),
                                            ("maximum", "exclusiveMaximum", False)):
        excl = node.schema[exclusive_kw] if doc.active(node, exclusive_kw) else None
        if doc.active(node, keyword):
            yield node.schema[keyword], doc.boolean_exclusive_bounds and excl is True, is_lower
        if excl is not None and not isinstance(excl, bool):
            yield excl, True, is_lower
