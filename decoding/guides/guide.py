"""Guide: the state machine a decoding loop follows, and `compile`, which builds one.

`Guide` (the automaton engine) satisfies `decoding.guides.protocol.ForcedTextGuide`: the guide
contract every engine follows (`TokenGuide`), plus `forced_bytes`, the bytes every match
continuing from a state must start with (`decoding.automaton.forced`), which the decoding loop's
jump-forward uses.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np
import regex
import torch

from decoding.automaton.dfa import DEAD, DEFAULT_MAX_DFA_STATES, Automaton
from decoding.automaton.forced import ForcedText
from decoding.automaton.nfa import NFA, build_nfa
from decoding.automaton.syntax import parse
from decoding.errors import TokenRejected
from decoding.guides.protocol import check_engine
from decoding.persist import cached as persist
from decoding.tokens.index import TokenIndex
from decoding.tokens.vocabulary import Vocabulary
from decoding.util import LRU, gc_paused

if TYPE_CHECKING:
    from decoding.guides.partial import PartialGuide

Pattern = str | regex.Pattern


class Guide:
    """Guide backed by a lazily determinized byte automaton and its token index."""

    def __init__(self, index: TokenIndex, pattern: str):
        self.index = index
        self.automaton = index.automaton
        self.vocabulary = index.vocabulary
        self.pattern = pattern
        self.initial_state: int = self.automaton.initial_state
        self._forced = ForcedText(self.automaton)

    @property
    def vocab_size(self) -> int:
        """Width of every mask (the model's logits width)."""
        return self.index.width

    def allowed_tokens(self, state: int) -> torch.Tensor:
        return self.index.entry(state).mask

    def allowed_token_ids(self, state: int) -> np.ndarray:
        """Sorted ids of the non-EOS tokens allowed in `state`."""
        return self.index.entry(state).token_ids

    def advance(self, state: int, token_id: int) -> int:
        token_id = int(token_id)
        vocab = self.vocabulary
        if token_id in vocab.eos_token_ids:
            if self.automaton.is_accepting(state):
                return state
            raise TokenRejected(f"EOS (token {token_id}) is not allowed before the pattern is "
                                f"complete")
        if not 0 <= token_id < vocab.size or token_id in vocab.special_ids \
                or not vocab.token_bytes[token_id]:
            raise TokenRejected(f"token {token_id} is special or outside the vocabulary and is "
                                f"never allowed")
        if self.index.has_entry(state):
            entry = self.index.entry(state)
            i = int(np.searchsorted(entry.token_ids, token_id))
            ok = i < len(entry.token_ids) and entry.token_ids[i] == token_id
            nxt = int(entry.next_states[i]) if ok else DEAD
        else:
            nxt = self.automaton.walk(state, vocab.token_bytes[token_id])
        if nxt == DEAD:
            raise TokenRejected(f"token {token_id} ({vocab.token_bytes[token_id]!r}) is not "
                                f"allowed in state {state}")
        return nxt

    def is_accepting(self, state: int) -> bool:
        return self.automaton.is_accepting(state)

    def is_finished(self, state: int) -> bool:
        return self.automaton.is_accepting(state) and not self.automaton.has_continuation(state)

    def forced_bytes(self, state: int) -> bytes:
        """The longest byte string (at most 256 bytes) that every match continuing from `state`
        starts with; empty at accepting states and branch points (see `decoding.automaton.forced`)."""
        return self._forced(state)

    def save(self) -> None:
        """Write the states and masks discovered so far to the disk cache now (they are also
        saved as they grow and at exit); nothing happens when the cache is off."""
        if isinstance(self.index, persist.PersistentIndex):
            self.index.save()


_LOCK = threading.Lock()
_MEMO_SIZE = 64
_AUTOMATA: LRU[tuple, Automaton] = LRU(_MEMO_SIZE)
_INDEXES: LRU[tuple, TokenIndex] = LRU(_MEMO_SIZE)


def compile(pattern: Pattern, tokenizer: Any, *, vocab_size: int | None = None,
            engine: str = "automaton", max_states: int = DEFAULT_MAX_DFA_STATES,
            cache_dir: Any = None) -> Guide | PartialGuide:
    """Compile `pattern` (str or `regex.Pattern`) for `tokenizer` (a transformers tokenizer or a
    `Vocabulary`) into a guide whose masks are `vocab_size` wide (default: the vocabulary size).

    `engine="automaton"` (default) supports the syntax described in `decoding.automaton.syntax` and raises
    a `PatternError` subclass for anything else; `engine="partial"` uses the `regex` module's
    partial matching instead (any pattern; slower first masks). Compiled automata and token
    indexes are memoized in the process, so compiling the same pattern again is immediate.
    With the automaton engine, vocabulary tables, automaton states and masks are also kept in the
    disk cache (`decoding.persist.cached`) at `cache_dir` (None: `TYPEDECODE_CACHE_DIR` or the user cache
    folder; False: off), so another process starts where this one left off.
    An unknown `engine`, or a `vocab_size` below the vocabulary's size, raises `UsageError`.
    """
    check_engine(engine)
    vocabulary = vocabulary_of(tokenizer, cache_dir=cache_dir)
    if engine == "partial":
        from decoding.guides.partial import PartialGuide

        return PartialGuide(pattern, vocabulary, vocab_size=vocab_size)
    text = pattern.pattern if isinstance(pattern, regex.Pattern) else pattern
    flags = pattern.flags if isinstance(pattern, regex.Pattern) else 0
    akey = (text, flags, max_states)
    store = persist.store_for(cache_dir)

    def make_nfa() -> NFA:
        with gc_paused():
            return build_nfa(parse(pattern), pattern=text)

    evicted = None
    with _LOCK:
        automaton = _AUTOMATA.get(akey)
        ikey = (akey, vocabulary.fingerprint, vocab_size, None if store is None else store.path)
        index = _INDEXES.get(ikey)
        if index is None:
            with gc_paused():
                if store is not None:
                    index = persist.open_index(store, text, flags, max_states, make_nfa,
                                               automaton, vocabulary, vocab_size)
                else:
                    if automaton is None:
                        automaton = Automaton(make_nfa(), max_states=max_states, pattern=text)
                    index = TokenIndex(automaton, vocabulary, vocab_size)
            _AUTOMATA.put(akey, index.automaton)
            evicted = _INDEXES.put(ikey, index)
    if isinstance(evicted, persist.PersistentIndex):
        persist.save_now(evicted)  # its unsaved entries would be lost if nothing else holds it
    return Guide(index, text)


# Keyed weakly by tokenizer object: a vocabulary lives as long as its tokenizer, no longer.
_VOCABULARIES: "weakref.WeakKeyDictionary[Any, Vocabulary]" = weakref.WeakKeyDictionary()


def vocabulary_of(tokenizer: Any, *, cache_dir: Any = None) -> Vocabulary:
    """The `Vocabulary` of a tokenizer, built once per tokenizer object and kept in the disk
    cache at `cache_dir` (as for `compile`) so that other processes load it instead."""
    if isinstance(tokenizer, Vocabulary):
        return tokenizer
    try:
        hit = _VOCABULARIES.get(tokenizer)
    except TypeError:  # not weakly referenceable or unhashable: no in-process memo
        hit = None
    if hit is not None:
        return hit
    store = persist.store_for(cache_dir)
    if store is None:
        vocabulary = Vocabulary.from_tokenizer(tokenizer)
    else:
        vocabulary = persist.cached_vocabulary(tokenizer, store)
    try:
        _VOCABULARIES[tokenizer] = vocabulary
    except TypeError:
        pass
    return vocabulary
