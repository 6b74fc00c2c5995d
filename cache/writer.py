"""BackgroundWriter: cache writes run on one daemon thread, off the path that needs the result.

Contract:
- `submit(job)` queues a no-argument callable and returns at once; jobs run one at a time, in
  submission order, on a single thread started on first use (and started again in a forked
  child, which does not inherit the parent's thread or its pending jobs).
- A job's exception is passed to `on_error` (on the writer thread) and never stops the writer.
- `flush()` returns once every job submitted before it has run (immediately if there are none).
- Jobs are not run at interpreter exit by themselves: whoever submits them registers an `atexit`
  handler that calls `flush()` (daemon threads still run while `atexit` handlers do).
- When no thread can be started (Python 3.12 refuses new threads in `atexit` handlers, e.g. the
  first job of a forked child submitted at its exit), `submit` runs the queued jobs and the new
  one on the calling thread before it returns, so nothing submitted is dropped.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable


class BackgroundWriter:
    """Runs submitted jobs in order on one daemon thread (see the module docstring)."""

    def __init__(self, on_error: Callable[[BaseException], None], name: str = "cache-writer"):
        self._on_error = on_error
        self._name = name
        self._lock = threading.Lock()
        self._queue: queue.Queue[Callable[[], object]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def submit(self, job: Callable[[], object]) -> None:
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's queue is not ours
                self._queue, self._thread, self._pid = queue.Queue(), None, os.getpid()
            self._queue.put(job)
            if self._thread is None or not self._thread.is_alive():
                thread = threading.Thread(target=self._run, args=(self._queue,),
                                          name=self._name, daemon=True)
                try:
                    thread.start()
                except RuntimeError:  # "can't create new thread at interpreter shutdown"
                    self._thread = None
                    self._drain(self._queue)
                else:
                    self._thread = thread

    def flush(self) -> None:
        with self._lock:
            if self._pid != os.getpid() or self._thread is None:
                return
            pending = self._queue
        pending.join()

    def _run(self, jobs: queue.Queue) -> None:
        while True:
            self._call(jobs, jobs.get())

    def _drain(self, jobs: queue.Queue) -> None:
        """Run every queued job on the calling thread (no writer thread could be started)."""
        while True:
            try:
                job = jobs.get_nowait()
            except queue.Empty:
                return
            self._call(jobs, job)

    def _call(self, jobs: queue.Queue, job: Callable[[], object]) -> None:
        try:
            job()
        except Exception as exc:  # reported; the writer carries on
            self._on_error(exc)
        finally:
            jobs.task_done()
