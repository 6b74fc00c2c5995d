"""Expressions: immutable, hash-consed regular expressions over UTF-8 bytes, with derivatives.

An `Expr` denotes a set of byte strings. Kinds: `NOTHING` (the empty language), `EMPTY` (the
empty string), a byte set, a character set (Unicode ranges, read as their UTF-8 encodings),
concatenation, alternation (`|`), intersection (`&`), complement (`~`, over all byte strings) and
repetition `{lo,hi}` kept as a counter (never expanded).

Invariants:
- Expressions are made only by the constructors below. Equal parts give the same object, so
  equality is identity and hashing is by identity; the intern table holds expressions weakly.
- Normal forms: concatenation is right-nested `(head, tail)` with a head that is not itself a
  concatenation, and absorbs `EMPTY` and `NOTHING`; alternation and intersection are flat, sorted
  by digest and without duplicates; byte sets in an alternation (or an intersection) are merged
  into one, character sets in an alternation into one; `r|EMPTY` drops `EMPTY` when `r` is
  nullable; `~~r = r`; a repetition of a nullable expression starts at 0; `r{1,1} = r`.
- `nullable`, `boolean` (contains `&` or `~`), `digest` (two 64-bit integers, a function of the
  structure only: Python's hash of tuples of integers below 2**61, which is not randomized, so
  the same in every process of one Python version; `fingerprint` is its hex form), `size` (node count of the tree, saturating) and `count`
  (the largest repetition bound inside) are computed once, at construction.
- `capped(e, n)`, for `e` without `&` and `~`, has the same strings of at most n-1 bytes as
  prefixes of its strings, and the same nullability: every repetition iteration reads at least
  one byte, so bounds beyond n cannot be told apart within n-1 bytes.
- An expression with `boolean` False other than `NOTHING` denotes a non-empty language; for the
  others `is_empty` decides it by exploring derivatives (bounded: `MAX_EMPTINESS_STATES`).
- `derivative(e, b)` is the expression for {w : b.w in e}; results are memoized on `e`. The
  branches of an alternation that `first_bytes` says cannot start with b are left out unread
  (their derivatives have no string: NOTHING, or an empty `&`/`~` term dropped).
- Inside `node_budget(n)` the calling thread creates at most `n` new nodes (hash-consed hits are
  free); one more raises `PatternTooComplex`, so no build or derivative can grow without bound.
  A budget entered with `explored=m` also lets `is_empty` explore at most `m` derivatives in
  all in the block, so many explorations, each under `MAX_EMPTINESS_STATES`, cannot add up
  without bound either; one entered with `steps=s` lets the block spend at most `s` derivative
  steps, the measure of derivative work: computing (not recalling) the derivative of a node
  with `&` or `~` inside costs 1 + its number of items (its items' derivatives are looked up
  and combined: that is where exploring intersections spends its time; nodes without `&` and
  `~` cost nothing and read no budget).
- `derivative_classes(e)`, for `e` without `&` and `~`, is every derivative of `e` at once:
  (byte mask, derivative) pairs with disjoint masks covering `first_bytes(e)` (every other byte
  leads to NOTHING), one pair per distinct derivative (NOTHING never among them); each one is
  the very node `derivative(e, b)` returns for every byte b of its mask. Memoized on `e`, so
  states that share a part (a member's value, a string body) share its classes: a row costs one
  step per distinct derivative of each part rather than one derivative per run of bytes.
- `first_bytes(e)` is a 256-bit mask holding every byte that starts a non-empty string of `e`
  (and possibly more: `~` and `&` are read loosely).
- `byte_cuts(e)` is a 257-bit mask of the byte positions that some byte set anywhere in `e`
  (character sets read as their UTF-8 form) separates: the automaton's byte classes. It is a
  field set at construction (the union of the parts'; a character set's are read off the byte
  ranges of its UTF-8 sequences, equal to its lowered form's), so an automaton's classes cost
  no walk over its expression and no character set is lowered for them.
- `boundaries(e)` is a 257-bit mask of the byte positions where the derivative of `e` may change
  (bit i: bytes i-1 and i may differ); bytes between two set bits have the same derivative.

Threads: expressions may be shared freely. The intern table is filled under a lock (checked
again inside it), and an expression is published only once every field is set, so two threads
building equal parts get the same object. The memos on an expression (`_derivs`, `_classes`,
`_bounds`, `_lowered`, `_capped`, `_empty`) take no lock: each stores a function of the
expression alone (a derivative is interned, hence the same object whoever computes it) with one
dict item or attribute store, which the GIL makes atomic; two threads may compute one entry twice, never
store different values. Nothing iterates over a memo.
"""

