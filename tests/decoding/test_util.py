"""`decoding.util`: the LRU memo and the garbage-collector pause."""

from __future__ import annotations

import gc
import threading

import pytest

from decoding.util import LRU, gc_paused


def test_get_misses_then_returns_what_put_stored():
    memo: LRU[str, int] = LRU(2)
    assert memo.get("a") is None
    assert memo.put("a", 1) is None
    assert memo.get("a") == 1


def test_put_past_maxsize_evicts_and_returns_the_least_recently_used_value():
    memo: LRU[str, int] = LRU(2)
    memo.put("a", 1)
    memo.put("b", 2)
    assert memo.put("c", 3) == 1
    assert memo.get("a") is None and memo.get("b") == 2 and memo.get("c") == 3


def test_get_makes_its_key_the_most_recently_used():
    memo: LRU[str, int] = LRU(2)
    memo.put("a", 1)
    memo.put("b", 2)
    memo.get("a")
    assert memo.put("c", 3) == 2
    assert memo.get("a") == 1


def test_put_of_a_present_key_replaces_it_evicts_nothing_and_makes_it_most_recent():
    memo: LRU[str, int] = LRU(2)
    memo.put("a", 1)
    memo.put("b", 2)
    assert memo.put("a", 10) is None
    assert memo.get("a") == 10
    assert memo.put("c", 3) == 2


def test_maxsize_must_be_positive():
    with pytest.raises(ValueError, match="maxsize"):
        LRU(0)
    assert LRU(1).maxsize == 1


def test_concurrent_puts_keep_the_bound_and_evict_each_value_once():
    memo: LRU[int, int] = LRU(8)
    evicted: list[int] = []
    lock = threading.Lock()

    def work(start: int) -> None:
        for key in range(start, start + 500):
            gone = memo.put(key, key)
            memo.get(key - 3)
            if gone is not None:
                with lock:
                    evicted.append(gone)

    threads = [threading.Thread(target=work, args=(n * 1000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kept = [key for n in range(4) for key in range(n * 1000, n * 1000 + 500)
            if memo.get(key) is not None]
    assert len(kept) == 8
    assert sorted(evicted + kept) == [key for n in range(4)
                                      for key in range(n * 1000, n * 1000 + 500)]


def test_gc_paused_restores_the_collector_state():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
