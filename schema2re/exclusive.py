"""`oneOf` for generation: each branch restricted to what no other branch accepts.

`one_of_terms(ctx, node)` returns GEN terms whose union is a subset of the instances valid
under exactly one branch of `node`'s oneOf (together with `node`'s own keywords):
- a finite term needs nothing more: its candidates are checked by the validator against `node`
  itself, oneOf included (`finite`);
- otherwise, for every other branch, either the term is provably disjoint from it (`disjoint`),
  or the term is conjoined with the branch's complement (`negate`), e.g. a discriminator member
  that must differ from the other branch's `const`. When neither works: `UnsupportedSchemaError`
  (under `lenient` the branch is used as in anyOf).
"""

from __future__ import annotations

from schema2re import disjoint, finite, negate, terms
from schema2re.context import Context
from schema2re.document import Node


def one_of_terms(ctx: Context, node: Node) -> list[terms.Term]:
    """GEN terms for the oneOf of `node` (see module doc)."""
    branches = terms.branches(ctx, node, "oneOf")
    over = [[(node,) + u for u in terms.expand_node(ctx, b, terms.OVER)] for b in branches]
    out: list[terms.Term] = []
    for i, branch in enumerate(branches):
        for term in terms.expand_node(ctx, branch, terms.GEN):
            out.extend(_exclusive(ctx, node, term, [(b, over[j]) for j, b in enumerate(branches) if j != i]))
            if _too_many(ctx, node, out):
                return out
    return out


def _exclusive(ctx: Context, node: Node, term: terms.Term, others: list[tuple[Node, list[terms.Term]]]) -> list[terms.Term]:
    """The term restricted to values every other branch rejects."""
    if finite.pool(ctx, (node,) + term) is not None:
        return [term]
    current = [term]
    for other, other_over in others:
        refined: list[terms.Term] = []
        for t in current:
            if all(disjoint.disjoint_terms(ctx, (node,) + t, u, disjoint.MAX_PROOF_DEPTH) for u in other_over):
                refined.append(t)
                continue
            kinds = _kinds(terms.term_types(ctx, (node,) + t))
            complement = negate.negate_any(ctx, other, kinds, (node,) + t)
            if complement is None:
                ctx.unsupported("oneOf", node.pointer + "/oneOf",
                                f"oneOf branches overlap and {other.pointer!r} has no expressible "
                                "complement, so 'exactly one' cannot be guaranteed")
                refined.append(t)  # lenient: as anyOf
                continue
            for extra in complement:
                refined.extend(u for u in terms.conjoin(ctx, t, extra)
                               if terms.term_types(ctx, (node,) + u))
            if _too_many(ctx, node, refined):
                return refined
        current = refined
    return current


def _too_many(ctx: Context, node: Node, found: list[terms.Term]) -> bool:
    """Whether `found` holds more than `terms.MAX_TERMS` terms; then the oneOf is refused
    (`ctx.unsupported`: raises, or is recorded under `lenient` and the caller stops adding)."""
    if len(found) <= terms.MAX_TERMS:
        return False
    ctx.unsupported("oneOf", node.pointer + "/oneOf",
                    f"the oneOf needs more than {terms.MAX_TERMS} exclusive alternatives")
    return True


def _kinds(types: frozenset[str]) -> list[str]:
    """Types as generated: "number" stands for all numbers, "integer" only when alone."""
    return [t for t in terms.TYPES if t in types and not (t == "integer" and "number" in types)]