from __future__ import annotations

import threading
import weakref
from _weakref import _remove_dead_weakref
from collections.abc import Callable, Iterable, Sequence

from decoding.automaton.utf8 import utf8_sequences
from decoding.errors import PatternTooComplex

NOTHING_KIND, EMPTY_KIND, BYTES, CHARS, CAT, OR, AND, NOT, REPEAT = range(9)

_PIECE = (1 << 60) - 1  # a byte mask is hashed in pieces this wide (`_make`)

MAX_EMPTINESS_STATES = 20_000
"""Most derivatives explored to decide whether one intersection or complement is empty."""

_SIZE_CAP = 1 << 62
_ALL_BYTES = (1 << 256) - 1
_BOUNDARY_BITS = (1 << 257) - 1


class Expr:
    """One hash-consed expression; build with the module's constructors, never directly."""

    __slots__ = ("kind", "items", "lo", "hi", "mask", "ranges", "nullable", "boolean", "digest",
                 "size", "count", "_derivs", "_bounds", "_lowered", "_empty", "_capped", "_first",
                 "_cuts", "_classes", "__weakref__")

    kind: int
    items: tuple["Expr", ...]
    lo: int
    hi: int | None
    mask: int
    ranges: tuple[tuple[int, int], ...]

    def __repr__(self) -> str:
        names = ("NOTHING", "EMPTY", "BYTES", "CHARS", "CAT", "OR", "AND", "NOT", "REPEAT")
        return f"<Expr {names[self.kind]} #{self.fingerprint[:12]} size={self.size}>"

    @property
    def fingerprint(self) -> str:
        """The digest as 32 hex digits."""
        return "".join(f"{h & 0xFFFFFFFFFFFFFFFF:016x}" for h in self.digest)

    def matches(self, text: str | bytes) -> bool:
        """Whether the whole of `text` (str: its UTF-8 encoding) is in the language."""
        data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
        e = self
        for b in data:
            e = derivative(e, b)
            if e is NOTHING:
                return False
        return e.nullable

    def __reduce__(self):
        raise TypeError("expressions are not pickled; keep the schema or pattern instead")


class _Ref(weakref.ref):
    """A weak reference that carries its table key (`weakref.KeyedRef` without its Python-level
    `__new__` and `__init__`: made once per node, so its cost counts)."""

    __slots__ = ("key",)


# The intern table: structure key -> weak reference to the expression (a WeakValueDictionary
# without its Python-level methods on the hot path; a dead entry is removed by its reference's
# callback, atomically and only while it still holds that dead reference).
_TABLE: dict[tuple, _Ref] = {}


def _forget(ref: _Ref, table: dict = _TABLE,
            remove: Callable[[dict, object], None] = _remove_dead_weakref) -> None:
    remove(table, ref.key)  # bound at definition: module globals may be gone at exit


_LOCK = threading.Lock()
_BUDGET = threading.local()  # .left: nodes this thread may still create (absent: no budget);
# .explore: the innermost `node_budget` given an allowance of explored derivatives or steps


