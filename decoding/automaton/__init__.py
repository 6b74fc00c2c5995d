"""The automaton layer: pattern text -> HIR -> expressions -> a lazy DFA by derivatives.

`syntax` parses `regex`-module patterns into `hir` terms (character sets in `charclass`);
`hir.to_expr` turns them into `expr` expressions (hash-consed, with intersection, complement and
counted repetition; `utf8` gives character sets their byte form), which `schema2re` builds
directly too; `render` writes an expression back as regex text where it has one; `language`
names a language whose expression is built on demand; `dfa` is the automaton whose states are
expressions, and `forced` the bytes every match must continue with. Imports nothing of
typedecode but `decoding.errors`, and neither torch nor transformers.
"""

from decoding.automaton import expr

__all__ = ["expr"]  # the public part of this layer: expressions (`decoding.compile` takes them)
