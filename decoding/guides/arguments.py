"""Argument checks every guide shares: what a state and a token id may be.

Contract: `as_int(value, what)` returns `value` as a plain int when it is an integer (a Python
int, a numpy integer, a 0-d integer tensor: anything with `__index__`) and raises `UsageError`
naming `what` otherwise (a float, a string, None). `checked_state(value, count)` also requires
a state the guide has made, `0 <= state < count`, so a stray int never reads another state's
data (a negative index would wrap around). Token ids are not range-checked here: any integer is
a token id, and `advance` rejects one outside the vocabulary with `TokenRejected`.
"""

from __future__ import annotations

import operator

from decoding.errors import UsageError


def as_int(value: object, what: str) -> int:
    """`value` as an int, or `UsageError` naming `what`."""
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise UsageError(f"{what} must be an integer, not {type(value).__name__} {value!r}") from None


def checked_state(value: object, count: int) -> int:
    """`value` as a state of a guide that has made `count` states, or `UsageError`."""
    state = as_int(value, "state")
    if not 0 <= state < count:
        raise UsageError(f"state {state} is not a state of this guide (it has made {count}; "
                         f"states come from initial_state and advance)")
    return state