class node_budget:
    """Let the calling thread create at most `limit` new nodes in the block (within any outer
    budget); past it, `PatternTooComplex` names `what`, the limit and its `setting`. With
    `explored` or `steps`, `is_empty` may also explore at most `explored` derivatives and
    derivatives may cost at most `steps` steps (see the module doc) in the block (past either:
    `PatternTooComplex` naming TYPEDECODE_MAX_EXPLORED_DERIVATIVES or
    TYPEDECODE_MAX_DERIVATIVE_STEPS; the one not given is unbounded); with neither, an outer
    block's allowances go on. (A class, not a generator: every automaton row enters one, so
    its cost counts.)"""

    __slots__ = ("_limit", "_what", "_explored", "_steps", "_outer", "_start", "_saved",
                 "_explore_left", "_steps_left", "_saved_explore")

    def __init__(self, limit: int, what: str = "the expression", setting: str = "EXPR_NODES",
                 explored: int | None = None, steps: int | None = None):
        self._limit = limit
        self._what = (what, limit, setting)  # the message, formatted only when raised
        self._explored = explored
        self._steps = steps

    def __enter__(self) -> None:
        outer = getattr(_BUDGET, "left", None)
        self._outer = outer
        self._start = self._limit if outer is None else min(self._limit, outer)
        self._saved = getattr(_BUDGET, "what", None)
        _BUDGET.left, _BUDGET.what = self._start, self._what
        if self._explored is not None or self._steps is not None:  # this block's allowances
            self._saved_explore = getattr(_BUDGET, "explore", None)
            self._explore_left = _UNBOUNDED if self._explored is None else self._explored
            self._steps_left = _UNBOUNDED if self._steps is None else self._steps
            _BUDGET.explore = self

    def __exit__(self, *exc: object) -> None:
        if self._outer is None:
            del _BUDGET.left
        else:
            _BUDGET.left = self._outer - (self._start - _BUDGET.left)
        _BUDGET.what = self._saved
        if self._explored is not None or self._steps is not None:
            _BUDGET.explore = self._saved_explore

    def _take_explored(self) -> None:
        """Count one explored derivative; `PatternTooComplex` past the allowance."""
        if self._explore_left <= 0:
            raise PatternTooComplex(
                f"{self._what[0]} needs more than {self._explored:,} derivatives explored to "
                f"decide whether its intersections and complements are empty "
                f"(TYPEDECODE_MAX_EXPLORED_DERIVATIVES)")
        self._explore_left -= 1

    def _take_steps(self, n: int) -> None:
        """Count `n` derivative steps; `PatternTooComplex` past the allowance."""
        left = self._steps_left - n
        if left < 0:
            raise PatternTooComplex(
                f"{self._what[0]} needs more than {self._steps:,} derivative steps to decide "
                f"whether its intersections and complements are empty "
                f"(TYPEDECODE_MAX_DERIVATIVE_STEPS)")
        self._steps_left = left


_UNBOUNDED = 1 << 62  # the allowance a `node_budget` not given one has


def _make(kind: int, items: tuple[Expr, ...] = (), lo: int = 0, hi: int | None = 0,
          mask: int = 0, ranges: tuple[tuple[int, int], ...] = ()) -> Expr:
    """The node of any kind but CAT (`_cat_node`, `_chain`), hash-consed."""
    key = (kind, items, lo, hi, mask, ranges)
    ref = _TABLE.get(key)
    if ref is not None:
        e = ref()
        if e is not None:
            return e
    with _LOCK:
        ref = _TABLE.get(key)
        if ref is not None:
            e = ref()
            if e is not None:
                return e
        e = _new_node(kind, items, lo, hi, mask, ranges)
        if items:  # one loop over the items (this runs for every new node of these kinds)
            digests: list[int] = [kind, lo, -1 if hi is None else hi]
            boolean = kind == AND or kind == NOT
            size = 1
            count = lo if hi is None or lo > hi else hi
            cuts = 0
            for i in items:
                digests += i.digest
                boolean = boolean or i.boolean
                size += i.size
                if i.count > count:
                    count = i.count
                cuts |= i._cuts
            e.nullable = _nullable(kind, items, lo)
            e.boolean = boolean
            parts = tuple(digests)
            e.size = size if size < _SIZE_CAP else _SIZE_CAP
            e.count = count
            e._cuts = cuts
        else:
            e.nullable = kind == EMPTY_KIND
            e.boolean = False
            e._cuts = _utf8_cuts(ranges) if ranges else mask ^ (mask << 1)
            # The 256-bit mask goes in as 60-bit pieces: Python hashes an int modulo 2**61 - 1,
            # so whole masks one 61-bit shift apart ([zZ] and bytes 0x97, 0xB7) would collide.
            parts = (kind, mask & _PIECE, mask >> 60 & _PIECE, mask >> 120 & _PIECE,
                     mask >> 180 & _PIECE, mask >> 240, *(b for r in ranges for b in r))
            e.size, e.count = 1, 0
        e.digest = (hash(parts), hash(parts[::-1]))
        return _publish(e, key)


def _cat_node(a: Expr, b: Expr) -> Expr:
    """The concatenation node (a, b): `_chain((a,), b)`."""
    key = (a, b)
    ref = _TABLE.get(key)
    if ref is not None:
        e = ref()
        if e is not None:
            return e
    return _chain((a,), b)


