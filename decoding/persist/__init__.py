"""The persistence layer: what the decoding core keeps in the disk cache and how keys are made.

`cached` stores vocabulary tables, tries, automata and token-index entries (and schema
translations) in a `cache.store.Store`, keyed by fingerprints of the code that computes them;
`snapshot` gives automaton states and index entries their saved form (plain arrays, checked on
load).
Builds on `decoding.tokens`, `decoding.automaton`, `schema2re` and `cache`.
"""
