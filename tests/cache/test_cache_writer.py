"""cache.writer.BackgroundWriter: jobs run in order on one other thread, flush waits for them,
a failing job is reported and the writer goes on, a forked child gets a writer of its own."""

from __future__ import annotations

import multiprocessing
import threading

import pytest

from cache.writer import BackgroundWriter


def test_jobs_run_in_order_on_one_other_thread_and_flush_waits():
    errors: list[BaseException] = []
    writer = BackgroundWriter(errors.append)
    done, threads = [], set()
    release = threading.Event()

    def job(i):
        def run():
            release.wait(5)
            threads.add(threading.get_ident())
            done.append(i)
        return run

    for i in range(20):
        writer.submit(job(i))
    assert done == []  # submit returned while the first job still waits
    release.set()
    writer.flush()
    assert done == list(range(20)) and not errors
    assert threads and threading.get_ident() not in threads and len(threads) == 1


def test_a_failing_job_is_reported_and_later_jobs_still_run():
    errors: list[BaseException] = []
    writer = BackgroundWriter(errors.append)
    done = []
    writer.submit(lambda: 1 / 0)
    writer.submit(lambda: done.append("after"))
    writer.flush()
    assert [type(e) for e in errors] == [ZeroDivisionError] and done == ["after"]


def test_flush_without_jobs_does_not_wait():
    writer = BackgroundWriter(lambda exc: None)
    waiter = threading.Thread(target=writer.flush)
    waiter.start()
    waiter.join(10)
    assert not waiter.is_alive()


def _child(writer, queue):
    done = []
    writer.submit(lambda: done.append(1))
    writer.flush()
    queue.put(done)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork")
def test_a_forked_child_runs_its_own_jobs():
    writer = BackgroundWriter(lambda exc: None)
    blocker = threading.Event()
    writer.submit(lambda: blocker.wait(10))  # the parent's writer is busy when we fork
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(writer, queue))
    child.start()
    try:
        assert queue.get(timeout=30) == [1]
    finally:
        blocker.set()
        child.join(30)
    writer.flush()


def test_jobs_still_run_when_no_thread_can_be_started(monkeypatch):
    # Python 3.12 refuses new threads in atexit handlers ("can't create new thread at interpreter
    # shutdown"): a process whose first write is queued at its exit (a forked child that computed
    # fewer entries than trigger a save) must still write it, not lose it.
    errors: list[BaseException] = []
    writer = BackgroundWriter(errors.append)
    done = []

    def refuse(self):
        raise RuntimeError("can't create new thread at interpreter shutdown")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    writer.submit(lambda: done.append(1))
    writer.submit(lambda: 1 / 0)
    writer.submit(lambda: done.append(2))
    assert done == [1, 2] and [type(e) for e in errors] == [ZeroDivisionError]
    writer.flush()  # nothing left to wait for
    monkeypatch.undo()
    writer.submit(lambda: done.append(threading.get_ident()))  # a thread again once allowed
    writer.flush()
    assert done[2] != threading.get_ident()