def _chain(heads: Sequence[Expr], tail: Expr) -> Expr:
    """cat(heads[0], cat(heads[1], ... cat(heads[-1], tail))) as concatenation nodes, for heads
    that are not concatenations and parts that are neither EMPTY nor NOTHING (`_cat2` checks).

    The most common node by far, and made in runs (a literal, a branch's remainder rebuilt onto
    what follows it): one lock for the run, fields set inline. A node's table key is its items
    pair itself (no other kind's key is a pair); its digest is `_make`'s for kind CAT."""
    out = tail
    with _LOCK:
        left = getattr(_BUDGET, "left", None)
        try:
            for a in reversed(heads):
                b = out
                key = (a, b)
                ref = _TABLE.get(key)
                if ref is not None:
                    e = ref()
                    if e is not None:
                        out = e
                        continue
                if left is not None:
                    if left <= 0:
                        raise _over_budget()
                    left -= 1
                e = Expr.__new__(Expr)
                e.kind, e.items, e.lo, e.hi, e.mask, e.ranges = CAT, key, 0, 0, 0, ()
                e.nullable = a.nullable and b.nullable
                e.boolean = a.boolean or b.boolean
                a1, a2 = a.digest
                b1, b2 = b.digest
                e.digest = (hash((CAT, a1, a2, b1, b2)), hash((b2, b1, a2, a1, CAT)))
                size = 1 + a.size + b.size
                e.size = size if size < _SIZE_CAP else _SIZE_CAP
                e.count = a.count if a.count > b.count else b.count
                e._cuts = a._cuts | b._cuts
                e._derivs = {}
                e._bounds = e._lowered = e._empty = e._capped = e._first = e._classes = None
                ref = _TABLE[key] = _Ref(e, _forget)
                ref.key = key
                out = e
        finally:
            if left is not None:
                _BUDGET.left = left
    return out


def _new_node(kind: int, items: tuple[Expr, ...], lo: int, hi: int | None, mask: int,
              ranges: tuple[tuple[int, int], ...]) -> Expr:
    """A node with its structure and empty memos (called under the lock, counted against the
    thread's budget); the caller sets the derived fields and publishes it."""
    left = getattr(_BUDGET, "left", None)
    if left is not None:
        if left <= 0:
            raise _over_budget()
        _BUDGET.left = left - 1
    e = Expr.__new__(Expr)
    e.kind, e.items, e.lo, e.hi, e.mask, e.ranges = kind, items, lo, hi, mask, ranges
    e._derivs = {}
    e._bounds = e._lowered = e._empty = e._capped = e._first = e._classes = None
    return e


def _over_budget() -> PatternTooComplex:
    """The error of a thread past its `node_budget`."""
    what, limit, setting = _BUDGET.what
    return PatternTooComplex(f"{what} needs more than {limit:,} expression nodes "
                             f"(TYPEDECODE_MAX_{setting})")


def _publish(e: Expr, key: tuple) -> Expr:
    """Enter a finished node in the intern table (under the lock)."""
    ref = _TABLE[key] = _Ref(e, _forget)
    ref.key = key
    return e


def _nullable(kind: int, items: tuple[Expr, ...], lo: int) -> bool:
    if kind == AND:
        return all(i.nullable for i in items)
    if kind == OR:
        return any(i.nullable for i in items)
    if kind == NOT:
        return not items[0].nullable
    if kind == REPEAT:
        return lo == 0 or items[0].nullable
    return False


NOTHING = _make(NOTHING_KIND)
EMPTY = _make(EMPTY_KIND)


def byteset(mask: int) -> Expr:
    """One byte from the set whose bit b is set in `mask` (0 <= mask < 2**256)."""
    if not 0 <= mask <= _ALL_BYTES:
        raise ValueError("a byte set is a 256-bit mask")
    return _make(BYTES, mask=mask) if mask else NOTHING


def byte_range(lo: int, hi: int) -> Expr:
    """One byte in lo..hi (inclusive)."""
    return byteset(((1 << (hi + 1)) - 1) ^ ((1 << lo) - 1)) if lo <= hi else NOTHING


ANY_BYTE = byteset(_ALL_BYTES)
TOP = _make(NOT, (NOTHING,))
"""Every byte string (the complement of NOTHING)."""


def without_surrogates(lo: int, hi: int) -> list[tuple[int, int]]:
    """The inclusive code-point range lo..hi without the surrogates (0, 1 or 2 ranges)."""
    return [p for p in ((lo, min(hi, 0xD7FF)), (max(lo, 0xE000), hi)) if p[0] <= p[1]]


def chars(ranges: Iterable[tuple[int, int]]) -> Expr:
    """One character from the inclusive code-point ranges, as UTF-8 (surrogates are dropped:
    they are not text)."""
    merged: list[list[int]] = []
    for lo, hi in sorted(p for r in ranges for p in without_surrogates(*r)):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    if not merged:
        return NOTHING
    if merged[-1][1] <= 0x7F:
        mask = 0
        for lo, hi in merged:
            mask |= ((1 << (hi + 1)) - 1) ^ ((1 << lo) - 1)
        return byteset(mask)
    return _make(CHARS, ranges=tuple((lo, hi) for lo, hi in merged))


