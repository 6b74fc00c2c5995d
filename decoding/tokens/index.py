"""TokenIndex: for each automaton state, the tokens allowed next and the state each leads to.

Invariants:
- A token is allowed in state s iff it is not special, its byte string is non-empty, and reading
  its bytes from s never reaches the dead state. Because every non-dead automaton state can
  still reach acceptance, every allowed token keeps a complete match possible.
- EOS ids are allowed exactly in accepting states; ids at or above the vocabulary's size (a model
  whose logits are wider than its tokenizer) are never allowed.
- Entries are computed on first request by one walk of the vocabulary's trie
  (`decoding.tokens.walk`: compiled, or numpy level by level) and memoized per state. The trie
  is made (or, by a subclass, loaded) when the first entry is computed. Masks are shared,
  read-only tensors.
- States in one mask class (`Automaton.mask_class` with a horizon one past the longest token:
  e.g. positions 20 and 21 of a 32,767-character string) share one walk: the second gets the
  first's token ids and mask, and `next_states` None (its transitions are walked per token when
  asked for). `shared` counts such entries.
- A state `cat(x{lo,hi}, r)` with a wide x (a string body), or an alternation of such (see
  `decoding.tokens.lexemes.split_head`), takes the tokens that stay
  inside the repetition from tables shared by every such state (`decoding.tokens.lexemes`) and
  walks only the trie's subtrees with tokens that can leave it; `next_states` None. `split`
  counts such entries.
- `nbytes` is the memory of the entries made here (`_counted`: bits and kept arrays; an entry
  that shares another's is not counted again) plus room for the `MASKS_KEPT` mask tensors; an
  entry that would take it past `max_bytes` (`decoding.limits` `guide_bytes`, read at
  construction) raises `PatternTooComplex` instead.

Threads: an index may be shared (`compile` gives every guide of a pattern the same one). An
entry, once stored, is never replaced: `entry` reads the memo without a lock and, on a miss,
computes under the index's own lock (checked again inside it, so each state is walked once; the
walk's automaton work takes the automaton's lock). Entries are immutable and handed out as they
are: `token_ids` and `next_states` are read-only arrays, and the mask's numpy buffer is marked
read-only once the tensor is made (torch has no read-only tensors; nothing in typedecode writes
to a mask: callers copy, as `mask_logits` does). Subclasses make entries in `_compute`, which
runs under the lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch

from decoding import limits
from decoding.automaton.dfa import Automaton
from decoding.automaton.expr import Expr
from decoding.errors import PatternTooComplex, UsageError
from decoding.tokens import bits as packed
from decoding.tokens.lexemes import WIDE, lexemes_of, split_head
from decoding.tokens.trie import TokenTrie, trie_of
from decoding.tokens.vocabulary import Vocabulary
from decoding.tokens.walk import TrieWalk
from decoding.util import LRU, gc_paused

KEEP_NEXT = 512
"""Entries that allow at most this many tokens keep their ids and next states as arrays."""

MASKS_KEPT = 16
"""Mask tensors kept per index, most recently used first (others are made again from bits)."""

_ENTRY_OVERHEAD = 200  # bytes of an entry's objects besides its arrays (estimate)


@dataclass(frozen=True)
class StateEntry:
    """What a state allows.

    `bits`: one flag per vocabulary token (EOS excluded), packed (`decoding.tokens.bits`),
    read-only; `count`:
    how many are set. `token_ids` (int64, sorted) and `next_states` (int32, aligned): kept for
    entries of at most `KEEP_NEXT` tokens whose next states were computed; else both None.
    """

    bits: np.ndarray
    count: int
    token_ids: np.ndarray | None
    next_states: np.ndarray | None

    @property
    def nbytes(self) -> int:
        kept = 0 if self.token_ids is None else self.token_ids.nbytes + self.next_states.nbytes
        return self.bits.nbytes + kept

    def allows(self, token_id: int) -> bool:
        """Whether `token_id` (a vocabulary id) is allowed."""
        return packed.has(self.bits, token_id)

    def ids(self, vocab_size: int) -> np.ndarray:
        """The sorted ids of the allowed tokens."""
        if self.token_ids is not None:
            return self.token_ids
        return packed.ids(self.bits, vocab_size)


class TokenIndex:
    """Per-state token masks and transitions for one automaton and one vocabulary.

    Masks are `width` wide (default: the vocabulary's size); a smaller `width` (`compile`'s
    `vocab_size`) raises `UsageError`. Entries hold packed bits (`StateEntry`); `mask` makes the
    boolean tensor of a state from them and keeps the last `MASKS_KEPT`.
    """

    def __init__(self, automaton: Automaton, vocabulary: Vocabulary, width: int | None = None):
        if width is None:
            width = vocabulary.size
        if width < vocabulary.size:
            raise UsageError(f"vocab_size (the mask width) {width} is smaller than the "
                             f"vocabulary ({vocabulary.size})")
        self.automaton = automaton
        self.vocabulary = vocabulary
        self.width = width
        self._trie_made: TokenTrie | None = None  # see `_trie`
        self._walk: TrieWalk | None = None
        self.eos_ids = _frozen(np.fromiter(sorted(vocabulary.eos_token_ids), dtype=np.int64),
                               np.int64)  # the EOS ids, sorted, read-only
        self._entries: dict[int, StateEntry] = {}
        self._masks: LRU[int, torch.Tensor] = LRU(MASKS_KEPT)
        self._horizon = 0  # one past the longest token: set by the first `_compute`
        self._by_class: dict[Expr, StateEntry] = {}
        self.shared = 0
        self._lock = threading.RLock()  # held to compute and store entries
        self.split = 0
        self.nbytes = MASKS_KEPT * width  # the kept mask tensors, at most
        self.max_bytes = limits.current().guide_bytes

    @property
    def _trie(self) -> TokenTrie:
        """The vocabulary's trie, made (`_make_trie`) when an entry is first computed: an index
        whose entries all come from elsewhere (the disk cache) never needs it."""
        trie = self._trie_made
        if trie is None:
            trie = self._trie_made = trie_of(self.vocabulary, self._make_trie)
        return trie

    def _make_trie(self, vocabulary: Vocabulary) -> TokenTrie:
        """A new trie of `vocabulary` (`trie_of` keeps one per vocabulary in the process)."""
        return TokenTrie(vocabulary)

    def entry(self, state: int) -> StateEntry:
        """The memoized entry for `state`, computed on first use."""
        found = self._entries.get(state)
        if found is None:
            with self._lock:
                found = self._entries.get(state)
                if found is None:
                    with gc_paused():  # derivatives and walk: no collection over torch's heap
                        found = self._entries[state] = self._compute(state)
        return found

    def has_entry(self, state: int) -> bool:
        return state in self._entries

    def mask(self, state: int) -> torch.Tensor:
        """bool [width]: the tokens allowed in `state`, EOS included where it accepts. Shared and
        read-only: never modify it in place."""
        found = self._masks.get(state)
        if found is None:
            entry = self.entry(state)
            # Built with numpy and shared with torch: torch's own fill kernels can stall for
            # milliseconds on a busy machine (thread pool start-up), numpy's cannot.
            allowed = np.zeros(self.width, dtype=bool)
            allowed[:self.vocabulary.size] = packed.unpack(entry.bits, self.vocabulary.size)
            if self.automaton.is_accepting(state):
                allowed[self.eos_ids] = True
            found = shared_mask(allowed)
            self._masks.put(state, found)
        return found

    def token_ids(self, state: int) -> np.ndarray:
        """The sorted ids of the non-EOS tokens allowed in `state`."""
        return self.entry(state).ids(self.vocabulary.size)

    def _compute(self, state: int) -> StateEntry:
        """The entry of `state` (called under the lock, for a state without one)."""
        if not self._horizon:  # a scan of every token's length: only an index that computes
            self._horizon = int(self.vocabulary.lengths.max(initial=0)) + 1
        like = self.automaton.mask_class(state, self._horizon)
        if like is not None:
            hit = self._by_class.get(like)
            if hit is not None:
                self.shared += 1
                return StateEntry(hit.bits, hit.count, None, None)
        entry = self._split_entry(state)
        if entry is None:
            found = self._walker().reach(state, keep=KEEP_NEXT)
            entry = self._counted(StateEntry(
                _frozen(found.bits, np.uint8), found.count,
                None if found.token_ids is None else _frozen(found.token_ids, np.int64),
                None if found.next_states is None else _frozen(found.next_states, np.int32)))
        if like is not None:
            self._by_class[like] = entry
        return entry

    def walk(self, state: int, prune: np.ndarray | None = None) -> np.ndarray:
        """int32 [vocabulary.size]: the state each token leads to from `state` (DEAD: not allowed;
        `prune` as in `TrieWalk.next_states`)."""
        return self._walker().next_states(state, prune)

    def _walker(self) -> TrieWalk:
        if self._walk is None:  # an index whose entries all come from the cache never walks
            self._walk = TrieWalk(self._trie, self.automaton)
        return self._walk

    def _split_entry(self, state: int) -> StateEntry | None:
        """The entry of a state `cat(x{lo,hi}, r)` (or an alternation of such, `split_head`) from
        the lexeme tables: the tokens that stay inside the repetition, plus a walk of only the
        subtrees holding tokens that can leave it (`decoding.tokens.lexemes`); next states are
        left to `Guide.advance`. None for states of other shapes, and where the leaving bytes F
        are `WIDE` or more (nearly every token may leave then: the walk is as long as a whole
        one, and leaving flags cost more)."""
        split = split_head(self.automaton.expression_of(state))
        if split is None:
            return None
        x, hi, leaving = split
        if leaving.bit_count() >= WIDE:
            return None
        lexemes = lexemes_of(self.vocabulary)
        inside = lexemes.inside_bits(x, hi)
        if inside is None:
            return None
        bits = self._walker().reach(state, lexemes.crossing(leaving)).bits
        bits |= inside
        self.split += 1
        return self._counted(StateEntry(_frozen(bits, np.uint8), packed.count(bits), None, None))

    def _counted(self, entry: StateEntry) -> StateEntry:
        """`entry`, its bytes added to `nbytes` (PatternTooComplex past `max_bytes`)."""
        size = _ENTRY_OVERHEAD + entry.nbytes
        if self.nbytes + size > self.max_bytes:
            raise PatternTooComplex(
                f"the guide's masks need more than {self.max_bytes:,} bytes after "
                f"{len(self._entries):,} states (TYPEDECODE_MAX_GUIDE_BYTES)",
                self.automaton.pattern, None)
        self.nbytes += size
        return entry

    def entry_of(self, bits: np.ndarray, token_ids: np.ndarray | None,
                 next_states: np.ndarray | None) -> StateEntry:
        """The entry of packed `bits`, with the sorted `token_ids` they hold and the states
        those lead to where known (else both None), as the disk cache stores them."""
        if next_states is not None and len(token_ids) <= KEEP_NEXT:  # as `_compute` keeps
            token_ids, next_states = _frozen(token_ids, np.int64), _frozen(next_states, np.int32)
        else:
            token_ids = next_states = None
        return self._counted(StateEntry(_frozen(bits, np.uint8), packed.count(bits), token_ids,
                                        next_states))


def shared_mask(allowed: np.ndarray) -> torch.Tensor:
    """A mask tensor over `allowed` (which the mask now owns), its buffer made read-only."""
    mask = torch.from_numpy(allowed)
    allowed.flags.writeable = False  # after: torch warns about read-only arrays
    return mask


def _frozen(values: np.ndarray, dtype: type) -> np.ndarray:
    """`values` as a read-only array of `dtype` (the entry owns it: callers pass new arrays)."""
    out = np.asarray(values, dtype=dtype)
    out.flags.writeable = False
    return out
