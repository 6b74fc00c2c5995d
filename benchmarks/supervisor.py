"""Runs one engine's tasks in a worker process (`benchmarks.worker`) with a time limit per task,
so that a hang or crash is recorded and the run goes on.

Contract of `run_engine`:
- returns one result per task, in task order. A task whose answer does not come within
  `time_limit` seconds is recorded with status "timeout" (the worker is killed); a worker that
  dies mid-task gives "crash" (with its exit code and the tail of its log). Either way the next
  task gets a fresh worker, which redoes the engine's setup.
- a worker that cannot start (engine not installed, setup failed or slower than `setup_limit`)
  makes every remaining task "unavailable", with the reason.
- `budget_s`, if given, bounds the engine's total wall time: once spent, remaining tasks are
  "skipped".
- workers get one thread (`THREAD_ENV`), the repository on `PYTHONPATH`, plus `env`; their stderr
  goes to `log_path`.
- after the last task the worker's input is closed and it gets `EXIT_GRACE` seconds to exit on
  its own (running its exit handlers: typedecode saves what it computed to its disk cache, which
  a later run on the same folder reads), then it is killed.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
EXIT_GRACE = 60.0

THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "RAYON_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


@dataclass
class EngineRun:
    """What one engine produced: its version and setup time (from its first worker), the reason
    it was unavailable (empty if it ran), and one result dict per task."""

    label: str
    version: str = ""
    setup_s: float | None = None
    unavailable: str = ""
    results: list[dict] = field(default_factory=list)


class _Worker:
    """One worker process and its line protocol."""

    def __init__(self, module: str, spec: str, tokenizer_dir: Path, env: dict[str, str],
                 log_path: Path, memory_gb: float):
        self._log_path = log_path
        self._buffer = b""
        with open(log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", module, spec, str(tokenizer_dir),
                 "--memory-gb", str(memory_gb)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env)

    def receive(self, timeout: float) -> dict | str:
        """The next message, or "timeout" / "eof"."""
        deadline = time.monotonic() + timeout
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                return "timeout"
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return "eof"
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def send(self, message: dict) -> bool:
        try:
            self._proc.stdin.write(json.dumps(message).encode() + b"\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return False
        return True

    def exit_note(self) -> str:
        code = self._proc.wait()
        tail = self._log_path.read_text(errors="replace").strip().splitlines()[-3:]
        return f"worker exited with code {code}" + (f": {' | '.join(tail)}" if tail else "")

    def stop(self, grace: float = 0.0) -> None:
        """End the worker: its input closed, then killed unless it exits within `grace` s."""
        try:
            self._proc.stdin.close()
            self._proc.wait(grace)
        except (OSError, subprocess.TimeoutExpired):
            pass
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout):
            try:
                stream.close()
            except OSError:
                pass


def run_engine(spec: str, tasks: list[dict], tokenizer_dir: Path, log_path: Path, *,
               label: str | None = None, time_limit: float = 30.0, setup_limit: float = 300.0,
               budget_s: float | None = None, memory_gb: float = 8.0,
               env: dict[str, str] | None = None,
               worker_module: str = "benchmarks.worker") -> EngineRun:
    """Measure `tasks` on the engine `spec` (see the module contract). `worker_module` is run as
    `python -m worker_module SPEC TOKENIZER_DIR --memory-gb N` and must speak the protocol of
    `benchmarks.worker`."""
    run = EngineRun(label=label or spec)
    worker_env = {**os.environ, **THREAD_ENV, **(env or {})}
    worker_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    started = time.monotonic()
    worker: _Worker | None = None
    try:
        for task in tasks:
            base = {"id": task["id"], "valid_total": len(task["valid"]),
                    "invalid_total": len(task["invalid"])}
            if not run.unavailable and budget_s is not None \
                    and time.monotonic() - started > budget_s:
                run.results.append({**base, "status": "skipped",
                                    "message": f"engine budget of {budget_s:g} s spent"})
                continue
            if worker is None and not run.unavailable:
                worker = _Worker(worker_module, spec, tokenizer_dir, worker_env, log_path,
                                 memory_gb)
                ready = worker.receive(setup_limit)
                if not isinstance(ready, dict) or not ready.get("ready"):
                    run.unavailable = _not_ready(ready, worker, setup_limit)
                    worker.stop()
                    worker = None
                elif run.setup_s is None:
                    run.version, run.setup_s = ready["version"], ready["setup_s"]
            if worker is None:
                run.results.append({**base, "status": "unavailable", "message": run.unavailable})
                continue
            answer = worker.receive(time_limit) if worker.send(task) else "eof"
            if isinstance(answer, dict):
                run.results.append(answer)
                continue
            note = (f"no answer within {time_limit:g} s" if answer == "timeout"
                    else worker.exit_note())
            worker.stop()
            worker = None
            run.results.append({**base, "status": "timeout" if answer == "timeout" else "crash",
                                "message": note})
    finally:
        if worker is not None:
            worker.stop(EXIT_GRACE)
    return run


def _not_ready(answer: dict | str, worker: _Worker, setup_limit: float) -> str:
    """Why a worker did not become ready."""
    if isinstance(answer, dict):
        return str(answer.get("message", "the worker refused to start"))
    if answer == "timeout":
        return f"setup took longer than {setup_limit:g} s"
    return worker.exit_note()