def _utf8_cuts(ranges: tuple[tuple[int, int], ...]) -> int:
    """`byte_cuts` of the character set of `ranges` (merged, surrogate-free, as `chars` makes
    them), without lowering it: each byte range of each UTF-8 sequence cuts at its two ends.
    Equal to the cuts of `lowered`: the only byte sets it merges (ASCII leads; the one-byte
    tails of one lead) come from code points that are not adjacent, hence neither are they."""
    bits = 0
    for lo, hi in ranges:
        for seq in utf8_sequences(lo, hi):
            for a, b in seq:
                bits |= 1 << a | 1 << (b + 1)
    return bits


ANY_CHAR = chars([(0, 0xD7FF), (0xE000, 0x10FFFF)])
TEXT = _make(REPEAT, (ANY_CHAR,), 0, None)
"""Every valid UTF-8 string."""


def literal(text: str | bytes) -> Expr:
    """Exactly `text` (str: its UTF-8 encoding)."""
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    if not data:
        return EMPTY
    heads = [_make(BYTES, mask=1 << b) for b in data]
    return _chain(heads[:-1], heads[-1])


def cat(*parts: Expr) -> Expr:
    """The parts one after another."""
    return cat_of(parts)


def cat_of(parts: Iterable[Expr]) -> Expr:
    out = EMPTY
    for p in reversed(tuple(parts)):
        out = _cat2(p, out)
        if out is NOTHING:
            return NOTHING
    return out


def _cat2(a: Expr, b: Expr) -> Expr:
    if a is NOTHING or b is NOTHING:
        return NOTHING
    if a is EMPTY:
        return b
    if b is EMPTY:
        return a
    if a.kind != CAT:
        return _cat_node(a, b)
    chain = []
    while a.kind == CAT:
        head, a = a.items
        chain.append(head)
    chain.append(a)
    return _chain(chain, b)


def alt(*items: Expr) -> Expr:
    """Any one of the items."""
    return alt_of(items)


def alt_of(items: Iterable[Expr]) -> Expr:
    flat: set[Expr] = set()
    mask = 0
    ranges: list[tuple[int, int]] = []
    for x in items:
        for y in (x.items if x.kind == OR else (x,)):
            if y is NOTHING:
                continue
            if y is TOP:
                return TOP
            if y.kind == BYTES:
                mask |= y.mask
            elif y.kind == CHARS:
                ranges.extend(y.ranges)
            else:
                flat.add(y)
    if ranges:
        merged = chars(ranges)
        if mask and not mask >> 128:  # ASCII bytes fold into the character set
            merged = chars([*merged.ranges, *mask_ranges(mask)])
            mask = 0
        flat.add(merged)
    if mask:
        flat.add(byteset(mask))
    if EMPTY in flat and len(flat) > 1 and any(y.nullable for y in flat if y is not EMPTY):
        flat.discard(EMPTY)
    if not flat:
        return NOTHING
    if len(flat) == 1:
        return flat.pop()
    return _make(OR, tuple(sorted(flat, key=_order)))


def both(*items: Expr) -> Expr:
    """The strings in every item (intersection)."""
    return both_of(items)


def both_of(items: Iterable[Expr]) -> Expr:
    flat: set[Expr] = set()
    mask = None
    for x in items:
        for y in (x.items if x.kind == AND else (x,)):
            if y is NOTHING:
                return NOTHING
            if y is TOP:
                continue
            if y.kind == BYTES:
                mask = y.mask if mask is None else mask & y.mask
            else:
                flat.add(y)
    if mask is not None:
        if not mask:
            return NOTHING
        flat.add(byteset(mask))
    if EMPTY in flat:
        return EMPTY if all(y.nullable for y in flat) else NOTHING
    if not flat:
        return TOP
    if len(flat) == 1:
        return flat.pop()
    return _make(AND, tuple(sorted(flat, key=_order)))


def neg(e: Expr) -> Expr:
    """Every byte string not in `e` (complement over bytes; see `complement` for text)."""
    return e.items[0] if e.kind == NOT else _make(NOT, (e,))


def complement(e: Expr) -> Expr:
    """Every valid UTF-8 string not in `e`."""
    return both(neg(e), TEXT)


def difference(a: Expr, b: Expr) -> Expr:
    """The strings of `a` that are not in `b`."""
    return both(a, neg(b))


