"""Complements of schemas, where they are expressible as plain schemas.

`negate(ctx, node, kind, context)` returns terms (tuples of synthetic nodes) whose union is the
values of JSON type `kind` that `node` rejects, or None when that set has no such description.
The union is exact, except for `additionalProperties` beside `patternProperties`, where only
the members that `context` names are considered as violations (a subset of the complement:
generation stays sound). A member keyword's other violations (a member the schema does not name
with a key or value failing it) are one term `{"not": {keyword: ...}}` marked `SUBTRACTED` for
objects, which `objects` builds as one more member (`_unnamed`).
De Morgan over the node's keywords: a value fails a conjunction when it fails one keyword, so
each keyword contributes the alternatives that violate it:
- bounds flip (`minimum: m` -> `exclusiveMaximum: m`; `minLength: n` -> `maxLength: n-1`, ...);
- `required: [a, b]` -> "a absent" or "b absent";
- `if C then T else E` -> "C and not T" or "not C and not E";
- `dependentRequired`/`dependentSchemas`/`dependencies` (`{k: [a]}`, `{k: S}`) -> "k present
  and a absent", "k present and the object fails S";
- `properties: {k: S}` -> "k present and its value fails S" (`{"not": S}` on the member, settled
  later where the member is generated, e.g. exactly when S is an enum and the member finite);
- `type` excluding `kind` -> the whole kind; `allOf` -> union; `anyOf` -> product; `not` ->
  the operand itself; `$ref` -> its target; `oneOf` -> "two branches hold" (each pair, as a
  conjunction of the two) or "none holds" (as `anyOf`).
- `enum`/`const` within its own type: for numbers the open intervals between the values, for
  booleans the other one (exact); for strings those of the lengths no value has, for arrays
  and objects nothing (subsets).
- array item keywords (`_items`): "some item fails `items`" (a `contains` of its complement),
  "item i fails `prefixItems[i]`", too few or too many items matching `contains` (exact).
Keywords with no such complement (`pattern`, `format`, `multipleOf`, `uniqueItems`, member
keywords without a context, ...) make the result None, except for strings and numbers whose set
`leafsets` knows exactly: then the one term `{"not": node}` marked `SUBTRACTED`, which the
string or number builder settles as a difference of expressions (so too "numbers that are not
integers", else nothing: a subset). Every caller uses the terms to generate values that `node`
rejects, so a subset of the complement keeps generation sound.
"""

from __future__ import annotations

import re
from typing import Any

from schema2re import finite, formats, leafsets, objects, terms
from schema2re.context import Context
from schema2re.document import Node

MAX_NEGATION_TERMS = 64


def negate(ctx: Context, node: Node, kind: str, context: terms.Term = ()) -> list[terms.Term] | None:
    """Terms whose union is the values of type `kind` that `node` rejects (see module doc).

    `context`: the term the result will be conjoined with (it names the members that can
    violate an `additionalProperties`).
    """
    ctx.tick()
    schema = node.schema
    if schema is True:
        return []
    if schema is False or not isinstance(schema, dict):
        return [()]
    doc = ctx.doc
    if doc.active(node, "$ref") and doc.ref_overrides_siblings:
        target = doc.resolve(node)
        return None if ctx.is_cut(target.refs) else negate(ctx, target, kind, context)
    types = terms.term_types(ctx, (node,))
    if kind == "number" and "integer" in types and "number" not in types:
        # "numbers that are not integers": by `leafsets` where it knows them, else the empty subset
        return _subtracted(ctx, node, kind) or []
    if kind not in types:
        return [()]  # the node rejects every value of this kind
    out: list[terms.Term] = []
    for keyword, value in schema.items():
        if not doc.active(node, keyword) or keyword == "type":
            continue
        found = _keyword(ctx, node, keyword, value, kind, context)
        if found is None:
            return _subtracted(ctx, node, kind)
        out.extend(found)
        if len(out) > MAX_NEGATION_TERMS:
            return None
    return out


