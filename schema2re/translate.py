"""Schema nodes -> regex fragments: the translation driver.

`Translator.translate(nodes)` returns the regex of the conjunction of `nodes` (None: the empty
language). Each conjunction is expanded into terms (`terms.GEN`, a subset of its valid
instances); each term becomes:
- a finite list of literals when it is finite (`enum`, `const`, null/boolean-only), every
  candidate checked by the validator (`finite`);
- otherwise one part per allowed JSON type: the term restricted to that type, with its `not`
  and `if` keywords settled for that type (proved vacuous by `disjoint`, or excluding the whole
  type, or split into exact variants), then the type's builder: numbers and strings from the
  leaf builders (`numbers`, `strings`), arrays (`arrays`), objects (`objects`).
Keywords that restrict another type than the one being built are inert for it, as in JSON
Schema (`{"minimum": 5}` accepts every string). A `format` that no draft defines is an
annotation (no validator asserts it) and is ignored; standard ones go to the string builder. A schema with no constraint is any JSON value
with container nesting bounded by `max_depth`.

Soundness (every matched text is valid) is the invariant; what cannot be expressed exactly is a
typed error (`Context.unsupported`), or ignored and reported under `lenient`. A resource limit hit
below a subschema (`PatternTooComplex` from the expressions) is `SchemaTooComplex` naming that
subschema's pointer and first keyword.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from math import gcd, lcm
from typing import Any, Callable

from decoding.errors import PatternTooComplex
from schema2re import (
    arrays,
    disjoint,
    finite,
    formats,
    keys,
    leafsets,
    negate,
    numbers,
    objects,
    strings,
    terms,
)
from schema2re.context import Context
from schema2re.document import Node, pointer_join
from schema2re.errors import (
    SchemaTooComplex,
    SchemaToRegexError,
    UnsupportedSchemaError,
)
from schema2re.rx import Rx, alt, both, cat, lit, raw
from schema2re.sequence import separated
from schema2re.whitespace import Whitespace


def _dynamic_scope(node: Node) -> tuple[str, ...]:
    """The base URIs of the resources entered on the way to `node` (its resolver's dynamic scope)."""
    if node.resolver is None:
        return ()
    return tuple(uri for uri, _ in node.resolver.dynamic_scope())


_TYPE_ORDER = ("null", "boolean", "number", "integer", "string", "array", "object")
_LEAF_PARAMS = {"format": "format", "pattern": "pattern", "multipleOf": "multiple_of",
                "maxLength": "max_length", "minLength": "min_length"}


class Translator:
    """Translation of one document (see module doc); memoizes by node identity and what the
    recursion path and scope can change (`_key`)."""

    def __init__(self, ctx: Context, ws: Whitespace):
        self.ctx = ctx
        self.ws = ws
        self._memo: dict[tuple, tuple[tuple[Node, ...], Rx | None]] = {}
        self._any: dict[int, Rx] = {}

    def translate(self, nodes: tuple[Node, ...]) -> Rx | None:
        """The regex of the conjunction of `nodes` (None: nothing can be generated)."""
        if not nodes:
            return self.any_value(self.ctx.max_depth)
        hit = self._memo.get(self._key(nodes))
        if hit is not None:
            return hit[1]
        self.ctx.tick()
        try:
            result = alt(self.term(t) for t in terms.expand(self.ctx, nodes, terms.GEN))
        except PatternTooComplex as exc:  # the innermost subschema names where it happened
            node, doc = nodes[-1], self.ctx.doc
            keys = node.schema if isinstance(node.schema, dict) else ()
            keyword = next((k for k in keys if doc.active(node, k)), None)
            raise SchemaTooComplex(exc.reason, keyword, node.pointer) from None
        # Keyed after the translation, which may have found new reference cycles below.
        self._memo[self._key(nodes)] = (nodes, result)  # the nodes stay alive: ids stay unique
        return result

    def _key(self, nodes: tuple[Node, ...]) -> tuple:
        """What a translation depends on: each node's schema and pointer; of its reference path,
        only how often it holds each target found on a cycle (a target below that is not on
        one cannot repeat, so recursion bounds never read it: a `$ref` DAG is translated once
        per definition, not once per path); its scope only where unevaluated* can read it; its
        dynamic scope only where a reference may depend on it (`Document.scope_sensitive`)."""
        cyclic, doc = self.ctx.doc.cyclic, self.ctx.doc
        return tuple((id(n.schema), n.pointer, tuple(sorted(r for r in n.refs if r in cyclic)),
                      n.scope if doc.uses_scope else (),
                      _dynamic_scope(n) if doc.scope_sensitive else ()) for n in nodes)

    def term(self, term: terms.Term) -> Rx | None:
        """The regex of one term (see module doc)."""
        doc = self.ctx.doc
        if not any(doc.active(n, k) for n in term for k in n.schema):
            return self.any_value(self.ctx.max_depth)
        found = finite.candidates(self.ctx, term)
        if found is not None:
            return _literals(found)
        allowed = terms.term_types(self.ctx, term)
        kinds = [t for t in _TYPE_ORDER if t in allowed and not (t == "integer" and "number" in allowed)]
        return alt(part for kind in kinds for part in self._typed(term, kind))

    def _typed(self, term: terms.Term, kind: str) -> list[Rx | None]:
        pending = [term + (_type_node(term, kind),)]
        out: list[Rx | None] = []
        while pending:
            current = pending.pop()
            self.ctx.tick()
            found = finite.candidates(self.ctx, current)
            if found is not None:
                out.append(_literals(found))
                continue
            variants = self._settle(current, kind)
            if variants is None:
                out.append(self._build(current, kind))
            else:
                pending.extend(variants)
        return out

    def _settle(self, term: terms.Term, kind: str) -> list[terms.Term] | None:
        """Variants settling the first unsettled `not`/`if` of the term for `kind`; None if all are.

        `not N`: vacuous when N is disjoint from the term; no value when N accepts the whole kind;
        else the term conjoined with each alternative of N's complement (`negate`).
        `if C then T else E`: E when C is disjoint from the term, T when C accepts the whole
        kind, else both (C and T) and (complement of C and E).
        """
        ctx, doc = self.ctx, self.ctx.doc
        pointers = {n.pointer for n in term}
        for keyword in ("not", "if"):
            for value, node in terms.values(ctx, term, keyword):
                if node.get(terms.SUBTRACTED) == kind:
                    continue  # settled by `_string` or `_number`
                marker = f"{pointer_join(node.pointer, keyword)} (settled for {kind})"
                if marker in pointers:
                    continue
                settled = term + (Node({}, node.resolver, marker),)
                operand = doc.child(node, value, keyword, in_place=keyword == "if")
                if keyword == "not":
                    found = self._settle_not(settled, operand, kind)
                else:
                    if not (doc.active(node, "then") or doc.active(node, "else")):
                        continue
                    found = self._settle_if(settled, node, operand, kind)
                if found is not None:
                    return found
        return None

    def _settle_not(self, term: terms.Term, negated: Node, kind: str) -> list[terms.Term] | None:
        if self._disjoint(term, negated):
            return [term]
        if self._covers(negated, kind):
            return []
        if kind == "string" and _excluded_strings(self.ctx, negated) is not None:
            return [term]  # settled by `_string`, which excludes the values
        complement = negate.negate(self.ctx, negated, kind, term)
        if complement is None:
            self.ctx.unsupported("not", negated.pointer, f"'not' has no expressible complement for type {kind}")
            return None
        return [u for extra in complement for u in terms.conjoin(self.ctx, term, extra)]

    def _settle_if(self, term: terms.Term, node: Node, condition: Node, kind: str) -> list[terms.Term] | None:
        doc = self.ctx.doc
        branch = {b: doc.child(node, node.schema[b], b, in_place=True) if doc.active(node, b) else None
                  for b in ("then", "else")}
        with_then = [condition] + ([branch["then"]] if branch["then"] else [])
        else_nodes = [branch["else"]] if branch["else"] else []
        if self._disjoint(term, condition):
            return terms.conjoin(self.ctx, term, else_nodes)
        if self._covers(condition, kind):
            return terms.conjoin(self.ctx, term, with_then)
        complement = negate.negate(self.ctx, condition, kind, term)
        if complement is None:
            self.ctx.unsupported("if", condition.pointer, f"'if' has no expressible complement for type {kind}")
            return None
        return terms.conjoin(self.ctx, term, with_then) + [
            u for extra in complement for u in terms.conjoin(self.ctx, term, list(extra) + else_nodes)]

    def _disjoint(self, term: terms.Term, other: Node) -> bool:
        over = terms.expand_node(self.ctx, other, terms.OVER)
        return all(disjoint.disjoint_terms(self.ctx, term, u, disjoint.MAX_PROOF_DEPTH) for u in over)

    def _covers(self, node: Node, kind: str) -> bool:
        """Whether `node` accepts every value of type `kind` (proved on a subset of its instances)."""
        ctx = self.ctx
        saved = (len(ctx.ignored), len(ctx.dropped))
        try:
            gen = terms.expand_node(ctx, node, terms.GEN)
        except SchemaToRegexError:
            return False
        finally:
            del ctx.ignored[saved[0]:], ctx.dropped[saved[1]:]
        restricting = terms.RESTRICTS[kind] | terms.RESTRICTS_ALL
        for term in gen:
            types = terms.term_types(ctx, term)
            if kind in types and not any(ctx.doc.active(n, k) for n in term for k in restricting):
                return True
        return False

    def _build(self, term: terms.Term, kind: str) -> Rx | None:
        if kind == "null":
            return lit("null")
        if kind == "boolean":
            return alt([lit("true"), lit("false")])
        if kind in ("integer", "number"):
            return self._number(term, kind)
        if kind == "string":
            return self._string(term)
        if kind == "array":
            return arrays.array_rx(self.ctx, term, self)
        return objects.object_rx(self.ctx, term, self)

    def _number(self, term: terms.Term, kind: str) -> Rx | None:
        ctx = self.ctx
        lower: tuple[Any, bool] | None = None
        upper: tuple[Any, bool] | None = None
        for node in term:
            for value, exclusive, is_lower in terms.numeric_bounds(ctx, node):
                if is_lower and (lower is None or (value, exclusive) > lower):
                    lower = (value, exclusive)
                if not is_lower and (upper is None or (-value, exclusive) > (-upper[0], upper[1])):
                    upper = (value, exclusive)
        if lower and upper and (lower[0] > upper[0] or (lower[0] == upper[0] and (lower[1] or upper[1]))):
            return None
        pointer = _pointer_of(ctx, term, terms.RESTRICTS["number"])
        multiples = list(dict.fromkeys(v for v, _ in terms.values(ctx, term, "multipleOf")))
        multiple = _merge_multiples(ctx, multiples, pointer)
        # A variant that settled a `not`/`if` may allow only integers where the term built as
        # "number" allowed all numbers (`{"type": "number", "not": {"not": {"type": "integer"}}}`).
        whole = kind == "number" and "number" in terms.term_types(ctx, term)
        fn = numbers.number_rx if whole else numbers.integer_rx
        try:
            positive = self._number_leaf(fn, lower, upper, multiple, pointer)
        except numbers.EmptyRangeError:
            return None  # no number satisfies the bounds: this type contributes nothing
        subtracted = [ctx.doc.child(node, value, "not") for value, node in terms.values(ctx, term, "not")
                      if node.get(terms.SUBTRACTED) == kind]
        return leafsets.subtract(ctx, positive, subtracted, kind) if subtracted else positive

    def _number_leaf(self, fn: Callable[..., Rx], lower: tuple[Any, bool] | None,
                     upper: tuple[Any, bool] | None, multiple: Any, pointer: str) -> Rx | None:
        return self.leaf(fn, {
            "minimum": lower[0] if lower and not lower[1] else None,
            "exclusive_minimum": lower[0] if lower and lower[1] else None,
            "maximum": upper[0] if upper and not upper[1] else None,
            "exclusive_maximum": upper[0] if upper and upper[1] else None,
            "multiple_of": multiple,
        }, pointer)

    def _string(self, term: terms.Term) -> Rx | None:
        ctx = self.ctx
        pointer = _pointer_of(ctx, term, terms.RESTRICTS["string"])
        lo = max((v for v, _ in terms.values(ctx, term, "minLength")), default=0)
        hi = min((v for v, _ in terms.values(ctx, term, "maxLength")), default=None)
        if hi is not None and lo > hi:
            return None
        chosen: dict[str, list[Any]] = {}
        for keyword in ("pattern", "format"):
            chosen[keyword] = list(dict.fromkeys(v for v, _ in terms.values(ctx, term, keyword)
                                                 if keyword == "pattern" or v in formats.STANDARD_FORMATS))
        excluded: set[str] = set()
        subtracted: list[Node] = []
        for value, node in terms.values(ctx, term, "not"):
            operand = ctx.doc.child(node, value, "not")
            found = _excluded_strings(ctx, operand)
            if found is not None:
                excluded |= found
            elif node.get(terms.SUBTRACTED) == "string":
                subtracted.append(operand)
        plain = not (lo or hi is not None or chosen["pattern"] or chosen["format"])
        if excluded and plain and not subtracted:
            return keys.free_key(excluded)  # keeps a regex text
        positive = self._string_leaf(lo, hi, chosen["pattern"], chosen["format"], pointer)
        if excluded or subtracted:
            return leafsets.subtract(ctx, positive, subtracted, "string", excluded)
        return positive

    def _string_leaf(self, lo: int, hi: int | None, patterns: list[str], formats: list[str],
                     pointer: str) -> Rx | None:
        """The strings of the lengths matching every pattern and format: one `string_rx` per
        pattern or format beyond the first, intersected (each spells a character one way, so
        intersecting spellings intersects the values; a format is a sound subset of itself)."""
        first = self.leaf(strings.string_rx, {
            "min_length": lo, "max_length": hi, "pattern": patterns[0] if patterns else None,
            "format": formats[0] if formats else None}, pointer)
        rest = [self.leaf(strings.string_rx, {"pattern": p}, pointer) for p in patterns[1:]]
        rest += [self.leaf(strings.string_rx, {"format": f}, pointer) for f in formats[1:]]
        if not rest:
            return first
        if first is None or None in rest:
            return None
        return both([first, *rest])

    def pattern_key(self, pattern: str, pointer: str) -> Rx | None:
        """An object key (quoted string) matching the ECMA `pattern` (unanchored)."""
        return self.leaf(strings.string_rx, {"pattern": pattern}, pointer)

    def leaf(self, fn: Callable[..., str | Rx], kwargs: dict[str, Any], pointer: str) -> Rx | None:
        """Call a leaf builder; under lenient, drop each keyword it refuses and retry."""
        kwargs = dict(kwargs)
        while True:
            try:
                result = fn(**kwargs, pointer=pointer)
                return result if isinstance(result, Rx) else raw(result)
            except UnsupportedSchemaError as exc:
                param = _LEAF_PARAMS.get(exc.keyword or "")
                if param is None or kwargs.get(param) in (None, 0):
                    raise
                self.ctx.unsupported(exc.keyword, exc.pointer, exc.reason)  # type: ignore[arg-type]
                kwargs[param] = 0 if param == "min_length" else None

    def any_value(self, depth: int) -> Rx:
        """Any JSON value, containers nested at most `depth` deep (object keys may repeat: any value is valid)."""
        if depth not in self._any:
            scalars = [lit("null"), lit("true"), lit("false"),
                       raw(numbers.number_regex()), strings.string_rx()]
            containers: list[Rx | None] = []
            if depth > 0:
                inner = self.any_value(depth - 1)
                member = cat(keys.free_key(set()), self.ws.colon(), inner)
                containers = [self.ws.container("[", separated(inner, self.ws.comma()), "]", allow_empty=True),
                              self.ws.container("{", separated(member, self.ws.comma()), "}", allow_empty=True)]
            result = alt(scalars + containers)
            assert result is not None
            self._any[depth] = result
        return self._any[depth]


def _literals(values: list[Any]) -> Rx | None:
    return alt(lit(text) for text in (finite.serialize(v) for v in values) if text is not None)


def _type_node(term: terms.Term, kind: str) -> Node:
    anchor = term[0] if term else None
    resolver = anchor.resolver if anchor is not None else None
    return Node({"type": kind}, resolver, f"{anchor.pointer if anchor else ''} (as {kind})", ())


def _excluded_strings(ctx: Context, node: Node) -> set[str] | None:
    """The strings of a schema that is only an enum/const (plus `type`), else None."""
    schema = node.schema
    if not isinstance(schema, dict):
        return None
    active = {k for k in schema if ctx.doc.active(node, k)}
    if not active or not active <= {"enum", "const", "type"} or active == {"type"}:
        return None
    values = list(schema.get("enum", [])) + ([schema["const"]] if "const" in active else [])
    return {v for v in values if isinstance(v, str)}


def _pointer_of(ctx: Context, term: terms.Term, keywords: set[str]) -> str:
    for node in term:
        if any(ctx.doc.active(node, k) for k in keywords):
            return node.pointer
    return term[0].pointer if term else ""


def _merge_multiples(ctx: Context, multiples: list[Any], pointer: str) -> Any:
    """One multipleOf whose values satisfy all of them (exact for equal or integer values).

    Values that are all exact doubles (2.5, 0.75, 4) merge into their least common multiple
    as a float: `numbers` then emits only exact doubles x (integral: |x| <= 2**53), and the
    validator's x / m, a correctly rounded division of exact operands whose quotient is an
    integer, is that integer (or, past 2**53, a double that is integral anyway)."""
    if len(multiples) <= 1:
        return multiples[0] if multiples else None
    if all(isinstance(m, int) or (isinstance(m, float) and m.is_integer()) for m in multiples):
        return lcm(*(int(m) for m in multiples))
    if len({Fraction(m) for m in multiples}) == 1:
        return multiples[0]
    exact = [Fraction(m) for m in multiples]
    if all(isinstance(m, int) or Fraction(Decimal(repr(m))) == f for m, f in zip(multiples, exact)):
        merged = Fraction(lcm(*(f.numerator for f in exact)), gcd(*(f.denominator for f in exact)))
        if merged < 2**53:
            return float(merged)
    ctx.unsupported("multipleOf", pointer, "several non-integer multipleOf values")
    return multiples[0]