def repeat(e: Expr, lo: int, hi: int | None) -> Expr:
    """`e` repeated lo..hi times (hi None: unbounded), as a counter."""
    if lo < 0 or (hi is not None and hi < lo):
        raise ValueError(f"bad repetition bounds {{{lo},{hi}}}")
    if hi == 0 or e is EMPTY:
        return EMPTY
    if e is NOTHING:
        return EMPTY if lo == 0 else NOTHING
    if e.nullable:
        lo = 0
    if lo == 1 and hi == 1:
        return e
    if e.kind == REPEAT and e.lo == 0 and e.hi is None and lo <= 1:
        return e  # (r*){0,n} and (r*){1,n} are r*
    return _make(REPEAT, (e,), lo, hi)


def capped(e: Expr, n: int) -> Expr:
    """`e` with every repetition bound above `n` lowered to `n` (see the module docstring);
    for expressions without `&` and `~`. Memoized for the last `n` asked."""
    if e.count <= n:
        return e
    memo = e._capped
    if memo is not None and memo[0] == n:
        return memo[1]
    k = e.kind
    if k == REPEAT:
        hi = None if e.hi is None else min(e.hi, n)
        r = repeat(capped(e.items[0], n), min(e.lo, n), hi)
    elif k == CAT:
        heads = []
        x = e
        while x.kind == CAT and x.count > n:
            heads.append(x.items[0])
            x = x.items[1]
        r = capped(x, n)
        for head in reversed(heads):
            r = _cat2(capped(head, n), r)
    elif k == OR:
        r = alt_of([capped(i, n) for i in e.items])
    else:
        raise ValueError("capped() is for expressions without intersection or complement")
    e._capped = (n, r)
    return r


def optional(e: Expr) -> Expr:
    return alt(e, EMPTY)


def _order(e: Expr) -> bytes:
    return e.digest


def mask_ranges(mask: int) -> list[tuple[int, int]]:
    """The inclusive ranges of the set bits of `mask`."""
    out = []
    b = 0
    while mask >> b:
        if mask >> b & 1:
            start = b
            while mask >> b & 1:
                b += 1
            out.append((start, b - 1))
        else:
            b += 1
    return out


# -- derivatives ------------------------------------------------------------------------------

def lowered(e: Expr) -> Expr:
    """A character set's UTF-8 form: an alternation of byte-set sequences (memoized)."""
    low = e._lowered
    if low is None:
        by_lead: dict[tuple[int, int], list[Expr]] = {}
        for lo, hi in e.ranges:
            for seq in utf8_sequences(lo, hi):
                    tail = cat_of(byte_range(a, b) for a, b in seq[1:])
                    by_lead.setdefault(seq[0], []).append(tail)
        low = e._lowered = alt_of(_cat2(byte_range(*lead), alt_of(tails))
                                  for lead, tails in by_lead.items())
    return low


def derivative(e: Expr, b: int) -> Expr:
    """The expression for the strings w such that byte `b` followed by w is in `e`."""
    memo = e._derivs
    r = memo.get(b)
    if r is not None:
        return r
    if e.boolean:  # derivative work, charged where a budget gives an allowance of steps
        allowance: node_budget | None = getattr(_BUDGET, "explore", None)
        if allowance is not None:
            allowance._take_steps(1 + len(e.items))
    k = e.kind
    if k == BYTES:
        r = EMPTY if e.mask >> b & 1 else NOTHING
    elif k == CAT:
        head, tail = e.items
        if not head.nullable:  # the common case: only the head reads the byte
            r = _cat2(derivative(head, b), tail)
            memo[b] = r
            return r
        parts = []
        x = e
        while x.kind == CAT:
            head, tail = x.items
            parts.append(_cat2(derivative(head, b), tail))
            if not head.nullable:
                break
            x = tail
        else:
            parts.append(derivative(x, b))
        r = parts[0] if len(parts) == 1 else alt_of(parts)
    elif k == OR:  # a branch that no string starting with b can take is skipped, not derived
        bit = 1 << b
        r = alt_of([derivative(i, b) for i in e.items if first_bytes(i) & bit])
    elif k == REPEAT:
        x = e.items[0]
        r = _cat2(derivative(x, b), _rest(e))
    elif k == CHARS:
        r = derivative(lowered(e), b)
    elif k == AND:
        r = both_of([derivative(i, b) for i in e.items])
    elif k == NOT:
        r = neg(derivative(e.items[0], b))
    else:
        r = NOTHING
    memo[b] = r
    return r


def derivative_classes(e: Expr) -> tuple[tuple[int, Expr], ...]:
    """Every derivative of `e` (without `&` and `~`): (byte mask, derivative) pairs, see the
    module docstring. ValueError for an expression with `&` or `~` (its derivatives are
    pruned by emptiness, which byte sets cannot express)."""
    found = e._classes
    if found is None:
        if e.boolean:
            raise ValueError("derivative_classes() is for expressions without & and ~")
        found = e._classes = _classes(e)
    return found


