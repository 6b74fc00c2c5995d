"""`decoding.util`: the LRU memo, the garbage-collector pause and the warning helpers, also
across threads."""

from __future__ import annotations

import gc
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest

from decoding.util import LRU, gc_paused, noting_warnings, quiet_warnings, warn


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


def test_gc_paused_collects_the_young_generations_its_block_filled():
    """The objects a paused build made are collected when the pause ends, not left to whatever
    runs next (the first masks after a compile)."""
    assert gc.isenabled()
    gc.collect()
    with gc_paused():
        kept = [[i] for i in range(50_000)]  # tracked objects, counted while the collector waits
        assert gc.get_count()[0] >= 50_000
    young, collections, _ = gc.get_count()
    assert young < 1000 and collections == 0 and len(kept) == 50_000


def test_get_or_make_makes_a_missing_value_once_for_threads_asking_together():
    memo: LRU[str, list] = LRU(2)
    made: list[int] = []

    def make() -> list:
        made.append(1)
        time.sleep(0.05)  # the other threads arrive meanwhile
        return ["value"]

    got: list[list] = []
    threads = [threading.Thread(target=lambda: got.append(memo.get_or_make("k", make)[0]))
               for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1 and len(got) == 6 and all(g is got[0] for g in got)
    assert memo.get_or_make("k", make) == (got[0], None) and len(made) == 1


def test_get_or_make_returns_what_it_evicts_and_retries_after_an_error():
    memo: LRU[str, int] = LRU(1)
    memo.put("a", 1)
    assert memo.get_or_make("b", lambda: 2) == (2, 1)

    def fail() -> int:
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        memo.get_or_make("c", fail)
    assert memo.get_or_make("c", lambda: 3) == (3, 2)


def _overlapping(section, inside, threads: int = 4) -> None:
    """Run `section` in several threads whose blocks overlap in every order of leaving;
    `inside()` is checked in each block, after all threads entered."""
    entered = threading.Barrier(threads)

    def body(n: int) -> bool:
        with section():
            entered.wait()
            held = inside()
            time.sleep(0.01 * n)  # leave one after another
        return held

    with ThreadPoolExecutor(threads) as pool:
        assert all(pool.map(body, range(threads)))


def test_gc_pauses_overlapping_in_threads_end_with_the_last():
    assert gc.isenabled()
    _overlapping(gc_paused, lambda: not gc.isenabled())
    assert gc.isenabled()


def test_quiet_warnings_in_threads_leave_the_filters_as_they_were():
    before = list(warnings.filters)
    _overlapping(quiet_warnings, lambda: warnings.filters[0][0] == "ignore")
    assert warnings.filters == before
    with pytest.warns(UserWarning, match="heard"):
        warnings.warn("heard", UserWarning)


def _warn_here_and_in_a_thread() -> tuple[list[Warning], list[Warning]]:
    """Warn in another thread and here, inside two nested notes; what each note got."""
    with noting_warnings() as outer:
        other = threading.Thread(target=lambda: warn("other thread", UserWarning))
        other.start()
        other.join()
        with noting_warnings() as inner:
            warn("mine", UserWarning)
    return outer, inner


def test_noting_warnings_notes_this_threads_warnings_only_and_still_emits_them():
    with pytest.warns(UserWarning) as emitted:
        outer, inner = _warn_here_and_in_a_thread()
    assert [str(w) for w in outer] == ["mine"] and [str(w) for w in inner] == ["mine"]
    assert sorted(str(w.message) for w in emitted) == ["mine", "other thread"]
    assert [w.filename for w in emitted if str(w.message) == "mine"] == [__file__]
