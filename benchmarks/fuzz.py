"""Long fuzzing of the untrusted-text entry points, each input under a time bound.

    python -m benchmarks.fuzz --minutes N [--entry regex|schema|guide] [--seed S] [--timeout T]

Inputs come from `benchmarks.fuzz_inputs` (seeded: input k of a run with seed S is replayable
with `--seed S --replay k`). Each input runs in one long-lived child process; the parent waits at
most `--timeout` seconds for it, so a hang is reported (and the child replaced), not waited on.
An input ends "ok" (a result or a `TypedecodeError`), "untyped" (any other exception), "hang" or
"crash" (the child died). A hang inside the `regex` module's own `regex.compile` of a flagged
pattern (before typedecode sees it; `regex` 2026.x segfaults on some nested counted repeats with
BESTMATCH) ends "regex.compile hang or crash": counted, not a finding. With
several entries the minutes are split evenly between them.

The report: per entry point, inputs tried, minutes, outcomes; then each finding site (exception
type and the innermost frame of typedecode's own code) with its count, its shortest input and the
traceback tail. The exit status is 1 when there are findings.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import random
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import fuzz_inputs as fi

ENTRIES = ("regex", "schema", "guide")
ROOT = Path(__file__).resolve().parents[1]
OWN_CODE = ("decoding", "schema2re", "cache")


@dataclass
class Finding:
    """One exception site: how often it was hit and its shortest input."""

    count: int = 0
    input: str = ""
    index: int = -1
    tail: str = ""


@dataclass
class EntryReport:
    tried: int = 0
    seconds: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)
    slowest: float = 0.0  # seconds of the slowest input that answered
    slowest_index: int = -1


def make_input(entry: str, rng: random.Random, seeds: dict[str, list]) -> Any:
    """The next input of `entry` drawn from `rng`."""
    if entry == "regex":
        return fi.random_regex_case(rng, seeds["patterns"])
    if entry == "schema":
        return (fi.random_schema(rng, seeds["schemas"]), rng.random() < 0.25)
    return fi.random_guide_case(rng)


def _worker(conn: Any, in_regex_compile: Any) -> None:
    """Child: run each (entry, input) received and send back (outcome, site, tail);
    `in_regex_compile` (a shared flag) is set while `regex.compile` itself runs."""
    sys.path.insert(0, str(ROOT))
    from decoding.errors import TypedecodeError
    from decoding.guides.guide import vocabulary_of
    from tests.conftest import build_bpe_tokenizer

    vocabulary = vocabulary_of(build_bpe_tokenizer(), cache_dir=False)
    runners: dict[str, Callable[[Any], None]] = {
        "regex": lambda p: fi.run_regex(p, vocabulary, lambda: _flagged(in_regex_compile)),
        "schema": lambda s: fi.run_schema(s[0], vocabulary, s[1]),
        "guide": lambda c: fi.run_guide(c, vocabulary),
    }
    conn.send("ready")
    while True:
        entry, value = conn.recv()
        try:
            runners[entry](value)
            conn.send(("ok", "", ""))
        except TypedecodeError:
            conn.send(("ok", "", ""))
        except BaseException as exc:  # noqa: BLE001 - every other exception is a finding
            conn.send(("untyped", _site(exc), "".join(traceback.format_exception(exc)[-6:])))


@contextlib.contextmanager
def _flagged(flag: Any) -> Iterator[None]:
    """Set the shared `flag` for the duration of the block."""
    flag.value = 1
    try:
        yield
    finally:
        flag.value = 0


def _site(exc: BaseException) -> str:
    """The exception type and the innermost frame in typedecode's own code."""
    where = "outside typedecode"
    for frame in traceback.extract_tb(exc.__traceback__):
        rel = os.path.relpath(frame.filename, ROOT)
        if rel.split(os.sep)[0] in OWN_CODE:
            where = f"{rel}:{frame.lineno} in {frame.name}"
    return f"{type(exc).__name__} at {where}"