def _keyword(ctx: Context, node: Node, keyword: str, value: Any, kind: str,
             context: terms.Term) -> list[terms.Term] | None:
    doc = ctx.doc
    if keyword in ("$ref", "allOf", "anyOf", "oneOf", "not"):
        return _applicator(ctx, node, keyword, value, kind, context)
    if keyword in ("if", "then", "else"):
        return _conditional(ctx, node) if keyword == "if" else []
    if keyword in ("enum", "const"):
        values = finite.variants(value if keyword == "enum" else [value])  # 1.0 is also 1
        probe = (Node({"type": kind}, None, "", ()),)
        return _outside(ctx, node, [v for v in values if doc.is_valid(v, probe)], kind)
    if kind in ("integer", "number"):
        return _numeric(ctx, node, keyword, value)
    if keyword == "format" and value not in formats.STANDARD_FORMATS:
        return []  # an annotation: no validator asserts it
    if kind == "string" and keyword in ("minLength", "maxLength"):
        return _count(node, keyword, value, "minLength", "maxLength")
    if kind == "array" and keyword in ("minItems", "maxItems"):
        return _count(node, keyword, value, "minItems", "maxItems")
    if kind == "array" and keyword in ("items", "prefixItems", "additionalItems", "contains"):
        return _items(ctx, node, keyword, value)
    if kind == "object":
        if keyword in ("minProperties", "maxProperties"):
            return _count(node, keyword, value, "minProperties", "maxProperties")
        if keyword == "required":
            return [(_synthetic(node, {"properties": {name: False}}, f"{name!r} absent"),) for name in value]
        if keyword == "properties":
            return [(_synthetic(node, {"required": [name], "properties": {name: {"not": sub}}},
                                f"{name!r} fails"),) for name, sub in value.items() if sub is not True]
        if keyword in ("additionalProperties", "patternProperties", "propertyNames"):
            named = _members(ctx, node, keyword, value, context) if context else []
            return named + _unnamed(node, keyword, value)
        if keyword in ("dependentRequired", "dependentSchemas", "dependencies") and isinstance(value, dict):
            return _dependencies(node, value)
    if keyword in _restricting(kind):
        return None
    return []  # a keyword that does not restrict this kind always holds


def _applicator(ctx: Context, node: Node, keyword: str, value: Any, kind: str,
                context: terms.Term) -> list[terms.Term] | None:
    doc = ctx.doc
    if keyword == "$ref":
        target = doc.resolve(node)
        return None if ctx.is_cut(target.refs) else negate(ctx, target, kind, context)
    if keyword == "not":
        inner = doc.child(node, value, "not")
        return [(inner,)]
    branches = [doc.child(node, sub, keyword, i) for i, sub in enumerate(value)]
    # oneOf fails where two branches hold at once (each pair, as their conjunction) ...
    out: list[terms.Term] = ([(a, b) for i, a in enumerate(branches) for b in branches[i + 1:]]
                             if keyword == "oneOf" else [])
    if len(out) > MAX_NEGATION_TERMS:
        return None
    parts = [negate(ctx, b, kind, context) for b in branches]
    if any(p is None for p in parts):
        return None
    if keyword == "allOf":
        return [t for p in parts for t in p]  # type: ignore[union-attr]
    none: list[terms.Term] = [()]  # ... or, as anyOf, where none holds
    for p in parts:
        none = [a + b for a in none for b in p]  # type: ignore[union-attr]
        if len(out) + len(none) > MAX_NEGATION_TERMS:
            return None
    return out + none


def _conditional(ctx: Context, node: Node) -> list[terms.Term]:
    """Violations of `if C then T else E`: C holds and T fails, or C fails and E fails (a
    missing branch never fails)."""
    doc = ctx.doc
    condition = doc.child(node, node.schema["if"], "if", in_place=True)
    out: list[terms.Term] = []
    if doc.active(node, "then"):
        out.append((condition, _synthetic(node, {"not": node.schema["then"]}, "'then' fails")))
    if doc.active(node, "else"):
        out.append((_synthetic(node, {"not": node.schema["if"]}, "'if' fails"),
                    _synthetic(node, {"not": node.schema["else"]}, "'else' fails")))
    return out


def _dependencies(node: Node, value: dict) -> list[terms.Term]:
    """Violations of property dependencies: a trigger present and one of its names absent (a
    list), or a trigger present and the object failing its schema (`{"not": S}`, in place)."""
    out: list[terms.Term] = []
    for name, dependency in value.items():
        if isinstance(dependency, list):
            out.extend((_synthetic(node, {"required": [name], "properties": {d: False}},
                                   f"{name!r} without {d!r}"),) for d in dependency if d != name)
        elif dependency is not True:
            out.append((_synthetic(node, {"required": [name], "not": dependency},
                                   f"{name!r} and its dependency fails"),))
    return out


