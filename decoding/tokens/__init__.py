"""The token layer: a tokenizer's vocabulary as bytes, its byte trie, and per-state token masks.

`vocabulary` reads every token's bytes (byte-level BPE, SentencePiece byte fallback, added and
special tokens), `trie` lays them out for vectorized walks, `index` computes an automaton state's
allowed tokens and the states they lead to. Builds on `decoding.automaton`.
"""
