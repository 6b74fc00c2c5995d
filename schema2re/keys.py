"""Object keys for members that the schema does not name: any key except a finite set.

A JSON string has many spellings (`"a"` and `"\\u0061"` are the same key), so excluding the
spelling of a name would not exclude the name. Generated free keys therefore use one spelling
per character: the character itself, except `"` and `\\` (written `\\"` and `\\\\`) and the
control characters (never generated). The complement of a finite set of names over that
alphabet is then a finite-state language, built here from a trie of the excluded names:
size linear in their total length.
"""

from __future__ import annotations

import functools

from schema2re.rx import (
    EMPTY,
    Rx,
    Trie,
    alt,
    cat,
    escape_in_class,
    lit,
    raw,
    rep,
    string_trie,
)

_SPECIAL = {'"': '\\"', "\\": "\\\\"}  # JSON escape for the two characters written escaped
_EXCLUDED_RAW = '"\\\\\\x00-\\x1f'  # class body: quote, backslash, control characters


def _token(char: str) -> str:
    return _SPECIAL.get(char, char)


def _any_char(excluding: set[str]) -> Rx | None:
    """One token of the key alphabet, except the given tokens."""
    raw_excluded = "".join(escape_in_class(c) for c in sorted(c for c in excluding if c not in _SPECIAL))
    plain = raw(f"[^{_EXCLUDED_RAW}{raw_excluded}]")
    escapes = [lit(tok) for ch, tok in _SPECIAL.items() if ch not in excluding]
    return alt([plain, *escapes])


def free_key(excluded: set[str]) -> Rx:
    """The quoted key strings (in the canonical spelling) whose value is not in `excluded`
    (memoized per process: objects and their complements ask for one set many times)."""
    return _free_key(frozenset(excluded))


@functools.lru_cache(maxsize=256)
def _free_key(excluded: frozenset[str]) -> Rx:
    names = [n for n in sorted(excluded) if not any(ord(c) < 0x20 for c in n)]
    body = _complement(string_trie(names))
    return cat(lit('"'), body, lit('"'))  # type: ignore[return-value]


def _complement(level: Trie) -> Rx:
    """Token strings not spelling any word of the trie rooted at `level`."""
    anything = rep(_any_char(set()), 0, None)
    children = {c: sub for c, sub in level.items() if c is not None}
    branches: list[Rx | None] = []
    if None not in level:
        branches.append(EMPTY)
    branches.append(cat(_any_char(set(children)), anything))
    for char, sub in sorted(children.items()):
        branches.append(cat(lit(_token(char)), _complement(sub)))
    result = alt(branches)
    assert result is not None
    return result