def _classes(e: Expr) -> tuple[tuple[int, Expr], ...]:
    """`derivative_classes` computed from the parts' (the same cases as `derivative`)."""
    k = e.kind
    if k == BYTES:
        return ((e.mask, EMPTY),)
    if k == CHARS:
        return derivative_classes(lowered(e))
    if k == REPEAT:
        return _onto(derivative_classes(e.items[0]), _rest(e))
    if k == OR:
        return _joined([derivative_classes(i) for i in e.items])
    if k != CAT:
        return ()  # NOTHING, EMPTY
    head, tail = e.items
    if not head.nullable:
        if head.kind == REPEAT:  # x{lo,hi} t: x's classes onto x{lo-1,hi-1} t, in one step
            x = head.items[0]
            return _onto(derivative_classes(x), _cat2(_rest(head), tail))
        return _onto(derivative_classes(head), tail)
    groups = []  # the byte read by each head up to the first that is not nullable
    x = e
    while x.kind == CAT:
        head, x = x.items
        groups.append(_onto(derivative_classes(head), x))
        if not head.nullable:
            break
    else:
        groups.append(derivative_classes(x))
    return _joined(groups)


def _rest(e: Expr) -> Expr:
    """What follows a repetition's first item: x{lo-1,hi-1} for `e` = x{lo,hi}."""
    return repeat(e.items[0], max(e.lo - 1, 0), None if e.hi is None else e.hi - 1)


def _onto(classes: tuple[tuple[int, Expr], ...], tail: Expr) -> tuple[tuple[int, Expr], ...]:
    """`classes` with each derivative followed by `tail` (classes whose results meet merged)."""
    if len(classes) == 1:
        mask, d = classes[0]
        return ((mask, _cat2(d, tail)),)
    merged: dict[Expr, int] = {}
    for mask, d in classes:
        r = _cat2(d, tail)
        merged[r] = merged.get(r, 0) | mask
    return tuple((mask, r) for r, mask in merged.items())


def _joined(groups: list[tuple[tuple[int, Expr], ...]]) -> tuple[tuple[int, Expr], ...]:
    """The classes of an alternation of parts with these classes: each byte leads to the
    alternation of the derivatives of the parts that read it."""
    if len(groups) == 1:
        return groups[0]
    cells: dict[int, list[Expr]] = {}  # disjoint masks -> the derivatives reading them
    covered = 0
    for classes in groups:
        for mask, d in classes:
            if mask in cells:  # the common cases: parts that start alike, or differently
                cells[mask].append(d)
            elif mask & covered:
                cells = _split(cells, mask, d)
            else:
                cells[mask] = [d]
            covered |= mask
    merged: dict[Expr, int] = {}
    for cell, ds in cells.items():
        r = ds[0] if len(ds) == 1 else alt_of(ds)
        merged[r] = merged.get(r, 0) | cell
    return tuple((mask, r) for r, mask in merged.items())


def _split(cells: dict[int, list[Expr]], mask: int, d: Expr) -> dict[int, list[Expr]]:
    """`cells` with `d` added to the derivatives of every byte of `mask`."""
    out = {}
    for cell, ds in cells.items():
        common = cell & mask
        if common:
            out[common] = [*ds, d]
            if common != cell:
                out[cell ^ common] = ds
            mask ^= common
        else:
            out[cell] = ds
    if mask:
        out[mask] = [d]
    return out


def first_bytes(e: Expr) -> int:
    """Bit b set for every byte b that starts some non-empty string of `e` (a superset where
    `e` has `~`: a complement is taken to start with any byte). Memoized on `e`."""
    bits = e._first
    if bits is None:
        bits = e._first = _first_bytes(e)
    return bits


def _first_bytes(e: Expr) -> int:
    k = e.kind
    if k == BYTES:
        return e.mask
    if k == CHARS:
        return first_bytes(lowered(e))
    if k == CAT:
        bits = 0
        while e.kind == CAT:
            head, e = e.items
            bits |= first_bytes(head)
            if not head.nullable:
                return bits
        return bits | first_bytes(e)
    if k == NOT:
        return _ALL_BYTES
    if k == AND:
        bits = _ALL_BYTES
        for i in e.items:
            bits &= first_bytes(i)
        return bits
    bits = 0  # OR, REPEAT (a REPEAT's upper bound is never 0: that is EMPTY); NOTHING, EMPTY
    for i in e.items:
        bits |= first_bytes(i)
    return bits