def _members(ctx: Context, node: Node, keyword: str, value: Any, context: terms.Term) -> list[terms.Term]:
    """Violations of a member keyword by the members `context` names (a subset of all violations)."""
    out: list[terms.Term] = []
    declared = node.schema.get("properties", {})
    patterns = node.schema.get("patternProperties", {})
    for name in objects.declared_names(ctx, context):
        if keyword == "propertyNames":
            if not ctx.doc.is_valid(name, [ctx.doc.child(node, value, keyword)]):
                out.append((_synthetic(node, {"required": [name]}, f"name {name!r} fails"),))
            continue
        if keyword == "additionalProperties":
            applies = [value] if name not in declared and not any(re.search(p, name) for p in patterns) else []
        else:
            applies = [sub for p, sub in value.items() if re.search(p, name)]
        out.extend((_synthetic(node, {"required": [name], "properties": {name: {"not": sub}}},
                               f"{keyword} of {name!r} fails"),) for sub in applies)
    return out


def _unnamed(node: Node, keyword: str, value: Any) -> list[terms.Term]:
    """Violations of a member keyword by a member the schema does not name: `{"not": {keyword:
    value}}` marked `SUBTRACTED` for objects, which `objects` builds as one more member with
    such a key and a value failing the keyword. Where patterns decide which members
    `additionalProperties` covers, none (a subset)."""
    if keyword == "patternProperties":
        return [(_synthetic(node, {"not": {keyword: {p: sub}}, terms.SUBTRACTED: "object"}, f"a member fails {p!r}"),)
                for p, sub in value.items() if sub is not True]
    if value is True or (keyword == "additionalProperties" and node.schema.get("patternProperties")):
        return []
    inner = {keyword: value}
    if keyword == "additionalProperties":
        inner["properties"] = {name: True for name in node.schema.get("properties", {})}
    return [(_synthetic(node, {"not": inner, terms.SUBTRACTED: "object"}, f"an unnamed member fails {keyword}"),)]


def _items(ctx: Context, node: Node, keyword: str, value: Any) -> list[terms.Term] | None:
    """Arrays violating one item keyword (exact), or None where that is not a plain schema.

    - `items: S` over every position -> "some item fails S": `{"not": {"items": S}}` marked
      `SUBTRACTED` for arrays, which `arrays` builds as a `contains` of `{"not": S}`;
    - positional `prefixItems` (`items: [...]` before 2020-12) -> for each position i, "at least
      i+1 items and item i fails S_i";
    - `contains: C` -> fewer matching items than `minContains` (1 by default) or more than
      `maxContains`: "no item matches C" is `items: {"not": C}`, the others a `contains` with
      the flipped count;
    - `additionalItems` is vacuous without positional `items`; `items` after `prefixItems`
      and `additionalItems` after positions are not single-position or all-position
      constraints, so they are refused (None).
    """
    doc = ctx.doc
    tuple_form = doc.tuple_items and isinstance(node.schema.get("items"), list)
    if keyword == "additionalItems":
        return [] if not tuple_form else None
    if keyword == "contains":
        return _contains_fails(ctx, node, value)
    if keyword == "prefixItems" or tuple_form:
        slot = "prefixItems" if keyword == "prefixItems" else "items"
        return [(_synthetic(node, {"minItems": i + 1, slot: [True] * i + [{"not": sub}]},
                            f"item {i} fails"),) for i, sub in enumerate(value) if sub is not True]
    if doc.active(node, "prefixItems") and node.schema["prefixItems"]:
        return None
    if value is True:
        return []
    return [(_synthetic(node, {"not": {"items": value}, terms.SUBTRACTED: "array"}, "an item fails"),)]


def _contains_fails(ctx: Context, node: Node, value: Any) -> list[terms.Term]:
    newer = ctx.doc.draft in ("2019-09", "2020-12")
    least = node.schema.get("minContains", 1) if newer else 1
    most = node.schema.get("maxContains") if newer else None
    out: list[terms.Term] = []
    if least == 1:
        out.append((_synthetic(node, {"items": {"not": value}}, "no item matches"),))
    elif least > 1:
        out.append((_synthetic(node, {"contains": value, "minContains": 0, "maxContains": least - 1},
                               "too few items match"),))
    if most is not None:
        out.append((_synthetic(node, {"contains": value, "minContains": most + 1}, "too many items match"),))
    return out


