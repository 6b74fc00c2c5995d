"""Budgets that still parse (`on_length="finish"`): steer a row so that its output is complete when
`max_new_tokens` runs out.

`Budget(guide)` (one per automaton guide, shared by its calls: `budget_of(guide)`) knows, for each
guide state s, an upper bound `bound(s)` on the tokens needed to reach an accepting state:
- `distance(s)`: the length in bytes of the shortest completion of s
  (`decoding.automaton.shortest`), counted as tokens only when every one of the 256 bytes is a
  token of its own (`Speller.byte_complete`; SmolLM2's vocabulary is not: it lacks a few
  control and non-UTF-8 bytes); then the bytes of a shortest completion, one token each, are a
  token path of that length. It saves computing plans, which are never longer.
- `plan(s)`: a token path to acceptance: the shortest completion of s spelled with the fewest
  greedy longest-match tokens (`decoding.tokens.spelling`); where a state lies on the plan of
  another state, it keeps the shorter of its own plan and that plan's rest.
`bound(s)` is the smaller of the two (no bound: a shortest completion that the vocabulary
cannot spell, which `check_start` refuses). It is the length of a real token path, at most the
byte distance, so it never refuses a budget that path fits: a Pydantic model whose shortest
JSON spells in 15 tokens needs a budget of 15, not of its byte length. It is not the exact
token distance (a split into fewer, longer tokens, or a longer text in fewer tokens, may exist).
Known gap: the shortest completion is chosen by bytes alone (lowest bytes first), so where it
holds a byte the vocabulary cannot write (SmolLM2 has no token for 0x04) the state has no bound,
even if a longer completion could be spelled; such a start is refused, such a token never kept.

Witness invariant (W): for every non-accepting state s with a bound, the token `witness(s)` is
allowed in s and `bound(advance(s, witness(s))) <= bound(s) - 1`. Where the bound is the
distance, the witness is the single-byte token of the first byte b of the shortest completion
w = b.w' (w' completes the next state, so its distance is at most |w| - 1; the token keeps a
match possible, so the guide allows it). Where it is the plan, the witness is the plan's first
token and the next state holds the plan's rest or a shorter plan (plans only ever shrink).

Steering (`restrict`): in state s with `left` tokens left (this step's included), only tokens t
with `bound(advance(s, t)) <= left - 1` stay allowed, the witness always does, and EOS stays as
the guide's mask says (accepting states). Claim: if `bound(s) <= left` before a step, the
restricted mask is not empty (EOS when s accepts, else the witness, by (W)) and the state after
the step satisfies `bound <= left` again (a token kept by the rule, or the witness by (W)). By
induction from `check_start` (the initial state's bound fits `max_new_tokens`, else
`IncompleteGeneration` before generating), the state is accepting when `left` reaches 0: the
row ends in a state whose text validates. The per-state tables of next-state bounds are
memoized and may be stale; a stale bound is never smaller than the current one (they only
shrink), so staleness only removes tokens, never the witness.

Jump-forward (`fits`): k forced tokens from s to s' are taken only if `bound(s') <= left - k`,
so the claim's invariant holds after them too; otherwise the row takes ordinary steps.

Cost: the first restriction in a state walks the whole vocabulary once (`TokenIndex.walk`) and
bounds each distinct next state; the results are memoized per state (`_TABLES` per budget),
and a state whose largest next bound fits the budget is not restricted at all.

Threads: a budget may be shared; its tables are filled under its lock.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np
import torch

from decoding.automaton.dfa import DEAD
from decoding.automaton.shortest import shortest_word
from decoding.errors import IncompleteGeneration, UsageError
from decoding.guides.protocol import TokenGuide
from decoding.tokens.spelling import speller_of
from decoding.tokens.walk import read
from decoding.util import LRU

_TABLES = 64  # next-state bound tables kept per budget (one int32 per token each)
_FAR = np.iinfo(np.int32).max  # the bound of a token the guide does not allow


class Budget:
    """Distances to acceptance in tokens for one automaton guide (see the module docstring)."""

    def __init__(self, guide: TokenGuide):
        from decoding.guides.guide import Guide

        if not isinstance(guide, Guide):
            raise UsageError('on_length="finish" needs the automaton engine (engine="automaton")')
        # The guide's parts, not the guide: `budget_of` keys budgets weakly by guide.
        self.index = guide.index
        self.automaton = guide.automaton
        self.vocabulary = guide.vocabulary
        self.speller = speller_of(guide.vocabulary)
        self._distance: dict[int, int] = {}
        self._plans: dict[int, tuple[int, ...]] = {}
        self._largest: dict[int, int] = {}
        self._tables: LRU[int, np.ndarray] = LRU(_TABLES)
        self._eos = np.fromiter(guide.vocabulary.eos_token_ids, dtype=np.int64)
        self._special = np.fromiter(guide.vocabulary.special_ids, dtype=np.int64)
        self._lock = threading.RLock()

    def bound(self, state: int) -> int:
        """Tokens that surely suffice from `state` to an accepting state (0 where it accepts)."""
        if self.automaton.is_accepting(state):
            return 0
        with self._lock:
            plan = self._plan(state)
            bound = len(plan) if plan is not None else _FAR
            if self.speller.byte_complete:
                bound = min(bound, self._bytes(state))
            return bound

    def witness(self, state: int) -> int:
        """A token of (W) for a non-accepting `state` (see the module docstring)."""
        with self._lock:
            plan = self._plan(state)
            if plan is not None and (not self.speller.byte_complete
                                     or len(plan) <= self._bytes(state)):
                return plan[0]
            word = shortest_word(self.automaton.expression_of(state))
            return self.speller.byte_token(word[0])

    def check_start(self, state: int, max_new_tokens: int) -> None:
        """`IncompleteGeneration` unless a completion from `state` fits `max_new_tokens`."""
        need = self.bound(state)
        if need == _FAR:
            raise IncompleteGeneration(
                'on_length="finish": no shortest completion of the pattern can be spelled with '
                "the vocabulary's tokens; nothing was generated", "", 0)
        if need > max_new_tokens:
            raise IncompleteGeneration(
                f'on_length="finish": the shortest completion needs {need} tokens but '
                f"max_new_tokens={max_new_tokens}; nothing was generated", "", 0)

    def fits(self, state: int, after: int, tokens: int, left: int) -> bool:
        """Whether `tokens` forced tokens leading from `state` to `after` keep a completion
        within `left` tokens (the ones forced included)."""
        return self.bound(after) <= left - tokens

    def restrict(self, state: int, left: int, allowed: torch.Tensor) -> torch.Tensor | None:
        """The mask `allowed` of `state` restricted to the tokens that keep a completion within
        `left - 1` more tokens, or None when it needs no restriction."""
        largest = self._largest.get(state)
        if largest is not None and largest <= left - 1:
            return None
        table = self._table(state)
        if self._largest[state] <= left - 1:
            return None
        keep = table <= left - 1
        keep[self._eos] = True  # as the guide's mask says: allowed exactly where it accepts
        if not self.automaton.is_accepting(state):
            keep[self.witness(state)] = True
        out = allowed.clone()
        size = len(keep)
        out[:size] &= torch.from_numpy(keep).to(out.device)
        return out

    # -- tables -------------------------------------------------------------------------------

    def _table(self, state: int) -> np.ndarray:
        """int32 per token: the bound of the state it leads to (`_FAR`: not allowed)."""
        found = self._tables.get(state)
        if found is not None:
            return found
        with self._lock:
            nexts = self.index.walk(state)
            live = nexts != DEAD
            live[self._special[self._special < len(live)]] = False
            targets, where = np.unique(nexts[live], return_inverse=True)
            bounds = np.fromiter((self.bound(int(t)) for t in targets), dtype=np.int64,
                                 count=len(targets))
            table = np.full(len(nexts), _FAR, dtype=np.int32)
            table[live] = np.minimum(bounds[where], _FAR - 1)  # no bound: never fits
            self._largest[state] = int(table[table < _FAR].max(initial=0))
            self._tables.put(state, table)
            return table

    def _bytes(self, state: int) -> int:
        found = self._distance.get(state)
        if found is None:
            word = shortest_word(self.automaton.expression_of(state))
            found = self._distance[state] = _FAR if word is None else len(word)
        return found

    def _plan(self, state: int) -> tuple[int, ...] | None:
        """The best known token path from `state` to acceptance (computed on first use)."""
        if state not in self._plans:
            word = shortest_word(self.automaton.expression_of(state))
            tokens = None if word is None else self.speller.spell(word)
            if tokens is None:
                return None
            s = state
            for i, token in enumerate(tokens):
                known = self._plans.get(s)
                if known is None or len(known) > len(tokens) - i:
                    self._plans[s] = tokens[i:]
                s = read(self.automaton, s, self.vocabulary.bytes_of(token))
        return self._plans.get(state)


_BUDGETS: weakref.WeakKeyDictionary[TokenGuide, Budget] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def budget_of(guide: TokenGuide) -> Budget:
    """The `Budget` of `guide`, made once per guide object (kept as long as the guide)."""
    with _LOCK:
        found = _BUDGETS.get(guide)
        if found is None:
            found = _BUDGETS[guide] = Budget(guide)
        return found
