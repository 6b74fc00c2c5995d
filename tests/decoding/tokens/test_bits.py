"""Packed token flags: `ids` (the sparse path and the dense one) against unpacking."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from decoding.tokens import bits as packed


@given(size=st.integers(1, 3000), data=st.data())
def test_ids_are_the_set_flags_in_order(size, data):
    chosen = data.draw(st.sets(st.integers(0, size - 1), max_size=size))
    flags = np.zeros(size, dtype=bool)
    flags[list(chosen)] = True
    found = packed.ids(packed.pack(flags), size)
    assert found.dtype == np.int64
    assert found.tolist() == sorted(chosen)


def test_ids_stop_at_the_count_asked_for():
    flags = np.ones(20, dtype=bool)
    bits = packed.pack(flags)
    assert packed.ids(bits, 13).tolist() == list(range(13))
    sparse = np.zeros(4096, dtype=bool)
    sparse[[3, 4000, 4095]] = True
    assert packed.ids(packed.pack(sparse), 4001).tolist() == [3, 4000]