def _numeric(ctx: Context, node: Node, keyword: str, value: Any) -> list[terms.Term] | None:
    if keyword not in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return None if keyword in _restricting("number") else []
    out: list[terms.Term] = []
    for bound, exclusive, is_lower in terms.numeric_bounds(ctx, node):
        if _origin(ctx, keyword, exclusive, is_lower, value, bound):
            out.append((_synthetic(node, _bound_schema(ctx, bound, not exclusive, not is_lower), "bound fails"),))
    return out


def _origin(ctx: Context, keyword: str, exclusive: bool, is_lower: bool, value: Any, bound: Any) -> bool:
    """Whether the bound (as `terms.numeric_bounds` yields it) comes from `keyword`."""
    if ctx.doc.boolean_exclusive_bounds:
        return keyword in ("minimum", "maximum") and is_lower == (keyword == "minimum")
    base = "exclusiveMinimum" if is_lower else "exclusiveMaximum"
    plain = "minimum" if is_lower else "maximum"
    return keyword == (base if exclusive else plain) and value == bound


def _bound_schema(ctx: Context, value: Any, exclusive: bool, is_lower: bool) -> dict:
    plain = "minimum" if is_lower else "maximum"
    strict = "exclusiveMinimum" if is_lower else "exclusiveMaximum"
    if not exclusive:
        return {plain: value}
    return {plain: value, strict: True} if ctx.doc.boolean_exclusive_bounds else {strict: value}


def _outside(ctx: Context, node: Node, values: list[Any], kind: str) -> list[terms.Term]:
    """Values of `kind` other than `values` (all of that kind): exact for numbers (the open
    intervals between them) and booleans; for strings those of the lengths no value has (a
    subset); for arrays and objects none (the empty subset)."""
    if not values:
        return [()]
    if kind in ("integer", "number"):
        points = sorted({v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)})
        gaps = [(None, points[0])] + list(zip(points, points[1:])) + [(points[-1], None)]
        return [(_synthetic(node, {**({} if a is None else _bound_schema(ctx, a, True, True)),
                                   **({} if b is None else _bound_schema(ctx, b, True, False))},
                            "another value"),) for a, b in gaps]
    if kind == "string":
        lengths = sorted({len(v) for v in values})
        gaps = [(-1, lengths[0])] + list(zip(lengths, lengths[1:]))
        out = [(_synthetic(node, {"minLength": a + 1, "maxLength": b - 1}, "another length"),)
               for a, b in gaps if b - a > 1]
        return out + [(_synthetic(node, {"minLength": lengths[-1] + 1}, "another length"),)]
    if kind == "boolean":
        return [(_synthetic(node, {"const": b}, "the other boolean"),) for b in (True, False) if b not in values]
    return []


def _count(node: Node, keyword: str, value: int, lower: str, upper: str) -> list[terms.Term]:
    if keyword == lower:
        return [] if value <= 0 else [(_synthetic(node, {upper: value - 1}, f"{keyword} fails"),)]
    return [(_synthetic(node, {lower: value + 1}, f"{keyword} fails"),)]


def _subtracted(ctx: Context, node: Node, kind: str) -> list[terms.Term] | None:
    """The one term "not `node`" marked `SUBTRACTED` with `kind`, when `leafsets` knows the
    values of `kind` that `node` accepts exactly (the value is then built as a difference);
    else None."""
    if leafsets.leaf_set(ctx, node, kind) is None:
        return None
    return [(_synthetic(node, {"not": node.schema, terms.SUBTRACTED: kind}, f"{kind}s it rejects"),)]


def negate_any(ctx: Context, node: Node, kinds: list[str], context: terms.Term = ()) -> list[terms.Term] | None:
    """Terms whose union is the values of the given types that `node` rejects (None: inexpressible)."""
    out: list[terms.Term] = []
    for kind in kinds:
        found = negate(ctx, node, kind, context)
        if found is None:
            return None
        out.extend((_synthetic(node, {"type": kind}, f"as {kind}"),) + t for t in found)
    return out


def _restricting(kind: str) -> set[str]:
    return terms.RESTRICTS[kind] | {"if", "$dynamicRef", "$recursiveRef"}


def _synthetic(like: Node, schema: dict, why: str) -> Node:
    """A schema made here, resolved like `like` (its references), counted in its recursion."""
    return Node(schema, like.resolver, f"{like.pointer} ({why})", like.refs)
