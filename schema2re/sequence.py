"""Separated subsequences, in a fixed order or in any order: the shape of object members and of
unique arrays.

`subsequence(entries, sep, lo, hi, repeat_last=False)` describes the texts
`e_i1 sep e_i2 sep ... e_ik` for i1 < i2 < ... < ik, where every required entry is among them
and lo <= k <= hi. With `repeat_last`, the last entry may occur any number of times in a row
(`e_n sep e_n sep ...`), counted as ONE entry towards lo and hi (object members with repeated
keys: they collapse into one key). It returns `(body, empty_ok)`: `body` matches the non-empty
such texts (None if there are none) and `empty_ok` says whether k = 0 qualifies.

Size: without a count bound beyond "non-empty" the body is linear in the entries (each entry
once when some entry is required, else twice: as the first member and after a separator; 4
times past `CHUNK` entries, to bound group nesting); a repeated last entry adds one copy where
it opens the text. With a real count bound the construction enumerates counts (polynomial in
calls, but the text may grow large; `rx` caps it with a typed error).

`any_order(entries, sep, lo, hi)` is the same language (no repeated entry) with the entries in
any order, each at most once (`uniqueItems` over a small finite set). It is the automaton of
the subsets already written: one shared node per reachable subset, so the expression has at most
2^n nodes of n branches each, while its tree (and regex text) holds about e*n! copies of the
entries: it is built only for at most `MAX_ANY_ORDER` entries whose tree stays within
`MAX_ANY_ORDER_SIZE` nodes (`_any_order_size`; so that `to_regex` keeps its text), else it
returns None and the caller keeps a fixed order.
"""

from __future__ import annotations

from functools import lru_cache
from math import factorial

from schema2re.rx import EMPTY, Rx, alt, cat, opt, rep

CHUNK = 32
MAX_ANY_ORDER = 8
"""Most entries `any_order` orders freely (2^8 subsets)."""
MAX_ANY_ORDER_SIZE = 10_000
"""Largest tree (`Rx.size` nodes) `any_order` builds: regex text of about 25,000 characters."""


def subsequence(entries: list[tuple[Rx, bool]], sep: Rx, lo: int, hi: int | None, *,
                repeat_last: bool = False) -> tuple[Rx | None, bool]:
    """(body, empty_ok) for the entries `(regex, required)` and count bounds [lo, hi]."""
    n = len(entries)
    n_required = sum(1 for _, req in entries if req)
    lo = max(lo, n_required)
    hi = n if hi is None else min(hi, n)
    if lo > hi:
        return None, False
    empty_ok = lo == 0
    if hi == 0:
        return None, empty_ok
    repeat = repeat_last and n > 0
    if lo <= max(n_required, 1) and hi == n:
        return _chain(entries, sep, repeat), empty_ok
    return _counted(entries, sep, max(lo, 1), hi, repeat), empty_ok


def separated(entry: Rx | None, sep: Rx) -> Rx | None:
    """One or more occurrences of `entry`, separated by `sep` (None if `entry` is None)."""
    return cat(entry, _more(entry, sep)) if entry is not None else None


def _more(entry: Rx, sep: Rx) -> Rx:
    """Further occurrences of a repeated entry, each after a separator."""
    return rep(cat(sep, entry), 0, None)  # type: ignore[return-value]


def _chain(entries: list[tuple[Rx, bool]], sep: Rx, repeat: bool) -> Rx | None:
    """Non-empty subsequences containing every required entry.

    Optional entries before the first required one carry a trailing separator (the required
    entry always follows), later ones a leading separator: one copy of each entry. Without any
    required entry, each entry appears twice (as the first member, and after a separator).
    """
    first_required = next((i for i, (_, req) in enumerate(entries) if req), None)
    if first_required is None:
        return _nonempty([e for e, _ in entries], sep, repeat)
    last = len(entries) - 1
    parts = [opt(cat(e, sep)) for e, _ in entries[:first_required]]
    required_entry = entries[first_required][0]
    parts.append(separated(required_entry, sep) if repeat and first_required == last
                 else required_entry)
    for i, (entry, required) in enumerate(entries[first_required + 1:], first_required + 1):
        if repeat and i == last:
            parts.append(cat(sep, separated(entry, sep)) if required else _more(entry, sep))
        else:
            parts.append(cat(sep, entry) if required else opt(cat(sep, entry)))
    return cat(*parts)


