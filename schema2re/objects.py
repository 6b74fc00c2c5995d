"""JSON objects: which members are generated, in which order, and with which values.

Contract of `object_rx` (the object part of one term):
- Members come in schema order: the `properties` of each node in turn (first occurrence wins),
  then `required` names not listed in any `properties`. Where it differs, a second order is
  generated too while the named members' expressions total at most `MAX_REORDERED_SIZE` nodes
  (so the cost stays bounded: an object's text at most doubles, only while small): the required
  names first (in order of first mention in `required`), then the optional ones in schema
  order, as instances are often written. A member's value satisfies every schema that applies
  to its name: `properties`, every matching `patternProperties` (matched with Python's
  `re.search`, as jsonschema does), `additionalProperties` where neither applies, and
  `unevaluatedProperties` where nothing else evaluates the name.
- Optional members may be omitted; required ones never are; a name whose value cannot be
  generated (false schema, recursion cut) is omitted, or the object is impossible if required.
- Members the schema does not name ("extra" members) come after the named ones, any number
  of them. Their keys never equal a named property or a dependency trigger (`keys.free_key`
  excludes them exactly; a pattern's keys are intersected with those free keys where the
  pattern matches a named key), but may
  repeat among themselves: a JSON parser keeps one value per key (the last), and each of them is
  valid, so the parsed object is valid. Generated when the schema allows them:
  `additionalProperties` true or a schema (a key the schema does not name, whose value satisfies
  it), `patternProperties` (a key matching one pattern, whose value satisfies every pattern
  schema), or nothing named at all (free-form). With `additionalProperties` absent and
  properties named, extra members (any value `unevaluatedProperties` allows) only when
  `Context.extra_properties` is set: generation defaults to the named properties.
- `minProperties` counts the extra members as ONE key (repeated keys collapse), so a lower
  bound never relies on them being distinct; under `maxProperties` at most one extra member is
  generated and counted. `propertyNames` filters named members
  (validated), adds the names of a finite one (enum/const) as optional members, and disables
  extra members; `dependentRequired`, `dependentSchemas` and draft-7
  `dependencies` are exact: the object splits into "trigger absent" and "trigger present with
  its dependency" variants (at most `MAX_SPLITS` variants, beyond that a typed error).
- Named keys never repeat, and never occur among the extra members.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from schema2re import finite, keys, terms
from schema2re.context import Context
from schema2re.document import Node, pointer_join
from schema2re.rx import Rx, alt, both, cat, lit, minus
from schema2re.sequence import subsequence

if TYPE_CHECKING:
    from schema2re.translate import Translator

MAX_SPLITS = 128  # dependency variants of one object (2**7: seven optional triggers)
MAX_REORDERED_SIZE = 10_000
_STRING = Node({"type": "string"}, None, "(a key)", ())


def required_names(ctx: Context, term: terms.Term) -> list[str]:
    """Names the term requires, in order of first mention."""
    out: dict[str, None] = {}
    for value, _ in terms.values(ctx, term, "required"):
        for name in value:
            out.setdefault(name, None)
    return list(out)


def declared_names(ctx: Context, term: terms.Term) -> list[str]:
    """Names of `properties` (node order, then key order), then required names not among them."""
    out: dict[str, None] = {}
    for value, _ in terms.values(ctx, term, "properties"):
        for name in value:
            out.setdefault(name, None)
    for name in required_names(ctx, term):
        out.setdefault(name, None)
    return list(out)


def member_nodes(ctx: Context, term: terms.Term, name: str, *, with_unevaluated: bool = True) -> list[Node]:
    """Every schema that applies to the value of member `name` (see module doc).

    `unevaluatedProperties` applies from what this term evaluates, which can only be less than
    what a real instance evaluates (other successful branches add annotations): right for
    generation, too strict for a superset, so proofs pass `with_unevaluated=False`.
    """
    doc = ctx.doc
    out: list[Node] = []
    covered_by: list[Node] = []
    for node in term:
        covered = False
        if doc.active(node, "properties") and name in node.schema["properties"]:
            out.append(doc.child(node, node.schema["properties"][name], "properties", name))
            covered = True
        if doc.active(node, "patternProperties"):
            for pattern, sub in node.schema["patternProperties"].items():
                if re.search(pattern, name):
                    out.append(doc.child(node, sub, "patternProperties", pattern))
                    covered = True
        if not covered and doc.active(node, "additionalProperties"):
            out.append(doc.child(node, node.schema["additionalProperties"], "additionalProperties"))
            covered = True
        if covered:
            covered_by.append(node)
    if not with_unevaluated:
        return out
    return out + terms.unevaluated(ctx, term, covered_by, "unevaluatedProperties")


def _forbidden(ctx: Context, term: terms.Term, name: str) -> bool:
    return any(n.schema is False for n in member_nodes(ctx, term, name))


def _dependencies(ctx: Context, term: terms.Term):
    """Each dependency in the term: (trigger, required names or None, schema node or None)."""
    doc = ctx.doc
    for node in term:
        if doc.active(node, "dependentRequired"):
            for trigger, names in node.schema["dependentRequired"].items():
                yield trigger, list(names), None
        if doc.active(node, "dependentSchemas"):
            for trigger, sub in node.schema["dependentSchemas"].items():
                yield trigger, None, doc.child(node, sub, "dependentSchemas", trigger, in_place=True)
        if doc.active(node, "dependencies"):
            for trigger, dep in node.schema["dependencies"].items():
                if isinstance(dep, list):
                    yield trigger, list(dep), None
                else:
                    yield trigger, None, doc.child(node, dep, "dependencies", trigger, in_place=True)


def _synthetic(term: terms.Term, schema: dict, why: str) -> Node:
    anchor = term[0]
    return Node(schema, anchor.resolver, f"{anchor.pointer} ({why})", ())


def _split(ctx: Context, term: terms.Term) -> list[terms.Term] | None:
    """Variants of the term that settle its first unsettled dependency; None if all are settled."""
    declared = set(declared_names(ctx, term))
    required = set(required_names(ctx, term))
    pointers = {n.pointer for n in term}
    for trigger, names, schema in _dependencies(ctx, term):
        if trigger not in declared or _forbidden(ctx, term, trigger):
            continue  # the trigger never appears (extra keys avoid triggers)
        if trigger in required:
            if names is not None and not set(names) <= required:
                return [term + (_synthetic(term, {"required": names}, f"dependency of {trigger!r}"),)]
            marker = f"{schema.pointer} (applied)" if schema is not None else None
            if marker is not None and marker not in pointers:
                applied = Node({}, schema.resolver, marker, ())
                return [term + (applied,) + u for u in terms.expand_node(ctx, schema, terms.GEN)]
            continue
        absent = term + (_synthetic(term, {"properties": {trigger: False}}, f"{trigger!r} absent"),)
        present = term + (_synthetic(term, {"required": [trigger]}, f"{trigger!r} present"),)
        return [absent, present]
    return None


def object_rx(ctx: Context, term: terms.Term, tr: "Translator") -> Rx | None:
    """The regex of the term's object instances (see module doc)."""
    pending = [term]
    done: list[terms.Term] = []
    while pending:
        current = pending.pop()
        variants = _split(ctx, current)
        if variants is None:
            done.append(current)
        else:
            pending.extend(variants)
        if len(done) + len(pending) > MAX_SPLITS:
            ctx.unsupported("dependentRequired", term[0].pointer,
                            f"the property dependencies need more than {MAX_SPLITS} object variants")
            done.extend(pending)
            break
    return alt(_settled_object(ctx, t, tr) for t in reversed(done))


