"""Guide: the state machine a decoding loop follows, and `compile`, which builds one.

`Guide` (the automaton engine) satisfies `decoding.guides.protocol.ForcedTextGuide`: the guide
contract every engine follows (`TokenGuide`), plus `forced_bytes`, the bytes every match
continuing from a state must start with (`decoding.automaton.forced`), which the decoding loop's
jump-forward uses.

Threads: `compile` may be called from any thread, and guides shared between threads. Guides of
one pattern (same flags, `max_states`, vocabulary, width and cache folder) share one automaton
and token index, made once even when threads ask together (`LRU.get_or_make`: a hit takes only
the memo's short lock, and a pattern being built never delays another); a vocabulary is built
once per tokenizer object (double-checked under a lock). A `Guide` holds no state of a decoding:
states are plain integers kept by the caller, and every method is safe under concurrent calls
(see the thread contracts of `decoding.tokens.index`, `decoding.automaton.dfa` and
`decoding.automaton.forced`).
"""

from __future__ import annotations

import operator
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import regex
import torch

from decoding import limits
from decoding.automaton.dfa import DEAD, Automaton
from decoding.automaton.expr import Expr, node_budget
from decoding.automaton.forced import ForcedText
from decoding.automaton.hir import to_expr
from decoding.automaton.language import Language
from decoding.automaton.syntax import parse
from decoding.errors import TokenRejected, UsageError
from decoding.guides.arguments import as_int, checked_state
from decoding.guides.protocol import check_engine
from decoding.persist import cached as persist
from decoding.tokens.index import TokenIndex
from decoding.tokens.vocabulary import Vocabulary
from decoding.tokens.walk import read
from decoding.util import LRU, gc_paused

if TYPE_CHECKING:
    from decoding.guides.partial import PartialGuide

Pattern = str | regex.Pattern | Expr | Language


class Guide:
    """Guide backed by a lazily determinized byte automaton and its token index."""

    def __init__(self, index: TokenIndex, pattern: str):
        self.index = index
        self.automaton = index.automaton
        self.vocabulary = index.vocabulary
        self.pattern = pattern
        self.initial_state: int = self.automaton.initial_state
        self._forced: ForcedText | None = None  # made by the first `forced_bytes`

    @property
    def vocab_size(self) -> int:
        """Width of every mask (the model's logits width)."""
        return self.index.width

    def _state(self, state: int) -> int:
        return checked_state(state, self.automaton.num_states)

    def allowed_tokens(self, state: int) -> torch.Tensor:
        return self.index.mask(self._state(state))

    def allowed_token_ids(self, state: int) -> np.ndarray:
        """Sorted ids of the non-EOS tokens allowed in `state`."""
        return self.index.token_ids(self._state(state))

    def advance(self, state: int, token_id: int) -> int:
        state, token_id = self._state(state), as_int(token_id, "token_id")
        vocab = self.vocabulary
        if token_id in vocab.eos_token_ids:
            if self.automaton.is_accepting(state):
                return state
            raise TokenRejected(f"EOS (token {token_id}) is not allowed before the pattern is "
                                f"complete")
        if not 0 <= token_id < vocab.size or token_id in vocab.special_ids \
                or not vocab.lengths[token_id]:
            raise TokenRejected(f"token {token_id} is special or outside the vocabulary and is "
                                f"never allowed")
        entry = self.index.entry(state) if self.index.has_entry(state) else None
        if entry is not None and not entry.allows(token_id):
            nxt = DEAD
        elif entry is not None and entry.next_states is not None:
            nxt = int(entry.next_states[entry.token_ids.searchsorted(token_id)])
        else:
            nxt = read(self.automaton, state, vocab.bytes_of(token_id))
        if nxt == DEAD:
            raise TokenRejected(f"token {token_id} ({vocab.bytes_of(token_id)!r}) is not "
                                f"allowed in state {state}")
        return nxt

    def is_accepting(self, state: int) -> bool:
        return self.automaton.is_accepting(self._state(state))

    def is_finished(self, state: int) -> bool:
        state = self._state(state)
        return self.automaton.is_accepting(state) and not self.automaton.has_continuation(state)

    def forced_bytes(self, state: int) -> bytes:
        """The longest byte string (at most 256 bytes) that every match continuing from `state`
        starts with; empty at accepting states and branch points (see `decoding.automaton.forced`)."""
        forced = self._forced
        if forced is None:  # guides of one automaton may each make one: they agree
            forced = self._forced = ForcedText(self.automaton)
        return forced(self._state(state))

    def preload(self) -> int:
        """Load the masks the disk cache holds for this pattern's known states now (e.g. a
        folder prepared by `typedecode cache warm`), so that later steps never read the store;
        returns how many were loaded (0 when the cache is off)."""
        if isinstance(self.index, persist.PersistentIndex):
            return self.index.preload()
        return 0

    def save(self) -> None:
        """Write the states and masks discovered so far to the disk cache now (they are also
        saved as they grow and at exit); nothing happens when the cache is off."""
        if isinstance(self.index, persist.PersistentIndex):
            self.index.save()