def _nonempty(entries: list[Rx], sep: Rx, repeat: bool) -> Rx | None:
    """Non-empty subsequences of optional entries (the last one repeatable if `repeat`).

    Left-nested chain: G_k = (?:G_{k-1}(?:,E_k)?|E_k), one group level per entry. Over `CHUNK`
    entries, chunks are chained as blocks (a non-empty subsequence of the whole is one of the
    non-empty chunk blocks), so nesting stays ~CHUNK per level at twice the copies per level.
    """
    if len(entries) > CHUNK:
        starts = range(0, len(entries), CHUNK)
        blocks = [_nonempty(entries[i:i + CHUNK], sep, repeat and i == starts[-1]) for i in starts]
        return _nonempty([b for b in blocks if b is not None], sep, False)
    body: Rx | None = None  # non-empty prefixes so far
    for i, entry in enumerate(entries):
        if repeat and i == len(entries) - 1:
            more = _more(entry, sep)
            body = separated(entry, sep) if body is None else alt([cat(body, more), separated(entry, sep)])
        else:
            body = entry if body is None else alt([cat(body, opt(cat(sep, entry))), entry])
    return body


def _counted(entries: list[tuple[Rx, bool]], sep: Rx, lo: int, hi: int, repeat: bool) -> Rx | None:
    n = len(entries)
    required_after = [0] * (n + 1)
    for i in range(n - 1, -1, -1):
        required_after[i] = required_after[i + 1] + (1 if entries[i][1] else 0)

    @lru_cache(maxsize=None)
    def rest(i: int, need_lo: int, need_hi: int, started: bool) -> Rx | None:
        if need_hi < required_after[i] or n - i < need_lo:
            return None
        if i == n:
            return EMPTY
        entry, required = entries[i]
        present = None
        if need_hi > 0:
            first = cat(sep, entry) if started else entry
            if repeat and i == n - 1:
                first = cat(first, _more(entry, sep))
            present = cat(first, rest(i + 1, max(need_lo - 1, 0), need_hi - 1, True))
        if required:
            return present
        return alt([present, rest(i + 1, need_lo, need_hi, started)])

    return rest(0, lo, hi, False)


def any_order(entries: list[tuple[Rx, bool]], sep: Rx, lo: int,
              hi: int | None) -> tuple[Rx | None, bool] | None:
    """(body, empty_ok) as `subsequence`, the entries in any order; None past the bounds (see
    module doc)."""
    n = len(entries)
    if n > MAX_ANY_ORDER or _any_order_size([e.size + sep.size for e, _ in entries]) > MAX_ANY_ORDER_SIZE:
        return None
    required = sum(1 << i for i, (_, req) in enumerate(entries) if req)
    lo = max(lo, required.bit_count())
    hi = n if hi is None else min(hi, n)
    if lo > hi:
        return None, False

    @lru_cache(maxsize=None)
    def rest(done: int) -> Rx | None:
        """What may follow once the entries in `done` are written (each after a separator)."""
        count = done.bit_count()
        options: list[Rx | None] = []
        if done & required == required and lo <= count <= hi:
            options.append(EMPTY)
        if count < hi:
            options.extend(cat(sep, entries[i][0], rest(done | 1 << i))
                           for i in range(n) if not done >> i & 1)
        return alt(options)

    first = [cat(entries[i][0], rest(1 << i)) for i in range(n)] if hi > 0 else []
    return alt(first), lo == 0


def _any_order_size(sizes: list[int]) -> int:
    """Nodes in the tree of `any_order` over entries of these sizes: an entry ends (n-1)!/j! of
    the ordered prefixes (j = 0..n-1 entries after it left unwritten)."""
    n = len(sizes)
    return sum(sizes) * sum(factorial(n - 1) // factorial(j) for j in range(n)) if n else 0