def _settled_object(ctx: Context, term: terms.Term, tr: "Translator") -> Rx | None:
    doc = ctx.doc
    names_ok = _property_names_filter(ctx, term)
    required = set(required_names(ctx, term))
    entries: list[tuple[Rx, bool]] = []
    named: list[str] = []
    for name in declared_names(ctx, term) + _listed_names(ctx, term):
        nodes = member_nodes(ctx, term, name)
        value = tr.translate(tuple(nodes)) if names_ok(name) else None
        if value is None:
            if name in required:
                ctx.drop("required", term[0].pointer, f"required property {name!r} cannot be generated")
                return None
            continue
        named.append(name)
        entries.append((cat(lit(finite.serialize(name)), tr.ws.colon(), value), name in required))  # type: ignore[arg-type]
    orders = _orders(ctx, term, named, entries)
    avoid = set(declared_names(ctx, term)) | {t for t, _, _ in _dependencies(ctx, term)}
    extra = None if any(doc.active(n, "propertyNames") and n.schema["propertyNames"] is not True
                        for n in term) else _extra_member(ctx, term, tr, avoid)
    wanted = [n for n in term if n.get(terms.SUBTRACTED) == "object"]
    if wanted:
        unnamed = _unnamed_member(ctx, term, tr, avoid, wanted)
        if unnamed is None:
            ctx.drop("not", wanted[0].pointer,
                     "it needs a member the schema does not name, which cannot be generated here "
                     "(or only with extra_properties=True)")
            return None
        extra = None  # an extra member with the same key would replace it
        orders = [order + [(unnamed, True)] for order in orders]
    lo = max((v for v, _ in terms.values(ctx, term, "minProperties")), default=0)
    hi = min((v for v, _ in terms.values(ctx, term, "maxProperties")), default=None)
    # Extra members come last and repeat (see module doc) unless maxProperties bounds the count.
    tail = [(extra, False)] if extra is not None else []
    shapes = [subsequence(order + tail, tr.ws.comma(), lo, hi, repeat_last=extra is not None and hi is None)
              for order in orders]
    body, empty_ok = alt(b for b, _ in shapes), shapes[0][1]
    if body is None and not empty_ok:
        needed = max(lo, sum(1 for _, req in entries if req))
        if hi is not None and hi < needed:
            ctx.drop("maxProperties", term[0].pointer, f"maxProperties {hi} is below the {needed} members required")
        else:
            ctx.drop("minProperties", term[0].pointer,
                     f"the object needs {needed} members but at most {len(entries) + len(tail)} can be "
                     "generated (named properties, plus extra members counted as one key)")
    return tr.ws.container("{", body, "}", allow_empty=empty_ok)