# Compiled automata and token indexes: at most 64 of each, and at most `limits` `memo_bytes`
# together (`_automaton_bytes` + `TokenIndex.nbytes`, weighed at each compile; the least
# recently used go first, the one just compiled stays).
_MEMO_SIZE = 64
_AUTOMATA: LRU[tuple, Automaton] = LRU(_MEMO_SIZE)
_INDEXES: LRU[tuple, TokenIndex] = LRU(_MEMO_SIZE)
_STATE_BYTES = 1024  # an automaton state's expressions, key and dict entries (estimate)


def _automaton_bytes(automaton: Automaton) -> int:
    """Estimated memory of an automaton: its arrays and its states' objects."""
    return (automaton.rows.nbytes + automaton.accepting.nbytes + automaton.expanded.nbytes
            + automaton.num_states * _STATE_BYTES)


_index_bytes: Callable[[TokenIndex], int] = operator.attrgetter("nbytes")


def _trim_memos(budget: int) -> list[TokenIndex]:
    """Evict memoized indexes, then automata, until both together weigh at most `budget`;
    return the evicted indexes. Both are weighed once when they fit (the usual case)."""
    automata = _AUTOMATA.total(_automaton_bytes)
    if automata + _INDEXES.total(_index_bytes) <= budget:
        return []
    evicted = _INDEXES.trim(_index_bytes, budget - automata)
    _AUTOMATA.trim(_automaton_bytes, budget - _INDEXES.total(_index_bytes))
    return evicted


def compile(pattern: Pattern, tokenizer: Any, *, vocab_size: int | None = None,
            engine: str = "automaton", max_states: int | None = None,
            cache_dir: Any = None) -> Guide | PartialGuide:
    """Compile `pattern` for `tokenizer` (a transformers tokenizer or a `Vocabulary`) into a
    guide whose masks are `vocab_size` wide (default: the vocabulary size).

    `pattern`: regex text or a `regex.Pattern`; an expression (`schema2re.to_expression`,
    `decoding.automaton.expr`) or a `Language`; or a schema: a JSON Schema dict or bool, a
    Pydantic model class or another type Pydantic describes (translated with `schema2re`'s
    default options; a warm process loads its guide from the disk cache without translating).

    `engine="automaton"` (default) supports the syntax described in `decoding.automaton.syntax` and raises
    a `PatternError` subclass for anything else; `engine="partial"` uses the `regex` module's
    partial matching instead (any pattern; slower first masks). Compiled automata and token
    indexes are memoized in the process, so compiling the same pattern again is immediate.
    With the automaton engine, vocabulary tables, automaton states and masks are also kept in the
    disk cache (`decoding.persist.cached`) at `cache_dir` (None: `TYPEDECODE_CACHE_DIR` or the user cache
    folder; False: off), so another process starts where this one left off.
    An unknown `engine`, or a `vocab_size` below the vocabulary's size, raises `UsageError`.
    `max_states` (default: `decoding.limits` `dfa_states`) bounds the automaton's states; that
    and the other limits (`decoding.limits`) raise `PatternTooComplex` when hit.
    """
    check_engine(engine)
    vocabulary = vocabulary_of(tokenizer, cache_dir=cache_dir)
    if not isinstance(pattern, (str, regex.Pattern, Expr, Language)):
        pattern = _schema_language(pattern, cache_dir)
    if isinstance(pattern, (Expr, Language)):
        if engine == "partial":
            raise UsageError('engine="partial" needs regex text, not an expression or schema')
        if isinstance(pattern, Expr):
            expression = pattern
            pattern = Language(f"expression:{expression.fingerprint}", lambda: expression)
        return compile_language(pattern.name, 0, pattern.expression, vocabulary,
                                vocab_size=vocab_size, max_states=max_states,
                                cache_dir=cache_dir)
    if engine == "partial":
        from decoding.guides.partial import PartialGuide

        return PartialGuide(pattern, vocabulary, vocab_size=vocab_size)
    text = pattern.pattern if isinstance(pattern, regex.Pattern) else pattern
    flags = pattern.flags if isinstance(pattern, regex.Pattern) else 0

    def make_expr() -> Expr:
        with gc_paused(), node_budget(limits.current().expr_nodes, "the pattern"):
            return to_expr(parse(pattern))

    return compile_language(text, flags, make_expr, vocabulary, vocab_size=vocab_size,
                            max_states=max_states, cache_dir=cache_dir)


