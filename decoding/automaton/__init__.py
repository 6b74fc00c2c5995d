"""The automaton layer: pattern text -> HIR -> byte-level NFA -> lazily built DFA.

`syntax` parses `regex`-module patterns into `hir` terms (character sets in `charclass`), `utf8`
turns character sets into byte sequences, `nfa` builds the Thompson NFA, `dfa` the subset
construction on demand, and `forced` the bytes every match must continue with. Imports nothing of typedecode but `decoding.errors`,
and neither torch nor transformers.
"""