def set_boundaries(mask: int) -> int:
    """`boundaries` of the byte set `mask` (a 256-bit mask): bit i set where bytes i-1 and i
    differ in membership."""
    return (mask ^ (mask << 1)) & _BOUNDARY_BITS


def boundaries(e: Expr) -> int:
    """Bit i set: bytes i-1 and i may have different derivatives (see the module docstring)."""
    bits = e._bounds
    if bits is None:
        k = e.kind
        if k == BYTES:
            bits = set_boundaries(e.mask)
        elif k == CHARS:
            bits = boundaries(lowered(e))
        elif k == CAT:
            bits = 0
            x = e
            while x.kind == CAT:
                head, x = x.items
                bits |= boundaries(head)
                if not head.nullable:
                    break
            else:
                bits |= boundaries(x)
        else:
            bits = 0
            for i in e.items:
                bits |= boundaries(i)
        e._bounds = bits
    return bits


def class_starts(e: Expr) -> list[int]:
    """The first byte of each run of bytes with one derivative (0 always included)."""
    bits = boundaries(e) & (_ALL_BYTES ^ 1)
    out = [0]
    while bits:
        low = bits & -bits
        out.append(low.bit_length() - 1)
        bits ^= low
    return out


def byte_cuts(e: Expr) -> int:
    """Bit i (0..256) set where some byte set that a derivative of `e` can meet (character sets
    lowered) holds one of bytes i-1 and i but not the other (a field: see the module
    docstring)."""
    return e._cuts


def is_empty(e: Expr) -> bool:
    """Whether `e` denotes no string at all (exact; explores derivatives for `&` and `~`).

    A concatenation is empty iff one of its parts is, an alternation iff all its branches
    are, a repetition (not nullable) iff its item is: these are decided by their parts, each
    part's answer memoized on it (so the parts a translation has checked answer at once), and
    only an intersection or complement explores derivatives. Raises `PatternTooComplex` after
    `MAX_EMPTINESS_STATES` distinct derivatives in one exploration, unless another part
    decides the answer without it.
    """
    if e is NOTHING:
        return True
    if not e.boolean or e.nullable:
        return False
    if e._empty is not None:
        return e._empty
    k = e.kind
    if k == CAT:
        parts = []
        x = e
        while x.kind == CAT:
            head, x = x.items
            parts.append(head)
        parts.append(x)
        empty = _decided(parts, True)
    elif k == OR:
        empty = not _decided(e.items, False)
    elif k == REPEAT:
        empty = is_empty(e.items[0])
    else:
        empty = _explored(e)
    e._empty = empty
    return empty


def _decided(parts: Iterable[Expr], wanted: bool) -> bool:
    """Whether `is_empty(p) == wanted` for some part p (False: for none of them). Parts whose
    answer is known cheaply go first; a part that runs out of derivatives raises only when
    no other part gives the answer."""
    pending = []
    for p in parts:
        known = p is NOTHING or (False if not p.boolean or p.nullable else p._empty)
        if known is None:
            pending.append(p)
        elif known == wanted:
            return True
    error = None
    for p in pending:
        try:
            if is_empty(p) == wanted:
                return True
        except PatternTooComplex as exc:
            error = exc
    if error is not None:
        raise error
    return False


def _explored(e: Expr) -> bool:
    """`is_empty` of an intersection or complement, by exploring its derivatives (each new one
    taken from the thread's allowance, where a `node_budget` gives one)."""
    allowance: node_budget | None = getattr(_BUDGET, "explore", None)
    parent: dict[Expr, Expr | None] = {e: None}
    frontier = [e]
    while frontier:
        nxt = []
        for x in frontier:
            starts = first_bytes(x)
            for b in class_starts(x):
                if not starts >> b & 1:  # no string of x starts with b: not derived at all
                    continue
                y = derivative(x, b)
                if y is NOTHING or y in parent or y._empty is True:
                    continue
                if allowance is not None:
                    allowance._take_explored()
                parent[y] = x
                if y.nullable or not y.boolean or y._empty is False:
                    z: Expr | None = y
                    while z is not None:
                        z._empty = False
                        z = parent[z]
                    return False
                nxt.append(y)
                if len(parent) > MAX_EMPTINESS_STATES:
                    raise PatternTooComplex(
                        f"deciding whether an intersection or complement is empty needed more "
                        f"than {MAX_EMPTINESS_STATES:,} derivatives", None, None)
        frontier = nxt
    for x in parent:
        x._empty = True
    return True