def _schema_language(schema: Any, cache_dir: Any) -> Language:
    """A JSON Schema (dict or bool), Pydantic model class or other type as a `Language`
    (translated with `schema2re`'s default options; cached as `generate` caches it); a value
    that is none of these raises `schema2re.SchemaError`."""
    return persist.cached_schema_language(schema, persist.store_for(cache_dir))


def compile_language(name: str, flags: int, make_expr: Callable[[], Expr],
                     vocabulary: Vocabulary, *, vocab_size: int | None = None,
                     max_states: int | None = None, cache_dir: Any = None) -> Guide:
    """The guide of the language that `make_expr` builds, memoized in the process and kept in
    the disk cache under `name` and `flags` (which must determine the language): a process
    that finds it there calls `make_expr` only if it meets a state the cache lacks."""
    text = name
    bounds = limits.current()
    if max_states is None:
        max_states = bounds.dfa_states
    akey = (text, flags, max_states)
    store = persist.store_for(cache_dir)

    ikey = (akey, vocabulary.fingerprint, vocab_size, None if store is None else store.path)

    def build() -> TokenIndex:
        automaton = _AUTOMATA.get(akey)
        with gc_paused():
            if store is not None:
                index = persist.open_index(store, text, flags, max_states, make_expr, automaton,
                                           vocabulary, vocab_size)
            else:
                if automaton is None:
                    automaton = Automaton(make_expr(), max_states=max_states, pattern=text)
                index = TokenIndex(automaton, vocabulary, vocab_size)
        _AUTOMATA.put(akey, index.automaton)
        return index

    index, evicted = _INDEXES.get_or_make(ikey, build)
    for old in [evicted, *_trim_memos(bounds.memo_bytes)]:
        if isinstance(old, persist.PersistentIndex):
            persist.save_now(old)  # its unsaved entries would be lost if nothing else holds it
    return Guide(index, text)


# Keyed weakly by tokenizer object: a vocabulary lives as long as its tokenizer, no longer.
_VOCABULARIES: weakref.WeakKeyDictionary[Any, Vocabulary] = weakref.WeakKeyDictionary()
_VOCABULARY_LOCK = threading.Lock()


def vocabulary_of(tokenizer: Any, *, cache_dir: Any = None) -> Vocabulary:
    """The `Vocabulary` of a tokenizer, built once per tokenizer object and kept in the disk
    cache at `cache_dir` (as for `compile`) so that other processes load it instead."""
    if isinstance(tokenizer, Vocabulary):
        return tokenizer
    try:
        hit = _VOCABULARIES.get(tokenizer)
    except TypeError:  # not weakly referenceable or unhashable: no in-process memo
        return _new_vocabulary(tokenizer, cache_dir)
    if hit is not None:
        return hit
    with _VOCABULARY_LOCK:  # one build per tokenizer, even when threads ask together
        hit = _VOCABULARIES.get(tokenizer)
        if hit is None:
            hit = _VOCABULARIES[tokenizer] = _new_vocabulary(tokenizer, cache_dir)
        return hit


def _new_vocabulary(tokenizer: Any, cache_dir: Any) -> Vocabulary:
    store = persist.store_for(cache_dir)
    if store is None:
        return Vocabulary.from_tokenizer(tokenizer)
    return persist.cached_vocabulary(tokenizer, store)
