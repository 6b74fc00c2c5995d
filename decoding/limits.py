"""Resource limits: the bounds that keep a hostile pattern or schema from costing unbounded time
or memory.

Contract:
- `current()` returns the limits in force: each field of `Limits` is its environment variable
  `TYPEDECODE_MAX_<FIELD>` (an integer, `_` separators allowed) or, when unset or empty, the
  default below. The environment is read on every call, so a setting changed at run time applies
  to the next compile; a value that is not a positive integer raises `UsageError` naming the
  variable. Imports nothing of typedecode but its errors, so every layer may read it.
- Each limit is enforced where the work happens and raises a typed error when hit, never a
  generic one: `PatternTooComplex` for patterns, automata and masks; schema2re's
  `SchemaTooComplex` (an `UnsupportedSchemaError`) naming the keyword and JSON pointer, or
  `SchemaError` for a document too large or too deep, for schemas.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

from decoding.errors import UsageError

ENV_PREFIX = "TYPEDECODE_MAX_"
MiB = 2**20


@dataclass(frozen=True)
class Limits:
    """One value per bound (see the README's table of limits)."""

    schema_bytes: int = 8 * MiB
    """Size of a schema document: its JSON text, or the JSON a dict would serialize to."""
    schema_depth: int = 100
    """Nesting of objects and arrays in a schema document."""
    pattern_chars: int = 256 * 1024
    """Length of a regex pattern's text."""
    expr_nodes: int = 200_000
    """New expression nodes one pattern or schema may build."""
    explored_derivatives: int = 300_000
    """Derivatives one schema's translation may explore, in all, to decide whether its
    intersections and complements are empty (each decision also stops at 20,000)."""
    derivative_steps: int = 12_000_000
    """Derivative work one schema's translation may do, in steps: computing the derivative of a
    node with an intersection or complement inside costs 1 + its number of items."""
    state_nodes: int = 30_000
    """New expression nodes one automaton state's transitions (derivatives) may build."""
    dfa_states: int = 100_000
    """Automaton states per pattern (`compile`'s `max_states` when not given)."""
    guide_bytes: int = 1024 * MiB
    """Mask memory of one guide: its states' masks, allowed ids and next states."""
    memo_bytes: int = 2048 * MiB
    """Compiled automata and token indexes kept in memory per process (least recently used
    evicted past it)."""
    cache_bytes: int = 2048 * MiB
    """Entries in the disk cache (`cache.Store`'s `size_limit` when not given)."""


def variable(name: str) -> str:
    """The environment variable of the field `name`."""
    return ENV_PREFIX + name.upper()


_VARIABLES = tuple((f.name, variable(f.name)) for f in fields(Limits))
_NAMES = tuple(env for _, env in _VARIABLES)


# The variables' raw values at the last call and their `Limits`, replaced as one tuple (so a
# thread reads a consistent pair): the variables are read on every call, parsed when they change.
_LAST: tuple[tuple[object, ...], Limits | None] = ((), None)


def environment(names: tuple[str, ...]) -> tuple[object, ...]:
    """The raw values of the environment variables `names` now, for comparing with those of
    an earlier call (None where unset): read from `os.environ`'s own table where it has one
    (CPython's `_data`: one dict lookup a name, where `os.environ.get` encodes each name and
    decodes each value, about 1 us a name), as that table holds them; else `os.environ.get`'s."""
    env = os.environ
    table, encode = getattr(env, "_data", None), getattr(env, "encodekey", None)
    if type(table) is not dict or encode is None:
        return tuple(map(env.get, names))
    encoded = _ENCODED.get(names)
    if encoded is None:
        encoded = _ENCODED[names] = tuple(map(encode, names))
    return tuple(map(table.get, encoded))


_ENCODED: dict[tuple[str, ...], tuple[object, ...]] = {}  # names -> as os.environ keys them


def current() -> Limits:
    """The limits in force now (see the module doc)."""
    global _LAST
    raw = environment(_NAMES)
    seen, limits = _LAST
    if raw != seen or limits is None:
        limits = _parsed(tuple(map(os.environ.get, _NAMES)))
        _LAST = (raw, limits)
    return limits


def _parsed(raw: tuple[str | None, ...]) -> Limits:
    values = {}
    for (name, env), text in zip(_VARIABLES, raw):
        text = (text or "").strip()
        if not text:
            continue
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value <= 0:
            raise UsageError(f"{env} must be a positive integer, not {text!r}")
        values[name] = value
    return Limits(**values)