def _orders(ctx: Context, term: terms.Term, names: list[str],
            entries: list[tuple[Rx, bool]]) -> list[list[tuple[Rx, bool]]]:
    """The member orders generated: schema order, then "required first" (see module doc)."""
    rank = {name: i for i, name in enumerate(required_names(ctx, term))}
    first = sorted(range(len(entries)), key=lambda i: (0, rank[names[i]]) if names[i] in rank else (1, i))
    if first == list(range(len(entries))) or sum(e.size for e, _ in entries) > MAX_REORDERED_SIZE:
        return [entries]
    return [entries, [entries[i] for i in first]]


def _unnamed_member(ctx: Context, term: terms.Term, tr: "Translator", avoid: set[str],
                    wanted: list[Node]) -> Rx | None:
    """One member whose key no schema names (not in `avoid`) and that makes every `wanted`
    node hold (each `{"not": {keyword: ...}}` marked `terms.SUBTRACTED`, from `negate`): its key
    fails each `propertyNames`, matches each pattern and lies outside `properties`, its value
    fails the keyword's schema (a subset: one member for all of them). The value also satisfies
    every schema that may apply to such a key: every `patternProperties` schema, and every
    `additionalProperties` and `unevaluatedProperties`, except where the key is taken from one
    of the node's own patterns (one variant per pattern); and the key satisfies every
    `propertyNames`. None where the object generates no undeclared member (as `_extra_member`:
    `additionalProperties` and `patternProperties` absent, properties named)."""
    doc = ctx.doc
    if (not any(doc.active(n, "additionalProperties") or doc.active(n, "patternProperties") for n in term)
            and declared_names(ctx, term) and not ctx.extra_properties):
        return None
    values: list[Node] = []
    keys_in: list[Rx | None] = []
    for node in wanted:
        inner = doc.child(node, node.schema["not"], "not")
        avoid = avoid | set(inner.schema.get("properties", {}))  # the names it covers otherwise
        for keyword, value in inner.schema.items():
            if keyword == "propertyNames":
                keys_in.append(tr.translate((terms.failing(doc.child(inner, value, keyword)), _STRING)))
            elif keyword == "patternProperties":
                for pattern, sub in value.items():
                    keys_in.append(tr.pattern_key(pattern, pointer_join(inner.pointer, keyword, pattern)))
                    values.append(terms.failing(doc.child(inner, sub, keyword, pattern)))
            elif keyword == "additionalProperties":
                values.append(terms.failing(doc.child(inner, value, keyword)))
    keys_in.append(keys.free_key(avoid))
    names = [doc.child(n, n.schema["propertyNames"], "propertyNames") for n in term if doc.active(n, "propertyNames")]
    if names:
        keys_in.append(tr.translate(tuple(names) + (_STRING,)))
    patterns = [(n, p, doc.child(n, sub, "patternProperties", p)) for n in term if doc.active(n, "patternProperties")
                for p, sub in n.schema["patternProperties"].items()]
    variants: list[Rx | None] = []
    for owner, pattern in [(None, None)] + [(n, p) for n, p, _ in patterns]:
        covering = [n for n in term if n is owner]
        applies = [sub for _, _, sub in patterns] + [
            doc.child(n, n.schema["additionalProperties"], "additionalProperties")
            for n in term if doc.active(n, "additionalProperties") and n is not owner]
        value = tr.translate(tuple(values + applies + terms.unevaluated(ctx, term, covering, "unevaluatedProperties")))
        key = keys_in if owner is None else keys_in + [
            tr.pattern_key(pattern, pointer_join(owner.pointer, "patternProperties", pattern))]  # type: ignore[arg-type]
        variants.append(cat(both(key), tr.ws.colon(), value) if value is not None else None)
    return alt(variants)


