"""JSON values for the tests of partial values (`decoding.hf.partial_json`, `stream(partial=True)`).

- `JSON`: a hypothesis strategy of JSON values (no NaN or infinities: JSON has none).
- `grows(old, new)`: `new` extends `old` as the partial values of a growing JSON text must:
  strings only get longer, containers keep their members in order (all equal but the last,
  which may grow) and may gain more, other values stay equal.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from decoding.hf.partial_json import NOTHING

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)


def grows(old: Any, new: Any) -> bool:
    if old is NOTHING:
        return True
    if type(old) is not type(new):
        return False
    if isinstance(old, str):
        return new.startswith(old)
    if isinstance(old, list):
        return len(old) <= len(new) and all(a == b for a, b in zip(old[:-1], new)) \
            and all(grows(a, b) for a, b in zip(old, new))
    if isinstance(old, dict):
        keys = list(old)
        return list(new)[: len(keys)] == keys and all(old[k] == new[k] for k in keys[:-1]) \
            and all(grows(old[k], new[k]) for k in keys)
    return old == new