class Child:
    """The worker process, restarted after a hang or a crash."""

    def __init__(self) -> None:
        self.proc: Any = None
        self.conn: Any = None
        self.in_regex_compile: Any = None

    def start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child_conn = ctx.Pipe()
        self.in_regex_compile = ctx.Value("b", 0, lock=False)
        self.proc = ctx.Process(target=_worker, args=(child_conn, self.in_regex_compile),
                                daemon=True)
        self.proc.start()
        if not self.conn.poll(300) or self.conn.recv() != "ready":
            raise RuntimeError("the fuzz worker did not start")

    def ensure(self) -> None:
        """Start the worker unless it is running."""
        if self.proc is None or not self.proc.is_alive():
            self.start()

    def run(self, entry: str, value: Any, timeout: float) -> tuple[str, str, str]:
        self.ensure()
        self.conn.send((entry, value))
        try:
            if self.conn.poll(timeout):
                return self.conn.recv()
        except EOFError:
            pass
        alive = self.proc.is_alive()
        outside = bool(self.in_regex_compile.value)
        self.stop()
        if outside:
            return "regex.compile hang or crash", "", ""
        if alive:
            return "hang", f"hang (no answer in {timeout:g} s)", ""
        return "crash", "crash (the worker died)", ""

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.join()
            self.proc = None


def fuzz(entries: list[str], minutes: float, seed: int, timeout: float,
         replay: int | None = None) -> tuple[dict[str, EntryReport], dict[str, Finding]]:
    """Run each entry for its share of `minutes` (or replay one input); reports and findings."""
    schemas = fi.load_seed_schemas()
    seeds = {"schemas": schemas, "patterns": fi.seed_patterns(schemas)}
    reports = {e: EntryReport() for e in entries}
    findings: dict[str, Finding] = {}
    child = Child()
    try:
        for entry in entries:
            report = reports[entry]
            start = time.monotonic()
            deadline = start + minutes * 60 / len(entries)
            index = 0 if replay is None else replay
            while time.monotonic() < deadline:
                value = make_input(entry, random.Random(f"{seed}:{entry}:{index}"), seeds)
                child.ensure()  # a (re)start is not the input's time
                began = time.monotonic()
                outcome, site, tail = child.run(entry, value, timeout)
                took = time.monotonic() - began
                if outcome in ("ok", "untyped") and took > report.slowest:
                    report.slowest, report.slowest_index = took, index
                report.tried += 1
                report.outcomes[outcome] = report.outcomes.get(outcome, 0) + 1
                if outcome in ("untyped", "hang", "crash"):
                    _record(findings, f"[{entry}] {site}", value, index, tail)
                if replay is not None:
                    break
                index += 1
            report.seconds = time.monotonic() - start
    finally:
        child.stop()
    return reports, findings


def _record(findings: dict[str, Finding], site: str, value: Any, index: int, tail: str) -> None:
    found = findings.setdefault(site, Finding())
    found.count += 1
    text = repr(value)
    if not found.input or len(text) < len(found.input):
        found.input, found.index, found.tail = text, index, tail


def render(reports: dict[str, EntryReport], findings: dict[str, Finding], seed: int) -> str:
    lines = [f"fuzz report (seed {seed})", "entry    inputs  minutes  slowest (s, input)  outcomes"]
    for entry, r in reports.items():
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(r.outcomes.items()))
        slowest = f"{r.slowest:.1f}, {r.slowest_index}"
        lines.append(f"{entry:<8} {r.tried:>6}  {r.seconds / 60:>7.1f}  {slowest:>18}  {outcomes}")
    lines.append(f"findings: {len(findings)} site(s)")
    for site, f in sorted(findings.items(), key=lambda kv: -kv[1].count):
        shown = f.input if len(f.input) <= 600 else f.input[:600] + "..."
        lines += [f"- {site}: {f.count} input(s); shortest is input {f.index}: {shown}",
                  "  " + f.tail.rstrip().replace("\n", "\n  ")]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, required=True)
    parser.add_argument("--entry", choices=ENTRIES, action="append",
                        help="repeatable; default: all three")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds per input before it counts as a hang")
    parser.add_argument("--replay", type=int, help="run only input REPLAY of each entry")
    args = parser.parse_args(argv)
    reports, findings = fuzz(args.entry or list(ENTRIES), args.minutes, args.seed, args.timeout,
                             args.replay)
    print(render(reports, findings, args.seed), flush=True)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