def _listed_names(ctx: Context, term: terms.Term) -> list[str]:
    """Names a finite `propertyNames` (enum/const) allows, not already declared: optional members."""
    declared = set(declared_names(ctx, term))
    out: dict[str, None] = {}
    for value, node in terms.values(ctx, term, "propertyNames"):
        for t in terms.expand_node(ctx, ctx.doc.child(node, value, "propertyNames"), terms.GEN):
            for name in finite.candidates(ctx, t) or []:
                if isinstance(name, str) and name not in declared:
                    out.setdefault(name, None)
    return list(out)


def _property_names_filter(ctx: Context, term: terms.Term):
    doc = ctx.doc
    checks = [doc.child(n, n.schema["propertyNames"], "propertyNames")
              for n in term if doc.active(n, "propertyNames")]
    return lambda name: doc.is_valid(name, checks) if checks else True


def _extra_member(ctx: Context, term: terms.Term, tr: "Translator", avoid: set[str]) -> Rx | None:
    """One member with a key not in `avoid` (see module doc), or None."""
    doc = ctx.doc
    with_patterns = [n for n in term if doc.active(n, "patternProperties") and n.schema["patternProperties"]]
    if with_patterns:
        return alt(_pattern_member(ctx, term, tr, owner, pattern, avoid)
                   for owner in with_patterns for pattern in owner.schema["patternProperties"])
    holders = [n for n in term if doc.active(n, "additionalProperties")]
    if not holders and declared_names(ctx, term) and not ctx.extra_properties:
        return None  # additionalProperties absent: only the named properties, unless asked
    additional = [doc.child(n, n.schema["additionalProperties"], "additionalProperties") for n in holders]
    value = tr.translate(tuple(additional + terms.unevaluated(ctx, term, holders, "unevaluatedProperties")))
    return cat(keys.free_key(avoid), tr.ws.colon(), value) if value is not None else None


def _pattern_member(ctx: Context, term: terms.Term, tr: "Translator", owner: Node, pattern: str,
                    avoid: set[str]) -> Rx | None:
    """A member whose key matches `pattern`; its value satisfies every schema that might apply.
    Where the pattern matches a name in `avoid`, its keys are those of `keys.free_key(avoid)`
    that match it (their intersection; the free keys alone when they all match)."""
    doc = ctx.doc
    nodes: list[Node] = []
    for node in term:
        if doc.active(node, "patternProperties"):
            nodes.extend(doc.child(node, sub, "patternProperties", p)
                         for p, sub in node.schema["patternProperties"].items())
        if node is not owner and doc.active(node, "additionalProperties"):
            nodes.append(doc.child(node, node.schema["additionalProperties"], "additionalProperties"))
    value = tr.translate(tuple(nodes + terms.unevaluated(ctx, term, [owner], "unevaluatedProperties")))
    if value is None:
        return None
    key = tr.pattern_key(pattern, pointer_join(owner.pointer, "patternProperties", pattern))
    if key is not None and any(re.search(pattern, name) for name in avoid):
        free = keys.free_key(avoid)
        key = free if minus(free, key) is None else both([free, key])
    return cat(key, tr.ws.colon(), value) if key is not None else None
